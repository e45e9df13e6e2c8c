/**
 * The leader's synchronous replication, Patroni 4's way (patroni/ha.py
 * `process_sync_replication`, `_process_quorum_replication`,
 * `_process_multisync_replication`, `process_sync_replication_prepromote`).
 * `synchronous_standby_names` and the `sync` key are changed one after the
 * other, in an order that never lets the key claim more than PostgreSQL
 * guarantees; every key write is a compare-and-set on the revision read.
 *
 * - Quorum commit: quorum.ts computes the steps; each `quorum` step writes the
 *   key, each `sync` step sets the GUC (`ANY n (…)`). Right after a promotion the
 *   first pass runs at once, the next ones wait a loop_wait for replicas to connect.
 * - Synchronous mode (priority): the best `synchronous_node_count` eligible
 *   streaming members are named in the GUC first; the key names only those that
 *   PostgreSQL confirms synchronous and that have caught up (sync-state.ts); a
 *   standby leaving is taken out of the key first.
 * - Strict (`synchronous_mode_strict`): without a standby the GUC says `*` (any
 *   standby; `ANY 1 (*)` in quorum commit), so commits wait rather than go on
 *   unprotected.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { DcsSnapshot } from '../agent-view';
import { errText, type NodeContext } from '../node-context';
import { quorumTransitions, QuorumError } from '../quorum';
import { formatStandbyNames } from '../standby-names';
import { SyncTracker, type SyncState } from '../sync-state';
import { syncStandbyList } from '../sync';

/** What the leader keeps between cycles: the tracker, and when this leadership's first quorum pass ran. */
interface LeaderSyncMemory {
  tracker: SyncTracker;
  /** The node state object of the leadership this memory belongs to (a new one = a new term). */
  term: object | undefined;
  /** When the first quorum pass of this term ran (0: not yet). */
  firstPassAt: number;
  /** The last cap logged (synchronous_node_count above the eligible standbys). */
  cappedLogged: string | undefined;
}

const memories = new WeakMap<NodeContext, LeaderSyncMemory>();

/** How long a quorum pass may wait for newly listed standbys to confirm (the multisync wait is 2 s too). */
const RESTART_BUDGET_MILLIS = 2000;

function memoryOf(ctx: NodeContext): LeaderSyncMemory {
  let m = memories.get(ctx);
  if (!m) memories.set(ctx, (m = { tracker: new SyncTracker(), term: undefined, firstPassAt: 0, cappedLogged: undefined }));
  if (m.term !== ctx.node.state) {
    m.term = ctx.node.state;
    m.firstPassAt = 0;
  }
  return m;
}

/** The `sync` key as this process tracks it. */
interface SyncKey {
  leader: string | null;
  voters: string[];
  quorum: number;
  revision: string;
}

function keyOf(snap: DcsSnapshot): SyncKey {
  const leader = snap.sync?.leader ?? null;
  const quorum = leader && snap.sync?.quorum ? Math.trunc(Number(snap.sync.quorum)) || 0 : 0;
  return { leader, voters: leader ? syncStandbyList(snap.sync?.sync_standby) : [], quorum, revision: snap.revisions.sync };
}

/** Leader cycle: the GUC and the key (see the module header); synchronous mode off, both cleared. */
export async function processSyncReplication(ctx: NodeContext, snap: DcsSnapshot): Promise<void> {
  if (!ctx.dyn.synchronousMode) return disableSyncReplication(ctx, snap);
  const memory = memoryOf(ctx);
  if (ctx.dyn.quorumCommit) {
    const now = Date.now();
    if (memory.firstPassAt === 0 || now - memory.firstPassAt > ctx.dyn.loopWait * 1000) await processQuorum(ctx, snap, memory);
    if (memory.firstPassAt === 0) memory.firstPassAt = now;
  } else {
    await processMultisync(ctx, snap, memory);
  }
}

/**
 * Synchronous mode switched off (Patroni's `disable_synchronous_replication`): the key goes first
 * (nobody may rely on it any more), then our `synchronous_standby_names` (ALTER SYSTEM RESET: the
 * value the configuration files give, usually none).
 */
async function disableSyncReplication(ctx: NodeContext, snap: DcsSnapshot): Promise<void> {
  if (!snap.sync?.leader) return;
  if (!(await ctx.dcs.deleteSync(snap.revisions.sync))) return;
  const pool = ctx.localPool();
  await pool.query('ALTER SYSTEM RESET synchronous_standby_names');
  await pool.query('SELECT pg_reload_conf()');
  ctx.log('Disabled synchronous replication');
}

/** Writes the key by compare-and-set; returns the key as written (with its new revision), or undefined when someone else changed it. */
async function writeKey(ctx: NodeContext, leader: string, voters: readonly string[], quorum: number, expected: string): Promise<SyncKey | undefined> {
  const sorted = [...voters].sort();
  const standby = sorted.length ? sorted.join(',') : null;
  if (!(await ctx.dcs.setSync({ leader, sync_standby: standby, quorum }, expected))) return undefined;
  // the new revision (only the leader writes this key; a value that is not ours means a race: stop)
  const again = await ctx.dcs.snapshot();
  if (again.sync?.leader !== leader || (again.sync.sync_standby ?? null) !== standby) return undefined;
  return { leader, voters: sorted, quorum, revision: again.revisions.sync };
}

/** Writes `{leader: me}` when the key has no leader yet (synchronous mode just switched on). */
async function enable(ctx: NodeContext, key: SyncKey): Promise<SyncKey | undefined> {
  if (key.leader) return key;
  const written = await writeKey(ctx, ctx.name, [], 0, key.revision);
  ctx.log(written ? 'Enabled synchronous replication' : 'warning: updating the sync key failed (changed meanwhile)');
  return written;
}

function settingsOf(ctx: NodeContext) {
  return { quorumCommit: ctx.dyn.quorumCommit, syncNodeCount: ctx.dyn.syncNodeCount, maxLagOnSyncnode: ctx.dyn.maxLagOnSyncnode };
}

function logCap(ctx: NodeContext, memory: LeaderSyncMemory, state: SyncState): void {
  const eligible = state.active.length;
  const text = ctx.dyn.syncNodeCount > Math.max(eligible, 1) ? `synchronous_node_count ${ctx.dyn.syncNodeCount} is more than the ${eligible} eligible streaming standbys; using ${eligible}` : undefined;
  if (text && text !== memory.cappedLogged) ctx.log(text);
  memory.cappedLogged = text;
}

/** Quorum commit: the resolver's steps, in order; a `restart` re-reads once a second within loop_wait. */
async function processQuorum(ctx: NodeContext, snap: DcsSnapshot, memory: LeaderSyncMemory): Promise<void> {
  const start = Date.now();
  const pool = ctx.localPool();
  const minSync = ctx.dyn.synchronousModeStrict ? 1 : 0;
  let key = await enable(ctx, keyOf(snap));
  if (!key?.leader) return;
  let leader = key.leader;
  const timedOut = (offsetSeconds = 0) => Date.now() - start + offsetSeconds * 1000 >= ctx.dyn.loopWait * 1000;
  for (let pass = 0; ; pass++) {
    // a restart re-reads the members too (a standby that just connected may have published its state)
    const members = pass === 0 ? snap : await ctx.dcs.snapshot();
    const state = await memory.tracker.read(pool, ctx.name, members, settingsOf(ctx), (l) => ctx.log(l));
    logCap(ctx, memory, state);
    let steps;
    try {
      steps = quorumTransitions({
        leader, quorum: key.quorum, voters: key.voters, numsync: state.numsync, sync: state.sync,
        numsyncConfirmed: state.confirmed.length, active: state.active, syncWanted: ctx.dyn.syncNodeCount, leaderWanted: ctx.name,
      });
    } catch (e) {
      if (!(e instanceof QuorumError)) throw e;
      ctx.log(`warning: quorum state: ${e.message}`);
      return;
    }
    let last: string = 'break';
    for (const step of steps) {
      last = step.kind;
      if (timedOut()) return;
      leader = step.leader;
      if (step.kind === 'quorum') {
        ctx.log(`Setting leader to ${step.leader}, quorum to ${step.num} of ${step.names.length} (${step.names.join(', ')})`);
        const written: SyncKey | undefined = await writeKey(ctx, step.leader, step.names, step.num, key.revision);
        if (!written) return ctx.log('Synchronous replication key updated by someone else.');
        key = written;
      } else if (step.kind === 'sync') {
        ctx.log(`Setting synchronous replication to ${step.num} of ${step.names.length} (${step.names.join(', ')})`);
        let num = step.num;
        if (num < minSync) {
          ctx.log(`warning: Replication factor ${minSync + 1} requested, but ${num} synchronous standbys available. Commits will be delayed.`);
          num = minSync;
        }
        const value = await memory.tracker.write(pool, step.names, num, true);
        if (value !== undefined) ctx.log(`synchronous_standby_names: '${value}'`);
      }
    }
    if (last === 'break') {
      // nothing to change: a list written in priority form (after synchronous_mode: true) becomes ANY;
      // strict mode without any standby listed waits for any standby
      if (state.kind === 'priority' && state.sync.length) await memory.tracker.write(pool, state.sync, state.numsync, true);
      else if (minSync && !state.sync.length && !key.voters.length) await memory.tracker.write(pool, [], minSync, true);
    }
    // the list just went from empty to names: standbys need a moment to become synchronous. Patroni
    // retries for up to loop_wait; here at most RESTART_BUDGET_MILLIS, because our cycle sleeps a full
    // loop_wait after this one and the lease is renewed only at a cycle's start (the fence must not see a gap)
    if (last !== 'restart' || timedOut(1) || Date.now() - start + 1000 > RESTART_BUDGET_MILLIS) return;
    await sleep(1000);
  }
}

/** Synchronous mode (priority): name the best standbys in the GUC, then in the key once confirmed. */
async function processMultisync(ctx: NodeContext, snap: DcsSnapshot, memory: LeaderSyncMemory): Promise<void> {
  const pool = ctx.localPool();
  let key = await enable(ctx, keyOf(snap));
  if (!key) return;
  const current = await memory.tracker.read(pool, ctx.name, snap, settingsOf(ctx), (l) => ctx.log(l));
  logCap(ctx, memory, current);
  const picked = new Set(current.active);
  let allowPromote = new Set(current.confirmed);
  let voters = new Set(key.voters);
  const same = (a: ReadonlySet<string>, b: ReadonlySet<string>) => a.size === b.size && [...a].every((x) => b.has(x));

  if (key.leader !== ctx.name) {
    ctx.log(`warning: Inconsistent state of /sync key detected, leader = ${key.leader} doesn't match ${ctx.name}, updating synchronous replication key`);
    key = await writeKey(ctx, ctx.name, [], 0, key.revision);
    if (!key) return ctx.log('warning: Updating sync state failed');
    voters = new Set();
  }
  if (same(picked, voters) && !same(voters, allowPromote)) {
    ctx.log(`warning: Inconsistent state between synchronous_standby_names = ${[...allowPromote]} and /sync = ${[...voters]} key detected, updating synchronous replication key...`);
    key = await writeKey(ctx, ctx.name, [...allowPromote], 0, key.revision);
    if (!key) return ctx.log('warning: Updating sync state failed');
    voters = new Set(key.voters);
  }
  if (same(picked, voters) && same(voters, new Set(current.sync)) && current.numsync === picked.size) {
    // ANY → FIRST after switching from quorum commit
    if (current.kind === 'quorum' && picked.size) await memory.tracker.write(pool, picked, undefined, false);
    return;
  }
  // the key keeps only the standbys that stay confirmed while the GUC changes
  const common = new Set([...voters].filter((v) => allowPromote.has(v)));
  if (!same(common, voters)) {
    ctx.log(`Updating /sync key temporarily from ${[...voters]} to ${[...common]}`);
    key = await writeKey(ctx, ctx.name, [...common], 0, key.revision);
    if (!key) return ctx.log('Synchronous replication key updated by someone else.');
  }
  const strictStar = ctx.dyn.synchronousModeStrict && picked.size === 0;
  if (strictStar) ctx.log('warning: No standbys available!');
  const value = await memory.tracker.write(pool, strictStar ? ['*'] : picked, undefined, false);
  if (value !== undefined) ctx.log(`Assigning synchronous standby status to ${strictStar ? '*' : [...picked].join(', ')} (synchronous_standby_names '${value}')`);
  if (picked.size && !same(allowPromote, picked)) {
    // wait (up to 2 s, as Patroni) for PostgreSQL to report them synchronous and caught up
    for (let i = 0; i < 20 && !same(allowPromote, picked); i++) {
      await sleep(100);
      allowPromote = new Set((await memory.tracker.read(pool, ctx.name, snap, settingsOf(ctx), (l) => ctx.log(l))).confirmed);
    }
  }
  if (allowPromote.size && !same(allowPromote, common)) {
    if (await writeKey(ctx, ctx.name, [...allowPromote], 0, key.revision)) ctx.log(`Synchronous standby status assigned to ${[...allowPromote].join(', ')}`);
    else ctx.log('Synchronous replication key updated by someone else');
  }
  // a standby listed but not confirmed within the wait: look again in a second, not a whole loop_wait later
  if (picked.size && !same(allowPromote, picked)) setTimeout(() => ctx.wakeUp(), 1000).unref();
}

/**
 * Before promoting (the leader key is ours): quorum commit with a recorded quorum keeps
 * syncing to the old voters (the old leader among them) so the invariant holds from the first
 * commit, and the key is rewritten after promotion by the quorum pass; otherwise the key names
 * only us and the GUC is emptied (`*` when strict). Returns false when the key changed meanwhile.
 */
export async function syncBeforePromote(ctx: NodeContext, snap: DcsSnapshot): Promise<boolean> {
  if (!ctx.dyn.synchronousMode) return true;
  const key = keyOf(snap);
  const minSync = ctx.dyn.synchronousModeStrict ? 1 : 0;
  let names: string[] = [];
  let num = minSync;
  if (ctx.dyn.quorumCommit && key.leader) {
    const members = [key.leader, ...key.voters];
    num = members.length - key.quorum - 1;
    if (members.includes(ctx.name)) names = members.filter((m) => m !== ctx.name);
    else {
      names = members; // a node outside the voters that gathered a quorum
      num += 1;
    }
  } else if (!ctx.dyn.quorumCommit) {
    if (!(await ctx.dcs.setSync({ leader: ctx.name, sync_standby: null, quorum: 0 }, key.revision))) return false;
  }
  const value = formatStandbyNames(names, num, ctx.dyn.quorumCommit);
  await memoryOf(ctx).tracker.write(ctx.localPool(), names, num, ctx.dyn.quorumCommit).catch((e) => ctx.log(`synchronous_standby_names: ${errText(e)}`));
  ctx.log(`before promotion: synchronous_standby_names '${value}'`);
  return true;
}
