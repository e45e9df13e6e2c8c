/**
 * A node marked down after a failed connection is avoided for a second (cluster-state.ts). When
 * the topology still names it the primary (PostgreSQL restarted in place, a node frozen for less
 * than the leader key's ttl), writes wait for it; waiting out the whole second made the Pool write
 * again up to ~1 s after a plain reconnect loop did. While statements wait for it, the node is
 * tried again every REVIVAL_INTERVAL_MILLIS, one attempt at a time: the first session it accepts
 * ends the down mark at once (and is kept, warm, in its pool).
 */
import createDebug from 'debug';

const debug = createDebug('pg-failover:pool');

/** Pause between two attempts on the same node. */
export const REVIVAL_INTERVAL_MILLIS = 50;

export interface RevivalHooks {
  /** Opens (and gives back) one session to the node; rejects when it cannot. */
  tryConnect(key: string): Promise<void>;
  /** Whether the node is still worth trying: marked down, statements waiting for it, pool open. */
  wanted(key: string): boolean;
  /** The node accepted a session: clear its down mark and wake the waiting statements. */
  revived(key: string): void;
}

export class NodeRevival {
  readonly #running = new Set<string>();

  constructor(private readonly hooks: RevivalHooks) {}

  /** Starts trying `key` again, unless that is already under way. */
  poke(key: string): void {
    if (this.#running.has(key) || !this.hooks.wanted(key)) return;
    this.#running.add(key);
    void this.#run(key).finally(() => this.#running.delete(key));
  }

  async #run(key: string): Promise<void> {
    while (this.hooks.wanted(key)) {
      try {
        await this.hooks.tryConnect(key);
      } catch {
        await new Promise((r) => setTimeout(r, REVIVAL_INTERVAL_MILLIS).unref());
        continue;
      }
      debug('node %s accepts sessions again', key);
      this.hooks.revived(key);
      return;
    }
  }

  /** Nodes being tried now. */
  get pending(): number {
    return this.#running.size;
  }
}
