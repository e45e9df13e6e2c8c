/**
 * The executor: carries out the action decide() chose, one at a time. Every action — the HA
 * cycle's, and those the REST API asks for (restart, reinitialize) — runs through
 * {@link Executor.run}, which queues it behind the one in flight, so two actions never touch
 * PostgreSQL or the leader key at once. A failed action becomes the cycle's status line.
 */
import type { DcsSnapshot, NodeStatus } from './agent-view';
import { decideAsLeader, type CycleAction, type LeaderAction, type LocalRole } from './decide';
import { errText, isReplica, type NodeContext } from './node-context';
import { recoverCrashedPrimary } from './actions/crash-recovery';
import { leaderDuties } from './actions/leader-duties';
import { becomeStandbyLeader, standbyClusterFor } from './actions/standby-leader';
import { becomePrimary, electionRound } from './actions/promote';
import { demote, switchover } from './actions/demote';
import { follow, rejoin } from './actions/replica';

/** Runs actions one at a time. */
export class Executor {
  readonly #ctx: NodeContext;
  #busy: Promise<unknown> = Promise.resolve();

  constructor(ctx: NodeContext) {
    this.#ctx = ctx;
  }

  /** Runs `fn` after the action in flight (if any); a failure becomes the line `cycle failed: …` (logged). */
  async run(fn: () => Promise<string>): Promise<string> {
    const r = await this.attempt(fn);
    return r.ok ? r.line : `cycle failed: ${errText(r.error)}`;
  }

  /**
   * Like {@link run}, but tells the caller whether `fn` failed (a REST request answers by it: a failed
   * restart is a 503, not a 200). The failure is logged as `cycle failed: …` either way.
   */
  async attempt(fn: () => Promise<string>): Promise<{ ok: true; line: string } | { ok: false; error: unknown }> {
    const p = this.#busy.then(fn, fn);
    this.#busy = p.catch(() => {});
    try {
      return { ok: true, line: await p };
    } catch (e) {
      this.#ctx.log(`cycle failed: ${errText(e)}`);
      return { ok: false, error: e };
    }
  }

  /** Carries out one cycle's action (call inside {@link run}); returns the status line. */
  execute(action: CycleAction, snap: DcsSnapshot, local: NodeStatus | undefined): Promise<string> {
    return execute(this.#ctx, action, snap, local);
  }
}

/** What decide() needs of the local status: running as a replica, as a primary, or no answer. */
export function localRoleOf(s: NodeStatus | undefined): LocalRole | undefined {
  return s ? (isReplica(s) ? 'replica' : 'primary') : undefined;
}

/** Carries out one cycle's action; returns the status line. */
export async function execute(ctx: NodeContext, action: CycleAction, snap: DcsSnapshot, local: NodeStatus | undefined): Promise<string> {
  switch (action.kind) {
    case 'keep-leader-key': {
      const keyKept = await ctx.dcs.updateLeader();
      ctx.holdsLock = keyKept;
      // Re-read the node after the compare-and-set: the fencing watchdog may have acted meanwhile.
      return executeAsLeader(ctx, decideAsLeader({ keyKept, me: ctx.name, snapshot: snap, node: ctx.node.state, local: localRoleOf(local), postgresRunning: ctx.postgres.isRunning(), standby: standbyClusterFor(ctx, snap), now: Date.now() }), snap, local);
    }
    case 'reacquire-or-demote':
      // Running as a primary without the key (e.g. it expired): take it back or step down.
      if (await ctx.dcs.attemptToAcquireLeader()) {
        ctx.holdsLock = true;
        return 'acquired the leader key again as the running primary';
      }
      await demote(ctx, 'someone else took the leader key');
      return 'demoted: no leader key';
    case 'start-read-only':
      // Nobody has led for a whole ttl (e.g. a switchover candidate died): start read-only so this node can take part.
      ctx.log('no leader for a whole ttl: starting PostgreSQL read-only to join the election');
      ctx.postgres.writeStandbyConfig({ primaryConninfo: '' });
      ctx.state = 'starting';
      await ctx.withHeartbeat(() => ctx.postgres.start());
      ctx.node.moveTo({ role: 'replica', following: undefined });
      ctx.state = 'running';
      return 'started read-only: no leader';
    case 'election':
      return electionRound(ctx, snap, local, action.named);
    case 'demote':
      await demote(ctx, action.reason);
      return action.line;
    case 'stay-stopped':
      ctx.state = 'stopped';
      return action.line;
    case 'rejoin':
      if (!(await rejoin(ctx, action.leader, action.data, action.to))) return `waiting for leader ${action.leader} to finish its promotion before rejoining`;
      return `rejoined as a replica of ${action.leader}`;
    case 'follow':
      return follow(ctx, snap, action);
    case 'idle':
      return action.line;
  }
}

/** Carries out the leader's action once its key's compare-and-set answered (or, at bootstrap, once it was taken). */
export async function executeAsLeader(ctx: NodeContext, action: LeaderAction, snap: DcsSnapshot, local: NodeStatus | undefined): Promise<string> {
  switch (action.kind) {
    case 'lost-key':
      if (action.demote) await demote(ctx, 'lost the leader key');
      return action.line;
    case 'become-primary':
      await becomePrimary(ctx, action.reason);
      return action.line;
    case 'recover-crashed-primary':
      return recoverCrashedPrimary(ctx, snap, action.startTimeoutSeconds);
    case 'become-standby-leader':
      return becomeStandbyLeader(ctx, snap, action.standby, action.line);
    case 'switchover':
      return switchover(ctx, snap, action.member);
    case 'leader-duties': {
      const line = await leaderDuties(ctx, snap, local, action.clearStaleFailover);
      return ctx.node.role === 'standby_leader' ? `no action. I am (${ctx.name}), the standby leader with the lock` : line;
    }
    case 'idle':
      return action.line;
  }
}
