/**
 * What this node knows about DCS failsafe mode right now (Patroni's `Failsafe` object):
 *
 * - on a primary cut off from etcd: when the last round in which every member of the `failsafe`
 *   key accepted it *started* ({@link FailsafeState.confirmedAt}) — the members honour an
 *   acceptance for `ttl` from when they received it, which is no earlier, so the fencing
 *   watchdog may count the primary's licence from that time as it counts a lease renewal;
 * - on a replica: the leader that last sent `POST /failsafe`, and when.
 *
 * Failsafe mode is "active" while either is younger than `ttl`. The clock is injectable.
 */
import type { FailsafeLeader, FailsafeTopology } from './failsafe';

/** A `POST /failsafe` body as Patroni 4 sends it. */
export interface FailsafePost {
  name: string;
  conn_url: string;
  api_url: string;
  slots?: Record<string, number>;
}

/** The failsafe facts of one node (see the module header). */
export class FailsafeState {
  readonly #now: () => number;
  #confirmedAt: number | undefined;
  #leader: FailsafeLeader | undefined;
  /** This node's last known WAL position (received/replayed on a replica), answered in the `lsn` header. */
  lastWalPosition: number | undefined;
  /**
   * The `failsafe` key as this node last knew it: read each cycle, and replaced by what this leader
   * wrote the moment the write succeeded (Patroni's `_last_failsafe`). A primary cut off from etcd
   * asks exactly these members — never an older list that lacks a member it already published.
   */
  topology: FailsafeTopology | undefined;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  /** Primary: when the last fully accepted round started (ms), if failsafe confirmed this node since etcd was last reached. */
  get confirmedAt(): number | undefined {
    return this.#confirmedAt;
  }

  /** Primary: every member accepted a round that started at `startedAt`. */
  confirm(startedAt: number): void {
    this.#confirmedAt = Math.max(this.#confirmedAt ?? 0, startedAt);
  }

  /** Replica: a leader's `POST /failsafe` was accepted now. */
  accept(post: FailsafePost): void {
    this.#leader = { name: post.name, conn_url: post.conn_url, api_url: post.api_url, ...(post.slots ? { slots: post.slots } : {}), receivedAt: this.#now() };
  }

  /** Replica: the leader that pinged within `ttlMillis`, else undefined. */
  leader(ttlMillis: number): FailsafeLeader | undefined {
    const l = this.#leader;
    return l && this.#now() - l.receivedAt < ttlMillis ? l : undefined;
  }

  /** The last recorded leader, however old (the agent compares its age itself, on its clock). */
  get lastLeader(): FailsafeLeader | undefined {
    return this.#leader;
  }

  /** Failsafe mode is active: a confirmation (primary) or a ping (replica) younger than `ttlMillis`. */
  isActive(ttlMillis: number): boolean {
    const last = Math.max(this.#confirmedAt ?? 0, this.#leader?.receivedAt ?? 0);
    return last > 0 && this.#now() - last < ttlMillis;
  }

  /**
   * Forgets everything: etcd answered a primary again (the lease rules it once more), or this node
   * was promoted (a recorded old leader must not follow it into its term: Patroni's #2803).
   */
  reset(): void {
    this.#confirmedAt = undefined;
    this.#leader = undefined;
  }
}
