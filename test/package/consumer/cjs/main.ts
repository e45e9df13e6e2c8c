// A strict CommonJS (module: commonjs) consumer of the packed pg-failover: require() and the default import.
import pg = require('pg-failover');
import pgDefault from 'pg-failover';
import type { AllTypes } from './all-types';

interface Row extends pg.QueryResultRow {
  standby: boolean;
}

async function main(): Promise<void> {
  const config: pg.PoolConfig = { connectionString: process.env.DATABASE_URL };
  const pool = new pg.Pool(config);
  const r: pg.QueryResult<Row> = await pool.query<Row>('SELECT pg_is_in_recovery() AS standby');
  const c: pg.PoolClient = await pool.connect();
  const fields: pg.FieldDef[] = (await c.query('SELECT 1 AS one')).fields;
  c.release();
  await pool.end();
  const client = new pgDefault.Client({ connectionString: process.env.DATABASE_URL } satisfies pgDefault.ClientConfig);
  await client.connect();
  const { rows } = await client.query<{ two: number }>('SELECT 2 AS two');
  await client.end();
  const everyType: AllTypes | undefined = undefined;
  console.log(
    JSON.stringify({
      standby: r.rows[0].standby,
      fields: fields.map((f) => f.name),
      two: rows[0].two,
      native: pg.native,
      sameDefault: pgDefault.Pool === pg.Pool && pgDefault.types === pg.types,
      literal: pg.escapeLiteral("it's"),
      databaseError: typeof pg.DatabaseError,
      everyType: everyType === undefined,
    }),
  );
}
main().catch((e) => {
  console.error(e);
  process.exit(1);
});
