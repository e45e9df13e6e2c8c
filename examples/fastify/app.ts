/**
 * The Express example's API on Fastify, with `causalScopePlugin(pool)` from
 * `pg-failover/fastify`: read-your-writes per request, the causal token carried
 * in the `x-pgfailover-causal` header and a cookie.
 */
import Fastify from 'fastify';
import { Pool } from 'pg-failover';
import { causalScopePlugin } from 'pg-failover/fastify';

export async function start(connectionString: string): Promise<{ url: string; pool: Pool; close(): Promise<void> }> {
  const pool = new Pool({ connectionString });
  pool.on('error', () => {});
  await pool.query('CREATE TABLE IF NOT EXISTS fastify_items (id int PRIMARY KEY, note text)');
  const app = Fastify();
  await app.register(causalScopePlugin(pool));
  app.post<{ Body: { id: number; note?: string } }>('/items', async (req, reply) => {
    const r = await pool.query('INSERT INTO fastify_items (id, note) VALUES ($1, $2) RETURNING inet_server_port() AS port, pg_is_in_recovery() AS standby', [req.body.id, req.body.note ?? null]);
    return reply.code(201).send(r.rows[0]);
  });
  app.get('/items', async () => (await pool.query('SELECT count(*)::int AS count, inet_server_port() AS port, pg_is_in_recovery() AS standby FROM fastify_items')).rows[0]);
  app.post<{ Body: { id: number } }>('/transfer', async (req) => {
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      const a = (await client.query('SELECT inet_server_port() AS port, pg_backend_pid() AS pid')).rows[0];
      await client.query('INSERT INTO fastify_items (id, note) VALUES ($1, $2)', [req.body.id, 't']);
      const b = (await client.query('SELECT inet_server_port() AS port, pg_backend_pid() AS pid')).rows[0];
      await client.query('COMMIT');
      client.release();
      return { ports: [a.port, b.port], pids: [a.pid, b.pid] };
    } catch (e) {
      await client.query('ROLLBACK').catch(() => {});
      client.release(e as Error);
      throw e;
    }
  });
  // pg-failover's stable code in the body: the client can tell an in-doubt write from a refusal.
  app.setErrorHandler((err: { code?: string; message: string }, _req, reply) => {
    void reply.code(err.code === 'FAILOVER_TIMEOUT' || err.code === 'NO_PRIMARY' ? 503 : 500).send({ code: err.code, message: err.message });
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  return {
    url,
    pool,
    async close() {
      await app.close();
      await pool.end();
    },
  };
}
