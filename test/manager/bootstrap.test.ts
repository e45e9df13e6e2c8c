/**
 * Bootstrap through the /initialize race: three agents started at once form
 * one cluster (one primary, two streaming replicas with slots) whose etcd keys
 * look like Patroni's (PATRONI-CONTRACT.md).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Agent } from '../../src/manager/agent';
import { slotNameFor } from '../../src/manager/postgres';
import { Harness } from './harness';

describe('agent bootstrap', () => {
  const h = new Harness({ scope: 'boot' });
  let agents: Agent[] = [];

  beforeAll(async () => {
    await h.startEtcd();
    agents = await h.startAll(['n0', 'n1', 'n2']);
  }, 180_000);
  afterAll(() => h.close(), 120_000);

  it('elects exactly one leader and the others replicate from it', async () => {
    const leader = await h.until('a leader', () => h.leader());
    const primaries = agents.filter((a) => a.role === 'primary');
    expect(primaries.map((a) => a.name)).toEqual([leader]);
    expect(agents.filter((a) => a.role === 'replica')).toHaveLength(2);
    await h.query(leader, 'CREATE TABLE t (id int primary key)');
    await h.query(leader, 'INSERT INTO t VALUES (1)');
    for (const a of agents.filter((x) => x.name !== leader)) {
      await h.until(`row on ${a.name}`, async () => (await h.query<{ n: string }>(a.name, 'SELECT count(*)::text AS n FROM t').catch(() => []))[0]?.n === '1');
      const [{ r }] = await h.query<{ r: boolean }>(a.name, 'SELECT pg_is_in_recovery() AS r');
      expect(r).toBe(true);
    }
  });

  it('writes Patroni-shaped keys', async () => {
    const leader = (await h.leader())!;
    const keys = await h.until('all member keys running', async () => {
      const k = await h.keys();
      const ok = ['n0', 'n1', 'n2'].every((n) => k[`members/${n}`] && JSON.parse(k[`members/${n}`]!).state === 'running' && JSON.parse(k[`members/${n}`]!).timeline === 1);
      return ok ? k : undefined;
    });
    expect(keys.leader).toBe(leader);
    expect(keys.initialize).toMatch(/^\d{10,}$/);
    const [{ id }] = await h.query<{ id: string }>(leader, 'SELECT system_identifier::text AS id FROM pg_control_system()');
    expect(keys.initialize).toBe(id);
    const config = JSON.parse(keys.config!);
    expect(config).toMatchObject({ ttl: 5, loop_wait: 1, retry_timeout: 2 });
    for (const n of ['n0', 'n1', 'n2']) {
      const m = JSON.parse(keys[`members/${n}`]!);
      const c = h.configs.get(n)!;
      expect(m.conn_url).toBe(`postgres://127.0.0.1:${c.postgresql.connectAddress.port}/postgres`);
      expect(m.api_url).toBe(`http://127.0.0.1:${c.restapi.connectAddress.port}/patroni`);
      expect(m.role).toBe(n === leader ? 'primary' : 'replica');
      expect(typeof m.xlog_location).toBe('number');
      expect(m.version).toMatch(/^\d+\.\d+\.\d+$/);
    }
    // leader and members ride on leases with TTL = ttl; initialize and config do not.
    const leaderKv = await h.kv.get(`${h.prefix}leader`).exec();
    const memberKv = await h.kv.get(`${h.prefix}members/${leader}`).exec();
    expect(leaderKv.kvs[0]!.lease).not.toBe('0');
    expect(leaderKv.kvs[0]!.lease).toBe(memberKv.kvs[0]!.lease);
    const initKv = await h.kv.get(`${h.prefix}initialize`).exec();
    expect(initKv.kvs[0]!.lease).toBe('0');
    const status = JSON.parse(keys.status ?? '{}');
    expect(typeof status.optime).toBe('number');
  });

  it('creates a replication slot on the leader for every other member, in use by it', async () => {
    const leader = (await h.leader())!;
    const others = ['n0', 'n1', 'n2'].filter((n) => n !== leader);
    const slots = await h.until('active slots', async () => {
      const rows = await h.query<{ slot_name: string; active: boolean }>(leader, 'SELECT slot_name, active FROM pg_replication_slots ORDER BY 1');
      return rows.length === 2 && rows.every((r) => r.active) ? rows : undefined;
    });
    expect(slots.map((s) => s.slot_name)).toEqual(others.map(slotNameFor).sort());
    const apps = await h.query<{ application_name: string }>(leader, 'SELECT application_name FROM pg_stat_replication ORDER BY 1');
    expect(apps.map((a) => a.application_name)).toEqual(others);
  });

  it('answers the AgentView from any member', async () => {
    const leader = (await h.leader())!;
    const la = h.agents.get(leader)!;
    const ra = agents.find((a) => a.name !== leader)!;
    expect(la.isLeader()).toBe(true);
    expect(ra.isLeader()).toBe(false);
    const ls = await la.status();
    expect(ls.role).toBe('primary');
    expect(ls.state).toBe('running');
    const rs = await ra.status();
    expect(rs.role).toBe('replica');
    const snap = await ra.cluster();
    expect(snap.leader).toBe(leader);
    expect(snap.members.map((m) => m.name)).toEqual(['n0', 'n1', 'n2']);
    expect(Date.now() - ra.lastCycleAt()).toBeLessThan(5000);
  });

  it('rejects bad switchover/failover requests with Patroni status codes', async () => {
    const leader = (await h.leader())!;
    const a = agents[0]!;
    expect((await a.requestFailover('failover', {})).status).toBe(400);
    expect((await a.requestFailover('switchover', {})).status).toBe(400);
    expect((await a.requestFailover('switchover', { leader: 'nobody' })).status).toBe(412);
    expect((await a.requestFailover('switchover', { leader, candidate: 'ghost' })).status).toBe(412);
    expect((await a.requestFailover('switchover', { leader, candidate: leader })).status).toBe(412);
    expect((await a.requestFailover('switchover', { leader, scheduled_at: 'not a date' })).status).toBe(400);
    expect(await h.leader()).toBe(leader);
  });
});
