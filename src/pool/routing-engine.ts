/**
 * The routing engine: one pg Pool per node (node-pools.ts), a topology source saying who is
 * primary, the router (routing/router.ts) as the single hook that places every statement,
 * the cluster state (cluster-state.ts) that holds writes through a failover, and one retry
 * policy (retry-policy.ts) for what failed. pool.ts is the pg-compatible front over it.
 *
 * This file builds the engine's parts and wires them. It classifies each statement and hands
 * it to the read path (read-path.ts) or the write path (write-path.ts); both get their node
 * from placement.ts (the router asked in a loop, statements held through a failover, the
 * switchover gate, the promotion check). topology-follower.ts starts the topology source and
 * tells the parts of each change. The parts reach the engine only through the contracts in
 * engine.ts (SessionHost, RoutingCore), never by importing this file. Here too: pg.Pool's
 * counters, query()/connect()/end() in all of pg's call forms, the SessionHost methods (texts
 * learnt as writes: learned-writes.ts), read-your-writes (the positions its tracker reads:
 * causal-io.ts), stats, and the events it gives the front.
 *
 * A write whose connection dies after it was sent is never replayed: it fails with
 * `TRANSACTION_RESOLUTION_UNKNOWN` (or, for a COMMIT on a checked-out client, is resolved
 * with pg_xact_status(): see outcome.ts).
 */
import pg from 'pg';
import createDebug from 'debug';
import { FailoverError } from '../errors';
import type { Classifier } from '../routing/classify';
import { needFor, ReadRouter, type RouteOverride } from '../routing/router';
import { nodeKey, type Topology, type TopologySource } from '../topology/topology';
import { NodePools, splitKey, type NodePool } from './node-pools';
import { statementOf } from './retry-policy';
import { BoundClient } from './bound-client';
import { CausalTracker, type ReadRequirement, type ReadYourWrites } from './causal';
import { CausalReads } from './causal-reads';
import { causalIo } from './causal-io';
import { ClusterState } from './cluster-state';
import { channelFor, nodeStats, type PoolStatsSnapshot } from './stats';
import { asPromiseOf, rejectedOf } from '../custom-promise';
import { StallWatch } from './stall-watch';
import { Placement } from './placement';
import { TopologyFollower } from './topology-follower';
import { PRIMARY_READ, ReadPath } from './read-path';
import { WritePath } from './write-path';
import { LearnedWrites, shorten } from './learned-writes';
import type { CausalStats, EngineHost, PoolEngine, RoutingCore, SessionHost } from './engine';
import type { ReadPolicy } from '../routing/router';

const debug = createDebug('pg-failover:pool');
const debugRouter = createDebug('pg-failover:router');
const ROUTE = channelFor('route');

type Callback<T> = (err: Error | undefined, result?: T) => void;
type RoutedQuery = pg.QueryConfig & { route?: RouteOverride; after?: string };

/** The load of a node no query has used yet. */
const IDLE: Readonly<{ busy: number }> = Object.freeze({ busy: 0 });
/** stallCheckMillis' default: a primary statement without an answer this long gets its session looked at (stall-watch.ts). */
const DEFAULT_STALL_CHECK_MILLIS = 1000;

export interface RoutingEngineOptions {
  policy: ReadPolicy;
  classifier: Classifier;
  readYourWrites: ReadYourWrites | undefined;
  causalWaitMillis: number;
  /** Reads after writes wait on a standby (else they go to the primary until a standby is known to have the writes). */
  waitOnStandby: boolean;
  failoverTimeoutMillis: number;
  promiseClass: PromiseConstructorLike;
  /** The pg.Pool config of a node. */
  configFor(node: { host: string; port: number }): pg.PoolConfig;
  /** Builds the topology source; `isWritable` asks a node itself whether it left recovery. */
  topology(isWritable: (key: string) => Promise<boolean>): TopologySource;
}

export class RoutingEngine implements PoolEngine, SessionHost {
  ending = false;
  ended = false;
  readonly #host: EngineHost;
  readonly #classifier: Classifier;
  readonly #router: ReadRouter;
  readonly #nodes: NodePools;
  readonly #topology: TopologySource;
  readonly #state: ClusterState;
  /** Where statements get their node, held through a failover (placement.ts). */
  readonly #placement: Placement;
  readonly #reads: ReadPath;
  readonly #writes: WritePath;
  /** Texts a standby refused as writes (learned-writes.ts). */
  readonly #learnedWrites = new LearnedWrites();
  /** Starts the topology source, and tells the parts of each change (topology-follower.ts). */
  readonly #follower: TopologyFollower;
  readonly #failoverTimeoutMillis: number;
  readonly #causal: CausalTracker;
  /** The router's view of a node's load: its NodePool (which carries `busy`); allocates nothing. */
  readonly #loadOf = (key: string): { busy: number } => this.#nodes.peek(key) ?? IDLE;
  readonly promiseClass: PromiseConstructorLike;
  /** Frees primary sessions stuck in a dead network path once it works again (stall-watch.ts); undefined when off. */
  readonly stallWatch: StallWatch | undefined;

  constructor(host: EngineHost, o: RoutingEngineOptions) {
    this.#host = host;
    this.#classifier = o.classifier;
    this.#router = new ReadRouter(o.policy);
    this.#failoverTimeoutMillis = o.failoverTimeoutMillis;
    this.promiseClass = o.promiseClass;
    const stallCheckMillis = host.options.stallCheckMillis ?? DEFAULT_STALL_CHECK_MILLIS;
    this.stallWatch =
      stallCheckMillis > 0
        ? new StallWatch({
            stallCheckMillis,
            configFor: (key) => ({ ...o.configFor(splitKey(key)), ...splitKey(key) }),
            // The path to the node works again: open the sessions that replace the stuck ones now.
            reachable: (key, stuck) => this.#nodes.replenish(key, stuck),
          })
        : undefined;
    this.#nodes = new NodePools({ configFor: o.configFor, forward: (event, node, ...args) => this.#forward(event, node, args) });
    this.#causal = new CausalTracker(o.readYourWrites, causalIo(this.#nodes, () => this.#topology.current()), { waitOnStandby: o.waitOnStandby });
    const causalReads = new CausalReads(this.#causal, {
      waitMillis: o.causalWaitMillis,
      failoverTimeoutMillis: o.failoverTimeoutMillis,
      lastPrimary: () => this.#state.lastPrimary,
    });
    this.#state = new ClusterState({
      announce: (event, payload) => this.#announce(event, payload),
      retire: (key, why, abortBusy) => this.#nodes.retire(key, why, { abortBusy }),
      refresh: (reason) => this.#topology.refresh(reason),
    });
    this.#topology = o.topology((key) => this.#placement.acceptsWrites(key));
    const engine = this;
    const core: RoutingCore = {
      front: host.front,
      options: host.options,
      nodes: this.#nodes,
      topology: this.#topology,
      state: this.#state,
      router: this.#router,
      classifier: this.#classifier,
      causal: this.#causal,
      causalReads,
      loadOf: this.#loadOf,
      failoverTimeoutMillis: o.failoverTimeoutMillis,
      get ending() {
        return engine.ending;
      },
    };
    this.#placement = new Placement(core);
    this.#writes = new WritePath(this, core, this.#placement);
    this.#reads = new ReadPath(this, core, this.#placement, this.#writes);
    this.#follower = new TopologyFollower(core, this.#placement);
    this.#topology.on('change', (next, previous) => this.#follower.onTopology(next, previous));
    this.#topology.on('error', (err) => {
      debug('topology source %s: %s', this.#topology.name, err.message);
      this.#announce('topologyError', err);
    });
  }

  // ---- pg.Pool's counters -------------------------------------------------
  get totalCount(): number {
    return this.#nodes.sum((p) => p.totalCount);
  }
  get idleCount(): number {
    return this.#nodes.sum((p) => p.idleCount);
  }
  get waitingCount(): number {
    return this.#nodes.sum((p) => p.waitingCount) + this.#placement.held;
  }
  get _clients(): pg.PoolClient[] {
    return [...this.#nodes.values()].flatMap((np) => (np.pool as unknown as { _clients: pg.PoolClient[] })._clients);
  }
  get expiredCount(): number {
    return this.#nodes.sum((p) => (p as unknown as { expiredCount?: number }).expiredCount ?? 0);
  }

  get topology(): Topology | undefined {
    return this.#topology.current();
  }

  // ---- query ---------------------------------------------------------------
  query(config: unknown, values?: unknown, callback?: unknown): Promise<pg.QueryResult> | void {
    if (typeof config === 'function') {
      const err = new FailoverError('INVALID_OPTION', 'Passing a function as the first parameter to pool.query is not supported');
      if (typeof values === 'function') {
        setImmediate(() => (values as Callback<never>)(err));
        return;
      }
      return rejectedOf(this.promiseClass, err);
    }
    if (typeof values === 'function') {
      callback = values;
      values = undefined;
    }
    const q: RoutedQuery = typeof config === 'string' ? { text: config } : { ...(config as RoutedQuery) };
    if (values !== undefined) q.values = values as unknown[];
    const p = this.#query(q, typeof config === 'string');
    if (typeof callback !== 'function') return asPromiseOf(this.promiseClass, p);
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
  #query(q: RoutedQuery, plain: boolean): Promise<pg.QueryResult> {
    if (this.ending) return Promise.reject(new FailoverError('POOL_ENDED', 'Cannot use a pool after calling end on the pool'));
    if (!this.#follower.startedOk) return this.#follower.start().then(() => this.#route(q, plain));
    try {
      return this.#route(q, plain);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Classifies and sends to the right node (not async itself: one promise less per query). */
  #route(q: RoutedQuery, plain: boolean): Promise<pg.QueryResult> {
    const text = typeof q.text === 'string' ? q.text : '';
    const a = this.#classifier.analyze(text);
    let pgConfig: pg.QueryConfig = q;
    const { route, after } = q;
    if ('route' in q || 'after' in q) {
      const { route: _r, after: _a, ...rest } = q;
      pgConfig = rest;
    }
    const learned = this.#learnedWrites.has(text);
    const need = needFor(a, route, learned);
    if (debugRouter.enabled) debugRouter('%s → %s (%s)', shorten(text), need.role, need.why);
    if (ROUTE.hasSubscribers) ROUTE.publish({ pool: this.#host.front, text, role: need.role, why: need.why });
    const statement = statementOf(text, a, learned);
    if (need.role !== 'read') return this.#writes.write(pgConfig, plain, statement, a, text);
    // readFrom 'primary': every read sees every write already; no position to track (a token is still checked).
    const req = this.#router.policy.readFrom === 'primary' && after === undefined ? PRIMARY_READ : this.#causal.requirement(after);
    return this.#reads.read(pgConfig, text, req, plain, statement);
  }

  // ---- connect (checked-out client) ----------------------------------------
  connect(callback?: unknown): Promise<BoundClient & pg.PoolClient> | void {
    const p = (async () => {
      if (this.ending) throw new FailoverError('POOL_ENDED', 'Cannot use a pool after calling end on the pool');
      await this.#follower.start();
      return new BoundClient(this, this.#classifier, this.#host.options.readRetries ?? 2) as BoundClient & pg.PoolClient;
    })();
    if (typeof callback !== 'function') return asPromiseOf(this.promiseClass, p);
    const cb = callback as (err: Error | undefined, client?: BoundClient & pg.PoolClient, done?: (release?: unknown) => void) => void;
    p.then(
      (c) => cb(undefined, c, (err?: unknown) => c.release(err as Error)),
      (e) => cb(e),
    );
  }

  // ---- end -----------------------------------------------------------------
  end(callback?: unknown): Promise<void> | void {
    const p = (async () => {
      if (this.ending) throw new FailoverError('POOL_ENDED', 'Called end on pool more than once');
      this.ending = true;
      this.#causal.close();
      void this.stallWatch?.close();
      this.#placement.wake();
      await this.#topology.close().catch(() => {});
      await this.#nodes.end();
      this.ended = true;
    })();
    if (typeof callback !== 'function') return asPromiseOf(this.promiseClass, p);
    p.then(
      () => (callback as () => void)(),
      () => (callback as () => void)(),
    );
  }

  // ---- what checked-out clients use (SessionHost) --------------------------

  nodePool(key: string): NodePool {
    return this.#nodes.get(key);
  }

  /**
   * A node for a read (standby by policy, or the primary when allowed), honouring
   * read-your-writes (`req`). Waits for a primary when that is the only option (read-path.ts).
   */
  readNode(exclude?: ReadonlySet<string>, req: ReadRequirement = { primaryOnly: false }): Promise<string> {
    return this.#reads.readNode(exclude, req);
  }

  /** Where a checked-out client's read binds, and the position its session must have replayed first (read-path.ts). */
  readPlacement(exclude: ReadonlySet<string> | undefined, after: string | undefined): Promise<{ node: string; waitFor?: bigint }> {
    return this.#reads.readPlacement(exclude, after);
  }

  replayedOn(key: string, client: pg.PoolClient, minLsn: bigint): Promise<boolean> {
    return this.#reads.replayedOn(key, client, minLsn);
  }

  /** The primary, holding the caller while none is known (until the deadline; placement.ts). */
  primaryNode(deadline: number): Promise<string> {
    return this.#placement.primaryNode(deadline);
  }

  /** At an announced switchover, a new primary session waits like a write does (placement.ts). */
  switchoverGate(deadline: number): Promise<void> {
    return this.#placement.switchoverGate(deadline);
  }

  markDown(key: string, err: Error): void {
    this.#state.markDown(key, err);
  }

  refreshTopology(reason: string): void {
    this.#topology.refresh(reason);
  }

  rememberWrite(text: string, key: string): void {
    this.#learnedWrites.remember(text, key);
    this.#topology.refresh(`${key} refused a write (SQLSTATE 25006)`);
  }

  isLearnedWrite(text: string): boolean {
    return this.#learnedWrites.has(text);
  }

  noteWrite(): void {
    this.#causal.noteWrite(this.#router.policy.readFrom !== 'primary');
  }

  readRequirement(after?: string): ReadRequirement {
    return this.#causal.requirement(after);
  }

  get failoverTimeoutMillis(): number {
    return this.#failoverTimeoutMillis;
  }

  get resolveCommitOutcome(): boolean {
    return this.#host.options.resolveCommitOutcome ?? true;
  }

  // ---- read-your-writes and stats -------------------------------------------

  causalToken(): Promise<string> {
    return this.#causal.token();
  }

  causalScope<T>(fn: () => T, after?: string): T {
    return this.#causal.scope(fn, after);
  }

  get causalStats(): CausalStats {
    return { ...this.#causal.stats };
  }

  stats(): PoolStatsSnapshot<CausalStats> {
    const t = this.#topology.current();
    const f = this.#state.failovers;
    const since = this.#state.failingOverSince;
    return {
      totalCount: this.totalCount,
      idleCount: this.idleCount,
      waitingCount: this.waitingCount,
      primary: t?.primary ? nodeKey(t.primary) : undefined,
      source: t?.source,
      nodes: nodeStats(t, this.#nodes.values()),
      failovers: { count: f.count, durationsMillis: [...f.durationsMillis], primaryChanges: f.primaryChanges, ...(since !== undefined ? { inProgressSince: since } : {}) },
      causal: this.causalStats,
      ...(this.stallWatch ? { stalls: { ...this.stallWatch.stats } } : {}),
    };
  }

  /** Emits a Pool event on the front and publishes it on its diagnostics_channel (`pg-failover:<event>`, see stats.ts). */
  #announce(event: 'primaryChanged' | 'failoverStart' | 'failoverEnd' | 'nodeDown' | 'nodeUp' | 'topologyError', payload: object): void {
    const front = this.#host.front;
    if (event !== 'topologyError' || front.listenerCount(event)) front.emit(event, payload);
    const ch = channelFor(event);
    if (ch.hasSubscribers) ch.publish(event === 'topologyError' ? { pool: front, error: payload } : { pool: front, ...payload });
  }

  #forward(event: string, node: string, args: unknown[]): void {
    const front = this.#host.front;
    if (event === 'error') {
      // pg.Pool would crash an app without an 'error' listener here; we never do.
      if (front.listenerCount('error')) front.emit('error', ...(args as [Error, pg.PoolClient]));
      this.markDown(node, args[0] as Error);
      return;
    }
    if (front.listenerCount(event)) front.emit(event, ...args);
  }
}
