/**
 * `pg-failover/knex`: a knex client class that runs knex on a pg-failover
 * `Pool`, so knex's plain queries go to standbys, its writes to the primary
 * and `knex.transaction()` stays on one primary session — with a libpq
 * multi-host connection string, which knex's own `client: 'pg'` cannot parse
 * (it mistakes it for an SQLite file name and connects to localhost:5432).
 *
 * ```ts
 * import knex from 'knex';
 * import { PgFailoverKnexClient } from 'pg-failover/knex';
 *
 * const db = knex({ client: PgFailoverKnexClient, connection: process.env.DATABASE_URL });
 * await db('items').insert({ id: 1 });      // → the primary
 * await db('items').select();               // → a standby (read-your-writes: once it has replayed the insert)
 * await db.destroy();                        // ends the Pool it made
 * ```
 *
 * `connection` may be the URI string, `{ connectionString, ...PoolOptions }`, or
 * pg-style fields; `pool.max` sizes each node's pool; `searchPath` becomes the
 * session's `search_path` (startup option). Or hand it a Pool you own:
 * `{ client: PgFailoverKnexClient, connectionPool: pool }` (then `destroy()` leaves it open).
 *
 * Requires knex ≥ 3.3 (the `connectionPool` option; 3.2.10 has none); loaded only through this sub-path.
 */
import { Pool } from '../pool/pool';
import type { PoolOptions } from '../pool/options';
import { FailoverError } from '../errors';
import type { Knex } from 'knex';
import * as pgFailover from '../index';

// knex is the user's dependency, not ours: resolved at run time, from the application.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const ClientPG = loadKnexPg();

interface KnexLikeConfig {
  client?: unknown;
  connection?: unknown;
  connectionPool?: unknown;
  pool?: { max?: number; min?: number; [k: string]: unknown };
  searchPath?: string | string[];
  [k: string]: unknown;
}

function loadKnexPg(): new (config: KnexLikeConfig) => { destroy(cb?: (err?: unknown) => void): Promise<void>; driver: unknown } {
  let mod: unknown;
  try {
    mod = require('knex/lib/dialects/postgres');
  } catch (e) {
    throw new FailoverError('INVALID_OPTION', 'pg-failover/knex needs the knex package (npm install knex)', { cause: e });
  }
  const Base = (mod as { default?: unknown }).default ?? mod;
  if (typeof Base !== 'function') throw new FailoverError('INVALID_OPTION', 'pg-failover/knex: knex/lib/dialects/postgres is not a client class (unsupported knex version)');
  const proto = Object.getPrototypeOf(Base.prototype) as { initializeExternalPool?: unknown } | null;
  if (typeof (Base.prototype as { wrapNativePool?: unknown }).wrapNativePool !== 'function' && typeof proto?.initializeExternalPool !== 'function') {
    throw new FailoverError('INVALID_OPTION', 'pg-failover/knex needs knex ≥ 3.3 (the connectionPool option); upgrade knex');
  }
  return Base as never;
}

/** What knex hands a dialect when `connection` was a string: a multi-host URI parsed as an SQLite file. */
function recoverConnection(connection: unknown): PoolOptions {
  if (connection === undefined || connection === null) return {};
  if (typeof connection === 'string') return { connectionString: connection };
  if (typeof connection === 'function') {
    throw new FailoverError('INVALID_OPTION', 'pg-failover/knex: a connection function (knex dynamic connections) is not supported; pass a string or an object');
  }
  if (typeof connection !== 'object') throw new FailoverError('INVALID_OPTION', `pg-failover/knex: connection must be a string or an object, got ${typeof connection}`);
  const c = connection as Record<string, unknown>;
  if (typeof c.filename === 'string' && Object.keys(c).length === 1) {
    if (/^postgres(ql)?:\/\//i.test(c.filename)) return { connectionString: c.filename };
    throw new FailoverError('INVALID_OPTION', 'pg-failover/knex: knex parsed the connection string as an SQLite file name; pass a postgresql:// URI or { connectionString }');
  }
  return { ...(c as PoolOptions) };
}

function searchPathOption(searchPath: string | string[] | undefined, existing: unknown): string | undefined {
  if (searchPath === undefined) return typeof existing === 'string' ? existing : undefined;
  const parts = (Array.isArray(searchPath) ? searchPath : searchPath.split(',')).map((s) => s.trim()).filter(Boolean);
  if (parts.some((p) => !/^[A-Za-z_][\w$]*$/.test(p))) {
    throw new FailoverError('INVALID_OPTION', `pg-failover/knex: searchPath entries must be plain identifiers, got ${JSON.stringify(searchPath)}`);
  }
  const opt = `-c search_path=${parts.join(',')}`;
  return typeof existing === 'string' && existing ? `${existing} ${opt}` : opt;
}

/**
 * knex's PostgreSQL client on a pg-failover Pool. Pass the class itself as
 * knex's `client`. Every knex query checks out a pg-failover client that
 * binds to a node at its first statement (a read → a standby, a write or
 * `BEGIN` → the primary) and is released after it; a transaction keeps one.
 */
class PgFailoverKnexClientImpl extends ClientPG {
  /** The Pool this client runs on (made from `connection`, or the `connectionPool` given). */
  readonly failoverPool: Pool;
  readonly #ownsFailoverPool: boolean;

  constructor(config: KnexLikeConfig = {}) {
    let pool: Pool;
    let owns = false;
    if (config.connectionPool !== undefined) {
      if (!(config.connectionPool instanceof Pool)) {
        throw new FailoverError('INVALID_OPTION', 'pg-failover/knex: connectionPool must be a pg-failover Pool (another pool would bypass routing); or pass connection instead');
      }
      pool = config.connectionPool;
    } else {
      const options = recoverConnection(config.connection);
      const opts = options as PoolOptions & { options?: unknown };
      const sp = searchPathOption(config.searchPath, opts.options);
      if (sp !== undefined) opts.options = sp;
      if (config.pool?.max !== undefined && options.max === undefined) options.max = config.pool.max;
      pool = new Pool(options);
      // Idle sessions of a failed node report here (like pg.Pool's 'error'); knex adds no listener.
      pool.on('error', () => {});
      owns = true;
    }
    const { connection: _c, searchPath: _s, ...rest } = config;
    super({ ...rest, client: 'pg', connectionPool: pool });
    this.failoverPool = pool;
    this.#ownsFailoverPool = owns;
  }

  /** The module knex uses for types and escaping: pg-failover (which re-exports pg's). */
  _driver(): unknown {
    return pgFailover;
  }

  /** knex's destroy(); ends the Pool too when this client made it. */
  override async destroy(callback?: (err?: unknown) => void): Promise<void> {
    try {
      await super.destroy();
      if (this.#ownsFailoverPool) await this.failoverPool.end();
    } catch (err) {
      if (callback) return callback(err);
      throw err;
    }
    callback?.();
  }
}

/**
 * knex's PostgreSQL client on a pg-failover Pool (see the module comment); typed as knex's
 * own client class so `knex({ client: PgFailoverKnexClient })` type-checks.
 */
export const PgFailoverKnexClient = PgFailoverKnexClientImpl as unknown as typeof Knex.Client & (new (config?: Knex.Config) => Knex.Client & { readonly failoverPool: Pool });
export default PgFailoverKnexClient;
