/** Client behaves like pg.Client where apps and libraries touch it. */
import { describe, test, expect } from 'vitest';
import PgPool from 'pg-pool';
import Cursor from 'pg-cursor';
import QueryStream from 'pg-query-stream';
import { useCluster } from '../support/cluster';
import { Client } from '../../src/client/client';

describe('Client as a drop-in for pg.Client', () => {
  const ctx = useCluster({ standbys: 1 });
  const url = () => `${ctx.cluster.connectionString()}?target_session_attrs=read-write`;

  test('query in promise and callback forms, with values and config objects', async () => {
    const c = new Client(url());
    await c.connect();
    try {
      expect((await c.query('SELECT $1::int + 1 AS n', [41])).rows).toEqual([{ n: 42 }]);
      expect((await c.query({ text: 'SELECT $1::text AS t', values: ['x'], rowMode: 'array' })).rows).toEqual([['x']]);
      const viaCallback = await new Promise((resolve, reject) => c.query('SELECT 7 AS n', (err: Error | null, r: any) => (err ? reject(err) : resolve(r.rows))));
      expect(viaCallback).toEqual([{ n: 7 }]);
      expect(await c.query('SELECT boom').catch((e: { code?: string }) => e.code)).toBe('42703');
      expect(c.escapeLiteral("o'k")).toBe("'o''k'");
      expect(c.escapeIdentifier('a"b')).toBe('"a""b"');
      expect(c.processID).toBeGreaterThan(0);
      expect(c.port).toBe(ctx.cluster.primary.server.port);
    } finally {
      await c.end();
    }
  });

  test('connect(callback) and end(callback)', async () => {
    const c = new Client({ connectionString: url() });
    await new Promise<void>((resolve, reject) => c.connect((err) => (err ? reject(err) : resolve())));
    const ended = new Promise((r) => c.once('end', r));
    await new Promise<void>((resolve) => c.end(() => resolve()));
    await ended;
  });

  test('Submittables: pg-cursor and pg-query-stream', async () => {
    const c = new Client(url());
    await c.connect();
    try {
      const cursor = c.query(new Cursor('SELECT g FROM generate_series(1, 10) g'));
      const first = await cursor.read(3);
      expect(first.map((r: { g: number }) => r.g)).toEqual([1, 2, 3]);
      await cursor.close();
      const rows: number[] = [];
      const stream = c.query(new QueryStream('SELECT g FROM generate_series(1, 5) g'));
      for await (const row of stream) rows.push((row as { g: number }).g);
      expect(rows).toEqual([1, 2, 3, 4, 5]);
    } finally {
      await c.end();
    }
  });

  test('notifications and notices are forwarded as events', async () => {
    const c = new Client(url());
    await c.connect();
    try {
      const note = new Promise<{ channel: string; payload?: string }>((r) => c.once('notification', r));
      await c.query('LISTEN ch');
      await c.query("NOTIFY ch, 'hi'");
      expect(await note).toMatchObject({ channel: 'ch', payload: 'hi' });
      const notice = new Promise<{ message: string }>((r) => c.once('notice', r));
      await c.query("DO $$ BEGIN RAISE NOTICE 'careful'; END $$");
      expect((await notice).message).toBe('careful');
    } finally {
      await c.end();
    }
  });

  test('setTypeParser before connect applies to the session', async () => {
    const c = new Client(url());
    c.setTypeParser(20, (v: string) => `big:${v}`);
    await c.connect();
    try {
      expect((await c.query('SELECT 5::int8 AS v')).rows[0].v).toBe('big:5');
    } finally {
      await c.end();
    }
  });

  test('pg-pool accepts it as its Client', async () => {
    const pool = new PgPool({ Client: Client as never, connectionString: url(), max: 2 });
    try {
      const results = await Promise.all([1, 2, 3, 4].map((i) => pool.query('SELECT $1::int AS i', [i])));
      expect(results.map((r) => r.rows[0].i)).toEqual([1, 2, 3, 4]);
      expect(pool.totalCount).toBeLessThanOrEqual(2);
    } finally {
      await pool.end();
    }
  });

  test('bad input: a malformed string throws a ConnectionStringError at construction; using an unconnected client is a typed error', async () => {
    // Several hosts: libpq's rules, checked at construction.
    expect(() => new Client('postgresql://h1,h2:99999999/db')).toThrow(expect.objectContaining({ code: expect.stringMatching(/^CONNINFO_/) }));
    expect(() => new Client('host=a,b port=1,2,3')).toThrow(expect.objectContaining({ code: 'CONNINFO_HOST_PORT_MISMATCH' }));
    // One plain host that pg rejects too (its URL parser): still our typed error, naming the port.
    expect(() => new Client('postgresql://h:99999999/db')).toThrow(expect.objectContaining({ code: expect.stringMatching(/^CONNINFO_/) }));
    // Like pg, a query issued before connect() waits for it, and fails with the connect error (typed).
    const c = new Client('postgresql://postgres@127.0.0.1:1,127.0.0.1:2/postgres');
    const early = c.query('SELECT 1');
    await expect(c.connect()).rejects.toMatchObject({ code: 'NO_HOST_AVAILABLE' });
    await expect(early).rejects.toMatchObject({ code: 'NO_HOST_AVAILABLE' });
    // One host: pg's own error, unchanged (apps written for pg match on ECONNREFUSED).
    const single = new Client('postgresql://postgres@127.0.0.1:1/postgres');
    const earlySingle = single.query('SELECT 1');
    await expect(single.connect()).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    await expect(earlySingle).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    // A client that was ended is not queryable: a typed error.
    const d = new Client(url());
    await d.connect();
    await d.end();
    await expect(d.query('SELECT 1')).rejects.toMatchObject({ code: 'CONNECTION_LOST' });
  });
});
