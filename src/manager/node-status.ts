/**
 * The live PostgreSQL facts behind `GET /patroni` (and every health-check
 * GET's body): one round trip that reads recovery state, WAL positions as
 * integers, timeline, start time, version, system identifier and the WAL
 * senders, shaped with Patroni's field names (see Patroni's
 * `get_postgresql_status`). The HA agent calls it each cycle; api.ts only
 * serves what the agent returns.
 */
import type { NodeStatus } from './agent-view';
import { DEFAULT_PRIMARY_ROLE, REPLICA_ROLE, STANDBY_LEADER_ROLE, type PrimaryRoleWord } from '../patroni-contract';

/** A pg.Client / pg.Pool (anything with `query(text, values) → {rows}`) or a plain `(sql, values) → rows` function. */
export type StatusQueryable =
  | { query(text: string, values?: unknown[]): Promise<{ rows: Array<Record<string, unknown>> }> }
  | ((text: string, values?: unknown[]) => Promise<Array<Record<string, unknown>>>);

/** What the agent knows that PostgreSQL does not. */
export interface NodeStatusMeta {
  /** Member name. */
  name: string;
  /** Cluster name (Patroni's `scope`). */
  scope: string;
  /** Version string reported as `patroni.version`. Default {@link MANAGER_VERSION}. */
  version?: string;
  /** The manager's idea of PostgreSQL's state (`running`, `starting`, …). Default `running`. */
  state?: string;
  /** Word used for a primary: `primary` (Patroni ≥ 4, default) or `master` (Patroni < 4). */
  primaryRole?: PrimaryRoleWord;
  /** This node leads a standby cluster: a replica then reports `standby_leader`. */
  standbyLeader?: boolean;
  /** This node is the synchronous standby named in the `sync` key (synchronous mode). */
  syncStandby?: boolean;
  /** This node is a voter (quorum standby) in the `sync` key (quorum commit). */
  quorumStandby?: boolean;
  /** Member tags, reported as they are. */
  tags?: Record<string, unknown>;
  /** Unix seconds of the last successful DCS contact. */
  dcsLastSeen?: number;
}

/** The version we report in `patroni.version` (Patroni's numbering: clients compare it). */
export const MANAGER_VERSION = '4.0.0';

/** A row of pg_stat_replication, Patroni's fields. */
type ReplicationRow = NonNullable<NodeStatus['replication']>[number];

// One statement: every function below exists in PostgreSQL ≥ 10; pg_is_wal_replay_paused()
// raises on a primary, so CASE keeps it to standbys (volatile functions are evaluated lazily).
const UTC_TEXT = (expr: string) => `to_char((${expr}) AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00:00'`;
const STATUS_SQL = `
SELECT
  pg_is_in_recovery() AS in_recovery,
  CASE WHEN pg_is_in_recovery() THEN NULL
       ELSE pg_wal_lsn_diff(pg_current_wal_flush_lsn(), '0/0')::bigint::text END AS location,
  pg_wal_lsn_diff(pg_last_wal_receive_lsn(), '0/0')::bigint::text AS received,
  pg_wal_lsn_diff(pg_last_wal_replay_lsn(), '0/0')::bigint::text AS replayed,
  ${UTC_TEXT('pg_last_xact_replay_timestamp()')} AS replayed_timestamp,
  CASE WHEN pg_is_in_recovery() THEN pg_is_wal_replay_paused() ELSE false END AS paused,
  CASE WHEN pg_is_in_recovery() THEN NULL
       ELSE ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int END AS primary_timeline,
  (SELECT timeline_id FROM pg_control_checkpoint()) AS checkpoint_timeline,
  ${UTC_TEXT('pg_postmaster_start_time()')} AS postmaster_start_time,
  current_setting('server_version_num')::int AS server_version,
  (SELECT system_identifier::text FROM pg_control_system()) AS system_identifier,
  current_setting('restore_command') AS restore_command,
  (SELECT bool_or(pending_restart) FROM pg_settings) AS pending_restart,
  wr.status AS receiver_status,
  wr.received_tli AS receiver_timeline,
  pg_wal_lsn_diff(wr.written_lsn, '0/0')::bigint::text AS receiver_written,
  (SELECT coalesce(json_agg(json_build_object(
      'usename', r.usename, 'application_name', r.application_name, 'client_addr', host(r.client_addr),
      'state', r.state, 'sync_state', r.sync_state, 'sync_priority', r.sync_priority)
      ORDER BY r.application_name), '[]'::json)
     FROM pg_stat_replication r) AS replication
FROM (SELECT 1) AS one
LEFT JOIN pg_stat_wal_receiver AS wr ON true`;

/**
 * Reads this node's status from PostgreSQL in one statement. Needs a
 * superuser (or pg_monitor + pg_read_all_settings) connection; errors from the
 * connection or the server are thrown unchanged (the caller decides whether
 * PostgreSQL is down, and can then answer {@link offlineNodeStatus}).
 *
 * @example
 * const status = await readNodeStatus(client, { name: 'n0', scope: 'demo' });
 * status.role; // 'primary' | 'replica'
 */
export async function readNodeStatus(client: StatusQueryable, meta: NodeStatusMeta): Promise<NodeStatus> {
  const rows = typeof client === 'function' ? await client(STATUS_SQL) : (await client.query(STATUS_SQL)).rows;
  const row = rows[0];
  if (!row) throw new Error('status query returned no row');
  const inRecovery = row.in_recovery === true;
  const status: NodeStatus = {
    state: meta.state ?? 'running',
    postmaster_start_time: str(row.postmaster_start_time),
    role: inRecovery ? (meta.standbyLeader ? STANDBY_LEADER_ROLE : REPLICA_ROLE) : (meta.primaryRole ?? DEFAULT_PRIMARY_ROLE),
    server_version: num(row.server_version),
    patroni: { version: meta.version ?? MANAGER_VERSION, scope: meta.scope, name: meta.name },
  };
  // Patroni reports the key only when true: a setting changed that takes effect at the next restart
  if (row.pending_restart === true) status.pending_restart = true;
  if (inRecovery) {
    const replayed = num(row.replayed);
    status.xlog = {
      received_location: num(row.receiver_written) ?? num(row.received) ?? replayed,
      replayed_location: replayed,
      replayed_timestamp: str(row.replayed_timestamp) ?? null,
      paused: row.paused === true,
    };
    status.timeline = num(row.receiver_timeline) ?? num(row.checkpoint_timeline);
    if (row.receiver_status === 'streaming') status.replication_state = 'streaming';
    else if (typeof row.restore_command === 'string' && row.restore_command !== '') status.replication_state = 'in archive recovery';
    if (meta.syncStandby) status.sync_standby = true;
    if (meta.quorumStandby) status.quorum_standby = true;
  } else {
    status.xlog = { location: num(row.location) ?? 0 };
    status.timeline = num(row.primary_timeline) ?? num(row.checkpoint_timeline);
  }
  const replication = parseReplication(row.replication);
  if (replication.length) status.replication = replication;
  if (meta.dcsLastSeen !== undefined) status.dcs_last_seen = meta.dcsLastSeen;
  if (meta.tags && Object.keys(meta.tags).length) status.tags = meta.tags;
  if (typeof row.system_identifier === 'string') status.database_system_identifier = row.system_identifier;
  return status;
}

/**
 * The status Patroni reports when PostgreSQL cannot be queried: the manager's
 * own state word (`stopped`, `starting`, `crashed` …, or `unknown` when it thought
 * PostgreSQL was running) and the last known role.
 */
export function offlineNodeStatus(meta: NodeStatusMeta & { role?: NodeStatus['role'] }): NodeStatus {
  const state = meta.state === undefined || meta.state === 'running' ? 'unknown' : meta.state;
  const status: NodeStatus = {
    state,
    role: meta.role ?? 'uninitialized',
    patroni: { version: meta.version ?? MANAGER_VERSION, scope: meta.scope, name: meta.name },
  };
  if (meta.dcsLastSeen !== undefined) status.dcs_last_seen = meta.dcsLastSeen;
  if (meta.tags && Object.keys(meta.tags).length) status.tags = meta.tags;
  return status;
}

function num(v: unknown): number | undefined {
  if (v === null || v === undefined || v === '') return undefined;
  const n = typeof v === 'number' ? v : Number(v);
  return Number.isFinite(n) ? n : undefined;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

function parseReplication(v: unknown): ReplicationRow[] {
  const list = typeof v === 'string' ? (JSON.parse(v) as unknown) : v;
  if (!Array.isArray(list)) return [];
  return list.map((r: Record<string, unknown>) => ({
    usename: String(r.usename ?? ''),
    application_name: String(r.application_name ?? ''),
    client_addr: typeof r.client_addr === 'string' ? r.client_addr : null,
    state: String(r.state ?? ''),
    sync_state: String(r.sync_state ?? ''),
    sync_priority: Number(r.sync_priority ?? 0),
  }));
}
