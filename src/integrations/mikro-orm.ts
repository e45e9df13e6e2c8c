/**
 * `pg-failover/mikro-orm`: MikroORM 6 (`@mikro-orm/postgresql`) on a
 * pg-failover Pool, with no change to MikroORM. MikroORM cannot take a
 * multi-host URI (`clientUrl` goes through Node's URL parser: `Invalid URL`)
 * and builds its connections with its own `pg` through knex; here its knex
 * dialect is MikroORM's own `PostgreSqlKnexDialect` with the driver swapped:
 * each connection knex holds is a session facade over the Pool (see
 * pool-session.ts) — a statement outside a transaction is routed like
 * `pool.query` (`em.find` → a standby, `em.nativeInsert` → the primary), and
 * `em.transactional()` / `flush()` (`begin` … `commit`) run on one primary session.
 *
 * ```ts
 * import { MikroORM } from '@mikro-orm/postgresql';
 * import { mikroOrmOptions } from 'pg-failover/mikro-orm';
 *
 * const { options, pool } = mikroOrmOptions(process.env.DATABASE_URL!);
 * const orm = await MikroORM.init({ ...options, entities: [Item] });   // no clientUrl
 * …
 * await orm.close(); await pool.end();
 * ```
 *
 * MikroORM's per-column type parsers (dates as strings) apply as with its own
 * `pg`. A `SET` outside a transaction (knex's `searchPath`) is refused with
 * INVALID_OPTION: give the Pool `options: '-c search_path=…'` instead.
 * Loaded only through this sub-path; `@mikro-orm/knex` is resolved from the application.
 */
import * as pgFailover from '../index';
import { Pool } from '../pool/pool';
import type { PoolOptions } from '../pool/options';
import { FailoverError } from '../errors';
import { parseConnectionString } from '../connection';
import { markWired, poolSessionClass } from './pool-session';

const LABEL = 'pg-failover/mikro-orm';

/** The options to spread into `MikroORM.init({...})` (without `clientUrl`), and the Pool they run on. */
export interface MikroOrmWiring {
  options: {
    dbName: string;
    user?: string;
    /** MikroORM merges this into its knex config: the knex client class that runs on the Pool. */
    driverOptions: { client: unknown };
  };
  /** End it after `orm.close()` (MikroORM does not know it). */
  pool: Pool;
}

type KnexDialectClass = new (config: unknown) => { _driver(): unknown };

function loadDialect(): KnexDialectClass {
  let mod: { PostgreSqlKnexDialect?: unknown };
  try {
    mod = require('@mikro-orm/knex');
  } catch (e) {
    throw new FailoverError('INVALID_OPTION', `${LABEL} needs @mikro-orm/postgresql 6 (and its @mikro-orm/knex) installed`, { cause: e });
  }
  if (typeof mod.PostgreSqlKnexDialect !== 'function') {
    throw new FailoverError('INVALID_OPTION', `${LABEL}: @mikro-orm/knex exports no PostgreSqlKnexDialect (MikroORM 6 only; MikroORM 7 uses Kysely: give its dialect a pg-failover Pool)`);
  }
  return mod.PostgreSqlKnexDialect as KnexDialectClass;
}

/**
 * Builds MikroORM options over a pg-failover Pool: a connection string (any
 * libpq form, multi-host), PoolOptions, or a Pool you own.
 */
export function mikroOrmOptions(connection: string | PoolOptions | Pool): MikroOrmWiring {
  let pool: Pool;
  let dbName: string | undefined;
  let user: string | undefined;
  if (connection instanceof Pool) {
    pool = connection;
    ({ dbName, user } = namesOf(pool.options as PoolOptions));
  } else {
    const opts: PoolOptions = typeof connection === 'string' ? { connectionString: connection } : { ...connection };
    ({ dbName, user } = namesOf(opts));
    pool = new Pool(opts);
    pool.on('error', () => {}); // idle sessions of a failed node report here; knex adds no listener
  }
  const Dialect = loadDialect();
  const driver = { ...pgFailover, Client: poolSessionClass(pool, LABEL) };
  class PgFailoverMikroOrmDialect extends Dialect {
    /** knex builds every connection with `new driver.Client(...)`: ours is a session over the Pool. */
    override _driver(): unknown {
      return driver;
    }
  }
  // MikroORM requires a database name; libpq's default is the user name.
  const name = dbName ?? user ?? process.env.PGDATABASE ?? process.env.PGUSER;
  if (!name) throw new FailoverError('INVALID_OPTION', `${LABEL}: no database name in the connection (MikroORM needs dbName); add /<database> to the URI or pass database`);
  return { options: { dbName: name, ...(user ? { user } : {}), driverOptions: { client: markWired(PgFailoverMikroOrmDialect, pool) } }, pool };
}

function namesOf(opts: PoolOptions): { dbName?: string; user?: string } {
  let dbName: string | undefined;
  let user: string | undefined;
  if (typeof opts.connectionString === 'string') {
    const parsed = parseConnectionString(opts.connectionString) as { database?: string; user?: string };
    dbName = parsed.database;
    user = parsed.user;
  }
  return { dbName: dbName ?? opts.database, user: user ?? opts.user };
}

export default mikroOrmOptions;
