/**
 * The `noloadbalance` tag on a running replica: its REST API answers 503 to
 * `GET /replica` and `/read-only` (Patroni's api.py: HAProxy's read checks take
 * it out) while `/health` stays 200; the leader's `/read-only` stays 200; the
 * client's etcd topology sees the tag and the read router never picks that
 * node. Real agents, PostgreSQL and etcd.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi, type RunningApi } from '../../src/manager/api';
import { ReadRouter } from '../../src/routing/router';
import { EtcdTopology } from '../../src/topology/etcd';
import { isNoLoadBalance, nodeKey } from '../../src/topology/topology';
import { Harness } from './harness';

describe('noloadbalance replica', () => {
  const h = new Harness({ scope: 'nolb' });
  const apis = new Map<string, RunningApi>();

  const code = async (name: string, path: string) => (await fetch(`${apis.get(name)!.url}${path}`, { signal: AbortSignal.timeout(5000) })).status;

  beforeAll(async () => {
    await h.startEtcd();
    await h.startAll(['n0']);
    await h.until('n0 leads', async () => (await h.leader()) === 'n0');
    await h.agent('n1', { noloadbalance: true });
    await h.agent('n2');
    await Promise.all(['n1', 'n2'].map((n) => h.agents.get(n)!.start()));
    for (const a of h.agents.values()) apis.set(a.name, await startApi({ view: a, host: '127.0.0.1', port: a.config.restapi.listen.port }));
    await h.until('both replicas stream', async () => (await h.query('n0', "SELECT 1 FROM pg_stat_replication WHERE state = 'streaming'")).length === 2);
  }, 180_000);
  afterAll(async () => {
    for (const api of apis.values()) await api.close().catch(() => {});
    await h.close();
  }, 120_000);

  it('answers 503 to /replica and /read-only, 200 to /health', async () => {
    await h.until('n2 passes /replica', async () => (await code('n2', '/replica')) === 200, 10_000);
    expect(await code('n1', '/replica')).toBe(503);
    expect(await code('n1', '/read-only')).toBe(503);
    expect(await code('n1', '/replica?lag=10MB')).toBe(503);
    expect(await code('n1', '/health')).toBe(200);
    expect(await code('n2', '/read-only')).toBe(200);
    expect(await code('n0', '/read-only')).toBe(200);
    expect(await code('n0', '/replica')).toBe(503);
  });

  it('is seen by the client topology and never picked for reads', async () => {
    const source = new EtcdTopology({ hosts: h.etcd.endpoints, scope: h.scope });
    try {
      const t = await source.start();
      const n1 = t.members.find((m) => m.name === 'n1')!;
      const n2 = t.members.find((m) => m.name === 'n2')!;
      expect(isNoLoadBalance(n1)).toBe(true);
      expect(isNoLoadBalance(n2)).toBe(false);
      const router = new ReadRouter({ readFrom: 'standby', balance: 'round-robin' });
      const picks = new Set(Array.from({ length: 20 }, () => router.pick(t, () => ({ busy: 0 }))));
      expect([...picks]).toEqual([nodeKey(n2)]);
    } finally {
      await source.close();
    }
  });

  it("counts the tag's value as Patroni does (Python bool(), the rule of its /replica)", () => {
    for (const v of [true, 'true', 'false', 1, 'yes']) expect(isNoLoadBalance({ tags: { noloadbalance: v } }), String(v)).toBe(true);
    for (const v of [false, 0, '', null, undefined]) expect(isNoLoadBalance({ tags: { noloadbalance: v } }), String(v)).toBe(false);
    expect(isNoLoadBalance({})).toBe(false);
  });
});
