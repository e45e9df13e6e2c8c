/**
 * An Express app on pg-failover with read-your-writes per request:
 * `causalScope(pool)` from `pg-failover/express` runs every request in its own
 * `pool.causalScope()` and carries the causal token to the next request in a
 * header (`x-pgfailover-causal`) and a cookie. A client that POSTs and then
 * GETs sees its write, even on a standby; requests that wrote nothing read
 * from standbys while other requests write.
 */
import express from 'express';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { Pool } from 'pg-failover';
import { causalScope } from 'pg-failover/express';

export function buildServer(pool: Pool): express.Express {
  const app = express();
  app.use(express.json());
  app.use(causalScope(pool));
  app.post('/items', async (req, res, next) => {
    try {
      const r = await pool.query('INSERT INTO express_items (id, note) VALUES ($1, $2) RETURNING inet_server_port() AS port, pg_is_in_recovery() AS standby', [req.body.id, req.body.note ?? null]);
      res.status(201).json(r.rows[0]);
    } catch (e) {
      next(e);
    }
  });
  app.get('/items/:id', async (req, res, next) => {
    try {
      const r = await pool.query(
        'SELECT i.id IS NOT NULL AS found, i.note, inet_server_port() AS port, pg_is_in_recovery() AS standby FROM (SELECT 1) one LEFT JOIN express_items i ON i.id = $1',
        [Number(req.params.id)],
      );
      res.json(r.rows[0]);
    } catch (e) {
      next(e);
    }
  });
  app.get('/items', async (_req, res, next) => {
    try {
      const r = await pool.query('SELECT count(*)::int AS count, inet_server_port() AS port, pg_is_in_recovery() AS standby FROM express_items');
      res.json(r.rows[0]);
    } catch (e) {
      next(e);
    }
  });
  app.post('/transfer', async (req, res, next) => {
    const client = await pool.connect().catch(next);
    if (!client) return;
    try {
      await client.query('BEGIN');
      const a = (await client.query('SELECT inet_server_port() AS port, pg_backend_pid() AS pid')).rows[0];
      await client.query('INSERT INTO express_items (id, note) VALUES ($1, $2)', [req.body.id, 't']);
      const b = (await client.query('SELECT inet_server_port() AS port, pg_backend_pid() AS pid')).rows[0];
      await client.query('COMMIT');
      client.release();
      res.json({ ports: [a.port, b.port], pids: [a.pid, b.pid] });
    } catch (e) {
      await client.query('ROLLBACK').catch(() => {});
      client.release(e as Error);
      next(e);
    }
  });
  // Errors carry pg-failover's stable code: the client can tell an in-doubt write from a refusal.
  app.use((err: { code?: string; message?: string }, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    res.status(err.code === 'FAILOVER_TIMEOUT' || err.code === 'NO_PRIMARY' ? 503 : 500).json({ code: err.code, message: err.message });
  });
  return app;
}

/** Starts the app on 127.0.0.1 (port 0: a free one). */
export async function start(connectionString: string, port = 0): Promise<{ url: string; pool: Pool; server: Server; close(): Promise<void> }> {
  const pool = new Pool({ connectionString });
  pool.on('error', () => {});
  await pool.query('CREATE TABLE IF NOT EXISTS express_items (id int PRIMARY KEY, note text)');
  const server = buildServer(pool).listen(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => server.once('listening', resolve).once('error', reject));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    pool,
    server,
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections?.();
      await pool.end();
    },
  };
}
