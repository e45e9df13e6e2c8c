/**
 * Synchronous mode, Patroni's way (docs/replication_modes.rst): the leader
 * names one synchronous standby in PostgreSQL's `synchronous_standby_names`
 * and in the `sync` key, in an order that never lets the key claim more than
 * PostgreSQL guarantees:
 * - adding a standby: PostgreSQL first, then `sync`;
 * - removing one: `sync` first, then PostgreSQL.
 * Non-strict: with no healthy standby, `synchronous_standby_names` is emptied
 * (writes continue, asynchronously) and `sync_standby` is null.
 * Only the `sync` leader or its standby may win a failover, and the winner
 * writes `sync` before promoting.
 */
import type pg from 'pg';
import type { DcsSnapshot } from './agent-view';

/** One decision about the synchronous standby. */
export interface SyncPlan {
  /** The standby to name, or null for none. */
  standby: string | null;
  /** Current `sync_standby` as the key has it for this leader (null when none or another leader's). */
  current: string | null;
}

/**
 * Chooses the synchronous standby: keep the current one while it streams,
 * else the first streaming member by name that is not tagged `nosync`.
 */
export function chooseSyncStandby(me: string, snap: DcsSnapshot, streaming: readonly string[]): SyncPlan {
  const current = snap.sync?.leader === me ? (snap.sync.sync_standby ?? null) : null;
  const eligible = new Set(snap.members.filter((m) => m.name !== me && m.data.tags?.nosync !== true).map((m) => m.name));
  if (current && eligible.has(current) && streaming.includes(current)) return { standby: current, current };
  const pick = [...streaming].filter((n) => eligible.has(n)).sort()[0] ?? null;
  return { standby: pick, current };
}

/**
 * In synchronous mode, who may be promoted: the `sync` leader and its standby (Patroni's
 * `sync.matches`). Undefined while nothing is recorded: no guarantee to keep yet.
 */
export function syncCandidates(snap: DcsSnapshot): ReadonlySet<string> | undefined {
  const s = snap.sync;
  if (!s?.leader) return undefined;
  return new Set(s.sync_standby ? [s.leader, s.sync_standby] : [s.leader]);
}

/** In synchronous mode, may `me` race for the leader key? Only a sync candidate. */
export function maySyncFailover(me: string, snap: DcsSnapshot): boolean {
  return syncCandidates(snap)?.has(me) ?? true;
}

/** `synchronous_standby_names` for one standby (quoted like an identifier), or '' for none. */
export function standbyNamesFor(standby: string | null): string {
  return standby ? `"${standby.replace(/"/g, '""')}"` : '';
}

/** Sets `synchronous_standby_names` through ALTER SYSTEM and reloads, when it differs. Returns true when changed. */
export async function applyStandbyNames(pool: pg.Pool, value: string): Promise<boolean> {
  const { rows } = await pool.query<{ v: string }>(`SELECT current_setting('synchronous_standby_names') AS v`);
  if (rows[0]?.v === value) return false;
  await pool.query(`ALTER SYSTEM SET synchronous_standby_names = ${literal(value)}`);
  await pool.query('SELECT pg_reload_conf()');
  // pg_reload_conf() only signals; wait (bounded) until this backend's view shows the value.
  for (let i = 0; i < 50; i++) {
    const r = await pool.query<{ v: string }>(`SELECT current_setting('synchronous_standby_names') AS v`);
    if (r.rows[0]?.v === value) break;
    await new Promise((res) => setTimeout(res, 20));
  }
  return true;
}

/**
 * Application names of the standbys streaming from this primary now. With `maxLagBytes` > 0
 * (Patroni's `maximum_lag_on_syncnode`), a standby further behind than that is left out, so a
 * stuck synchronous standby is swapped for a healthy one; the lag is measured at the position
 * `synchronous_commit` waits for (replay for remote_apply, else flush), as Patroni does.
 */
export async function streamingStandbys(pool: pg.Pool, maxLagBytes = -1): Promise<string[]> {
  const { rows } = await pool.query<{ a: string; lag: string | null }>(
    `SELECT application_name AS a,
            pg_wal_lsn_diff(pg_current_wal_lsn(),
              CASE current_setting('synchronous_commit') WHEN 'remote_apply' THEN replay_lsn ELSE flush_lsn END)::bigint::text AS lag
       FROM pg_stat_replication WHERE state = 'streaming'`,
  );
  return rows.filter((r) => maxLagBytes <= 0 || r.lag === null || Number(r.lag) <= maxLagBytes).map((r) => r.a);
}

function literal(v: string): string {
  return `'${v.replace(/'/g, "''")}'`;
}
