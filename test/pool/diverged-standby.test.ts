/**
 * Read-your-writes across a failover that leaves a standby diverged (found by the campaign, seed
 * 4242 with Patroni 3.0.2: 348 stale reads after a kill -9 of the primary). Real primary, two
 * standbys and etcd; the test moves Patroni's keys itself:
 *
 * standby A stops streaming, the primary writes on (standby B gets it all), the primary is killed
 * and A promoted (timeline 2). B has replayed *more* WAL than A, on timeline 1: its bare replay
 * position is past the new primary's writes, without any of them. Patroni reports B's timeline
 * (1) in its member key. The Pool's read after a write on A must not run on B.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Etcd3 } from 'etcd3';
import { Pool } from '../../src';
import { killNode, useCluster, type LocalNode } from '../support/cluster';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function member(host: string, port: number, role: string, timeline: number | undefined, xlog: number): string {
  return JSON.stringify({ conn_url: `postgres://${host}:${port}/postgres`, api_url: 'http://127.0.0.1:1/patroni', state: 'running', role, version: '3.0.2', xlog_location: xlog, ...(timeline !== undefined ? { timeline } : {}) });
}

async function stopStreaming(standby: LocalNode): Promise<void> {
  const s = standby.server;
  await s.query("ALTER SYSTEM SET primary_conninfo = 'host=127.0.0.1 port=1 connect_timeout=1'");
  await s.query('SELECT pg_reload_conf()');
  for (let i = 0; i < 200 && (await s.query('SELECT 1 FROM pg_stat_wal_receiver')).length; i++) await sleep(25);
}

const lsnInt = (lsn: string) => {
  const [hi, lo] = lsn.split('/');
  return parseInt(hi!, 16) * 2 ** 32 + parseInt(lo!, 16);
};

/** Writes ids from..to one by one through the pool, each followed by a read of it; counts the reads that missed their write. */
async function staleReadsAfterWrites(pool: Pool, from: number, to: number, pad: string): Promise<number> {
  let stale = 0;
  for (let i = from; i <= to; i++) {
    await pool.query('INSERT INTO ryw VALUES ($1, $2)', [i, pad]);
    const { rows } = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM ryw WHERE id = $1', [i]);
    if (rows[0]!.n !== 1) stale++;
  }
  return stale;
}

describe('a standby that diverged at a failover (ahead of the promoted one, on the old timeline)', () => {
  const h = useCluster({ standbys: 2, etcd: true }, async (c) => {
    await c.primary.server.query('CREATE TABLE ryw (id int PRIMARY KEY, pad text)');
    for (const s of c.standbys) await c.waitForReplay(s.name);
  });
  const scope = 'diverged';
  let etcd: Etcd3;
  let pool: Pool;
  let a: LocalNode;
  let b: LocalNode;

  beforeAll(async () => {
    const c = h.cluster;
    [a, b] = [c.standbys[0]!, c.standbys[1]!];
    await stopStreaming(a);
    await c.primary.server.query("INSERT INTO ryw SELECT g, repeat('x', 200) FROM generate_series(1000, 3000) g"); // B only
    await c.waitForReplay(b.name);
    await killNode(c.primary);
    await c.promote(a.name);
    const [{ bl }] = await b.server.query<{ bl: string }>('SELECT pg_last_wal_replay_lsn()::text AS bl');
    const [{ al }] = await a.server.query<{ al: string }>('SELECT pg_current_wal_lsn()::text AS al');
    expect(lsnInt(bl), "B replayed past the new primary's position").toBeGreaterThan(lsnInt(al));
    etcd = new Etcd3({ hosts: c.etcd!.endpoints });
    await etcd.put(`/service/${scope}/members/${a.name}`).value(member(a.server.host, a.server.port, 'master', 2, lsnInt(al)));
    await etcd.put(`/service/${scope}/members/${b.name}`).value(member(b.server.host, b.server.port, 'replica', 1, lsnInt(bl)));
    await etcd.put(`/service/${scope}/leader`).value(a.name);
    pool = new Pool({ connectionString: `postgresql://postgres@${a.server.host}:${a.server.port}/postgres`, topology: { source: 'etcd', hosts: c.etcd!.endpoints, scope } });
    pool.on('error', () => {});
  });
  afterAll(async () => {
    await pool?.end();
    etcd?.close();
  });

  test('a standby whose member key tells no timeline (Patroni leaves it out while it recovers after a crash) is not taken to follow', async () => {
    const [{ bl }] = await b.server.query<{ bl: string }>('SELECT pg_last_wal_replay_lsn()::text AS bl');
    await etcd.put(`/service/${scope}/members/${b.name}`).value(member(b.server.host, b.server.port, 'replica', undefined, lsnInt(bl)));
    await pool.query('SELECT 1'); // the pool starts and reads the keys
    for (let i = 0; i < 200 && !pool.topology?.members.some((m) => m.name === b.name && m.role === 'standby' && m.timeline === undefined); i++) await sleep(10);
    const stale = await staleReadsAfterWrites(pool, 201, 220, 'new');
    expect(stale).toBe(0);
    await etcd.put(`/service/${scope}/members/${b.name}`).value(member(b.server.host, b.server.port, 'replica', 1, lsnInt(bl)));
    for (let i = 0; i < 200 && pool.topology?.members.find((m) => m.name === b.name)?.timeline !== 1; i++) await sleep(10);
  }, 60_000);

  test("every read after a write sees it: none runs on the diverged standby (its bare replay position is past the write's)", async () => {
    const stale = await staleReadsAfterWrites(pool, 1, 20, 'new');
    expect(stale).toBe(0);
    expect(pool.stats().causal!.notFollowing).toBeGreaterThan(0);
  }, 60_000);

  test('then B is rewound onto the new timeline, behind the writes: its diverged position no longer counts (campaign seed 4242 with Patroni: 102 stale reads)', async () => {
    const c = h.cluster;
    // The Pool knows B at its diverged position (the reads above looked at it).
    await c.rejoin(b.name); // pg_rewind against A, then B streams timeline 2
    await c.waitForReplay(b.name);
    await b.server.query('SELECT pg_wal_replay_pause()');
    const [{ bl }] = await b.server.query<{ bl: string }>('SELECT pg_last_wal_replay_lsn()::text AS bl');
    // What Patroni 3.0.2 publishes for it now: a replica on timeline 2, xlog_location its position.
    await etcd.put(`/service/${scope}/members/${b.name}`).value(member(b.server.host, b.server.port, 'replica', 2, lsnInt(bl)));
    for (let i = 0; i < 200 && pool.topology?.members.find((m) => m.name === b.name)?.timeline !== 2; i++) await sleep(10);
    expect(pool.topology?.members.find((m) => m.name === b.name)?.timeline).toBe(2);
    const stale = await staleReadsAfterWrites(pool, 101, 120, 'after rewind');
    await b.server.query('SELECT pg_wal_replay_resume()');
    expect(stale).toBe(0);
  }, 90_000);
});
