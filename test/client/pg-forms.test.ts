/**
 * What pg accepts, we accept, with pg's meaning (issue 14): its own
 * connection-string forms, `pg.defaults` read when a client is created, and a
 * process whose client failed to connect exits by itself — on one host (pg
 * alone serves it) and on a multi-host string (our host walk).
 */
import { describe, test, expect } from 'vitest';
import { spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import pg from 'pg';
import { useCluster } from '../support/cluster';
import { Client, Pool, defaults, isFailoverError } from '../../src/index';

const DIST = path.resolve(__dirname, '../../dist/index.js');

/** Runs `code` in a fresh node process (pg-failover required as `pgf`); resolves with its exit status and how long it took. */
function runScript(code: string, env: Record<string, string> = {}, boundMillis = 15_000): Promise<{ status: number | null; ms: number; output: string }> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['-e', `const pgf = require(${JSON.stringify(DIST)});\n${code}`], {
      env: { PATH: process.env.PATH, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (b) => (output += b));
    child.stderr.on('data', (b) => (output += b));
    const timer = setTimeout(() => child.kill('SIGKILL'), boundMillis);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, ms: Date.now() - started, output });
    });
  });
}

/** A TCP server answering the SSL request with `byte` (like gh-issue 2079's backend); closed by the caller. */
async function sslRefusingServer(byte: string): Promise<net.Server> {
  const server = net.createServer((socket) => {
    socket.on('data', (buf) => {
      if (buf.length >= 8 && buf.readInt32BE(4) === 80877103) socket.write(byte);
    });
    socket.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return server;
}

describe("pg's connection-string forms and defaults", () => {
  const ctx = useCluster({ standbys: 0 });
  const p = () => ctx.cluster.primary.server;

  test('pg:// URLs with pg query parameters connect (Client and Pool), as with pg', async () => {
    const url = `pg://postgres@127.0.0.1:${p().port}/postgres?sslmode=disable&application_name=forms`;
    const c = new Client(url);
    await c.connect();
    expect((await c.query('SELECT current_setting($1) AS a', ['application_name'])).rows[0].a).toBe('forms');
    await c.end();
    const pool = new Pool({ connectionString: url });
    expect((await pool.query('SELECT 1 AS n')).rows).toEqual([{ n: 1 }]);
    await pool.end();
  });

  test('a socket path connects through the unix socket, as with pg', async () => {
    const c = new Client({ host: p().socketDir, port: p().port, user: 'postgres', database: 'postgres' });
    await c.connect();
    // A unix-socket session has no client address.
    expect((await c.query('SELECT inet_client_addr() AS a')).rows[0].a).toBeNull();
    await c.end();
  });

  test('pg.defaults changed after import reach new clients (one host and several)', async () => {
    const saved = { user: defaults.user, port: defaults.port, host: defaults.host };
    const env = { ...process.env };
    delete process.env.PGUSER;
    delete process.env.PGPORT;
    delete process.env.PGHOST;
    try {
      defaults.user = 'postgres';
      defaults.port = p().port;
      defaults.host = '127.0.0.1';
      const single = new Client({ database: 'postgres' });
      expect([single.user, single.port, single.host]).toEqual(['postgres', p().port, '127.0.0.1']);
      await single.connect();
      expect((await single.query('SELECT current_user AS u')).rows[0].u).toBe('postgres');
      await single.end();
      // Several hosts (our host walk): the user still comes from pg.defaults.
      const multi = new Client({ connectionString: `postgresql://127.0.0.1:${p().port},127.0.0.1:1/postgres` });
      expect(multi.user).toBe('postgres');
      defaults.user = 'nobody_by_default';
      expect(new Client({ database: 'postgres' }).user).toBe('nobody_by_default');
    } finally {
      Object.assign(defaults, saved);
      Object.assign(process.env, env);
    }
  });

  test('a string both pg and libpq reject gets our ConnectionStringError with a code', () => {
    for (const bad of ['postgresql://a:b:c@[::1/db', 'host=a port']) {
      let err: unknown;
      try {
        new Client(bad);
      } catch (e) {
        err = e;
      }
      expect(isFailoverError(err)).toBe(true);
      expect((err as { code: string }).code).toMatch(/^CONNINFO_/);
      expect(() => new Pool({ connectionString: bad })).toThrow();
    }
  });

  test('a pg.Client config copied from another pool keeps its password (pg-pool semantics)', () => {
    const a = new Pool({ host: '127.0.0.1', password: 'secret-one' });
    const b = new Pool(a.options);
    expect((b.options as { password?: string }).password).toBe('secret-one');
    expect(Object.keys(b.options)).not.toContain('password');
    void a.end();
    void b.end();
  });
});

describe('a client that failed to connect lets the process exit', () => {
  test('one host, TLS refused (N) and a non-S answer: exits within 3 s, like pg', async () => {
    for (const byte of ['N', 'X']) {
      const server = await sslRefusingServer(byte);
      const port = (server.address() as net.AddressInfo).port;
      const r = await runScript(`new pgf.Client({ host: '127.0.0.1', port: ${port}, ssl: true }).connect().catch((e) => console.log('failed', !!e))`);
      server.close();
      expect(r.output).toContain('failed true');
      expect(r.status).toBe(0);
      expect(r.ms).toBeLessThan(3000);
    }
  });

  test('several hosts, all refused or refusing TLS: NO_HOST_AVAILABLE, and the process exits within 3 s', async () => {
    const server = await sslRefusingServer('N');
    const port = (server.address() as net.AddressInfo).port;
    const dead = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const n = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(n));
      });
    });
    const r = await runScript(
      `new pgf.Client('postgresql://postgres@127.0.0.1:${dead},127.0.0.1:${port}/postgres?sslmode=require').connect().catch((e) => console.log('code', e.code))`,
    );
    server.close();
    expect(r.output).toContain('code NO_HOST_AVAILABLE');
    expect(r.status).toBe(0);
    expect(r.ms).toBeLessThan(3000);
  });

  test('refused hosts with connect_timeout: the process exits right after the error', async () => {
    // Loopback ports nobody listens on (traffic stays on 127.0.0.1).
    const r = await runScript(
      `const t = Date.now(); new pgf.Client({ connectionString: 'postgresql://postgres@127.0.0.1:1,127.0.0.1:2/postgres', connect_timeout: 2 }).connect().catch((e) => console.log('code', e.code, Date.now() - t))`,
    );
    expect(r.output).toContain('code NO_HOST_AVAILABLE');
    expect(r.status).toBe(0);
    expect(r.ms).toBeLessThan(5000);
  });

  test('same with pg itself (the reference this suite holds us to)', async () => {
    const server = await sslRefusingServer('N');
    const port = (server.address() as net.AddressInfo).port;
    const c = new pg.Client({ host: '127.0.0.1', port, ssl: true });
    await expect(c.connect()).rejects.toBeInstanceOf(Error);
    server.close();
  });
});
