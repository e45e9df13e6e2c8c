/**
 * DCS failsafe mode, the acting half (the rules are in ../failsafe.ts):
 *
 * - the leader keeps the `failsafe` key up to date ({@link writeFailsafeKey});
 * - a primary that cannot reach etcd asks the key's members to accept it and stays, waits or
 *   demotes as {@link judgeFailsafe} says ({@link failsafeRound});
 * - the failsafe demotion stops PostgreSQL (fast) and starts it read-only with no upstream, as
 *   Patroni's `demote('offline')`: a replica that answers queries, writable nowhere;
 * - a member answers a leader's `POST /failsafe` ({@link answerFailsafePost}).
 */
import { readFileSync } from 'node:fs';
import type { DcsSnapshot } from '../agent-view';
import { askMembers, runsAsPrimary, type FailsafePingOptions } from '../failsafe-ping';
import type { FailsafePost } from '../failsafe-state';
import { failsafeKeyUpdate, failsafeModeOf, failsafePeers, failsafeTopology, judgeFailsafe } from '../failsafe';
import { errText, type NodeContext } from '../node-context';
import { slotNameFor } from '../postgres';
import { markRewindCheck } from '../rewind-marker';
import { buildApiUrl, buildConnUrl } from '../../patroni-contract';

/** This node's `api_url` and `conn_url`, as its member key publishes them. */
export function ownUrls(ctx: NodeContext): { api_url: string; conn_url: string } {
  const api = ctx.config.restapi.connectAddress;
  const pgc = ctx.config.postgresql.connectAddress;
  return { api_url: buildApiUrl(api.host, api.port, ctx.config.restapi.tls ? 'https' : 'http'), conn_url: buildConnUrl(pgc.host, pgc.port) };
}

/** Failsafe mode is on in the dynamic configuration last read (Patroni's global config). */
export function failsafeEnabled(ctx: NodeContext): boolean {
  return failsafeModeOf(ctx.lastSnap?.config);
}

/** Leader, failsafe mode on: write the topology to the `failsafe` key when it changed (compare-and-set). */
export async function writeFailsafeKey(ctx: NodeContext, snap: DcsSnapshot): Promise<void> {
  if (!failsafeModeOf(snap.config)) return;
  const value = failsafeKeyUpdate(snap.failsafe, failsafeTopology(ctx.name, ownUrls(ctx).api_url, snap.members));
  if (!value) return;
  if (await ctx.dcs.setFailsafe(value, snap.revisions.failsafe ?? '0')) {
    ctx.failsafe.topology = value;
    ctx.log(`failsafe key: ${Object.keys(value).join(', ')}`);
  }
}

/**
 * A primary's cycle while etcd cannot be reached, with failsafe mode on: ask every member of
 * the `failsafe` key to accept us, then continue, wait or demote. Undefined when failsafe mode
 * is off (the caller keeps the lease rule alone).
 */
export async function failsafeRound(ctx: NodeContext): Promise<string | undefined> {
  const enabled = failsafeEnabled(ctx);
  // maintenance mode (pause): Patroni neither demotes nor runs the failsafe check
  if (!enabled || ctx.lastSnap?.config.pause === true) return undefined;
  const key = ctx.failsafe.topology;
  const startedAt = Date.now();
  const peers = failsafePeers(ctx.name, key);
  const acks: Record<string, boolean> = {};
  const positions: Record<string, number> = {};
  if ('peers' in peers && peers.peers.length > 0) {
    const answers = await askMembers(peers.peers, await postBody(ctx), pingOptions(ctx));
    for (const a of answers) {
      acks[a.name] = a.accepted;
      if (a.accepted && a.lsn !== undefined) positions[a.name] = a.lsn;
      if (!a.accepted) ctx.log(`failsafe: ${a.name} did not accept POST /failsafe (${a.detail})`);
    }
  }
  const verdict = judgeFailsafe({
    enabled,
    me: ctx.name,
    key,
    acks,
    dcsDownMillis: Date.now() - ctx.dcs.lastContactAt,
    retryTimeoutMillis: ctx.dyn.retryTimeout * 1000,
  });
  switch (verdict.kind) {
    case 'off':
      return undefined;
    case 'continue':
      ctx.failsafe.confirm(startedAt);
      ctx.holdsLock = true;
      await keepMemberSlots(ctx, positions).catch((e) => ctx.log(`failsafe: replication slots: ${errText(e)}`));
      return verdict.line;
    case 'wait':
      return verdict.line;
    case 'demote':
      ctx.failsafe.reset();
      await demoteOffline(ctx, verdict.reason);
      return verdict.line;
  }
}

/**
 * While etcd is gone the primary still keeps its slots, and the member slots of members that do
 * not stream from it (cascading replicas, kept for a failover) move on with the positions those
 * members sent in their `POST /failsafe` answers (Patroni 4 does the same): the last snapshot's
 * member positions, with each answer's `lsn` in place of the member's `xlog_location`.
 */
async function keepMemberSlots(ctx: NodeContext, positions: Readonly<Record<string, number>>): Promise<void> {
  const snap = ctx.lastSnap;
  if (!snap || !ctx.dyn.useSlots) return;
  const members = snap.members.map((m) => (positions[m.name] !== undefined ? { ...m, data: { ...m.data, xlog_location: positions[m.name] } } : m));
  await ctx.slotKeeper.sync({ ...snap, members }, 'primary', ctx.dyn.useSlots);
}

/**
 * Patroni's `demote('offline')`: stop (fast, a shutdown checkpoint) and start read-only with no
 * upstream; the node rejoins whoever leads once etcd answers (pg_rewind checked first). When the
 * fencing watchdog stopped it meanwhile (immediate), only the read-only start is left to do.
 */
export async function demoteOffline(ctx: NodeContext, reason: string): Promise<void> {
  if (ctx.node.role === 'primary') {
    ctx.log(`demoting: ${reason}`);
    ctx.node.moveTo({ role: 'demoted' });
    ctx.holdsLock = false;
    ctx.needsRewind = true;
    ctx.state = 'stopping';
    await stopFast(ctx);
    ctx.state = 'stopped';
    ctx.emit('demoted', { reason });
  } else {
    await stopFast(ctx); // the watchdog's immediate stop may still be under way: wait for it
  }
  await startReadOnly(ctx);
}

/**
 * A demoted node (failsafe demotion or fence) while etcd is unreachable: PostgreSQL runs again,
 * read-only with no upstream, as after Patroni's offline demotion — it serves reads, never writes.
 */
export async function startReadOnly(ctx: NodeContext): Promise<void> {
  if (ctx.node.role !== 'demoted' || ctx.postgres.isRunning() || !ctx.running) return;
  markRewindCheck(ctx.postgres.dataDir); // standby.signal below hides that this was a primary
  ctx.postgres.writeStandbyConfig({ primaryConninfo: '' });
  ctx.state = 'starting';
  await ctx.postgres.start();
  ctx.node.moveTo({ role: 'replica', following: undefined });
  ctx.state = 'running';
  ctx.log('started PostgreSQL read-only (no upstream) after the demotion, until etcd answers');
}

async function stopFast(ctx: NodeContext): Promise<void> {
  await ctx.postgres.stop('fast').catch(async (e) => {
    ctx.log(`demote stop (fast): ${errText(e)}; stopping immediately`);
    await ctx.postgres.stop('immediate').catch(() => {});
  });
}

/**
 * Before racing with failsafe mode on: a member of the `failsafe` key that has no member key (cut
 * off from etcd) but answers that it runs as the primary — a leader on failsafe whose pings this
 * node missed (it restarted, say). Patroni's is_healthiest_node asks those members too. Returns its name.
 */
export async function failsafePrimaryAlive(ctx: NodeContext, snap: DcsSnapshot): Promise<string | undefined> {
  if (!failsafeModeOf(snap.config) || !snap.failsafe) return undefined;
  const known = new Set(snap.members.map((m) => m.name));
  const others = Object.entries(snap.failsafe).filter(([name]) => name !== ctx.name && !known.has(name));
  const opts = { ...pingOptions(ctx), timeoutMillis: 2000 };
  const alive = await Promise.all(others.map(async ([name, url]) => ((await runsAsPrimary(url, opts)) ? name : undefined)));
  return alive.find((n) => n !== undefined);
}

/** What the primary sends: name, conn_url, api_url, and its slots with its own position (Patroni's `slots()`). */
async function postBody(ctx: NodeContext): Promise<FailsafePost> {
  const body: FailsafePost = { name: ctx.name, ...ownUrls(ctx) };
  try {
    const { rows } = await ctx.localPool().query<{ slot_name: string; lsn: string | null; own: string }>(
      `SELECT slot_name, pg_wal_lsn_diff(coalesce(confirmed_flush_lsn, restart_lsn), '0/0')::bigint::text AS lsn,
              pg_wal_lsn_diff(pg_current_wal_flush_lsn(), '0/0')::bigint::text AS own
         FROM pg_replication_slots RIGHT JOIN (SELECT 1) one ON true`,
    );
    const slots: Record<string, number> = {};
    for (const r of rows) if (r.slot_name && r.lsn !== null) slots[r.slot_name] = Number(r.lsn);
    if (rows[0]) slots[slotNameFor(ctx.name)] = Number(rows[0].own);
    body.slots = slots;
  } catch (e) {
    ctx.log(`failsafe: reading replication slots: ${errText(e)}`);
  }
  return body;
}

/** Basic auth and TLS for the members' REST APIs: `restapi.authentication`, `ctl` (CA falls back to `restapi.cafile`). */
function pingOptions(ctx: NodeContext): FailsafePingOptions {
  const c = ctx.config;
  const auth = c.restapi.authentication;
  const read = (path: string | undefined) => {
    if (!path) return undefined;
    try {
      return readFileSync(path);
    } catch (e) {
      ctx.log(`failsafe: cannot read ${path}: ${errText(e)}`);
      return undefined;
    }
  };
  const ca = read(c.ctl?.cacert ?? c.restapi.tls?.cafile);
  const cert = read(c.ctl?.certfile);
  const key = read(c.ctl?.keyfile);
  return {
    timeoutMillis: Math.max(2000, ctx.dyn.retryTimeout * 1000),
    ...(auth?.password !== undefined ? { auth: { username: auth.username, password: auth.password } } : {}),
    tls: {
      ...(ca ? { ca } : {}),
      ...(cert ? { cert } : {}),
      ...(key ? { key } : {}),
      ...(c.ctl?.keyfilePassword !== undefined ? { passphrase: c.ctl.keyfilePassword } : {}),
      rejectUnauthorized: c.ctl?.insecure !== true,
    },
  };
}

/** The answer to a leader's `POST /failsafe`: status, text, and the `lsn` header. */
export interface FailsafePostAnswer {
  status: 200 | 400 | 500 | 502;
  text: string;
  headers: Record<string, string>;
}

/**
 * A member receives `POST /failsafe` (Patroni's do_POST_failsafe / update_failsafe): 502 while
 * failsafe mode is off, 400 for a body without name/conn_url/api_url, 500 `Running as a leader`
 * when this node runs as the primary itself; else it records the sender as the leader and
 * answers `200 Accepted` with its last known WAL position in the `lsn` header.
 */
export function answerFailsafePost(ctx: NodeContext, body: unknown): FailsafePostAnswer {
  if (!failsafeEnabled(ctx)) return { status: 502, text: 'failsafe mode is not enabled', headers: {} };
  const post = toFailsafePost(body);
  if (typeof post === 'string') return { status: 400, text: post, headers: {} };
  if (ctx.node.role === 'primary' && ctx.postgres.isRunning()) return { status: 500, text: 'Running as a leader', headers: {} };
  // Not in Patroni: etcd, as last read here, names another leader — the sender is not the leader any more.
  const holder = ctx.lastSnap?.leader;
  if (holder !== undefined && holder !== post.name) return { status: 500, text: `${holder} holds the leader key`, headers: {} };
  ctx.failsafe.accept(post);
  const lsn = ctx.failsafe.lastWalPosition;
  return { status: 200, text: 'Accepted', headers: lsn !== undefined ? { lsn: String(lsn) } : {} };
}

/** Validates a POST /failsafe body; a string says what is wrong. */
function toFailsafePost(body: unknown): FailsafePost | string {
  if (!body || typeof body !== 'object' || Array.isArray(body)) return 'request body must be a JSON object with name, conn_url and api_url';
  const b = body as Record<string, unknown>;
  for (const k of ['name', 'conn_url', 'api_url'] as const) if (typeof b[k] !== 'string' || b[k] === '') return `"${k}" must be a non-empty string`;
  let slots: Record<string, number> | undefined;
  if (b.slots && typeof b.slots === 'object' && !Array.isArray(b.slots)) {
    slots = {};
    for (const [k, v] of Object.entries(b.slots as Record<string, unknown>)) if (typeof v === 'number' && Number.isFinite(v)) slots[k] = v;
  }
  return { name: b.name as string, conn_url: b.conn_url as string, api_url: b.api_url as string, ...(slots ? { slots } : {}) };
}
