/**
 * Split brain prevention: the leader alone loses etcd (a partition through a
 * TCP proxy) while its replica still reaches it. The leader must stop
 * accepting writes before the replica can take the key and promote; when the
 * partition heals, the old leader rejoins as a replica of the new one through
 * pg_rewind (real divergence is covered by failover.test.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Harness } from './harness';
import { TcpProxy } from './tcp-proxy';

const TTL = 5;

describe('agent under a network partition from etcd', () => {
  const h = new Harness({ scope: 'part', ttl: TTL, loopWait: 1, retryTimeout: 2 });
  let proxy: TcpProxy;

  beforeAll(async () => {
    await h.startEtcd();
    const url = new URL(h.etcd.endpoints[0]!);
    proxy = await TcpProxy.start(url.hostname, Number(url.port));
    // n0 reaches etcd only through the proxy; it starts first, so it bootstraps and leads.
    const n0 = await h.agent('n0', { etcd: `127.0.0.1:${proxy.port}` });
    await n0.start();
    await (await h.agent('n1')).start();
    expect(await h.leader()).toBe('n0');
    await h.query('n0', 'CREATE TABLE p (id int primary key, note text)');
    await h.query('n0', "INSERT INTO p VALUES (1, 'before')");
    await h.until('row on n1', async () => (await h.query('n1', 'SELECT 1 FROM p')).length === 1);
  }, 180_000);
  afterAll(async () => {
    await proxy?.close();
    await h.close();
  }, 120_000);

  it('fences the isolated leader before the replica promotes: never two writable primaries', async () => {
    const n0 = h.agents.get('n0')!;
    const n1 = h.agents.get('n1')!;
    let fencedAt = 0;
    let stoppedAt = 0;
    n0.on('fenced', () => (fencedAt = Date.now()));
    n0.on('demoted', () => (stoppedAt ||= Date.now()));
    const promoted = new Promise<number>((resolve) => n1.on('promoted', () => resolve(Date.now())));
    await h.until('fresh keepalive', () => Date.now() - n0.dcs.lastKeepaliveOkAt < 300);
    const lastOk = n0.dcs.lastKeepaliveOkAt;
    proxy.cut();
    const t0 = Date.now();
    const promotedAt = await promoted;
    await h.until('n0 stopped', () => !n0.postgres.isRunning(), 5000);
    console.log(
      `partition: cut at +${t0 - lastOk} ms after the last renewal; n0 fenced at +${fencedAt - lastOk} ms, ` +
        `stopped by +${stoppedAt - lastOk} ms; n1 promoted at +${promotedAt - lastOk} ms`,
    );
    expect(fencedAt).toBeGreaterThan(0);
    expect(stoppedAt).toBeGreaterThan(0);
    expect(stoppedAt).toBeLessThan(promotedAt);
    expect(promotedAt - t0).toBeLessThan((TTL + 3) * 1000);
    expect(await h.leader()).toBe('n1');
    await h.query('n1', "INSERT INTO p VALUES (3, 'after')");
  }, 60_000);

  it('rejoins the old leader as a replica of the new one when the partition heals', async () => {
    const n0 = h.agents.get('n0')!;
    proxy.restore();
    await h.until('n0 streaming from n1', async () => n0.role === 'replica' && (await h.query('n0', 'SELECT 1 FROM p WHERE id = 3')).length === 1, 60_000);
    expect(h.lines.some((l) => l.includes('n0: pg_rewind from n1'))).toBe(true);
    expect((await h.query<{ r: boolean }>('n0', 'SELECT pg_is_in_recovery() AS r'))[0]!.r).toBe(true);
    expect(await h.leader()).toBe('n1');
  }, 90_000);
});
