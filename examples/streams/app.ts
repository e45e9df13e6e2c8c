/**
 * Streaming on pg-failover: pg-query-stream, pg-cursor and COPY through
 * pg-copy-streams run on a checked-out client (`pool.connect()`), which binds
 * at its first statement: a streamed SELECT → a standby, `COPY … FROM STDIN`
 * → the primary; a cursor pins the session until release.
 */
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import Cursor from 'pg-cursor';
import QueryStream from 'pg-query-stream';
import { from as copyFrom } from 'pg-copy-streams';
import { Pool } from 'pg-failover';
import { num, type ExampleApp } from '../shared/app';

export function createApp(connectionString: string): ExampleApp {
  const pool = new Pool({ connectionString });
  pool.on('error', () => {});
  type Rows = Array<Record<string, unknown>>;
  const readAll = (cursor: { read(n: number, cb: (err: Error | undefined, rows: Rows) => void): void }) =>
    new Promise<Rows>((resolve, reject) => cursor.read(100, (err, rows) => (err ? reject(err) : resolve(rows))));
  return {
    name: 'streams',
    async setup() {
      await pool.query('CREATE TABLE IF NOT EXISTS streams_items (id int PRIMARY KEY, note text)');
    },
    async write(id) {
      const client = await pool.connect();
      try {
        // Where the COPY runs, asked first on the session it will use: a read asked after it could be
        // retried on a standby if the session died in between (plain reads are retried, rightly).
        const r = await client.query({ text: 'SELECT inet_server_port() AS port, pg_is_in_recovery() AS standby', route: 'primary' });
        await pipeline(Readable.from([`${id}\tcopied\n`]), client.query(copyFrom('COPY streams_items (id, note) FROM STDIN')));
        return { port: num(r.rows[0].port), standby: r.rows[0].standby };
      } finally {
        client.release();
      }
    },
    async read() {
      // A stream is not replayed by pg-failover (rows may already be in your hands): a stream lost
      // with its node ends in CONNECTION_LOST. Before the first row nothing was consumed, so run it again.
      for (let attempt = 1; ; attempt++) {
        const client = await pool.connect();
        const rows: Array<{ n: string; port: number; standby: boolean }> = [];
        try {
          const stream = client.query(new QueryStream('SELECT count(*) AS n, inet_server_port() AS port, pg_is_in_recovery() AS standby FROM streams_items'));
          for await (const row of stream) rows.push(row as (typeof rows)[number]);
          return { count: num(rows[0]!.n), port: num(rows[0]!.port), standby: rows[0]!.standby };
        } catch (e) {
          if ((e as { code?: string }).code !== 'CONNECTION_LOST' || rows.length > 0 || attempt === 3) throw e;
        } finally {
          client.release();
        }
      }
    },
    async transaction(id) {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        const [a] = await readAll(client.query(new Cursor('SELECT inet_server_port() AS port, pg_backend_pid() AS pid')));
        await client.query('INSERT INTO streams_items (id, note) VALUES ($1, $2)', [id, 't']);
        const [b] = await readAll(client.query(new Cursor('SELECT inet_server_port() AS port, pg_backend_pid() AS pid')));
        await client.query('COMMIT');
        return { ports: [num(a!.port), num(b!.port)], pids: [num(a!.pid), num(b!.pid)] };
      } catch (e) {
        await client.query('ROLLBACK').catch(() => {});
        throw e;
      } finally {
        client.release();
      }
    },
    close: () => pool.end(),
  };
}
