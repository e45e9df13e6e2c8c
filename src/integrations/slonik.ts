/**
 * `pg-failover/slonik`: Slonik (47, `createPool(uri, { driverFactory })`) on a
 * pg-failover Pool, with no change to Slonik. Slonik's own pg driver parses
 * the URI itself (one host) and holds one `pg.Client` per connection; this
 * driver factory gives Slonik connections that are sessions over our Pool
 * (see pool-session.ts): `pool.one(sql…)` / `any` / `stream` outside a
 * transaction → a standby, an INSERT → the primary, `pool.transaction()` /
 * `START TRANSACTION` … `COMMIT` → one primary session.
 *
 * ```ts
 * import { createPool, sql } from 'slonik';
 * import { slonikOptions } from 'pg-failover/slonik';
 *
 * const { options, pool } = slonikOptions(process.env.DATABASE_URL!);
 * const slonik = await createPool(process.env.DATABASE_URL!, { ...options });  // Slonik does not parse the URI itself
 * await slonik.query(sql.unsafe`INSERT INTO items VALUES (1)`);                // → the primary
 * …
 * await slonik.end(); await pool.end();
 * ```
 *
 * Slonik's type parsers apply (int8 → number, timestamps → epoch ms …) and
 * its constraint errors keep their classes (`UniqueIntegrityConstraintViolationError`
 * …); pg-failover's own errors (`TRANSACTION_RESOLUTION_UNKNOWN` …) reach you
 * unchanged. Slonik's `DISCARD ALL` on release is turned off (sessions are
 * shared), and `SET` outside a transaction is refused with INVALID_OPTION.
 * Loaded only through this sub-path; `@slonik/driver` is resolved from the application.
 */
import { Transform, type Readable } from 'node:stream';
import type pg from 'pg';
import type { DriverFactory, DriverQueryResult, DriverTypeParser } from '@slonik/driver';
import * as pgFailover from '../index';
import { Pool } from '../pool/pool';
import type { PoolOptions } from '../pool/options';
import { FailoverError } from '../errors';
import { markWired, poolSessionClass } from './pool-session';

const LABEL = 'pg-failover/slonik';

/** The options to spread into Slonik's `createPool(uri, {...})`, and the Pool they run on. */
export interface SlonikWiring {
  options: { driverFactory: DriverFactory; resetConnection: () => Promise<void> };
  /** End it after Slonik's `end()` (Slonik does not know it). */
  pool: Pool;
}

type Setup = Parameters<typeof import('@slonik/driver').createDriverFactory>[0];
type ErrorClass = new (...args: never[]) => Error;

function load<T>(name: string, what: string): T {
  try {
    return require(name) as T;
  } catch (e) {
    throw new FailoverError('INVALID_OPTION', `${LABEL} needs ${what} (it comes with slonik ≥ 46: npm install slonik)`, { cause: e });
  }
}

/**
 * Builds Slonik options over a pg-failover Pool: a connection string (any libpq
 * form, multi-host), PoolOptions, or a Pool you own.
 */
export function slonikOptions(connection: string | PoolOptions | Pool): SlonikWiring {
  const { createDriverFactory } = load<{ createDriverFactory?: (setup: Setup) => DriverFactory }>('@slonik/driver', '@slonik/driver');
  if (typeof createDriverFactory !== 'function') throw new FailoverError('INVALID_OPTION', `${LABEL}: @slonik/driver has no createDriverFactory (unsupported Slonik version; tested with 47)`);
  const errors = load<Record<string, ErrorClass>>('@slonik/errors', '@slonik/errors');
  const pool = connection instanceof Pool ? connection : new Pool(typeof connection === 'string' ? { connectionString: connection } : connection);
  if (!(connection instanceof Pool)) pool.on('error', () => {}); // idle sessions of a failed node report here
  const Session = poolSessionClass(pool, LABEL);

  const driverFactory = createDriverFactory(async ({ driverConfiguration }) => {
    const types: pg.CustomTypesConfig = { getTypeParser: (await typeParsers(pool, driverConfiguration.typeParsers)) as pg.CustomTypesConfig['getTypeParser'] };
    return {
      createPoolClient: async () => {
        const session = new Session({ types });
        return {
          connect: async () => {},
          end: async () => void (await session.end()),
          query: async (text: string, values?: unknown[]): Promise<DriverQueryResult> => {
            let result: pg.QueryResult | pg.QueryResult[];
            try {
              result = (await session.query({ text, values, queryMode: 'extended' } as pg.QueryConfig)) as pg.QueryResult;
            } catch (e) {
              throw slonikError(errors, e as Error, text, values);
            }
            if (Array.isArray(result)) throw slonikClass(errors, 'InvalidInputError', 'Must not use multiple statements in a single query.');
            return { command: result.command as DriverQueryResult['command'], fields: result.fields.map((f) => ({ dataTypeId: f.dataTypeID, name: f.name })), rowCount: result.rowCount, rows: result.rows };
          },
          stream: (text: string, values?: unknown[]) => {
            const QueryStream = load<new (text: string, values?: unknown[], config?: { types?: pg.CustomTypesConfig }) => Readable & pg.Submittable & { cursor?: { _result?: { fields?: pg.FieldDef[] } } }>('pg-query-stream', 'pg-query-stream');
            const qs = new QueryStream(text, values, { types });
            let fields: Array<{ dataTypeId: number; name: string }> | undefined;
            const out = new Transform({
              objectMode: true,
              transform(row, _enc, callback) {
                fields ??= (qs.cursor?._result?.fields ?? []).map((f) => ({ dataTypeId: f.dataTypeID, name: f.name }));
                callback(null, { fields, row });
              },
            });
            qs.on('error', (e) => out.destroy(slonikError(errors, e, text, values)));
            session.submit(qs).pipe(out);
            return out as never;
          },
        };
      },
    };
  });
  return { options: { driverFactory: markWired(driverFactory, pool), resetConnection: async () => {} }, pool };
}

/** Slonik's type parsers by type name → pg's getTypeParser (looked up once, on any node: pg_type is the same everywhere). */
async function typeParsers(pool: Pool, parsers: readonly DriverTypeParser[]): Promise<(oid: number, format?: string) => unknown> {
  const byOid = new Map<number, (value: string) => unknown>();
  if (parsers.length) {
    const { rows } = await pool.query<{ oid: number; typarray: number; typname: string }>('SELECT oid::int, typarray::int, typname FROM pg_type WHERE typname = ANY($1::text[])', [parsers.map((p) => p.name)]);
    const { parse } = load<{ parse(s: string, f?: (v: string) => unknown): unknown[] }>('postgres-array', 'postgres-array');
    for (const p of parsers) {
      const row = rows.find((r) => r.typname === p.name);
      if (!row) throw new FailoverError('INVALID_OPTION', `${LABEL}: database type "${p.name}" (a Slonik type parser) not found`);
      byOid.set(row.oid, (v) => p.parse(v));
      if (row.typarray) byOid.set(row.typarray, (v) => parse(v, (x) => p.parse(x)));
    }
  }
  return (oid, format) => byOid.get(oid) ?? pgFailover.types.getTypeParser(oid, format as never);
}

/** An instance of Slonik's error class `name` (a plain Error when this Slonik has none). */
function slonikClass(errors: Record<string, ErrorClass>, name: string, ...args: unknown[]): Error {
  const C = errors[name] as (new (...a: unknown[]) => Error) | undefined;
  return C ? new C(...args) : new Error(String(args[0]));
}

/** SQLSTATE → Slonik's error classes (as its pg driver maps them); pg-failover's own errors pass unchanged. */
function slonikError(errors: Record<string, ErrorClass>, error: Error, sql: string, values: unknown[] | undefined): Error {
  if (error instanceof FailoverError) return error;
  const code = (error as { code?: unknown }).code;
  const wrap = (name: string, ...args: unknown[]) => (errors[name] ? slonikClass(errors, name, ...args) : error);
  switch (code) {
    case '22P02':
      return wrap('InvalidInputError', error.message);
    case '25P03':
      return wrap('IdleTransactionTimeoutError', error);
    case '57P01':
      return wrap('BackendTerminatedError', error);
    case '57014':
      return error.message.includes('canceling statement due to user request') ? wrap('StatementCancelledError', error) : wrap('StatementTimeoutError', error);
    case '23502':
      return wrap('NotNullIntegrityConstraintViolationError', error);
    case '23503':
      return wrap('ForeignKeyIntegrityConstraintViolationError', error);
    case '23505':
      return wrap('UniqueIntegrityConstraintViolationError', error);
    case '23P01':
      return wrap('CheckExclusionConstraintViolationError', error);
    case '23514':
      return wrap('CheckIntegrityConstraintViolationError', error);
    case '42601':
      return wrap('InputSyntaxError', error, { sql, values: values ?? [] });
    default:
      return error;
  }
}

export default slonikOptions;
