/**
 * One node's shared state and the helpers every HA action uses: the configuration, PostgreSQL,
 * the DCS, the lease keeper, the node state machine, the Patroni `state` text, whether the
 * leader key is held and whether the data directory needs pg_rewind, the dynamic settings, the
 * member-key publisher and the local connection pool. The agent (agent.ts) owns one; the
 * executor and the actions (actions/*.ts) act on it. It imports no action, so the actions can
 * import it.
 */
import pg from 'pg';
import createDebug from 'debug';
import type { DcsSnapshot, MemberData, NodeStatus } from './agent-view';
import type { PatroniNodeConfig } from './config';
import { configJson, dynamicFrom, initialDynamic, type Dynamic } from './dynamic-settings';
import { probePeer, parseConnUrl, type PeerState } from './candidate';
import { CallbackRunner } from './callbacks';
import { Dcs } from './dcs';
import { FailsafeState } from './failsafe-state';
import { LeaseKeeper } from './lease-keeper';
import { MANAGER_VERSION, readNodeStatus } from './node-status';
import { ARCHIVE_SOURCE, NodeStateMachine } from './node-state';
import { configuredTags, publishedTags } from './tags';
import { effectiveStandbyCluster } from './standby-cluster';
import { writeDynamicJson } from './dynamic-json';
import { findPgBinaries, type PgBinaries } from './pg-binaries';
import { BASE_PARAMETERS, PostgresServer, quoteConninfo, resolveServerUser, slotNameFor } from './postgres';
import { memberTags } from './member-tags';
import { sameStatus, SlotKeeper } from './slot-sync';
import type { Upstream } from './upstream';
import { buildApiUrl, buildConnUrl, DEFAULT_PRIMARY_ROLE, REPLICA_ROLE, STANDBY_LEADER_ROLE, type PrimaryRoleWord } from '../patroni-contract';

const debug = createDebug('pg-failover:manager');

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

/** Typed events of the agent. */
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

/** What the context needs from its owner. */
export interface NodeContextHooks {
  /** Emits one of the agent's events. */
  emit<E extends keyof AgentEvents>(event: E, ...args: AgentEvents[E]): void;
  /** The lease keeper decided to fence. */
  onFence(leaseAgeMillis: number, limitMillis: number): void;
}

/** One node's shared state and helpers (see the module header). */
export class NodeContext {
  /** The node configuration; POST /reload replaces it (tags take effect at once). */
  config: PatroniNodeConfig;
  readonly name: string;
  readonly scope: string;
  readonly options: AgentOptions;
  readonly postgres: PostgresServer;
  readonly dcs: Dcs;
  /** The one owner of the lease: keepalive, jitter, heartbeat, fencing watchdog. */
  readonly lease: LeaseKeeper;
  /** The node's state; its transitions fire `postgresql.callbacks` like Patroni's. */
  readonly node: NodeStateMachine;
  /** Patroni's `state` text for the member key and /patroni (`running`, `starting`, `stopped`, …). */
  state = 'stopped';
  /** True while this node holds the leader key (as far as the last compare-and-set said). */
  holdsLock = false;
  /** The data directory may have diverged from the leader (it was a primary): pg_rewind before following. */
  needsRewind = false;
  /** The agent runs (between start and stop). */
  running = false;
  dyn: Dynamic;
  /** The snapshot of the last cycle. */
  lastSnap: DcsSnapshot | undefined;
  /** A restart scheduled through POST /restart (published in the member key). */
  scheduledRestart: { at: number; timer: NodeJS.Timeout } | undefined;
  /** DCS failsafe mode: this primary's last confirmation, or the leader that pinged this replica (failsafe-state.ts). */
  readonly failsafe = new FailsafeState();
  /** The leader we are waiting on to leave recovery before pg_rewind (logged once). */
  waitingForPromotionOf: string | undefined;
  /** Replication slots (slot-sync.ts): members', permanent, ignored; and the leader's `status`. */
  readonly slotKeeper: SlotKeeper;
  readonly #hooks: NodeContextHooks;
  readonly #callbacks: CallbackRunner;
  #pool: pg.Pool | undefined;
  #warned = new Set<string>();
  /** JSON of the parameters last written to pgfailover.conf by applyParameters. */
  #appliedParameters: string | undefined;
  #wake: (() => void) | undefined;
  #wakePending = false;

  constructor(config: PatroniNodeConfig, options: AgentOptions, hooks: NodeContextHooks) {
    this.config = config;
    this.options = options;
    this.#hooks = hooks;
    this.name = config.name;
    this.scope = config.scope;
    this.#callbacks = new CallbackRunner({ scope: config.scope, commands: config.postgresql.callbacks ?? {}, log: (line) => this.log(line) });
    this.node = new NodeStateMachine(({ action, role }) => this.#callbacks.fire(action, role === 'primary' ? this.primaryRole : role === 'replica' ? REPLICA_ROLE : role));
    this.dyn = initialDynamic(config);
    this.slotKeeper = new SlotKeeper(this);
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
      ttlSeconds: this.dyn.ttl,
      callTimeoutMillis: Math.max(500, (this.dyn.retryTimeout * 1000) / 2),
      ...(etcdAuth?.password !== undefined ? { auth: { username: etcdAuth.username, password: etcdAuth.password } } : {}),
    });
    this.lease = new LeaseKeeper({
      store: this.dcs,
      timing: () => this.dyn,
      guard: () => ({ primary: this.node.role === 'primary' && this.running, holdsLock: this.holdsLock, failsafeConfirmedAt: this.failsafe.confirmedAt }),
      onFence: ({ leaseAgeMillis, limitMillis }) => this.#hooks.onFence(leaseAgeMillis, limitMillis),
    });
  }

  /** The word this node publishes for a primary. */
  get primaryRole(): PrimaryRoleWord {
    return this.options.primaryRole ?? DEFAULT_PRIMARY_ROLE;
  }

  /** Emits one of the agent's events. */
  emit<E extends keyof AgentEvents>(event: E, ...args: AgentEvents[E]): void {
    this.#hooks.emit(event, ...args);
  }

  /** Ends the local connection pool (agent stop). */
  async closePool(): Promise<void> {
    const pool = this.#pool;
    this.#pool = undefined;
    await pool?.end().catch(() => {});
  }

  /** Keeps the lease alive while a long action blocks the loop (see LeaseKeeper.withHeartbeat). */
  withHeartbeat<T>(fn: () => Promise<T>): Promise<T> {
    return this.lease.withHeartbeat(fn);
  }

  /**
   * PostgreSQL is about to be started in place: `state: starting` goes into the member key now,
   * without holding the start up. Clients that believe the key (our Pool's etcd source) then try
   * the node while it starts, instead of waiting for the key to say `running`. The returned promise
   * settles once that write is done; await it before the next publish, so the two cannot land out
   * of order.
   */
  announceStarting(): Promise<void> {
    this.state = 'starting';
    return this.publish(undefined).catch(() => {});
  }

  /** Publishes `members/<name>` (Patroni's fields) from the local status; only changed content is written. */
  async publish(local: NodeStatus | undefined): Promise<void> {
    const pgc = this.config.postgresql.connectAddress;
    const api = this.config.restapi.connectAddress;
    const role =
      this.node.role === 'primary' ? (this.options.primaryRole ?? DEFAULT_PRIMARY_ROLE) : this.node.role === 'replica' ? 'replica' : this.node.role === 'standby_leader' ? 'standby_leader' : this.node.role === 'demoted' ? 'demoted' : 'uninitialized';
    const data: MemberData = {
      conn_url: buildConnUrl(pgc.host, pgc.port),
      api_url: buildApiUrl(api.host, api.port, this.config.restapi.tls ? 'https' : 'http'),
      state: local ? this.state : this.state === 'running' ? 'crashed' : this.state,
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
    if (this.lastSnap?.config.pause === true) data.pause = true;
    if (this.scheduledRestart) data.scheduled_restart = { schedule: new Date(this.scheduledRestart.at).toISOString() };
    if (local?.pending_restart) data.pending_restart = true;
    const tags = this.tags();
    if (Object.keys(tags).length) data.tags = tags;
    await this.dcs.touchMember(data);
  }

  /** The member key's `tags` (see {@link memberTags}). */
  tags(): Record<string, unknown> {
    const t = this.config.tags;
    // read from a file: the section as given, by Patroni's rule (tags.ts); from flags: memberTags
    if (t.asGiven) return publishedTags(configuredTags(t));
    return memberTags(t);
  }

  async localStatus(): Promise<NodeStatus | undefined> {
    if (!this.postgres.isRunning()) return undefined;
    try {
      return await readNodeStatus(this.localPool(), { name: this.name, scope: this.scope, primaryRole: this.options.primaryRole ?? DEFAULT_PRIMARY_ROLE, standbyLeader: this.node.role === 'standby_leader' });
    } catch {
      return undefined;
    }
  }

  localPool(): pg.Pool {
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

  probe(data: MemberData): Promise<PeerState> {
    return probePeer(data.conn_url, { user: this.postgres.superuser, password: this.postgres.password, timeoutMillis: 2000 });
  }

  applyConfig(config: Record<string, unknown>): void {
    const { dyn, warnings } = dynamicFrom(config, this.dyn);
    // each wrong-typed setting once per value (it is re-read every cycle)
    for (const w of warnings) if (!this.#warned.has(w)) this.log(`warning: dynamic configuration: ${w}`);
    this.#warned = new Set(warnings);
    // A standby cluster has no synchronous replication (Patroni ignores synchronous_mode there).
    if (effectiveStandbyCluster({ config }, this.config.bootstrap.dcs.raw)) dyn.synchronousMode = false;
    this.dyn = dyn;
    if (this.dyn.ttl !== this.dcs.ttlSeconds) this.dcs.setTtl(this.dyn.ttl);
    this.dcs.setCallTimeout(Math.max(500, (this.dyn.retryTimeout * 1000) / 2));
    writeDynamicJson(this.postgres.dataDir, config);
  }

  /**
   * The dynamic configuration's `postgresql.parameters` (PATCH /config, edit-config) reach the running
   * server like Patroni's: written to pgfailover.conf and reloaded; a setting that needs a restart
   * then shows as `pending_restart` in /patroni (read from pg_settings).
   */
  async applyParameters(config: Record<string, unknown>): Promise<void> {
    if (!this.postgres.isRunning() || this.state !== 'running') return;
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
    await this.localPool().query('SELECT pg_reload_conf()');
    if (!first) this.log('postgresql parameters changed in the dynamic configuration: reloaded');
  }

  /** The `config` key: bootstrap.dcs as given, with the numbers and switches this agent uses typed. */
  configJson(raw: Record<string, unknown>): Record<string, unknown> {
    return configJson(raw, this.dyn);
  }

  wakeUp(): void {
    this.#wakePending = true;
    this.#wake?.();
  }

  async sleepOrWake(millis: number): Promise<void> {
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

  log(line: string): void {
    debug('%s: %s', this.name, line);
    this.options.log?.(`${this.name}: ${line}`);
  }

  /** Standby config streaming from a member (primary_conninfo + our slot), or from the archive only (nostream). Returns the source written. */
  writeStandby(to: Upstream): string {
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
      ...(this.dyn.useSlots ? { slotName: slotNameFor(this.name) } : {}),
    });
    return to.name;
  }

  /** Leader or replica: the slots Patroni 4 keeps (members', permanent, logical copies), unknown unignored ones dropped (slot-sync.ts). */
  async ensureSlots(snap: DcsSnapshot): Promise<void> {
    await this.slotKeeper.sync(snap, this.node.role === 'primary' ? 'primary' : 'replica', this.dyn.useSlots);
  }

  /** Leader: writes `status` ({optime, slots, retain_slots}) when it changed; only while `leader` is ours (compare-and-set). */
  async writeStatus(snap: DcsSnapshot, optime: number): Promise<void> {
    const value = this.slotKeeper.statusFor(snap, optime, this.dyn.useSlots);
    if (!sameStatus(snap, value)) await this.dcs.setStatus(value);
  }
}

/** A local status that says PostgreSQL runs in recovery. */
export function isReplica(s: NodeStatus): boolean {
  return s.role === REPLICA_ROLE || s.role === STANDBY_LEADER_ROLE;
}

/** A node's WAL position in bytes: flush position on a primary, max(received, replayed) on a replica. */
export function walPosition(s: NodeStatus | undefined): number | undefined {
  if (!s?.xlog) return undefined;
  if ('location' in s.xlog) return s.xlog.location;
  return Math.max(s.xlog.received_location ?? 0, s.xlog.replayed_location ?? 0);
}

/** An SQL identifier, quoted. */
export function quoteIdent(name: string): string {
  return '"' + name.replace(/"/g, '""') + '"';
}

/** An error's message for a log line. */
export function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
