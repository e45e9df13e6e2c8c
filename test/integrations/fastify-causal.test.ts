/**
 * pg-failover/fastify: the same contract as the Express middleware, on a real
 * Fastify app: with replay paused on the standby, a request that sends the
 * token back (header or cookie) reads the write made by the previous one; a
 * request without it reads from the standby.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import Fastify, { type FastifyInstance } from 'fastify';
import pg from 'pg';
import { useCluster, connectTo } from '../support/cluster';
import { Pool } from '../../src';
import { causalScopePlugin } from '../../src/integrations/fastify';

const HEADER = 'x-pgfailover-causal';

describe('pg-failover/fastify: the causal token travels between requests', () => {
  const h = useCluster({ standbys: 1 });
  let app: FastifyInstance;
  let pool: Pool;
  let standby: pg.Client;

  beforeAll(async () => {
    pool = new Pool({ connectionString: h.cluster.connectionString() });
    pool.on('error', () => {});
    await pool.query('CREATE TABLE fastify_items (id int PRIMARY KEY)');
    app = Fastify();
    await app.register(causalScopePlugin(pool));
    app.post<{ Body: { id: number } }>('/items', async (req, reply) => {
      await pool.query('INSERT INTO fastify_items VALUES ($1)', [req.body.id]);
      return reply.code(201).send({ ok: true });
    });
    app.get<{ Params: { id: string } }>('/items/:id', async (req) => {
      const r = await pool.query('SELECT EXISTS (SELECT 1 FROM fastify_items WHERE id = $1) AS found, pg_is_in_recovery() AS standby', [Number(req.params.id)]);
      return r.rows[0];
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    await h.cluster.waitForReplay(h.cluster.standbys[0]!.name);
    standby = await connectTo(h.cluster.standbys[0]!);
    await standby.query('SELECT pg_wal_replay_pause()');
  });
  afterAll(async () => {
    await standby?.query('SELECT pg_wal_replay_resume()').catch(() => {});
    await standby?.end();
    await app?.close();
    await pool?.end();
  });

  it('POST answers with the token; sending it back (header or cookie) reads the write, without it a standby answers', async () => {
    const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
    const res = await fetch(`${base}/items`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id: 7 }) });
    expect(res.status).toBe(201);
    const token = res.headers.get(HEADER)!;
    expect(token).toMatch(/^pgfo1:[0-9A-F]+\/[0-9A-F]+$/);
    const cookie = res.headers.get('set-cookie')!.split(';')[0]!;
    const read = async (headers: Record<string, string>) => (await (await fetch(`${base}/items/7`, { headers })).json()) as { found: boolean; standby: boolean };
    expect(await read({ [HEADER]: token })).toEqual({ found: true, standby: false });
    expect(await read({ cookie })).toEqual({ found: true, standby: false });
    expect(await read({})).toEqual({ found: false, standby: true });
  });
});
