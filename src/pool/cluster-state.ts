/**
 * The cluster as the routing engine sees it: one phase at a time, each carrying only its own
 * data (STYLE.md: a discriminated union, not flags), plus the nodes marked down for a moment
 * after they failed a connection.
 *
 * - `idle`: no primary known and none was being waited for (before the first topology, or a
 *   cluster that starts without one).
 * - `steady`: a primary is known and usable.
 * - `failing-over`: the primary is lost, unreachable or not known while a write needs one;
 *   writes are held. Entering it fires `failoverStart`, leaving it `failoverEnd` (with its
 *   duration): the transitions fire the events, nothing else does.
 * - `switchover-hold`: a planned switchover is announced (etcd's `failover` key) and the old
 *   primary still leads: new writes wait until it happens, so none is in flight when the old
 *   primary shuts down — for at most SWITCHOVER_HOLD_MILLIS from the announcement (a refused
 *   switchover must not stall writes for long; that pair is then not waited for again).
 */
import createDebug from 'debug';
import { nodeKey, type Topology } from '../topology/topology';
import type { FailoverStats } from './stats';

const debug = createDebug('pg-failover:pool');

/** How long a node that failed a connection is avoided (the topology is re-checked at once). */
const DOWN_MILLIS = 1000;
/** Longest a write waits at an announced switchover before going to the old primary anyway. */
export const SWITCHOVER_HOLD_MILLIS = 5000;
/** How many failover durations stats keep. */
const KEPT_DURATIONS = 20;

export type ClusterPhase =
  | { readonly kind: 'idle' }
  | { readonly kind: 'steady'; readonly primary: string }
  | { readonly kind: 'failing-over'; readonly since: number; readonly previous: string | undefined; readonly reason: string }
  | { readonly kind: 'switchover-hold'; readonly primary: string; readonly pair: string; readonly until: number };

/** What the phase changes tell the engine (it owns the events and the sessions). */
export interface ClusterStateHooks {
  announce(event: 'primaryChanged' | 'failoverStart' | 'failoverEnd' | 'nodeDown' | 'nodeUp', payload: object): void;
  /** Close the sessions to a node (no longer the primary, unreachable). */
  retire(key: string, why: string, abortBusy: boolean): void;
  /** Ask the topology source to look again now. */
  refresh(reason: string): void;
}

export class ClusterState {
  #phase: ClusterPhase = { kind: 'idle' };
  /** The primary the topology named last (may be down or failing over). */
  #lastPrimary: string | undefined;
  readonly #down = new Map<string, number>();
  /** Switchovers (old→candidate) waited for once already without happening. */
  readonly #waited = new Set<string>();
  readonly failovers: FailoverStats = { count: 0, durationsMillis: [], primaryChanges: 0 };
  /** Cache for primaryNow(): the member object last seen as primary and its key. */
  #primaryMember: object | undefined;
  #primaryKey: string | undefined;

  constructor(private readonly hooks: ClusterStateHooks) {}

  get phase(): ClusterPhase {
    return this.#phase;
  }

  /** The primary the topology named last, whatever the phase. */
  get lastPrimary(): string | undefined {
    return this.#lastPrimary;
  }

  /** Since when a failover is under way, if one is. */
  get failingOverSince(): number | undefined {
    return this.#phase.kind === 'failing-over' ? this.#phase.since : undefined;
  }

  /**
   * The primary's key when the phase is steady (or a switchover hold) and the topology's
   * primary is not marked down; else undefined (the caller takes the slow path). No allocation.
   */
  primaryNow(t: Topology | undefined): string | undefined {
    if (this.#phase.kind === 'failing-over') return undefined;
    const p = t?.primary;
    if (!p) return undefined;
    const key = p === this.#primaryMember ? this.#primaryKey! : nodeKey(p);
    this.#primaryMember = p;
    this.#primaryKey = key;
    return this.#down.size > 0 && this.isDown(key) ? undefined : key;
  }

  /** A new topology value: primary changes, lost primaries, nodes that went or came back. */
  observe(next: Topology, previous: Topology | undefined): void {
    const key = next.primary ? nodeKey(next.primary) : undefined;
    if (key && this.#down.has(key) && next.source === 'probe') this.#down.delete(key); // the probe just reached it
    if (key !== this.#lastPrimary) {
      const old = this.#lastPrimary;
      this.#lastPrimary = key;
      if (old !== undefined || previous) {
        debug('primary changed: %s → %s (%s)', old ?? 'none', key ?? 'none', next.source);
        this.failovers.primaryChanges++;
        this.hooks.announce('primaryChanged', { previous: old, current: key, source: next.source });
      }
      // Sessions to the old primary may be on a node that is now a standby, or gone: close them.
      if (old !== undefined) this.hooks.retire(old, 'no longer the primary', true);
      if (!key) this.failing(`primary ${old ?? ''} lost (${next.source})`, old);
      else if (this.#phase.kind !== 'failing-over') this.#phase = { kind: 'steady', primary: key };
    }
    if (key && this.#phase.kind === 'failing-over' && !this.isDown(key)) this.recovered(key);
    if (key && this.#phase.kind === 'idle') this.#phase = { kind: 'steady', primary: key };
    this.#switchover(next, key);
    for (const m of next.members) {
      const k = nodeKey(m);
      const before = previous?.members.find((p) => nodeKey(p) === k);
      if (m.state === 'unreachable' && before && before.state !== 'unreachable') {
        this.hooks.announce('nodeDown', { node: k, reason: 'unreachable' });
        this.hooks.retire(k, 'unreachable', true);
      } else if (m.state !== 'unreachable' && before?.state === 'unreachable') {
        this.#down.delete(k);
        this.hooks.announce('nodeUp', { node: k });
      }
    }
  }

  /** steady ⇄ switchover-hold, as the topology announces a switchover or stops announcing it. */
  #switchover(t: Topology, key: string | undefined): void {
    const pending = t.switchoverPending;
    if (this.#phase.kind === 'switchover-hold' && (!pending || key !== this.#phase.primary)) {
      this.#phase = key ? { kind: 'steady', primary: key } : this.#phase;
      if (!key) return;
    }
    if (!pending || !key || this.#phase.kind !== 'steady') return;
    const pair = `${key}→${pending.candidate ?? ''}`;
    if (this.#waited.has(pair)) return; // waited once already and it did not happen: do not stall again
    debug('switchover announced (candidate %s): holding writes to %s', pending.candidate ?? 'any', key);
    this.#phase = { kind: 'switchover-hold', primary: key, pair, until: Date.now() + SWITCHOVER_HOLD_MILLIS };
  }

  /**
   * The end of the switchover hold a new primary session must wait for, or undefined when
   * there is none (or it ran out: the old primary takes writes again, that pair is not held again).
   */
  switchoverHoldUntil(now = Date.now()): number | undefined {
    const p = this.#phase;
    if (p.kind !== 'switchover-hold') return undefined;
    if (now < p.until) return p.until;
    if (this.#waited.size > 100) this.#waited.clear();
    this.#waited.add(p.pair);
    this.#phase = { kind: 'steady', primary: p.primary };
    return undefined;
  }

  /** → failing-over (fires failoverStart once). */
  failing(reason: string, previous = this.#lastPrimary): void {
    if (this.#phase.kind === 'failing-over') return;
    const since = Date.now();
    this.#phase = { kind: 'failing-over', since, previous, reason };
    debug('failover started: %s', reason);
    this.hooks.announce('failoverStart', { previousPrimary: previous, reason, at: since });
  }

  /** failing-over → steady (fires failoverEnd with its duration). */
  recovered(primary: string): void {
    const p = this.#phase;
    if (p.kind !== 'failing-over') return;
    this.#phase = { kind: 'steady', primary };
    const durationMillis = Date.now() - p.since;
    debug('failover ended: primary %s after %d ms', primary, durationMillis);
    this.failovers.count++;
    this.failovers.durationsMillis.push(durationMillis);
    if (this.failovers.durationsMillis.length > KEPT_DURATIONS) this.failovers.durationsMillis.shift();
    this.hooks.announce('failoverEnd', { primary, durationMillis });
  }

  /** A node failed a connection: avoided for DOWN_MILLIS; the topology is asked again now. */
  markDown(key: string, err: Error): void {
    const wasDown = this.isDown(key);
    this.#down.set(key, Date.now() + DOWN_MILLIS);
    if (!wasDown) {
      debug('node %s marked down: %s', key, err.message);
      this.hooks.announce('nodeDown', { node: key, reason: err.message });
      if (this.#lastPrimary === key) this.hooks.retire(key, 'primary unreachable', false);
    }
    this.hooks.refresh(`${key}: ${err.message}`);
  }

  /** The node accepted a session again before its down mark ran out: usable at once. */
  revived(key: string): void {
    if (!this.#down.delete(key)) return;
    this.hooks.announce('nodeUp', { node: key });
  }

  isDown(key: string): boolean {
    const until = this.#down.get(key);
    if (until === undefined) return false;
    if (Date.now() < until) return true;
    this.#down.delete(key);
    return false;
  }

  /** Whether any node is (or was, not yet looked at again) marked down: the fast paths check this first. */
  get anyDown(): boolean {
    return this.#down.size > 0;
  }

  downKeys(): string[] {
    if (this.#down.size === 0) return [];
    return [...this.#down.keys()].filter((k) => this.isDown(k));
  }
}
