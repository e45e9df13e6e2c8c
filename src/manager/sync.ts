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

/** The names in a `sync_standby` value (Patroni writes several comma-separated). */
export function syncStandbyList(value: string | null | undefined): string[] {
  return value ? value.split(',').map((x) => x.trim()).filter(Boolean) : [];
}

/**
 * Chooses the synchronous standbys (`synchronous_node_count`, default 1): keep the current ones
 * while they stream, then add streaming members by name that are not tagged `nosync`. The plan's
 * `standby` is the sorted comma-joined list, as Patroni writes it in `sync`, or null for none.
 */
export function chooseSyncStandby(me: string, snap: DcsSnapshot, streaming: readonly string[], count = 1): SyncPlan {
  const current = snap.sync?.leader === me ? (snap.sync.sync_standby ?? null) : null;
  const eligible = new Set(snap.members.filter((m) => m.name !== me && m.data.tags?.nosync !== true).map((m) => m.name));
  const ok = (n: string) => eligible.has(n) && streaming.includes(n);
  const keep = syncStandbyList(current).filter(ok);
  const rest = [...streaming].filter((n) => ok(n) && !keep.includes(n)).sort();
  const pick = [...keep, ...rest].slice(0, Math.max(1, count)).sort();
  return { standby: pick.length ? pick.join(',') : null, current };
}

/**
 * In synchronous mode, who may be promoted: the `sync` leader and its standby (Patroni's
 * `sync.matches`). Undefined while nothing is recorded: no guarantee to keep yet.
 */
export function syncCandidates(snap: DcsSnapshot): ReadonlySet<string> | undefined {
  const s = snap.sync;
  if (!s?.leader) return undefined;
  return new Set([s.leader, ...syncStandbyList(s.sync_standby)]);
}

/** In synchronous mode, may `me` race for the leader key? Only a sync candidate. */
export function maySyncFailover(me: string, snap: DcsSnapshot): boolean {
  return syncCandidates(snap)?.has(me) ?? true;
}

/**
 * `synchronous_standby_names` for the plan's standbys (identifiers quoted): one name as itself,
 * several as `N ("a","b")` (all of them synchronous, Patroni's synchronous_node_count), '' for none.
 */
export function standbyNamesFor(standby: string | null): string {
  const names = syncStandbyList(standby).map((n) => `"${n.replace(/"/g, '""')}"`);
  if (names.length <= 1) return names[0] ?? '';
  return `${names.length} (${names.join(',')})`;
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
