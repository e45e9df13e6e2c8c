/**
 * Promotion confirmation with the etcd source, on real servers and a real
 * etcd: the leader key names a standby whose member key still says
 * `replica` (a manager that took the lock and is promoting). Writes are held
 * — never sent to a node in recovery — and go to it as soon as it leaves
 * recovery, before any member key changes (Patroni rewrites it only at its
 * next HA loop).
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { Etcd3 } from 'etcd3';
import { Pool } from '../../src/pool/pool';
import { useCluster, killNode } from '../support/cluster';
import { usePoolOnKeys } from '../support/pool-on-keys';

const scope = 'promo';
const prefix = `/service/${scope}/`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));


describe('Pool (etcd source): the leader key names a node that is still promoting', () => {
  const ctx = usePoolOnKeys(scope, { standbys: 1, status: true, failoverTimeoutMillis: 20_000, createTable: 'CREATE TABLE promo (id int PRIMARY KEY)' });

  it('holds writes while the holder is in recovery, then writes there as soon as it is promoted (member key unchanged)', async () => {
    const c = ctx.cluster;
    const old = c.primary;
    const next = c.standbys[0];
    await killNode(old);
    // As in a real failover: the old lease expires (leader key and member key go), the pool sees
    // no leader; only later does the winner take the key, as a separate etcd revision.
    await ctx.etcd.delete().key(`${prefix}leader`);
    await ctx.etcd.delete().key(`${prefix}members/${old.name}`);
    await sleep(300);
    expect(ctx.pool.topology?.primary).toBeUndefined();
    expect(ctx.pool.topology?.promoting).toBeUndefined();
    await ctx.etcd.put(`${prefix}leader`).value(next.name); // the lock is taken; promotion has not happened yet

    const events: string[] = [];
    ctx.pool.on('primaryChanged', (e) => events.push(`${e.previous ?? 'none'}→${e.current ?? 'none'}`));
    const write = ctx.pool.query<{ port: number; standby: boolean }>('INSERT INTO promo VALUES (1) RETURNING inet_server_port() AS port, pg_is_in_recovery() AS standby');
    const settled = write.then(() => Date.now(), () => Date.now());
    await sleep(1500);
    // Still held: the holder is in recovery and nobody says otherwise.
    expect(await Promise.race([settled.then(() => 'settled'), sleep(1).then(() => 'pending')])).toBe('pending');
    expect(ctx.pool.topology?.primary).toBeUndefined();
    expect(ctx.pool.topology?.promoting?.name).toBe(next.name);

    const promotedAt = Date.now();
    await c.promote(next.name); // returns once it accepts writes; its member key still says replica
    const r = await write;
    const doneAt = await settled;
    console.log(`write held ${doneAt - promotedAt} ms past the promotion (member key never changed)`);
    expect(r.rows[0]).toEqual({ port: next.server.port, standby: false });
    expect(doneAt - promotedAt).toBeLessThan(1000);
    expect(ctx.pool.topology?.primary?.name).toBe(next.name);
    expect(events.at(-1)).toBe(`none→${next.server.host}:${next.server.port}`);
    const rows = await next.server.query<{ id: number }>('SELECT id FROM promo');
    expect(rows.map((x) => x.id)).toEqual([1]);
  }, 60_000);
});

describe('Pool (etcd source): the key holder starts PostgreSQL again while its member key says stopped', () => {
  // After a fence (or a crash) with the leader key still its own, a manager starts PostgreSQL as
  // primary again; its member key says `stopped` until its next HA loop. Plain clients write the
  // moment it accepts sessions; the Pool must not wait for the member key either.
  const h = useCluster({ standbys: 0, etcd: true });
  const p2 = '/service/restart/';
  let etcd: Etcd3;
  let pool: Pool;
  const member = (state: string) => {
    const s = h.cluster.primary.server;
    return JSON.stringify({ conn_url: `postgres://${s.host}:${s.port}/postgres`, api_url: 'http://127.0.0.1:1/patroni', state, role: 'master', version: '3.0.2', xlog_location: 1, timeline: 1 });
  };

  beforeAll(async () => {
    const c = h.cluster;
    etcd = new Etcd3({ hosts: c.etcd!.endpoints });
    await etcd.put(`${p2}members/${c.primary.name}`).value(member('running'));
    await etcd.put(`${p2}leader`).value(c.primary.name);
    pool = new Pool({ connectionString: c.connectionString(), topology: { source: 'etcd', hosts: c.etcd!.endpoints, scope: 'restart' }, failoverTimeoutMillis: 10_000 });
    pool.on('error', () => {});
    await pool.query('CREATE TABLE restarted (id int PRIMARY KEY)');
  });
  afterAll(async () => {
    await pool?.end();
    etcd?.close();
  });

  it('the held write lands as soon as the server accepts it, the member key still saying stopped', async () => {
    const server = h.cluster.primary.server;
    await server.stop('immediate');
    await etcd.put(`${p2}members/${h.cluster.primary.name}`).value(member('stopped'));
    await sleep(300);
    expect(pool.topology?.primary).toBeUndefined();
    const write = pool.query('INSERT INTO restarted VALUES (1)');
    const settled = write.then(() => Date.now(), () => Date.now());
    await sleep(500);
    await server.start();
    const startedAt = Date.now();
    await write;
    const doneAt = await settled;
    console.log(`write landed ${doneAt - startedAt} ms after the restart (member key: stopped)`);
    expect(doneAt - startedAt).toBeLessThan(1000);
    expect((await server.query<{ n: number }>('SELECT count(*)::int AS n FROM restarted'))[0]!.n).toBe(1);
  }, 60_000);
});
