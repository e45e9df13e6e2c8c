/**
 * Single-host pass-through. With one host and nothing to route (no topology
 * source, no pgfailover.* extensions, no session-attribute demands), there is
 * no standby to read from and no failover to manage, so `Pool` is exactly a
 * pg.Pool: same options (connectionString included, read by pg itself), same
 * clients from connect(), same events and counters. Only difference, by
 * design: an idle session's 'error' is never thrown when nobody listens.
 */
import type { EventEmitter } from 'node:events';
import pg from 'pg';
import createDebug from 'debug';
import { FailoverError } from '../errors';
import type { Topology } from '../topology/topology';
import { OWN_KEYS, type PoolOptions } from './options';
import { hasPassword, hide, sslForPg } from '../secrets';
import { CausalTracker, type ReadYourWrites } from './causal';
import type { CausalStats, PoolEngine } from './engine';
import type { NodePool } from './node-pools';
import type { PoolStatsSnapshot } from './stats';

const debug = createDebug('pg-failover:pool');

/** Options pg.Pool itself understands, from ours (our routing keys dropped; password kept). */
export function pgPoolConfig(o: PoolOptions): pg.PoolConfig {
  const keep = new Set(['connectionString', 'connect_timeout']);
  const cfg: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (keep.has(k) || !(OWN_KEYS as readonly string[]).includes(k)) cfg[k] = v;
  if (o.password !== undefined) cfg.password = o.password; // pg.Pool hides it again (non-enumerable)
  if (o.connectionString !== undefined) cfg.connectionString = o.connectionString; // non-enumerable in ours when it has a password
  if (o.ssl !== undefined) cfg.ssl = sslForPg(o.ssl);
  return cfg as pg.PoolConfig;
}

/**
 * A pg.Pool when these options describe a single, plain host (see above),
 * else undefined (the routing pool applies).
 */
export function directPoolFor(
  o: PoolOptions,
  hostCount: number,
  parsed: { extensions: Readonly<Record<string, string>>; target_session_attrs?: string },
): pg.Pool | undefined {
  if (hostCount !== 1 || o.topology !== undefined || o.env !== undefined || o.readFrom !== undefined) return undefined;
  if (Object.keys(parsed.extensions).length > 0) return undefined;
  const tsa = o.target_session_attrs ?? parsed.target_session_attrs;
  if (tsa !== undefined && tsa !== 'any') return undefined;
  const pool = new pg.Pool(pgPoolConfig(o));
  // pg.Pool hides `password` but not a password inside `connectionString`; pg still reads it by name.
  if (hasPassword(pool.options.connectionString)) hide(pool.options, 'connectionString');
  return pool;
}

/** pg.Pool's internals some libraries and tests read. */
type PgPoolInternals = pg.Pool & { _clients: pg.PoolClient[]; expiredCount: number; ending: boolean; ended: boolean };

/** Nothing to fetch a position from: a single host has no standby to wait for. */
const NO_IO = {
  primaryLsn: () => Promise.reject(new Error('unused')),
  replayLsn: () => Promise.resolve(null),
  standbys: () => [],
  primaryTimeline: () => Promise.reject(new Error('unused')),
  standbyFollows: () => true,
};

/**
 * The single-host engine: every call goes to the pg.Pool as is (its own argument handling,
 * callbacks, Promise option, events); read-your-writes has nothing to route, so tokens and
 * scopes are the trivial ones.
 */
export class DirectEngine implements PoolEngine {
  readonly #pool: PgPoolInternals;
  readonly #causal: CausalTracker;

  constructor(pool: pg.Pool, front: EventEmitter, readYourWrites: ReadYourWrites | undefined) {
    this.#pool = pool as PgPoolInternals;
    this.#causal = new CausalTracker(readYourWrites, NO_IO);
    for (const event of ['connect', 'acquire', 'release', 'remove'] as const) pool.on(event, (...args: unknown[]) => front.emit(event, ...args));
    pool.on('error', (err: Error, client: pg.PoolClient) => {
      // pg.Pool would crash an app without an 'error' listener here; we never do.
      if (front.listenerCount('error')) front.emit('error', err, client);
      else debug('idle session failed: %s', err.message);
    });
  }

  query(...args: unknown[]): unknown {
    return (this.#pool.query as (...a: unknown[]) => unknown)(...args);
  }
  connect(...args: unknown[]): unknown {
    return (this.#pool.connect as (...a: unknown[]) => unknown)(...args);
  }
  end(...args: unknown[]): unknown {
    return (this.#pool.end as (...a: unknown[]) => unknown)(...args);
  }
  get totalCount(): number {
    return this.#pool.totalCount;
  }
  get idleCount(): number {
    return this.#pool.idleCount;
  }
  get waitingCount(): number {
    return this.#pool.waitingCount;
  }
  get expiredCount(): number {
    return this.#pool.expiredCount;
  }
  get _clients(): pg.PoolClient[] {
    return this.#pool._clients;
  }
  get ending(): boolean {
    return this.#pool.ending;
  }
  get ended(): boolean {
    return this.#pool.ended;
  }
  get topology(): Topology | undefined {
    return undefined;
  }
  get causalStats(): CausalStats {
    return { ...this.#causal.stats };
  }
  causalToken(): Promise<string> {
    return this.#causal.token();
  }
  causalScope<T>(fn: () => T, after?: string): T {
    return this.#causal.scope(fn, after);
  }
  stats(): PoolStatsSnapshot<CausalStats> {
    return {
      totalCount: this.totalCount,
      idleCount: this.idleCount,
      waitingCount: this.waitingCount,
      primary: undefined,
      source: undefined,
      nodes: [],
      failovers: { count: 0, durationsMillis: [], primaryChanges: 0 },
      causal: this.causalStats,
    };
  }
  nodePool(): NodePool {
    throw new FailoverError('INVALID_OPTION', 'a single-host pool has no per-node session pools');
  }
}
