/**
 * Makes a node's replication slots what the plan (slot-plan.ts) says, with SQL, the way
 * Patroni 4's `SlotsHandler.sync_replication_slots` does on PostgreSQL 11–16, once per HA cycle:
 *
 * 1. drop the slots nobody wants (unless `ignore_slots` covers them, the cluster is paused, or
 *    the slot is active), those whose type/database/plugin no longer match the configuration,
 *    and those whose WAL is lost (`wal_status = lost`);
 * 2. physical slots: create the missing ones (reserving WAL at once); on a node that has a
 *    leader, drop and re-create a slot that should be idle here but carries an `xmin` (left by
 *    hot_standby_feedback while its member streamed from this node, it would hold back vacuum
 *    forever); advance idle slots to the position the leader published in `status.slots`;
 * 3. logical slots: the leader creates them (in their database); a replica advances its copies
 *    to the leader's `confirmed_flush_lsn` (never past its own replay position), in the
 *    background as Patroni's SlotsAdvanceThread does, and copies a missing one from the leader:
 *    reads `pg_replslot/<name>/state` there with pg_read_binary_file, stops PostgreSQL, writes the
 *    file, starts PostgreSQL again (a standby cannot create a logical slot before PostgreSQL 16).
 *
 * It also builds the leader's `status` value (`optime`, `slots`, `retain_slots`).
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync, chownSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import type { DcsSnapshot } from './agent-view';
import { parseConnUrl } from './candidate';
import type { NodeContext } from './node-context';
import { formatLsn } from '../lsn';
import { isIgnored, slotSettingsOf, type SlotSettings } from './slot-config';
import { planSlots, retainSlotsOf, RetainedSlots, sameSlot, statusSlotsFor, type LeaderSlotPosition, type SlotPlanSettings, type WantedSlot } from './slot-plan';

/** A slot as read from pg_replication_slots. */
interface LocalSlot {
  name: string;
  type: 'physical' | 'logical';
  plugin: string | null;
  database: string | null;
  xmin: string | null;
  active: boolean;
  restartLsn: number | null;
  confirmedFlushLsn: number | null;
  walStatus: string | null;
  /** PostgreSQL 17 logical failover slot. */
  failover: boolean;
}

/** The `status` key's value, as the leader writes it. */
export type StatusValue = {
  optime: number;
  slots: Record<string, number> | null;
  retain_slots: string[] | null;
};

/** What the keeper needs of the node (NodeContext provides it). */
export type SlotHost = Pick<NodeContext, 'name' | 'config' | 'postgres' | 'localPool' | 'log' | 'withHeartbeat' | 'state'>;

// PostgreSQL 17's logical failover slots (`failover`, `synced`: read through to_jsonb, so the query runs on every
// version) belong to PostgreSQL's own slot synchronisation: synced copies are not ours, failover slots are never dropped.
const READ_SLOTS = `SELECT slot_name, slot_type, plugin, database, xmin::text AS xmin, active, wal_status,
  pg_wal_lsn_diff(restart_lsn, '0/0')::bigint AS restart_lsn,
  pg_wal_lsn_diff(confirmed_flush_lsn, '0/0')::bigint AS confirmed_flush_lsn,
  pg_wal_lsn_diff(pg_last_wal_replay_lsn(), '0/0')::bigint AS replay_lsn,
  COALESCE((to_jsonb(s) ->> 'failover')::boolean, false) AS failover
  FROM pg_replication_slots s
  WHERE NOT temporary AND NOT (COALESCE((to_jsonb(s) ->> 'failover')::boolean, false) AND COALESCE((to_jsonb(s) ->> 'synced')::boolean, false))`;

/** A logical slot is copied from the leader at most once in this long (a copy that does not take must not restart PostgreSQL every cycle). */
const COPY_AGAIN_AFTER_MILLIS = 5 * 60_000;

const DROP_SLOT = `WITH s AS (SELECT slot_name, active FROM pg_replication_slots WHERE slot_name = $1),
  d AS (SELECT pg_drop_replication_slot(slot_name), true AS dropped FROM s WHERE NOT active)
  SELECT s.active, COALESCE(d.dropped, false) AS dropped FROM s FULL OUTER JOIN d ON true`;

function num(v: unknown): number | null {
  return v === null || v === undefined ? null : Number(v);
}

/** Keeps one node's replication slots (see the module header). */
export class SlotKeeper {
  readonly #host: SlotHost;
  readonly #retained = new RetainedSlots();
  /** The leader's slots after its last sync: the plan and the positions, for `status`. */
  #leaderView: { plan: Map<string, WantedSlot>; positions: LeaderSlotPosition[] } | undefined;
  /** Set while this node writes `status`; a node that starts writing seeds the retention from its predecessor's. */
  #leading = false;
  #lastStatus: StatusValue | undefined;
  /** Logical slot advances running in the background (one batch at a time). */
  #advancing: Promise<void> | undefined;
  /** Logical slots whose advance found their WAL gone: copied from the leader again. */
  readonly #recopy = new Set<string>();
  /** When each logical slot was last copied from the leader. */
  readonly #copiedAt = new Map<string, number>();
  /** Lines logged in the previous cycle and in this one: a condition that persists is logged once, again when it comes back. */
  #saidBefore = new Set<string>();
  #said = new Set<string>();

  constructor(host: SlotHost) {
    this.#host = host;
  }

  /** Logs `line` unless it was logged in this cycle or the previous one. */
  #once(line: string): void {
    if (this.#said.has(line)) return;
    this.#said.add(line);
    if (!this.#saidBefore.has(line)) this.#host.log(line);
  }

  /** The slot settings of the `config` key; what Patroni would skip is skipped here too, with one log line each. */
  settings(snap: DcsSnapshot, useSlots: boolean): SlotSettings & SlotPlanSettings {
    const s = slotSettingsOf(snap.config);
    for (const p of s.problems) this.#once(`replication slots: ${p.message}; ignored`);
    return { ...s, useSlots };
  }

  /**
   * One cycle's slot work on this node as `role` (see the module header). A replica may restart
   * PostgreSQL to copy logical slots from the leader.
   */
  async sync(snap: DcsSnapshot, role: 'primary' | 'replica', useSlots: boolean): Promise<void> {
    if (snap.revisions.config === '0') return; // Patroni: nothing before the cluster has a configuration
    this.#saidBefore = this.#said;
    this.#said = new Set();
    if (role === 'replica') this.#leading = false;
    const settings = this.settings(snap, useSlots);
    const t = this.#host.config.tags;
    const tags = { nofailover: t.nofailover, nostream: t.nostream, ...(t.replicatefrom !== undefined ? { replicatefrom: t.replicatefrom } : {}) };
    const { slots: wanted, warnings } = planSlots(this.#host.name, role, tags, snap, settings);
    for (const w of warnings) this.#once(`replication slots: ${w}`);
    const pool = this.#host.localPool();
    let { slots: have, replayLsn } = await this.#read();
    const paused = snap.config.pause === true;

    // 1. drop what nobody wants, what changed its kind, and what lost its WAL
    for (const s of have) {
      if (s.type === 'logical' && s.failover) continue;
      const w = wanted.get(s.name);
      const lost = s.walStatus === 'lost';
      if (w && !lost) {
        if (!sameSlot(w, s)) await this.#drop(s.name, `its configuration changed to ${JSON.stringify(w)}`);
        continue;
      }
      if (paused || isIgnored(settings.ignore, s)) continue;
      await this.#drop(s.name, lost ? 'its WAL is lost (wal_status = lost)' : 'no member or permanent slot needs it');
    }
    have = (await this.#read()).slots;
    const byName = new Map(have.map((s) => [s.name, s]));

    // 2. physical slots
    const cleanIdleWithXmin = snap.leader !== undefined && (snap.leader !== this.#host.name || role === 'primary');
    for (const [name, w] of wanted) {
      if (w.type !== 'physical') continue;
      let s = byName.get(name);
      if (s?.type === 'physical' && cleanIdleWithXmin && w.expectedActive === false && s.xmin !== null) {
        if (await this.#drop(name, `no member streams from it here but it holds xmin ${s.xmin} (hot_standby_feedback), which would hold back vacuum`)) s = undefined;
      }
      if (!s) {
        await pool
          .query(`SELECT pg_create_physical_replication_slot($1::name, true) WHERE NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_type = 'physical' AND slot_name = $1::name)`, [name])
          .catch((e) => this.#once(`replication slots: could not create physical slot ${name}: ${(e as Error).message}`));
        continue;
      }
      if (s.type !== 'physical' || w.expectedActive === true || s.xmin !== null) continue;
      if (s.restartLsn === null) {
        await this.#drop(name, 'it has no restart_lsn (created without reserving WAL, not by this manager); it is created again');
        continue;
      }
      if (w.lsn && w.lsn > s.restartLsn) {
        await pool.query('SELECT pg_replication_slot_advance($1, $2::pg_lsn)', [name, formatLsn(w.lsn)]).catch((e) => this.#once(`replication slots: could not advance ${name} to ${formatLsn(w.lsn!)}: ${(e as Error).message}`));
      }
    }

    // 3. logical slots
    if (role === 'primary') {
      await this.#createLogical(wanted, byName);
      const positions = (await this.#read()).slots.map((s) => ({ name: s.name, type: s.type, database: s.database, plugin: s.plugin, lsn: s.type === 'logical' ? s.confirmedFlushLsn : s.restartLsn }));
      this.#leaderView = { plan: wanted, positions };
      return;
    }
    this.#leaderView = undefined;
    const copy: string[] = [];
    const advance: Array<{ name: string; database: string; lsn: number }> = [];
    for (const [name, w] of wanted) {
      if (w.type !== 'logical') continue;
      const s = byName.get(name);
      if (s && sameSlot(w, s) && !this.#recopy.has(name)) {
        const target = Math.min(w.lsn ?? 0, replayLsn ?? 0);
        if (w.lsn && (s.confirmedFlushLsn ?? 0) < target) advance.push({ name, database: w.database, lsn: target });
      } else if ((!s || this.#recopy.has(name)) && w.lsn) copy.push(name); // only slots the leader reports a position for
    }
    if (advance.length && !this.#advancing) this.#advancing = this.#advance(advance).finally(() => (this.#advancing = undefined));
    const now = Date.now();
    const due = copy.filter((n) => now - (this.#copiedAt.get(n) ?? -Infinity) >= COPY_AGAIN_AFTER_MILLIS);
    for (const n of copy.filter((x) => !due.includes(x))) this.#once(`replication slots: logical slot ${n} was copied from the leader less than ${COPY_AGAIN_AFTER_MILLIS / 60_000} minutes ago and is still missing or behind; not copying again yet`);
    if (due.length && snap.leader) await this.#copyLogical(snap, due, wanted);
  }

  /** pg_replication_slots on this node. */
  async #read(): Promise<{ slots: LocalSlot[]; replayLsn: number | null }> {
    const { rows } = await this.#host.localPool().query(READ_SLOTS);
    return {
      replayLsn: num(rows[0]?.replay_lsn),
      slots: rows.map((r) => ({
        name: r.slot_name,
        type: r.slot_type,
        plugin: r.plugin,
        database: r.database,
        xmin: r.xmin,
        active: r.active,
        restartLsn: num(r.restart_lsn),
        confirmedFlushLsn: num(r.confirmed_flush_lsn),
        walStatus: r.wal_status,
        failover: r.failover === true,
      })),
    };
  }

  /** Drops `name` unless it is active; true when dropped. */
  async #drop(name: string, why: string): Promise<boolean> {
    try {
      const { rows } = await this.#host.localPool().query<{ active: boolean | null; dropped: boolean }>(DROP_SLOT, [name]);
      if (rows[0]?.dropped) {
        this.#host.log(`dropped replication slot ${name}: ${why}`);
        return true;
      }
      if (rows[0]?.active) this.#once(`replication slots: cannot drop ${name} (${why}): it is active`);
    } catch (e) {
      this.#once(`replication slots: could not drop ${name}: ${(e as Error).message}`);
    }
    return false;
  }

  /** Leader: creates the missing permanent logical slots, each in its database. */
  async #createLogical(wanted: Map<string, WantedSlot>, have: Map<string, LocalSlot>): Promise<void> {
    for (const [name, w] of wanted) {
      if (w.type !== 'logical' || have.has(name)) continue;
      try {
        await this.#host.postgres.query(
          `SELECT pg_create_logical_replication_slot($1::name, $2::name) WHERE NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_type = 'logical' AND slot_name = $1::name)`,
          [name, w.plugin],
          w.database,
        );
        this.#host.log(`created logical replication slot ${name} (database ${w.database}, plugin ${w.plugin})`);
      } catch (e) {
        const err = e as Error & { code?: string };
        const hint = err.code === '55000' && /wal_level/.test(err.message) ? ': logical slots need wal_level: logical (postgresql.parameters in the dynamic configuration) and a restart' : '';
        this.#once(`replication slots: permanent logical slot ${name} (database ${w.database}, plugin ${w.plugin}) not created: ${err.message}${hint}`);
        wanted.delete(name);
      }
    }
  }

  /** Replica, in the background: advances logical slots to the leader's positions, per database. */
  async #advance(items: Array<{ name: string; database: string; lsn: number }>): Promise<void> {
    for (const it of items) {
      try {
        await this.#host.postgres.query('SELECT pg_replication_slot_advance($1, $2::pg_lsn)', [it.name, formatLsn(it.lsn)], it.database);
      } catch (e) {
        const err = e as Error & { code?: string };
        this.#once(`replication slots: could not advance logical slot ${it.name} to ${formatLsn(it.lsn)}: ${err.message}`);
        // Its WAL is gone or the slot was invalidated: copy it from the leader again (Patroni does the same).
        if (err.code === '58P01' || err.code === '55000') this.#recopy.add(it.name);
      }
    }
  }

  /**
   * Replica: copies the logical slots `names` from the leader (Patroni's `copy_logical_slots`):
   * their state files through pg_read_binary_file, written into pg_replslot while PostgreSQL
   * is stopped, then PostgreSQL started again.
   */
  async #copyLogical(snap: DcsSnapshot, names: string[], wanted: Map<string, WantedSlot>): Promise<void> {
    const host = this.#host;
    const [level] = await host.postgres.query<{ wal_level: string; feedback: string }>("SELECT current_setting('wal_level') AS wal_level, current_setting('hot_standby_feedback') AS feedback");
    if (level?.feedback !== 'on') this.#once(`replication slots: hot_standby_feedback is off on this replica: the logical slots copied here may be unusable after a failover (the leader may remove catalog rows they need); Patroni turns it on for replicas with logical slots`);
    if (level?.wal_level !== 'logical') {
      this.#once(`replication slots: not copying logical slots ${names.join(', ')} from the leader: wal_level on this replica is ${level?.wal_level ?? 'unknown'}, and PostgreSQL does not start with a logical slot below wal_level logical; set wal_level: logical in postgresql.parameters and restart`);
      return;
    }
    const leaderData = snap.members.find((m) => m.name === snap.leader)?.data;
    const addr = leaderData?.conn_url ? parseConnUrl(leaderData.conn_url) : undefined;
    if (!addr) return;
    const client = new pg.Client({ host: addr.host, port: addr.port, user: host.postgres.superuser, password: host.postgres.password, database: 'postgres', connectionTimeoutMillis: 3000, query_timeout: 10_000 });
    client.on('error', () => {});
    const files: Array<{ name: string; data: Buffer }> = [];
    try {
      await client.connect();
      const { rows } = await client.query<{ slot_name: string; slot_type: string; datname: string; plugin: string; data: Buffer }>(
        `SELECT slot_name, slot_type, datname, plugin, pg_read_binary_file('pg_replslot/' || slot_name || '/state') AS data
           FROM pg_get_replication_slots() JOIN pg_database ON datoid = oid
          WHERE NOT pg_is_in_recovery() AND slot_name = ANY($1)`,
        [names],
      );
      for (const r of rows) {
        const w = wanted.get(r.slot_name);
        if (w && sameSlot(w, { type: r.slot_type, database: r.datname, plugin: r.plugin })) files.push({ name: r.slot_name, data: r.data });
        else this.#once(`replication slots: not copying logical slot ${r.slot_name}: on the leader it is ${r.slot_type} in ${r.datname} with ${r.plugin}, the configuration says ${JSON.stringify(w)}`);
      }
    } catch (e) {
      this.#once(`replication slots: could not read logical slots from the leader ${snap.leader}: ${(e as Error).message}`);
      return;
    } finally {
      await client.end().catch(() => {});
    }
    if (!files.length) return;
    for (const f of files) this.#copiedAt.set(f.name, Date.now());
    host.log(`copying logical replication slots ${files.map((f) => f.name).join(', ')} from the leader ${snap.leader}: restarting PostgreSQL`);
    host.state = 'stopping';
    await host.withHeartbeat(() => host.postgres.stop('fast'));
    host.state = 'stopped';
    try {
      for (const f of files) this.#writeSlotState(f.name, f.data);
      for (const f of files) this.#recopy.delete(f.name);
    } finally {
      host.state = 'starting';
      await host.withHeartbeat(() => host.postgres.start());
      host.state = 'running';
    }
  }

  /** Writes pg_replslot/<name>/state (through a .tmp directory, fsynced, owned by the server's OS user). */
  #writeSlotState(name: string, data: Buffer): void {
    const user = this.#host.postgres.user;
    const own = (p: string) => user && chownSync(p, user.uid, user.gid);
    const base = join(this.#host.postgres.dataDir, 'pg_replslot');
    const dir = join(base, name);
    const tmp = `${dir}.tmp`;
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { mode: 0o700 });
    own(tmp);
    const file = join(tmp, 'state');
    const fd = openSync(file, 'w', 0o600);
    try {
      writeSync(fd, data);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    own(file);
    if (existsSync(dir)) rmSync(dir, { recursive: true, force: true });
    renameSync(tmp, dir);
    fsyncDir(dir);
    fsyncDir(base);
  }

  /**
   * The leader's `status` value for `optime`: the positions of the slots it manages plus its own
   * slot name at `optime`, and the member slots it retains. A node that was not writing
   * `status` before starts its retention from the `retain_slots` of the `status` in `snap`.
   */
  statusFor(snap: DcsSnapshot, optime: number, useSlots: boolean, nowMillis = Date.now()): StatusValue {
    const settings = this.settings(snap, useSlots);
    if (!this.#leading) this.#retained.seed(retainSlotsOf(snap), nowMillis);
    this.#leading = true;
    const view = this.#leaderView ?? { plan: new Map(), positions: [] };
    const slots = statusSlotsFor(this.#host.name, optime, view.plan, view.positions, settings, snap.members.map((m) => m.name));
    const retain = this.#retained.update(this.#host.name, snap, slots, settings, nowMillis);
    this.#lastStatus = { optime, slots: Object.keys(slots).length ? slots : null, retain_slots: retain };
    return this.#lastStatus;
  }

  /** The last `status` with a new `optime` (a leader stepping down keeps its slots in `status`, like Patroni's delete_leader). */
  finalStatus(optime: number): StatusValue {
    return { optime, slots: this.#lastStatus?.slots ?? null, retain_slots: this.#lastStatus?.retain_slots ?? null };
  }
}

/** Does `status` in the snapshot already say this? */
export function sameStatus(snap: DcsSnapshot, value: StatusValue): boolean {
  const s = (snap.status ?? {}) as Record<string, unknown>;
  return s.optime === value.optime && JSON.stringify(s.slots ?? null) === JSON.stringify(value.slots) && JSON.stringify(s.retain_slots ?? null) === JSON.stringify(value.retain_slots);
}

function fsyncDir(path: string): void {
  try {
    const fd = openSync(path, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    /* best effort, as Patroni's fsync_dir on platforms without directory fsync */
  }
}

