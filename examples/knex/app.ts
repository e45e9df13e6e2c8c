/**
 * knex on pg-failover: knex's own `client: 'pg'` parses the connection string
 * itself and cannot read a multi-host URI (it takes it for an SQLite file and
 * connects to localhost:5432), and it would use its own `pg`. The client class
 * from `pg-failover/knex` runs knex on our Pool instead.
 */
import knex from 'knex';
import { PgFailoverKnexClient } from 'pg-failover/knex';
import { num, type ExampleApp } from '../shared/app';

export function createApp(connectionString: string): ExampleApp {
  const db = knex({ client: PgFailoverKnexClient, connection: connectionString });
  return {
    name: 'knex',
    async setup() {
      await db.raw('CREATE TABLE IF NOT EXISTS knex_items (id int PRIMARY KEY, note text)');
    },
    async write(id) {
      const [r] = await db('knex_items').insert({ id, note: 'w' }).returning([db.raw('inet_server_port() AS port'), db.raw('pg_is_in_recovery() AS standby')]);
      return { port: num(r.port), standby: r.standby };
    },
    async read() {
      const [r] = await db('knex_items').select(db.raw('count(*) AS n, inet_server_port() AS port, pg_is_in_recovery() AS standby'));
      return { count: num(r.n), port: num(r.port), standby: r.standby };
    },
    async transaction(id) {
      return db.transaction(async (trx) => {
        const a = (await trx.raw('SELECT inet_server_port() AS port, pg_backend_pid() AS pid')).rows[0];
        await trx('knex_items').insert({ id, note: 't' });
        const b = (await trx.raw('SELECT inet_server_port() AS port, pg_backend_pid() AS pid')).rows[0];
        return { ports: [num(a.port), num(b.port)], pids: [num(a.pid), num(b.pid)] };
      });
    },
    close: () => db.destroy(),
  };
}
