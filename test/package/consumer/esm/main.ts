// A strict ESM (module: nodenext) consumer of the packed pg-failover, written as for pg.
import pg, { Pool, Client, DatabaseError, escapeIdentifier, escapeLiteral, types, defaults, Query, Result, Connection, TypeOverrides } from 'pg-failover';
import type { ClientConfig, FieldDef, Notification, PoolClient, PoolConfig, QueryConfig, QueryResult, QueryResultRow } from 'pg-failover';
import { createRequire } from 'node:module';
import type { AllTypes } from './all-types.js';

interface Row extends QueryResultRow {
  standby: boolean;
  n: number;
}

const url = process.env.DATABASE_URL;
const config: PoolConfig = { connectionString: url, max: 2 };
const pool = new pg.Pool(config);
const read: QueryResult<Row> = await pool.query<Row>('SELECT pg_is_in_recovery() AS standby, 1 AS n');
const client: PoolClient = await pool.connect();
const q: QueryConfig<number[]> = { text: 'SELECT $1::int AS n', values: [2] };
const second = await client.query<Row>(q);
const fields: FieldDef[] = second.fields;
client.release();
await pool.end();

const cc: ClientConfig = { connectionString: url };
const single = new Client(cc);
await single.connect();
const onNotification = (n: Notification): string => n.channel;
single.on('notification', onNotification);
let databaseError = false;
try {
  await single.query('SELECT nope');
} catch (e) {
  databaseError = e instanceof DatabaseError && (e as InstanceType<typeof DatabaseError>).code === '42703';
}
await single.end();

const required = createRequire(import.meta.url)('pg-failover') as typeof pg;
const everyType: AllTypes | undefined = undefined;
console.log(
  JSON.stringify({
    standby: read.rows[0].standby,
    n: second.rows[0].n,
    fields: fields.map((f) => f.name),
    databaseError,
    literal: escapeLiteral("it's"),
    identifier: escapeIdentifier('a"b'),
    native: pg.native,
    sameDefault: pg.Pool === Pool && pg.Client === Client,
    sameRequire: required.Pool === Pool && required.types === types,
    helpers: [typeof types.setTypeParser, typeof defaults, typeof Query, typeof Result, typeof Connection, typeof TypeOverrides],
    everyType: everyType === undefined,
  }),
);
