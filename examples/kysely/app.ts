/**
 * Kysely on pg-failover: Kysely's own PostgresDialect takes our Pool where it
 * takes pg's. Plain queries → standbys, writes → the primary,
 * `db.transaction()` → one primary session.
 */
import { Kysely, PostgresDialect, sql } from 'kysely';
import { Pool } from 'pg-failover';
import { num, type ExampleApp } from '../shared/app';

interface Database {
  kysely_items: { id: number; note: string | null };
}

export function createApp(connectionString: string): ExampleApp {
  const pool = new Pool({ connectionString });
  pool.on('error', () => {}); // idle sessions of a failed node report here, like pg.Pool
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  const where = sql<number>`inet_server_port()`.as('port');
  const standby = sql<boolean>`pg_is_in_recovery()`.as('standby');
  const backend = sql<number>`pg_backend_pid()`.as('pid');
  return {
    name: 'kysely',
    async setup() {
      await sql`CREATE TABLE IF NOT EXISTS kysely_items (id int PRIMARY KEY, note text)`.execute(db);
    },
    async write(id) {
      const r = await db.insertInto('kysely_items').values({ id, note: 'w' }).returning([where, standby]).executeTakeFirstOrThrow();
      return { port: num(r.port), standby: r.standby };
    },
    async read() {
      const r = await db.selectFrom('kysely_items').select([sql<string>`count(*)`.as('n'), where, standby]).executeTakeFirstOrThrow();
      return { count: num(r.n), port: num(r.port), standby: r.standby };
    },
    async transaction(id) {
      return db.transaction().execute(async (trx) => {
        const a = await trx.selectNoFrom([where, backend]).executeTakeFirstOrThrow();
        await trx.insertInto('kysely_items').values({ id, note: 't' }).execute();
        const b = await trx.selectNoFrom([where, backend]).executeTakeFirstOrThrow();
        return { ports: [num(a.port), num(b.port)], pids: [num(a.pid), num(b.pid)] };
      });
    },
    close: () => db.destroy(),
  };
}
