/**
 * `Pool`: a drop-in for `pg.Pool` that routes each statement to the right
 * node. Internally one pg Pool per node (node-pools.ts); the router
 * (routing/router.ts) picks the node; a topology source says who is primary.
 *
 * Failover: when the primary is lost or changes, sessions to the old one are
 * retired, writes are **held** (up to `failoverTimeoutMillis`) until a new
 * primary is known, reads keep flowing to healthy standbys. A write whose
 * connection dies after it was sent is never replayed: it fails with
 * `TRANSACTION_RESOLUTION_UNKNOWN` (or, for a COMMIT on a checked-out client,
 * is resolved with pg_xact_status(): see outcome.ts).
 */
import { EventEmitter } from 'node:events';
import pg from 'pg';
import createDebug from 'debug';
import { FailoverError } from '../errors';
import { Classifier, type Analysis } from '../routing/classify';
import { needFor, ReadRouter, type RouteOverride } from '../routing/router';
import { isNoLoadBalance, nodeKey, primaryChanged, type Topology, type TopologySource } from '../topology/topology';
import { ProbeTopology } from '../topology/probe';
import { planFor, type ClientOptions } from '../client/plan';
import { parseConnectionString } from '../connection';
import { NodePools, type NodePool } from './node-pools';
import { isConnectionLoss, isReadOnlyRefusal, neverExecuted } from './error-kinds';
import { OWN_KEYS, topologyFromExtensions, validatePoolOptions, type PoolOptions, type TopologyConfig } from './options';
import { BoundClient } from './bound-client';
import { setTimeout as sleep } from 'node:timers/promises';
import { PromotionWatch } from '../topology/promotion';
import { FallbackTopology } from '../topology/fallback';
import { createTopologySource } from './topology-factory';
import { directPoolFor, pgPoolConfig } from './direct';
import { pgAloneCanServe, pgAccepts } from '../client/pg-alone';
import { CausalTracker, type ReadRequirement } from './causal';
import { STANDBY_GUARD_MILLIS, waitForReplay } from './standby-wait';
import { channelFor, nodeStats, type FailoverStats, type PoolStatsSnapshot } from './stats';
import { concealOptions, copyOptions } from '../secrets';
import { asPromiseOf, promiseClassOf, rejectedOf } from '../custom-promise';

const debug = createDebug('pg-failover:pool');
const debugRouter = createDebug('pg-failover:router');
const ROUTE = channelFor('route');

type Callback<T> = (err: Error | undefined, result?: T) => void;
/**
 * A query config with pg-failover's per-query additions: `route` overrides
 * the classifier; `after` (a token from `pool.causalToken()`) makes a read
 * wait for a standby that has replayed that position (or use the primary).
 */
export type RoutedQueryConfig<I = unknown[]> = pg.QueryConfig<I> & { route?: RouteOverride; after?: string };

/** Event payloads. */
export interface PoolEvents {
  connect: (client: pg.PoolClient) => void;
  acquire: (client: pg.PoolClient) => void;
  release: (err: Error | undefined, client: pg.PoolClient) => void;
  remove: (client: pg.PoolClient) => void;
  /** An idle session failed. Like pg.Pool's, but never thrown when nobody listens (it is logged instead). */
  error: (err: Error, client: pg.PoolClient) => void;
  primaryChanged: (info: { previous: string | undefined; current: string | undefined; source: string }) => void;
  nodeDown: (info: { node: string; reason: string }) => void;
  nodeUp: (info: { node: string }) => void;
  failoverStart: (info: { previousPrimary: string | undefined; reason: string; at: number }) => void;
  failoverEnd: (info: { primary: string; durationMillis: number }) => void;
  topologyError: (err: Error) => void;
}

const MAX_LEARNED = 10_000;
/** The requirement of every read under readFrom 'primary' (the policy alone sends it to the primary; not counted as a causal detour). */
const PRIMARY_READ: ReadRequirement = Object.freeze({ primaryOnly: false });
/** A read with nothing to respect (the node is picked first; a wait on it covers the position). */
const ANY_READ: ReadRequirement = PRIMARY_READ;
const PRIMARY_ONLY: ReadRequirement = Object.freeze({ primaryOnly: true });
/**
 * causalWaitMillis' default. On loopback a standby replays a commit within ~0.1–1 ms; on a LAN a few ms.
 * Past 20 ms a standby is lagging, and the primary answers sooner than waiting longer would.
 */
const DEFAULT_CAUSAL_WAIT_MILLIS = 20;
/** The load of a node no query has used yet. */
const IDLE: Readonly<{ busy: number }> = Object.freeze({ busy: 0 });
/** Longest a write waits at an announced switchover before going to the old primary anyway. */
const SWITCHOVER_HOLD_MILLIS = 5000;
/** Longest pause between retries of a write the primary refused as read-only (25006). */
const READ_ONLY_RETRY_MAX_MILLIS = 100;
/** Longest a readFrom 'standby' read waits for a standby that qualifies (or for its writes' position). */
const STANDBY_WAIT_MILLIS = 5000;
/** Bound on one "has the new leader left recovery yet?" check. */
const PROMOTION_CHECK_TIMEOUT_MILLIS = 1000;

export class Pool extends EventEmitter {
  /** The options as given, pg.Pool's `options` (secrets non-enumerable: password, ssl.key, a connection string with a password). */
  readonly options: PoolOptions & PgPoolDefaults;
  ending = false;
  ended = false;
  readonly #clientOptions: ClientOptions;
  readonly #classifier: Classifier;
  readonly #router: ReadRouter;
  readonly #nodes: NodePools;
  readonly #topology: TopologySource;
  readonly #learnedWrites = new Set<string>();
  readonly #down = new Map<string, number>();
  #started: Promise<void> | undefined;
  /** The topology source has started (the first query no longer needs to await it). */
  #startedOk = false;
  /** Cache for #primaryNow(): the member object last seen as primary and its key. */
  #primaryMember: object | undefined;
  #primaryKey: string | undefined;
  #failoverSince: number | undefined;
  #lastPrimary: string | undefined;
  #waiters = new Set<() => void>();
  #held = 0;
  #functionsLearned = false;
  readonly #failoverTimeoutMillis: number;
  readonly #causal: CausalTracker;
  readonly #causalWaitMillis: number;
  /** Standbys that could not run the replay wait (detected once; see standby-wait.ts). */
  readonly #noWait = new Set<string>();
  readonly #failovers: FailoverStats = { count: 0, durationsMillis: [], primaryChanges: 0 };
  readonly #switchoversWaited = new Set<string>();
  /** The router's view of a node's load: its NodePool (which carries `busy`); allocates nothing. */
  readonly #loadOf = (key: string): { busy: number } => this.#nodes.peek(key) ?? IDLE;
  /** Single plain host: everything is delegated to this pg.Pool (direct.ts). */
  readonly #direct: pg.Pool | undefined;
  /** pg-pool's `Promise` option: every promise this pool (and its checked-out clients) returns is one of these. */
  readonly #Promise: PromiseConstructorLike;

  constructor(config?: PoolOptions | string) {
    super();
    // A copy that keeps a non-enumerable password, with every secret hidden (secrets.ts).
    const o: PoolOptions = concealOptions(typeof config === 'string' ? { connectionString: config } : copyOptions(config));
    validatePoolOptions(o);
    this.options = withPgPoolDefaults(o);
    this.#Promise = promiseClassOf(o);
    this.#failoverTimeoutMillis = o.failoverTimeoutMillis ?? 30_000;

    const clientOptions: ClientOptions = {};
    for (const [k, v] of Object.entries(o)) if (!(OWN_KEYS as readonly string[]).includes(k)) (clientOptions as Record<string, unknown>)[k] = v;
    if (o.password !== undefined) clientOptions.password = o.password; // hidden again below
    clientOptions.connectionString = o.connectionString;
    clientOptions.env = o.env;
    clientOptions.connect_timeout = o.connect_timeout;
    if (o.connect_timeout === undefined && o.connectionTimeoutMillis === undefined) clientOptions.connectionTimeoutMillis = 5000;
    this.#clientOptions = concealOptions(clientOptions);
    // One plain host that pg alone can serve (pg-alone.ts): a pg.Pool with the options as given, pg's parsing and defaults.
    const alone = pgAloneCanServe(clientOptions) && pgAccepts(pgPoolConfig(o) as pg.ClientConfig);
    let plan: ReturnType<typeof planFor>;
    let parsed: ReturnType<typeof parseConnectionString>;
    let planError: unknown;
    try {
      plan = planFor(clientOptions); // validates the connection string now, like pg
      parsed = parseConnectionString(o.connectionString ?? '', { env: o.env ?? process.env });
    } catch (e) {
      if (!alone) throw e;
      planError = e;
      // pg's own form (pg://, socket:, ?ssl=true …): libpq's rules do not apply, pg.Pool serves it as is.
      plan = planFor({ ...clientOptions, connectionString: undefined, env: {} });
      parsed = parseConnectionString('', { env: {} });
    }
    const tsa = o.target_session_attrs ?? parsed.target_session_attrs;
    this.#direct = alone ? directPoolFor(o, 1, parsed) : directPoolFor(o, plan.hosts.length, parsed);
    if (!this.#direct && planError !== undefined) throw planError; // pg's form, but routing options need libpq's
    if (this.#direct) this.#wireDirect(this.#direct);
    const readFrom =
      o.readFrom ?? (tsa === 'primary' || tsa === 'read-write' ? 'primary' : tsa === 'standby' || tsa === 'read-only' ? 'standby' : 'prefer-standby');
    this.#router = new ReadRouter({
      readFrom,
      balance: o.load_balance_hosts ?? (parsed.load_balance_hosts === 'random' ? 'random' : 'least-busy'),
      maxReplicaLagBytes: o.maxReplicaLagBytes,
      maxReplicaLagMillis: o.maxReplicaLagMillis,
    });
    this.#causalWaitMillis = o.causalWaitMillis ?? DEFAULT_CAUSAL_WAIT_MILLIS;
    const waitOnStandby = this.#causalWaitMillis > 0 && (o.readFrom ?? 'prefer-standby') === 'prefer-standby';
    this.#causal = new CausalTracker(o.readYourWrites, {
      primaryLsn: async () => {
        const p = this.#topology.current()?.primary;
        if (!p) throw new FailoverError('NO_PRIMARY', 'no primary known');
        const { rows } = await this.#nodes.get(nodeKey(p)).pool.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn');
        return rows[0].lsn;
      },
      replayLsn: async (key) => {
        const { rows } = await this.#nodes.get(key).pool.query<{ lsn: string | null }>('SELECT pg_last_wal_replay_lsn()::text AS lsn');
        return rows[0].lsn;
      },
      standbys: () => (this.#topology.current()?.members ?? []).filter((m) => m.role === 'standby' && m.state !== 'unreachable' && !isNoLoadBalance(m)).map(nodeKey),
    }, { waitOnStandby });
    this.#classifier = o.classifier ?? new Classifier({ readOnlyFunctions: o.readOnlyFunctions, writeFunctions: o.writeFunctions });

    const pgPoolKeys = ['max', 'min', 'idleTimeoutMillis', 'maxUses', 'allowExitOnIdle', 'maxLifetimeSeconds', 'log', 'Promise'] as const;
    const poolPart: Record<string, unknown> = {};
    for (const k of pgPoolKeys) if (o[k as keyof PoolOptions] !== undefined) poolPart[k] = o[k as keyof PoolOptions];
    const indexOf = (host: string, port: number) => {
      const i = plan.hosts.findIndex((h) => h.host === host && h.port === port);
      return i < 0 ? 0 : i;
    };
    this.#nodes = new NodePools({
      configFor: ({ host, port }) => ({ ...plan.configFor(indexOf(host, port)), ...poolPart, Client: o.Client } as pg.PoolConfig),
      forward: (event, node, ...args) => this.#forward(event, node, args),
    });

    const topo: TopologyConfig | TopologySource = o.topology ?? topologyFromExtensions(parsed.extensions) ?? { source: 'probe' };
    const probing = () =>
      new ProbeTopology({
        hosts: plan.hosts,
        configFor: (h) => plan.configFor(indexOf(h.host, h.port)),
        recheckIntervalMillis: (topo as { recheckIntervalMillis?: number }).recheckIntervalMillis ?? o.recheckIntervalMillis,
        probeTimeoutMillis: (topo as { probeTimeoutMillis?: number }).probeTimeoutMillis,
        Client: o.Client as typeof pg.Client | undefined,
      });
    const managed = (source: TopologySource): TopologySource =>
      o.fallbackToProbingMillis === false ? source : new FallbackTopology(source, { probe: probing, silentAfterMillis: o.fallbackToProbingMillis ?? 3000 });
    this.#topology =
      typeof (topo as TopologySource).start === 'function'
        ? (topo as TopologySource)
        : (topo as TopologyConfig).source === 'probe'
          ? probing()
          : new PromotionWatch(managed(createTopologySource(topo as TopologyConfig)), { isWritable: (m) => this.#acceptsWrites(nodeKey(m)) });
    this.#topology.on('change', (next, previous) => this.#onTopology(next, previous));
    this.#topology.on('error', (err) => {
      debug('topology source %s: %s', this.#topology.name, err.message);
      this.#announce('topologyError', err);
    });
  }

  /** Asks the node itself (a pooled session, bounded by PROMOTION_CHECK_TIMEOUT_MILLIS) whether it left recovery. */
  async #acceptsWrites(key: string): Promise<boolean> {
    if (this.ending) return false;
    const check = this.#nodes.get(key).pool.query<{ r: boolean }>('SELECT pg_catalog.pg_is_in_recovery() AS r');
    const { rows } = await within(check, PROMOTION_CHECK_TIMEOUT_MILLIS, () => new Error('promotion check timed out'));
    return rows[0]?.r === false;
  }

  #wireDirect(d: pg.Pool): void {
    for (const event of ['connect', 'acquire', 'release', 'remove'] as const) d.on(event, (...args: unknown[]) => this.emit(event, ...args));
    d.on('error', (err: Error, client: pg.PoolClient) => {
      // pg.Pool would crash an app without an 'error' listener here; we never do.
      if (this.listenerCount('error')) this.emit('error', err, client);
      else debug('idle session failed: %s', err.message);
    });
    // pg.Pool's `ending` / `ended` flags, read through.
    Object.defineProperty(this, 'ending', { get: () => d.ending, set: () => {}, enumerable: true });
    Object.defineProperty(this, 'ended', { get: () => d.ended, set: () => {}, enumerable: true });
  }

  // ---- pg.Pool's counters -------------------------------------------------
  get totalCount(): number {
    if (this.#direct) return this.#direct.totalCount;
    return this.#nodes.sum((p) => p.totalCount);
  }
  get idleCount(): number {
    if (this.#direct) return this.#direct.idleCount;
    return this.#nodes.sum((p) => p.idleCount);
  }
  get waitingCount(): number {
    if (this.#direct) return this.#direct.waitingCount;
    return this.#nodes.sum((p) => p.waitingCount) + this.#held;
  }
  /** @internal pg-pool's list of sessions (some libraries and tests reach into it). */
  get _clients(): pg.PoolClient[] {
    if (this.#direct) return (this.#direct as unknown as { _clients: pg.PoolClient[] })._clients;
    return [...this.#nodes.values()].flatMap((np) => (np.pool as unknown as { _clients: pg.PoolClient[] })._clients);
  }
  get expiredCount(): number {
    if (this.#direct) return (this.#direct as unknown as { expiredCount: number }).expiredCount;
    return this.#nodes.sum((p) => (p as unknown as { expiredCount?: number }).expiredCount ?? 0);
  }

  /** The topology as last seen (who is primary, standbys, lag). */
  get topology(): Topology | undefined {
    return this.#topology.current();
  }

  // ---- query ---------------------------------------------------------------
  query<R extends pg.QueryResultRow = any, I = any[]>(config: string | RoutedQueryConfig<I>, values?: I): Promise<pg.QueryResult<R>>;
  query<R extends pg.QueryResultRow = any, I = any[]>(config: string | RoutedQueryConfig<I>, callback: Callback<pg.QueryResult<R>>): void;
  query<R extends pg.QueryResultRow = any, I = any[]>(config: string | RoutedQueryConfig<I>, values: I, callback: Callback<pg.QueryResult<R>>): void;
  query(config: unknown, values?: unknown, callback?: unknown): Promise<pg.QueryResult> | void {
    // eslint-disable-next-line prefer-rest-params
    if (this.#direct) return (this.#direct.query as (...a: unknown[]) => Promise<pg.QueryResult> | void)(...arguments);
    if (typeof config === 'function') {
      const err = new FailoverError('INVALID_OPTION', 'Passing a function as the first parameter to pool.query is not supported');
      if (typeof values === 'function') {
        setImmediate(() => (values as Callback<never>)(err));
        return;
      }
      return rejectedOf(this.#Promise, err);
    }
    if (typeof values === 'function') {
      callback = values;
      values = undefined;
    }
    const q: RoutedQueryConfig = typeof config === 'string' ? { text: config } : { ...(config as RoutedQueryConfig) };
    if (values !== undefined) q.values = values as unknown[];
    const p = this.#query(q, typeof config === 'string');
    if (typeof callback !== 'function') return asPromiseOf(this.#Promise, p);
    p.then(
      (r) => (callback as Callback<pg.QueryResult>)(undefined, r),
      (e) => (callback as Callback<pg.QueryResult>)(e),
    );
  }

  /**
   * `plain`: the caller passed SQL text (and values), not a config object. Then pg gets
   * (text, values) too: pg copies every config object it is given with property
   * descriptors (pg/lib/utils.js cloneQueryConfig): measured 3–5 µs of client CPU per point select.
   */
  #query(q: RoutedQueryConfig, plain = false): Promise<pg.QueryResult> {
    if (this.ending) return Promise.reject(new FailoverError('POOL_ENDED', 'Cannot use a pool after calling end on the pool'));
    if (!this.#startedOk) return this.#start().then(() => this.#route(q, plain));
    try {
      return this.#route(q, plain);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Classifies and sends to the right node (not async itself: one promise less per query). */
  #route(q: RoutedQueryConfig, plain: boolean): Promise<pg.QueryResult> {
    const text = typeof q.text === 'string' ? q.text : '';
    const a = this.#classifier.analyze(text);
    let pgConfig: pg.QueryConfig = q;
    const { route, after } = q;
    if ('route' in q || 'after' in q) {
      const { route: _r, after: _a, ...rest } = q;
      pgConfig = rest;
    }
    const learned = this.#learnedWrites.size > 0 && this.#learnedWrites.has(text);
    const need = needFor(a, route, learned);
    if (debugRouter.enabled) debugRouter('%s → %s (%s)', shorten(text), need.role, need.why);
    if (ROUTE.hasSubscribers) ROUTE.publish({ pool: this, text, role: need.role, why: need.why });
    if (need.role !== 'read') return this.#write(pgConfig, plain);
    // readFrom 'primary': every read sees every write already; no position to track (a token is still checked).
    const req = this.#router.policy.readFrom === 'primary' && after === undefined ? PRIMARY_READ : this.#causal.requirement(after);
    return this.#read(pgConfig, text, req, plain);
  }

  async #read(q: pg.QueryConfig, text: string, req: ReadRequirement, plain = false): Promise<pg.QueryResult> {
    let tried: Set<string> | undefined;
    const retries = this.options.readRetries ?? 2;
    // Read-your-writes, waiting on a standby: learn the writes' position (one fetch shared by every read
    // waiting for it), then read on a standby that has replayed it or waits for it (below).
    if (req.pending) req = await this.#learnPosition(req);
    let onPrimary = false;
    for (let attempt = 0; ; attempt++) {
      // Fast path (readFrom 'primary', or a read that must see this process's last writes): no await.
      const fast =
        onPrimary || (!tried && (this.#router.policy.readFrom === 'primary' || (req.primaryOnly && this.#router.policy.readFrom !== 'standby'))) ? this.#primaryNow() : undefined;
      if (fast && req.primaryOnly) this.#causal.stats.readsSentToPrimary++;
      const waitFor = !onPrimary && req.minLsn !== undefined && this.#causal.waitsOnStandby ? req.minLsn : undefined;
      const key = fast ?? this.#standbyNow(tried, req) ?? (await this.readNode(tried, waitFor !== undefined ? ANY_READ : req));
      let np: NodePool;
      try {
        np = this.#nodes.get(key);
        np.busy++;
      } catch (err) {
        throw err;
      }
      try {
        if (waitFor !== undefined && this.#needsWait(key, waitFor) && !(await this.#caughtUp(key, waitFor))) {
          // Behind: wait there (unless it cannot run the wait), else the primary.
          const r = this.#noWait.has(key) ? undefined : await this.#readAfterWait(np, key, q, plain, waitFor);
          if (r) {
            np.reads++;
            return r;
          }
          onPrimary = true; // the standby did not get there within the bound: the primary has the writes
          this.#causal.stats.readsSentToPrimary++;
          continue;
        }
        if (waitFor !== undefined) this.#causal.used();
        const result = await (plain ? np.pool.query(q.text, q.values) : np.pool.query(q));
        np.reads++;
        return result;
      } catch (err) {
        np.errors++;
        if (isReadOnlyRefusal(err)) {
          this.rememberWrite(text, key);
          return this.#write(q, plain);
        }
        if (isConnectionLoss(err) && attempt < retries) {
          this.markDown(key, err as Error);
          (tried ??= new Set()).add(key);
          continue;
        }
        throw this.#wrap(err, key);
      } finally {
        np.busy--;
      }
    }
  }

  async #write(q: pg.QueryConfig, plain = false): Promise<pg.QueryResult> {
    const deadline = Date.now() + this.#failoverTimeoutMillis;
    let refusals = 0;
    for (;;) {
      if (this.#topology.current()?.switchoverPending) await this.#switchoverGate(deadline);
      const key = this.#primaryNow() ?? (await this.primaryNode(deadline));
      const np = this.#nodes.get(key);
      let client: pg.PoolClient;
      try {
        client = await np.pool.connect();
      } catch (err) {
        // Never sent: safe to try again on whoever is primary next.
        this.markDown(key, err as Error);
        if (Date.now() >= deadline) throw this.#timeout(err);
        continue;
      }
      np.busy++;
      try {
        const result = await (plain ? client.query(q.text, q.values) : client.query(q));
        np.writes++;
        // Reads waiting on standbys need this write's position: ask it on this session now, then release it.
        const asked = this.#causal.noteWriteAt(() => positionOn(client));
        if (!asked) {
          client.release();
          this.noteWrite();
        }
        return result;
      } catch (err) {
        np.errors++;
        if (isReadOnlyRefusal(err)) {
          // Still (or again) in recovery — a leader promoting, or a demoted one: nothing was written.
          // Re-check the topology and try again shortly; no 1 s "down" penalty, which would delay the
          // first write to a primary whose promotion completes a moment later.
          client.release();
          this.#topology.refresh(`${key} refused a write (SQLSTATE 25006)`);
          refusals++;
          if (Date.now() >= deadline) throw this.#timeout(err);
          await sleep(Math.min(READ_ONLY_RETRY_MAX_MILLIS, 5 * 2 ** refusals));
          continue;
        }
        if (neverExecuted(err)) {
          // The server died before it had the statement: nothing was written. Send it to the next primary.
          client.release(err as Error);
          this.markDown(key, err as Error);
          debug('write never reached %s (%s): retrying on the next primary', key, (err as Error).message);
          continue;
        }
        if (isConnectionLoss(err)) {
          client.release(err as Error);
          this.markDown(key, err as Error);
          throw new FailoverError(
            'TRANSACTION_RESOLUTION_UNKNOWN',
            `the connection to the primary ${key} was lost while a write was in flight; it may or may not have been applied (not retried)`,
            { cause: err, node: key },
          );
        }
        client.release();
        throw err;
      } finally {
        np.busy--;
      }
    }
  }

  // ---- connect (checked-out client) ----------------------------------------
  connect(): Promise<BoundClient & pg.PoolClient>;
  connect(callback: (err: Error | undefined, client?: BoundClient & pg.PoolClient, done?: (release?: unknown) => void) => void): void;
  connect(callback?: (err: Error | undefined, client?: BoundClient & pg.PoolClient, done?: (release?: unknown) => void) => void): Promise<BoundClient & pg.PoolClient> | void {
    // eslint-disable-next-line prefer-rest-params
    if (this.#direct) return (this.#direct.connect as (...a: unknown[]) => Promise<BoundClient & pg.PoolClient> | void)(...arguments);
    const p = (async () => {
      if (this.ending) throw new FailoverError('POOL_ENDED', 'Cannot use a pool after calling end on the pool');
      await this.#start();
      return new BoundClient(this, this.#classifier) as BoundClient & pg.PoolClient;
    })();
    if (!callback) return asPromiseOf(this.#Promise, p);
    p.then(
      (c) => callback(undefined, c, (err?: unknown) => c.release(err as Error)),
      (e) => callback(e),
    );
  }

  // ---- end -----------------------------------------------------------------
  end(): Promise<void>;
  end(callback: () => void): void;
  end(callback?: () => void): Promise<void> | void {
    // eslint-disable-next-line prefer-rest-params
    if (this.#direct) return (this.#direct.end as (...a: unknown[]) => Promise<void> | void)(...arguments);
    const p = (async () => {
      if (this.ending) throw new FailoverError('POOL_ENDED', 'Called end on pool more than once');
      this.ending = true;
      this.#causal.close();
      for (const w of this.#waiters) w();
      await this.#topology.close().catch(() => {});
      await this.#nodes.end();
      this.ended = true;
    })();
    if (!callback) return asPromiseOf(this.#Promise, p);
    p.then(
      () => callback(),
      () => callback(),
    );
  }

  // ---- internals shared with BoundClient -------------------------------------

  /** @internal The `Promise` option's constructor (BoundClient returns its promises too). */
  get promiseClass(): PromiseConstructorLike {
    return this.#Promise;
  }

  /** @internal The session pool of a node. */
  nodePool(key: string): NodePool {
    return this.#nodes.get(key);
  }

  /** The writes' position for a read that may wait on a standby; when it cannot be learnt (no primary, slow), the read goes as before. */
  async #learnPosition(req: ReadRequirement): Promise<ReadRequirement> {
    try {
      return await within(this.#causal.settle(req.minLsn), this.#failoverTimeoutMillis, () => new FailoverError('TIMEOUT', 'the WAL position of the last writes could not be learnt'));
    } catch {
      return req.minLsn !== undefined ? { primaryOnly: true, minLsn: req.minLsn } : PRIMARY_ONLY;
    }
  }

  /** The shared look at a standby's replay position (CausalTracker.caughtUp), bounded like the wait: a hung standby is a lost one. */
  #caughtUp(key: string, minLsn: bigint): Promise<boolean> {
    const ms = this.#causalWaitMillis + STANDBY_GUARD_MILLIS;
    return within(this.#causal.caughtUp(key, minLsn), ms, () => new FailoverError('TIMEOUT', `standby ${key} did not tell its replay position within ${ms} ms`, { node: key }));
  }

  /** A standby not known to have replayed `minLsn`. */
  #needsWait(key: string, minLsn: bigint): boolean {
    return key !== this.#lastPrimary && !this.#causal.knows(key, minLsn);
  }

  /**
   * Waits on the standby's own session (standby-wait.ts) for `minLsn`, then runs the read there.
   * Undefined: the standby did not get there within causalWaitMillis, or cannot run the wait
   * (then it is never asked again) — the caller reads on the primary. A lost or hung session
   * rejects like a read on it would (the session is destroyed).
   */
  async #readAfterWait(np: NodePool, key: string, q: pg.QueryConfig, plain: boolean, minLsn: bigint): Promise<pg.QueryResult | undefined> {
    const client = await np.pool.connect();
    let broken: Error | undefined;
    try {
      this.#causal.stats.standbyWaits++;
      let reached: bigint | null;
      try {
        reached = await waitForReplay(client, minLsn, this.#causalWaitMillis);
      } catch (err) {
        if (isConnectionLoss(err)) {
          if (!(err instanceof pg.DatabaseError)) broken = err as Error; // a server shutting down keeps its session usable until it closes
          throw err; // the read loop moves on
        }
        this.#noWait.add(key);
        this.#causal.stats.standbyWaitUnsupported++;
        debugRouter('standby %s cannot run the replay wait (%s): its reads after writes go as without it', key, (err as Error).message);
        return undefined;
      }
      if (reached === null) return undefined; // no longer in recovery (promoted): the topology will say so
      this.#causal.observe(key, reached);
      if (reached < minLsn) {
        this.#causal.stats.standbyWaitTimeouts++;
        return undefined;
      }
      this.#causal.used();
      try {
        return await (plain ? client.query(q.text, q.values) : client.query(q));
      } catch (err) {
        if (isConnectionLoss(err) && !(err instanceof pg.DatabaseError)) broken = err as Error;
        throw err;
      }
    } finally {
      client.release(broken);
    }
  }

  /**
   * @internal A node for a read (standby by policy, or the primary when
   * allowed), honouring read-your-writes (`req`). Waits for a primary when
   * that is the only option.
   */
  async readNode(exclude?: ReadonlySet<string>, req: ReadRequirement = { primaryOnly: false }): Promise<string> {
    // Checked-out clients do not wait on a standby: a read whose writes have no known position yet goes to the primary.
    if (req.pending) req = { primaryOnly: true, ...(req.minLsn !== undefined ? { minLsn: req.minLsn } : {}) };
    const standbyOnly = this.#router.policy.readFrom === 'standby';
    if (this.#router.policy.readFrom === 'primary') return this.primaryNode(Date.now() + this.#failoverTimeoutMillis);
    if (req.primaryOnly && !standbyOnly) {
      const p = this.#topology.current()?.primary;
      if (p && !this.#isDown(nodeKey(p))) {
        this.#causal.stats.readsSentToPrimary++;
        return this.primaryNode(Date.now() + this.#failoverTimeoutMillis);
      }
      // No usable primary (a failover): this process's last writes cannot be located; rather than hold
      // reads until a new primary appears, read on from standbys, best effort (counted).
      this.#causal.stats.readsBestEffort++;
      req = { primaryOnly: false };
    }
    if (req.primaryOnly && standbyOnly) req = await this.#settle(req);
    const skipFor = (): ReadonlySet<string> | undefined => {
      // The common case (no retry, nothing down, no position to respect) allocates nothing.
      if (!exclude?.size && this.#down.size === 0 && req.minLsn === undefined) return undefined;
      const skip = new Set([...(exclude ?? []), ...this.#downKeys()]);
      // Read-your-writes holds while the primary can serve the reads that standbys cannot; with the primary
      // down (a failover) reads go on from standbys, best effort, rather than stopping.
      const primary = this.#topology.current()?.primary;
      const primaryUsable = primary !== undefined && !skip.has(nodeKey(primary));
      if (req.minLsn !== undefined && primaryUsable) {
        const t = this.#topology.current();
        for (const m of t?.members ?? []) {
          const k = nodeKey(m);
          if (m.role !== 'primary' && !skip.has(k) && !this.#causal.standbyHas(k, req.minLsn)) skip.add(k);
        }
      }
      return skip;
    };
    const load = this.#loadOf;
    const key = this.#router.pick(this.#topology.current(), load, skipFor());
    if (key) {
      if (req.minLsn !== undefined && key === this.#lastPrimary) this.#causal.stats.readsSentToPrimary++;
      return key;
    }
    if (standbyOnly) {
      // Give the topology (or a lagging standby) a moment, then fail clearly.
      const deadline = Date.now() + Math.min(this.#failoverTimeoutMillis, STANDBY_WAIT_MILLIS);
      while (Date.now() < deadline && !this.ending) {
        // Waiting for a standby to replay a position: its replay is polled (skipFor → standbyHas) every few ms.
        // Otherwise no standby qualifies at all: ask the topology again.
        if (req.minLsn === undefined) this.#topology.refresh('a read needs a standby');
        await this.#waitForChange(Math.min(deadline - Date.now(), req.minLsn === undefined ? 20 : 3));
        const k = this.#router.pick(this.#topology.current(), load, skipFor());
        if (k) return k;
      }
      throw new FailoverError('NO_STANDBY', 'no healthy standby qualifies for this read (readFrom: standby); check maxReplicaLag*, readYourWrites, or the standbys', {
        detail: { members: this.#topology.current()?.members.map((m) => `${m.name}:${m.role}/${m.state}`) },
      });
    }
    return this.primaryNode(Date.now() + this.#failoverTimeoutMillis);
  }

  /**
   * The common read, decided without awaiting: a first attempt, nothing marked down, no
   * position to respect, and a node the router picks. Anything else → undefined (readNode).
   */
  #standbyNow(tried: ReadonlySet<string> | undefined, req: ReadRequirement): string | undefined {
    if (tried || req.primaryOnly || req.pending || req.minLsn !== undefined || this.#down.size > 0 || this.ending || this.#router.policy.readFrom === 'primary') return undefined;
    return this.#router.pick(this.#topology.current(), this.#loadOf);
  }

  /**
   * readFrom 'standby' and this pool's last writes have no known position yet: learn it
   * (bounded; with the primary gone the guarantee becomes best effort, see CausalTracker).
   */
  async #settle(req: ReadRequirement): Promise<ReadRequirement> {
    const ms = Math.min(this.#failoverTimeoutMillis, STANDBY_WAIT_MILLIS);
    return within(
      this.#causal.settle(req.minLsn),
      ms,
      () => new FailoverError('NO_STANDBY', `the WAL position of this pool's last writes could not be learnt within ${ms} ms, so no standby can be shown to have them (readFrom: standby, readYourWrites)`),
    );
  }

  /** The primary's key when one is known, usable and no failover is being closed; else undefined (take the slow path). */
  #primaryNow(): string | undefined {
    if (this.ending || this.#failoverSince !== undefined) return undefined;
    const p = this.#topology.current()?.primary;
    if (!p) return undefined;
    const key = p === this.#primaryMember ? this.#primaryKey! : nodeKey(p);
    this.#primaryMember = p;
    this.#primaryKey = key;
    return this.#down.size > 0 && this.#isDown(key) ? undefined : key;
  }

  /** @internal The primary, holding the caller while none is known (until the deadline). */
  async primaryNode(deadline: number): Promise<string> {
    let held = false;
    try {
      for (;;) {
        if (this.ending) throw new FailoverError('POOL_ENDED', 'the pool was ended while a query waited for a primary');
        const p = this.#topology.current()?.primary;
        const key = p ? nodeKey(p) : undefined;
        if (key && !this.#isDown(key)) {
          if (this.#failoverSince !== undefined) this.#endFailover(key);
          return key;
        }
        this.#beginFailover(key ? `primary ${key} is unreachable` : 'no primary known');
        const left = deadline - Date.now();
        if (left <= 0) throw this.#timeout(undefined);
        if (!held) {
          held = true;
          this.#held++;
          const hold = channelFor('hold');
          if (hold.hasSubscribers) hold.publish({ pool: this, reason: key ? `primary ${key} is unreachable` : 'no primary known' });
        }
        this.#topology.refresh('a write is waiting for a primary');
        await this.#waitForChange(Math.min(left, 250));
      }
    } finally {
      if (held) this.#held--;
    }
  }

  /**
   * While a planned switchover is announced (etcd's `failover` key) and the
   * old primary still leads, new writes wait — so none is in flight when it
   * shuts down — for at most SWITCHOVER_HOLD_MILLIS (a refused switchover
   * must not stall writes for long).
   */
  async #switchoverGate(deadline: number): Promise<void> {
    const t = this.#topology.current();
    if (!t?.switchoverPending || !t.primary) return;
    const which = `${nodeKey(t.primary)}→${t.switchoverPending.candidate ?? ''}`;
    if (this.#switchoversWaited.has(which)) return; // waited once already and it did not happen: do not stall again
    const since = Date.now();
    const until = Math.min(deadline, since + SWITCHOVER_HOLD_MILLIS);
    const old = nodeKey(t.primary);
    debug('switchover announced (candidate %s): holding writes to %s', t.switchoverPending.candidate ?? 'any', old);
    this.#held++;
    try {
      while (!this.ending) {
        const now = this.#topology.current();
        if (!now?.switchoverPending || !now.primary || nodeKey(now.primary) !== old) break;
        if (Date.now() >= until) {
          if (this.#switchoversWaited.size > 100) this.#switchoversWaited.clear();
          this.#switchoversWaited.add(which);
          break;
        }
        await this.#waitForChange(until - Date.now());
      }
    } finally {
      this.#held--;
    }
  }

  /** @internal A checked-out client about to bind to the primary passes the same switchover gate as a write. */
  switchoverGate(deadline: number): Promise<void> {
    return this.#topology.current()?.switchoverPending ? this.#switchoverGate(deadline) : Promise.resolve();
  }

  /** @internal A node failed a connection or refused a write: avoid it briefly and re-check topology now. */
  /** Emits a Pool event and publishes it on its diagnostics_channel (`pg-failover:<event>`, see stats.ts). */
  #announce(event: 'primaryChanged' | 'failoverStart' | 'failoverEnd' | 'nodeDown' | 'nodeUp' | 'topologyError', payload: object): void {
    if (event !== 'topologyError' || this.listenerCount(event)) this.emit(event, payload);
    const ch = channelFor(event);
    if (ch.hasSubscribers) ch.publish(event === 'topologyError' ? { pool: this, error: payload } : { pool: this, ...payload });
  }

  /**
   * A snapshot for dashboards (cheap: what the pool already knows, no query): sessions,
   * every node's role, state, lag, sessions and statement counts, failovers and their
   * durations, read-your-writes counters.
   */
  stats(): PoolStatsSnapshot<Pool['causalStats']> {
    const t = this.#topology.current();
    const f = this.#failovers;
    return {
      totalCount: this.totalCount,
      idleCount: this.idleCount,
      waitingCount: this.waitingCount,
      primary: t?.primary ? nodeKey(t.primary) : undefined,
      source: t?.source,
      nodes: nodeStats(t, this.#nodes.values()),
      failovers: { count: f.count, durationsMillis: [...f.durationsMillis], primaryChanges: f.primaryChanges, ...(this.#failoverSince !== undefined ? { inProgressSince: this.#failoverSince } : {}) },
      causal: this.causalStats,
    };
  }

  markDown(key: string, err: Error): void {
    const wasDown = this.#isDown(key);
    this.#down.set(key, Date.now() + 1000);
    if (!wasDown) {
      debug('node %s marked down: %s', key, err.message);
      this.#announce('nodeDown', { node: key, reason: err.message });
      if (this.#lastPrimary === key) this.#nodes.retire(key, 'primary unreachable');
    }
    this.#topology.refresh(`${key}: ${err.message}`);
  }

  /** @internal A standby refused this text as a write: remember it and re-check the node's role. */
  rememberWrite(text: string, key: string): void {
    if (this.#learnedWrites.size >= MAX_LEARNED) this.#learnedWrites.clear();
    this.#learnedWrites.add(text);
    debugRouter('standby %s refused a write; will send this text to the primary from now on: %s', key, shorten(text));
    this.#topology.refresh(`${key} refused a write (SQLSTATE 25006)`);
  }

  /** @internal Something that may have written ran on the primary (read-your-writes bookkeeping). */
  noteWrite(): void {
    this.#causal.noteWrite(this.#router.policy.readFrom !== 'primary');
  }

  /** @internal What a read must respect now (read-your-writes). */
  readRequirement(after?: string): ReadRequirement {
    return this.#causal.requirement(after);
  }

  /**
   * An opaque token covering every write this pool has completed. Pass it as
   * `{ text, after: token }` (here, in another request or another process's
   * pool) to read from a node that has seen those writes.
   */
  causalToken(): Promise<string> {
    return this.#causal.token();
  }

  /**
   * Narrows read-your-writes to a scope, e.g. one HTTP request: reads inside `fn` must see
   * the writes made inside it (on any await chain it starts), not every write of the pool,
   * so reads of requests that wrote nothing go to standbys even while other requests keep
   * writing. Outside any scope the guarantee stays pool-wide. Returns what `fn` returns.
   *
   * `options.after`: a token from {@link causalToken} (e.g. carried by the previous request
   * in a header or cookie) that every read in the scope must also respect; a malformed one
   * throws INVALID_OPTION before `fn` runs. `pg-failover/express` wraps both directions.
   *
   * ```ts
   * app.use((req, res, next) => pool.causalScope(next));
   * ```
   */
  causalScope<T>(fn: () => T, options?: { after?: string }): T {
    return this.#causal.scope(fn, options?.after);
  }

  /** Read-your-writes counters: WAL position fetches, standby replay polls, reads sent to the primary to stay causal. */
  get causalStats(): Readonly<CausalTracker['stats']> {
    return { ...this.#causal.stats };
  }

  /** @internal */
  isLearnedWrite(text: string): boolean {
    return this.#learnedWrites.has(text);
  }

  /** @internal */
  get failoverTimeoutMillis(): number {
    return this.#failoverTimeoutMillis;
  }

  /** @internal */
  get resolveCommitOutcome(): boolean {
    return this.options.resolveCommitOutcome ?? true;
  }

  #isDown(key: string): boolean {
    const until = this.#down.get(key);
    if (until === undefined) return false;
    if (Date.now() < until) return true;
    this.#down.delete(key);
    return false;
  }

  #downKeys(): string[] {
    if (this.#down.size === 0) return [];
    return [...this.#down.keys()].filter((k) => this.#isDown(k));
  }

  #start(): Promise<void> {
    if (!this.#started) {
      this.#started = this.#topology.start().then(
        (t) => {
          this.#onTopology(t, undefined);
          this.#startedOk = true;
        },
        (err) => {
          // The source keeps trying; queries will hold or fail on their own deadlines.
          debug('topology source failed to start: %s', (err as Error).message);
        },
      );
    }
    return this.#started;
  }

  #onTopology(next: Topology, previous: Topology | undefined): void {
    for (const w of this.#waiters) w();
    const key = next.primary ? nodeKey(next.primary) : undefined;
    if (key && this.#down.has(key) && next.source === 'probe') this.#down.delete(key); // the probe just reached it
    if (primaryChanged(previous, next) || key !== this.#lastPrimary) {
      const old = this.#lastPrimary;
      if (old !== key) {
        this.#lastPrimary = key;
        if (old !== undefined || previous) {
          debug('primary changed: %s → %s (%s)', old ?? 'none', key ?? 'none', next.source);
          this.#failovers.primaryChanges++;
          this.#announce('primaryChanged', { previous: old, current: key, source: next.source });
        }
        // Sessions to the old primary may be on a node that is now a standby, or gone: close them.
        if (old !== undefined) this.#nodes.retire(old, 'no longer the primary', { abortBusy: true });
        if (!key) this.#beginFailover(`primary ${old ?? ''} lost (${next.source})`);
      }
    }
    if (key && this.#failoverSince !== undefined && !this.#isDown(key)) this.#endFailover(key);
    for (const m of next.members) {
      const k = nodeKey(m);
      if (m.role === 'standby') this.#causal.observe(k, m.replayLsn);
      const before = previous?.members.find((p) => nodeKey(p) === k);
      if (m.state === 'unreachable' && before && before.state !== 'unreachable') {
        this.#announce('nodeDown', { node: k, reason: 'unreachable' });
        this.#nodes.retire(k, 'unreachable', { abortBusy: true });
      } else if (m.state !== 'unreachable' && before?.state === 'unreachable') {
        this.#down.delete(k);
        this.#announce('nodeUp', { node: k });
      }
    }
    if (!this.#functionsLearned && key && (this.options.learnFunctionVolatility ?? true)) {
      this.#functionsLearned = true;
      void this.#learnFunctions(key);
    }
    this.#warm(next);
  }

  #warm(t: Topology): void {
    const want = this.options.warmConnectionsPerNode ?? 1;
    if (!want || this.ending) return;
    for (const m of t.members) {
      if (m.role === 'unknown' || m.state === 'unreachable') continue;
      const np = this.#nodes.get(nodeKey(m));
      for (let i = np.pool.totalCount; i < want; i++) {
        np.pool.connect().then(
          (c) => c.release(),
          (err: Error) => debug('warming %s failed: %s', np.key, err.message),
        );
      }
    }
  }

  async #learnFunctions(key: string): Promise<void> {
    try {
      const { rows } = await this.#nodes.get(key).pool.query<{ schema: string; name: string; v: 'i' | 's' | 'v' }>(
        `SELECT n.nspname AS schema, p.proname AS name, max(p.provolatile::text) AS v
           FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
          WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
          GROUP BY 1, 2`,
      );
      const map = new Map<string, 'i' | 's' | 'v'>();
      const worst = (a: 'i' | 's' | 'v' | undefined, b: 'i' | 's' | 'v') => (a && a > b ? a : b);
      for (const r of rows) {
        map.set(`${r.schema}.${r.name}`, r.v);
        map.set(r.name, worst(map.get(r.name), r.v));
      }
      this.#classifier.learnFunctions(map);
      debug('learned volatility of %d user functions', rows.length);
    } catch (err) {
      this.#functionsLearned = false;
      debug('could not read pg_proc: %s', (err as Error).message);
    }
  }

  #beginFailover(reason: string): void {
    if (this.#failoverSince !== undefined) return;
    this.#failoverSince = Date.now();
    debug('failover started: %s', reason);
    this.#announce('failoverStart', { previousPrimary: this.#lastPrimary, reason, at: this.#failoverSince });
  }

  #endFailover(primary: string): void {
    const since = this.#failoverSince;
    if (since === undefined) return;
    this.#failoverSince = undefined;
    const durationMillis = Date.now() - since;
    debug('failover ended: primary %s after %d ms', primary, durationMillis);
    this.#failovers.count++;
    this.#failovers.durationsMillis.push(durationMillis);
    if (this.#failovers.durationsMillis.length > 20) this.#failovers.durationsMillis.shift();
    this.#announce('failoverEnd', { primary, durationMillis });
  }

  #waitForChange(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      this.#waiters.add(done);
    });
  }

  #timeout(cause: unknown): FailoverError {
    return new FailoverError('FAILOVER_TIMEOUT', `no reachable primary within failoverTimeoutMillis (${this.#failoverTimeoutMillis} ms)`, {
      cause,
      detail: { members: this.#topology.current()?.members.map((m) => `${m.name}:${m.role}/${m.state}`) },
    });
  }

  #wrap(err: unknown, key: string): unknown {
    if (isConnectionLoss(err) && !(err instanceof FailoverError)) {
      return new FailoverError('CONNECTION_LOST', `connection to ${key} lost: ${(err as Error).message}`, { cause: err, node: key });
    }
    return err;
  }

  #forward(event: string, node: string, args: unknown[]): void {
    if (event === 'error') {
      // pg.Pool would crash an app without an 'error' listener here; we never do.
      if (this.listenerCount('error')) this.emit('error', ...(args as [Error, pg.PoolClient]));
      this.markDown(node, args[0] as Error);
      return;
    }
    if (this.listenerCount(event)) this.emit(event, ...args);
  }

  // Typed events.
  override on<E extends keyof PoolEvents>(event: E, listener: PoolEvents[E]): this;
  override on(event: string | symbol, listener: (...args: any[]) => void): this;
  override on(event: string | symbol, listener: (...args: any[]) => void): this {
    return super.on(event, listener);
  }
  override once<E extends keyof PoolEvents>(event: E, listener: PoolEvents[E]): this;
  override once(event: string | symbol, listener: (...args: any[]) => void): this;
  override once(event: string | symbol, listener: (...args: any[]) => void): this {
    return super.once(event, listener);
  }
}

/** The options pg-pool always fills in (its `options` type, pg.PoolOptions, has them required). */
type PgPoolDefaults = Pick<pg.PoolOptions, 'max' | 'maxUses' | 'allowExitOnIdle' | 'maxLifetimeSeconds' | 'idleTimeoutMillis'> & { min: number };

/** pg-pool's defaults, filled in as its constructor does (max 10, min 0, no use or lifetime limit, 10 s idle). */
function withPgPoolDefaults(o: PoolOptions): PoolOptions & PgPoolDefaults {
  const r = o as PoolOptions & PgPoolDefaults & { poolSize?: number };
  r.max = r.max || r.poolSize || 10;
  r.min = r.min || 0;
  r.maxUses = r.maxUses || Infinity;
  r.allowExitOnIdle = r.allowExitOnIdle || false;
  r.maxLifetimeSeconds = r.maxLifetimeSeconds || 0;
  if (typeof r.idleTimeoutMillis === 'undefined') r.idleTimeoutMillis = 10000;
  return r;
}

/** `p`, or the error `onTimeout` makes once `ms` pass first (p keeps running; its outcome is ignored). */
/** The primary's WAL position asked on a write's own session, which then goes back to its pool (destroyed if that failed). */
function positionOn(client: pg.PoolClient): Promise<string> {
  return client.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn').then(
    (r) => {
      client.release();
      return r.rows[0]!.lsn;
    },
    (err: Error) => {
      client.release(err);
      throw err;
    },
  );
}

async function within<T>(p: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function shorten(text: string): string {
  const t = text.replace(/\s+/g, ' ').trim();
  return t.length > 80 ? `${t.slice(0, 77)}...` : t;
}

export type { Analysis };
