/**
 * The pure half of the REST API: which status code a health check answers for
 * a node in a given state, and the `/cluster` and `/metrics` documents. No I/O
 * here — api.ts gathers the inputs (with timeouts) and writes the answers.
 * Decisions follow Patroni's `RestApiHandler.do_GET`, `cluster_as_json` and
 * `do_GET_metrics` (patroni/api.py, patroni/utils.py).
 */
import type { DcsSnapshot, MemberData, NodeStatus } from './agent-view';

/** Everything a health-check decision looks at. */
export interface HealthInput {
  /** This node's live status (what `/patroni` answers). */
  status: NodeStatus;
  /** True while this node holds the leader key. */
  isLeader: boolean;
  /** The member's name (for the `sync` key). */
  name: string;
  /** The DCS snapshot, when one could be read (needed by the sync/async checks and the lag bound). */
  snapshot?: DcsSnapshot;
}

/** Paths whose answer does not depend on the node (always 200). */
export const INFO_PATHS: ReadonlySet<string> = new Set(['/patroni', '/cluster', '/history', '/config', '/metrics']);

const UNITS: Record<string, number> = { B: 1, kB: 1024, MB: 1024 ** 2, GB: 1024 ** 3, TB: 1024 ** 4 };

/**
 * Parses a `?lag=` value like Patroni's `parse_int(value, 'B')`: plain bytes
 * (`1048576`) or a number with a case-sensitive unit `B`/`kB`/`MB`/`GB`/`TB`
 * (1024-based). Returns undefined when it cannot be parsed (Patroni then applies no bound).
 */
export function parseLagBytes(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const m = /^\s*([+-]?\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*$/.exec(value);
  if (!m) return undefined;
  const factor = m[2] === '' ? 1 : UNITS[m[2]!];
  if (factor === undefined) return undefined;
  return Math.round(Number(m[1]) * factor);
}

import { isQuorumCommitMode, isSynchronousMode } from './dynamic-config';
import { formatLsn } from '../lsn';
import { tagFailoverPriority } from './tags';
export { isSynchronousMode };

/** Is `member` listed in the `sync` key's `sync_standby` (comma lists allowed) while synchronous replication is on? */
function listedInSync(snapshot: DcsSnapshot | undefined, member: string): boolean {
  const s = snapshot?.sync?.sync_standby;
  if (!s || !snapshot?.sync?.leader || !isSynchronousMode(snapshot?.config)) return false;
  return s.split(',').map((x) => x.trim()).includes(member);
}

/** Does the `sync` key name `member` as a synchronous standby (synchronous mode, not quorum commit)? */
export function syncNames(snapshot: DcsSnapshot | undefined, member: string): boolean {
  return !isQuorumCommitMode(snapshot?.config) && listedInSync(snapshot, member);
}

/** Does the `sync` key name `member` as a quorum standby (a voter, quorum commit)? */
export function quorumNames(snapshot: DcsSnapshot | undefined, member: string): boolean {
  return isQuorumCommitMode(snapshot?.config) && listedInSync(snapshot, member);
}

/** The leader's last known WAL position: the `status` key's optime, else the leader member's xlog_location. */
export function leaderOptime(snapshot: DcsSnapshot | undefined): number {
  if (!snapshot) return 0;
  const fromStatus = snapshot.status?.optime ?? 0;
  const leader = snapshot.members.find((m) => m.name === snapshot.leader);
  const fromMember = typeof leader?.data.xlog_location === 'number' ? leader.data.xlog_location : 0;
  return Math.max(fromStatus, fromMember);
}

function isRunning(state: string): boolean {
  // Patroni's internal state is `running`; member keys of ≥ 3.0.4 say `streaming` for a replica.
  return state === 'running' || state === 'streaming';
}

/**
 * The status code of a health-check request (`GET`/`HEAD`/`OPTIONS` on any path
 * that is not an info endpoint), exactly as Patroni decides it, substring
 * matching of the path included (`/` means `/primary`).
 */
export function healthStatusCode(rawPath: string, query: URLSearchParams, input: HealthInput): number {
  const path = rawPath === '/' ? '/primary' : rawPath;
  const { status, isLeader } = input;
  const tags = status.tags ?? {};
  const replayed = status.xlog && 'replayed_location' in status.xlog ? (status.xlog.replayed_location ?? 0) : 0;
  const maxLag = parseLagBytes(query.get('lag') ?? undefined) ?? Number.MAX_SAFE_INTEGER;
  const optime = leaderOptime(input.snapshot);
  const lagging = optime > 0 && optime > replayed + maxLag;
  const wantedState = query.get('replication_state');
  const stateMatches = wantedState ? status.replication_state === wantedState : true;
  const replica =
    !truthyTag(tags.noloadbalance) && !lagging && status.role === 'replica' && isRunning(status.state) && stateMatches ? 200 : 503;

  let leader = 503;
  let primary = 503;
  let standbyLeader = 503;
  let replicaCode = replica;
  if (isLeader) {
    leader = 200;
    if (status.role === 'standby_leader') {
      primary = replicaCode = 503;
      standbyLeader = 200;
    } else {
      primary = 200;
    }
  }

  let code = 503;
  let ignoreTags = false;
  const leaderLike = primary === 200 || standbyLeader === 200;
  const isSync = status.role === 'replica' && (status.sync_standby === true || syncNames(input.snapshot, input.name));
  const isQuorum = status.role === 'replica' && (status.quorum_standby === true || quorumNames(input.snapshot, input.name));
  if (path.includes('standby_leader') || path.includes('standby-leader')) {
    code = standbyLeader;
    ignoreTags = true;
  } else if (path.includes('leader')) {
    code = leader;
    ignoreTags = true;
  } else if (path.includes('master') || path.includes('primary') || path.includes('read-write')) {
    code = primary;
    ignoreTags = true;
  } else if (path.includes('replica')) {
    code = replicaCode;
  } else if (path.includes('read-only') && !path.includes('sync') && !path.includes('quorum')) {
    code = leaderLike ? 200 : replicaCode;
  } else if (path.includes('health')) {
    code = isRunning(status.state) ? 200 : 503;
  } else if (input.snapshot) {
    if ((path === '/sync' || path === '/synchronous') && isSync) code = replicaCode;
    else if (path === '/quorum' && isQuorum) code = replicaCode;
    else if ((path === '/async' || path === '/asynchronous') && !isSync && !isQuorum) code = replicaCode;
    else if (path === '/read-only-quorum') code = leaderLike ? 200 : isQuorum ? replicaCode : 503;
    else if (path === '/read-only-sync' || path === '/read-only-synchronous') code = leaderLike ? 200 : isSync ? replicaCode : 503;
  }

  if (!ignoreTags && code === 200) {
    for (const [key, wanted] of query) {
      if (!key.startsWith('tag_')) continue;
      const have = tags[key.slice(4)];
      if (have === undefined || have === null) return 503;
      const text = typeof have === 'string' ? have : String(have).toLowerCase();
      if (text !== wanted) return 503;
    }
  }
  return code;
}

/** Does the path need the DCS snapshot to be decided (sync lists, lag bound)? */
export function needsSnapshot(path: string): boolean {
  return /replica|read-only|sync|async|quorum/.test(path);
}

function truthyTag(v: unknown): boolean {
  return v === true || v === 'true' || v === 'on' || v === 1;
}

/**
 * `/readiness` (status only): the leader is ready; a replica is ready while it
 * streams and its replay position is within `?lag=` (default
 * `maximum_lag_on_failover`, 1 MiB) of the leader's optime.
 */
export function readinessCode(query: URLSearchParams, input: HealthInput): number {
  const { status } = input;
  if (input.isLeader && isRunning(status.state)) return 200;
  if (!isRunning(status.state) || status.role !== 'replica') return 503;
  if (status.replication_state !== 'streaming') return 503;
  const xlog = status.xlog && 'replayed_location' in status.xlog ? status.xlog : {};
  const mode = query.get('mode') === 'write' ? 'received_location' : 'replayed_location';
  const position = (xlog as Record<string, number | undefined>)[mode] ?? 0;
  const optime = leaderOptime(input.snapshot);
  const configured = input.snapshot?.config?.maximum_lag_on_failover;
  const maxLag = parseLagBytes(query.get('lag') ?? undefined) ?? (typeof configured === 'number' ? configured : 1048576);
  return optime - position > maxLag ? 503 : 200;
}

/** `host` and `port` of a member's `conn_url` (`postgres://host:port/db`). */
export function hostPortOf(connUrl: string | undefined): { host?: string; port?: number } {
  if (!connUrl) return {};
  try {
    const u = new URL(connUrl);
    const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
    return { ...(host ? { host } : {}), ...(u.port ? { port: Number(u.port) } : host ? { port: 5432 } : {}) };
  } catch {
    return {};
  }
}

/** One member as `/cluster` lists it. */
export interface ClusterMemberJson {
  name: string;
  role: 'leader' | 'standby_leader' | 'sync_standby' | 'quorum_standby' | 'replica';
  state: string;
  api_url: string | undefined;
  host?: string;
  port?: number;
  timeline?: number;
  tags?: Record<string, unknown>;
  lsn?: string;
  lag?: number | 'unknown';
  receive_lsn?: string;
  receive_lag?: number | 'unknown';
  replay_lsn?: string;
  replay_lag?: number | 'unknown';
  [key: string]: unknown;
}

/** The `GET /cluster` document built from a DCS snapshot (Patroni's `cluster_as_json`). */
export function clusterJson(snapshot: DcsSnapshot, scope: string): { scope: string; members: ClusterMemberJson[]; pause?: true; scheduled_switchover?: Record<string, string> } {
  const standbyCluster = typeof snapshot.config.standby_cluster === 'object' && snapshot.config.standby_cluster !== null;
  const clusterLsn = leaderOptime(snapshot);
  const members = snapshot.members.map(({ name, data }) => memberJson(name, data, snapshot, standbyCluster, clusterLsn));
  members.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const out: ReturnType<typeof clusterJson> = { scope, members };
  if (snapshot.config.pause === true) out.pause = true;
  const f = snapshot.failover;
  if (f?.scheduled_at) {
    out.scheduled_switchover = { at: f.scheduled_at, ...(f.leader ? { from: f.leader } : {}), ...(f.member ? { to: f.member } : {}) };
  }
  return out;
}

function memberJson(name: string, data: MemberData, snapshot: DcsSnapshot, standbyCluster: boolean, clusterLsn: number): ClusterMemberJson {
  const isLeader = name === snapshot.leader;
  const role: ClusterMemberJson['role'] = isLeader ? (standbyCluster ? 'standby_leader' : 'leader') : syncNames(snapshot, name) ? 'sync_standby' : quorumNames(snapshot, name) ? 'quorum_standby' : 'replica';
  const state = (role !== 'leader' && typeof data.replication_state === 'string' && data.replication_state) || (typeof data.state === 'string' ? data.state : '');
  const m: ClusterMemberJson = { name, role, state, api_url: typeof data.api_url === 'string' ? data.api_url : undefined, ...hostPortOf(data.conn_url) };
  for (const k of ['timeline', 'pending_restart', 'pending_restart_reason', 'scheduled_restart', 'tags'] as const) {
    if (data[k] !== undefined) (m as Record<string, unknown>)[k] = data[k];
  }
  if (!isLeader) {
    const positions: Array<[string, unknown]> = [
      ['receive_', data.receive_lsn],
      ['replay_', data.replay_lsn],
      ['', data.xlog_location],
    ];
    for (const [prefix, raw] of positions) {
      const lsn = typeof raw === 'number' && raw > 0 ? raw : 0;
      if (!lsn) {
        m[`${prefix}lsn`] = 'unknown';
        m[`${prefix}lag`] = 'unknown';
      } else {
        m[`${prefix}lsn`] = formatLsn(lsn);
        m[`${prefix}lag`] = clusterLsn >= lsn ? clusterLsn - lsn : 0;
      }
    }
  }
  return m;
}

/** Inputs of the `/metrics` document. */
export interface MetricsInput extends HealthInput {
  scope: string;
}

/** `GET /metrics`: Prometheus text with Patroni's metric names, labelled `{scope, name}`. */
export function metricsText(input: MetricsInput): string {
  const { status } = input;
  const labels = `{scope="${escapeLabel(input.scope)}",name="${escapeLabel(input.name)}"}`;
  const xlog = (status.xlog ?? {}) as Record<string, unknown>;
  const epoch = (t: unknown) => {
    if (typeof t !== 'string') return 0;
    const ms = Date.parse(t.replace(' ', 'T'));
    return Number.isFinite(ms) ? ms / 1000 : 0;
  };
  const isPrimary = status.role === 'primary' || status.role === 'master';
  const isSync = status.role === 'replica' && (status.sync_standby === true || syncNames(input.snapshot, input.name));
  const tags = status.tags ?? {};
  const priority = tagFailoverPriority(tags);
  const version = status.patroni.version.split('.').map((p) => p.padStart(2, '0')).join('');
  const rows: Array<[string, string, 'gauge' | 'counter', number | string]> = [
    ['patroni_version', 'Patroni semver without periods.', 'gauge', version],
    ['patroni_postgres_running', 'Value is 1 if Postgres is running, 0 otherwise.', 'gauge', +isRunning(status.state)],
    ['patroni_postmaster_start_time', 'Epoch seconds since Postgres started.', 'gauge', epoch(status.postmaster_start_time)],
    ['patroni_primary', 'Value is 1 if this node is the leader, 0 otherwise.', 'gauge', +isPrimary],
    ['patroni_master', 'Value is 1 if this node is the leader, 0 otherwise (pre-4.0 name).', 'gauge', +isPrimary],
    ['patroni_xlog_location', 'Current location of the Postgres transaction log, 0 if this node is not the leader.', 'counter', num(xlog.location)],
    ['patroni_standby_leader', 'Value is 1 if this node is the standby_leader, 0 otherwise.', 'gauge', +(status.role === 'standby_leader')],
    ['patroni_replica', 'Value is 1 if this node is a replica, 0 otherwise.', 'gauge', +(status.role === 'replica')],
    ['patroni_sync_standby', 'Value is 1 if this node is a sync standby, 0 otherwise.', 'gauge', +isSync],
    ['patroni_quorum_standby', 'Value is 1 if this node is a quorum standby, 0 otherwise.', 'gauge', +(status.role === 'replica' && (status.quorum_standby === true || quorumNames(input.snapshot, input.name)))],
    ['patroni_xlog_received_location', 'Current location of the received Postgres transaction log, 0 if this node is not a replica.', 'counter', num(xlog.received_location)],
    ['patroni_xlog_replayed_location', 'Current location of the replayed Postgres transaction log, 0 if this node is not a replica.', 'counter', num(xlog.replayed_location)],
    ['patroni_xlog_replayed_timestamp', 'Current timestamp of the replayed Postgres transaction log, 0 if null.', 'gauge', epoch(xlog.replayed_timestamp)],
    ['patroni_xlog_paused', 'Value is 1 if the Postgres xlog is paused, 0 otherwise.', 'gauge', +(xlog.paused === true)],
    ['patroni_postgres_streaming', 'Value is 1 if Postgres is streaming, 0 otherwise.', 'gauge', +(status.replication_state === 'streaming')],
    ['patroni_postgres_in_archive_recovery', 'Value is 1 if Postgres is replicating from archive, 0 otherwise.', 'gauge', +(status.replication_state === 'in archive recovery')],
    ['patroni_postgres_server_version', 'Version of Postgres (if running), 0 otherwise.', 'gauge', status.server_version ?? 0],
    ['patroni_cluster_unlocked', 'Value is 1 if the cluster is unlocked, 0 if locked.', 'gauge', input.snapshot ? +(input.snapshot.leader === undefined) : 0],
    ['patroni_failsafe_mode_is_active', 'Value is 1 if failsafe mode is active, 0 if inactive.', 'gauge', +(status.failsafe_mode_is_active === true)],
    // Patroni typed it a counter until 4.1.3 and a gauge from 4.1.4: follow the version we report
    ['patroni_postgres_timeline', 'Postgres timeline of this node (if running), 0 otherwise.', versionAtLeast(status.patroni.version, [4, 1, 4]) ? 'gauge' : 'counter', status.timeline ?? 0],
    ['patroni_dcs_last_seen', 'Epoch timestamp when DCS was last contacted successfully by Patroni.', 'gauge', status.dcs_last_seen ?? 0],
    ['patroni_pending_restart', 'Value is 1 if the node needs a restart, 0 otherwise.', 'gauge', +(status.pending_restart === true)],
    ['patroni_is_paused', 'Value is 1 if auto failover is disabled, 0 otherwise.', 'gauge', +(input.snapshot?.config.pause === true)],
    ['patroni_failover_priority', 'Failover priority of this node.', 'gauge', priority],
  ];
  const lines: string[] = [];
  for (const [name, help, type, value] of rows) {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, `${name}${labels} ${value}`);
  }
  return lines.join('\n') + '\n';
}

/** Whether a Patroni version string (`4.0.0`) is at least `min`. */
export function versionAtLeast(version: string, min: readonly number[]): boolean {
  const v = version.split('.').map((x) => parseInt(x, 10) || 0);
  for (let i = 0; i < min.length; i++) {
    const a = v[i] ?? 0;
    if (a !== min[i]) return a > min[i]!;
  }
  return true;
}

function num(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : 0;
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}
