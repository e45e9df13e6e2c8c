/**
 * Sequelize on pg-failover: `new Sequelize(multiHostUrl)` throws `Invalid URL`,
 * and its own connections would bypass routing. `sequelizeOptions()` from
 * `pg-failover/sequelize` gives Sequelize our dialect module, whose sessions are
 * facades over one Pool: plain statements routed per statement,
 * `sequelize.transaction()` on one primary session.
 */
import { DataTypes, QueryTypes, Sequelize } from 'sequelize';
import { sequelizeOptions } from 'pg-failover/sequelize';
import { num, type ExampleApp } from '../shared/app';

export function createApp(connectionString: string): ExampleApp {
  const { options, pool } = sequelizeOptions(connectionString);
  const sequelize = new Sequelize({ ...options, logging: false } as never);
  const Item = sequelize.define('Item', { id: { type: DataTypes.INTEGER, primaryKey: true }, note: DataTypes.TEXT }, { tableName: 'sequelize_items', timestamps: false });
  const where = async (sql: string, opts: object = {}) => (await sequelize.query(sql, { type: QueryTypes.SELECT, ...opts }))[0] as Record<string, unknown>;
  return {
    name: 'sequelize',
    async setup() {
      await sequelize.query('CREATE TABLE IF NOT EXISTS sequelize_items (id int PRIMARY KEY, note text)');
    },
    async write(id) {
      const [rows] = (await sequelize.query('INSERT INTO sequelize_items (id, note) VALUES (:id, :note) RETURNING inet_server_port() AS port, pg_is_in_recovery() AS standby', {
        replacements: { id, note: 'w' },
        type: QueryTypes.INSERT,
      })) as unknown as [Array<{ port: number; standby: boolean }>];
      return { port: num(rows[0]!.port), standby: rows[0]!.standby };
    },
    async read() {
      const n = await Item.count();
      const r = await where('SELECT inet_server_port() AS port, pg_is_in_recovery() AS standby FROM sequelize_items LIMIT 1');
      return { count: n, port: num(r.port), standby: r.standby as boolean };
    },
    async transaction(id) {
      return sequelize.transaction(async (transaction) => {
        const a = await where('SELECT inet_server_port() AS port, pg_backend_pid() AS pid', { transaction });
        await Item.create({ id, note: 't' }, { transaction });
        const b = await where('SELECT inet_server_port() AS port, pg_backend_pid() AS pid', { transaction });
        return { ports: [num(a.port), num(b.port)], pids: [num(a.pid), num(b.pid)] };
      });
    },
    async close() {
      await sequelize.close();
      await pool.end();
    },
  };
}
