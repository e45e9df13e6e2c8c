/**
 * A primary that comes back in place (PostgreSQL stopped and started again; the etcd leader key
 * never moved): the Pool marked it down when its connection failed, and used to avoid it for the
 * whole second of that mark, writing again up to ~1 s after a plain reconnect loop would. While a
 * write waits, the node is tried again every 50 ms (node-revival.ts): the held write lands within
 * a few tens of ms of the server accepting sessions. Real PostgreSQL, real etcd.
 *
 * A server slow to start sessions right after its restart (crash recovery's end, every client
 * reconnecting): the down mark ran out while the revival's session was being opened, and the held
 * write opened a second one beside it, landing a session start later than it could (measured in the
 * campaign's crash-postgres faults: 107 ms after the plain register). It takes the revival's session.
 * The slowness is real latency: a TCP proxy on loopback that delays the server's answers (and,
 * while the node is away, refuses connections).
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Etcd3 } from 'etcd3';
import { Pool } from '../../src/pool/pool';
import { useCluster } from '../support/cluster';
import { patroniMemberValue } from '../support/patroni-keys';
import { LatencyProxy } from '../support/latency-proxy';

const scope = 'revival';
const prefix = `/service/${scope}/`;

describe('Pool (etcd source): a primary that restarts in place', () => {
  const h = useCluster({ standbys: 0, etcd: true });
  let etcd: Etcd3;
  let pool: Pool;

  beforeAll(async () => {
    const c = h.cluster;
    etcd = new Etcd3({ hosts: c.etcd!.endpoints });
    await etcd.put(`${prefix}members/${c.primary.name}`).value(patroniMemberValue(c.primary, 'master', 50_331_744));
    await etcd.put(`${prefix}leader`).value(c.primary.name);
    const p = c.primary.server;
    pool = new Pool({ connectionString: `postgresql://postgres@${p.host}:${p.port}/postgres`, topology: { source: 'etcd', hosts: c.etcd!.endpoints, scope }, failoverTimeoutMillis: 20_000 });
    pool.on('error', () => {});
    await pool.query('CREATE TABLE IF NOT EXISTS revival (id int)');
  });
  afterAll(async () => {
    await pool?.end();
    etcd?.close();
  });

  test('the held write lands right after the restart, not when the down mark runs out', async () => {
    const server = h.cluster.primary.server;
    await server.stop('fast');
    const failedAt = Date.now();
    let doneAt = 0;
    const write = pool.query('INSERT INTO revival VALUES (1)').then((r) => {
      doneAt = Date.now();
      return r;
    });
    await new Promise((r) => setTimeout(r, 100)); // the write found the node down and waits
    expect(doneAt).toBe(0);
    await server.start();
    const readyAt = Date.now();
    expect((await write).rowCount).toBe(1);
    console.log(`restart took ${readyAt - failedAt} ms; the held write landed ${doneAt - readyAt} ms after it`);
    // The down mark (1 s from the failed connection) would have held it until failedAt + 1000 at least.
    if (readyAt - failedAt < 700) expect(doneAt - failedAt).toBeLessThan(900);
    expect(doneAt - readyAt).toBeLessThan(250);
  });

  test('a node slow to start sessions when it comes back: the held write takes the session the revival is opening, not a second one', async () => {
    const c = h.cluster;
    const proxy = await LatencyProxy.start(c.primary.server.host, c.primary.server.port);
    const slowScope = 'revival-slow';
    const member = JSON.parse(patroniMemberValue(c.primary, 'master', 50_331_744)) as { conn_url: string };
    member.conn_url = `postgres://127.0.0.1:${proxy.port}/postgres`;
    await etcd.put(`/service/${slowScope}/members/${c.primary.name}`).value(JSON.stringify(member));
    await etcd.put(`/service/${slowScope}/leader`).value(c.primary.name);
    const p = new Pool({ connectionString: `postgresql://postgres@127.0.0.1:${proxy.port}/postgres`, topology: { source: 'etcd', hosts: c.etcd!.endpoints, scope: slowScope }, failoverTimeoutMillis: 20_000, stallCheckMillis: 0 });
    p.on('error', () => {});
    try {
      await p.query('SELECT 1');
      let opened = 0;
      p.on('connect', () => opened++);
      // The node goes away (its session dropped, new ones refused): marked down for 1 s, the write held.
      const down = new Promise((r) => p.once('nodeDown', r));
      proxy.refusing = true;
      proxy.drop();
      await down; // its idle session's error marked it down
      const downAt = Date.now();
      let doneAt = 0;
      const write = p.query('INSERT INTO revival VALUES (2)').then((r) => {
        doneAt = Date.now();
        return r;
      });
      await new Promise((r) => setTimeout(r, 300));
      expect(doneAt).toBe(0);
      // It is back, but starting a session takes 1.5 s: the revival's next attempt spans the end of the down mark.
      proxy.delayMillis = 1500;
      proxy.refusing = false;
      expect((await write).rowCount).toBe(1);
      console.log(`the held write landed ${doneAt - downAt} ms after the node went away; sessions opened: ${opened}`);
      expect(opened, 'sessions the Pool opened for the held write').toBe(1);
    } finally {
      await p.end().catch(() => {});
      await proxy.close();
    }
  });
});
