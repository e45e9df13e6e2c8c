/**
 * The HA cycle's decision, pure: from one immutable DCS snapshot, this node's state and local
 * PostgreSQL, the dynamic settings and the clock, which one action the cycle takes (Patroni's
 * `run_cycle` → `_run_cycle` branches). No I/O, no timers: every branch is unit-tested on a
 * fake clock (test/manager/decide.test.ts). The executor (executor.ts) carries the action out;
 * what needs I/O to find out (the leader-key compare-and-set, probing the other members in an
 * election) stays there, with its decidable pre-conditions here.
 *
 * Two decisions, as in Patroni: {@link decide} before touching the leader key, and
 * {@link decideAsLeader} once the key's compare-and-set says it is still ours (the node's state
 * is re-read between the two: the fencing watchdog may have acted meanwhile).
 */
import type { DcsSnapshot, MemberData } from './agent-view';
import { failsafeRaceBlock } from './failsafe';
import type { NodeState } from './node-state';
import { ARCHIVE_SOURCE } from './node-state';
import { primaryStartTimeoutSeconds } from './primary-start-timeout';
import { describeStandbySource, standbySignature, type StandbyCluster } from './standby-cluster';
import { maySyncFailover } from './sync';
import { upstreamFor, type StreamTags, type Upstream } from './upstream';

/** What local PostgreSQL reported this cycle: running as a primary, as a replica, or no answer (undefined). */
export type LocalRole = 'primary' | 'replica';

/** Everything {@link decide} looks at. */
export interface CycleInput {
  /** This member's name. */
  me: string;
  /** The cluster, read once this cycle. */
  snapshot: DcsSnapshot;
  /** This node's state. */
  node: Readonly<NodeState>;
  /** The data directory may have diverged (was a primary): pg_rewind before following. */
  needsRewind: boolean;
  /** What local PostgreSQL answered (undefined: not running, or no answer). */
  local: LocalRole | undefined;
  /** Whether the PostgreSQL process runs (it may run yet not answer). */
  postgresRunning: boolean;
  /** Dynamic settings the branches use. */
  settings: { ttlSeconds: number; synchronousMode: boolean };
  /** This node's tags that steer the decision. */
  tags: StreamTags & { nofailover: boolean };
  /** The clock (ms). */
  now: number;
  /** Since when (ms) this node has seen no leader, while it could take part in an election. */
  noLeaderSince: number | undefined;
}

/** The action of one cycle. */
export type CycleAction =
  /** The leader key names us: renew it by compare-and-set, then {@link decideAsLeader} with the result. */
  | { kind: 'keep-leader-key' }
  /** No leader key, but PostgreSQL here runs as a primary: take the key back, or step down. */
  | { kind: 'reacquire-or-demote' }
  /** Nobody has led for a whole ttl and PostgreSQL is stopped here: start it read-only to take part. */
  | { kind: 'start-read-only' }
  /** No leader: race for the key if the healthiest (`named`: the failover key names us, race at once). */
  | { kind: 'election'; named: boolean }
  /** Another member holds the key while we are the primary: stop being writable now. */
  | { kind: 'demote'; reason: string; line: string }
  /** Paused, and PostgreSQL was stopped behind our back: leave it stopped (patronictl restart starts it). */
  | { kind: 'stay-stopped'; line: string }
  /** Start (with pg_rewind when diverged) as a replica of `leader`, streaming from `to`. */
  | { kind: 'rejoin'; leader: string; data: MemberData; to: Upstream }
  /** Running replica: keep our slots; re-point the standby config when `repoint`. */
  | { kind: 'follow'; leader: string; to: Upstream; source: string; repoint: boolean; line: string }
  /** Nothing to do this cycle; `line` says why. */
  | { kind: 'idle'; line: string };

/** {@link decide}'s answer: the action, and the no-leader clock to carry to the next cycle. */
export interface CycleDecision {
  action: CycleAction;
  noLeaderSince: number | undefined;
}

/** One HA cycle's decision (see the module header). */
export function decide(input: CycleInput): CycleDecision {
  const { snapshot: snap, me, node } = input;
  if (snap.leader === me) return { action: { kind: 'keep-leader-key' }, noLeaderSince: input.noLeaderSince };
  if (snap.leader !== undefined) return { action: followOrDemote(input, snap.leader), noLeaderSince: undefined };

  // No leader.
  if (node.role === 'primary' && input.local === 'primary') return { action: { kind: 'reacquire-or-demote' }, noLeaderSince: input.noLeaderSince };
  if (snap.config.pause === true && !snap.failover?.member) {
    // Maintenance mode (patronictl pause): no automatic failover; a manual failover/switchover still works.
    return { action: idle('PAUSE: no leader, not taking part in an election (cluster paused)'), noLeaderSince: input.noLeaderSince };
  }
  const since = input.noLeaderSince ?? input.now;
  if (!input.local && !input.postgresRunning && (node.role === 'demoted' || node.role === 'replica') && input.now - since > input.settings.ttlSeconds * 1000) {
    return { action: { kind: 'start-read-only' }, noLeaderSince: since };
  }
  return { action: election(input), noLeaderSince: since };
}

function idle(line: string): CycleAction {
  return { kind: 'idle', line };
}

/** No leader, PostgreSQL not stopped for long: may this node race, and how? */
function election(input: CycleInput): CycleAction {
  const { snapshot: snap, me } = input;
  if (input.local !== 'replica') return idle('no leader, and PostgreSQL is not running as a replica here');
  if (input.settings.synchronousMode && !maySyncFailover(me, snap)) {
    return idle(`no leader: not racing (synchronous mode: only ${snap.sync?.sync_standby ?? 'nobody'} may be promoted)`);
  }
  // The named candidate of a switchover/failover races at once, as in Patroni.
  const named = snap.failover?.member === me && !input.tags.nofailover;
  // DCS failsafe mode: only a member the leader listed in the `failsafe` key may race (failsafe.ts).
  const notListed = named ? undefined : failsafeRaceBlock(me, snap);
  if (notListed) return idle(`no leader: not racing (failsafe mode: ${notListed})`);
  return { kind: 'election', named };
}

/** Another member leads: a primary steps down; anything else follows it. */
function followOrDemote(input: CycleInput, leader: string): CycleAction {
  const { snapshot: snap, me, node } = input;
  if (node.role === 'primary') return { kind: 'demote', reason: `${leader} holds the leader key`, line: `demoted self because ${leader} is the leader` };
  const data = snap.members.find((m) => m.name === leader)?.data;
  if (!data?.conn_url) return idle(`following ${leader}: its member key is not there yet`);
  if (snap.config.pause === true && !input.postgresRunning && node.role === 'replica') {
    return { kind: 'stay-stopped', line: 'PAUSE: PostgreSQL is not running; not starting it while the cluster is paused' };
  }
  // the leader, our replicatefrom member while it runs (else the leader), or the archive (nostream)
  const to: Upstream = upstreamFor(me, input.tags, snap) ?? { name: leader, data };
  if (!input.postgresRunning || node.role === 'demoted' || input.needsRewind) return { kind: 'rejoin', leader, data, to };
  const source = to === 'archive' ? ARCHIVE_SOURCE : to.name;
  const following = node.role === 'replica' ? node.following : undefined;
  if (following !== source) {
    return { kind: 'follow', leader, to, source, repoint: true, line: to === 'archive' ? 'changed primary_conninfo to none (nostream)' : `changed primary_conninfo to ${source}` };
  }
  const line =
    to === 'archive'
      ? `no action. I am a secondary recovering from the archive (nostream), leader ${leader}`
      : source !== leader
        ? `no action. I am a secondary and I am following ${source}, a replica of leader ${leader} (replicatefrom)`
        : `no action. I am a secondary and I am following a leader ${leader}`;
  return { kind: 'follow', leader, to, source, repoint: false, line };
}

/** What the leader does once its key's compare-and-set has answered. */
export type LeaderAction =
  /** The compare-and-set failed: the key is someone else's or gone; a primary here demotes at once. */
  | { kind: 'lost-key'; demote: boolean; line: string }
  /** Holding the key without a writable primary here: promote (or start) PostgreSQL. */
  | { kind: 'become-primary'; reason: string; line: string }
  /**
   * PostgreSQL crashed under the running primary (Patroni's `recover` with the key): fail over at
   * once when `primary_start_timeout` is 0 and a replica can take over, else start it again in
   * place within that many seconds (crash-recovery.ts).
   */
  | { kind: 'recover-crashed-primary'; startTimeoutSeconds: number }
  /**
   * A standby cluster (standby-cluster.ts): hold the key as its standby leader — point the
   * standby configuration at the remote (or the archive) and start or reload PostgreSQL;
   * a running primary here is stopped and restarted as a standby first ("demote cluster").
   */
  | { kind: 'become-standby-leader'; standby: StandbyCluster; line: string }
  /** A switchover or failover request that is due: hand over (to `member`, or the best replica). */
  | { kind: 'switchover'; member: string | undefined }
  /** The routine: slots, synchronous standby, `status`; clear a stale failover request first. */
  | { kind: 'leader-duties'; clearStaleFailover: boolean }
  /** Nothing this cycle (a scheduled switchover not yet due). */
  | { kind: 'idle'; line: string };

/** Inputs of {@link decideAsLeader}, read after the leader key's compare-and-set answered. */
export interface LeaderInput {
  /** The standby cluster in effect (the `config` key's `standby_cluster`), or undefined. */
  standby?: StandbyCluster | undefined;
  /** Whether the compare-and-set kept the key ours. */
  keyKept: boolean;
  me: string;
  snapshot: DcsSnapshot;
  node: Readonly<NodeState>;
  local: LocalRole | undefined;
  /** Whether the PostgreSQL process runs (it may run yet not answer). */
  postgresRunning: boolean;
  now: number;
}

/** The leader's decision once the key's compare-and-set answered. */
export function decideAsLeader(input: LeaderInput): LeaderAction {
  if (!input.keyKept) return { kind: 'lost-key', demote: input.node.role === 'primary', line: 'lost the leader key' };
  if (input.standby) return decideAsStandbyLeader(input, input.standby);
  if (input.node.role === 'primary' && !input.postgresRunning && input.snapshot.config.pause !== true) {
    return { kind: 'recover-crashed-primary', startTimeoutSeconds: primaryStartTimeoutSeconds(input.snapshot.config) };
  }
  if (input.node.role !== 'primary' || input.local !== 'primary') {
    return { kind: 'become-primary', reason: 'I had the leader key', line: 'promoted self to leader because I had the session lock' };
  }
  return planLeaderDuties(input.me, input.snapshot, input.now);
}

/**
 * The key holder of a standby cluster: a running standby leader replicating with the settings
 * in effect does the leader's routine (a switchover request included); anything else — a
 * replica that just won the key, a stopped node, a primary of a cluster being demoted, a
 * standby leader whose `standby_cluster` settings changed — becomes the standby leader.
 */
function decideAsStandbyLeader(input: LeaderInput, sc: StandbyCluster): LeaderAction {
  const { node } = input;
  if (node.role === 'standby_leader' && input.local === 'replica' && node.source === standbySignature(sc)) return planLeaderDuties(input.me, input.snapshot, input.now);
  if (node.role === 'primary' && input.local === 'primary') return { kind: 'become-standby-leader', standby: sc, line: `demoting the primary to a standby leader replicating from ${describeStandbySource(sc)} (standby_cluster is configured)` };
  if (node.role === 'standby_leader' && input.local === 'replica') return { kind: 'become-standby-leader', standby: sc, line: `standby_cluster changed: now replicating from ${describeStandbySource(sc)}` };
  return { kind: 'become-standby-leader', standby: sc, line: `no action. I am (${input.me}) the standby leader with the lock, replicating from ${describeStandbySource(sc)}` };
}

/**
 * A running primary with the key: a stale or pointless failover request (another leader named,
 * or us as the candidate) is cleared, as Patroni does; a due one is carried out; a scheduled
 * one waits; otherwise the routine duties.
 */
export function planLeaderDuties(me: string, snap: DcsSnapshot, now: number): LeaderAction {
  const req = snap.failover;
  if (req && ((req.leader && req.leader !== me) || req.member === me)) return { kind: 'leader-duties', clearStaleFailover: true };
  if (req) {
    const due = !req.scheduled_at || Date.parse(req.scheduled_at) <= now;
    if (due) return { kind: 'switchover', member: req.member };
    return { kind: 'idle', line: `switchover scheduled at ${req.scheduled_at}` };
  }
  return { kind: 'leader-duties', clearStaleFailover: false };
}
