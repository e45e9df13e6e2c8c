/**
 * The router: (statement analysis, topology, policy, node health) → which
 * node runs it. Pure decisions, no I/O; the pool owns the machinery and asks
 * this one hook where to go (STYLE.md: "a base with one hook", undici's
 * kGetDispatcher): {@link ReadRouter.route} answers every statement with a
 * node, a wait (the machinery waits for a topology change, at most that long,
 * and asks again) or a failure.
 */
import type { Analysis } from './classify';
import { isNoLoadBalance, nodeKey, type Member, type Topology } from '../topology/topology';

/** Where reads may go. */
export type ReadFrom = 'standby' | 'prefer-standby' | 'primary' | 'any';
/** How a read picks among qualifying standbys. `disable` = the first in host order (libpq's word). */
export type ReadBalance = 'disable' | 'random' | 'round-robin' | 'least-busy';
/** A per-query override (`{ text, route }`) or a `/* pgfailover:primary *\/` hint. */
export type RouteOverride = 'primary' | 'standby';

export interface ReadPolicy {
  readFrom: ReadFrom;
  balance: ReadBalance;
  /** Skip standbys further behind than this many bytes of WAL. */
  maxReplicaLagBytes?: number;
  /** Skip standbys whose last replayed transaction is older than this (only when they are behind). */
  maxReplicaLagMillis?: number;
}

/** Which role a statement needs: the primary, or any node allowed to serve reads. */
export type Need = { role: 'primary'; why: string } | { role: 'read'; why: string };

/**
 * The role a statement needs when it runs outside a bound session
 * (`pool.query`). Writes, transaction control, session state, pins and
 * anything uncertain need the primary.
 */
export function needFor(a: Analysis, override: RouteOverride | undefined, learnedWrite: boolean): Need {
  const route = override ?? a.hint;
  if (route === 'primary') return { role: 'primary', why: 'routed to primary by request' };
  if (route === 'standby') return { role: 'read', why: 'routed to a standby by request' };
  if (learnedWrite) return { role: 'primary', why: 'a standby rejected this text before (SQLSTATE 25006)' };
  if (a.pins) return { role: 'primary', why: `pins the session (${a.pins})` };
  if (a.kind === 'read') return { role: 'read', why: a.reason };
  if (a.kind === 'transaction' && a.transaction === 'begin-read-only') return { role: 'read', why: 'BEGIN READ ONLY' };
  return { role: 'primary', why: `${a.kind}: ${a.reason}` };
}

/** Where a statement goes now. */
export type Route =
  /** Run it there. `detour`: a read sent to the primary to stay causal. */
  | { readonly node: string; readonly detour?: 'causal-primary' }
  /** Nothing qualifies yet: wait for a topology change, at most `millis`, then ask again. */
  | { readonly wait: string; readonly millis: number }
  /** Nothing will qualify in time. */
  | { readonly fail: 'FAILOVER_TIMEOUT' | 'NO_STANDBY'; readonly reason: string };

/** What {@link ReadRouter.route} decides on (the engine gathers it; nothing here does I/O). */
export interface RouteInput {
  role: Need['role'];
  topology: Topology | undefined;
  /** The primary the topology names, when it is not marked down; else undefined. */
  primary: string | undefined;
  /** The primary the topology names, whether usable or not. */
  namedPrimary: string | undefined;
  load: (key: string) => NodeLoad;
  /** Nodes a read must not use (tried, marked down, behind a position it must see). */
  skip?: ReadonlySet<string>;
  /** A read that must see writes no standby is known to have (read-your-writes). */
  primaryOnly?: boolean;
  /** A read waits on a standby's replay (poll sooner than for a topology change). */
  waitingForPosition?: boolean;
  now: number;
  /** When a write (or a read that needs the primary) stops waiting: FAILOVER_TIMEOUT. */
  deadline: number;
  /** When a readFrom 'standby' read stops waiting for a standby: NO_STANDBY. */
  standbyDeadline: number;
}

/** How often a statement held for a primary asks again (a topology change ends the wait sooner). */
const PRIMARY_RECHECK_MILLIS = 250;

/** Node health as the pool sees it (a node just failed a connection is `down` until topology says otherwise). */
export interface NodeLoad {
  /** Queries running or waiting on that node. */
  busy: number;
}

/** A topology's node keys as the router needs them, computed once per topology value. */
interface Keys {
  readonly t: Topology;
  readonly primary: string | undefined;
  /** Standbys that qualify under the policy, in member order. */
  readonly standbys: readonly string[];
  /** Qualifying standbys and then the primary (readFrom 'any'). */
  readonly all: readonly string[];
}

export class ReadRouter {
  #rr = 0;
  /**
   * Keys of the last topology picked from. A Topology is never changed after a source
   * publishes it (a new value replaces it), so it is safe to cache by identity: a read
   * then builds no strings and allocates nothing.
   */
  #keys: Keys | undefined;
  constructor(readonly policy: ReadPolicy) {}

  /** The single hook: where this statement goes now (see {@link Route}). */
  route(r: RouteInput): Route {
    const { readFrom } = this.policy;
    if (r.role === 'primary' || readFrom === 'primary') return toPrimary(r);
    const standbyOnly = readFrom === 'standby';
    if (r.primaryOnly && !standbyOnly) {
      // This process's last writes are on the primary and no standby is known to have them: the
      // primary, or — during a failover — a wait for the next one (never a standby that may lack them).
      if (r.primary !== undefined) return { node: r.primary, detour: 'causal-primary' };
      return toPrimary(r);
    }
    const key = this.pick(r.topology, r.load, r.skip);
    if (key !== undefined) return { node: key };
    if (!standbyOnly) return toPrimary(r);
    const left = r.standbyDeadline - r.now;
    if (left <= 0) return { fail: 'NO_STANDBY', reason: 'no healthy standby qualifies for this read (readFrom: standby); check maxReplicaLag*, readYourWrites, or the standbys' };
    return { wait: 'a read needs a standby', millis: Math.min(left, r.waitingForPosition ? 3 : 20) };
  }

  /**
   * The node (host:port) a read goes to, or undefined when none qualifies
   * (with readFrom 'standby' and no healthy standby). `exclude` names nodes a
   * retry must avoid.
   */
  pick(t: Topology | undefined, load: (key: string) => NodeLoad, exclude?: ReadonlySet<string>): string | undefined {
    if (!t) return undefined;
    const keys = this.#keysOf(t);
    const usablePrimary = keys.primary !== undefined && !exclude?.has(keys.primary) ? keys.primary : undefined;
    const { readFrom } = this.policy;
    if (readFrom === 'primary') return usablePrimary;
    const standbys = exclude?.size ? keys.standbys.filter((k) => !exclude.has(k)) : keys.standbys;
    if (readFrom === 'any' && usablePrimary) return this.#choose(standbys === keys.standbys ? keys.all : [...standbys, usablePrimary], load);
    if (standbys.length) return this.#choose(standbys, load);
    return readFrom === 'standby' ? undefined : usablePrimary;
  }

  #keysOf(t: Topology): Keys {
    if (this.#keys?.t === t) return this.#keys;
    const primary = t.primary ? nodeKey(t.primary) : undefined;
    const standbys = t.members.filter((m) => m.role === 'standby' && this.#qualifies(m)).map(nodeKey);
    this.#keys = { t, primary, standbys, all: primary === undefined ? standbys : [...standbys, primary] };
    return this.#keys;
  }

  #qualifies(m: Member): boolean {
    if (m.state === 'unreachable' || m.state === 'stopped' || m.state === 'crashed') return false;
    if (isNoLoadBalance(m)) return false;
    const { maxReplicaLagBytes, maxReplicaLagMillis } = this.policy;
    if (maxReplicaLagBytes !== undefined && (m.lagBytes === undefined || m.lagBytes > maxReplicaLagBytes)) return false;
    if (maxReplicaLagMillis !== undefined && m.lagMillis !== undefined && m.lagMillis > maxReplicaLagMillis) return false;
    return true;
  }

  #choose(keys: readonly string[], load: (key: string) => NodeLoad): string {
    if (keys.length === 1) return keys[0];
    switch (this.policy.balance) {
      case 'disable':
        return keys[0];
      case 'random':
        return keys[Math.floor(Math.random() * keys.length)];
      case 'round-robin':
        return keys[this.#rr++ % keys.length];
      case 'least-busy': {
        // Least busy; ties rotate so idle standbys share the load.
        const start = this.#rr++ % keys.length;
        let best = keys[start];
        let bestBusy = load(best).busy;
        for (let i = 1; i < keys.length; i++) {
          const k = keys[(start + i) % keys.length];
          const b = load(k).busy;
          if (b < bestBusy) {
            best = k;
            bestBusy = b;
          }
        }
        return best;
      }
    }
  }
}

function toPrimary(r: RouteInput): Route {
  if (r.primary !== undefined) return { node: r.primary };
  const left = r.deadline - r.now;
  const reason = r.namedPrimary !== undefined ? `primary ${r.namedPrimary} is unreachable` : 'no primary known';
  if (left <= 0) return { fail: 'FAILOVER_TIMEOUT', reason };
  return { wait: reason, millis: Math.min(left, PRIMARY_RECHECK_MILLIS) };
}
