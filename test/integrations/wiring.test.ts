/**
 * The sub-path integrations refuse wrong wiring at startup with our codes,
 * and work when wired right: knex through PgFailoverKnexClient with a
 * multi-host URI (which knex's own client mistakes for an SQLite file) or
 * `{ connectionString }`, Prisma's adapter holding our Pool.
 */
import { describe, it, expect } from 'vitest';
import pg from 'pg';
import knex from 'knex';
import { useCluster } from '../support/cluster';
import { Pool } from '../../src';
import { PgFailoverKnexClient } from '../../src/integrations/knex';
import { PrismaPgFailover } from '../../src/integrations/prisma';
import { Sequelize } from 'sequelize';
import { sequelizeOptions } from '../../src/integrations/sequelize';

describe('pg-failover/knex, /prisma and /sequelize wiring', () => {
  const h = useCluster({ standbys: 1 });

  it('knex: a multi-host URI string and { connectionString } both run on our Pool (read on the standby, write on the primary)', async () => {
    const url = h.cluster.connectionString();
    for (const connection of [url, { connectionString: url }]) {
      const db = knex({ client: PgFailoverKnexClient, connection });
      try {
        const r = await db.raw('SELECT pg_is_in_recovery() AS standby, inet_server_port() AS port');
        expect(r.rows[0]).toEqual({ standby: true, port: h.cluster.standbys[0]!.server.port });
        const p = await db.raw("SELECT inet_server_port() AS port FROM (SELECT set_config('x.y', '1', false)) s");
        expect(p.rows[0].port).toBe(h.cluster.primary.server.port);
      } finally {
        await db.destroy();
      }
    }
  });

  it('knex: another pool, a bad searchPath, or a string knex took for an SQLite file are refused with INVALID_OPTION', () => {
    const plain = new pg.Pool();
    expect(() => knex({ client: PgFailoverKnexClient, connectionPool: plain })).toThrow(expect.objectContaining({ code: 'INVALID_OPTION' }));
    void plain.end();
    expect(() => knex({ client: PgFailoverKnexClient, connection: h.cluster.connectionString(), searchPath: ['public; DROP TABLE x'] })).toThrow(
      expect.objectContaining({ code: 'INVALID_OPTION' }),
    );
    expect(() => knex({ client: PgFailoverKnexClient, connection: 'db1,db2/shop' })).toThrow(expect.objectContaining({ code: 'INVALID_OPTION' }));
  });

  it('knex: destroy() ends the Pool it made, not one it was given', async () => {
    const pool = new Pool({ connectionString: h.cluster.connectionString() });
    const db = knex({ client: PgFailoverKnexClient, connectionPool: pool });
    expect((await db.raw('SELECT 1 AS one')).rows[0].one).toBe(1);
    await db.destroy();
    expect((await pool.query('SELECT 2 AS two')).rows[0].two).toBe(2);
    await pool.end();
  });

  it('prisma: the adapter holds our Pool (plain PrismaPg would build its own pg.Pool from it)', async () => {
    const pool = new Pool({ connectionString: h.cluster.connectionString() });
    const adapter = new PrismaPgFailover(pool);
    expect(adapter.failoverPool).toBe(pool);
    const conn = (await adapter.connect()) as unknown as { underlyingDriver(): unknown; dispose(): Promise<void> };
    expect(conn.underlyingDriver()).toBe(pool);
    await conn.dispose();
    expect((await pool.query('SELECT 3 AS three')).rows[0].three).toBe(3); // not ended: the caller owns it
    await pool.end();
  });

  it('sequelize: a multi-host URI works (new Sequelize(url) throws Invalid URL); a session SET is refused, inside a transaction it is fine', async () => {
    const url = h.cluster.connectionString();
    expect(() => new Sequelize(url, { dialect: 'postgres' })).toThrow(/Invalid URL/);
    const { options, pool } = sequelizeOptions(url);
    const sequelize = new Sequelize({ ...options, logging: false } as never);
    try {
      const [rows] = await sequelize.query('SELECT pg_is_in_recovery() AS standby, current_setting(\'TimeZone\') AS tz');
      expect(rows).toEqual([{ standby: true, tz: 'UTC' }]);
      const err = await sequelize.query('SET search_path TO x').then(() => undefined, (e: { parent?: { code?: string }; original?: { code?: string } }) => e);
      expect(err?.parent?.code ?? err?.original?.code).toBe('INVALID_OPTION');
      await sequelize.transaction(async (transaction) => {
        await sequelize.query('SET LOCAL search_path TO public', { transaction });
        const [r] = await sequelize.query('SELECT pg_is_in_recovery() AS standby', { transaction });
        expect(r).toEqual([{ standby: false }]);
      });
    } finally {
      await sequelize.close();
      await pool.end();
    }
    expect(() => sequelizeOptions('postgresql://a@b:notaport/c')).toThrow(expect.objectContaining({ code: expect.stringMatching(/^CONNINFO_/) }));
  });
});
