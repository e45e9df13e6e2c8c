/**
 * A write and its WAL position in one round trip (src/pool/positions.ts), on a real primary
 * behind a proxy that delays the server's answers by 100 ms (real sockets, real latency): the
 * position arrives with the write's answer, not one round trip later; it covers the write; and
 * the session goes back to its pool in ordinary (non-pipelined) mode, fit for a cursor.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import Cursor from 'pg-cursor';
import { useCluster } from '../support/cluster';
import { LatencyProxy } from '../support/latency-proxy';
import { writeWithPosition } from '../../src/pool/positions';
import { parseLsn } from '../../src/lsn';

const DELAY = 100;
const h = useCluster({ standbys: 0 }, async (c) => {
  await c.primary.server.query('CREATE TABLE positions_t (id int PRIMARY KEY)');
});

let proxy: LatencyProxy;
let pool: pg.Pool;
beforeAll(async () => {
  proxy = await LatencyProxy.start(h.cluster.primary.server.host, h.cluster.primary.server.port, DELAY);
  pool = new pg.Pool({ host: '127.0.0.1', port: proxy.port, user: 'postgres', database: 'postgres', max: 1 });
  await pool.query('SELECT 1'); // the session exists: the timings below are statements only
});
afterAll(async () => {
  await pool?.end();
  await proxy?.close();
});

describe('a write and its position', () => {
  it('come back in one round trip, the position covering the write; the session returns to its pool ordinary again', async () => {
    const before = parseLsn((await h.cluster.primary.server.query<{ l: string }>('SELECT pg_current_wal_lsn()::text AS l'))[0]!.l);
    const client = await pool.connect();
    const t0 = Date.now();
    const w = writeWithPosition(client, { text: 'INSERT INTO positions_t VALUES ($1) RETURNING id', values: [1] }, false);
    const [result, position] = await Promise.all([w.result, w.position]);
    const took = Date.now() - t0;
    expect(result.rows).toEqual([{ id: 1 }]);
    expect(parseLsn(position)).toBeGreaterThan(before);
    // One delayed answer (~DELAY), not two in a row (~2 × DELAY).
    expect(took).toBeGreaterThanOrEqual(DELAY - 5);
    expect(took, `took ${took} ms`).toBeLessThan(DELAY * 1.7);
    // The write is visible at that position: the primary's own replay view agrees.
    const at = parseLsn((await h.cluster.primary.server.query<{ l: string }>('SELECT pg_current_wal_lsn()::text AS l'))[0]!.l);
    expect(at).toBeGreaterThanOrEqual(parseLsn(position));
    // Released by writeWithPosition, in ordinary mode: the pool's one session serves a cursor (pipeline mode refuses those).
    await new Promise((r) => setTimeout(r, DELAY * 2));
    expect(pool.idleCount).toBe(1);
    const again = await pool.connect();
    try {
      expect((again as unknown as { pipeline: boolean }).pipeline).toBe(false);
      const cursor = again.query(new Cursor('SELECT id FROM positions_t ORDER BY id'));
      const rows = await new Promise<unknown[]>((res, rej) => cursor.read(10, (err: Error | undefined, r: unknown[]) => (err ? rej(err) : res(r))));
      expect(rows).toEqual([{ id: 1 }]);
      await new Promise<void>((res) => cursor.close(() => res()));
    } finally {
      again.release();
    }
  });

  it('a write the server refuses: its error as is, the position still read, the session kept (not destroyed)', async () => {
    const client = await pool.connect();
    const pid = (client as unknown as { processID: number }).processID;
    const w = writeWithPosition(client, { text: 'INSERT INTO positions_t VALUES (1)' }, true);
    await expect(w.result).rejects.toMatchObject({ code: '23505' });
    await expect(w.position).resolves.toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
    await new Promise((r) => setTimeout(r, DELAY * 2));
    const again = await pool.connect();
    try {
      expect((again as unknown as { processID: number }).processID).toBe(pid);
      expect((await again.query('SELECT count(*)::int AS n FROM positions_t')).rows).toEqual([{ n: 1 }]);
    } finally {
      again.release();
    }
  });
});
