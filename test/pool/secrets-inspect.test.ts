/**
 * Secrets never show: `util.inspect` / `console.log` / `JSON.stringify` of a
 * Client, a Pool, a checked-out client, the pg Pools and sessions we create per
 * node, the topology sources, options objects and errors print no password, no
 * `ssl.key` and no connection string that carries a password — and neither do
 * debug logs or events. Against a real primary and standby (trust auth: the
 * password is sent when asked for and otherwise only held, which is what matters here).
 */
import { inspect, format } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import createDebug from 'debug';
import pg from 'pg';
import { Client, Pool, ProbeTopology } from '../../src';
import { EtcdTopology } from '../../src/topology/etcd';
import { PatroniRestTopology } from '../../src/topology/patroni-rest';
import { useCluster } from '../support/cluster';

const SECRET = 'Zq9SecretPassword';
const KEY = '-----BEGIN PRIVATE KEY-----Zq9KeyMaterial';
const PASSPHRASE = 'Zq9Passphrase';
const NEEDLES = [SECRET, KEY, 'Zq9KeyMaterial', PASSPHRASE];

const h = useCluster({ standbys: 1 });

/**
 * Every way an object gets printed: inspect (deep), console.log's format, JSON. (Not `%o`
 * / `showHidden: true`, which prints non-enumerable properties: pg's hiding has that limit too.)
 */
function printed(x: unknown): string {
  const seen = new WeakSet<object>();
  const json = JSON.stringify(x, (_k, v: unknown) => {
    if (typeof v === 'object' && v !== null) {
      if (seen.has(v)) return '[circular]';
      seen.add(v);
    }
    return typeof v === 'bigint' ? String(v) : v;
  });
  return [inspect(x, { depth: 8 }), format('%O', x), format('%j', x), json ?? ''].join('\n');
}

function expectHidden(what: string, x: unknown): void {
  const text = printed(x);
  for (const n of NEEDLES) expect(text.includes(n), `${what} shows a secret (${n.slice(0, 12)}…)`).toBe(false);
}

/** The cluster's connection string with a password in it. */
const withPassword = (cs: string) => cs.replace('postgresql://postgres@', `postgresql://postgres:${SECRET}@`);

/** debug output and every event any object emits during the test, to search for secrets. */
const logged: string[] = [];
let previousLog: unknown;
beforeAll(() => {
  previousLog = (createDebug as unknown as { log: unknown }).log;
  (createDebug as unknown as { log: (...a: unknown[]) => void }).log = (...a: unknown[]) => logged.push(format(...a));
  createDebug.enable('pg-failover:*');
});
afterAll(() => {
  createDebug.disable();
  (createDebug as unknown as { log: unknown }).log = previousLog;
});
function recordEvents<T extends { emit: (e: string | symbol, ...a: unknown[]) => boolean }>(x: T): T {
  const emit = x.emit.bind(x);
  x.emit = (event: string | symbol, ...args: unknown[]) => {
    logged.push(`${String(event)} ${printed(args.map((a) => (a instanceof Error ? { message: a.message, stack: a.stack, detail: (a as { detail?: unknown }).detail } : a)))}`);
    return emit(event, ...args);
  };
  return x;
}

describe('Client', () => {
  it('hides the password field, before and after connecting, and still authenticates with it', async () => {
    const client = recordEvents(new Client({ connectionString: h.cluster.connectionString(), password: SECRET }));
    expect(client.options.password).toBe(SECRET);
    expectHidden('unconnected client', client);
    await client.connect();
    expect((await client.query('SELECT 1 AS one')).rows[0].one).toBe(1);
    expectHidden('connected client', client);
    expectHidden('client.options', client.options);
    expectHidden('client.session (pg.Client)', client.session);
    expectHidden('client.connectionParameters', client.connectionParameters);
    expect(JSON.parse(JSON.stringify(client.options))).not.toHaveProperty('password');
    await client.end();
  });

  it('hides a connection string that carries a password, which still connects', async () => {
    const cs = withPassword(h.cluster.connectionString());
    for (const client of [new Client(cs), new Client({ connectionString: cs })]) {
      recordEvents(client);
      expect(client.options.connectionString).toBe(cs);
      await client.connect();
      expectHidden('client with a password in its connection string', client);
      expectHidden('its session', client.session);
      await client.end();
    }
  });

  it('hides ssl.key and ssl.passphrase (and keeps them readable)', async () => {
    const ssl = { rejectUnauthorized: false, key: KEY, passphrase: PASSPHRASE };
    const client = recordEvents(new Client({ host: h.cluster.primary.server.host, port: h.cluster.primary.server.port, user: 'postgres', ssl }));
    expect((client.options.ssl as typeof ssl).key).toBe(KEY);
    expect((client.options.ssl as typeof ssl).passphrase).toBe(PASSPHRASE);
    expectHidden('client with ssl.key', client);
    // The test server has no TLS: connecting fails, and the error shows no key either.
    const err = await client.connect().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(Error);
    expectHidden('the connect error', err);
  });

  it('as pg-pool’s Client, keeps the password pg-pool hid (non-enumerable) in the options it passes', async () => {
    const pool = new pg.Pool({ Client: Client as unknown as typeof pg.Client, connectionString: h.cluster.connectionString(), password: SECRET });
    const c = (await pool.connect()) as unknown as Client & pg.PoolClient;
    expect(c.options.password).toBe(SECRET);
    expectHidden('a pg-pool client that is ours', c);
    c.release();
    await pool.end();
  });

  it('errors from unreachable hosts show no password', async () => {
    const dead = `postgresql://postgres:${SECRET}@127.0.0.1:1,127.0.0.1:2/postgres?connect_timeout=2`;
    const client = recordEvents(new Client(dead));
    const err = await client.connect().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((err as { code?: string }).code).toBeDefined();
    expectHidden('NO_HOST_AVAILABLE error', err);
    expect(String((err as Error).message)).not.toContain(SECRET);
  });
});

describe('Pool (routing, several hosts)', () => {
  it('hides the password in pool, options, checked-out clients, per-node pg Pools and their sessions', async () => {
    const pool = recordEvents(new Pool({ connectionString: withPassword(h.cluster.connectionString()), ssl: undefined }));
    expectHidden('pool before use', pool);
    expect((await pool.query('SELECT pg_is_in_recovery() AS r')).rows[0].r).toBe(true);
    await pool.query('CREATE TEMP TABLE IF NOT EXISTS t (x int)');
    const bound = await pool.connect();
    await bound.query('SELECT 1');
    expectHidden('checked-out client', bound);
    expect(() => JSON.stringify(bound)).not.toThrow();
    bound.release();
    expectHidden('pool after use', pool);
    expectHidden('pool.options', pool.options);
    expect(pool._clients.length).toBeGreaterThan(0);
    for (const c of pool._clients) expectHidden('a pooled pg session', c);
    for (const n of [h.cluster.primary, ...h.cluster.standbys]) {
      expectHidden(`the pg Pool for ${n.name}`, pool.nodePool(`${n.server.host}:${n.server.port}`).pool);
    }
    expect(pool.options.connectionString).toContain(SECRET); // still readable
    await pool.end();
  });

  it('hides a password field and ssl.key on the pool and its per-node pg Pools', async () => {
    const pool = recordEvents(
      new Pool({ connectionString: h.cluster.connectionString(), password: SECRET, ssl: { rejectUnauthorized: false, key: KEY, passphrase: PASSPHRASE }, warmConnectionsPerNode: 0 }),
    );
    expectHidden('pool with password and ssl.key', pool);
    expectHidden('pool.options', pool.options);
    const np = pool.nodePool(`${h.cluster.primary.server.host}:${h.cluster.primary.server.port}`).pool;
    expect(np.options.password).toBe(SECRET);
    expect(np.options.ssl).toMatchObject({ rejectUnauthorized: false });
    // pg needs the passphrase enumerable (it copies ssl into tls options with Object.assign): only the key is checked here.
    const text = printed(np);
    expect(text).not.toContain(SECRET);
    expect(text).not.toContain('Zq9KeyMaterial');
    await pool.end();
  });

  it('hides topology credentials (etcd auth and TLS key, a REST URL with a password)', async () => {
    const pool = recordEvents(
      new Pool({
        connectionString: h.cluster.connectionString(),
        topology: { source: 'etcd', hosts: ['http://127.0.0.1:1'], scope: 's', auth: { username: 'u', password: SECRET }, tls: { rootCertificate: Buffer.from('ca'), privateKey: Buffer.from(KEY) } },
        fallbackToProbingMillis: false,
      }),
    );
    expectHidden('pool with etcd auth', pool);
    expect((pool.options.topology as { auth: { password: string } }).auth.password).toBe(SECRET);
    await pool.end();
    const rest = new Pool({ connectionString: h.cluster.connectionString(), topology: { source: 'patroni-rest', urls: [`http://u:${SECRET}@127.0.0.1:1`] }, fallbackToProbingMillis: false });
    expectHidden('pool with a REST URL carrying a password', rest);
    await rest.end();
    const restTls = new Pool({ connectionString: h.cluster.connectionString(), topology: { source: 'patroni-rest', urls: ['https://127.0.0.1:1'], tls: { keyPassword: SECRET } }, fallbackToProbingMillis: false });
    expectHidden('pool with a REST client key password', restTls);
    await restTls.end();
  });

  it('debug logs, events and errors of a pool with a dead host show no password', async () => {
    const hosts = `127.0.0.1:1,${h.cluster.primary.server.host}:${h.cluster.primary.server.port}`;
    const pool = recordEvents(new Pool({ connectionString: `postgresql://postgres:${SECRET}@${hosts}/postgres`, failoverTimeoutMillis: 3000 }));
    pool.on('error', () => {});
    await pool.query('INSERT INTO pg_temp.nothing SELECT 1').catch((e: unknown) => expectHidden('a SQL error', e));
    expect((await pool.query('SELECT 1 AS one')).rows[0].one).toBe(1);
    const dead = new Pool({ connectionString: `postgresql://postgres:${SECRET}@127.0.0.1:1,127.0.0.1:2/postgres`, failoverTimeoutMillis: 500 });
    recordEvents(dead);
    const err = await dead.query('CREATE TABLE x (i int)').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((err as { code?: string }).code).toBe('FAILOVER_TIMEOUT');
    expectHidden('FAILOVER_TIMEOUT error', err);
    await Promise.all([pool.end(), dead.end()]);
    expect(logged.length).toBeGreaterThan(0);
    for (const line of logged) for (const n of NEEDLES) expect(line.includes(n), `logged: ${line.slice(0, 200)}`).toBe(false);
  });
});

describe('Pool (one host: pg.Pool underneath)', () => {
  it('hides a password inside connectionString, which pg.Pool alone shows, and still connects', async () => {
    const cs = `postgresql://postgres:${SECRET}@${h.cluster.primary.server.host}:${h.cluster.primary.server.port}/postgres`;
    const pool = recordEvents(new Pool(cs));
    expect((await pool.query('SELECT 1 AS one')).rows[0].one).toBe(1);
    const c = await pool.connect();
    expectHidden('direct pool', pool);
    expectHidden('its client', c);
    c.release();
    expect(pool.options.connectionString).toBe(cs);
    await pool.end();
  });
});

describe('topology sources built directly', () => {
  it('ProbeTopology, EtcdTopology and PatroniRestTopology show no credentials', () => {
    const probe = new ProbeTopology({ hosts: [{ host: '127.0.0.1', port: 1 }], configFor: () => ({ user: 'u', password: SECRET }) });
    expectHidden('ProbeTopology', probe);
    const etcd = new EtcdTopology({ hosts: ['http://127.0.0.1:1'], scope: 's', auth: { username: 'u', password: SECRET } });
    expectHidden('EtcdTopology', etcd);
    const rest = new PatroniRestTopology({ urls: [`http://u:${SECRET}@127.0.0.1:1`] });
    expectHidden('PatroniRestTopology', rest);
  });
});
