/**
 * The real REST API (api.ts) over real agents: Patroni's health checks follow
 * the leader key, /cluster and /patroni come from the agent, and
 * POST /switchover moves the leader.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi, type RunningApi } from '../../src/manager/api';
import { Harness } from './harness';

describe('REST API over running agents', () => {
  const h = new Harness({ scope: 'api' });
  const apis = new Map<string, RunningApi>();
  let leader: string;
  let replica: string;

  beforeAll(async () => {
    await h.startEtcd();
    const agents = await h.startAll(['n0', 'n1']);
    for (const a of agents) apis.set(a.name, await startApi({ view: a, host: '127.0.0.1', port: a.config.restapi.listen.port }));
    leader = await h.until('a leader', () => h.leader());
    replica = leader === 'n0' ? 'n1' : 'n0';
    await h.until('replica streaming', async () => (await h.query(leader, "SELECT 1 FROM pg_stat_replication WHERE state = 'streaming'")).length === 1);
  }, 180_000);
  afterAll(async () => {
    for (const api of apis.values()) await api.close().catch(() => {});
    await h.close();
  }, 120_000);

  const get = async (name: string, path: string) => {
    const res = await fetch(`${apis.get(name)!.url}${path}`, { signal: AbortSignal.timeout(5000) });
    return { status: res.status, body: res.headers.get('content-type')?.includes('json') ? ((await res.json()) as Record<string, unknown>) : await res.text() };
  };

  it('answers the health checks by role', async () => {
    expect((await get(leader, '/primary')).status).toBe(200);
    expect((await get(replica, '/primary')).status).toBe(503);
    expect((await get(replica, '/replica')).status).toBe(200);
    expect((await get(leader, '/replica')).status).toBe(503);
    expect((await get(leader, '/health')).status).toBe(200);
    expect((await get(replica, '/liveness')).status).toBe(200);
    const patroni = await get(leader, '/patroni');
    expect(patroni.body).toMatchObject({ state: 'running', role: 'primary', patroni: { scope: 'api', name: leader } });
  });

  it('serves /cluster from etcd', async () => {
    const { status, body } = await get(replica, '/cluster');
    expect(status).toBe(200);
    const members = (body as { members: Array<{ name: string; role: string; state: string }> }).members;
    expect(members.map((m) => [m.name, m.role])).toEqual(
      ['n0', 'n1'].map((n) => [n, n === leader ? 'leader' : 'replica']),
    );
  });

  it('switches over on POST /switchover and the checks follow', async () => {
    const res = await fetch(`${apis.get(leader)!.url}/switchover`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ leader, candidate: replica }),
      signal: AbortSignal.timeout(40_000),
    });
    expect(res.status).toBe(200);
    expect(await h.leader()).toBe(replica);
    await h.until('/primary follows', async () => (await get(replica, '/primary')).status === 200 && (await get(leader, '/primary')).status === 503);
    await h.until('old leader is a replica', async () => (await get(leader, '/replica')).status === 200, 30_000);
  }, 60_000);
});
