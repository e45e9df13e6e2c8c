/**
 * The REST write requests patronictl needs (regression: PATCH /config, POST /reload,
 * /reinitialize, /restart and DELETE /switchover answered 501; GET /failsafe answered 503 JSON)
 * against a real agent on a real PostgreSQL and etcd.
 */
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi, type RunningApi } from '../../src/manager/api';
import type { Agent } from '../../src/manager/agent';
import { Harness } from './harness';

describe('REST write requests over a running agent', () => {
  const h = new Harness({ scope: 'apiw' });
  let api: RunningApi;
  let agent: Agent;

  beforeAll(async () => {
    await h.startEtcd();
    [agent] = (await h.startAll(['n0'])) as [Agent];
    api = await startApi({ view: agent, host: '127.0.0.1', port: agent.config.restapi.listen.port });
    await h.until('n0 leads', async () => (await h.leader()) === 'n0');
  }, 180_000);
  afterAll(async () => {
    await api?.close().catch(() => {});
    await h.close();
  }, 120_000);

  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${api.url}${path}`, { method, ...(body !== undefined ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {}), signal: AbortSignal.timeout(30_000) });
    const text = await res.text();
    return { status: res.status, type: res.headers.get('content-type') ?? '', text, json: () => JSON.parse(text) as Record<string, unknown> };
  };

  it('PATCH /config merges (null deletes) into the config key and the agent applies it; pause shows in /cluster', async () => {
    const r = await call('PATCH', '/config', { ttl: 20, pause: true, postgresql: { parameters: { max_connections: '101' } } });
    expect(r.status).toBe(200);
    expect(r.json()).toMatchObject({ ttl: 20, pause: true, postgresql: { parameters: { max_connections: '101' } } });
    expect(JSON.parse((await h.keys()).config!)).toMatchObject({ ttl: 20, pause: true });
    expect((await call('GET', '/cluster')).json().pause).toBe(true);
    // max_connections needs a restart: written, reloaded, and reported like Patroni
    await h.until('pending_restart', async () => (await call('GET', '/patroni')).json().pending_restart === true, 15_000);
    const un = await call('PATCH', '/config', { pause: null });
    expect(un.status).toBe(200);
    expect('pause' in un.json()).toBe(false);
    expect((await call('GET', '/config')).json()).toMatchObject({ ttl: 20 });
  });

  it('PATCH /config loses to a writer that changed the key since it read it (409, not a lost update)', async () => {
    // a concurrent writer bumps the key between the agent's read and its CAS: simulate by racing many patches
    const results = await Promise.all([1, 2, 3, 4, 5].map((i) => call('PATCH', '/config', { [`k${i}`]: i })));
    const ok = results.filter((r) => r.status === 200).length;
    expect(ok + results.filter((r) => r.status === 409).length).toBe(5);
    const stored = JSON.parse((await h.keys()).config!) as Record<string, unknown>;
    // every 200 is in the key: no acknowledged write was overwritten
    results.forEach((r, i) => {
      if (r.status === 200) expect(stored[`k${i + 1}`]).toBe(i + 1);
    });
  });

  it('POST /reload answers 202; POST /reinitialize on the leader answers 503 with Patroni\'s text', async () => {
    const reload = await call('POST', '/reload');
    expect([reload.status, reload.text]).toEqual([202, 'reload scheduled']);
    const re = await call('POST', '/reinitialize', { force: true });
    expect([re.status, re.text]).toEqual([503, 'I am the leader, can not reinitialize']);
  });

  it('DELETE /switchover: 404 without a scheduled one, 200 and the key cleared with one', async () => {
    expect((await call('DELETE', '/switchover')).status).toBe(404);
    const at = new Date(Date.now() + 3_600_000).toISOString();
    // (one node: POST /switchover refuses with 412; write the request as patronictl's scheduled switchover leaves it)
    await h.kv.put(`${h.prefix}failover`).value(JSON.stringify({ leader: 'n0', member: 'n1', scheduled_at: at }));
    const del = await call('DELETE', '/switchover');
    expect([del.status, del.text]).toEqual([200, 'scheduled switchover deleted']);
    expect(JSON.parse((await h.keys()).failover!)).toEqual({});
  });

  it('POST /restart restarts PostgreSQL (new postmaster start time) and it is primary again', async () => {
    const before = (await call('GET', '/patroni')).json().postmaster_start_time;
    const r = await call('POST', '/restart', {});
    expect(r.status).toBe(200);
    expect((await call('GET', '/patroni')).json().pending_restart).toBeUndefined();
    await h.until('primary again', async () => (await call('GET', '/primary')).status === 200, 20_000);
    expect((await call('GET', '/patroni')).json().postmaster_start_time).not.toBe(before);
  });

  it('POST /restart scheduled with conditions: role replica on the primary is skipped; restart_pending runs only when pending', async () => {
    await call('PATCH', '/config', { postgresql: { parameters: { max_connections: '102' } } });
    await h.until('pending_restart', async () => (await call('GET', '/patroni')).json().pending_restart === true, 15_000);
    const at = () => new Date(Date.now() + 1000).toISOString();
    expect((await call('POST', '/restart', { schedule: at(), role: 'replica' })).status).toBe(202);
    expect((await call('POST', '/restart', { schedule: at() })).status).toBe(409); // one at a time
    await new Promise((r) => setTimeout(r, 2500));
    expect((await call('GET', '/patroni')).json().pending_restart).toBe(true); // skipped: not a replica
    expect((await call('POST', '/restart', { schedule: at(), restart_pending: 'True' })).status).toBe(202);
    await h.until('restarted', async () => (await call('GET', '/patroni')).json().pending_restart === undefined, 15_000);
    expect((await call('DELETE', '/restart')).status).toBe(404);
  });

  it('GET /failsafe answers 502 text like Patroni (failsafe mode is not active)', async () => {
    const r = await call('GET', '/failsafe');
    expect(r.status).toBe(502);
    expect(r.type).toContain('text/html');
    expect(r.text).toContain('Error code: 502');
  });

  it('POST /restart that cannot bring PostgreSQL back answers 503 "restart failed: …" (was 200), and the cycle starts it once it can', async () => {
    // a real failure: a parameter PostgreSQL refuses at start, in the file ALTER SYSTEM owns
    const auto = join(agent.config.postgresql.dataDir, 'postgresql.auto.conf');
    const original = readFileSync(auto, 'utf8');
    appendFileSync(auto, "\nshared_buffers = 'not-a-size'\n");
    try {
      const r = await call('POST', '/restart', {});
      expect(r.status).toBe(503);
      expect(r.text).toMatch(/^restart failed: /);
    } finally {
      writeFileSync(auto, original);
    }
    await h.until('primary again', async () => (await call('GET', '/primary')).status === 200, 60_000);
  }, 120_000);
});
