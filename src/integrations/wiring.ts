/**
 * `pg-failover/wiring`: `checkWiring(x)` at startup says whether a library
 * object really runs on a pg-failover Pool — or on its own `pg` (one host, no
 * routing, no failover), which otherwise shows only later, as every read on
 * the primary, `ECONNREFUSED 127.0.0.1:5432`, or an outage at the first failover.
 *
 * ```ts
 * import { checkWiring } from 'pg-failover/wiring';
 * const db = knex({ client: 'pg', connection: process.env.DATABASE_URL });
 * checkWiring(db);   // throws INVALID_OPTION: knex took the multi-host URI for an SQLite file name …
 * ```
 *
 * Knows: a pg-failover Pool, node-postgres' own `pg.Pool`, knex, Sequelize,
 * TypeORM's DataSource, Drizzle (node-postgres), `@prisma/adapter-pg`'s
 * adapter, MikroORM, Slonik. Anything else is INVALID_OPTION ("cannot tell"),
 * never a silent pass. Inspects only (duck typing): imports none of them.
 */
import { Pool } from '../pool/pool';
import { FailoverError } from '../errors';
import { WIRED } from './pool-session';

/** What {@link checkWiring} found: the library, and the pg-failover Pool it runs on. */
export interface WiringReport {
  library: 'pg-failover' | 'knex' | 'sequelize' | 'typeorm' | 'drizzle' | 'prisma' | 'mikro-orm' | 'slonik';
  pool: Pool;
}

type Obj = Record<string | symbol, unknown>;
const isObj = (x: unknown): x is Obj => (typeof x === 'object' || typeof x === 'function') && x !== null;
const wiredPool = (x: unknown): Pool | undefined => (isObj(x) && x[WIRED] instanceof Pool ? (x[WIRED] as Pool) : undefined);

/** `host:port` a node-postgres pool or client config points at (for the message). */
function target(config: unknown): string {
  if (!isObj(config)) return 'localhost:5432';
  if (typeof config.connectionString === 'string') return `"${config.connectionString.replace(/\/\/[^@/]*@/, '//…@')}"`;
  return `${typeof config.host === 'string' ? config.host : 'localhost'}:${typeof config.port === 'number' || typeof config.port === 'string' ? config.port : 5432}`;
}

function wrong(library: string, what: string, fix: string): never {
  throw new FailoverError('INVALID_OPTION', `${library} is not wired to pg-failover: ${what}; ${fix}`);
}

/**
 * Throws INVALID_OPTION naming what is wrong and how to wire it when `x` does
 * not run on a pg-failover Pool; returns the library and the Pool when it does.
 */
export function checkWiring(x: unknown): WiringReport {
  if (x instanceof Pool) return { library: 'pg-failover', pool: x };
  if (!isObj(x)) throw new FailoverError('INVALID_OPTION', `checkWiring: expected a library object, got ${x === null ? 'null' : typeof x}`);

  // node-postgres' own Pool (pg-pool's BoundPool), from any copy of pg.
  if (typeof x.connect === 'function' && isObj(x.options) && typeof x.Client === 'function' && 'totalCount' in x) {
    wrong('this pool', `it is node-postgres' own pg.Pool (one server, ${target(x.options)})`, "use Pool from 'pg-failover' (same options, a multi-host connection string)");
  }

  // knex: the instance is a function with .client.
  const client = x.client;
  if (typeof (x as unknown) === 'function' && isObj(client) && typeof client.acquireConnection === 'function') {
    if (client.failoverPool instanceof Pool) return { library: 'knex', pool: client.failoverPool };
    const config = (isObj(client.config) ? client.config : {}) as Obj;
    if (config.connectionPool instanceof Pool) return { library: 'knex', pool: config.connectionPool };
    const settings = (isObj(client.connectionSettings) ? client.connectionSettings : {}) as Obj;
    if (typeof settings.filename === 'string' && /^postgres(ql)?:\/\//i.test(settings.filename)) {
      wrong('knex', `it took the connection string for an SQLite file name (knex cannot parse a multi-host URI) and connects to localhost:5432 with its own pg`, "use { client: PgFailoverKnexClient } from 'pg-failover/knex'");
    }
    wrong('knex', `client '${String(typeof config.client === 'function' ? (config.client as { name?: string }).name : config.client)}' connects to ${target(settings)} with its own pg`, "use { client: PgFailoverKnexClient } from 'pg-failover/knex'");
  }

  // MikroORM: orm.config.get('driverOptions').client is our dialect.
  if (isObj(x.em) && isObj(x.config) && typeof x.config.get === 'function') {
    const driverOptions = (x.config as { get(k: string): unknown }).get('driverOptions');
    const pool = isObj(driverOptions) ? wiredPool(driverOptions.client) : undefined;
    if (pool) return { library: 'mikro-orm', pool };
    wrong('MikroORM', 'its knex connects with its own pg (clientUrl cannot hold a multi-host URI)', "spread mikroOrmOptions(url).options from 'pg-failover/mikro-orm' into MikroORM.init()");
  }

  // Sequelize: connectionManager.lib is the dialect module.
  if (isObj(x.connectionManager) && isObj(x.options) && 'dialect' in x) {
    const lib = (x.connectionManager as Obj).lib;
    const pool = isObj(lib) ? wiredPool(lib.Client) : undefined;
    if (pool) return { library: 'sequelize', pool };
    if (isObj(lib) && lib.Pool === Pool) {
      wrong('Sequelize', "dialectModule is pg-failover's main module: each Sequelize connection is one long-lived session on one node (no read routing; Sequelize's own URL parser cannot take a multi-host URI)", "use sequelizeOptions(url) from 'pg-failover/sequelize'");
    }
    wrong('Sequelize', `it connects to ${target({ host: (x.options as Obj).host, port: (x.options as Obj).port })} with its own pg`, "use sequelizeOptions(url) from 'pg-failover/sequelize'");
  }

  // TypeORM: dataSource.driver.postgres is the pg module it loaded; .master the Pool it made.
  if (isObj(x.driver) && isObj(x.options) && (x.options as Obj).type === 'postgres') {
    const driver = x.driver as Obj;
    if (driver.master instanceof Pool) return { library: 'typeorm', pool: driver.master };
    if (isObj(driver.postgres) && driver.postgres.Pool === Pool) {
      wrong('TypeORM', 'the DataSource is not initialized yet', 'call checkWiring after dataSource.initialize()');
    }
    wrong('TypeORM', `it loaded its own pg and connects to ${target({ connectionString: (x.options as Obj).url, host: (x.options as Obj).host, port: (x.options as Obj).port })}`, "pass driver: require('pg-failover') (or import * as pgFailover) in the DataSource options");
  }

  // Drizzle (node-postgres): db.$client is what it queries.
  if ('$client' in x && typeof x.select === 'function') {
    if (x.$client instanceof Pool) return { library: 'drizzle', pool: x.$client };
    wrong('Drizzle', `its client is ${isObj(x.$client) ? (x.$client.constructor as { name?: string })?.name ?? 'an object' : typeof x.$client}, not a pg-failover Pool`, "pass drizzle({ client: pool }) a Pool from 'pg-failover'");
  }

  // @prisma/adapter-pg's PrismaPg (the factory given to new PrismaClient({ adapter })).
  if (x.provider === 'postgres' && typeof x.adapterName === 'string' && 'externalPool' in x) {
    if (x.externalPool instanceof Pool) return { library: 'prisma', pool: x.externalPool };
    if (x.config instanceof Pool) {
      wrong('Prisma', 'new PrismaPg(pool) accepts only its own pg.Pool: given a pg-failover Pool it reads it as a config and builds a pg.Pool to localhost:5432', "use new PrismaPgFailover(url or pool) from 'pg-failover/prisma'");
    }
    wrong('Prisma', `the adapter builds its own pg.Pool (${target(x.externalPool ? (x.externalPool as Obj).options : x.config)})`, "use new PrismaPgFailover(url or pool) from 'pg-failover/prisma'");
  }

  // Slonik: pool.configuration.driverFactory.
  if (isObj(x.configuration) && typeof x.transaction === 'function' && typeof x.one === 'function') {
    const pool = wiredPool((x.configuration as Obj).driverFactory);
    if (pool) return { library: 'slonik', pool };
    wrong('Slonik', 'it uses its own pg driver (one host, parsed from the URI)', "spread slonikOptions(url).options from 'pg-failover/slonik' into createPool()");
  }

  throw new FailoverError(
    'INVALID_OPTION',
    `checkWiring cannot tell what ${(x.constructor as { name?: string })?.name ?? 'this object'} runs on (it knows a pg-failover Pool, pg.Pool, knex, Sequelize, TypeORM, Drizzle, PrismaPg, MikroORM and Slonik)`,
  );
}

export default checkWiring;
