/**
 * What pg-failover/slonik and pg-failover/mikro-orm keep of the libraries'
 * own behaviour on our Pool (a primary + one standby): Slonik's type parsers
 * (int8 → bigint), its constraint error classes, streams (on a standby
 * outside a transaction, on the transaction's primary session inside one);
 * MikroORM's type parsers (a date stays a string); and a session `SET`
 * outside a transaction refused with INVALID_OPTION, inside one allowed.
 */
import { describe, it, expect } from 'vitest';
import { createPool, sql, UniqueIntegrityConstraintViolationError } from 'slonik';
import { MikroORM } from '@mikro-orm/postgresql';
import { slonikOptions } from '../../src/integrations/slonik';
import { mikroOrmOptions } from '../../src/integrations/mikro-orm';
import { codeOf } from '../examples/drive';
import { useCluster } from '../support/cluster';

describe('Slonik and MikroORM on a pg-failover Pool keep their own behaviour', () => {
  const h = useCluster({ standbys: 1 });

  it("Slonik: int8 parsed by its preset (a bigint, not pg's string), a duplicate key is UniqueIntegrityConstraintViolationError, SET outside a transaction is INVALID_OPTION", async () => {
    const url = h.cluster.connectionString();
    const { options, pool } = slonikOptions(url);
    const db = await createPool(url, options);
    try {
      expect(await db.oneFirst(sql.unsafe`SELECT 5::int8 AS x`)).toBe(5n); // Slonik's preset (pg alone gives '5')
      await db.query(sql.unsafe`CREATE TABLE IF NOT EXISTS slonik_unique (id int PRIMARY KEY)`);
      await db.query(sql.unsafe`INSERT INTO slonik_unique VALUES (1)`);
      const dup = await db.query(sql.unsafe`INSERT INTO slonik_unique VALUES (1)`).then(() => undefined, (e: unknown) => e);
      expect(dup).toBeInstanceOf(UniqueIntegrityConstraintViolationError);
      const set = await db.query(sql.unsafe`SET search_path TO public`).then(() => undefined, (e: unknown) => e);
      expect(codeOf(set)).toBe('INVALID_OPTION');
      const inTxn = await db.transaction(async (t) => {
        await t.query(sql.unsafe`SET LOCAL search_path TO public`);
        return t.oneFirst(sql.unsafe`SELECT current_setting('search_path')`);
      });
      expect(inTxn).toBe('public');
    } finally {
      await db.end();
      await pool.end();
    }
  });

  it('Slonik: a stream runs on a standby outside a transaction and on the primary session inside one', async () => {
    const url = h.cluster.connectionString();
    const { options, pool } = slonikOptions(url);
    const db = await createPool(url, options);
    const rows = async (q: (handler: (s: NodeJS.ReadableStream) => void) => Promise<unknown>) => {
      const got: Array<{ n: number; port: number; standby: boolean; pid: number }> = [];
      await q((s) => s.on('data', (d: { data: (typeof got)[number] }) => got.push(d.data)));
      return got;
    };
    const text = sql.unsafe`SELECT n, inet_server_port() AS port, pg_is_in_recovery() AS standby, pg_backend_pid() AS pid FROM generate_series(1, 5) n`;
    try {
      const outside = await rows((handler) => db.stream(text, handler as never));
      expect(outside.map((r) => r.n)).toEqual([1, 2, 3, 4, 5]);
      expect(outside[0]).toMatchObject({ standby: true, port: h.cluster.standbys[0]!.server.port });
      const inside = await db.transaction(async (t) => {
        const pid = await t.oneFirst(sql.unsafe`SELECT pg_backend_pid()`);
        const got = await rows((handler) => t.stream(text, handler as never));
        return { pid, got };
      });
      expect(inside.got.map((r) => r.n)).toEqual([1, 2, 3, 4, 5]);
      expect(inside.got[0]).toMatchObject({ standby: false, port: h.cluster.primary.server.port, pid: inside.pid });
    } finally {
      await db.end();
      await pool.end();
    }
  });

  it("MikroORM: its type parsers apply (a date stays a string), SET outside a transaction is INVALID_OPTION", async () => {
    const { options, pool } = mikroOrmOptions(h.cluster.connectionString());
    const orm = await MikroORM.init({ ...options, entities: [], discovery: { warnWhenNoEntities: false } });
    try {
      const [r] = await orm.em.fork().execute<Array<{ d: unknown; n: unknown }>>("SELECT DATE '2024-02-29' AS d, 7 AS n");
      expect(r).toEqual({ d: '2024-02-29', n: 7 });
      const set = await orm.em.fork().execute('SET search_path TO public').then(() => undefined, (e: unknown) => e);
      expect(codeOf(set)).toBe('INVALID_OPTION');
    } finally {
      await orm.close(true);
      await pool.end();
    }
  });
});
