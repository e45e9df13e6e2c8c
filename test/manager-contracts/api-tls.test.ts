/**
 * The REST API with TLS and access control (Patroni's `restapi.certfile` …
 * `allowlist_include_members`), over real TLS with throwaway certificates
 * made by openssl, a real PostgreSQL node and a real etcd holding
 * Patroni-shaped keys: HTTPS with a CA, no plain HTTP on the HTTPS port,
 * verify_client optional/required, allowlist by network, address and host
 * name, allowlist_include_members from the members' api_url; and the clients
 * that speak to it — our `pg-failover ctl`, the Patroni REST topology source
 * and a Pool over it, and Patroni's own patronictl as the outside judge.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { request as httpsRequest } from 'node:https';
import { request as httpRequest } from 'node:http';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { Etcd3 } from 'etcd3';
import { useCluster } from '../support/cluster';
import { makeTestCerts, type TestCerts } from '../support/tls-certs';
import { startApi, type RunningApi } from '../../src/manager/api';
import { prepareApiSecurity, restApiUrl } from '../../src/manager/api-security';
import { ensureUniqueName } from '../../src/manager/unique-name';
import { loadManagerConfig } from '../../src/manager/config';
import { ctlCommand } from '../../src/cli/ctl';
import { PatroniRestTopology } from '../../src/topology/patroni-rest';
import { FailoverError, Pool } from '../../src';
import { EtcdAgentView } from './etcd-agent-view';

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

interface Call {
  method?: string;
  body?: string;
  headers?: Record<string, string>;
  ca?: string;
  cert?: string;
  key?: string;
  localAddress?: string;
}

function call(url: string, path: string, o: Call = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const common = { host: u.hostname, port: u.port, path, method: o.method ?? 'GET', headers: o.headers, agent: false as const, ...(o.localAddress ? { localAddress: o.localAddress } : {}) };
    const onRes = (res: import('node:http').IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    };
    const req =
      u.protocol === 'https:'
        ? httpsRequest({ ...common, ...(o.ca ? { ca: readFileSync(o.ca) } : {}), ...(o.cert ? { cert: readFileSync(o.cert), key: readFileSync(o.key!) } : {}) }, onRes)
        : httpRequest(common, onRes);
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error(`timeout ${path}`)));
    req.end(o.body);
  });
}

const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;
const SCOPE = 'tlsdemo';
const P = `/service/${SCOPE}/`;
const SWITCH = JSON.stringify({ leader: 'n0', candidate: 'n1' });
const JSON_HEADERS = { 'content-type': 'application/json' };

/** A Patroni-shaped node YAML with the given restapi security keys (what loadManagerConfig reads). */
function nodeYaml(restapi: Record<string, unknown>): string {
  return JSON.stringify({
    scope: SCOPE,
    name: 'n0',
    restapi: { listen: '127.0.0.1:8008', connect_address: '127.0.0.1:8008', ...restapi },
    etcd3: { hosts: '127.0.0.1:2379' },
    postgresql: { listen: '127.0.0.1:5432', data_dir: '/tmp/none', authentication: { superuser: { username: 'postgres' }, replication: { username: 'postgres' } } },
  }).concat('\n');
}

describe('REST API over HTTPS, with client certificates and an allowlist', () => {
  const h = useCluster({ standbys: 0, etcd: true });
  let certs: TestCerts;
  let etcd: Etcd3;
  let view: EtcdAgentView;
  const apis: RunningApi[] = [];

  /** Starts an API for n0 from Patroni-shaped restapi keys, through the same path as `pg-failover manager`. */
  async function api(restapi: Record<string, unknown>): Promise<RunningApi> {
    const { config } = loadManagerConfig(nodeYaml(restapi));
    const security = await prepareApiSecurity(config.restapi, async () => (await view.cluster()).members.map((m) => m.data.api_url ?? ''));
    const a = await startApi({ view, host: '127.0.0.1', port: 0, auth: { username: 'admin', password: 'api-pw' }, ...security });
    apis.push(a);
    return a;
  }

  /** The member keys of a two-member cluster; n0's api_url is `leaderApi`, n1's `n1Api`. */
  async function putKeys(leaderApi: string, n1Api = 'https://127.0.0.9:8008/patroni') {
    const n0 = h.cluster.node('n0');
    const member = (apiUrl: string, role: string) => JSON.stringify({ conn_url: `postgres://${n0.server.host}:${n0.server.port}/postgres`, api_url: apiUrl, state: 'running', role, version: '3.0.2', xlog_location: 0, timeline: 1 });
    await etcd.delete().key(`${P}failover`);
    await etcd.put(`${P}leader`).value('n0');
    await etcd.put(`${P}members/n0`).value(member(`${leaderApi}/patroni`, 'primary'));
    await etcd.put(`${P}members/n1`).value(member(n1Api, 'replica'));
    await etcd.put(`${P}config`).value(JSON.stringify({ ttl: 30, loop_wait: 10, retry_timeout: 10 }));
    await etcd.put(`${P}initialize`).value('7300000000000000000');
    await view.cluster(); // the view's leadership is what the last read said
  }

  beforeAll(() => {
    certs = makeTestCerts();
    etcd = new Etcd3({ hosts: h.cluster.etcd!.endpoints });
    view = new EtcdAgentView('n0', SCOPE, etcd, h.cluster.node('n0'));
  });
  afterAll(async () => {
    await Promise.all(apis.map((a) => a.close()));
    await view?.close();
    etcd?.close();
    certs?.remove();
  });

  it('restapi.certfile → HTTPS: GET /health with the CA answers 200; plain HTTP on that port gets no answer; an unknown CA is refused', async () => {
    const a = await api({ certfile: certs.serverCert, keyfile: certs.serverKey });
    expect(a.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const ok = await call(a.url, '/health', { ca: certs.ca });
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body).state).toBe('running');
    await expect(call(a.url.replace('https:', 'http:'), '/health')).rejects.toThrow();
    await expect(call(a.url, '/health', { ca: certs.otherCa })).rejects.toMatchObject({ code: expect.stringMatching(/CERT|SIGNATURE|ISSUER/) });
  });

  it('an encrypted key with restapi.keyfile_password, and certificate + key in one certfile, both serve HTTPS', async () => {
    const enc = await api({ certfile: certs.serverCert, keyfile: certs.serverKeyEncrypted, keyfile_password: certs.keyPassword });
    expect((await call(enc.url, '/liveness', { ca: certs.ca })).status).toBe(200);
    const combined = await api({ certfile: certs.serverCombined });
    expect((await call(combined.url, '/liveness', { ca: certs.ca })).status).toBe(200);
  });

  it('verify_client: optional → GETs need no certificate; POST /switchover without one → 403 "client certificate required"; with one it reaches basic auth (401), and with auth the request', async () => {
    const a = await api({ certfile: certs.serverCert, keyfile: certs.serverKey, cafile: certs.ca, verify_client: 'optional' });
    await putKeys(a.url);
    expect((await call(a.url, '/primary', { ca: certs.ca })).status).toBe(200);
    const noCert = await call(a.url, '/switchover', { method: 'POST', body: SWITCH, headers: { ...JSON_HEADERS, authorization: basic('admin', 'api-pw') }, ca: certs.ca });
    expect(noCert.status).toBe(403);
    expect(noCert.body).toBe('client certificate required');
    for (const [method, path] of [['PATCH', '/config'], ['POST', '/restart'], ['DELETE', '/switchover']] as const) {
      expect((await call(a.url, path, { method, ...(method === 'DELETE' ? {} : { body: '{}' }), headers: JSON_HEADERS, ca: certs.ca })).status, `${method} ${path}`).toBe(403);
    }
    const client = { ca: certs.ca, cert: certs.clientCert, key: certs.clientKey };
    const noAuth = await call(a.url, '/switchover', { method: 'POST', body: SWITCH, headers: JSON_HEADERS, ...client });
    expect(noAuth.status).toBe(401);
    expect(noAuth.headers['www-authenticate']).toBe('Basic realm="Patroni"');
    const before = view.requests.length;
    const done = await call(a.url, '/switchover', { method: 'POST', body: SWITCH, headers: { ...JSON_HEADERS, authorization: basic('admin', 'api-pw') }, ...client });
    expect(done.status).toBe(200);
    expect(view.requests.slice(before)).toEqual([{ kind: 'switchover', req: { leader: 'n0', candidate: 'n1' } }]);
    // a certificate from a CA the API does not trust is refused at the handshake (Python's CERT_OPTIONAL)
    await expect(call(a.url, '/health', { ca: certs.ca, cert: certs.otherClientCert, key: certs.otherClientKey })).rejects.toThrow();
  });

  it('verify_client: required → a client without a certificate is refused at the handshake; with one, GET works', async () => {
    const a = await api({ certfile: certs.serverCert, keyfile: certs.serverKey, cafile: certs.ca, verify_client: 'required' });
    await expect(call(a.url, '/health', { ca: certs.ca })).rejects.toThrow();
    expect((await call(a.url, '/health', { ca: certs.ca, cert: certs.clientCert, key: certs.clientKey })).status).toBe(200);
  });

  it('allowlist [127.0.0.2/32]: POST from 127.0.0.1 → 403 "Access is denied" (before auth), GET still 200; from 127.0.0.2 it reaches auth', async () => {
    const a = await api({ certfile: certs.serverCert, keyfile: certs.serverKey, allowlist: ['127.0.0.2/32'] });
    const denied = await call(a.url, '/switchover', { method: 'POST', body: SWITCH, headers: { ...JSON_HEADERS, authorization: basic('admin', 'api-pw') }, ca: certs.ca });
    expect(denied.status).toBe(403);
    expect(denied.body).toBe('Access is denied');
    expect((await call(a.url, '/health', { ca: certs.ca })).status).toBe(200);
    const from2 = await call(a.url, '/switchover', { method: 'POST', body: SWITCH, headers: JSON_HEADERS, ca: certs.ca, localAddress: '127.0.0.2' });
    expect(from2.status).toBe(401);
  });

  it('allowlist by address ([127.0.0.1]) and by host name ([localhost]) lets 127.0.0.1 through to auth', async () => {
    for (const entry of ['127.0.0.1', 'localhost', '127.0.0.0/8']) {
      const a = await api({ certfile: certs.serverCert, keyfile: certs.serverKey, allowlist: [entry] });
      expect((await call(a.url, '/switchover', { method: 'POST', body: SWITCH, headers: JSON_HEADERS, ca: certs.ca })).status, entry).toBe(401);
    }
  });

  it("allowlist_include_members: a member's api_url host is allowed; once no member lives there, denied", async () => {
    const a = await api({ certfile: certs.serverCert, keyfile: certs.serverKey, allowlist: ['127.0.0.2/32'], allowlist_include_members: true });
    await putKeys(a.url); // n0's api_url is on 127.0.0.1
    expect((await call(a.url, '/switchover', { method: 'POST', body: SWITCH, headers: JSON_HEADERS, ca: certs.ca })).status).toBe(401);
    // POST /failsafe leaves the members out (Patroni 4's allowlist_check_members=False: they come from the DCS that is down)
    const failsafe = await call(a.url, '/failsafe', { method: 'POST', body: '{}', headers: { ...JSON_HEADERS, authorization: basic('admin', 'api-pw') }, ca: certs.ca });
    expect([failsafe.status, failsafe.body]).toEqual([403, 'Access is denied']);
    expect((await call(a.url, '/failsafe', { method: 'POST', body: '{}', headers: JSON_HEADERS, ca: certs.ca, localAddress: '127.0.0.2' })).status).toBe(401);
    await putKeys('https://127.0.0.5:8008', 'https://127.0.0.6:8008/patroni');
    const denied = await call(a.url, '/switchover', { method: 'POST', body: SWITCH, headers: JSON_HEADERS, ca: certs.ca });
    expect(denied.status).toBe(403);
    expect(denied.body).toBe('Access is denied');
    // the static list still counts
    expect((await call(a.url, '/switchover', { method: 'POST', body: SWITCH, headers: JSON_HEADERS, ca: certs.ca, localAddress: '127.0.0.2' })).status).toBe(401);
  });

  it('a reload rotates the certificate and the allowlist without a restart; turning HTTPS off or changing verify_client needs one', async () => {
    const a = await api({ certfile: certs.serverCert, keyfile: certs.serverKey, allowlist: ['127.0.0.2/32'] });
    const switchover = () => call(a.url, '/switchover', { method: 'POST', body: SWITCH, headers: JSON_HEADERS, ca: certs.otherCa });
    const { config } = loadManagerConfig(nodeYaml({ certfile: certs.otherServerCert, keyfile: certs.otherServerKey, allowlist: ['127.0.0.1'] }));
    a.updateSecurity(await prepareApiSecurity(config.restapi, async () => []));
    expect((await call(a.url, '/health', { ca: certs.otherCa })).status).toBe(200); // new connections get the new certificate
    await expect(call(a.url, '/health', { ca: certs.ca })).rejects.toThrow();
    expect((await switchover()).status).toBe(401); // 127.0.0.1 is allowed now
    const plain = await prepareApiSecurity(loadManagerConfig(nodeYaml({})).config.restapi, async () => []);
    expect(() => a.updateSecurity(plain)).toThrow(expect.objectContaining({ code: 'MANAGER_CONFIG' }));
    const required = await prepareApiSecurity(loadManagerConfig(nodeYaml({ certfile: certs.serverCert, keyfile: certs.serverKey, cafile: certs.ca, verify_client: 'required' })).config.restapi, async () => []);
    expect(() => a.updateSecurity(required)).toThrow(expect.objectContaining({ code: 'MANAGER_CONFIG' }));
    expect((await call(a.url, '/health', { ca: certs.otherCa })).status).toBe(200); // still the running settings
    expect((await switchover()).status).toBe(401);
  });

  describe('clients of an HTTPS API', () => {
    let a: RunningApi;
    beforeAll(async () => {
      a = await api({ certfile: certs.serverCert, keyfile: certs.serverKey, cafile: certs.ca, verify_client: 'optional' });
      await putKeys(a.url);
    });
    const etcdArgs = () => ['--etcd', h.cluster.etcd!.endpoints.join(','), '--scope', SCOPE];

    it('pg-failover ctl switchover with --cacert and a client certificate reaches the API; without the CA it refuses with a typed error; --insecure skips the check', async () => {
      const auth = ['--username', 'admin', '--password', 'api-pw'];
      const cert = ['--certfile', certs.clientCert, '--keyfile', certs.clientKey];
      const out: string[] = [];
      const write = process.stdout.write.bind(process.stdout);
      process.stdout.write = ((s: string) => (out.push(String(s)), true)) as typeof process.stdout.write;
      try {
        const before = view.requests.length;
        expect(await ctlCommand(['switchover', ...etcdArgs(), '--candidate', 'n1', ...auth, '--cacert', certs.ca, ...cert])).toBe(0);
        expect(view.requests.slice(before).map((r) => r.kind)).toEqual(['switchover']);
        expect(out.join('')).toContain('200 Successfully switched over');
        const err = await ctlCommand(['switchover', ...etcdArgs(), '--candidate', 'n1', ...auth, ...cert]).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(FailoverError);
        expect(err).toMatchObject({ code: 'INVALID_OPTION', detail: { reason: 'tls' } });
        expect(await ctlCommand(['switchover', ...etcdArgs(), '--candidate', 'n1', ...auth, '-k', ...cert])).toBe(0);
        // without a client certificate the API's verify_client refuses the write
        expect(await ctlCommand(['switchover', ...etcdArgs(), '--candidate', 'n1', ...auth, '--cacert', certs.ca])).toBe(1);
        expect(out.join('')).toContain('403 client certificate required');
        // list reads etcd only, HTTPS or not
        expect(await ctlCommand(['list', ...etcdArgs(), '--json'])).toBe(0);
      } finally {
        process.stdout.write = write;
      }
    });

    it("a node named like one whose HTTPS API answers (with a certificate this node cannot verify) refuses to start: MANAGER_DUPLICATE_NAME", async () => {
      await putKeys(a.url);
      await expect(ensureUniqueName(await view.cluster(), 'n0')).rejects.toMatchObject({ code: 'MANAGER_DUPLICATE_NAME' });
      await putKeys('https://127.0.0.1:1'); // nothing listens there: a stale key does not block
      await expect(ensureUniqueName(await view.cluster(), 'n0')).resolves.toBeUndefined();
      await putKeys(a.url);
    });

    it('the Patroni REST topology source over HTTPS with a CA file; a server it cannot verify → TOPOLOGY_SOURCE with reason tls', async () => {
      const good = new PatroniRestTopology({ urls: [a.url], tls: { caFile: certs.ca }, discoverMembers: false });
      try {
        const t = await good.start();
        expect(t.primary?.name).toBe('n0');
      } finally {
        await good.close();
      }
      for (const tls of [undefined, { caFile: certs.otherCa }]) {
        const bad = new PatroniRestTopology({ urls: [a.url], ...(tls ? { tls } : {}), discoverMembers: false });
        bad.on('error', () => {});
        try {
          const err = await bad.start().catch((e: unknown) => e);
          expect(err).toBeInstanceOf(FailoverError);
          expect(err).toMatchObject({ code: 'TOPOLOGY_SOURCE', detail: { reason: 'tls' } });
        } finally {
          await bad.close();
        }
      }
      expect(() => new PatroniRestTopology({ urls: [a.url], tls: { caFile: join(certs.dir, 'missing.pem') } })).toThrow(expect.objectContaining({ code: 'INVALID_OPTION', message: expect.stringContaining('topology.tls.caFile') }));
    });

    it('a Pool whose connection string names the HTTPS API and its CA (pgfailover.patroni_cacert) finds the primary through it', async () => {
      const n0 = h.cluster.node('n0');
      const cs = `postgresql://postgres@${n0.server.host}:${n0.server.port}/postgres?pgfailover.patroni=${encodeURIComponent(a.url)}&pgfailover.patroni_cacert=${encodeURIComponent(certs.ca)}`;
      const pool = new Pool({ connectionString: cs, fallbackToProbingMillis: false });
      const errors: Error[] = [];
      pool.on('topologyError', (e: Error) => errors.push(e));
      try {
        const { rows } = await pool.query<{ ok: number }>('SELECT 1 AS ok');
        expect(rows[0]!.ok).toBe(1);
        expect(errors).toEqual([]);
      } finally {
        await pool.end();
      }
    });

    it.skipIf(!existsSync('/usr/bin/patronictl'))("Patroni's own patronictl, with ctl.cacert/certfile/keyfile, switches over through our HTTPS API", async () => {
      const cfg = join(certs.dir, 'patronictl.yml');
      writeFileSync(
        cfg,
        [
          `scope: ${SCOPE}`,
          'namespace: /service',
          `etcd3:\n  hosts: ${h.cluster.etcd!.endpoints.map((e) => e.replace(/^https?:\/\//, '')).join(',')}`,
          'restapi:\n  authentication:\n    username: admin\n    password: api-pw',
          `ctl:\n  cacert: ${certs.ca}\n  certfile: ${certs.clientCert}\n  keyfile: ${certs.clientKey}`,
          '',
        ].join('\n'),
      );
      await putKeys(a.url);
      const run = (args: string[]) =>
        new Promise<{ code: number; out: string }>((resolve) =>
          execFile('patronictl', ['-c', cfg, ...args], { timeout: 60_000 }, (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr })),
        );
      const list = await run(['list']);
      expect(list.out).toContain('n0');
      const before = view.requests.length;
      const sw = await run(['switchover', SCOPE, '--leader', 'n0', '--candidate', 'n1', '--force']);
      expect(view.requests.slice(before), sw.out).toEqual([{ kind: 'switchover', req: { leader: 'n0', candidate: 'n1' } }]);
      expect(sw.out).toContain('Successfully switched over');
    }, 90_000);
  });
});

describe('REST API security settings refused at startup, naming the key', () => {
  let certs: TestCerts;
  beforeAll(() => {
    certs = makeTestCerts();
  });
  afterAll(() => certs?.remove());

  async function problemsOf(restapi: Record<string, unknown>): Promise<Array<{ key: string; message: string }>> {
    try {
      const { config } = loadManagerConfig(nodeYaml(restapi));
      await prepareApiSecurity(config.restapi, async () => []);
    } catch (e) {
      expect(e).toBeInstanceOf(FailoverError);
      expect((e as FailoverError).code).toBe('MANAGER_CONFIG');
      expect((e as Error).message).not.toContain(certs.keyPassword);
      return (e as FailoverError).detail!.problems as Array<{ key: string; message: string }>;
    }
    return [];
  }

  it.each([
    ['a certfile that does not exist', () => ({ certfile: join(certs.dir, 'nope.crt') }), 'restapi.certfile', /does not exist/],
    ['a certfile that holds no certificate', () => ({ certfile: certs.serverKey, keyfile: certs.serverKey }), 'restapi.certfile', /no PEM certificate/],
    ['a certfile without a key and no keyfile', () => ({ certfile: certs.serverCert }), 'restapi.certfile', /no PEM private key/],
    ['a keyfile that does not exist', () => ({ certfile: certs.serverCert, keyfile: join(certs.dir, 'nope.key') }), 'restapi.keyfile', /does not exist/],
    ['a keyfile that is not a key', () => ({ certfile: certs.serverCert, keyfile: certs.ca }), 'restapi.keyfile', /no PEM private key/],
    ['a key that is not the certificate’s', () => ({ certfile: certs.serverCert, keyfile: certs.clientKey }), 'restapi.keyfile', /does not match/],
    ['an encrypted key without keyfile_password', () => ({ certfile: certs.serverCert, keyfile: certs.serverKeyEncrypted }), 'restapi.keyfile_password', /required/],
    ['a wrong keyfile_password', () => ({ certfile: certs.serverCert, keyfile: certs.serverKeyEncrypted, keyfile_password: 'not-it' }), 'restapi.keyfile_password', /wrong/],
    ['a cafile that does not exist', () => ({ certfile: certs.serverCert, keyfile: certs.serverKey, cafile: join(certs.dir, 'nope-ca.crt') }), 'restapi.cafile', /does not exist/],
    ['a cafile that holds no certificate', () => ({ certfile: certs.serverCert, keyfile: certs.serverKey, cafile: certs.serverKey }), 'restapi.cafile', /no PEM certificate/],
    ['an unknown cipher list', () => ({ certfile: certs.serverCert, keyfile: certs.serverKey, ciphers: 'NO-SUCH-CIPHER' }), 'restapi.ciphers', /no cipher/],
    ['a bad verify_client', () => ({ certfile: certs.serverCert, keyfile: certs.serverKey, verify_client: 'sometimes' }), 'restapi.verify_client', /none, optional or required/],
    ['an allowlist network that does not parse', () => ({ allowlist: ['10.0.0.0/33'] }), 'restapi.allowlist[0]', /prefix/],
    ['an allowlist entry that is no address or name', () => ({ allowlist: ['127.0.0.1', 'not a host!'] }), 'restapi.allowlist[1]', /neither/],
    ['an allowlist host name that does not resolve', () => ({ allowlist: ['no-such-host.invalid'] }), 'restapi.allowlist[0]', /does not resolve/],
    ['allowlist that is not a list', () => ({ allowlist: '127.0.0.1' }), 'restapi.allowlist', /list/],
  ])('%s', async (_what, restapi, key, message) => {
    const problems = await problemsOf(restapi());
    expect(problems.map((p) => p.key)).toEqual([key]);
    expect(problems[0]!.message).toMatch(message);
  });

  it('PATRONI_RESTAPI_* and PATRONI_CTL_* variables set the same keys', () => {
    const { config } = loadManagerConfig(nodeYaml({}), {}, {
      env: {
        PATRONI_RESTAPI_CERTFILE: certs.serverCert,
        PATRONI_RESTAPI_KEYFILE: certs.serverKeyEncrypted,
        PATRONI_RESTAPI_KEYFILE_PASSWORD: certs.keyPassword,
        PATRONI_RESTAPI_VERIFY_CLIENT: 'Required',
        PATRONI_RESTAPI_ALLOWLIST: '127.0.0.1, 10.0.0.0/8',
        PATRONI_RESTAPI_ALLOWLIST_INCLUDE_MEMBERS: 'true',
        PATRONI_CTL_INSECURE: 'on',
        PATRONI_CTL_CACERT: certs.ca,
      },
    });
    expect(config.restapi.tls).toMatchObject({ certfile: certs.serverCert, keyfile: certs.serverKeyEncrypted, verifyClient: 'required' });
    expect(config.restapi.tls?.keyfilePassword).toBe(certs.keyPassword);
    expect(JSON.stringify(config)).not.toContain(certs.keyPassword);
    expect(config.restapi.allowlist).toEqual(['127.0.0.1', '10.0.0.0/8']);
    expect(config.restapi.allowlistIncludeMembers).toBe(true);
    expect(config.ctl).toEqual({ insecure: true, cacert: certs.ca });
    // the member key's api_url: https exactly when restapi.certfile is set (Patroni's rule)
    expect(restApiUrl(config.restapi)).toBe('https://127.0.0.1:8008/patroni');
    expect(restApiUrl(loadManagerConfig(nodeYaml({})).config.restapi)).toBe('http://127.0.0.1:8008/patroni');
  });
});
