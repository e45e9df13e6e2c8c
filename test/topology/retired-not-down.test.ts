/**
 * A write in flight on the primary when the topology stops naming it (its lease ran out: no
 * leader key): the Pool retires that node's sessions, destroying the busy ones, and the write
 * fails with a connection error. That failure is our own doing and says nothing about the node,
 * which must not be marked down for it: in the campaign (kill -9, a primary restarted in place
 * whose lease ran out just after it was back) the down mark kept the Pool ~0.6 s off the node
 * after it took its key back. Real PostgreSQL, real etcd (keys by hand, no manager).
 */
import { describe, expect, it } from 'vitest';
import { usePoolOnKeys } from '../support/pool-on-keys';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('Pool (etcd source): sessions retired by the Pool itself', () => {
  const ctx = usePoolOnKeys('retired', { failoverTimeoutMillis: 10_000, createTable: 'CREATE TABLE retired (id int)' });
  const { prefix } = ctx;

  it('a write cut by the retirement does not mark the node down; it takes writes as soon as it holds the key again', async () => {
    const c = ctx.cluster;
    const key = `${c.primary.server.host}:${c.primary.server.port}`;
    const downs: string[] = [];
    ctx.pool.on('nodeDown', (e: { node: string; reason: string }) => downs.push(`${e.node}: ${e.reason}`));
    // In flight for a second, then the lease runs out under it.
    const cut = ctx.pool.query('INSERT INTO retired SELECT 1 FROM pg_sleep(1)').then(
      () => 'done',
      (e: { code?: string }) => e.code ?? 'error',
    );
    await sleep(200);
    await ctx.etcd.delete().key(`${prefix}leader`);
    expect(await cut).toBe('TRANSACTION_RESOLUTION_UNKNOWN'); // destroyed by the retirement, after it was sent
    await sleep(100);
    const backAt = Date.now();
    await ctx.etcd.put(`${prefix}leader`).value(c.primary.name);
    await ctx.pool.query('INSERT INTO retired VALUES (2)');
    const took = Date.now() - backAt;
    console.log(`write after the key came back: ${took} ms; nodeDown events: ${JSON.stringify(downs)}`);
    expect(downs.filter((d) => d.startsWith(key))).toEqual([]);
  }, 60_000);
});
