/**
 * `checkWiring` (pg-failover/wiring) on real library objects, wired wrongly
 * the ways users do (their own `pg`, a multi-host URI a library cannot parse,
 * our Pool handed where it is ignored) and wired right: a wrong one is
 * INVALID_OPTION naming the library, what it does instead and the fix; a
 * right one returns the Pool it runs on.
 */
import { describe, it, expect } from 'vitest';
import pg from 'pg';
import knex from 'knex';
import { Sequelize } from 'sequelize';
import { DataSource } from 'typeorm';
import { drizzle, type NodePgClient } from 'drizzle-orm/node-postgres';
import { PrismaPg } from '@prisma/adapter-pg';
import { MikroORM } from '@mikro-orm/postgresql';
import { createPool } from 'slonik';
import { Kysely, PostgresDialect } from 'kysely';
import * as pgFailover from '../../src';
import { Pool } from '../../src';
import { checkWiring } from '../../src/integrations/wiring';
import { PgFailoverKnexClient } from '../../src/integrations/knex';
import { sequelizeOptions } from '../../src/integrations/sequelize';
import { PrismaPgFailover } from '../../src/integrations/prisma';
import { mikroOrmOptions } from '../../src/integrations/mikro-orm';
import { slonikOptions } from '../../src/integrations/slonik';
import { useCluster } from '../support/cluster';

/** The INVALID_OPTION error checkWiring throws for `x` (fails the test when it returns). */
function refusal(x: unknown): { code?: string; message: string } {
  try {
    const r = checkWiring(x);
    throw new Error(`checkWiring passed: ${r.library}`);
  } catch (e) {
    return e as { code?: string; message: string };
  }
}

describe('checkWiring: a library on its own pg is named at startup, one on our Pool passes', () => {
  const h = useCluster({ standbys: 1 });
  const multiHost = () => h.cluster.connectionString();

  it('a pg-failover Pool passes; node-postgres\' own pg.Pool is refused', async () => {
    const ours = new Pool({ connectionString: multiHost() });
    expect(checkWiring(ours)).toEqual({ library: 'pg-failover', pool: ours });
    const theirs = new pg.Pool({ host: '127.0.0.1', port: 5432 });
    const e = refusal(theirs);
    expect(e.code).toBe('INVALID_OPTION');
    expect(e.message).toContain("node-postgres' own pg.Pool (one server, 127.0.0.1:5432)");
    await Promise.all([ours.end(), theirs.end()]);
  });

  it('knex: client "pg" with a multi-host URI (read as an SQLite file name) and with one host are refused; PgFailoverKnexClient passes', async () => {
    const stock = knex({ client: 'pg', connection: multiHost() });
    const e = refusal(stock);
    expect(e.code).toBe('INVALID_OPTION');
    expect(e.message).toMatch(/^knex is not wired to pg-failover: it took the connection string for an SQLite file name/);
    expect(e.message).toContain('PgFailoverKnexClient');
    const oneHost = knex({ client: 'pg', connection: { host: '127.0.0.1', port: 6543 } });
    expect(refusal(oneHost).message).toContain("client 'pg' connects to 127.0.0.1:6543 with its own pg");
    const ours = knex({ client: PgFailoverKnexClient, connection: multiHost() });
    const r = checkWiring(ours);
    expect(r.library).toBe('knex');
    expect(r.pool).toBeInstanceOf(Pool);
    await Promise.all([stock.destroy(), oneHost.destroy(), ours.destroy()]);
  });

  it("Sequelize: its own pg, or pg-failover's main module as dialectModule (one session per connection, no routing), are refused; sequelizeOptions passes", async () => {
    const stock = new Sequelize({ dialect: 'postgres', host: '127.0.0.1', port: 6543, logging: false });
    expect(refusal(stock).message).toMatch(/^Sequelize is not wired to pg-failover: it connects to 127\.0\.0\.1:6543 with its own pg; use sequelizeOptions/);
    const half = new Sequelize({ dialect: 'postgres', dialectModule: pgFailover, host: '127.0.0.1', logging: false });
    expect(refusal(half).message).toContain("dialectModule is pg-failover's main module");
    const { options, pool } = sequelizeOptions(multiHost());
    const ours = new Sequelize({ ...options, logging: false } as never);
    expect(checkWiring(ours)).toEqual({ library: 'sequelize', pool });
    await Promise.all([stock.close(), half.close(), ours.close()]);
    await pool.end();
  });

  it('TypeORM: without driver it loads its own pg (refused); with driver: pg-failover, once initialized, it passes', async () => {
    const stock = new DataSource({ type: 'postgres', host: '127.0.0.1', port: 6543 });
    expect(refusal(stock).message).toMatch(/^TypeORM is not wired to pg-failover: it loaded its own pg and connects to 127\.0\.0\.1:6543; pass driver:/);
    const ours = new DataSource({ type: 'postgres', url: multiHost(), driver: pgFailover });
    expect(refusal(ours).message).toContain('not initialized yet');
    await ours.initialize();
    try {
      const r = checkWiring(ours);
      expect(r.library).toBe('typeorm');
      expect(r.pool).toBeInstanceOf(Pool);
    } finally {
      await ours.destroy();
    }
  });

  it('Drizzle with a pg.Pool is refused, with ours it passes', async () => {
    const theirs = new pg.Pool({ host: '127.0.0.1', port: 6543 });
    expect(refusal(drizzle({ client: theirs })).message).toContain('its client is BoundPool, not a pg-failover Pool');
    const pool = new Pool({ connectionString: multiHost() });
    expect(checkWiring(drizzle({ client: pool as unknown as NodePgClient }))).toEqual({ library: 'drizzle', pool });
    await Promise.all([theirs.end(), pool.end()]);
  });

  it('Prisma: new PrismaPg(ourPool) (silently read as a config → localhost:5432) is refused by name; PrismaPgFailover passes', async () => {
    const pool = new Pool({ connectionString: multiHost() });
    const e = refusal(new PrismaPg(pool as never));
    expect(e.message).toContain('new PrismaPg(pool) accepts only its own pg.Pool');
    expect(e.message).toContain('PrismaPgFailover');
    expect(refusal(new PrismaPg({ host: '127.0.0.1', port: 6543 })).message).toContain('builds its own pg.Pool (127.0.0.1:6543)');
    const ours = new PrismaPgFailover(pool);
    expect(checkWiring(ours)).toEqual({ library: 'prisma', pool });
    await pool.end();
  });

  it('MikroORM: its own pg is refused; mikroOrmOptions passes', async () => {
    const stock = await MikroORM.init({ dbName: 'postgres', port: 6543, entities: [], discovery: { warnWhenNoEntities: false }, connect: false });
    expect(refusal(stock).message).toMatch(/^MikroORM is not wired to pg-failover: its knex connects with its own pg/);
    const { options, pool } = mikroOrmOptions(multiHost());
    const ours = await MikroORM.init({ ...options, entities: [], discovery: { warnWhenNoEntities: false }, connect: false });
    expect(checkWiring(ours)).toEqual({ library: 'mikro-orm', pool });
    await Promise.all([stock.close(true), ours.close(true)]);
    await pool.end();
  });

  it("Slonik: its own pg driver is refused; slonikOptions' driver factory passes", async () => {
    const p = h.cluster.primary.server;
    const stock = await createPool(`postgresql://postgres@${p.host}:${p.port}/postgres`);
    expect(refusal(stock).message).toMatch(/^Slonik is not wired to pg-failover: it uses its own pg driver/);
    const { options, pool } = slonikOptions(multiHost());
    const ours = await createPool(multiHost(), options);
    expect(checkWiring(ours)).toEqual({ library: 'slonik', pool });
    await Promise.all([stock.end(), ours.end()]);
    await pool.end();
  });

  it('what it cannot inspect (a Kysely instance, a plain object) is INVALID_OPTION "cannot tell", never a pass', async () => {
    const pool = new Pool({ connectionString: multiHost() });
    const db = new Kysely({ dialect: new PostgresDialect({ pool: pool as never }) });
    expect(refusal(db).message).toMatch(/^checkWiring cannot tell what Kysely runs on/);
    expect(refusal({}).code).toBe('INVALID_OPTION');
    expect(refusal(undefined).message).toContain('expected a library object, got undefined');
    await db.destroy();
  });
});
