/**
 * MikroORM 6 on pg-failover: `mikroOrmOptions(url)` from `pg-failover/mikro-orm`
 * gives MikroORM a knex dialect whose connections are sessions over our Pool
 * (MikroORM's own `clientUrl` cannot hold a multi-host URI). `em.find` /
 * query-builder selects → standbys, `em.execute` inserts → the primary,
 * `em.transactional()` → one primary session.
 */
import { EntitySchema, MikroORM, raw } from '@mikro-orm/postgresql';
import { mikroOrmOptions } from 'pg-failover/mikro-orm';
import { num, type ExampleApp } from '../shared/app';

interface Item {
  id: number;
  note?: string;
}
const ItemSchema = new EntitySchema<Item>({
  name: 'MikroItem',
  tableName: 'mikro_items',
  properties: { id: { type: 'number', primary: true, autoincrement: false }, note: { type: 'string', nullable: true } },
});

export function createApp(connectionString: string): ExampleApp {
  const { options, pool } = mikroOrmOptions(connectionString);
  let ready: Promise<MikroORM> | undefined;
  const orm = () => (ready ??= MikroORM.init({ ...options, entities: [ItemSchema], debug: false, allowGlobalContext: true, pool: { min: 0, max: 10 } }));
  const em = async () => (await orm()).em.fork();
  return {
    name: 'mikro-orm',
    async setup() {
      await (await em()).execute('CREATE TABLE IF NOT EXISTS mikro_items (id int PRIMARY KEY, note text)');
    },
    async write(id) {
      const [r] = await (await em()).execute<Array<{ port: number; standby: boolean }>>('INSERT INTO mikro_items (id, note) VALUES (?, ?) RETURNING inet_server_port() AS port, pg_is_in_recovery() AS standby', [id, 'w']);
      return { port: num(r!.port), standby: r!.standby };
    },
    async read() {
      const r = await (await em())
        .createQueryBuilder(ItemSchema, 'i')
        .select([raw('count(*) as n'), raw('inet_server_port() as port'), raw('pg_is_in_recovery() as standby')])
        .execute<{ n: string; port: number; standby: boolean }>('get', false);
      return { count: num(r.n), port: num(r.port), standby: r.standby };
    },
    async transaction(id) {
      return (await em()).transactional(async (tem) => {
        const [a] = await tem.execute<Array<{ port: number; pid: number }>>('SELECT inet_server_port() AS port, pg_backend_pid() AS pid');
        await tem.insert(ItemSchema, { id, note: 't' });
        const [b] = await tem.execute<Array<{ port: number; pid: number }>>('SELECT inet_server_port() AS port, pg_backend_pid() AS pid');
        return { ports: [num(a!.port), num(b!.port)], pids: [num(a!.pid), num(b!.pid)] };
      });
    },
    async close() {
      if (ready) await (await ready).close(true);
      await pool.end();
    },
  };
}
