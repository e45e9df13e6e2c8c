/**
 * Who may take the leader key when there is none: Patroni's
 * `is_healthiest_node`, decided from live facts. Each other member's
 * PostgreSQL is asked directly (bounded, 2 s by default): a member that is
 * still a primary forbids the race; one that has received more WAL, or the
 * same with a higher `failover_priority`, wins it instead of us (in
 * synchronous mode, only among the sync candidates). Members that do not
 * answer are left out (they are what failed).
 */
import pg from 'pg';
import type { DcsSnapshot, MemberData } from './agent-view';
import { parseConnUrl } from '../patroni-contract';
import type { QuorumKey } from './sync';
import { tagFailoverPriority, tagNoFailover } from './tags';

/** What a probe of one member's PostgreSQL found. */
export type PeerState =
  | { kind: 'unreachable' }
  | { kind: 'primary'; walPosition: number }
  | { kind: 'replica'; walPosition: number };

/** Credentials and bounds for probing other members. */
export interface PeerProbeOptions {
  user: string;
  password?: string;
  timeoutMillis?: number;
}

/** Parses a member's `conn_url` (`postgres://host:port/db`): the shared contract's parser. */
export { parseConnUrl };

/** Asks one member's PostgreSQL whether it is in recovery and how much WAL it has. */
export async function probePeer(connUrl: string | undefined, options: PeerProbeOptions): Promise<PeerState> {
  const addr = parseConnUrl(connUrl);
  if (!addr) return { kind: 'unreachable' };
  const timeout = options.timeoutMillis ?? 2000;
  const client = new pg.Client({
    host: addr.host,
    port: addr.port,
    user: options.user,
    password: options.password,
    database: 'postgres',
    connectionTimeoutMillis: timeout,
    query_timeout: timeout,
  });
  client.on('error', () => {});
  try {
    await client.connect();
    const { rows } = await client.query<{ r: boolean; pos: string | null }>(
      `SELECT pg_is_in_recovery() AS r,
              CASE WHEN pg_is_in_recovery()
                   THEN pg_wal_lsn_diff(greatest(coalesce(pg_last_wal_receive_lsn(), '0/0'), coalesce(pg_last_wal_replay_lsn(), '0/0')), '0/0')
                   ELSE pg_wal_lsn_diff(pg_current_wal_flush_lsn(), '0/0') END::bigint::text AS pos`,
    );
    const row = rows[0]!;
    const walPosition = Number(row.pos ?? 0);
    return row.r ? { kind: 'replica', walPosition } : { kind: 'primary', walPosition };
  } catch {
    return { kind: 'unreachable' };
  } finally {
    await client.end().catch(() => {});
  }
}

/** Inputs of {@link isHealthiestNode}. */
export interface CandidateInput {
  me: string;
  /** This node's received/replayed WAL position (bytes), while it runs as a replica. */
  myWalPosition: number;
  myPriority: number;
  nofailover: boolean;
  maximumLagOnFailoverBytes: number;
  snapshot: DcsSnapshot;
  /**
   * Synchronous mode (with a `sync` key): the only members that may be promoted, the last leader
   * and its sync standby. WAL and priority are compared among these alone, as Patroni does: an
   * asynchronous replica may have received more WAL than the sync standby, yet may not take over.
   */
  syncCandidates?: ReadonlySet<string>;
  /**
   * Quorum commit with a `sync` key: the old leader, its voters and the quorum. Only a node that
   * sees `quorum` voters (itself counted when it is one) not ahead of it may win: then at least
   * one node that acknowledged every commit is among those it compared itself with.
   */
  quorum?: QuorumKey;
  /** Probe of another member (injectable for tests). */
  probe: (name: string, data: MemberData) => Promise<PeerState>;
}

/** The verdict, with a human-readable reason for the cycle's status line. */
export interface CandidateVerdict {
  ok: boolean;
  reason: string;
}

/** Decides whether this replica may race for the leader key now. */
export async function isHealthiestNode(input: CandidateInput): Promise<CandidateVerdict> {
  const { snapshot: snap, me } = input;
  const request = snap.failover;
  if (request?.member === me) return { ok: true, reason: 'I am the requested candidate' };
  if (input.nofailover) return { ok: false, reason: 'tagged nofailover' };
  const lastOptime = snap.status?.optime;
  if (typeof lastOptime === 'number' && lastOptime - input.myWalPosition > input.maximumLagOnFailoverBytes) {
    return { ok: false, reason: `lagging ${lastOptime - input.myWalPosition} bytes behind the last leader optime (maximum_lag_on_failover ${input.maximumLagOnFailoverBytes})` };
  }
  // A pending switchover/failover to another member: let that member go first while it is alive.
  const requested = request?.member ? snap.members.find((m) => m.name === request.member) : undefined;
  if (requested && requested.data.state === 'running' && !tagNoFailover(requested.data.tags)) {
    return { ok: false, reason: `waiting for the requested candidate ${requested.name}` };
  }
  const others = snap.members.filter((m) => m.name !== me);
  const states = await Promise.all(others.map(async (m) => ({ m, state: await input.probe(m.name, m.data) })));
  const q = input.quorum;
  const voting = new Set(q ? [q.leader, ...q.voters] : []);
  // the former leader (synchronous mode) may be ahead (WAL it wrote but no standby acknowledged) and its priority does not count
  const formerLeader = input.syncCandidates ? snap.sync?.leader : undefined;
  let votes = voting.has(me) ? 0 : -1;
  const voters: string[] = [];
  let ahead = 0;
  for (const { m, state } of states) {
    if (state.kind === 'unreachable') continue;
    if (state.kind === 'primary') return { ok: false, reason: `${m.name} is still running as a primary` };
    if (tagNoFailover(m.data.tags)) continue;
    if (input.syncCandidates && !input.syncCandidates.has(m.name)) continue;
    if (state.walPosition > input.myWalPosition) {
      ahead++;
      if (m.name !== formerLeader) return { ok: false, reason: `Wal position of ${m.name} is ahead of my wal position (${state.walPosition} > ${input.myWalPosition})` };
      continue; // Patroni: ignoring the former leader being ahead of us
    }
    if (state.walPosition <= 0) continue; // votes only from nodes whose PostgreSQL runs
    const vote = voting.has(m.name);
    const lowPriority = state.walPosition === input.myWalPosition && priorityOf(m.data) > input.myPriority && m.name !== formerLeader;
    if (lowPriority && (!q || vote)) {
      // Patroni's words (its acceptance suite greps for them)
      return { ok: false, reason: `${m.name} has equally tolerable WAL position and priority ${priorityOf(m.data)}, while this node has priority ${input.myPriority}` };
    }
    if (vote) {
      votes++;
      voters.push(m.name);
    }
  }
  if (q && !quorumReached({ votes, quorum: q.quorum, ahead, formerLeaderIsMe: q.leader === me })) {
    return { ok: false, reason: `quorum not reached: ${Math.max(votes, 0)} vote(s)${voters.length ? ` (${voters.join(', ')})` : ''} of the ${q.quorum} needed from ${[q.leader, ...q.voters].join(', ')}` };
  }
  return { ok: true, reason: q ? `I am the healthiest node (quorum ${q.quorum}, votes: ${voters.length ? voters.join(', ') : 'none needed'})` : 'I am the healthiest node' };
}

/**
 * Patroni's quorum rule for the leader race: `votes` counts the voters seen not ahead of us
 * (starting at 0 when we are a voter ourselves, else -1: we then need one more), and must reach
 * `quorum`; the former leader itself needs no votes while nobody is ahead of it.
 */
export function quorumReached(v: { votes: number; quorum: number; ahead: number; formerLeaderIsMe: boolean }): boolean {
  return v.votes >= v.quorum || (v.ahead === 0 && v.formerLeaderIsMe);
}

/**
 * Leader side (switchover, Patroni's `is_failover_possible`): with quorum commit active and no
 * named candidate, enough healthy voters must exist to form a quorum after we stop: at least
 * `quorum + 1` of them. Otherwise one healthy candidate suffices.
 */
export function failoverPossible(v: { healthy: number; quorum: QuorumKey | undefined; candidateNamed: boolean }): boolean {
  if (v.quorum && !v.candidateNamed && v.healthy - 1 < v.quorum.quorum) return false;
  return v.healthy >= 1;
}

function priorityOf(data: MemberData): number {
  return tagFailoverPriority(data.tags);
}
