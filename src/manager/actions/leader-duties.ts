/**
 * The leader's routine each cycle: replication slots for the members that stream from it, the
 * synchronous standby (synchronous mode), and `status` (its WAL position).
 */
import type { DcsSnapshot, NodeStatus } from '../agent-view';
import { errText, walPosition, type NodeContext } from '../node-context';
import { applyStandbyNames, chooseSyncStandby, standbyNamesFor, streamingStandbys } from '../sync';
import { writeFailsafeKey } from './failsafe';

/** Leader cycle: slots for members, the synchronous standby, `status` (a stale failover request cleared first). */
export async function leaderDuties(ctx: NodeContext, snap: DcsSnapshot, local: NodeStatus | undefined, clearStaleFailover: boolean): Promise<string> {
  // Stale or pointless request (another leader named, or us as the candidate): clear it, as Patroni does.
  if (clearStaleFailover) await ctx.dcs.clearFailover(snap.revisions.failover).catch(() => {});
  if (ctx.dyn.useSlots) await ctx.ensureSlots(snap).catch((e) => ctx.log(`replication slots: ${errText(e)}`));
  if (ctx.dyn.synchronousMode) await manageSync(ctx, snap).catch((e) => ctx.log(`synchronous standby: ${errText(e)}`));
  const optime = walPosition(local);
  if (optime !== undefined && snap.status?.optime !== optime) await ctx.dcs.setStatus({ optime }).catch(() => {});
  await writeFailsafeKey(ctx, snap).catch((e) => ctx.log(`failsafe key: ${errText(e)}`));
  return 'no action. I am the leader with the lock';
}

/**
 * Leader, synchronous mode: keep one streaming standby named in both
 * `synchronous_standby_names` and `sync` (add: PostgreSQL first; remove: key first).
 */
export async function manageSync(ctx: NodeContext, snap: DcsSnapshot): Promise<void> {
  const pool = ctx.localPool();
  const plan = chooseSyncStandby(ctx.name, snap, await streamingStandbys(pool, ctx.dyn.maxLagOnSyncnode), ctx.dyn.syncNodeCount);
  let syncRev = snap.revisions.sync;
  if (plan.current && plan.current !== plan.standby) {
    if (!(await ctx.dcs.setSync({ leader: ctx.name, sync_standby: null }, syncRev))) return; // changed under us: next cycle re-reads
    syncRev = (await ctx.dcs.snapshot()).revisions.sync;
  }
  if (await applyStandbyNames(pool, standbyNamesFor(plan.standby))) ctx.log(`synchronous standby: ${plan.standby ?? 'none'}`);
  if (snap.sync?.leader !== ctx.name || (snap.sync.sync_standby ?? null) !== plan.standby || (plan.current && plan.current !== plan.standby)) {
    await ctx.dcs.setSync({ leader: ctx.name, sync_standby: plan.standby }, syncRev);
  }
}
