/**
 * A write in flight on the primary when the topology stops naming it (its lease ran out: no
 * leader key): the Pool retires that node's sessions, destroying the busy ones, and the write
 * fails with a connection error. That failure is our own doing and says nothing about the node,
 * which must not be marked down for it: in the campaign (kill -9, a primary restarted in place
 * whose lease ran out just after it was back) the down mark kept the Pool ~0.6 s off the node
 * after it took its key back. Real PostgreSQL, real etcd (keys by hand, no manager).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Etcd3 } from 'etcd3';
import { Pool } from '../../src/pool/pool';
import { useCluster } from '../support/cluster';
import { patroniMemberValue } from '../support/patroni-keys';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const prefix = '/service/retired/';

describe('Pool (etcd source): sessions retired by the Pool itself', () => {
  const h = useCluster({ standbys: 0, etcd: true });
  let etcd: Etcd3;
  let pool: Pool;

  beforeAll(async () => {
    const c = h.cluster;
    etcd = new Etcd3({ hosts: c.etcd!.endpoints });
    await etcd.put(`${prefix}members/${c.primary.name}`).value(patroniMemberValue(c.primary, 'master'));
    await etcd.put(`${prefix}leader`).value(c.primary.name);
    pool = new Pool({ connectionString: c.connectionString(), topology: { source: 'etcd', hosts: c.etcd!.endpoints, scope: 'retired' }, failoverTimeoutMillis: 10_000 });
    pool.on('error', () => {});
    await pool.query('CREATE TABLE retired (id int)');
  });

  afterAll(async () => {
    await pool?.end();
    etcd?.close();
  });

  it('a write cut by the retirement does not mark the node down; it takes writes as soon as it holds the key again', async () => {
    const c = h.cluster;
    const key = `${c.primary.server.host}:${c.primary.server.port}`;
    const downs: string[] = [];
    pool.on('nodeDown', (e: { node: string; reason: string }) => downs.push(`${e.node}: ${e.reason}`));
    // In flight for a second, then the lease runs out under it.
    const cut = pool.query('INSERT INTO retired SELECT 1 FROM pg_sleep(1)').then(
      () => 'done',
      (e: { code?: string }) => e.code ?? 'error',
    );
    await sleep(200);
    await etcd.delete().key(`${prefix}leader`);
    expect(await cut).toBe('TRANSACTION_RESOLUTION_UNKNOWN'); // destroyed by the retirement, after it was sent
    await sleep(100);
    const backAt = Date.now();
    await etcd.put(`${prefix}leader`).value(c.primary.name);
    await pool.query('INSERT INTO retired VALUES (2)');
    const took = Date.now() - backAt;
    console.log(`write after the key came back: ${took} ms; nodeDown events: ${JSON.stringify(downs)}`);
    expect(downs.filter((d) => d.startsWith(key))).toEqual([]);
  }, 60_000);
});
