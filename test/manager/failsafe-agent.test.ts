/**
 * DCS failsafe mode against real servers: one etcd, two PostgreSQL nodes, each run by an
 * in-process agent with its REST API (basic auth on). With `failsafe_mode` on, freezing etcd
 * (SIGSTOP to the PID this test started) must not demote the leader while the replica answers
 * its POST /failsafe — the lease alone would fence it after ttl - retry_timeout — and etcd's
 * return must not demote it either. With the replica killed as well, the leader demotes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { REWIND_MARKER } from '../../src/manager/rewind-marker';
import { Harness } from './harness';
import { startApi, type RunningApi } from '../../src/manager/api';
import type { Agent } from '../../src/manager/agent';

const TTL = 6; // loop_wait 1, retry_timeout 2: the lease alone fences 4 s after the last renewal
const AUTH = { username: 'fs-admin', password: 'fs-secret' };
const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;

describe('agent in DCS failsafe mode', () => {
  const h = new Harness({ scope: 'failsafe', ttl: TTL, loopWait: 1, retryTimeout: 2 });
  const apis = new Map<string, RunningApi>();
  let leader: string;
  let replica: string;
  const demotions: string[] = [];
  const cycles: string[] = [];

  const agent = (name: string): Agent => h.agents.get(name)!;
  const url = (name: string) => apis.get(name)!.url;
  const get = async (name: string, path: string) => {
    const r = await fetch(url(name) + path, { signal: AbortSignal.timeout(5000) });
    return { status: r.status, text: await r.text() };
  };
  const inRecovery = async (name: string) => (await h.query<{ r: boolean }>(name, 'SELECT pg_is_in_recovery() AS r'))[0]!.r;

  beforeAll(async () => {
    await h.startEtcd();
    const extra = { 'api-username': AUTH.username, 'api-password': AUTH.password };
    await h.startAll(['n0', 'n1'], extra);
    for (const name of ['n0', 'n1']) {
      const c = h.configs.get(name)!;
      apis.set(name, await startApi({ view: agent(name), host: c.restapi.listen.host, port: c.restapi.listen.port, auth: AUTH }));
      agent(name).on('demoted', ({ reason }) => demotions.push(`${name}: ${reason}`));
      agent(name).on('cycle', (line) => cycles.push(`${name}: ${line}`));
    }
    leader = await h.until('a leader', () => h.leader());
    replica = leader === 'n0' ? 'n1' : 'n0';
    await h.query(leader, 'CREATE TABLE fs (id int primary key)');
    await h.until('the replica streams', async () => (await h.query(leader, "SELECT 1 FROM pg_stat_replication WHERE state = 'streaming'")).length === 1);
    expect((await get(leader, '/failsafe')).status).toBe(502); // off by default, like Patroni
    expect((await agent(leader).patchConfig!({ failsafe_mode: true })).status).toBe(200);
    await h.until('the failsafe key lists both members', async () => {
      const r = await get(leader, '/failsafe');
      return r.status === 200 && Object.keys(JSON.parse(r.text) as object).sort().join() === 'n0,n1';
    }, 15_000);
    const keys = await h.keys();
    expect(JSON.parse(keys.failsafe!)).toEqual({
      n0: `http://127.0.0.1:${h.configs.get('n0')!.restapi.connectAddress.port}/patroni`,
      n1: `http://127.0.0.1:${h.configs.get('n1')!.restapi.connectAddress.port}/patroni`,
    });
  }, 180_000);

  afterAll(async () => {
    for (const api of apis.values()) await api.close().catch(() => {});
    await h.close();
  }, 120_000);

  it('refuses POST /failsafe without valid credentials when restapi.authentication is set', async () => {
    const body = JSON.stringify({ name: leader, conn_url: 'postgres://127.0.0.1:1/postgres', api_url: `${url(leader)}/patroni` });
    const post = (headers: Record<string, string>) => fetch(`${url(replica)}/failsafe`, { method: 'POST', body, headers: { 'Content-Type': 'application/json', ...headers } });
    const none = await post({});
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toContain('Basic');
    expect((await post({ Authorization: basic(AUTH.username, 'wrong') })).status).toBe(401);
    const ok = await post({ Authorization: basic(AUTH.username, AUTH.password) });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toBe('Accepted');
    expect(Number(ok.headers.get('lsn'))).toBeGreaterThan(0);
    // the primary itself refuses to accept another leader
    const self = await fetch(`${url(leader)}/failsafe`, { method: 'POST', body, headers: { Authorization: basic(AUTH.username, AUTH.password) } });
    expect([self.status, await self.text()]).toEqual([500, 'Running as a leader']);
  });

  it('etcd frozen, the replica answering: the leader stays the primary past the lease deadline, and etcd coming back does not demote it', async () => {
    const pid = h.etcd.members[0]!.pid;
    expect(pid).toBeGreaterThan(0);
    await h.until('fresh keepalive', () => Date.now() - agent(leader).dcs.lastKeepaliveOkAt < 300);
    h.etcd.kill(0, 'SIGSTOP');
    const frozenAt = Date.now();
    try {
      // three lease deadlines (ttl - retry_timeout = 4 s each) pass without a demotion
      await sleep(3 * (TTL - 2) * 1000);
      expect(demotions, h.lines.slice(-20).join('\n')).toEqual([]);
      expect(await inRecovery(leader)).toBe(false);
      await h.query(leader, 'INSERT INTO fs VALUES (1)');
      const primary = await get(leader, '/primary');
      expect(primary.status).toBe(200);
      expect(JSON.parse(primary.text)).toMatchObject({ failsafe_mode_is_active: true });
      expect(JSON.parse((await get(replica, '/patroni')).text)).toMatchObject({ role: 'replica', failsafe_mode_is_active: true });
      expect((await get(leader, '/metrics')).text).toMatch(/patroni_failsafe_mode_is_active\{[^}]*\} 1/);
      expect(cycles).toContain(`${leader}: continue to run as a leader because failsafe mode is enabled and all members are accessible`);
      console.log(`failsafe: etcd frozen for ${Date.now() - frozenAt} ms, leader ${leader} still the primary`);
    } finally {
      h.etcd.kill(0, 'SIGCONT');
    }
    await h.until('the leader key is the leader\'s again', async () => (await h.leader()) === leader, 20_000);
    await h.until('failsafe mode inactive on the leader', async () => JSON.parse((await get(leader, '/patroni')).text).failsafe_mode_is_active === undefined, 15_000);
    expect(demotions).toEqual([]);
    expect(await inRecovery(leader)).toBe(false);
    expect(await inRecovery(replica)).toBe(true);
  }, 60_000);

  it('etcd frozen and the replica killed: the leader demotes (read-only, no writes)', async () => {
    await h.until('failsafe key still lists both', async () => Object.keys(JSON.parse((await h.keys()).failsafe ?? '{}') as object).length === 2);
    h.etcd.kill(0, 'SIGSTOP');
    const frozenAt = Date.now();
    try {
      // the replica's manager and PostgreSQL die together
      await agent(replica).stop({ release: false, stopPostgres: false });
      await apis.get(replica)!.close();
      await agent(replica).postgres.kill9();
      await h.until('the leader demoted', () => demotions.length > 0, 20_000);
      const demotedAt = Date.now();
      await h.until('the old leader runs read-only', () => inRecovery(leader), 20_000);
      await expect(h.query(leader, 'INSERT INTO fs VALUES (2)')).rejects.toThrow(/read-only/);
      expect(agent(leader).isLeader()).toBe(false);
      // a restart must still know this was a primary (standby.signal alone would say replica)
      expect(existsSync(join(h.configs.get(leader)!.postgresql.dataDir, REWIND_MARKER))).toBe(true);
      // the failsafe round (a member did not accept) or, when the lease deadline came first, the fence
      expect(demotions[0]).toMatch(new RegExp(`^${leader}: (DCS is not accessible and failsafe mode cannot confirm the leader: ${replica} did not accept|fenced)`));
      console.log(`failsafe: etcd frozen, replica killed → leader demoted after ${demotedAt - frozenAt} ms; ${demotions[0]}`);
    } finally {
      h.etcd.kill(0, 'SIGCONT');
    }
  }, 60_000);
});
