/**
 * A primary that comes back in place (PostgreSQL stopped and started again; the etcd leader key
 * never moved): the Pool marked it down when its connection failed, and used to avoid it for the
 * whole second of that mark, writing again up to ~1 s after a plain reconnect loop would. While a
 * write waits, the node is tried again every 50 ms (node-revival.ts): the held write lands within
 * a few tens of ms of the server accepting sessions. Real PostgreSQL, real etcd.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Etcd3 } from 'etcd3';
import { Pool } from '../../src/pool/pool';
import { useCluster } from '../support/cluster';
import { patroniMemberValue } from '../support/patroni-keys';

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
});
