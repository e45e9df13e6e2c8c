/**
 * The HA agent: one per PostgreSQL node, Patroni-compatible. It bootstraps
 * through the `/initialize` race, then runs the HA loop every `loop_wait`
 * seconds and at once when etcd reports a change of `leader`, `failover`,
 * `config`, `sync` or a member's role/state. Each cycle is one step, as
 * Patroni's `run_cycle`: load one immutable snapshot of the cluster, decide
 * (decide.ts, pure), act (executor.ts, one action at a time: actions/*.ts),
 * and return a human-readable status line.
 *
 * Where the rest lives: the node's shared state and helpers in node-context.ts,
 * its role as a union whose transitions fire the callbacks in node-state.ts,
 * the lease (keepalive, jitter, fencing watchdog) in lease-keeper.ts.
 *
 * Safety rules:
 * - the leader key is taken only by an etcd transaction on create_revision 0;
 * - a primary that has not renewed its lease for `ttl - retry_timeout` seconds
 *   stops PostgreSQL (immediate) on its own clock, before the lease can expire
 *   (fencing: no two writable primaries);
 * - a primary that finds the key held by someone else stops at once and
 *   rejoins as a replica with pg_rewind.
 *
 * The member key's `role` for a primary is `primary` (Patroni ≥ 4) unless the
 * `primaryRole: 'master'` option asks for Patroni 3's word.
 */
import { EventEmitter } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import createDebug from 'debug';
import type { AgentView, DcsSnapshot, FailoverOutcome, FailoverRequest, NodeStatus, WriteOutcome } from './agent-view';
import type { PatroniNodeConfig } from './config';
import type { Dcs } from './dcs';
import { decide } from './decide';
import { Executor, localRoleOf } from './executor';
import { errText, NodeContext, walPosition, type AgentEvents, type AgentOptions } from './node-context';
import type { AgentRole } from './node-state';
import { offlineNodeStatus, readNodeStatus } from './node-status';
import type { PostgresServer } from './postgres';
import { syncStandbyList } from './sync';
import { WriteRequests } from './write-requests';
import { checkFailoverRequest, checkRequestShape, failoverProgress } from './failover-request';
import { bootstrap } from './actions/bootstrap';
import { fence } from './actions/demote';
import { answerFailsafePost, failsafeEnabled, failsafeRound, startReadOnly, type FailsafePostAnswer } from './actions/failsafe';
import { failsafeSlotsView, withFailsafeLeader } from './failsafe';
import { clearRewindCheck } from './rewind-marker';
import { isFailoverError } from '../errors';
import { memberNameOfKey, PATRONI_KEYS } from '../patroni-contract';

export { AGENT_PARAMETERS, type AgentEvents, type AgentOptions } from './node-context';
/** What this node is doing, from the agent's point of view (see node-state.ts). */
export type { AgentRole } from './node-state';

const debug = createDebug('pg-failover:manager');
const timing = createDebug('pg-failover:manager:timing');

/**
 * A Patroni-compatible HA agent for one node.
 *
 * @example
 * const agent = Agent.create(config);
 * await agent.start();           // bootstraps or joins, then runs the HA loop
 * agent.on('promoted', ({ timeline }) => console.log('leader now, timeline', timeline));
 * await agent.stop({ release: true });
 */
export class Agent extends EventEmitter implements AgentView {
  readonly name: string;
  readonly scope: string;
  readonly namespace: string;
  readonly postgres: PostgresServer;
  readonly dcs: Dcs;
  /** The node's shared state and helpers (node-context.ts). */
  readonly #ctx: NodeContext;
  /** Runs the actions, one at a time (executor.ts). */
  readonly #executor: Executor;
  /** The REST write requests (write-requests.ts). */
  readonly #requests: WriteRequests;
  #lastCycleAt = 0;
  #loopDone: Promise<void> | undefined;
  #noLeaderSince: number | undefined;

  private constructor(config: PatroniNodeConfig, options: AgentOptions) {
    super();
    const ctx: NodeContext = new NodeContext(config, options, {
      emit: (event, ...args) => void this.emit(event, ...args),
      onFence: (age, limit) => fence(ctx, age, limit),
    });
    this.#ctx = ctx;
    this.#executor = new Executor(ctx);
    this.#requests = new WriteRequests(ctx, this.#executor);
    this.name = config.name;
    this.scope = config.scope;
    this.namespace = config.namespace;
    this.postgres = ctx.postgres;
    this.dcs = ctx.dcs;
    // Failsafe mode: a leader recorded from POST /failsafe must not outlive our own promotion (Patroni #2803).
    this.on('promoted', () => ctx.failsafe.reset());
    // A demoted primary's rewind marker (rewind-marker.ts) is done with once it follows a leader or leads.
    for (const e of ['promoted', 'following'] as const) this.on(e, () => clearRewindCheck(ctx.postgres.dataDir));
  }

  /** Creates an agent for one node; nothing runs until {@link start}. */
  static create(config: PatroniNodeConfig, options: AgentOptions = {}): Agent {
    return new Agent(config, options);
  }

  /** The node configuration; POST /reload replaces it with the file re-read (tags take effect at once). */
  get config(): PatroniNodeConfig {
    return this.#ctx.config;
  }

  set config(config: PatroniNodeConfig) {
    this.#ctx.config = config;
  }

  override on<E extends keyof AgentEvents>(event: E, listener: (...args: AgentEvents[E]) => void): this {
    return super.on(event, listener as (...args: unknown[]) => void);
  }

  override emit<E extends keyof AgentEvents>(event: E, ...args: AgentEvents[E]): boolean {
    return super.emit(event, ...args);
  }

  /** Whether the cluster was in maintenance mode (`pause`) at the last cycle. */
  get paused(): boolean {
    return this.#ctx.lastSnap?.config.pause === true;
  }

  /** What the agent thinks this node is. */
  get role(): AgentRole {
    return this.#ctx.node.role;
  }

  /**
   * Joins the cluster: bootstraps (wins `/initialize`: initdb + primary) or
   * clones from the leader, or starts an existing data directory; then starts
   * the HA loop and the fencing watchdog. Resolves once PostgreSQL runs in its role.
   */
  async start(): Promise<void> {
    if (this.#ctx.running) return;
    this.#ctx.running = true;
    // /liveness counts from here, as Patroni's does from its start: a first clone is not a stall.
    this.#lastCycleAt = Date.now();
    // Not awaited: with etcd down, creating a watch waits for it; the loop polls meanwhile.
    // Member keys are rewritten by every member every cycle: only a member that appears, goes, or
    // changes role/state wakes the loop (e.g. a replica that starts streaming can become the sync standby).
    const memberStates = new Map<string, string>();
    void this.dcs.watch((key, kind, value) => {
      let wake = key === PATRONI_KEYS.leader || key === PATRONI_KEYS.failover || key === PATRONI_KEYS.config || key === PATRONI_KEYS.sync;
      if (memberNameOfKey(key) !== undefined) {
        const state = kind === 'delete' ? undefined : memberState(value);
        wake = memberStates.get(key) !== state;
        if (state === undefined) memberStates.delete(key);
        else memberStates.set(key, state);
      }
      if (wake) {
        timing('%s: woken by %s %s', this.name, kind, key);
        this.#ctx.wakeUp();
      }
    });
    this.#ctx.lease.startWatchdog(this.#ctx.options.fenceCheckIntervalMillis ?? 100);
    try {
      await bootstrap(this.#ctx);
    } catch (e) {
      await this.stop({ release: false, stopPostgres: false });
      throw e;
    }
    this.#loopDone = this.#loop();
  }

  /**
   * Stops the agent. `release` (default true) stops PostgreSQL (fast) when it is
   * the primary, then revokes the lease so `leader` and the member key vanish at
   * once; `release: false` stops talking to etcd without any of that (like a
   * crashed manager: keys expire after `ttl`). `stopPostgres` (default = release)
   * stops PostgreSQL whatever its role.
   */
  async stop(options: { release?: boolean; stopPostgres?: boolean } = {}): Promise<void> {
    const release = options.release ?? true;
    const stopPostgres = options.stopPostgres ?? release;
    this.#ctx.running = false;
    this.#ctx.lease.stopWatchdog();
    this.#ctx.wakeUp();
    // A crash-like stop ends etcd contact at once (no renewal after this point), then lets the
    // current cycle run out (bounded) so nothing acts after stop() returns.
    if (!release) await this.dcs.close({ release: false });
    await Promise.race([this.#loopDone, sleep(release ? 10_000 : 5_000)]);
    if (stopPostgres) {
      await this.postgres.stop('fast').catch((e) => this.#ctx.log(`stop: ${errText(e)}`));
      this.#ctx.state = 'stopped';
      this.#ctx.node.moveTo({ role: 'stopped' });
    }
    if (release && this.#ctx.holdsLock) await this.dcs.releaseLeader().catch(() => false);
    this.#ctx.holdsLock = false;
    await this.dcs.close({ release });
    await this.#ctx.closePool();
  }

  // ---------------------------------------------------------------- AgentView

  isLeader(): boolean {
    return this.#ctx.holdsLock && (this.#ctx.node.role === 'primary' || this.#ctx.node.role === 'standby_leader');
  }

  lastCycleAt(): number {
    return this.#lastCycleAt;
  }

  isPaused(): boolean {
    return this.paused;
  }

  ttlSeconds(): number {
    return this.#ctx.dyn.ttl;
  }

  async status(): Promise<NodeStatus> {
    const status = await this.#status();
    return this.#ctx.failsafe.isActive(this.#ctx.dyn.ttl * 1000) ? { ...status, failsafe_mode_is_active: true } : status;
  }

  /** GET /failsafe: the `failsafe` key as last read, while failsafe mode is on (else undefined: 502). */
  failsafeTopology(): Record<string, string> | undefined {
    return failsafeEnabled(this.#ctx) ? this.#ctx.failsafe.topology : undefined;
  }

  /** POST /failsafe: a leader cut off from etcd asks this member to accept it (see actions/failsafe.ts). */
  acceptFailsafe(body: unknown): FailsafePostAnswer {
    return answerFailsafePost(this.#ctx, body);
  }

  async #status(): Promise<NodeStatus> {
    const meta = {
      name: this.name,
      scope: this.scope,
      state: this.#ctx.state,
      primaryRole: this.#ctx.primaryRole,
      tags: this.#ctx.tags(),
      dcsLastSeen: this.dcs.lastContactAt ? Math.floor(this.dcs.lastContactAt / 1000) : undefined,
      standbyLeader: this.#ctx.node.role === 'standby_leader',
      syncStandby: this.#ctx.dyn.synchronousMode && !this.#ctx.dyn.quorumCommit && syncStandbyList(this.#ctx.lastSnap?.sync?.sync_standby).includes(this.name),
      quorumStandby: this.#ctx.dyn.quorumCommit && syncStandbyList(this.#ctx.lastSnap?.sync?.sync_standby).includes(this.name),
    } as const;
    if (this.#ctx.state !== 'running' || !this.postgres.isRunning()) {
      return offlineNodeStatus({ ...meta, role: this.#ctx.node.role === 'primary' ? meta.primaryRole : this.#ctx.node.role === 'replica' || this.#ctx.node.role === 'standby_leader' ? this.#ctx.node.role : this.#ctx.node.role === 'demoted' ? 'demoted' : 'uninitialized' });
    }
    try {
      return await readNodeStatus(this.#ctx.localPool(), meta);
    } catch {
      return offlineNodeStatus({ ...meta, role: this.#ctx.node.role === 'primary' ? meta.primaryRole : this.#ctx.node.role === 'standby_leader' ? 'standby_leader' : 'replica' });
    }
  }

  cluster(): Promise<DcsSnapshot> {
    return this.dcs.snapshot();
  }

  /** Validates a switchover/failover like Patroni's API, writes `failover`, and waits for the outcome (unless scheduled). */
  async requestFailover(kind: 'switchover' | 'failover', req: FailoverRequest): Promise<FailoverOutcome> {
    const shape = checkRequestShape(kind, req);
    if (shape) return shape;
    let snap: DcsSnapshot;
    try {
      snap = await this.dcs.snapshot();
    } catch {
      return { status: 503, message: 'DCS is not accessible' };
    }
    const refused = checkFailoverRequest(kind, req, snap, { scope: this.scope, synchronousMode: this.#ctx.dyn.synchronousMode, now: Date.now() });
    if (refused) return refused;
    if (!req.scheduled_at) await this.#checkpointBeforeAnnouncing(snap);
    try {
      const written = await this.dcs.setFailover({ ...(snap.leader ? { leader: snap.leader } : {}), ...(req.candidate ? { member: req.candidate } : {}), ...(req.scheduled_at ? { scheduled_at: req.scheduled_at } : {}) }, snap.revisions.failover);
      if (!written) return { status: 503, message: 'failover key changed meanwhile (another request?); try again' };
    } catch {
      return { status: 503, message: 'DCS is not accessible' };
    }
    if (req.scheduled_at) return { status: 202, message: `${kind === 'switchover' ? 'Switchover' : 'Failover'} scheduled` };
    // Patroni's poll_failover_result: up to 2 × max(10, loop_wait) seconds.
    const deadline = Date.now() + Math.max(10, this.#ctx.dyn.loopWait) * 2 * 1000;
    while (Date.now() < deadline) {
      await sleep(200);
      const now = await this.dcs.snapshot().catch(() => undefined);
      const outcome = now && failoverProgress(kind, req, snap, now);
      if (outcome) return outcome;
    }
    return { status: 503, message: `${kind === 'switchover' ? 'Switchover' : 'Failover'} status unknown` };
  }

  /**
   * On the leader, a CHECKPOINT before the `failover` key announces the switchover. Clients that
   * hold writes from that announcement (our Pool does, so none fails) then wait only for the stop
   * and the promotion, not for a checkpoint of everything written since the last one: the leader's
   * own shutdown checkpoint finds little left to write. Bounded; a failure only costs that time back.
   */
  async #checkpointBeforeAnnouncing(snap: DcsSnapshot): Promise<void> {
    if (snap.leader !== this.name || !this.#ctx.holdsLock || this.#ctx.state !== 'running') return;
    const t0 = Date.now();
    const client = await this.#ctx.localPool().connect().catch(() => undefined);
    if (!client) return;
    try {
      await client.query('SET statement_timeout = 10000');
      await client.query('CHECKPOINT');
      this.#ctx.log(`switchover requested: checkpoint before announcing it took ${Date.now() - t0} ms`);
    } catch (e) {
      this.#ctx.log(`switchover requested: checkpoint before announcing it failed (${errText(e)}); announcing anyway`);
    } finally {
      client.release(true);
    }
  }

  // ------------------------------------------------------- REST write requests (write-requests.ts)

  /** PATCH /config (JSON merge, null deletes) or PUT /config (`replace`): compare-and-set on the key read. */
  patchConfig(patch: Record<string, unknown>, replace = false): Promise<WriteOutcome> {
    return this.#requests.patchConfig(patch, replace);
  }

  /** POST /reload: re-read the node configuration (tags, …) and wake the loop; 202 like Patroni. */
  reload(): Promise<WriteOutcome> {
    return this.#requests.reload();
  }

  /** POST /restart: restart PostgreSQL in the same role now, or at `schedule` (see WriteRequests.restart). */
  restart(req: Record<string, unknown>): Promise<WriteOutcome> {
    return this.#requests.restart(req);
  }

  /** DELETE /restart: cancel a scheduled restart. */
  cancelRestart(): Promise<WriteOutcome> {
    return this.#requests.cancelRestart();
  }

  /** POST /reinitialize: a replica wipes its data directory and clones again (a `clonefrom` member or the leader, as Patroni). */
  reinitialize(req: { force: boolean; fromLeader?: boolean }): Promise<WriteOutcome> {
    return this.#requests.reinitialize(req);
  }

  /** DELETE /switchover: cancel a scheduled switchover (compare-and-set on the request read). */
  cancelSwitchover(): Promise<WriteOutcome> {
    return this.#requests.cancelSwitchover();
  }

  // ---------------------------------------------------------------- HA loop

  async #loop(): Promise<void> {
    this.#lastCycleAt = Date.now();
    while (this.#ctx.running) {
      const line = await this.#executor.run(() => this.#cycle());
      this.#lastCycleAt = Date.now();
      if (line) {
        debug('%s: %s', this.name, line);
        this.emit('cycle', line);
      }
      if (!this.#ctx.running) break;
      await this.#ctx.sleepOrWake(this.#ctx.dyn.loopWait * 1000);
    }
  }


  /** One HA cycle: keepalive, snapshot, decide, act. Returns the status line. */
  async #cycle(): Promise<string> {
    // The lease is renewed at most once per loop_wait, like Patroni: cycles woken early by
    // watch events do not refresh it, so a dead leader's key expires as soon as Patroni's would.
    const tc = Date.now();
    if (this.#ctx.lease.due() && !(await this.#ctx.lease.renew())) return this.#dcsUnreachable();
    timing('%s: cycle: keepalive +%d', this.name, Date.now() - tc);
    let snap: DcsSnapshot;
    try {
      snap = await this.dcs.snapshot();
    } catch {
      return this.#dcsUnreachable();
    }
    this.#ctx.applyConfig(snap.config);
    this.#ctx.lastSnap = snap;
    this.#ctx.failsafe.topology = snap.failsafe;
    // etcd answers: a primary is ruled by its lease again, not by failsafe confirmations.
    if (this.#ctx.node.role === 'primary') this.#ctx.failsafe.reset();
    await this.#ctx.applyParameters(snap.config).catch((e) => this.#ctx.log(`postgresql parameters: ${errText(e)}`));
    timing('%s: cycle: snapshot +%d', this.name, Date.now() - tc);
    const local = await this.#ctx.localStatus();
    this.#ctx.failsafe.lastWalPosition = walPosition(local);
    timing('%s: cycle: local status +%d', this.name, Date.now() - tc);
    try {
      await this.#ctx.publish(local);
    } catch (e) {
      // etcd stopped answering since the snapshot: the unreachable path now, not another call's timeout later
      if (isFailoverError(e) && e.code === 'DCS_ERROR') return this.#dcsUnreachable();
      this.#ctx.log(`member key: ${errText(e)}`);
    }
    timing('%s: cycle: published +%d', this.name, Date.now() - tc);
    if (!this.#ctx.running) return 'stopping';

    // Failsafe mode: no leader key, but a leader pinged us (POST /failsafe) within ttl: it leads.
    const view = withFailsafeLeader(snap, this.name, this.#ctx.failsafe.lastLeader, Date.now(), this.#ctx.dyn.ttl * 1000);
    const { action, noLeaderSince } = decide({
      me: this.name,
      snapshot: view,
      node: this.#ctx.node.state,
      needsRewind: this.#ctx.needsRewind,
      local: localRoleOf(local),
      postgresRunning: this.postgres.isRunning(),
      settings: { ttlSeconds: this.#ctx.dyn.ttl, synchronousMode: this.#ctx.dyn.synchronousMode },
      tags: this.#ctx.config.tags,
      now: Date.now(),
      noLeaderSince: this.#noLeaderSince,
    });
    this.#noLeaderSince = noLeaderSince;
    if (action.kind !== 'keep-leader-key') this.#ctx.holdsLock = false;
    try {
      return await this.#executor.execute(action, view, local);
    } catch (e) {
      // Any etcd failure in the action (the leader key's compare-and-set …) is an unreachable DCS,
      // handled as one — never a demotion by another path (Patroni's #3572/#3687 pitfalls).
      if (isFailoverError(e) && e.code === 'DCS_ERROR') return this.#dcsUnreachable();
      throw e;
    }
  }

  /** etcd did not answer: a primary with failsafe mode on asks the members (actions/failsafe.ts); the lease watchdog fences otherwise. */
  async #dcsUnreachable(): Promise<string> {
    const age = this.#ctx.lease.leaseAgeMillis();
    const primary = this.#ctx.node.role === 'primary' && this.postgres.isRunning();
    if (primary) {
      const line = await failsafeRound(this.#ctx);
      this.#ctx.lease.check();
      if (line) return line;
    } else {
      this.#ctx.lease.check();
      if (failsafeEnabled(this.#ctx)) {
        // fenced meanwhile: read-only, as after a failsafe demotion
        await startReadOnly(this.#ctx);
        // for the `lsn` header of POST /failsafe answers
        this.#ctx.failsafe.lastWalPosition = walPosition(await this.#ctx.localStatus());
        // slots keep following the leader's positions it sent (Patroni's _sync_replication_slots(dcs_failed))
        const leader = this.#ctx.failsafe.leader(this.#ctx.dyn.ttl * 1000);
        if (leader && this.#ctx.lastSnap && this.#ctx.dyn.useSlots && this.#ctx.node.role === 'replica' && this.postgres.isRunning()) {
          await this.#ctx.ensureSlots(failsafeSlotsView(this.#ctx.lastSnap, leader)).catch((e) => this.#ctx.log(`replication slots (failsafe): ${errText(e)}`));
        }
      }
    }
    return this.#ctx.node.role === 'primary' ? `etcd unreachable (lease renewed ${age} ms ago)` : 'etcd unreachable: waiting';
  }

  /**
   * How long after the last renewal a primary fences itself: `ttl - retry_timeout`
   * (≥ `loop_wait + retry_timeout` when Patroni's rule holds), with `ttl` the
   * smaller of the configured one and the live lease's (a `ttl` change applies
   * to the next lease only).
   */
  fenceAfterMillis(): number {
    return this.#ctx.lease.fenceAfterMillis();
  }
}

/** What of a member key's value matters to the other members' decisions: role, state, streaming, tags. */
function memberState(value: string): string {
  try {
    const m = JSON.parse(value) as Record<string, unknown>;
    return JSON.stringify([m.role, m.state, m.replication_state, m.tags]);
  } catch {
    return value;
  }
}
