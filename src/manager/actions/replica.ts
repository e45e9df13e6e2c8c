/**
 * Being a replica: keep streaming from the member decide() chose (re-pointing the standby
 * configuration when it changed), and rejoin as a replica (pg_rewind first when the data
 * directory may have diverged, waiting for the leader to leave recovery before rewinding).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { DcsSnapshot, MemberData } from '../agent-view';
import { parseConnUrl } from '../candidate';
import type { CycleAction } from '../decide';
import { errText, type NodeContext } from '../node-context';
import { withPeerSession } from '../peer-session';
import { quoteConninfo, slotNameFor } from '../postgres';
import type { Upstream } from '../upstream';
import { parseLsn } from '../../lsn';

/** Replica cycle, PostgreSQL running: keep the slots of our cascade; re-point the standby config when decided. */
export async function follow(ctx: NodeContext, snap: DcsSnapshot, action: Extract<CycleAction, { kind: 'follow' }>): Promise<string> {
  if (ctx.dyn.useSlots) await ctx.ensureSlots(snap).catch((e) => ctx.log(`replication slots: ${errText(e)}`)); // for our cascade
  if (!action.repoint) {
    const upstream = action.to;
    const leaderData = snap.members.find((m) => m.name === action.leader)?.data;
    if (upstream === 'archive' || !leaderData || !(await divergedFrom(ctx, upstream.data).catch(() => false))) return action.line;
    // Patroni's trigger_check_diverged_lsn: a standby that replayed past the point where its upstream's
    // timeline forked off ours (it was ahead of the replica that got promoted) can never follow: rewind it.
    ctx.log(`diverged from ${action.source}: this standby replayed past the point where that timeline forked off its own; pg_rewind from ${action.leader} and follow again`);
    ctx.needsRewind = true;
    return (await rejoin(ctx, action.leader, leaderData, upstream)) ? `rewound and following ${action.source} (this standby had diverged)` : `diverged from ${action.source}: waiting to rewind`;
  }
  const { to, source } = action;
  const following = ctx.writeStandby(to);
  // a standby leader that lost the key becomes a plain replica (on_role_change replica)
  if (ctx.node.role === 'replica') ctx.node.follow(following);
  else ctx.node.moveTo({ role: 'replica', following });
  await ctx.postgres.query('SELECT pg_reload_conf()');
  ctx.log(to === 'archive' ? 'stopped streaming: recovering from the archive only (nostream)' : `re-pointed replication to ${source}`);
  if (to !== 'archive') ctx.emit('following', { leader: source });
  return action.line;
}

/**
 * Starts a stopped node as a replica of `leader`, with pg_rewind first when it
 * may have diverged. Returns false (and leaves PostgreSQL stopped) while a
 * node that needs a rewind sees its leader still in recovery: rewinding from
 * a standby that has not promoted yet finds "the same timeline, no rewind
 * required", after which this node's own end-of-recovery WAL lies past the
 * leader's fork point and it can never follow the new timeline (Patroni waits
 * the same way: "Leader is still in recovery, can't rewind").
 */
export async function rejoin(ctx: NodeContext, leader: string, data: MemberData, to: Upstream = { name: leader, data }): Promise<boolean> {
  const addr = parseConnUrl(data.conn_url)!;
  if (ctx.needsRewind) {
    const peer = await ctx.probe(data);
    if (peer.kind !== 'primary') {
      if (ctx.postgres.isRunning()) await ctx.postgres.stop('fast');
      ctx.state = 'stopped';
      if (ctx.waitingForPromotionOf !== leader) ctx.log(`waiting for ${leader} to leave recovery before pg_rewind (it is ${peer.kind})`);
      ctx.waitingForPromotionOf = leader;
      return false;
    }
    ctx.waitingForPromotionOf = undefined;
  }
  if (ctx.postgres.isRunning()) await ctx.postgres.stop('fast');
  if (ctx.needsRewind && ctx.dyn.usePgRewind) {
    ctx.state = 'running pg_rewind';
    const rw = ctx.config.postgresql.authentication.rewind ?? ctx.config.postgresql.authentication.superuser;
    const conninfo = `host=${quoteConninfo(addr.host)} port=${addr.port} user=${quoteConninfo(rw.username)} dbname=postgres`;
    ctx.log(`pg_rewind from ${leader}`);
    await ctx.withHeartbeat(() => ctx.postgres.rewind(conninfo, undefined, { password: rw.password }));
    ctx.needsRewind = false;
  } else if (ctx.needsRewind) {
    ctx.log(`rejoining ${leader} without pg_rewind (use_pg_rewind is off): PostgreSQL will refuse to follow if this node diverged`);
    ctx.needsRewind = false;
  }
  const following = ctx.writeStandby(to);
  if (ctx.dyn.useSlots && to !== 'archive') await waitForSlot(ctx, to.data);
  ctx.state = 'starting';
  await ctx.withHeartbeat(() => ctx.postgres.start());
  ctx.node.moveTo({ role: 'replica', following });
  ctx.state = 'running';
  // Our member key at once (not a loop later): tools and clients see the replica as soon as it streams.
  await ctx.publish(await ctx.localStatus()).catch(() => {});
  ctx.emit('following', { leader });
  return true;
}

/**
 * Publishes our member key and waits (bounded by two loops) until the leader
 * has created our slot, so the WAL receiver's first attempt succeeds instead
 * of retrying after wal_retrieve_retry_interval.
 */
export async function waitForSlot(ctx: NodeContext, leaderData: MemberData): Promise<void> {
  await ctx.publish(undefined).catch(() => {});
  if (!parseConnUrl(leaderData.conn_url)) return;
  const slot = slotNameFor(ctx.name);
  const deadline = Date.now() + ctx.dyn.loopWait * 2000 + 1000;
  while (Date.now() < deadline) {
    const found = await withPeerSession(ctx.postgres, leaderData.conn_url, async (c) => (await c.query('SELECT 1 FROM pg_replication_slots WHERE slot_name = $1', [slot])).rows.length > 0)
      .catch(() => false); // leader busy or gone: the loop will sort it out
    if (found) return;
    await sleep(100);
  }
}

/**
 * Whether this standby can no longer follow `upstream`: it is not streaming, `upstream` is on a
 * newer timeline, and the point where that timeline forked off ours (its timeline history file)
 * lies before what we have replayed. Cheap while streaming (one local query).
 */
export async function divergedFrom(ctx: NodeContext, upstream: MemberData): Promise<boolean> {
  const receiving = await ctx.postgres.query<{ status: string }>('SELECT status FROM pg_stat_wal_receiver');
  if (receiving.some((r) => r.status === 'streaming')) return false;
  // The timeline we replay on: that of the WAL segment holding our replay position (the newest
  // timeline with that segment in pg_wal), else the last restartpoint's. (A history file alone
  // proves nothing: a standby fetches the new timeline's history even when it then refuses it.)
  const [pos] = await ctx.postgres.query<{ lsn: string | null; seg: string; ckpt: number }>(
    "SELECT pg_last_wal_replay_lsn()::text AS lsn, current_setting('wal_segment_size') AS seg, (SELECT timeline_id FROM pg_control_checkpoint()) AS ckpt",
  );
  if (!pos?.lsn) return false;
  const replayed = parseLsn(pos.lsn);
  const segBytes = BigInt(parseSize(pos.seg));
  const segName = (replayed >> 32n).toString(16).toUpperCase().padStart(8, '0') + ((replayed & 0xffffffffn) / segBytes).toString(16).toUpperCase().padStart(8, '0');
  const files = await ctx.postgres.query<{ tli: number | null }>("SELECT max(('x' || substr(name, 1, 8))::bit(32)::int) AS tli FROM pg_ls_waldir() WHERE substr(name, 9) = $1", [segName]);
  const localTli = files[0]?.tli ?? pos.ckpt;
  const theirs = typeof upstream.timeline === 'number' ? upstream.timeline : undefined;
  if (theirs === undefined || theirs <= localTli) return false;
  const file = `pg_wal/${theirs.toString(16).toUpperCase().padStart(8, '0')}.history`;
  const history = await withPeerSession(ctx.postgres, upstream.conn_url, async (c) => (await c.query<{ h: string }>('SELECT pg_read_file($1) AS h', [file])).rows[0]?.h ?? '');
  if (history === undefined) return false;
  const forkedAt = switchpointOf(history, localTli);
  return forkedAt !== undefined && replayed > forkedAt;
}

/** In a timeline history file (`parent-tli <tab> switchpoint <tab> reason` per line), where `tli` ended. */
export function switchpointOf(history: string, tli: number): bigint | undefined {
  for (const line of history.split('\n')) {
    const [parent, lsn] = line.trim().split(/\s+/);
    if (parent !== undefined && Number(parent) === tli && lsn) return parseLsn(lsn);
  }
  return undefined;
}

/** `wal_segment_size` as SHOW gives it (`16MB`, or bytes) → bytes. */
function parseSize(v: string): number {
  const m = /^(\d+)\s*(kB|MB|GB)?$/.exec(v.trim());
  if (!m) return 16 * 1024 * 1024;
  const unit = m[2] === 'kB' ? 1024 : m[2] === 'MB' ? 1024 ** 2 : m[2] === 'GB' ? 1024 ** 3 : 1;
  return Number(m[1]) * unit;
}
