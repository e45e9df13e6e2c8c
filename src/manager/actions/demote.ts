/**
 * Stepping down: an immediate demotion (lost the key, another leader), the fence the lease
 * keeper calls for, and the leader's side of a planned switchover (shutdown checkpoint, wait
 * for the candidate, final LSN to `status`, release the key).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { DcsSnapshot, MemberData } from '../agent-view';
import { failoverPossible, type PeerState } from '../candidate';
import { errText, walPosition, type NodeContext } from '../node-context';
import { run } from '../run';
import { quorumOf, syncStandbyList } from '../sync';
import { tagNoFailover } from '../tags';
import { lsnToPosition } from '../../patroni-contract';

/** Stops being a writable primary at once (immediate stop); the next cycles rejoin as a replica. */
export async function demote(ctx: NodeContext, reason: string): Promise<void> {
  ctx.log(`demoting: ${reason}`);
  ctx.node.moveTo({ role: 'demoted' });
  ctx.holdsLock = false;
  await ctx.postgres.stop('immediate').catch((e) => ctx.log(`demote stop: ${errText(e)}`));
  ctx.state = 'stopped';
  ctx.needsRewind = true;
  ctx.emit('demoted', { reason });
}

/** The lease keeper decided to fence (a primary whose lease may be about to expire): stop PostgreSQL at once. */
export function fence(ctx: NodeContext, age: number, limit: number): void {
  ctx.log(`fencing: lease not renewed for ${age} ms (limit ${limit} ms); stopping PostgreSQL`);
  ctx.node.moveTo({ role: 'demoted' });
  ctx.holdsLock = false;
  ctx.needsRewind = true;
  ctx.state = 'stopping';
  ctx.emit('fenced', { leaseAgeMillis: age });
  void ctx.postgres
    .stop('immediate')
    .catch((e) => ctx.log(`fence stop: ${errText(e)}`))
    .then(() => {
      ctx.state = 'stopped';
      ctx.emit('demoted', { reason: 'fenced: etcd unreachable' });
    });
}

/**
 * Planned switchover, leader side: check the candidate, stop with a shutdown
 * checkpoint (fast), wait until the candidate received it, write the final
 * LSN to `status`, release the key.
 */
export async function switchover(ctx: NodeContext, snap: DcsSnapshot, member: string | undefined): Promise<string> {
  const syncOnly = ctx.dyn.synchronousMode && snap.sync?.leader === ctx.name ? syncStandbyList(snap.sync.sync_standby) : undefined;
  const candidates = snap.members.filter(
    (m) => m.name !== ctx.name && (!member || m.name === member) && (syncOnly === undefined || syncOnly.includes(m.name)) && !tagNoFailover(m.data.tags),
  );
  let chosen: { name: string; data: MemberData; state: PeerState } | undefined;
  const mine = walPosition(await ctx.localStatus()) ?? 0;
  let healthy = 0;
  for (const m of candidates) {
    const state = await ctx.probe(m.data);
    if (state.kind !== 'replica') continue;
    if (mine - state.walPosition <= ctx.dyn.maxLag) healthy++;
    if (!chosen || (chosen.state.kind === 'replica' && state.walPosition > chosen.state.walPosition)) chosen = { ...m, state };
  }
  if (!chosen || chosen.state.kind !== 'replica' || mine - chosen.state.walPosition > ctx.dyn.maxLag) {
    await ctx.dcs.clearFailover(snap.revisions.failover).catch(() => {});
    return `switchover refused: ${member ?? 'no member'} is not a healthy replica within maximum_lag_on_failover`;
  }
  // quorum commit: after we stop, enough voters must remain to form a quorum (Patroni's is_failover_possible)
  const quorum = ctx.dyn.quorumCommit ? quorumOf(snap) : undefined;
  if (!failoverPossible({ healthy, quorum, candidateNamed: member !== undefined })) {
    await ctx.dcs.clearFailover(snap.revisions.failover).catch(() => {});
    return `switchover refused: Quorum requirement ${quorum?.quorum} can not be reached (${healthy} healthy voter(s))`;
  }
  // a standby leader (standby cluster) has not written WAL of its own: nothing to rewind after it
  const wasStandbyLeader = ctx.node.role === 'standby_leader';
  ctx.log(`switchover to ${chosen.name}: stopping with a shutdown checkpoint`);
  if (!member) await ctx.dcs.setFailover({ leader: ctx.name, member: chosen.name }, snap.revisions.failover).catch(() => {});
  ctx.node.moveTo({ role: 'demoted' });
  ctx.state = 'stopping';
  const t0 = Date.now();
  await ctx.postgres.query('CHECKPOINT').catch(() => {});
  const drained = await drainTransactions(ctx, DRAIN_MILLIS);
  const t1 = Date.now();
  await ctx.postgres.stop('fast');
  const t2 = Date.now();
  ctx.state = 'stopped';
  const finalLsn = await checkpointLsn(ctx);
  const deadline = Date.now() + Math.max(5000, ctx.dyn.retryTimeout * 1000);
  while (finalLsn !== undefined && Date.now() < deadline) {
    const s = await ctx.probe(chosen.data);
    if (s.kind !== 'replica' || s.walPosition >= finalLsn) break;
    await sleep(10);
  }
  const t3 = Date.now();
  if (finalLsn !== undefined) await ctx.dcs.setStatus(ctx.slotKeeper.finalStatus(finalLsn)).catch(() => {});
  await ctx.dcs.releaseLeader();
  ctx.log(`switchover to ${chosen.name}: checkpoint and drain ${t1 - t0} ms (${drained}), stop ${t2 - t1} ms, candidate caught up ${t3 - t2} ms, key released ${Date.now() - t3} ms later`);
  ctx.holdsLock = false;
  ctx.needsRewind = !wasStandbyLeader;
  ctx.emit('demoted', { reason: `switchover to ${chosen.name}` });
  return `switchover: released the leader key to ${chosen.name}`;
}

/** Longest a switchover waits for the transactions open when it began to end before the fast stop. */
const DRAIN_MILLIS = 2000;

/**
 * Before the fast stop of a switchover: wait (bounded) until every client transaction that was
 * open when the switchover began has ended. Clients that hold new work from the announcement
 * (our Pool) then lose nothing: a transaction mid-way commits instead of being cut at its COMMIT.
 * Transactions begun later (clients that do not watch the announcement) do not extend the wait.
 * Returns what happened, for the log line.
 */
export async function drainTransactions(ctx: NodeContext, boundMillis: number): Promise<string> {
  const deadline = Date.now() + boundMillis;
  let since: string | undefined;
  let open = 0;
  try {
    for (;;) {
      const [r] = await ctx.postgres.query<{ now: string; open: number }>(
        `SELECT now()::text AS now, count(*) FILTER (WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() AND xact_start IS NOT NULL AND xact_start <= coalesce($1::timestamptz, now()))::int AS open
           FROM pg_stat_activity`,
        [since ?? null],
      );
      since ??= r?.now;
      open = r?.open ?? 0;
      if (open === 0) return 'no transaction left open';
      if (Date.now() >= deadline) return `${open} transaction(s) still open after ${boundMillis} ms`;
      await sleep(20);
    }
  } catch (e) {
    return `could not check: ${errText(e)}`;
  }
}

/** `Latest checkpoint location` from pg_controldata, as a byte position. */
export async function checkpointLsn(ctx: NodeContext): Promise<number | undefined> {
  try {
    const { stdout } = await run(ctx.postgres.bin.path('pg_controldata'), ['-D', ctx.postgres.dataDir], { user: ctx.postgres.user, timeoutMillis: 10_000 });
    const m = /Latest checkpoint location:\s+([0-9A-F]+\/[0-9A-F]+)/i.exec(stdout);
    return m ? lsnToPosition(m[1]!) : undefined;
  } catch {
    return undefined;
  }
}
