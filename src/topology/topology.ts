/**
 * "Who is primary, who are standbys, how far behind": the value every
 * topology source produces, and the watcher interface the pool consumes.
 * Sources: probe.ts (libpq-style probing), etcd.ts (Patroni's keys),
 * patroni-rest.ts (GET /cluster).
 */
import type { EventEmitter } from 'node:events';
import { isPrimaryRoleWord, isStandbyRoleWord } from '../patroni-contract';

/** A member's role as the pool cares about it. Patroni's `master`/`leader`/`primary` → 'primary'; `replica`/`sync_standby`/`standby_leader` → 'standby'. */
export type MemberRole = 'primary' | 'standby' | 'unknown';

export interface Member {
  /** Member name (Patroni's `name`), or `host:port` for probed nodes. */
  name: string;
  host: string;
  port: number;
  role: MemberRole;
  /** Patroni's state string (`running`, `streaming`, `stopped` …) or 'unreachable'. */
  state: string;
  /** Replication lag in bytes behind the primary, when known. */
  lagBytes?: number;
  /** Time since the standby last replayed a transaction, in ms, when known (0 on an idle but caught-up standby is not guaranteed). */
  lagMillis?: number;
  /** Replay position (pg_lsn text, e.g. `0/3000060`), when the source knows it (never a receive position). */
  replayLsn?: string;
  timeline?: number;
  /** Patroni tags (`nofailover`, `noloadbalance` …). */
  tags?: Record<string, unknown>;
}

/** A published Topology is never changed afterwards (sources publish a new value), so consumers may cache what they derive from it by identity. */
export interface Topology {
  /** The member that accepts writes, if one is known. Never a node that reports itself in recovery. */
  primary: Member | undefined;
  /** Every known member, the primary included. */
  members: readonly Member[];
  /** Which source produced this value (`probe`, `etcd`, `patroni-rest`). */
  source: string;
  /** Date.now() when it was observed. */
  observedAt: number;
  /**
   * A planned switchover is under way (Patroni's `failover` key, due now): the
   * primary is about to stop. The pool holds new writes until the primary
   * changes (bounded), so none is caught in flight by the shutdown.
   */
  switchoverPending?: { candidate?: string };
  /**
   * The member that holds the leader lock but does not report itself as
   * primary yet (its manager is promoting it). Not a primary: the pool asks
   * the node itself (promotion.ts) before sending it writes.
   */
  promoting?: Member;
}

/**
 * True for a member tagged `noloadbalance` (Patroni's tag): it serves no
 * load-balanced reads. The value counts as Patroni counts it, with Python's
 * `bool()` (`bool(tags.get('noloadbalance'))` decides its `GET /replica`), so a
 * client skips exactly the members that HAProxy's `/replica` check takes out.
 *
 * @example
 * const readable = topology.members.filter((m) => m.role === 'standby' && !isNoLoadBalance(m));
 */
export function isNoLoadBalance(m: Pick<Member, 'tags'>): boolean {
  return pythonTruthy(m.tags?.noloadbalance);
}

function pythonTruthy(v: unknown): boolean {
  if (v === undefined || v === null || v === false || v === 0 || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'object') return Object.keys(v).length > 0;
  return true;
}

/** `host:port` of a member, the key pools and routers index nodes by. */
export function nodeKey(m: { host: string; port: number }): string {
  return `${m.host}:${m.port}`;
}

/** Maps Patroni's role vocabularies (3.x `master`, 4.x `primary`, `/cluster`'s `leader`, …) onto ours. */
export function roleFromPatroni(role: unknown): MemberRole {
  if (isPrimaryRoleWord(role)) return 'primary';
  if (isStandbyRoleWord(role)) return 'standby';
  return 'unknown';
}

/** True when two topologies name different primaries (by host:port). */
export function primaryChanged(a: Topology | undefined, b: Topology | undefined): boolean {
  const ka = a?.primary ? nodeKey(a.primary) : undefined;
  const kb = b?.primary ? nodeKey(b.primary) : undefined;
  return ka !== kb;
}

export interface TopologyEvents {
  /** A new value (primary change, member up/down, lag update). */
  change: (next: Topology, previous: Topology | undefined) => void;
  /** The source failed to read (it keeps trying); never thrown. */
  error: (err: Error) => void;
}

/**
 * A source of topology. `start()` resolves with the first value; afterwards
 * `change` events follow. `refresh()` asks for a re-check now (the pool calls
 * it on connection errors, SQLSTATE 57P01/57P02/57P03/25006, and
 * in_hot_standby changes). `close()` stops every timer, watch and connection.
 */
export interface TopologySource extends EventEmitter {
  readonly name: string;
  start(): Promise<Topology>;
  current(): Topology | undefined;
  refresh(reason: string): void;
  close(): Promise<void>;
  on<E extends keyof TopologyEvents>(event: E, listener: TopologyEvents[E]): this;
  once<E extends keyof TopologyEvents>(event: E, listener: TopologyEvents[E]): this;
  off<E extends keyof TopologyEvents>(event: E, listener: TopologyEvents[E]): this;
  emit<E extends keyof TopologyEvents>(event: E, ...args: Parameters<TopologyEvents[E]>): boolean;
}
