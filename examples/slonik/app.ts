/**
 * Slonik on pg-failover: `slonikOptions(url)` from `pg-failover/slonik` is a
 * Slonik driver factory whose connections are sessions over our Pool (Slonik's
 * own pg driver reads one host from the URI). `slonik.one(sql…)` → a standby,
 * an INSERT → the primary, `slonik.transaction()` → one primary session.
 */
import { createPool, sql, type DatabasePool } from 'slonik';
import { slonikOptions } from 'pg-failover/slonik';
import { num, type ExampleApp } from '../shared/app';

export function createApp(connectionString: string): ExampleApp {
  const { options, pool } = slonikOptions(connectionString);
  let ready: Promise<DatabasePool> | undefined;
  // The URI is not parsed by Slonik here: the Pool behind the driver factory was made from it.
  const db = () => (ready ??= createPool(connectionString, { ...options, maximumPoolSize: 10 }));
  return {
    name: 'slonik',
    async setup() {
      await (await db()).query(sql.unsafe`CREATE TABLE IF NOT EXISTS slonik_items (id int PRIMARY KEY, note text)`);
    },
    async write(id) {
      const r = await (await db()).one(sql.unsafe`INSERT INTO slonik_items (id, note) VALUES (${id}, 'w') RETURNING inet_server_port() AS port, pg_is_in_recovery() AS standby`);
      return { port: num(r.port), standby: r.standby as boolean };
    },
    async read() {
      const r = await (await db()).one(sql.unsafe`SELECT count(*) AS n, inet_server_port() AS port, pg_is_in_recovery() AS standby FROM slonik_items`);
      return { count: num(r.n), port: num(r.port), standby: r.standby as boolean };
    },
    async transaction(id) {
      return (await db()).transaction(async (t) => {
        const a = await t.one(sql.unsafe`SELECT inet_server_port() AS port, pg_backend_pid() AS pid`);
        await t.query(sql.unsafe`INSERT INTO slonik_items (id, note) VALUES (${id}, 't')`);
        const b = await t.one(sql.unsafe`SELECT inet_server_port() AS port, pg_backend_pid() AS pid`);
        return { ports: [num(a.port), num(b.port)], pids: [num(a.pid), num(b.pid)] };
      });
    },
    async close() {
      if (ready) await (await ready).end();
      await pool.end();
    },
  };
}
