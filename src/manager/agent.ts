/**
 * The HA agent: one per PostgreSQL node, Patroni-compatible. It bootstraps
 * through the `/initialize` race, then runs the HA loop every `loop_wait`
 * seconds and at once when etcd reports a change of `leader`, `failover` or
 * `config`. Each cycle loads one snapshot of the cluster, decides, acts, and
 * returns a human-readable status line (Patroni's `run_cycle`).
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
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import createDebug from 'debug';
import { FailoverError } from '../errors';
import type { AgentView, DcsSnapshot, FailoverOutcome, FailoverRequest, MemberData, NodeStatus, WriteOutcome } from './agent-view';
import { patchConfig } from './config-patch';
import { numberSetting, parseBool, synchronousModeOf } from './dynamic-config';
import { isHealthiestNode, parseConnUrl, probePeer, type PeerState } from './candidate';
import type { PatroniNodeConfig } from './config';
import { CallbackRunner, splitCommandLine } from './callbacks';
import { Dcs } from './dcs';
import { MANAGER_VERSION, offlineNodeStatus, readNodeStatus } from './node-status';
import { findPgBinaries, type PgBinaries } from './pg-binaries';
import { BASE_PARAMETERS, defaultHba, PostgresServer, quoteConninfo, resolveServerUser, slotNameFor } from './postgres';
import { run } from './run';
import { syncPhysicalSlots } from './slots';
import { LeaseKeeper } from './lease-keeper';
import { ARCHIVE_SOURCE, NodeStateMachine, type AgentRole } from './node-state';
import { decide, decideAsLeader, planLeaderDuties, type CycleAction, type LeaderAction, type LocalRole } from './decide';
import { cloneSource, slotsFor, upstreamFor, type Upstream } from './upstream';
import { applyStandbyNames, chooseSyncStandby, syncCandidates, standbyNamesFor, streamingStandbys, syncStandbyList } from './sync';
import { buildApiUrl, buildConnUrl, DEFAULT_PRIMARY_ROLE, lsnToPosition, memberNameOfKey, PATRONI_KEYS, REPLICA_ROLE, STANDBY_LEADER_ROLE, type PrimaryRoleWord } from '../patroni-contract';

const debug = createDebug('pg-failover:manager');
const timing = createDebug('pg-failover:manager:timing');

/**
 * Settings the agent adds to {@link BASE_PARAMETERS} at initdb (the user's
 * parameters still win): a WAL receiver that lost its primary retries after
 * 1 s instead of 5 s, so replicas re-pointed to a new leader stream sooner.
 */
export const AGENT_PARAMETERS: Readonly<Record<string, string>> = { wal_retrieve_retry_interval: '1s' };
/** Parameters PostgresServer.start passes with -c (never written to the config file on a reload). */
const COMMAND_LINE_PARAMETERS = ['listen_addresses', 'port', 'unix_socket_directories'] as const;
/** Parameters Patroni takes from the dynamic configuration even when the node's YAML sets them (its CMDLINE_OPTIONS). */
const DCS_WINS_PARAMETERS = ['wal_level', 'hot_standby', 'max_connections', 'max_wal_senders', 'max_prepared_transactions', 'max_locks_per_transaction', 'track_commit_timestamp', 'max_replication_slots', 'max_worker_processes', 'wal_log_hints', 'wal_keep_size'] as const;

/** Options beyond the Patroni configuration. */
export interface AgentOptions {
  /** Word for a primary in the member key: `primary` (Patroni ≥ 4, default) or `master` (Patroni 3). */
  primaryRole?: PrimaryRoleWord;
  /** OS user for PostgreSQL when running as root (default `postgres` / PGFAILOVER_RUN_AS). */
  runAs?: string;
  binaries?: PgBinaries;
  /** Receives one line per decision (the cycle's status line, actions, warnings). */
  log?: (line: string) => void;
  /** Bound on bootstrap (initdb or clone). Default 300 000 ms. */
  bootstrapTimeoutMillis?: number;
  /** How often the fencing watchdog checks the lease age. Default 100 ms. */
  fenceCheckIntervalMillis?: number;
  /** Re-reads the node configuration for POST /reload (the CLI re-reads the YAML file and PATRONI_* variables). */
  reloadConfig?: () => PatroniNodeConfig;
}

/** What this node is doing, from the agent's point of view (see node-state.ts). */
export type { AgentRole } from './node-state';

/** Typed events of {@link Agent}. */
export interface AgentEvents {
  /** After every HA cycle, with its status line. */
  cycle: [line: string];
  /** This node was promoted and holds the leader key. */
  promoted: [info: { timeline: number | undefined; reason: string }];
  /** This node stopped being a writable primary (`reason`: lost the key, switchover, fenced). */
  demoted: [info: { reason: string }];
  /** The fencing watchdog stopped PostgreSQL because the lease could not be renewed in time. */
  fenced: [info: { leaseAgeMillis: number }];
  /** This replica now streams from `leader`. */
  following: [info: { leader: string }];
}

/** Dynamic settings as the cycle uses them (from the `config` key, falling back to bootstrap.dcs). */
interface Dynamic {
  ttl: number;
  loopWait: number;
  retryTimeout: number;
  maxLag: number;
  useSlots: boolean;
  usePgRewind: boolean;
  synchronousMode: boolean;
  /** `maximum_lag_on_syncnode` in bytes; ≤ 0: no bound (Patroni's default -1). */
  maxLagOnSyncnode: number;
  /** `synchronous_node_count`: how many synchronous standbys (default 1). */
  syncNodeCount: number;
}

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
  /** The node configuration; POST /reload replaces it with the file re-read (tags take effect at once). */
  config: PatroniNodeConfig;
  readonly name: string;
  readonly scope: string;
  readonly namespace: string;
  readonly postgres: PostgresServer;
  readonly dcs: Dcs;
  readonly #options: AgentOptions;
  /** The node's state; its transitions fire `postgresql.callbacks` like Patroni's. */
  readonly #node: NodeStateMachine;
  readonly #callbacks: CallbackRunner;
  #scheduledRestart: { at: number; timer: NodeJS.Timeout } | undefined;
  #warnedQuorum = false;
  /** JSON of the parameters last written to pgfailover.conf by #applyParameters. */
  #appliedParameters: string | undefined;

  get #role(): AgentRole {
    return this.#node.role;
  }

  #state = 'stopped';
  #holdsLock = false;
  #needsRewind = false;
  /** The one owner of the lease: keepalive, jitter, heartbeat, fencing watchdog. */
  readonly #lease: LeaseKeeper;
  /** The leader we are waiting on to leave recovery before pg_rewind (logged once). */
  #waitingForPromotionOf: string | undefined;
  #lastCycleAt = 0;
  #dyn: Dynamic;
  #pool: pg.Pool | undefined;
  #running = false;
  #loopDone: Promise<void> | undefined;
  #wake: (() => void) | undefined;
  #wakePending = false;
  #busy: Promise<unknown> = Promise.resolve();
  #lastSnap: DcsSnapshot | undefined;
  #noLeaderSince: number | undefined;

  private constructor(config: PatroniNodeConfig, options: AgentOptions) {
    super();
    this.config = config;
    this.#options = options;
    this.name = config.name;
    this.scope = config.scope;
    this.#callbacks = new CallbackRunner({ scope: config.scope, commands: config.postgresql.callbacks ?? {}, log: (line) => this.#log(line) });
    this.#node = new NodeStateMachine(({ action, role }) => this.#callbacks.fire(action, role === 'primary' ? (this.#options.primaryRole ?? DEFAULT_PRIMARY_ROLE) : REPLICA_ROLE));
    this.namespace = config.namespace;
    const dcsCfg = config.bootstrap.dcs;
    this.#dyn = {
      ttl: dcsCfg.ttlSeconds,
      loopWait: dcsCfg.loopWaitSeconds,
      retryTimeout: dcsCfg.retryTimeoutSeconds,
      maxLag: dcsCfg.maximumLagOnFailoverBytes,
      useSlots: dcsCfg.postgresql.useSlots,
      usePgRewind: config.postgresql.usePgRewind ?? dcsCfg.postgresql.usePgRewind,
      synchronousMode: dcsCfg.synchronousMode,
      maxLagOnSyncnode: Number(dcsCfg.raw.maximum_lag_on_syncnode ?? -1) || -1,
      syncNodeCount: Number(dcsCfg.raw.synchronous_node_count ?? 1) || 1,
    };
    const su = config.postgresql.authentication.superuser;
    this.postgres = new PostgresServer({
      dataDir: config.postgresql.dataDir,
      port: config.postgresql.listen.port,
      host: config.postgresql.connectAddress.host,
      binaries: options.binaries ?? findPgBinaries(config.postgresql.binDir ? { bindir: config.postgresql.binDir } : {}),
      user: resolveServerUser(options.runAs),
      superuser: su.username,
      ...(su.password !== undefined ? { password: su.password } : {}),
    });
    const etcdAuth = config.etcd.authentication;
    this.dcs = new Dcs({
      hosts: config.etcd.hosts,
      protocol: config.etcd.protocol,
      namespace: config.namespace,
      scope: config.scope,
      name: config.name,
      ttlSeconds: this.#dyn.ttl,
      callTimeoutMillis: Math.max(500, (this.#dyn.retryTimeout * 1000) / 2),
      ...(etcdAuth?.password !== undefined ? { auth: { username: etcdAuth.username, password: etcdAuth.password } } : {}),
    });
    this.#lease = new LeaseKeeper({
      store: this.dcs,
      timing: () => this.#dyn,
      guard: () => ({ primary: this.#role === 'primary' && this.#running, holdsLock: this.#holdsLock }),
      onFence: ({ leaseAgeMillis, limitMillis }) => this.#fence(leaseAgeMillis, limitMillis),
    });
  }

  /** Creates an agent for one node; nothing runs until {@link start}. */
  static create(config: PatroniNodeConfig, options: AgentOptions = {}): Agent {
    return new Agent(config, options);
  }

  override on<E extends keyof AgentEvents>(event: E, listener: (...args: AgentEvents[E]) => void): this {
    return super.on(event, listener as (...args: unknown[]) => void);
  }

  override emit<E extends keyof AgentEvents>(event: E, ...args: AgentEvents[E]): boolean {
    return super.emit(event, ...args);
  }

  /** Whether the cluster was in maintenance mode (`pause`) at the last cycle. */
  get paused(): boolean {
    return this.#lastSnap?.config.pause === true;
  }

  /** What the agent thinks this node is. */
  get role(): AgentRole {
    return this.#role;
  }

  /**
   * Joins the cluster: bootstraps (wins `/initialize`: initdb + primary) or
   * clones from the leader, or starts an existing data directory; then starts
   * the HA loop and the fencing watchdog. Resolves once PostgreSQL runs in its role.
   */
  async start(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
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
        this.#wakeUp();
      }
    });
    this.#lease.startWatchdog(this.#options.fenceCheckIntervalMillis ?? 100);
    try {
      await this.#bootstrap();
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
    this.#running = false;
    this.#lease.stopWatchdog();
    this.#wakeUp();
    // A crash-like stop ends etcd contact at once (no renewal after this point), then lets the
    // current cycle run out (bounded) so nothing acts after stop() returns.
    if (!release) await this.dcs.close({ release: false });
    await Promise.race([this.#loopDone, sleep(release ? 10_000 : 5_000)]);
    if (stopPostgres) {
      await this.postgres.stop('fast').catch((e) => this.#log(`stop: ${errText(e)}`));
      this.#state = 'stopped';
      this.#node.moveTo({ role: 'stopped' });
    }
    if (release && this.#holdsLock) await this.dcs.releaseLeader().catch(() => false);
    this.#holdsLock = false;
    await this.dcs.close({ release });
    const pool = this.#pool;
    this.#pool = undefined;
    await pool?.end().catch(() => {});
  }

  // ---------------------------------------------------------------- AgentView

  isLeader(): boolean {
    return this.#holdsLock && this.#role === 'primary';
  }

  lastCycleAt(): number {
    return this.#lastCycleAt;
  }

  ttlSeconds(): number {
    return this.#dyn.ttl;
  }

  async status(): Promise<NodeStatus> {
    const meta = {
      name: this.name,
      scope: this.scope,
      state: this.#state,
      primaryRole: this.#options.primaryRole ?? DEFAULT_PRIMARY_ROLE,
      tags: this.#tags(),
      dcsLastSeen: this.dcs.lastContactAt ? Math.floor(this.dcs.lastContactAt / 1000) : undefined,
      syncStandby: this.#dyn.synchronousMode && syncStandbyList(this.#lastSnap?.sync?.sync_standby).includes(this.name),
    } as const;
    if (this.#state !== 'running' || !this.postgres.isRunning()) {
      return offlineNodeStatus({ ...meta, role: this.#role === 'primary' ? meta.primaryRole : this.#role === 'replica' ? 'replica' : this.#role === 'demoted' ? 'demoted' : 'uninitialized' });
    }
    try {
      return await readNodeStatus(this.#localPool(), meta);
    } catch {
      return offlineNodeStatus({ ...meta, role: this.#role === 'primary' ? meta.primaryRole : 'replica' });
    }
  }

  cluster(): Promise<DcsSnapshot> {
    return this.dcs.snapshot();
  }

  /** Validates a switchover/failover like Patroni's API, writes `failover`, and waits for the outcome (unless scheduled). */
  async requestFailover(kind: 'switchover' | 'failover', req: FailoverRequest): Promise<FailoverOutcome> {
    if (kind === 'failover' && !req.candidate) return { status: 400, message: 'Failover could be performed only to a specific candidate' };
    if (kind === 'switchover' && !req.leader) return { status: 400, message: 'Switchover could be performed only from a specific leader' };
    let snap: DcsSnapshot;
    try {
      snap = await this.dcs.snapshot();
    } catch {
      return { status: 503, message: 'DCS is not accessible' };
    }
    if (kind === 'switchover' && !snap.leader) return { status: 412, message: 'Switchover is not possible: cluster does not have a leader' };
    if (req.leader && req.leader !== snap.leader) return { status: 412, message: `leader name does not match` };
    if (req.candidate) {
      const cand = snap.members.find((m) => m.name === req.candidate);
      if (!cand) return { status: 412, message: 'candidate does not exists' };
      if (req.candidate === snap.leader) return { status: 412, message: `Member ${req.candidate} is already the leader of cluster ${this.scope}` };
      if (cand.data.tags?.nofailover === true) return { status: 412, message: `candidate ${req.candidate} is tagged nofailover` };
      if (this.#dyn.synchronousMode && snap.sync?.leader && !syncStandbyList(snap.sync.sync_standby).includes(req.candidate)) {
        return { status: 412, message: 'candidate name does not match with sync_standby' };
      }
    } else {
      if (kind === 'switchover' && !snap.members.some((m) => m.name !== snap.leader)) return { status: 412, message: 'switchover is not possible: cluster does not have members except leader' };
      const eligible = snap.members.filter((m) => m.name !== snap.leader && m.data.tags?.nofailover !== true && m.data.state === 'running');
      if (!eligible.length) return { status: 412, message: 'Switchover is not possible: no good candidates have been found' };
    }
    if (req.scheduled_at !== undefined) {
      const at = Date.parse(req.scheduled_at);
      if (Number.isNaN(at)) return { status: 400, message: 'Unable to parse scheduled timestamp. It should be in ISO 8601 format' };
      if (at < Date.now()) return { status: 400, message: 'Cannot schedule switchover in the past' };
    }
    try {
      const written = await this.dcs.setFailover({ ...(snap.leader ? { leader: snap.leader } : {}), ...(req.candidate ? { member: req.candidate } : {}), ...(req.scheduled_at ? { scheduled_at: req.scheduled_at } : {}) }, snap.revisions.failover);
      if (!written) return { status: 503, message: 'failover key changed meanwhile (another request?); try again' };
    } catch {
      return { status: 503, message: 'DCS is not accessible' };
    }
    if (req.scheduled_at) return { status: 202, message: `${kind === 'switchover' ? 'Switchover' : 'Failover'} scheduled` };
    const deadline = Date.now() + (this.#dyn.ttl + this.#dyn.loopWait * 2 + 30) * 1000;
    while (Date.now() < deadline) {
      await sleep(200);
      const now = await this.dcs.snapshot().catch(() => undefined);
      if (!now?.leader || now.leader === snap.leader) continue;
      if (req.candidate && now.leader !== req.candidate) return { status: 503, message: `${kind === 'switchover' ? 'Switchover' : 'Failover'} failed: ${now.leader} became the leader` };
      return { status: 200, message: `Successfully ${kind === 'switchover' ? 'switched' : 'failed'} over to "${now.leader}"` };
    }
    return { status: 503, message: `${kind === 'switchover' ? 'Switchover' : 'Failover'} status unknown` };
  }

  // ---------------------------------------------------------------- bootstrap

  async #bootstrap(): Promise<void> {
    const deadline = Date.now() + (this.#options.bootstrapTimeoutMillis ?? 300_000);
    const hasData = existsSync(join(this.postgres.dataDir, 'PG_VERSION'));
    let waitingFor = 'a leader to clone from';
    while (this.#running) {
      if (Date.now() > deadline) {
        const code = waitingFor === 'etcd' ? 'DCS_ERROR' : 'TIMEOUT';
        throw new FailoverError(code, `${this.name}: bootstrap did not finish in time (waiting for ${waitingFor})`, { detail: { etcd: this.config.etcd.hosts } });
      }
      let snap: DcsSnapshot;
      try {
        if (!(await this.#lease.renew())) throw new FailoverError('DCS_ERROR', 'keepalive failed');
        snap = await this.dcs.snapshot();
      } catch {
        waitingFor = 'etcd';
        await sleep(500);
        continue;
      }
      waitingFor = 'a leader to clone from';
      this.#applyConfig(snap.config);
      if (hasData) return this.#startExisting(snap);
      if (snap.initialize === undefined) {
        if (await this.dcs.raceInitialize('')) return this.#initializeCluster();
        continue;
      }
      const source = snap.leader ? cloneSource(this.name, snap) : undefined;
      if (source) return this.#cloneFrom(source.name, source.data, source.name === snap.leader ? 'leader' : 'replica');
      await this.#publish(undefined).catch(() => {});
      this.#log(`waiting for a leader to bootstrap from`);
      await this.#sleepOrWake(1000);
    }
  }

  /** Winner of `/initialize`: initdb, start as primary, take the leader key, record the system identifier and config. */
  async #initializeCluster(): Promise<void> {
    this.#log('won the /initialize race: initializing a new cluster');
    this.#state = 'initializing new cluster';
    try {
      const dcs = this.config.bootstrap.dcs;
      await this.#withHeartbeat(() => this.postgres.initdb({
        parameters: { ...BASE_PARAMETERS, ...AGENT_PARAMETERS, ...dcs.postgresql.parameters, ...this.config.postgresql.parameters },
        hba: this.config.postgresql.pgHba ?? dcs.postgresql.pgHba ?? this.config.bootstrap.pgHba ?? defaultHba(this.postgres.password !== undefined),
        dataChecksums: true,
        extraArgs: this.config.bootstrap.initdb.filter((a) => a !== '--data-checksums' && a !== '-k'),
      }));
      this.#state = 'starting';
      await this.#withHeartbeat(() => this.postgres.start());
      if (!(await this.#lease.renew())) throw new FailoverError('DCS_ERROR', `${this.name}: etcd unreachable after initdb`);
      await this.#createReplicationUser();
      if (!(await this.dcs.attemptToAcquireLeader())) throw new FailoverError('DCS_ERROR', `${this.name}: could not take the leader key after winning /initialize`);
      this.#holdsLock = true;
      this.#node.moveTo({ role: 'primary' });
      this.#state = 'running';
      const [row] = await this.postgres.query<{ id: string }>('SELECT system_identifier::text AS id FROM pg_control_system()');
      await this.dcs.setInitialize(row!.id);
      await this.dcs.initializeConfig(this.#configJson(dcs.raw));
      const snap = await this.dcs.snapshot();
      await this.#publish(await this.#localStatus());
      const local = await this.#localStatus();
      await this.#executeAsLeader(planLeaderDuties(this.name, snap, Date.now()), snap, local);
      this.#log(`initialized a new cluster (system identifier ${row!.id})`);
    } catch (e) {
      this.#log(`bootstrap failed: ${errText(e)}; giving the /initialize race back`);
      await this.dcs.cancelInitialize('').catch(() => false);
      await this.postgres.stop('immediate').catch(() => {});
      throw e;
    }
  }

  async #createReplicationUser(): Promise<void> {
    const repl = this.config.postgresql.authentication.replication;
    await this.#createRole(repl, 'REPLICATION LOGIN');
    // Patroni's rewind user (PostgreSQL ≥ 11): a login role allowed exactly the functions pg_rewind calls
    const rewind = this.config.postgresql.authentication.rewind;
    if (rewind && (await this.#createRole(rewind, 'LOGIN'))) {
      const ident = quoteIdent(rewind.username);
      for (const fn of ['pg_ls_dir(text, boolean, boolean)', 'pg_stat_file(text, boolean)', 'pg_read_binary_file(text)', 'pg_read_binary_file(text, bigint, bigint, boolean)']) {
        await this.postgres.query(`GRANT EXECUTE ON FUNCTION pg_catalog.${fn} TO ${ident}`);
      }
    }
  }

  /** Creates a role unless it exists or is the superuser; true when created. The password never reaches a log. */
  async #createRole(cred: { username: string; password?: string }, options: string): Promise<boolean> {
    if (cred.username === this.postgres.superuser) return false;
    const exists = await this.postgres.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [cred.username]);
    if (exists.length) return false;
    const pw = cred.password !== undefined ? ` PASSWORD '${cred.password.replace(/'/g, "''")}'` : '';
    await this.postgres.query(`CREATE ROLE ${quoteIdent(cred.username)} WITH ${options}${pw}`);
    return true;
  }

  /**
   * Loser of `/initialize`: pg_basebackup from `source` (the leader or a `clonefrom` member), standby
   * config for the member we stream from (the leader, our `replicatefrom`, or the archive), start.
   */
  async #cloneFrom(source: string, data: MemberData, sourceRole: 'leader' | 'replica' = 'leader'): Promise<void> {
    const addr = parseConnUrl(data.conn_url)!;
    this.#state = 'creating replica';
    await this.#publish(undefined).catch(() => {});
    this.#log(`cloning from ${sourceRole} ${source} (${addr.host}:${addr.port})`);
    const repl = this.config.postgresql.authentication.replication;
    await this.#withHeartbeat(() => this.postgres.basebackup({ host: addr.host, port: addr.port, user: repl.username, ...(repl.password !== undefined ? { password: repl.password } : {}) }, { timeoutMillis: this.#options.bootstrapTimeoutMillis ?? 300_000 }));
    const snap = await this.dcs.snapshot().catch(() => undefined);
    const to = (snap && upstreamFor(this.name, this.config.tags, snap)) ?? { name: source, data };
    const following = this.#writeStandby(to);
    if (this.#dyn.useSlots && to !== 'archive') await this.#waitForSlot(to.data);
    this.#state = 'starting';
    await this.#withHeartbeat(() => this.postgres.start());
    this.#node.moveTo({ role: 'replica', following });
    this.#state = 'running';
    this.emit('following', { leader: to === 'archive' ? source : to.name });
  }

  /** A data directory that already exists: start it read-only (as a standby); the HA loop decides the rest. */
  async #startExisting(snap: DcsSnapshot): Promise<void> {
    const wasPrimary = !existsSync(join(this.postgres.dataDir, 'standby.signal'));
    this.#needsRewind = wasPrimary;
    if (this.postgres.isRunning()) {
      this.#node.moveTo((await this.postgres.isInRecovery().catch(() => true)) ? { role: 'replica', following: undefined } : { role: 'primary' });
      this.#state = 'running';
      return;
    }
    if (snap.leader === this.name && wasPrimary && (await this.dcs.updateLeader().catch(() => false))) {
      // Still our key: nobody else was promoted; resume as the primary.
      this.#log('restarting as the primary: the leader key is still ours');
      await this.postgres.start();
      this.#holdsLock = true;
      this.#node.moveTo({ role: 'primary' });
      this.#state = 'running';
      this.#needsRewind = false;
      return;
    }
    const leader = snap.leader && snap.leader !== this.name ? snap.members.find((m) => m.name === snap.leader) : undefined;
    if (leader?.data.conn_url) {
      await this.#rejoin(snap.leader!, leader.data, wasPrimary ? undefined : upstreamFor(this.name, this.config.tags, snap));
      return;
    }
    // No leader to follow: start read-only with no upstream; the loop may promote us.
    this.postgres.writeStandbyConfig({ primaryConninfo: '' });
    this.#state = 'starting';
    await this.postgres.start();
    this.#node.moveTo({ role: 'replica', following: undefined });
    this.#state = 'running';
  }

  // ------------------------------------------------------- REST write requests

  /** PATCH /config (JSON merge, null deletes) or PUT /config (`replace`): compare-and-set on the key read. */
  async patchConfig(patch: Record<string, unknown>, replace = false): Promise<WriteOutcome> {
    let snap: DcsSnapshot;
    try {
      snap = await this.dcs.snapshot();
    } catch {
      return { status: 503, body: 'DCS is not accessible' };
    }
    if (!replace && snap.revisions.config === '0') return { status: 503, body: 'the cluster has no dynamic configuration yet' };
    const next = replace ? { config: patch, changed: JSON.stringify(patch) !== JSON.stringify(snap.config) } : patchConfig(snap.config, patch);
    if (next.changed && !(await this.dcs.setConfig(next.config, snap.revisions.config))) return { status: 409, body: 'the configuration changed meanwhile; re-read it and try again' };
    this.#wakeUp();
    return { status: 200, body: next.config };
  }

  /** POST /reload: re-read the node configuration (tags, …) and wake the loop; 202 like Patroni. */
  async reload(): Promise<WriteOutcome> {
    if (this.#options.reloadConfig) {
      try {
        this.config = this.#options.reloadConfig();
      } catch (e) {
        this.#log(`reload: the configuration is invalid, keeping the running one: ${errText(e)}`);
        return { status: 202, body: 'reload scheduled' };
      }
    }
    this.#log('reload: configuration re-read');
    this.#wakeUp();
    return { status: 202, body: 'reload scheduled' };
  }

  /**
   * POST /restart (Patroni's body: `schedule`, `role`, `restart_pending`, `postgres_version`, `timeout`):
   * restarts PostgreSQL in the same role now, or at `schedule` (202); the conditions are checked when it
   * runs: `role` must be this node's, `restart_pending` needs a pending restart.
   */
  async restart(req: Record<string, unknown>): Promise<WriteOutcome> {
    for (const k of ['postgres_version', 'timeout']) {
      if (req[k] !== undefined) return { status: 501, body: `restart with "${k}" is not supported by this manager` };
    }
    const role = req.role === undefined ? undefined : String(req.role);
    if (role !== undefined && !['primary', 'master', 'replica'].includes(role)) return { status: 400, body: `PostgreSQL role should be either primary or replica` };
    const onlyPending = req.restart_pending === true || (typeof req.restart_pending === 'string' && /^(true|yes|on|1)$/i.test(req.restart_pending));
    const conditions = { ...(role ? { role } : {}), onlyPending };
    if (req.schedule !== undefined) {
      const at = Date.parse(String(req.schedule));
      if (Number.isNaN(at)) return { status: 400, body: 'Unable to parse scheduled timestamp. It should be in an unambiguous format, e.g. ISO 8601' };
      if (this.#scheduledRestart) return { status: 409, body: 'Cannot schedule restart: another restart is already scheduled' };
      const timer = setTimeout(() => {
        this.#scheduledRestart = undefined;
        if (!this.#running) return; // stopped meanwhile: never start PostgreSQL again
        void this.#restartIf(conditions).then((r) => this.#log(`scheduled restart: ${r.body}`));
      }, Math.max(0, at - Date.now()));
      timer.unref();
      this.#scheduledRestart = { at, timer };
      this.#wakeUp();
      return { status: 202, body: 'Restart scheduled' };
    }
    return this.#restartIf(conditions);
  }

  /** DELETE /restart: cancel a scheduled restart. */
  async cancelRestart(): Promise<WriteOutcome> {
    if (!this.#scheduledRestart) return { status: 404, body: 'no restarts are scheduled' };
    clearTimeout(this.#scheduledRestart.timer);
    this.#scheduledRestart = undefined;
    this.#wakeUp();
    return { status: 200, body: 'scheduled restart deleted' };
  }

  async #restartIf(c: { role?: string; onlyPending: boolean }): Promise<WriteOutcome> {
    const local = await this.#localStatus();
    const isPrimary = this.#role === 'primary';
    if (c.role && (c.role === 'replica') === isPrimary) return { status: 503, body: 'restart conditions are not satisfied' };
    if (c.onlyPending && local?.pending_restart !== true) return { status: 503, body: 'restart conditions are not satisfied' };
    try {
      await this.#guarded(async () => {
        this.#log('restart requested: restarting PostgreSQL');
        this.#state = 'restarting';
        await this.postgres.stop('fast');
        await this.#withHeartbeat(() => this.postgres.start());
        this.#state = 'running';
        return 'restarted PostgreSQL';
      });
    } catch (e) {
      return { status: 503, body: `restart failed: ${errText(e)}` };
    }
    return { status: 200, body: 'restarted successfully' };
  }

  /** POST /reinitialize: a replica wipes its data directory and clones again (a `clonefrom` member or the leader, as Patroni). */
  async reinitialize(req: { force: boolean; fromLeader?: boolean }): Promise<WriteOutcome> {
    if (this.#holdsLock || this.#role === 'primary') return { status: 503, body: 'I am the leader, can not reinitialize' };
    const snap = await this.dcs.snapshot().catch(() => undefined);
    const leader = snap?.leader ? snap.members.find((m) => m.name === snap.leader) : undefined;
    if (!snap?.leader || !leader?.data.conn_url) return { status: 503, body: 'Cluster has no leader, can not reinitialize' };
    const source = (req.fromLeader ? undefined : cloneSource(this.name, snap)) ?? { name: snap.leader, data: leader.data };
    void this.#guarded(async () => {
      this.#log(`reinitialize: removing the data directory and cloning from ${source.name}`);
      await this.postgres.stop('immediate').catch(() => {});
      rmSync(this.postgres.dataDir, { recursive: true, force: true });
      await this.#cloneFrom(source.name, source.data, source.name === snap.leader ? 'leader' : 'replica');
      return `reinitialized from ${source.name}`;
    });
    return { status: 200, body: 'reinitialize started' };
  }

  /** DELETE /switchover: cancel a scheduled switchover (compare-and-set on the request read). */
  async cancelSwitchover(): Promise<WriteOutcome> {
    const snap = await this.dcs.snapshot().catch(() => undefined);
    if (!snap) return { status: 503, body: 'DCS is not accessible' };
    if (!snap.failover?.scheduled_at) return { status: 404, body: 'No switchover is scheduled' };
    if (!(await this.dcs.clearFailover(snap.revisions.failover))) return { status: 409, body: 'the switchover request changed meanwhile' };
    return { status: 200, body: 'scheduled switchover deleted' };
  }

  // ---------------------------------------------------------------- HA loop

  async #loop(): Promise<void> {
    while (this.#running) {
      const line = await this.#guarded(() => this.#cycle());
      this.#lastCycleAt = Date.now();
      if (line) {
        debug('%s: %s', this.name, line);
        this.emit('cycle', line);
      }
      if (!this.#running) break;
      await this.#sleepOrWake(this.#dyn.loopWait * 1000);
    }
  }

  async #guarded(fn: () => Promise<string>): Promise<string> {
    const p = this.#busy.then(fn, fn);
    this.#busy = p.catch(() => {});
    try {
      return await p;
    } catch (e) {
      const line = `cycle failed: ${errText(e)}`;
      this.#log(line);
      return line;
    }
  }

  /** One HA cycle: keepalive, snapshot, decide, act. Returns the status line. */
  async #cycle(): Promise<string> {
    // The lease is renewed at most once per loop_wait, like Patroni: cycles woken early by
    // watch events do not refresh it, so a dead leader's key expires as soon as Patroni's would.
    const tc = Date.now();
    if (this.#lease.due() && !(await this.#lease.renew())) return this.#dcsUnreachable();
    timing('%s: cycle: keepalive +%d', this.name, Date.now() - tc);
    let snap: DcsSnapshot;
    try {
      snap = await this.dcs.snapshot();
    } catch {
      return this.#dcsUnreachable();
    }
    this.#applyConfig(snap.config);
    this.#lastSnap = snap;
    await this.#applyParameters(snap.config).catch((e) => this.#log(`postgresql parameters: ${errText(e)}`));
    timing('%s: cycle: snapshot +%d', this.name, Date.now() - tc);
    const local = await this.#localStatus();
    timing('%s: cycle: local status +%d', this.name, Date.now() - tc);
    await this.#publish(local).catch((e) => this.#log(`member key: ${errText(e)}`));
    timing('%s: cycle: published +%d', this.name, Date.now() - tc);
    if (!this.#running) return 'stopping';

    const { action, noLeaderSince } = decide({
      me: this.name,
      snapshot: snap,
      node: this.#node.state,
      needsRewind: this.#needsRewind,
      local: localRoleOf(local),
      postgresRunning: this.postgres.isRunning(),
      settings: { ttlSeconds: this.#dyn.ttl, synchronousMode: this.#dyn.synchronousMode },
      tags: this.config.tags,
      now: Date.now(),
      noLeaderSince: this.#noLeaderSince,
    });
    this.#noLeaderSince = noLeaderSince;
    if (action.kind !== 'keep-leader-key') this.#holdsLock = false;
    return this.#execute(action, snap, local);
  }

  /** Carries out one cycle's action; returns the status line. */
  async #execute(action: CycleAction, snap: DcsSnapshot, local: NodeStatus | undefined): Promise<string> {
    switch (action.kind) {
      case 'keep-leader-key': {
        if (!(await this.dcs.updateLeader())) {
          this.#holdsLock = false;
          if (this.#role === 'primary') await this.#demote('lost the leader key');
          return 'lost the leader key';
        }
        this.#holdsLock = true;
        // Re-read the node after the compare-and-set: the fencing watchdog may have acted meanwhile.
        return this.#executeAsLeader(decideAsLeader({ me: this.name, snapshot: snap, node: this.#node.state, local: localRoleOf(local), now: Date.now() }), snap, local);
      }
      case 'reacquire-or-demote':
        // Running as a primary without the key (e.g. it expired): take it back or step down.
        if (await this.dcs.attemptToAcquireLeader()) {
          this.#holdsLock = true;
          return 'acquired the leader key again as the running primary';
        }
        await this.#demote('someone else took the leader key');
        return 'demoted: no leader key';
      case 'start-read-only':
        // Nobody has led for a whole ttl (e.g. a switchover candidate died): start read-only so this node can take part.
        this.#log('no leader for a whole ttl: starting PostgreSQL read-only to join the election');
        this.postgres.writeStandbyConfig({ primaryConninfo: '' });
        this.#state = 'starting';
        await this.#withHeartbeat(() => this.postgres.start());
        this.#node.moveTo({ role: 'replica', following: undefined });
        this.#state = 'running';
        return 'started read-only: no leader';
      case 'election':
        return this.#electionRound(snap, local, action.named);
      case 'demote':
        await this.#demote(action.reason);
        return action.line;
      case 'stay-stopped':
        this.#state = 'stopped';
        return action.line;
      case 'rejoin':
        if (!(await this.#rejoin(action.leader, action.data, action.to))) return `waiting for leader ${action.leader} to finish its promotion before rejoining`;
        return `rejoined as a replica of ${action.leader}`;
      case 'follow':
        return this.#follow(snap, action);
      case 'idle':
        return action.line;
    }
  }

  /** Carries out the leader's action once its key is confirmed. */
  async #executeAsLeader(action: LeaderAction, snap: DcsSnapshot, local: NodeStatus | undefined): Promise<string> {
    switch (action.kind) {
      case 'become-primary':
        await this.#becomePrimary(action.reason);
        return action.line;
      case 'switchover':
        return this.#switchover(snap, action.member);
      case 'leader-duties':
        return this.#leaderDuties(snap, local, action.clearStaleFailover);
      case 'idle':
        return action.line;
    }
  }

  #dcsUnreachable(): string {
    const age = this.#lease.leaseAgeMillis();
    this.#lease.check();
    return this.#role === 'primary' ? `etcd unreachable (lease renewed ${age} ms ago)` : 'etcd unreachable: waiting';
  }

  /** Leader cycle: slots for members, the synchronous standby, `status` (a stale failover request cleared first). */
  async #leaderDuties(snap: DcsSnapshot, local: NodeStatus | undefined, clearStaleFailover: boolean): Promise<string> {
    // Stale or pointless request (another leader named, or us as the candidate): clear it, as Patroni does.
    if (clearStaleFailover) await this.dcs.clearFailover(snap.revisions.failover).catch(() => {});
    if (this.#dyn.useSlots) await this.#ensureSlots(snap).catch((e) => this.#log(`replication slots: ${errText(e)}`));
    if (this.#dyn.synchronousMode) await this.#manageSync(snap).catch((e) => this.#log(`synchronous standby: ${errText(e)}`));
    const optime = walPosition(local);
    if (optime !== undefined && snap.status?.optime !== optime) await this.dcs.setStatus({ optime }).catch(() => {});
    return 'no action. I am the leader with the lock';
  }

  /**
   * Leader, synchronous mode: keep one streaming standby named in both
   * `synchronous_standby_names` and `sync` (add: PostgreSQL first; remove: key first).
   */
  async #manageSync(snap: DcsSnapshot): Promise<void> {
    const pool = this.#localPool();
    const plan = chooseSyncStandby(this.name, snap, await streamingStandbys(pool, this.#dyn.maxLagOnSyncnode), this.#dyn.syncNodeCount);
    let syncRev = snap.revisions.sync;
    if (plan.current && plan.current !== plan.standby) {
      if (!(await this.dcs.setSync({ leader: this.name, sync_standby: null }, syncRev))) return; // changed under us: next cycle re-reads
      syncRev = (await this.dcs.snapshot()).revisions.sync;
    }
    if (await applyStandbyNames(pool, standbyNamesFor(plan.standby))) this.#log(`synchronous standby: ${plan.standby ?? 'none'}`);
    if (snap.sync?.leader !== this.name || (snap.sync.sync_standby ?? null) !== plan.standby || (plan.current && plan.current !== plan.standby)) {
      await this.dcs.setSync({ leader: this.name, sync_standby: plan.standby }, syncRev);
    }
  }

  /** Leader or replica: a slot for each member streaming from us (upstream.ts), other inactive ones dropped. */
  async #ensureSlots(snap: DcsSnapshot): Promise<void> {
    await syncPhysicalSlots(this.#localPool(), slotsFor(this.name, snap), slotNameFor(this.name));
  }

  /** No leader: race for the key when this replica is the healthiest; then promote. */
  async #electionRound(snap: DcsSnapshot, local: NodeStatus | undefined, named: boolean): Promise<string> {
    const myPos = walPosition(local) ?? 0;
    // The named candidate of a switchover/failover races at once, as in Patroni: the leader checked it
    // before handing over, and #waitForReplay below makes sure it has everything the leader wrote.
    const verdict = named ? { ok: true, reason: 'I am the candidate named in the failover key' } : await isHealthiestNode({
      me: this.name,
      myWalPosition: myPos,
      myPriority: this.config.tags.failoverPriority ?? 1,
      nofailover: this.config.tags.nofailover,
      maximumLagOnFailoverBytes: this.#dyn.maxLag,
      snapshot: snap,
      syncCandidates: this.#dyn.synchronousMode ? syncCandidates(snap) : undefined,
      probe: (_name, data) => this.#probe(data),
    });
    // Patroni's words for the two cases (its suite and operators grep for them)
    if (!verdict.ok) return this.config.tags.nofailover ? `following a different leader because I am not allowed to promote (${verdict.reason})` : `following a different leader because i am not the healthiest node (${verdict.reason})`;
    if (snap.failover?.member === this.name && typeof snap.status?.optime === 'number') await this.#waitForReplay(snap.status.optime);
    timing('%s: election: replayed', this.name);
    if (!(await this.dcs.attemptToAcquireLeader())) return 'no leader: lost the race for the leader key';
    timing('%s: election: acquired', this.name);
    this.#holdsLock = true;
    // A fresh lease before promoting: the last renewal may be up to loop_wait old, and the new
    // leader's fence clock starts from it.
    await this.#lease.renew();
    timing('%s: election: lease renewed', this.name);
    const fenceScript = await this.#prePromote();
    if (fenceScript) {
      this.#holdsLock = false;
      await this.dcs.releaseLeader().catch((e) => this.#log(`releasing the leader key: ${errText(e)}`));
      return `no leader: not promoting, ${fenceScript}`;
    }
    if (this.#dyn.synchronousMode) {
      // Patroni's order: the winner records itself in `sync` before promoting; no standby is synchronous yet.
      if (!(await this.dcs.setSync({ leader: this.name, sync_standby: null }, snap.revisions.sync))) {
        this.#holdsLock = false;
        await this.dcs.releaseLeader().catch(() => {});
        return 'no leader: not promoting, the sync key changed since this cycle read it';
      }
      await applyStandbyNames(this.#localPool(), '').catch((e) => this.#log(`synchronous_standby_names: ${errText(e)}`));
    }
    await this.#becomePrimary(snap.failover?.member === this.name ? 'switchover' : 'failover');
    if (snap.failover) await this.dcs.clearFailover(snap.revisions.failover).catch(() => {});
    return `promoted self to leader by acquiring session lock (${verdict.reason})`;
  }

  /**
   * Runs `postgresql.pre_promote` (if set) while the leader key is held and
   * kept alive; returns why promotion must not happen, or undefined to go on.
   * Bounded by ttl × 2 s (at least 30 s) so a hung script cannot hold the key
   * forever; Patroni waits without a bound.
   */
  async #prePromote(): Promise<string | undefined> {
    const line = this.config.postgresql.prePromote;
    if (!line) return undefined;
    const [file, ...args] = splitCommandLine(line);
    if (!file) return undefined;
    const timeoutMillis = Math.max(30_000, this.#dyn.ttl * 2000);
    this.#state = 'running pre_promote';
    try {
      await this.#withHeartbeat(() => run(file, args, { timeoutMillis }));
      this.#log(`pre_promote \`${line}\` exited with 0`);
      return undefined;
    } catch (e) {
      this.#log(`pre_promote \`${line}\` failed: ${errText(e)}; releasing the leader key`);
      return `pre_promote failed (${errText(e)})`;
    } finally {
      this.#state = 'running';
    }
  }

  /** Waits (bounded) until this replica has replayed `lsn`, so a switchover loses nothing. */
  async #waitForReplay(lsn: number): Promise<void> {
    const deadline = Date.now() + Math.max(5000, this.#dyn.retryTimeout * 1000);
    while (Date.now() < deadline) {
      const s = await this.#localStatus();
      const pos = s && s.xlog && 'replayed_location' in s.xlog ? (s.xlog.replayed_location ?? 0) : 0;
      if (pos >= lsn) return;
      await sleep(10);
    }
    this.#log(`switchover: replay did not reach ${lsn} in time; promoting anyway`);
  }

  async #becomePrimary(reason: string): Promise<void> {
    if (!this.postgres.isRunning()) {
      if (existsSync(join(this.postgres.dataDir, 'standby.signal'))) {
        this.postgres.writeStandbyConfig({ primaryConninfo: '' });
        await this.postgres.start();
      } else {
        // A stopped primary that still holds the key (after fencing): start it as it was.
        this.#log(`starting PostgreSQL as the primary again (${reason}): the leader key is still ours`);
        await this.postgres.start();
        this.#node.moveTo({ role: 'primary' });
        this.#state = 'running';
        this.#needsRewind = false;
        this.emit('promoted', { timeline: undefined, reason });
        return;
      }
    }
    timing('%s: becomePrimary: start', this.name);
    // The warm local pool: a fresh connection here cost ~90 ms under load, on the write outage's path.
    const inRecovery = (await this.#localPool().query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r')).rows[0]?.r !== false;
    timing('%s: becomePrimary: in recovery %s', this.name, inRecovery);
    if (inRecovery) {
      this.#log(`promoting (${reason})`);
      const t0 = Date.now();
      await this.#withHeartbeat(() => this.#promote());
      this.#log(`promoted in ${Date.now() - t0} ms`);
    }
    this.#node.moveTo({ role: 'primary' });
    this.#state = 'running';
    this.#needsRewind = false;
    const after = await this.#localStatus();
    // The member key first: clients that wait for role=master in it (our etcd source) switch now.
    await this.#publish(after).catch(() => {});
    if (inRecovery) await this.#recordHistory(after?.timeline, reason).catch((e) => this.#log(`history: ${errText(e)}`));
    const snap = await this.dcs.snapshot().catch(() => undefined);
    if (snap) {
      if (this.#dyn.useSlots) await this.#ensureSlots(snap).catch(() => {});
      const optime = walPosition(after);
      if (optime !== undefined) await this.dcs.setStatus({ optime }).catch(() => {});
    }
    this.emit('promoted', { timeline: after?.timeline, reason });
  }

  /**
   * Promotes the local standby through `pg_promote()` (no process to spawn),
   * waits until it has left recovery, drops the standby settings, and runs the CHECKPOINT that
   * pg_rewind needs later in the background (writes are accepted before it).
   */
  async #promote(): Promise<void> {
    const seconds = Math.max(10, this.#dyn.ttl * 2);
    // pg_promote(wait => true) checks for the end of recovery only every 100 ms; asking every 10 ms
    // ourselves ends the write outage up to ~90 ms sooner.
    const pool = this.#localPool();
    const { rows } = await pool.query<{ ok: boolean }>('SELECT pg_promote(false) AS ok');
    if (!rows[0]?.ok) throw new FailoverError('COMMAND_FAILED', `${this.name}: pg_promote() refused to promote`, { node: this.postgres.name });
    const deadline = Date.now() + seconds * 1000;
    for (;;) {
      const r = await pool.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r');
      if (r.rows[0]?.r === false) break;
      if (Date.now() > deadline) throw new FailoverError('TIMEOUT', `${this.name}: promotion did not finish within ${seconds} s`, { node: this.postgres.name });
      await sleep(10);
    }
    this.postgres.clearStandbyConfig({ keepSignal: false });
    if (this.#dyn.synchronousMode) await applyStandbyNames(this.#localPool(), '').catch((e) => this.#log(`synchronous_standby_names: ${errText(e)}`));
    void this.#localPool()
      .query('CHECKPOINT')
      .catch((e) => this.#log(`checkpoint after promotion: ${errText(e)}`));
  }

  /** Appends [old timeline, switch LSN, reason, time, new leader] from the new timeline's history file. */
  async #recordHistory(timeline: number | undefined, reason: string): Promise<void> {
    if (!timeline || timeline < 2) return;
    const file = `pg_wal/${timeline.toString(16).toUpperCase().padStart(8, '0')}.history`;
    const [row] = await this.postgres.query<{ t: string }>('SELECT pg_read_file($1) AS t', [file]);
    const lines = (row?.t ?? '').split('\n').filter((l) => /^\d+\s/.test(l));
    const last = lines[lines.length - 1];
    if (!last) return;
    const [tli, lsn, ...why] = last.split(/\s+/);
    const snap = await this.dcs.snapshot();
    // Like Patroni: [old timeline, switch LSN, the history file's reason, time, new leader].
    const history = [...snap.history, [Number(tli), lsnToPosition(lsn!), why.join(' ') || reason, new Date().toISOString(), this.name]];
    if (!(await this.dcs.setHistory(history, snap.revisions.history))) throw new FailoverError('DCS_ERROR', 'history key changed while appending to it; the next promotion record re-reads it');
  }

  /** Stops being a writable primary at once (immediate stop); the next cycles rejoin as a replica. */
  async #demote(reason: string): Promise<void> {
    this.#log(`demoting: ${reason}`);
    this.#node.moveTo({ role: 'demoted' });
    this.#holdsLock = false;
    await this.postgres.stop('immediate').catch((e) => this.#log(`demote stop: ${errText(e)}`));
    this.#state = 'stopped';
    this.#needsRewind = true;
    this.emit('demoted', { reason });
  }

  /**
   * Planned switchover, leader side: check the candidate, stop with a shutdown
   * checkpoint (fast), wait until the candidate received it, write the final
   * LSN to `status`, release the key.
   */
  async #switchover(snap: DcsSnapshot, member: string | undefined): Promise<string> {
    const syncOnly = this.#dyn.synchronousMode && snap.sync?.leader === this.name ? syncStandbyList(snap.sync.sync_standby) : undefined;
    const candidates = snap.members.filter(
      (m) => m.name !== this.name && (!member || m.name === member) && (syncOnly === undefined || syncOnly.includes(m.name)) && m.data.tags?.nofailover !== true,
    );
    let chosen: { name: string; data: MemberData; state: PeerState } | undefined;
    for (const m of candidates) {
      const state = await this.#probe(m.data);
      if (state.kind !== 'replica') continue;
      if (!chosen || (chosen.state.kind === 'replica' && state.walPosition > chosen.state.walPosition)) chosen = { ...m, state };
    }
    const mine = walPosition(await this.#localStatus()) ?? 0;
    if (!chosen || chosen.state.kind !== 'replica' || mine - chosen.state.walPosition > this.#dyn.maxLag) {
      await this.dcs.clearFailover(snap.revisions.failover).catch(() => {});
      return `switchover refused: ${member ?? 'no member'} is not a healthy replica within maximum_lag_on_failover`;
    }
    this.#log(`switchover to ${chosen.name}: stopping with a shutdown checkpoint`);
    if (!member) await this.dcs.setFailover({ leader: this.name, member: chosen.name }, snap.revisions.failover).catch(() => {});
    this.#node.moveTo({ role: 'demoted' });
    this.#state = 'stopping';
    const t0 = Date.now();
    await this.postgres.query('CHECKPOINT').catch(() => {});
    const t1 = Date.now();
    await this.postgres.stop('fast');
    const t2 = Date.now();
    this.#state = 'stopped';
    const finalLsn = await this.#checkpointLsn();
    const deadline = Date.now() + Math.max(5000, this.#dyn.retryTimeout * 1000);
    while (finalLsn !== undefined && Date.now() < deadline) {
      const s = await this.#probe(chosen.data);
      if (s.kind !== 'replica' || s.walPosition >= finalLsn) break;
      await sleep(10);
    }
    const t3 = Date.now();
    if (finalLsn !== undefined) await this.dcs.setStatus({ optime: finalLsn }).catch(() => {});
    await this.dcs.releaseLeader();
    this.#log(`switchover to ${chosen.name}: checkpoint ${t1 - t0} ms, stop ${t2 - t1} ms, candidate caught up ${t3 - t2} ms, key released ${Date.now() - t3} ms later`);
    this.#holdsLock = false;
    this.#needsRewind = true;
    this.emit('demoted', { reason: `switchover to ${chosen.name}` });
    return `switchover: released the leader key to ${chosen.name}`;
  }

  /** `Latest checkpoint location` from pg_controldata, as a byte position. */
  async #checkpointLsn(): Promise<number | undefined> {
    try {
      const { stdout } = await run(this.postgres.bin.path('pg_controldata'), ['-D', this.postgres.dataDir], { user: this.postgres.user, timeoutMillis: 10_000 });
      const m = /Latest checkpoint location:\s+([0-9A-F]+\/[0-9A-F]+)/i.exec(stdout);
      return m ? lsnToPosition(m[1]!) : undefined;
    } catch {
      return undefined;
    }
  }

  /** Replica cycle, PostgreSQL running: keep the slots of our cascade; re-point the standby config when decided. */
  async #follow(snap: DcsSnapshot, action: Extract<CycleAction, { kind: 'follow' }>): Promise<string> {
    if (this.#dyn.useSlots) await this.#ensureSlots(snap).catch((e) => this.#log(`replication slots: ${errText(e)}`)); // for our cascade
    if (!action.repoint) return action.line;
    const { to, source } = action;
    this.#node.follow(this.#writeStandby(to));
    await this.postgres.query('SELECT pg_reload_conf()');
    this.#log(to === 'archive' ? 'stopped streaming: recovering from the archive only (nostream)' : `re-pointed replication to ${source}`);
    if (to !== 'archive') this.emit('following', { leader: source });
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
  async #rejoin(leader: string, data: MemberData, to: Upstream = { name: leader, data }): Promise<boolean> {
    const addr = parseConnUrl(data.conn_url)!;
    if (this.#needsRewind) {
      const peer = await this.#probe(data);
      if (peer.kind !== 'primary') {
        if (this.postgres.isRunning()) await this.postgres.stop('fast');
        this.#state = 'stopped';
        if (this.#waitingForPromotionOf !== leader) this.#log(`waiting for ${leader} to leave recovery before pg_rewind (it is ${peer.kind})`);
        this.#waitingForPromotionOf = leader;
        return false;
      }
      this.#waitingForPromotionOf = undefined;
    }
    if (this.postgres.isRunning()) await this.postgres.stop('fast');
    if (this.#needsRewind && this.#dyn.usePgRewind) {
      this.#state = 'running pg_rewind';
      const rw = this.config.postgresql.authentication.rewind ?? this.config.postgresql.authentication.superuser;
      const conninfo = `host=${quoteConninfo(addr.host)} port=${addr.port} user=${quoteConninfo(rw.username)} dbname=postgres`;
      this.#log(`pg_rewind from ${leader}`);
      await this.#withHeartbeat(() => this.postgres.rewind(conninfo, undefined, { password: rw.password }));
      this.#needsRewind = false;
    } else if (this.#needsRewind) {
      this.#log(`rejoining ${leader} without pg_rewind (use_pg_rewind is off): PostgreSQL will refuse to follow if this node diverged`);
      this.#needsRewind = false;
    }
    const following = this.#writeStandby(to);
    if (this.#dyn.useSlots && to !== 'archive') await this.#waitForSlot(to.data);
    this.#state = 'starting';
    await this.#withHeartbeat(() => this.postgres.start());
    this.#node.moveTo({ role: 'replica', following });
    this.#state = 'running';
    // Our member key at once (not a loop later): tools and clients see the replica as soon as it streams.
    await this.#publish(await this.#localStatus()).catch(() => {});
    this.emit('following', { leader });
    return true;
  }

  /**
   * Publishes our member key and waits (bounded by two loops) until the leader
   * has created our slot, so the WAL receiver's first attempt succeeds instead
   * of retrying after wal_retrieve_retry_interval.
   */
  async #waitForSlot(leaderData: MemberData): Promise<void> {
    await this.#publish(undefined).catch(() => {});
    const addr = parseConnUrl(leaderData.conn_url);
    if (!addr) return;
    const slot = slotNameFor(this.name);
    const deadline = Date.now() + this.#dyn.loopWait * 2000 + 1000;
    while (Date.now() < deadline) {
      const client = new pg.Client({ host: addr.host, port: addr.port, user: this.postgres.superuser, password: this.postgres.password, database: 'postgres', connectionTimeoutMillis: 2000, query_timeout: 2000 });
      client.on('error', () => {});
      try {
        await client.connect();
        const { rows } = await client.query('SELECT 1 FROM pg_replication_slots WHERE slot_name = $1', [slot]);
        if (rows.length) return;
      } catch {
        /* leader busy or gone: the loop will sort it out */
      } finally {
        await client.end().catch(() => {});
      }
      await sleep(100);
    }
  }

  /** Standby config streaming from a member (primary_conninfo + our slot), or from the archive only (nostream). Returns the source written. */
  #writeStandby(to: Upstream): string {
    if (to === 'archive') {
      this.postgres.writeStandbyConfig({ primaryConninfo: '' });
      return ARCHIVE_SOURCE;
    }
    const addr = parseConnUrl(to.data.conn_url)!;
    const repl = this.config.postgresql.authentication.replication;
    let conninfo = `host=${quoteConninfo(addr.host)} port=${addr.port} user=${quoteConninfo(repl.username)}`;
    if (repl.password !== undefined) conninfo += ` password=${quoteConninfo(repl.password)}`;
    this.postgres.writeStandbyConfig({
      primaryConninfo: conninfo,
      applicationName: this.name,
      ...(this.#dyn.useSlots ? { slotName: slotNameFor(this.name) } : {}),
    });
    return to.name;
  }

  // ---------------------------------------------------------------- fencing

  /** The lease keeper decided to fence (a primary whose lease may be about to expire): stop PostgreSQL at once. */
  #fence(age: number, limit: number): void {
    this.#log(`fencing: lease not renewed for ${age} ms (limit ${limit} ms); stopping PostgreSQL`);
    this.#node.moveTo({ role: 'demoted' });
    this.#holdsLock = false;
    this.#needsRewind = true;
    this.#state = 'stopping';
    this.emit('fenced', { leaseAgeMillis: age });
    void this.postgres
      .stop('immediate')
      .catch((e) => this.#log(`fence stop: ${errText(e)}`))
      .then(() => {
        this.#state = 'stopped';
        this.emit('demoted', { reason: 'fenced: etcd unreachable' });
      });
  }

  /**
   * How long after the last renewal a primary fences itself: `ttl - retry_timeout`
   * (≥ `loop_wait + retry_timeout` when Patroni's rule holds), with `ttl` the
   * smaller of the configured one and the live lease's (a `ttl` change applies
   * to the next lease only).
   */
  fenceAfterMillis(): number {
    return this.#lease.fenceAfterMillis();
  }

  // ---------------------------------------------------------------- helpers

  /** Keeps the lease alive while a long action blocks the loop (see LeaseKeeper.withHeartbeat). */
  #withHeartbeat<T>(fn: () => Promise<T>): Promise<T> {
    return this.#lease.withHeartbeat(fn);
  }

  /** Publishes `members/<name>` (Patroni's fields) from the local status; only changed content is written. */
  async #publish(local: NodeStatus | undefined): Promise<void> {
    const pgc = this.config.postgresql.connectAddress;
    const api = this.config.restapi.connectAddress;
    const role =
      this.#role === 'primary' ? (this.#options.primaryRole ?? DEFAULT_PRIMARY_ROLE) : this.#role === 'replica' ? 'replica' : this.#role === 'demoted' ? 'demoted' : 'uninitialized';
    const data: MemberData = {
      conn_url: buildConnUrl(pgc.host, pgc.port),
      api_url: buildApiUrl(api.host, api.port),
      state: local ? this.#state : this.#state === 'running' ? 'crashed' : this.#state,
      role,
      version: MANAGER_VERSION,
    };
    if (local?.xlog) {
      if ('location' in local.xlog) data.xlog_location = local.xlog.location;
      else {
        data.xlog_location = walPosition(local);
        if (local.xlog.received_location !== undefined) data.receive_lsn = local.xlog.received_location;
        if (local.xlog.replayed_location !== undefined) data.replay_lsn = local.xlog.replayed_location;
        if (local.replication_state) data.replication_state = local.replication_state;
      }
    }
    if (local?.timeline !== undefined) data.timeline = local.timeline;
    // what patronictl reads from member keys: pause --wait waits for `pause`, flush restart looks for `scheduled_restart`
    if (this.#lastSnap?.config.pause === true) data.pause = true;
    if (this.#scheduledRestart) data.scheduled_restart = { schedule: new Date(this.#scheduledRestart.at).toISOString() };
    if (local?.pending_restart) data.pending_restart = true;
    const tags = this.#tags();
    if (Object.keys(tags).length) data.tags = tags;
    await this.dcs.touchMember(data);
  }

  #tags(): Record<string, unknown> {
    const t = this.config.tags;
    // Like Patroni, the boolean tags are published only when true (`nostream: false` is no tag)
    const custom = Object.fromEntries(Object.entries(t.custom).filter(([k, v]) => !(BOOLEAN_TAGS.has(k) && !v)));
    return {
      ...custom,
      ...(t.nofailover ? { nofailover: true } : {}),
      ...(t.noloadbalance ? { noloadbalance: true } : {}),
      ...(t.clonefrom ? { clonefrom: true } : {}),
      ...(t.replicatefrom !== undefined ? { replicatefrom: t.replicatefrom } : {}),
      ...(t.nostream ? { nostream: true } : {}),
      ...(t.nosync ? { nosync: true } : {}),
      ...(t.failoverPriority !== undefined ? { failover_priority: t.failoverPriority } : {}),
    };
  }

  async #localStatus(): Promise<NodeStatus | undefined> {
    if (!this.postgres.isRunning()) return undefined;
    try {
      return await readNodeStatus(this.#localPool(), { name: this.name, scope: this.scope, primaryRole: this.#options.primaryRole ?? DEFAULT_PRIMARY_ROLE });
    } catch {
      return undefined;
    }
  }

  #localPool(): pg.Pool {
    if (!this.#pool) {
      this.#pool = new pg.Pool({
        host: this.postgres.host,
        port: this.postgres.port,
        user: this.postgres.superuser,
        password: this.postgres.password,
        database: 'postgres',
        max: 2,
        // Kept warm across loop_wait-long sleeps: promotion runs through it, on the write outage's path.
        idleTimeoutMillis: 60_000,
        connectionTimeoutMillis: 2000,
        query_timeout: 5000,
      });
      this.#pool.on('error', () => {});
    }
    return this.#pool;
  }

  #probe(data: MemberData): Promise<PeerState> {
    return probePeer(data.conn_url, { user: this.postgres.superuser, password: this.postgres.password, timeoutMillis: 2000 });
  }

  #applyConfig(config: Record<string, unknown>): void {
    const num = numberSetting;
    const mode = synchronousModeOf(config);
    if (mode === 'quorum' && !this.#warnedQuorum) {
      this.#warnedQuorum = true;
      this.#log('synchronous_mode: quorum (quorum commit) is not supported by this manager; running without synchronous replication');
    }
    const pgc = (config.postgresql ?? {}) as Record<string, unknown>;
    this.#dyn = {
      ttl: num(config.ttl, this.#dyn.ttl),
      loopWait: num(config.loop_wait, this.#dyn.loopWait),
      retryTimeout: num(config.retry_timeout, this.#dyn.retryTimeout),
      maxLag: num(config.maximum_lag_on_failover, this.#dyn.maxLag),
      useSlots: parseBool(pgc.use_slots) ?? this.#dyn.useSlots,
      usePgRewind: parseBool(pgc.use_pg_rewind) ?? this.#dyn.usePgRewind,
      synchronousMode: mode === undefined ? this.#dyn.synchronousMode : mode === 'on',
      maxLagOnSyncnode: num(config.maximum_lag_on_syncnode, -1),
      syncNodeCount: Math.max(1, num(config.synchronous_node_count, 1)),
    };
    if (this.#dyn.ttl !== this.dcs.ttlSeconds) this.dcs.setTtl(this.#dyn.ttl);
  }

  /**
   * The dynamic configuration's `postgresql.parameters` (PATCH /config, edit-config) reach the running
   * server like Patroni's: written to pgfailover.conf and reloaded; a setting that needs a restart
   * then shows as `pending_restart` in /patroni (read from pg_settings).
   */
  async #applyParameters(config: Record<string, unknown>): Promise<void> {
    if (!this.postgres.isRunning() || this.#state !== 'running') return;
    const pgc = (config.postgresql ?? {}) as Record<string, unknown>;
    const fromDcs: Record<string, string | number | boolean> = {};
    if (pgc.parameters && typeof pgc.parameters === 'object') {
      for (const [k, v] of Object.entries(pgc.parameters as Record<string, unknown>)) if (['string', 'number', 'boolean'].includes(typeof v)) fromDcs[k] = v as string | number | boolean;
    }
    const wanted: Record<string, string | number | boolean> = { ...BASE_PARAMETERS, ...AGENT_PARAMETERS, ...fromDcs, ...this.config.postgresql.parameters };
    // The server gets these on its command line; a different value in the file would show as
    // pending_restart after the reload (PostgreSQL compares the file with the running value), which
    // Patroni's member keys do not carry (patroni-keys-parity.test.ts).
    for (const k of COMMAND_LINE_PARAMETERS) delete wanted[k];
    // Like Patroni (CMDLINE_OPTIONS): these must match on every node, so the dynamic configuration's value wins over the YAML's.
    for (const k of DCS_WINS_PARAMETERS) if (k in fromDcs) wanted[k] = fromDcs[k]!;
    const text = JSON.stringify(wanted);
    if (text === this.#appliedParameters) return;
    const first = this.#appliedParameters === undefined;
    this.#appliedParameters = text;
    if (first && Object.keys(fromDcs).length === 0) return; // nothing dynamic to apply on a fresh start
    this.postgres.writeParameters(wanted);
    await this.#localPool().query('SELECT pg_reload_conf()');
    if (!first) this.#log('postgresql parameters changed in the dynamic configuration: reloaded');
  }

  /** The `config` key: bootstrap.dcs as given, with the numbers and switches this agent uses typed. */
  #configJson(raw: Record<string, unknown>): Record<string, unknown> {
    const rawPg = (raw.postgresql && typeof raw.postgresql === 'object' ? raw.postgresql : {}) as Record<string, unknown>;
    return {
      ...raw,
      ttl: this.#dyn.ttl,
      loop_wait: this.#dyn.loopWait,
      retry_timeout: this.#dyn.retryTimeout,
      maximum_lag_on_failover: this.#dyn.maxLag,
      ...(this.#dyn.synchronousMode ? { synchronous_mode: true } : {}),
      postgresql: { ...rawPg, use_slots: this.#dyn.useSlots, use_pg_rewind: this.#dyn.usePgRewind },
    };
  }

  #wakeUp(): void {
    this.#wakePending = true;
    this.#wake?.();
  }

  async #sleepOrWake(millis: number): Promise<void> {
    if (this.#wakePending) {
      this.#wakePending = false;
      return;
    }
    await new Promise<void>((resolve) => {
      const t = setTimeout(done, millis);
      t.unref();
      function done() {
        clearTimeout(t);
        resolve();
      }
      this.#wake = done;
    });
    this.#wake = undefined;
    this.#wakePending = false;
  }

  #log(line: string): void {
    debug('%s: %s', this.name, line);
    this.#options.log?.(`${this.name}: ${line}`);
  }
}

function isReplica(s: NodeStatus): boolean {
  return s.role === REPLICA_ROLE || s.role === STANDBY_LEADER_ROLE;
}

/** What decide() needs of the local status: running as a replica, as a primary, or no answer. */
function localRoleOf(s: NodeStatus | undefined): LocalRole | undefined {
  return s ? (isReplica(s) ? 'replica' : 'primary') : undefined;
}

/** A node's WAL position in bytes: flush position on a primary, max(received, replayed) on a replica. */
function walPosition(s: NodeStatus | undefined): number | undefined {
  if (!s?.xlog) return undefined;
  if ('location' in s.xlog) return s.xlog.location;
  return Math.max(s.xlog.received_location ?? 0, s.xlog.replayed_location ?? 0);
}

/** `16/B374D848` → bytes. */

const BOOLEAN_TAGS = new Set(['nofailover', 'noloadbalance', 'clonefrom', 'nosync', 'nostream']);

function quoteIdent(name: string): string {
  return '"' + name.replace(/"/g, '""') + '"';
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
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
