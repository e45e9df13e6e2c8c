/**
 * A primary whose PostgreSQL crashed while this node held the leader key (Patroni's `recover`
 * and `post_recover` for the leader): with `primary_start_timeout: 0` and a replica that can
 * take over, stop being the leader at once so that replica is promoted; otherwise run crash
 * recovery in place by starting PostgreSQL again, within that timeout. A start that fails
 * demotes this node (`on_role_change demoted`) and removes the leader key; a start that times
 * out while still running fails over when it can, and keeps waiting when it cannot.
 */
import type { DcsSnapshot } from '../agent-view';
import { errText, type NodeContext } from '../node-context';
import { syncStandbyList } from '../sync';
import { tagNoFailover } from '../tags';

/** Carries out `recover-crashed-primary`; returns the cycle's status line (Patroni's words). */
export async function recoverCrashedPrimary(ctx: NodeContext, snap: DcsSnapshot, startTimeoutSeconds: number): Promise<string> {
  if (startTimeoutSeconds === 0 && (await failoverPossible(ctx, snap))) {
    ctx.log('Primary crashed. Failing over.');
    await stepDown(ctx, 'PostgreSQL crashed and primary_start_timeout is 0');
    return 'stopped PostgreSQL to fail over after a crash';
  }
  ctx.log('starting primary after failure');
  // `starting` in the member key now (it says `crashed`): clients that believe it try the node as it starts
  const announced = ctx.announceStarting();
  // 0 with nobody to take over: start as Patroni does then, bounded by the usual start timeout.
  const timeoutMillis = startTimeoutSeconds > 0 ? startTimeoutSeconds * 1000 : undefined;
  try {
    await ctx.withHeartbeat(() => ctx.postgres.start(timeoutMillis !== undefined ? { timeoutMillis } : {}));
  } catch (e) {
    await announced;
    if (ctx.postgres.isRunning()) {
      // Still starting after the timeout (e.g. a long crash recovery).
      if (await failoverPossible(ctx, snap)) {
        ctx.log('Demoting self because primary startup is taking too long');
        await ctx.postgres.stop('immediate').catch((err) => ctx.log(`stop: ${errText(err)}`));
        await stepDown(ctx, 'primary startup took longer than primary_start_timeout');
        return 'stopped PostgreSQL because of startup timeout';
      }
      return 'primary start has timed out, but continuing to wait because failover is not possible';
    }
    ctx.log(`starting primary after failure failed: ${errText(e)}`);
    ctx.node.failedToStart();
    ctx.state = 'start failed';
    await releaseKey(ctx);
    ctx.emit('demoted', { reason: 'PostgreSQL failed to start after a crash' });
    return 'removed leader key after trying and failing to start postgres';
  }
  await announced;
  ctx.state = 'running';
  // The member key at once: clients that believe it must not wait for the next cycle.
  await ctx.publish(await ctx.localStatus()).catch(() => {});
  ctx.emit('promoted', { timeline: undefined, reason: 'started again after a crash' });
  return 'started primary after failure';
}

/**
 * Whether another member could take over now (Patroni's `is_failover_possible`): a member that
 * is not tagged nofailover (in synchronous mode: a recorded sync standby), answers as a replica,
 * and is within `maximum_lag_on_failover` of the last known leader position.
 */
export async function failoverPossible(ctx: NodeContext, snap: DcsSnapshot): Promise<boolean> {
  const syncOnly = ctx.dyn.synchronousMode && snap.sync?.leader === ctx.name ? syncStandbyList(snap.sync.sync_standby) : undefined;
  const candidates = snap.members.filter((m) => m.name !== ctx.name && !tagNoFailover(m.data.tags) && (syncOnly === undefined || syncOnly.includes(m.name)));
  const optime = typeof snap.status?.optime === 'number' ? snap.status.optime : undefined;
  const states = await Promise.all(candidates.map((m) => ctx.probe(m.data)));
  return states.some((s) => s.kind === 'replica' && (optime === undefined || optime - s.walPosition <= ctx.dyn.maxLag));
}

/** PostgreSQL is stopped: become demoted (it rejoins as a replica later) and give the key up. */
async function stepDown(ctx: NodeContext, reason: string): Promise<void> {
  ctx.node.moveTo({ role: 'demoted' });
  ctx.state = 'stopped';
  ctx.needsRewind = true;
  await releaseKey(ctx);
  ctx.emit('demoted', { reason });
}

async function releaseKey(ctx: NodeContext): Promise<void> {
  ctx.holdsLock = false;
  ctx.needsRewind = true;
  try {
    await ctx.dcs.releaseLeader();
  } catch (e) {
    // The key then expires with its ttl; the other members take over after that.
    ctx.log(`releasing the leader key: ${errText(e)}`);
  }
}
