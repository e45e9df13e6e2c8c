/**
 * The REST API over a real AgentView (a real primary + streaming standby, a
 * real etcd holding Patroni-shaped keys): every endpoint's status code per
 * role as observed on Patroni 3.0.2, the documents' shapes, status-only
 * answers, auth, malformed and oversized requests, a hanging view, and HAProxy
 * routing by `OPTIONS /primary`.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { request } from 'node:http';
import { connect } from 'node:net';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Etcd3 } from 'etcd3';
import pg from 'pg';
import { useCluster } from '../support/cluster';
import { startApi, type RunningApi } from '../../src/manager/api';
import { freePort } from '../../src/local/ports';
import type { AgentView } from '../../src/manager/agent-view';
import { EtcdAgentView } from './etcd-agent-view';

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function http(url: string, path: string, opts: { method?: string; body?: string | Buffer; headers?: Record<string, string> } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = request({ host: u.hostname, port: u.port, path, method: opts.method ?? 'GET', headers: opts.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.setTimeout(15_000, () => req.destroy(new Error(`timeout ${path}`)));
    req.end(opts.body);
  });
}

/** Sends raw bytes and returns what comes back until the server closes (or 3 s). */
function raw(url: string, bytes: string): Promise<string> {
  return new Promise((resolve) => {
    const u = new URL(url);
    const s = connect(Number(u.port), u.hostname);
    let out = '';
    s.on('data', (d) => (out += d.toString()));
    s.on('close', () => resolve(out));
    s.on('error', () => resolve(out));
    s.setTimeout(3_000, () => s.destroy());
    s.write(bytes);
  });
}

/** Connects through a proxy port and returns the PostgreSQL server port that answered. */
async function portVia(port: number): Promise<number> {
  const c = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres', connectionTimeoutMillis: 2_000 });
  c.on('error', () => {});
  try {
    await c.connect();
    const { rows } = await c.query<{ port: number }>('SELECT inet_server_port() AS port');
    return rows[0]!.port;
  } finally {
    await c.end().catch(() => {});
  }
}

const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;

const SCOPE = 'demo';
const P = `/service/${SCOPE}/`;

describe('REST API over a real node and a real etcd', () => {
  const h = useCluster({ standbys: 1, etcd: true });
  let etcd: Etcd3;
  let views: Record<'n0' | 'n1', EtcdAgentView>;
  let apis: Record<'n0' | 'n1', RunningApi>;
  const extraApis: RunningApi[] = [];

  /** Puts the Patroni keys of a healthy two-member cluster, `n1` sync standby when `sync`. */
  async function putKeys(opts: { sync: boolean; optime?: number }) {
    const c = h.cluster;
    const [p] = await c.primary.server.query<{ lsn: string }>("SELECT pg_wal_lsn_diff(pg_current_wal_flush_lsn(), '0/0')::bigint::text AS lsn");
    const lsn = Number(p!.lsn);
    const member = (n: 'n0' | 'n1', role: string, extra: Record<string, unknown> = {}) =>
      JSON.stringify({
        conn_url: `postgres://${c.node(n).server.host}:${c.node(n).server.port}/postgres`,
        api_url: `${apis[n].url}/patroni`,
        state: 'running',
        role,
        version: '4.0.0',
        xlog_location: lsn,
        timeline: 1,
        ...extra,
      });
    await etcd.put(`${P}leader`).value('n0');
    await etcd.put(`${P}members/n0`).value(member('n0', 'primary'));
    await etcd.put(`${P}members/n1`).value(member('n1', 'replica', { replication_state: 'streaming', receive_lsn: lsn, replay_lsn: lsn - 100, tags: { dc: 'a' } }));
    await etcd.put(`${P}config`).value(JSON.stringify({ ttl: 30, loop_wait: 10, retry_timeout: 10, maximum_lag_on_failover: 1048576, synchronous_mode: opts.sync }));
    await etcd.put(`${P}initialize`).value('7300000000000000000');
    await etcd.put(`${P}status`).value(JSON.stringify({ optime: opts.optime ?? lsn }));
    await etcd.put(`${P}history`).value(JSON.stringify([[1, 25165984, 'no recovery target specified', '2026-01-01T10:00:00+00:00', 'n0']]));
    if (opts.sync) await etcd.put(`${P}sync`).value(JSON.stringify({ leader: 'n0', sync_standby: 'n1' }));
    else await etcd.delete().key(`${P}sync`);
    await views.n0.cluster();
    await views.n1.cluster();
  }

  beforeAll(async () => {
    etcd = new Etcd3({ hosts: h.cluster.etcd!.endpoints });
    views = { n0: new EtcdAgentView('n0', SCOPE, etcd, h.cluster.node('n0')), n1: new EtcdAgentView('n1', SCOPE, etcd, h.cluster.node('n1')) };
    views.n1.tags = { dc: 'a' };
    apis = {
      n0: await startApi({ view: views.n0, host: '127.0.0.1', port: 0, auth: { username: 'admin', password: 'api-pw' }, maxBodyBytes: 1024 }),
      n1: await startApi({ view: views.n1, host: '127.0.0.1', port: 0 }),
    };
    await h.cluster.waitForReplay('n1');
    await putKeys({ sync: true });
  });
  afterAll(async () => {
    await Promise.all([apis?.n0?.close(), apis?.n1?.close(), ...extraApis.map((a) => a.close())]);
    await Promise.all([views?.n0?.close(), views?.n1?.close()]);
    etcd?.close();
  });

  // The table observed on a live Patroni 3.0.2: [path, leader, replica, sync standby].
  const TABLE: Array<[string, number, number, number]> = [
    ['/', 200, 503, 503],
    ['/primary', 200, 503, 503],
    ['/master', 200, 503, 503],
    ['/leader', 200, 503, 503],
    ['/read-write', 200, 503, 503],
    ['/replica', 503, 200, 200],
    ['/replica?lag=1MB', 503, 200, 200],
    ['/sync', 503, 503, 200],
    ['/synchronous', 503, 503, 200],
    ['/async', 503, 200, 503],
    ['/asynchronous', 503, 200, 503],
    ['/read-only-sync', 200, 503, 200],
    ['/read-only', 200, 200, 200],
    ['/health', 200, 200, 200],
    ['/patroni', 200, 200, 200],
    ['/liveness', 200, 200, 200],
    ['/readiness', 200, 200, 200],
    ['/cluster', 200, 200, 200],
    ['/history', 200, 200, 200],
    ['/config', 200, 200, 200],
    ['/metrics', 200, 200, 200],
    ['/standby-leader', 503, 503, 503],
  ];

  it('answers the Patroni 3.0.2 status table for a leader, a sync standby, and (sync off) a replica', async () => {
    const got = async (api: RunningApi) => Promise.all(TABLE.map(async ([path]) => (await http(api.url, path)).status));
    const leader = await got(apis.n0);
    const syncStandby = await got(apis.n1);
    await putKeys({ sync: false });
    try {
      const replica = await got(apis.n1);
      const leaderAsync = await got(apis.n0);
      expect(TABLE.map(([p], i) => [p, leader[i], replica[i], syncStandby[i]])).toEqual(TABLE);
      expect(leaderAsync).toEqual(leader); // the same in async and sync mode
    } finally {
      await putKeys({ sync: true });
    }
  });

  it('HEAD and OPTIONS answer the same codes with no body', async () => {
    for (const method of ['HEAD', 'OPTIONS']) {
      for (const [api, code] of [[apis.n0, 200], [apis.n1, 503]] as const) {
        const r = await http(api.url, '/primary', { method });
        expect([method, r.status, r.body]).toEqual([method, code, '']);
        expect(r.headers['content-length']).toBe('0');
      }
      const rep = await http(apis.n1.url, '/replica', { method });
      expect([rep.status, rep.body]).toEqual([200, '']);
    }
    for (const path of ['/liveness', '/readiness']) {
      const r = await http(apis.n0.url, path);
      expect([r.status, r.body]).toEqual([200, '']);
    }
  });

  it('health GETs answer the /patroni JSON; unknown paths 503 with it', async () => {
    const p = JSON.parse((await http(apis.n0.url, '/primary')).body);
    expect(p).toMatchObject({ state: 'running', role: 'primary', timeline: 1, patroni: { name: 'n0', scope: SCOPE } });
    const r = await http(apis.n1.url, '/replica');
    expect(JSON.parse(r.body)).toMatchObject({ role: 'replica', replication_state: 'streaming', xlog: { paused: false } });
    expect(r.headers['content-type']).toBe('application/json');
    for (const path of ['/garbage', '/primar', '/%zz', `/${'x'.repeat(4000)}`, '/..%2f..%2fetc/passwd']) {
      const g = await http(apis.n0.url, path);
      expect([path.slice(0, 20), g.status]).toEqual([path.slice(0, 20), 503]);
      expect(JSON.parse(g.body).role).toBe('primary');
    }
    // Patroni's substring matching: anything containing "replica" is a replica check
    expect((await http(apis.n1.url, '/replicas')).status).toBe(200);
    // a request line that is not HTTP is refused, the server keeps serving
    expect(await raw(apis.n0.url, 'BLAH\r\n\r\n')).toMatch(/^HTTP\/1\.1 400/);
    expect((await http(apis.n0.url, '/primary')).status).toBe(200);
  });

  it('/replica honours ?lag=, ?replication_state= and ?tag_k=v', async () => {
    const [row] = await h.cluster.node('n1').server.query<{ r: string }>("SELECT pg_wal_lsn_diff(pg_last_wal_replay_lsn(), '0/0')::bigint::text AS r");
    await putKeys({ sync: true, optime: Number(row!.r) + 10 * 1024 * 1024 });
    try {
      const code = async (q: string) => (await http(apis.n1.url, q)).status;
      expect(await code('/replica')).toBe(200);
      expect(await code('/replica?lag=1MB')).toBe(503);
      expect(await code('/replica?lag=1048576')).toBe(503);
      expect(await code('/replica?lag=16MB')).toBe(200);
      expect(await code('/replica?lag=16384kB')).toBe(200);
      expect(await code('/read-only?lag=1MB')).toBe(503);
      expect(await code('/readiness')).toBe(503); // beyond maximum_lag_on_failover
      expect(await code('/readiness?lag=16MB')).toBe(200);
      expect(await code('/replica?replication_state=streaming')).toBe(200);
      expect(await code('/replica?replication_state=in%20archive%20recovery')).toBe(503);
      expect(await code('/replica?tag_dc=a')).toBe(200);
      expect(await code('/replica?tag_dc=b')).toBe(503);
      expect(await code('/replica?tag_rack=1')).toBe(503);
      views.n1.tags = { dc: 'a', noloadbalance: true };
      expect(await code('/replica')).toBe(503);
    } finally {
      views.n1.tags = { dc: 'a' };
      await putKeys({ sync: true });
    }
  });

  it('/cluster: members sorted, roles, host/port from conn_url, lag; /history, /config as stored', async () => {
    const c = JSON.parse((await http(apis.n1.url, '/cluster')).body);
    const n0 = h.cluster.node('n0').server;
    const n1 = h.cluster.node('n1').server;
    expect(c.scope).toBe(SCOPE);
    expect(c.members.map((m: { name: string }) => m.name)).toEqual(['n0', 'n1']);
    expect(c.members[0]).toEqual({ name: 'n0', role: 'leader', state: 'running', api_url: `${apis.n0.url}/patroni`, host: n0.host, port: n0.port, timeline: 1 });
    expect(c.members[1]).toMatchObject({ name: 'n1', role: 'sync_standby', state: 'streaming', host: n1.host, port: n1.port, timeline: 1, tags: { dc: 'a' }, lag: 0, receive_lag: 0, replay_lag: 100 });
    expect(c.members[1].lsn).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
    await etcd.put(`${P}members/n1`).value(JSON.stringify({ conn_url: 'postgres://127.0.0.9:6000/postgres', api_url: 'http://x/patroni', state: 'running', role: 'replica' }));
    const c2 = JSON.parse((await http(apis.n1.url, '/cluster')).body);
    expect(c2.members[1]).toMatchObject({ host: '127.0.0.9', port: 6000, lag: 'unknown', lsn: 'unknown' });
    await putKeys({ sync: true });
    expect(JSON.parse((await http(apis.n0.url, '/history')).body)).toEqual([[1, 25165984, 'no recovery target specified', '2026-01-01T10:00:00+00:00', 'n0']]);
    expect(JSON.parse((await http(apis.n0.url, '/config')).body)).toMatchObject({ ttl: 30, synchronous_mode: true });
    const pat = JSON.parse((await http(apis.n0.url, '/patroni')).body);
    expect(pat.replication[0]).toMatchObject({ application_name: 'n1', state: 'streaming' });
  });

  it('/metrics: Prometheus text with Patroni\'s names, 1/0 per role', async () => {
    const m0 = await http(apis.n0.url, '/metrics');
    const m1 = (await http(apis.n1.url, '/metrics')).body;
    expect(m0.headers['content-type']).toMatch(/^text\/plain/);
    const value = (text: string, name: string) => Number(new RegExp(`^${name}\\{scope="${SCOPE}",name="n\\d"\\} (\\S+)$`, 'm').exec(text)?.[1]);
    for (const name of ['patroni_version', 'patroni_postgres_running', 'patroni_primary', 'patroni_master', 'patroni_xlog_location', 'patroni_replica', 'patroni_sync_standby', 'patroni_postgres_timeline']) {
      expect(m0.body).toMatch(new RegExp(`^# TYPE ${name} (gauge|counter)$`, 'm'));
      expect(Number.isFinite(value(m0.body, name)), name).toBe(true);
    }
    expect([value(m0.body, 'patroni_primary'), value(m0.body, 'patroni_master'), value(m0.body, 'patroni_replica')]).toEqual([1, 1, 0]);
    expect([value(m1, 'patroni_primary'), value(m1, 'patroni_replica'), value(m1, 'patroni_sync_standby')]).toEqual([0, 1, 1]);
    expect(value(m0.body, 'patroni_xlog_location')).toBeGreaterThan(0);
    expect(value(m0.body, 'patroni_postgres_timeline')).toBe(1);
    expect(value(m0.body, 'patroni_version')).toBe(40000);
  });

  it('/liveness follows the HA loop: 503 once the last cycle is older than ttl', async () => {
    views.n0.lastCycle = Date.now() - 31_000;
    try {
      const r = await http(apis.n0.url, '/liveness');
      expect([r.status, r.body]).toEqual([503, '']);
      views.n0.ttl = 60;
      expect((await http(apis.n0.url, '/liveness')).status).toBe(200);
    } finally {
      views.n0.lastCycle = Date.now();
      views.n0.ttl = 30;
    }
  });

  it('every write request (PATCH/PUT /config, POST /restart /reload /reinitialize /failsafe, DELETE /restart /switchover) is refused without credentials: 401, nothing reaches the agent', async () => {
    const writes: Array<[string, string, string | undefined]> = [
      ['PATCH', '/config', '{"ttl": 20}'], ['PUT', '/config', '{"ttl": 20}'], ['POST', '/restart', '{}'], ['POST', '/reload', undefined],
      ['POST', '/reinitialize', '{"force": true}'], ['POST', '/failsafe', '{"name": "n1"}'], ['DELETE', '/restart', undefined], ['DELETE', '/switchover', undefined],
    ];
    const before = views.n0.requests.length;
    for (const [method, path, body] of writes) {
      const r = await http(apis.n0.url, path, { method, ...(body !== undefined ? { body, headers: { 'Content-Type': 'application/json' } } : {}) });
      expect([method, path, r.status]).toEqual([method, path, 401]);
      const wrong = await http(apis.n0.url, path, { method, ...(body !== undefined ? { body } : {}), headers: { 'Content-Type': 'application/json', Authorization: basic('admin', 'nope') } });
      expect([method, path, wrong.status]).toEqual([method, path, 401]);
    }
    expect(views.n0.requests.length).toBe(before);
  });

  it('POST /switchover and /failover: Basic auth, 400 on bad bodies, 413 over the limit, the view answers', async () => {
    const ok = { 'Content-Type': 'application/json', Authorization: basic('admin', 'api-pw') };
    const body = JSON.stringify({ leader: 'n0', candidate: 'n1' });
    const noAuth = await http(apis.n0.url, '/switchover', { method: 'POST', body });
    expect([noAuth.status, noAuth.headers['www-authenticate']]).toEqual([401, 'Basic realm="Patroni"']);
    expect((await http(apis.n0.url, '/switchover', { method: 'POST', body, headers: { Authorization: basic('admin', 'nope') } })).status).toBe(401);
    expect((await http(apis.n0.url, '/switchover', { method: 'POST', body, headers: { Authorization: 'Bearer x' } })).status).toBe(401);
    const bad = async (b: string) => http(apis.n0.url, '/switchover', { method: 'POST', body: b, headers: ok });
    for (const b of ['{not json', '', '[]', '{}', '{"candidate":"n1"}', '{"leader":5}', '{"leader":"n0","scheduled_at":"not a time"}']) {
      const r = await bad(b);
      expect([b, r.status]).toEqual([b, 400]);
      expect(r.body.length).toBeGreaterThan(5);
    }
    expect((await bad('{"candidate":"n1"}')).body).toBe('Switchover could be performed only from a specific leader');
    const f400 = await http(apis.n0.url, '/failover', { method: 'POST', body: '{"leader":"n0"}', headers: ok });
    expect([f400.status, f400.body]).toEqual([400, 'Failover could be performed only to a specific candidate']);
    const big = await http(apis.n0.url, '/switchover', { method: 'POST', body: JSON.stringify({ leader: 'n0', pad: 'x'.repeat(5000) }), headers: ok });
    expect(big.status).toBe(413);
    // the same without Content-Length (chunked): the limit holds while streaming
    const chunked = await raw(apis.n0.url, `POST /switchover HTTP/1.1\r\nHost: x\r\nAuthorization: ${ok.Authorization}\r\nTransfer-Encoding: chunked\r\n\r\n${'800\r\n' + 'x'.repeat(0x800) + '\r\n'}`);
    expect(chunked).toMatch(/^HTTP\/1\.1 413/);
    expect(views.n0.requests).toEqual([]); // nothing reached the agent so far

    const r = await http(apis.n0.url, '/switchover', { method: 'POST', body, headers: ok });
    expect([r.status, r.body]).toEqual([200, 'Successfully switched over to "n1"']);
    expect(views.n0.requests).toEqual([{ kind: 'switchover', req: { leader: 'n0', candidate: 'n1' } }]);
    expect(JSON.parse((await etcd.get(`${P}failover`).string())!)).toMatchObject({ leader: 'n0', member: 'n1' });
    const sched = await http(apis.n0.url, '/switchover', { method: 'POST', body: JSON.stringify({ leader: 'n0', scheduled_at: '2030-01-01T00:00:00+00:00' }), headers: ok });
    expect([sched.status, sched.body]).toEqual([202, 'Switchover scheduled']);
    const wrong = await http(apis.n0.url, '/switchover', { method: 'POST', body: JSON.stringify({ leader: 'n1' }), headers: ok });
    expect([wrong.status, wrong.body]).toEqual([412, 'leader name does not match']);
    const fo = await http(apis.n1.url, '/failover', { method: 'POST', body: JSON.stringify({ candidate: 'n1' }) }); // n1 has no auth configured
    expect(fo.status).toBe(200);
    expect(views.n1.requests[0]).toEqual({ kind: 'failover', req: { candidate: 'n1' } });
    await etcd.put(`${P}failover`).value('{}');
    // other write methods are not served
    expect((await http(apis.n0.url, '/restart', { method: 'POST', body: '{}', headers: ok })).status).toBe(501);
    expect((await http(apis.n0.url, '/config', { method: 'PATCH', body: '{}', headers: ok })).status).toBe(501);
  });

  it('a view that hangs or throws gives 503 within the bound, never a crash', async () => {
    const base = views.n0;
    const hanging: AgentView = {
      name: 'hang', scope: SCOPE, namespace: '/service',
      isLeader: () => true, lastCycleAt: () => Date.now(), ttlSeconds: () => 30,
      status: () => new Promise(() => {}),
      cluster: () => new Promise(() => {}),
      requestFailover: () => new Promise(() => {}),
    };
    const throwing: AgentView = {
      ...hanging, name: 'boom',
      status: () => Promise.reject(new Error('postgres exploded')),
      cluster: () => { throw new Error('sync throw from cluster()'); },
      requestFailover: () => Promise.reject(new Error('agent refused')),
    };
    const hApi = await startApi({ view: hanging, host: '127.0.0.1', port: 0 });
    const tApi = await startApi({ view: throwing, host: '127.0.0.1', port: 0, failoverTimeoutMillis: 500 });
    extraApis.push(hApi, tApi);
    const t0 = Date.now();
    const results = await Promise.all(['/primary', '/patroni', '/cluster', '/metrics'].map((p) => http(hApi.url, p)));
    const elapsed = Date.now() - t0;
    expect(results.map((r) => r.status)).toEqual([503, 503, 503, 503]);
    expect(elapsed).toBeLessThan(4_000);
    expect(elapsed).toBeGreaterThanOrEqual(2_000);
    expect(JSON.parse(results[0]!.body)).toMatchObject({ code: 'TIMEOUT' });
    const opt = await http(hApi.url, '/primary', { method: 'OPTIONS' });
    expect(opt.status).toBe(503);
    for (const p of ['/primary', '/patroni', '/cluster', '/history', '/replica']) {
      const r = await http(tApi.url, p);
      expect([p, r.status]).toEqual([p, 503]);
      expect(JSON.parse(r.body).error).toBeTruthy();
    }
    const post = await http(tApi.url, '/switchover', { method: 'POST', body: '{"leader":"boom"}' });
    expect(post.status).toBe(503);
    expect((await http(tApi.url, '/liveness')).status).toBe(200); // no view I/O
    expect(base.isLeader()).toBe(true); // the real ones are untouched
    expect((await http(apis.n0.url, '/primary')).status).toBe(200);
  });

  it.skipIf(!existsSync('/usr/sbin/haproxy'))('HAProxy with `option httpchk OPTIONS /primary` routes to the primary', async () => {
    const dir = mkdtempSync(join(process.env.PGFAILOVER_TEST_ROOT!, 'haproxy-'));
    let proc: ChildProcess | undefined;
    try {
      const front = await freePort();
      const n0 = h.cluster.node('n0').server;
      const n1 = h.cluster.node('n1').server;
      const apiPort = (a: RunningApi) => new URL(a.url).port;
      const cfg = [
        'global',
        '  maxconn 100',
        'defaults',
        '  mode tcp',
        '  timeout connect 2s',
        '  timeout client 30s',
        '  timeout server 30s',
        '  timeout check 2s',
        'listen primary',
        `  bind 127.0.0.1:${front}`,
        '  option httpchk OPTIONS /primary',
        '  http-check expect status 200',
        '  default-server inter 200ms fall 2 rise 1 on-marked-down shutdown-sessions',
        `  server n1 ${n1.host}:${n1.port} check port ${apiPort(apis.n1)}`,
        `  server n0 ${n0.host}:${n0.port} check port ${apiPort(apis.n0)}`,
        '',
      ].join('\n');
      writeFileSync(join(dir, 'haproxy.cfg'), cfg);
      proc = spawn('/usr/sbin/haproxy', ['-db', '-f', join(dir, 'haproxy.cfg')], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      proc.stderr!.on('data', (d) => (stderr += d.toString()));
      // wait until a connection through haproxy reaches the primary (checks need a few rounds)
      const deadline = Date.now() + 15_000;
      let answer: { recovery: boolean; port: number } | undefined;
      while (Date.now() < deadline && !answer) {
        const c = new pg.Client({ host: '127.0.0.1', port: front, user: 'postgres', database: 'postgres', connectionTimeoutMillis: 1_000 });
        c.on('error', () => {});
        try {
          await c.connect();
          const { rows } = await c.query<{ recovery: boolean; port: number }>('SELECT pg_is_in_recovery() AS recovery, inet_server_port() AS port');
          answer = rows[0];
        } catch {
          await sleep(200);
        } finally {
          await c.end().catch(() => {});
        }
      }
      expect(answer, `haproxy never routed: ${stderr}`).toEqual({ recovery: false, port: n0.port });
      // repeated connections all land on the primary (the standby is marked down by its 503)
      for (let i = 0; i < 5; i++) expect(await portVia(front)).toBe(n0.port);
      // the routing follows the API alone: move the leader key to n1 and haproxy follows it
      await etcd.put(`${P}leader`).value('n1');
      await views.n0.cluster();
      await views.n1.cluster();
      const until = Date.now() + 10_000;
      let port = 0;
      while (Date.now() < until && port !== n1.port) {
        port = await portVia(front).catch(() => 0);
        if (port !== n1.port) await sleep(200);
      }
      expect(port).toBe(n1.port);
    } finally {
      await putKeys({ sync: true });
      if (proc?.pid !== undefined && proc.exitCode === null) {
        const exited = new Promise((r) => proc!.once('exit', r));
        process.kill(proc.pid, 'SIGTERM');
        await Promise.race([exited, sleep(3_000)]);
        if (proc.exitCode === null && proc.signalCode === null) process.kill(proc.pid, 'SIGKILL');
      }
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
