/**
 * Drizzle on pg-failover: drizzle-orm/node-postgres takes our Pool as its
 * `client`. Plain selects → standbys, inserts → the primary,
 * `db.transaction()` → one primary session.
 */
import { drizzle, type NodePgClient } from 'drizzle-orm/node-postgres';
import { integer, pgTable, text } from 'drizzle-orm/pg-core';
import { sql } from 'drizzle-orm';
import { Pool } from 'pg-failover';
import { num, type ExampleApp } from '../shared/app';

const items = pgTable('drizzle_items', { id: integer('id').primaryKey(), note: text('note') });

export function createApp(connectionString: string): ExampleApp {
  const pool = new Pool({ connectionString });
  pool.on('error', () => {});
  // Runtime: drizzle uses only query/connect. Types: @types/pg declares pg.Pool's `options`
  // with pg's defaults filled in (max: number), ours are the options as given — hence the cast.
  const db = drizzle({ client: pool as unknown as NodePgClient });
  const port = sql<number>`inet_server_port()`;
  const standby = sql<boolean>`pg_is_in_recovery()`;
  const pid = sql<number>`pg_backend_pid()`;
  return {
    name: 'drizzle',
    async setup() {
      await db.execute(sql`CREATE TABLE IF NOT EXISTS drizzle_items (id int PRIMARY KEY, note text)`);
    },
    async write(id) {
      const [r] = await db.insert(items).values({ id, note: 'w' }).returning({ port, standby });
      return { port: num(r!.port), standby: r!.standby };
    },
    async read() {
      const [r] = await db.select({ n: sql<string>`count(*)`, port, standby }).from(items);
      return { count: num(r!.n), port: num(r!.port), standby: r!.standby };
    },
    async transaction(id) {
      return db.transaction(async (tx) => {
        const a = (await tx.execute<{ port: number; pid: number }>(sql`SELECT inet_server_port() AS port, pg_backend_pid() AS pid`)).rows[0]!;
        await tx.insert(items).values({ id, note: 't' });
        const b = (await tx.execute<{ port: number; pid: number }>(sql`SELECT inet_server_port() AS port, pg_backend_pid() AS pid`)).rows[0]!;
        return { ports: [num(a.port), num(b.port)], pids: [num(a.pid), num(b.pid)] };
      });
    },
    close: () => pool.end(),
  };
}
