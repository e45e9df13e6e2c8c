/**
 * Sessions opened ahead on the node about to take writes, while writes wait for it.
 *
 * When a primary dies, every statement held through the failover wants a session on the next
 * primary the moment it is known, and so does every other client: the new primary is asked
 * for a burst of new sessions at once. Measured in the fault campaign (kill -9 of the primary,
 * three Pools and two plain clients on a 2-core host): a session opened then took 225–460 ms,
 * and the Pool, which opened its sessions only once the promotion was confirmed, wrote again
 * 150–750 ms after a plain reconnect loop (whose sessions were opened before the promotion
 * ended, and merely checked after).
 *
 * So while statements wait for a primary, the nodes that may be the next one — the holder of the
 * leader key still promoting, alone; before that, every standby that may be promoted and, when no
 * primary is named, the last primary (a node restarted in place takes its key back; a named
 * primary marked down is node-revival.ts's) — get as many sessions opened ahead as there are
 * statements waiting, plus one for the Pool's own look at the node (the promotion check). The
 * engine decides which nodes and how many (placement.ts). A session opened
 * on a standby keeps working after the standby is promoted (PostgreSQL decides read-only per
 * transaction), so they are in hand when it takes writes. A node that refuses sessions (still
 * down, restarting) is tried again every {@link AHEAD_RETRY_MILLIS}. Nothing is routed by this:
 * the sessions wait idle in the node's pool; writes still go only where the topology says.
 */
import createDebug from 'debug';

const debug = createDebug('pg-failover:pool');

/** Pause before trying again a node that refused a session. */
export const AHEAD_RETRY_MILLIS = 50;

export interface SessionsAheadHooks {
  /** Sessions the node's pool has (open, busy, or being opened). */
  sessions(key: string): number;
  /** Opens `n` more sessions and leaves them idle in the node's pool; rejects when one cannot be opened. */
  open(key: string, n: number): Promise<void>;
  /** How many sessions the node should have now (0: it is no longer wanted ahead). */
  wanted(key: string): number;
}

export class SessionsAhead {
  readonly #running = new Set<string>();

  constructor(private readonly hooks: SessionsAheadHooks) {}

  /** Opens what `key` is missing, unless that is already under way or nothing is missing. */
  poke(key: string): void {
    if (this.#running.has(key) || this.#missing(key) <= 0) return;
    this.#running.add(key);
    void this.#run(key).finally(() => this.#running.delete(key));
  }

  /** Nodes being worked on now. */
  get pending(): number {
    return this.#running.size;
  }

  #missing(key: string): number {
    return this.hooks.wanted(key) - this.hooks.sessions(key);
  }

  async #run(key: string): Promise<void> {
    let refused = 0;
    for (;;) {
      const missing = this.#missing(key);
      if (missing <= 0) return;
      if (!refused) debug('opening %d session(s) ahead to %s for the statements waiting for it', missing, key);
      try {
        await this.hooks.open(key, missing);
        refused = 0;
      } catch (err) {
        // A node still down refuses every 50 ms: said once per run.
        if (!refused++) debug('opening sessions ahead to %s failed (trying again every %d ms): %s', key, AHEAD_RETRY_MILLIS, (err as Error).message);
      }
      // Whatever happened, a pause before looking again: never a loop that does not yield.
      await new Promise((r) => setTimeout(r, AHEAD_RETRY_MILLIS).unref());
    }
  }
}
