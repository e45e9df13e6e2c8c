/**
 * TypeORM on pg-failover: `driver` swaps the `pg` module TypeORM loads for
 * ours, so the Pool it builds is a pg-failover Pool (it also passes the URL
 * through as `connectionString`). Repository reads → standbys, saves → the
 * primary, `dataSource.transaction()` → one primary session.
 */
import { DataSource, EntitySchema } from 'typeorm';
import * as pgFailover from 'pg-failover';
import { num, type ExampleApp } from '../shared/app';

interface Item {
  id: number;
  note: string | null;
}
const ItemEntity = new EntitySchema<Item>({
  name: 'Item',
  tableName: 'typeorm_items',
  columns: { id: { type: Number, primary: true }, note: { type: String, nullable: true } },
});

export function createApp(connectionString: string): ExampleApp {
  const ds = new DataSource({ type: 'postgres', url: connectionString, driver: pgFailover, entities: [ItemEntity], synchronize: false });
  let ready: Promise<DataSource> | undefined;
  const db = () => (ready ??= ds.initialize());
  return {
    name: 'typeorm',
    async setup() {
      await (await db()).query('CREATE TABLE IF NOT EXISTS typeorm_items (id int PRIMARY KEY, note text)');
    },
    async write(id) {
      const r = await (await db())
        .createQueryBuilder()
        .insert()
        .into(ItemEntity)
        .values({ id, note: 'w' })
        .returning('inet_server_port() AS port, pg_is_in_recovery() AS standby')
        .execute();
      const row = r.raw[0] as { port: number; standby: boolean };
      return { port: num(row.port), standby: row.standby };
    },
    async read() {
      const r = await (await db())
        .getRepository(ItemEntity)
        .createQueryBuilder('i')
        .select('count(*)', 'n')
        .addSelect('inet_server_port()', 'port')
        .addSelect('pg_is_in_recovery()', 'standby')
        .getRawOne<{ n: string; port: number; standby: boolean }>();
      return { count: num(r!.n), port: num(r!.port), standby: r!.standby };
    },
    async transaction(id) {
      return (await db()).transaction(async (m) => {
        const [a] = await m.query('SELECT inet_server_port() AS port, pg_backend_pid() AS pid');
        await m.getRepository(ItemEntity).insert({ id, note: 't' });
        const [b] = await m.query('SELECT inet_server_port() AS port, pg_backend_pid() AS pid');
        return { ports: [num(a.port), num(b.port)], pids: [num(a.pid), num(b.pid)] };
      });
    },
    async close() {
      if (ready) await (await ready).destroy();
    },
  };
}
