/**
 * The leader's routine each cycle: replication slots for the members that stream from it, the
 * synchronous standbys (synchronous mode, quorum commit: sync-replication.ts), and `status` (its WAL position).
 */
import type { DcsSnapshot, NodeStatus } from '../agent-view';
import { errText, walPosition, type NodeContext } from '../node-context';
import { processSyncReplication } from './sync-replication';
import { writeFailsafeKey } from './failsafe';

/** Leader cycle: slots for members, the synchronous standbys, `status` (a stale failover request cleared first). */
export async function leaderDuties(ctx: NodeContext, snap: DcsSnapshot, local: NodeStatus | undefined, clearStaleFailover: boolean): Promise<string> {
  // Stale or pointless request (another leader named, or us as the candidate): clear it, as Patroni does.
  if (clearStaleFailover) await ctx.dcs.clearFailover(snap.revisions.failover).catch(() => {});
  if (ctx.dyn.useSlots) await ctx.ensureSlots(snap).catch((e) => ctx.log(`replication slots: ${errText(e)}`));
  if (ctx.dyn.synchronousMode || snap.sync?.leader) await processSyncReplication(ctx, snap).catch((e) => ctx.log(`synchronous standby: ${errText(e)}`));
  const optime = walPosition(local);
  if (optime !== undefined) await ctx.writeStatus(snap, optime).catch(() => {});
  await writeFailsafeKey(ctx, snap).catch((e) => ctx.log(`failsafe key: ${errText(e)}`));
  return 'no action. I am the leader with the lock';
}
