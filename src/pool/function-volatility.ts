/**
 * The volatility of the database's own functions (pg_proc), so the classifier can send
 * `SELECT my_immutable_fn()` to a standby and `SELECT my_volatile_fn()` to the primary.
 * Keyed both `schema.name` and bare `name` (the bare name takes the most volatile of its
 * overloads and schemas: an unqualified call could resolve to any of them).
 */
import type pg from 'pg';

export type Volatility = 'i' | 's' | 'v';

export async function functionVolatility(pool: pg.Pool): Promise<Map<string, Volatility>> {
  const { rows } = await pool.query<{ schema: string; name: string; v: Volatility }>(
    `SELECT n.nspname AS schema, p.proname AS name, max(p.provolatile::text) AS v
       FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
      WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
      GROUP BY 1, 2`,
  );
  const map = new Map<string, Volatility>();
  const worst = (a: Volatility | undefined, b: Volatility) => (a && a > b ? a : b);
  for (const r of rows) {
    map.set(`${r.schema}.${r.name}`, r.v);
    map.set(r.name, worst(map.get(r.name), r.v));
  }
  return map;
}
