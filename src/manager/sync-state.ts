/**
 * What synchronous replication looks like on the primary right now (Patroni 4's
 * `SyncHandler.current_state`): which members stream and may be synchronous
 * (`active`, best first), which of the names in `synchronous_standby_names` are
 * known to have caught up since they were listed (`confirmed`), and the GUC as
 * parsed. A standby counts as confirmed only once it has reached the primary's
 * flush position of the moment the GUC last changed and PostgreSQL reports it
 * `sync` (priority mode; or the `sync` key already lists it) or `quorum` (quorum
 * commit): before that, naming it in the `sync` key would claim commits it may
 * not have.
 *
 * {@link syncStateOf} is pure; {@link SyncTracker} keeps the little memory this
 * needs between cycles (the GUC last seen, the flush position then, the standbys
 * confirmed since) and does the reads and the GUC writes.
 */
import type pg from 'pg';
import type { DcsSnapshot, MemberData } from './agent-view';
import { formatStandbyNames, parseStandbyNames, type StandbyNames } from './standby-names';
import { syncStandbyList } from './sync';

/** One `pg_stat_replication` row that streams (positions in bytes). */
export interface ReplicationRow {
  pid: number;
  application_name: string;
  sync_state: string;
  write_lsn: number | null;
  flush_lsn: number | null;
  replay_lsn: number | null;
}

/** Settings that shape the state. */
export interface SyncSettings {
  /** `synchronous_mode: quorum`. */
  quorumCommit: boolean;
  /** `synchronous_node_count` (already capped as Patroni caps it). */
  syncNodeCount: number;
  /** `maximum_lag_on_syncnode` in bytes; ≤ 0: no bound. */
  maxLagOnSyncnode: number;
  /** `synchronous_commit` of the primary (which position a commit waits for). */
  synchronousCommit: string;
}

/** The state the sync processes decide on. */
export interface SyncState {
  kind: StandbyNames['kind'];
  /** GUC: how many listed standbys must confirm. */
  numsync: number;
  /** GUC: the names listed (empty for `*`). */
  sync: string[];
  /** Listed names known to have caught up since they were listed. */
  confirmed: string[];
  /** Streaming members eligible to be synchronous, best first. */
  active: string[];
}

/** A member's `nosync`/`sync_priority` as Patroni derives them from its published tags. */
export function syncTagsOf(data: MemberData): { nosync: boolean; syncPriority: number; nofailover: boolean } {
  const tags = (data.tags ?? {}) as Record<string, unknown>;
  const priority = parseIntLike(tags.sync_priority);
  const nosyncTag = tags.nosync;
  const nosync = nosyncTag !== undefined && nosyncTag !== null ? Boolean(nosyncTag) : priority !== undefined && priority <= 0;
  const syncPriority = nosyncTag ? 0 : (priority ?? 1);
  const fp = parseIntLike(tags.failover_priority);
  const nofailover = tags.nofailover !== undefined && tags.nofailover !== null ? Boolean(tags.nofailover) : fp !== undefined && fp <= 0;
  return { nosync, syncPriority, nofailover };
}

function parseIntLike(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isFinite(v)) return Math.trunc(v);
  if (typeof v === 'string' && /^\s*[+-]?\d+\s*$/.test(v)) return Number(v);
  return undefined;
}

/** Which position a commit waits for under `synchronous_commit`. */
export function lsnColumn(synchronousCommit: string): 'write_lsn' | 'flush_lsn' | 'replay_lsn' {
  return synchronousCommit === 'remote_apply' ? 'replay_lsn' : synchronousCommit === 'remote_write' ? 'write_lsn' : 'flush_lsn';
}

/** One eligible replica, as the choice sorts them. */
export interface Candidate {
  name: string;
  syncState: string;
  lsn: number;
  nofailover: boolean;
  syncPriority: number;
}

/**
 * The replicas that may be synchronous, best first: streaming to us, a running member, not
 * `nosync`, not meant to cascade from another standby that streams from us (`replicatefrom`);
 * ordered by `sync_priority`, then PostgreSQL's `sync_state` (sync before potential/async),
 * then the position a commit waits for (highest first).
 */
export function eligibleReplicas(me: string, snap: DcsSnapshot, rows: readonly ReplicationRow[], synchronousCommit: string): Candidate[] {
  const col = lsnColumn(synchronousCommit);
  const members = new Map(snap.members.filter((m) => m.data.state === 'running' && !syncTagsOf(m.data).nosync && m.name !== me).map((m) => [m.name, m.data]));
  // A walsender whose standby has not sent its first reply yet shows no flush position (until the standby's
  // wal_receiver_status_interval, 10 s, on an idle primary): it streams, so it may be listed; it is only
  // confirmed (and named in the key) once it reports the position (syncStateOf), which listing provokes.
  const listed = new Map(rows.filter((r) => members.has(r.application_name)).map((r) => [r.application_name, r]));
  // (for cascading, only a standby that reported a position counts as streaming, as in Patroni)
  const streaming = new Map([...listed].filter(([, r]) => r[col] !== null));
  const cascades = (name: string, seen = new Set<string>()): boolean => {
    const from = members.get(name)?.tags?.replicatefrom;
    if (typeof from !== 'string' || !members.has(from) || seen.has(from)) return false;
    seen.add(name);
    const up = members.get(from)!.tags?.replicatefrom;
    if (typeof up !== 'string' || !up) return streaming.has(from);
    return cascades(from, seen);
  };
  const out: Candidate[] = [];
  for (const r of listed.values()) {
    if (cascades(r.application_name)) continue;
    const t = syncTagsOf(members.get(r.application_name)!);
    out.push({ name: r.application_name, syncState: r.sync_state, lsn: r[col] ?? 0, nofailover: t.nofailover, syncPriority: t.syncPriority });
  }
  // Python's sort of (priority, sync_state, lsn) reversed: string order of sync_state ('sync' > 'quorum' > 'potential' > 'async')
  out.sort((a, b) => b.syncPriority - a.syncPriority || (a.syncState < b.syncState ? 1 : a.syncState > b.syncState ? -1 : 0) || b.lsn - a.lsn);
  return out;
}

/** Inputs of {@link syncStateOf} beyond the replicas. */
export interface SyncStateInput {
  replicas: readonly Candidate[];
  /** The GUC as parsed. */
  guc: StandbyNames;
  /** Names confirmed so far (mutated: newly confirmed ones are added). */
  ready: Set<string>;
  /** The primary's flush position when the GUC last changed. */
  flushAtChange: number;
  /** The primary's position now (the lag bound's reference when one replica streams). */
  primaryLsn: number;
  /** `sync_standby` of the `sync` key when it is ours (priority mode counts those as confirmed). */
  syncKeyStandbys: readonly string[];
  settings: SyncSettings;
}

/** The synchronous state (see the module header); marks newly caught-up standbys in `ready`. */
export function syncStateOf(input: SyncStateInput): SyncState {
  const { replicas, guc, ready, settings } = input;
  const listed = new Set(guc.members);
  for (const r of replicas) {
    if (ready.has(r.name) || !listed.has(r.name)) continue;
    const caughtUp = r.lsn >= input.flushAtChange;
    if (settings.quorumCommit ? caughtUp && r.syncState === 'quorum' : input.syncKeyStandbys.includes(r.name) || (r.syncState === 'sync' && caughtUp)) ready.add(r.name);
  }
  const maxLsn = replicas.length > 1 ? Math.max(...replicas.map((r) => r.lsn)) : input.primaryLsn;
  const active: string[] = [];
  const confirmed: string[] = [];
  // members without nofailover first (a stable sort keeps the rest of the order)
  const ordered = [...replicas].sort((a, b) => Number(a.nofailover) - Number(b.nofailover));
  for (const r of ordered) {
    if (settings.maxLagOnSyncnode > 0 && maxLsn - r.lsn > settings.maxLagOnSyncnode) continue;
    if (settings.quorumCommit) {
      // a nofailover voter would lower availability: only when the wanted count needs it
      if (r.nofailover && active.length >= settings.syncNodeCount) continue;
      if (ready.has(r.name)) confirmed.push(r.name);
      active.push(r.name);
    } else {
      active.push(r.name);
      if (r.syncState === 'sync' && ready.has(r.name)) confirmed.push(r.name);
      if (active.length >= settings.syncNodeCount) break;
    }
  }
  return { kind: guc.kind, numsync: guc.num, sync: guc.hasStar ? [] : guc.members, confirmed, active };
}

/**
 * The primary's memory between cycles (one per node): the GUC as last seen, the flush position
 * at that change, the standbys confirmed since.
 */
export class SyncTracker {
  #gucText: string | undefined;
  #guc: StandbyNames = { kind: 'off', hasStar: false, num: 0, members: [] };
  #flushAtChange = 0;
  readonly #ready = new Set<string>();

  /** Reads the state from the primary (`pool`) for the leader `me`. */
  async read(pool: pg.Pool, me: string, snap: DcsSnapshot, settings: Omit<SyncSettings, 'synchronousCommit'>, log: (line: string) => void): Promise<SyncState> {
    const { rows } = await pool.query<{ ssn: string; sc: string; lsn: string; reps: ReplicationRow[] | null }>(
      `SELECT current_setting('synchronous_standby_names') AS ssn, current_setting('synchronous_commit') AS sc,
              pg_wal_lsn_diff(pg_current_wal_flush_lsn(), '0/0')::bigint::text AS lsn,
              (SELECT json_agg(r.*) FROM (SELECT w.pid, a.application_name, w.sync_state,
                  pg_wal_lsn_diff(w.write_lsn, '0/0')::bigint AS write_lsn,
                  pg_wal_lsn_diff(w.flush_lsn, '0/0')::bigint AS flush_lsn,
                  pg_wal_lsn_diff(w.replay_lsn, '0/0')::bigint AS replay_lsn
                FROM pg_stat_get_wal_senders() w, pg_stat_get_activity(w.pid) a WHERE w.state = 'streaming') r) AS reps`,
    );
    const row = rows[0]!;
    const lsn = Number(row.lsn);
    if (row.ssn !== this.#gucText) {
      this.#gucText = row.ssn;
      try {
        this.#guc = parseStandbyNames(row.ssn);
      } catch (e) {
        log(`warning: ${(e as Error).message}`);
        this.#guc = { kind: 'off', hasStar: false, num: 0, members: [] };
      }
      for (const n of [...this.#ready]) if (!this.#guc.members.includes(n)) this.#ready.delete(n);
      // newly listed standbys count once they reach this position; a little WAL moves replication along
      this.#flushAtChange = lsn;
      await pool.query(`DO $$ BEGIN SET LOCAL synchronous_commit = 'off'; PERFORM txid_current(); END $$`);
    }
    const full: SyncSettings = { ...settings, synchronousCommit: row.sc };
    const replicas = eligibleReplicas(me, snap, (row.reps ?? []).map(numericRow), row.sc);
    const syncKeyStandbys = snap.sync?.leader === me ? syncStandbyList(snap.sync.sync_standby) : [];
    return syncStateOf({ replicas, guc: this.#guc, ready: this.#ready, flushAtChange: this.#flushAtChange, primaryLsn: lsn, syncKeyStandbys, settings: full });
  }

  /** Sets the GUC through ALTER SYSTEM + reload (when it differs) and waits (bounded) until it is in effect. */
  async write(pool: pg.Pool, names: Iterable<string>, num: number | undefined, quorum: boolean): Promise<string | undefined> {
    const value = formatStandbyNames(names, num, quorum);
    if (!(await setStandbyNames(pool, value))) return undefined;
    return value;
  }
}

function numericRow(r: ReplicationRow): ReplicationRow {
  const n = (v: unknown) => (v === null || v === undefined ? null : Number(v));
  return { pid: Number(r.pid), application_name: String(r.application_name), sync_state: String(r.sync_state), write_lsn: n(r.write_lsn), flush_lsn: n(r.flush_lsn), replay_lsn: n(r.replay_lsn) };
}

/** Sets `synchronous_standby_names` through ALTER SYSTEM and reloads, when it differs. Returns true when changed. */
export async function setStandbyNames(pool: pg.Pool, value: string): Promise<boolean> {
  const current = async () => (await pool.query<{ v: string }>(`SELECT current_setting('synchronous_standby_names') AS v`)).rows[0]?.v;
  if ((await current()) === value) return false;
  await pool.query(`ALTER SYSTEM SET synchronous_standby_names = '${value.replace(/'/g, "''")}'`);
  await pool.query('SELECT pg_reload_conf()');
  // pg_reload_conf() only signals; wait (bounded) until a backend's view shows the value
  for (let i = 0; i < 50 && (await current()) !== value; i++) await new Promise((res) => setTimeout(res, 20));
  return true;
}
