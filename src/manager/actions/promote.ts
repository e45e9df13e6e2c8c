/**
 * Taking over: the election round of a leaderless cycle (Patroni's is_healthiest_node, the
 * leader-key race, pre_promote, the sync key first in synchronous mode), and becoming the
 * primary (pg_promote, the member key first, the history entry, slots and `status`).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import createDebug from 'debug';
import { FailoverError } from '../../errors';
import type { DcsSnapshot, NodeStatus } from '../agent-view';
import { isHealthiestNode } from '../candidate';
import { splitCommandLine } from '../callbacks';
import { errText, walPosition, type NodeContext } from '../node-context';
import { run } from '../run';
import { quorumOf, syncCandidates } from '../sync';
import { setStandbyNames } from '../sync-state';
import { syncBeforePromote } from './sync-replication';
import { failsafePrimaryAlive } from './failsafe';
import { becomeStandbyLeader, standbyClusterFor } from './standby-leader';
import { lsnToPosition } from '../../patroni-contract';

const timing = createDebug('pg-failover:manager:timing');

/** No leader: race for the key when this replica is the healthiest; then promote. */
export async function electionRound(ctx: NodeContext, snap: DcsSnapshot, local: NodeStatus | undefined, named: boolean): Promise<string> {
  const myPos = walPosition(local) ?? 0;
  // The named candidate of a switchover/failover races at once, as in Patroni: the leader checked it
  // before handing over, and #waitForReplay below makes sure it has everything the leader wrote.
  const verdict = named ? { ok: true, reason: 'I am the candidate named in the failover key' } : await isHealthiestNode({
    me: ctx.name,
    myWalPosition: myPos,
    myPriority: ctx.config.tags.failoverPriority ?? 1,
    nofailover: ctx.config.tags.nofailover,
    maximumLagOnFailoverBytes: ctx.dyn.maxLag,
    snapshot: snap,
    syncCandidates: ctx.dyn.synchronousMode ? syncCandidates(snap) : undefined,
    quorum: ctx.dyn.quorumCommit ? quorumOf(snap) : undefined,
    probe: (_name, data) => ctx.probe(data),
  });
  // failsafe mode: a member of the failsafe key cut off from etcd may still run as the primary
  const onFailsafe = verdict.ok && !named ? await failsafePrimaryAlive(ctx, snap) : undefined;
  if (onFailsafe) return `following a different leader because i am not the healthiest node (${onFailsafe} is still running as a primary)`;
  // Patroni's words for the two cases (its suite and operators grep for them)
  if (!verdict.ok) return ctx.config.tags.nofailover ? `following a different leader because I am not allowed to promote (${verdict.reason})` : `following a different leader because i am not the healthiest node (${verdict.reason})`;
  if (snap.failover?.member === ctx.name && typeof snap.status?.optime === 'number') await waitForReplay(ctx, snap.status.optime);
  timing('%s: election: replayed', ctx.name);
  if (!(await ctx.dcs.attemptToAcquireLeader())) return 'no leader: lost the race for the leader key';
  timing('%s: election: acquired', ctx.name);
  ctx.holdsLock = true;
  // A fresh lease before promoting: the last renewal may be up to loop_wait old, and the new
  // leader's fence clock starts from it.
  await ctx.lease.renew();
  timing('%s: election: lease renewed', ctx.name);
  const fenceScript = await prePromote(ctx);
  if (fenceScript) {
    ctx.holdsLock = false;
    await ctx.dcs.releaseLeader().catch((e) => ctx.log(`releasing the leader key: ${errText(e)}`));
    return `no leader: not promoting, ${fenceScript}`;
  }
  const standby = standbyClusterFor(ctx, snap);
  if (standby) {
    // a standby cluster's new leader: a standby leader of the remote, never a primary
    await becomeStandbyLeader(ctx, snap, standby, '');
    if (snap.failover) await ctx.dcs.clearFailover(snap.revisions.failover).catch(() => {});
    return `took the leader key as the standby leader (${verdict.reason})`;
  }
  // Patroni's order: synchronous mode records the winner in `sync` before promoting (no standby synchronous
  // yet); quorum commit keeps syncing to the old voters and rewrites the key after promotion.
  if (!(await syncBeforePromote(ctx, snap))) {
    ctx.holdsLock = false;
    await ctx.dcs.releaseLeader().catch(() => {});
    return 'no leader: not promoting, the sync key changed since this cycle read it';
  }
  await becomePrimary(ctx, snap.failover?.member === ctx.name ? 'switchover' : 'failover');
  if (snap.failover) await ctx.dcs.clearFailover(snap.revisions.failover).catch(() => {});
  return `promoted self to leader by acquiring session lock (${verdict.reason})`;
}

/**
 * Runs `postgresql.pre_promote` (if set) while the leader key is held and
 * kept alive; returns why promotion must not happen, or undefined to go on.
 * Bounded by ttl × 2 s (at least 30 s) so a hung script cannot hold the key
 * forever; Patroni waits without a bound.
 */
export async function prePromote(ctx: NodeContext): Promise<string | undefined> {
  const line = ctx.config.postgresql.prePromote;
  if (!line) return undefined;
  const [file, ...args] = splitCommandLine(line);
  if (!file) return undefined;
  const timeoutMillis = Math.max(30_000, ctx.dyn.ttl * 2000);
  ctx.state = 'running pre_promote';
  try {
    await ctx.withHeartbeat(() => run(file, args, { timeoutMillis }));
    ctx.log(`pre_promote \`${line}\` exited with 0`);
    return undefined;
  } catch (e) {
    ctx.log(`pre_promote \`${line}\` failed: ${errText(e)}; releasing the leader key`);
    return `pre_promote failed (${errText(e)})`;
  } finally {
    ctx.state = 'running';
  }
}

/** Waits (bounded) until this replica has replayed `lsn`, so a switchover loses nothing. */
export async function waitForReplay(ctx: NodeContext, lsn: number): Promise<void> {
  const deadline = Date.now() + Math.max(5000, ctx.dyn.retryTimeout * 1000);
  while (Date.now() < deadline) {
    const s = await ctx.localStatus();
    const pos = s && s.xlog && 'replayed_location' in s.xlog ? (s.xlog.replayed_location ?? 0) : 0;
    if (pos >= lsn) return;
    await sleep(10);
  }
  ctx.log(`switchover: replay did not reach ${lsn} in time; promoting anyway`);
}

export async function becomePrimary(ctx: NodeContext, reason: string): Promise<void> {
  if (!ctx.postgres.isRunning()) {
    if (existsSync(join(ctx.postgres.dataDir, 'standby.signal'))) {
      ctx.postgres.writeStandbyConfig({ primaryConninfo: '' });
      await ctx.postgres.start();
    } else {
      // A stopped primary that still holds the key (after fencing): start it as it was.
      ctx.log(`starting PostgreSQL as the primary again (${reason}): the leader key is still ours`);
      // The fence left demoted/stopped in the member key: clients that believe it (our Pool's etcd
      // source) hold their writes until it changes, and the next cycle may be a whole loop_wait
      // away (campaign seed 96: +1.3 s). `starting` now (the Pool then asks the node itself whether
      // it takes writes yet), master/running as soon as it does, as after a promotion.
      const announced = ctx.announceStarting();
      try {
        await ctx.postgres.start();
      } finally {
        await announced;
      }
      ctx.node.moveTo({ role: 'primary' });
      ctx.state = 'running';
      ctx.needsRewind = false;
      await ctx.publish(await ctx.localStatus()).catch(() => {});
      ctx.emit('promoted', { timeline: undefined, reason });
      return;
    }
  }
  timing('%s: becomePrimary: start', ctx.name);
  // The warm local pool: a fresh connection here cost ~90 ms under load, on the write outage's path.
  const inRecovery = (await ctx.localPool().query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r')).rows[0]?.r !== false;
  timing('%s: becomePrimary: in recovery %s', ctx.name, inRecovery);
  if (inRecovery) {
    ctx.log(`promoting (${reason})`);
    const t0 = Date.now();
    await ctx.withHeartbeat(() => promote(ctx));
    ctx.log(`promoted in ${Date.now() - t0} ms`);
  }
  ctx.node.moveTo({ role: 'primary' });
  ctx.state = 'running';
  ctx.needsRewind = false;
  const after = await ctx.localStatus();
  // The member key first: clients that wait for role=master in it (our etcd source) switch now.
  await ctx.publish(after).catch(() => {});
  if (inRecovery) await recordHistory(ctx, after?.timeline, reason).catch((e) => ctx.log(`history: ${errText(e)}`));
  const snap = await ctx.dcs.snapshot().catch(() => undefined);
  if (snap) {
    if (ctx.dyn.useSlots) await ctx.ensureSlots(snap).catch(() => {});
    const optime = walPosition(after);
    if (optime !== undefined) await ctx.writeStatus(snap, optime).catch(() => {});
  }
  ctx.emit('promoted', { timeline: after?.timeline, reason });
}

/**
 * Promotes the local standby through `pg_promote()` (no process to spawn),
 * waits until it has left recovery, drops the standby settings, and runs the CHECKPOINT that
 * pg_rewind needs later in the background (writes are accepted before it).
 */
export async function promote(ctx: NodeContext): Promise<void> {
  const seconds = Math.max(10, ctx.dyn.ttl * 2);
  // pg_promote(wait => true) checks for the end of recovery only every 100 ms; asking every 10 ms
  // ourselves ends the write outage up to ~90 ms sooner.
  const pool = ctx.localPool();
  const { rows } = await pool.query<{ ok: boolean }>('SELECT pg_promote(false) AS ok');
  if (!rows[0]?.ok) throw new FailoverError('COMMAND_FAILED', `${ctx.name}: pg_promote() refused to promote`, { node: ctx.postgres.name });
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const r = await pool.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r');
    if (r.rows[0]?.r === false) break;
    if (Date.now() > deadline) throw new FailoverError('TIMEOUT', `${ctx.name}: promotion did not finish within ${seconds} s`, { node: ctx.postgres.name });
    await sleep(10);
  }
  ctx.postgres.clearStandbyConfig({ keepSignal: false });
  // quorum commit: the list set before promotion stays (it keeps the quorum invariant)
  if (ctx.dyn.synchronousMode && !ctx.dyn.quorumCommit && !ctx.dyn.synchronousModeStrict) await setStandbyNames(ctx.localPool(), '').catch((e) => ctx.log(`synchronous_standby_names: ${errText(e)}`));
  void ctx.localPool()
    .query('CHECKPOINT')
    .catch((e) => ctx.log(`checkpoint after promotion: ${errText(e)}`));
}

/** Appends [old timeline, switch LSN, reason, time, new leader] from the new timeline's history file. */
export async function recordHistory(ctx: NodeContext, timeline: number | undefined, reason: string): Promise<void> {
  if (!timeline || timeline < 2) return;
  const file = `pg_wal/${timeline.toString(16).toUpperCase().padStart(8, '0')}.history`;
  const [row] = await ctx.postgres.query<{ t: string }>('SELECT pg_read_file($1) AS t', [file]);
  const lines = (row?.t ?? '').split('\n').filter((l) => /^\d+\s/.test(l));
  const last = lines[lines.length - 1];
  if (!last) return;
  const [tli, lsn, ...why] = last.split(/\s+/);
  const snap = await ctx.dcs.snapshot();
  // Like Patroni: [old timeline, switch LSN, the history file's reason, time, new leader].
  const history = [...snap.history, [Number(tli), lsnToPosition(lsn!), why.join(' ') || reason, new Date().toISOString(), ctx.name]];
  if (!(await ctx.dcs.setHistory(history, snap.revisions.history))) throw new FailoverError('DCS_ERROR', 'history key changed while appending to it; the next promotion record re-reads it');
}
