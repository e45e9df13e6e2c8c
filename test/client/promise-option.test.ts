/**
 * pg's `Promise` option: `new Client({ Promise: Bluebird })` and
 * `new Pool({ Promise: Bluebird })` make every promise the API returns an
 * instance of that constructor, as pg does (pg's `_Promise`, pg-pool's
 * `Promise`) — for our Client, the routing Pool, its checked-out clients, and
 * the single-host Pool (pg.Pool underneath). Real primary + standby.
 */
import { afterAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { Client, Pool } from '../../src';
import { useCluster } from '../support/cluster';

/** A Bluebird stand-in: a Promise subclass that counts how many were made by its constructor. */
class Tracked<T> extends Promise<T> {
  static made = 0;
  constructor(executor: (resolve: (v: T | PromiseLike<T>) => void, reject: (e?: unknown) => void) => void) {
    super(executor);
    Tracked.made++;
  }
}

const h = useCluster({ standbys: 1 });
const hostOf = (n: { server: { host: string; port: number } }) => `${n.server.host}:${n.server.port}`;

/** Calls `f`, checks that what it returns is a Tracked made by the Tracked constructor, and returns its outcome. */
async function tracked<T>(what: string, f: () => Promise<T>): Promise<{ value?: T; error?: unknown }> {
  const before = Tracked.made;
  const p = f();
  expect(p, `${what} returns a promise of the Promise option`).toBeInstanceOf(Tracked);
  expect(Tracked.made, what).toBeGreaterThan(before);
  try {
    return { value: await p };
  } catch (error) {
    return { error };
  }
}

const pools: Array<{ end(): Promise<void>; ending: boolean }> = [];
afterAll(async () => {
  await Promise.all(pools.map((p) => (p.ending ? undefined : p.end())));
});

describe('Client', () => {
  it('connect(), query() (before and after connecting, failing too) and end() return the Promise option’s promises', async () => {
    const client = new Client({ connectionString: h.cluster.connectionString(), Promise: Tracked });
    const early = client.query('SELECT 1 AS one'); // queued until connected, like pg
    expect(early).toBeInstanceOf(Tracked);
    expect((await tracked('connect()', () => client.connect())).value).toBe(client);
    expect((await early).rows[0].one).toBe(1);
    expect((await tracked<pg.QueryResult>('query()', () => client.query('SELECT 2 AS two'))).value?.rows[0].two).toBe(2);
    const failed = await tracked('a failing query()', () => client.query('SELECT nope'));
    expect((failed.error as { code?: string }).code).toBe('42703');
    await tracked('end()', () => client.end());
    const closed = await tracked('query() after end()', () => client.query('SELECT 1'));
    expect((closed.error as { code?: string }).code).toBe('CONNECTION_LOST');
  });

  it('end() on a never-connected client and the callback forms still behave like pg', async () => {
    await tracked('end() before connect()', () => new Client({ connectionString: h.cluster.connectionString(), Promise: Tracked }).end());
    const client = new Client({ connectionString: h.cluster.connectionString(), Promise: Tracked });
    await new Promise<void>((resolve, reject) => client.connect((err) => (err ? reject(err) : resolve())));
    const rows = await new Promise<unknown[]>((resolve, reject) => client.query('SELECT 3 AS n', (err: Error | null, r: pg.QueryResult) => (err ? reject(err) : resolve(r.rows))));
    expect(rows).toEqual([{ n: 3 }]);
    await client.end();
  });

  it('pg.Client given the same option does the same (the behaviour matched)', async () => {
    const c = new pg.Client({ host: h.cluster.primary.server.host, port: h.cluster.primary.server.port, user: 'postgres', Promise: Tracked } as pg.ClientConfig);
    await tracked('pg connect()', () => c.connect());
    await tracked('pg query()', () => c.query('SELECT 1'));
    await tracked('pg end()', () => c.end());
  });
});

describe('Pool (routing)', () => {
  it('query(), connect(), the checked-out client’s query() and end() return the Promise option’s promises', async () => {
    const pool = new Pool({ connectionString: h.cluster.connectionString(), Promise: Tracked });
    pools.push(pool);
    expect((await tracked('pool.query() read', () => pool.query('SELECT pg_is_in_recovery() AS r'))).value?.rows[0].r).toBe(true);
    expect((await tracked('pool.query() write', () => pool.query('SELECT txid_current() AS x', ))).value?.rows).toHaveLength(1);
    expect(((await tracked('a failing pool.query()', () => pool.query('SELECT nope'))).error as { code?: string }).code).toBe('42703');
    const bound = (await tracked('pool.connect()', () => pool.connect())).value!;
    await tracked('client.query() BEGIN', () => bound.query('BEGIN'));
    await tracked('client.query() in a transaction', () => bound.query('SELECT 1'));
    await tracked('client.query() COMMIT', () => bound.query('COMMIT'));
    bound.release();
    await tracked('pool.end()', () => pool.end());
    expect(((await tracked('query() after end()', () => pool.query('SELECT 1'))).error as { code?: string }).code).toBe('POOL_ENDED');
    expect(((await tracked('end() twice', () => pool.end())).error as { code?: string }).code).toBe('POOL_ENDED');
  });

  it('the per-node pg Pools get the option too', async () => {
    const pool = new Pool({ connectionString: h.cluster.connectionString(), Promise: Tracked, warmConnectionsPerNode: 0 });
    pools.push(pool);
    const np = pool.nodePool(hostOf(h.cluster.primary)).pool;
    expect(np.query('SELECT 1')).toBeInstanceOf(Tracked);
    await pool.end();
  });
});

describe('Pool (one host: pg.Pool underneath)', () => {
  it('query(), connect(), the pooled client’s query() and end() return the Promise option’s promises', async () => {
    const pool = new Pool({ connectionString: `postgresql://postgres@${hostOf(h.cluster.primary)}/postgres`, Promise: Tracked });
    pools.push(pool);
    await tracked('pool.query()', () => pool.query('SELECT 1'));
    const c = (await tracked('pool.connect()', () => pool.connect())).value!;
    await tracked('client.query()', () => c.query('SELECT 1'));
    c.release();
    await tracked('pool.end()', () => pool.end());
  });
});
