/**
 * `Pool`: a drop-in for `pg.Pool` that routes each statement to the right node. This file is
 * the pg-compatible front only: it validates the options, picks an engine once (engine-for.ts)
 * — the single-host pass-through, exactly a pg.Pool (direct-engine.ts), or the routing engine
 * (routing-engine.ts: one pg Pool per node, the router, failover holds, one retry policy) — and
 * forwards every call to it, with pg.Pool's signatures and typed events.
 */
import { EventEmitter } from 'node:events';
import type pg from 'pg';
import type { Analysis } from '../routing/classify';
import type { RouteOverride } from '../routing/router';
import type { Topology } from '../topology/topology';
import type { BoundClient } from './bound-client';
import type { CausalTracker } from './causal';
import type { CausalStats, PoolEngine } from './engine';
import { engineFor } from './engine-for';
import type { NodePool } from './node-pools';
import { validatePoolOptions, type PoolOptions } from './options';
import type { PoolStatsSnapshot } from './stats';
import { concealOptions, copyOptions } from '../secrets';

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

export class Pool extends EventEmitter {
  /** The options as given, pg.Pool's `options` (secrets non-enumerable: password, ssl.key, a connection string with a password). */
  readonly options: PoolOptions & PgPoolDefaults;
  readonly #engine: PoolEngine;

  constructor(config?: PoolOptions | string) {
    super();
    // A copy that keeps a non-enumerable password, with every secret hidden (secrets.ts).
    const o: PoolOptions = concealOptions(typeof config === 'string' ? { connectionString: config } : copyOptions(config));
    validatePoolOptions(o);
    this.options = withPgPoolDefaults(o);
    this.#engine = engineFor(this, o);
  }

  /** pg.Pool's `ending` (end() was called) and `ended` (every session is closed). */
  get ending(): boolean {
    return this.#engine.ending;
  }
  set ending(_: boolean) {}
  get ended(): boolean {
    return this.#engine.ended;
  }
  set ended(_: boolean) {}

  // ---- pg.Pool's counters -------------------------------------------------
  get totalCount(): number {
    return this.#engine.totalCount;
  }
  get idleCount(): number {
    return this.#engine.idleCount;
  }
  /** Requests waiting for a session, plus statements held for a primary during a failover. */
  get waitingCount(): number {
    return this.#engine.waitingCount;
  }
  /** @internal pg-pool's list of sessions (some libraries and tests reach into it). */
  get _clients(): pg.PoolClient[] {
    return this.#engine._clients;
  }
  get expiredCount(): number {
    return this.#engine.expiredCount;
  }

  /** The topology as last seen (who is primary, standbys, lag); undefined for a single-host pool. */
  get topology(): Topology | undefined {
    return this.#engine.topology;
  }

  // ---- query / connect / end ------------------------------------------------
  query<R extends pg.QueryResultRow = any, I = any[]>(config: string | RoutedQueryConfig<I>, values?: I): Promise<pg.QueryResult<R>>;
  query<R extends pg.QueryResultRow = any, I = any[]>(config: string | RoutedQueryConfig<I>, callback: Callback<pg.QueryResult<R>>): void;
  query<R extends pg.QueryResultRow = any, I = any[]>(config: string | RoutedQueryConfig<I>, values: I, callback: Callback<pg.QueryResult<R>>): void;
  query(...args: unknown[]): Promise<pg.QueryResult> | void {
    return this.#engine.query(...args) as Promise<pg.QueryResult> | void;
  }

  connect(): Promise<BoundClient & pg.PoolClient>;
  connect(callback: (err: Error | undefined, client?: BoundClient & pg.PoolClient, done?: (release?: unknown) => void) => void): void;
  connect(...args: unknown[]): Promise<BoundClient & pg.PoolClient> | void {
    return this.#engine.connect(...args) as Promise<BoundClient & pg.PoolClient> | void;
  }

  end(): Promise<void>;
  end(callback: () => void): void;
  end(...args: unknown[]): Promise<void> | void {
    return this.#engine.end(...args) as Promise<void> | void;
  }

  // ---- pg-failover's additions ----------------------------------------------

  /**
   * A snapshot for dashboards (cheap: what the pool already knows, no query): sessions,
   * every node's role, state, lag, sessions and statement counts, failovers and their
   * durations, read-your-writes counters.
   */
  stats(): PoolStatsSnapshot<Pool['causalStats']> {
    return this.#engine.stats() as PoolStatsSnapshot<Pool['causalStats']>;
  }

  /**
   * An opaque token covering every write this pool has completed. Pass it as
   * `{ text, after: token }` (here, in another request or another process's
   * pool) to read from a node that has seen those writes.
   */
  causalToken(): Promise<string> {
    return this.#engine.causalToken();
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
    return this.#engine.causalScope(fn, options?.after);
  }

  /** Read-your-writes counters: WAL position fetches, standby replay polls, reads sent to the primary to stay causal. */
  get causalStats(): Readonly<CausalTracker['stats']> {
    return this.#engine.causalStats as unknown as Readonly<CausalTracker['stats']>;
  }

  /** @internal The session pool of a node (routing pools only). */
  nodePool(key: string): NodePool {
    return this.#engine.nodePool(key);
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

export type { Analysis, CausalStats };
