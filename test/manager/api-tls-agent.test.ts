/**
 * The REST API's TLS and allowlist over a real running agent (real PostgreSQL,
 * real etcd): HTTPS health checks answer by role, allowlist_include_members
 * reads the agent's own member key, and a second node started by the real
 * `pg-failover manager` with a TLS file that does not exist is refused with
 * MANAGER_CONFIG naming the key — no stack trace — while the leader keeps
 * leading.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'node:https';
import { execFile, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, openSync, closeSync, readFileSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import { startApi, type RunningApi } from '../../src/manager/api';
import { prepareApiSecurity, restApiUrl } from '../../src/manager/api-security';
import { freePort } from '../../src/local/ports';
import { makeTestCerts, type TestCerts } from '../support/tls-certs';
import { Harness } from './harness';

function post(url: string, path: string, body: string, opts: { ca: string; localAddress?: string; authorization?: string }): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = request(
      { host: u.hostname, port: u.port, path, method: path === '/primary' ? 'GET' : 'POST', agent: false, ca: readFileSync(opts.ca), headers: { 'content-type': 'application/json', ...(opts.authorization ? { authorization: opts.authorization } : {}) }, ...(opts.localAddress ? { localAddress: opts.localAddress } : {}) },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks).toString(), headers: res.headers }));
      },
    );
    req.on('error', reject);
    req.setTimeout(40_000, () => req.destroy(new Error('timeout')));
    req.end(path === '/primary' ? undefined : body);
  });
}

const BIN = join(__dirname, '..', '..', 'bin', 'pg-failover.js');

describe('REST API TLS over a running agent', () => {
  const h = new Harness({ scope: 'tlsagent' });
  let certs: TestCerts;
  let api: RunningApi;

  beforeAll(async () => {
    certs = makeTestCerts();
    await h.startEtcd();
    // the node's own config carries the TLS keys, as `restapi.certfile` … in its YAML would
    const cfg = await h.config('n0');
    Object.assign(cfg.restapi, { tls: { certfile: certs.serverCert, keyfile: certs.serverKey, verifyClient: 'none' }, allowlist: ['127.0.0.3'], allowlistIncludeMembers: true });
    const [agent] = await h.startAll(['n0']);
    const security = await prepareApiSecurity(agent!.config.restapi, async () => (await agent!.cluster()).members.map((m) => m.data.api_url ?? ''));
    api = await startApi({ view: agent!, host: '127.0.0.1', port: 0, ...security });
    await h.until('n0 leads', async () => (await h.leader()) === 'n0');
  }, 180_000);
  afterAll(async () => {
    await api?.close().catch(() => {});
    await h.close();
    certs?.remove();
  }, 120_000);

  it('GET /primary over HTTPS with the CA → 200 from the leader', async () => {
    expect(api.url).toMatch(/^https:/);
    expect((await post(api.url, '/primary', '', { ca: certs.ca })).status).toBe(200);
  });

  it("allowlist_include_members: from the member's api_url host (127.0.0.1) a switchover reaches the agent; from 127.0.0.2 → 403", async () => {
    const body = JSON.stringify({ leader: 'n0' });
    const denied = await post(api.url, '/switchover', body, { ca: certs.ca, localAddress: '127.0.0.2' });
    expect(denied).toMatchObject({ status: 403, body: 'Access is denied' });
    const allowed = await post(api.url, '/switchover', body, { ca: certs.ca });
    // one member: Patroni's answer is 412 (no candidate), i.e. the request got past access control to the agent
    expect(allowed.status).toBe(412);
    expect(await h.leader()).toBe('n0');
  });

  // Patroni publishes https:// in the member key when restapi.certfile is set, and so do we.
  it('the member key publishes api_url https://… when restapi.certfile is set', async () => {
    const member = JSON.parse((await h.keys())['members/n0']!) as { api_url: string };
    expect(member.api_url).toBe(restApiUrl(h.configs.get('n0')!.restapi));
    expect(member.api_url).toMatch(/^https:\/\//);
  });

  it.skipIf(!existsSync(join(__dirname, '..', '..', 'dist', 'cli', 'main.js')))(
    'pg-failover manager with a restapi.certfile that does not exist: refused with MANAGER_CONFIG naming the key, no stack trace, no member key; the leader stays',
    async () => {
      const yml = join(h.dir, 'n1-bad-tls.yml');
      const etcdHosts = h.etcd.endpoints.map((u) => u.replace(/^https?:\/\//, '')).join(',');
      writeFileSync(
        yml,
        [
          'scope: tlsagent',
          'name: n1',
          'restapi:',
          `  listen: 127.0.0.1:${await freePort()}`,
          `  certfile: ${join(certs.dir, 'missing.crt')}`,
          `  keyfile: ${certs.serverKey}`,
          `etcd3:\n  hosts: ${etcdHosts}`,
          'postgresql:',
          `  listen: 127.0.0.1:${await freePort()}`,
          `  data_dir: ${join(h.dir, 'n1', 'data')}`,
          '  authentication:\n    superuser:\n      username: postgres\n    replication:\n      username: postgres',
          '',
        ].join('\n'),
      );
      const res = await new Promise<{ code: number; stderr: string }>((resolve) =>
        execFile(process.execPath, [BIN, 'manager', '--config', yml], { timeout: 30_000 }, (err, _out, stderr) => resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stderr })),
      );
      expect(res.code).toBe(1);
      expect(res.stderr).toContain('MANAGER_CONFIG');
      expect(res.stderr).toMatch(/restapi\.certfile: \S+missing\.crt does not exist/);
      expect(res.stderr).not.toMatch(/\n\s+at /);
      const keys = await h.keys();
      expect(keys['members/n1']).toBeUndefined();
      expect(await h.leader()).toBe('n0');
      expect((await post(api.url, '/primary', '', { ca: certs.ca })).status).toBe(200);
    },
    60_000,
  );

  it.skipIf(!existsSync(join(__dirname, '..', '..', 'dist', 'cli', 'main.js')))(
    'pg-failover manager from a YAML with restapi.certfile serves HTTPS with http(s)_extra_headers; a replaced certificate is served after POST /reload, and after a mere replacement on disk; SIGHUP re-reads the YAML',
    async () => {
      const dir = join(h.dir, 'd0');
      mkdirSync(join(dir, 'tls'), { recursive: true });
      const certfile = join(dir, 'tls', 'api.crt');
      const keyfile = join(dir, 'tls', 'api.key');
      copyFileSync(certs.serverCert, certfile);
      copyFileSync(certs.serverKey, keyfile);
      const apiPort = await freePort();
      const yml = join(dir, 'd0.yml');
      writeFileSync(
        yml,
        [
          'scope: tlsdaemon',
          'name: d0',
          'restapi:',
          `  listen: 127.0.0.1:${apiPort}`,
          `  certfile: ${certfile}`,
          `  keyfile: ${keyfile}`,
          '  authentication:\n    username: admin\n    password: api-pw',
          '  http_extra_headers:\n    X-Frame-Options: SAMEORIGIN\n    X-Both: from-http',
          "  https_extra_headers:\n    Strict-Transport-Security: 'max-age=31536000'\n    X-Both: from-https",
          `etcd3:\n  hosts: ${h.etcd.endpoints.map((u) => u.replace(/^https?:\/\//, '')).join(',')}`,
          'bootstrap:\n  dcs:\n    ttl: 6\n    loop_wait: 1\n    retry_timeout: 2',
          'postgresql:',
          `  listen: 127.0.0.1:${await freePort()}`,
          `  data_dir: ${join(dir, 'data')}`,
          '  authentication:\n    superuser:\n      username: postgres\n    replication:\n      username: postgres',
          '',
        ].join('\n'),
      );
      const url = `https://127.0.0.1:${apiPort}`;
      const logFile = join(dir, 'manager.log');
      const log = openSync(logFile, 'a');
      const child = spawn(process.execPath, [BIN, 'manager', '--config', yml], { stdio: ['ignore', log, log] });
      closeSync(log);
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      const logTail = () => readFileSync(logFile, 'utf8').split('\n').slice(-20).join('\n');
      try {
        const deadline = Date.now() + 60_000;
        let status = 0;
        while (Date.now() < deadline && status !== 200) {
          status = await post(url, '/primary', '', { ca: certs.ca }).then((r) => r.status, () => 0);
          if (status !== 200) await sleep(250);
        }
        expect(status, logTail()).toBe(200);
        // Patroni's extra headers: http ones always, https ones over TLS (and they win)
        const first = await post(url, '/primary', '', { ca: certs.ca });
        expect(first.headers['x-frame-options']).toBe('SAMEORIGIN');
        expect(first.headers['strict-transport-security']).toBe('max-age=31536000');
        expect(first.headers['x-both']).toBe('from-https');
        // rotate: a certificate from another CA replaces the file (the disk watch may pick it up first: either way it is served without a restart)
        copyFileSync(certs.otherServerCert, certfile);
        copyFileSync(certs.otherServerKey, keyfile);
        const authorization = `Basic ${Buffer.from('admin:api-pw').toString('base64')}`;
        // (signed by either CA, depending on whether the disk watch got there first)
        const reload = await post(url, '/reload', '', { ca: certs.ca, authorization }).catch(() => post(url, '/reload', '', { ca: certs.otherCa, authorization }));
        expect(reload.status).toBe(202);
        let rotated = false;
        for (let i = 0; i < 40 && !rotated; i++) {
          rotated = await post(url, '/primary', '', { ca: certs.otherCa }).then((r) => r.status === 200, () => false);
          if (!rotated) await sleep(100);
        }
        expect(rotated, logTail()).toBe(true);
        await expect(post(url, '/primary', '', { ca: certs.ca })).rejects.toThrow();
        // and back, by replacing the files on disk only: picked up within loop_wait, as Patroni does
        copyFileSync(certs.serverCert, certfile);
        copyFileSync(certs.serverKey, keyfile);
        let back = false;
        for (let i = 0; i < 60 && !back; i++) {
          back = await post(url, '/primary', '', { ca: certs.ca }).then((r) => r.status === 200, () => false);
          if (!back) await sleep(100);
        }
        expect(back, logTail()).toBe(true);
        expect(readFileSync(logFile, 'utf8')).toContain('REST API certificate files changed on disk: reloaded them');
        // SIGHUP re-reads the YAML (Patroni's behaviour): a tag added to the file reaches the member key
        writeFileSync(yml, readFileSync(yml, 'utf8') + 'tags:\n  nosync: true\n');
        child.kill('SIGHUP');
        let tagged = false;
        for (let i = 0; i < 60 && !tagged; i++) {
          const member = await h.kv.get('/service/tlsdaemon/members/d0').string();
          tagged = !!member && (JSON.parse(member) as { tags?: Record<string, unknown> }).tags?.nosync === true;
          if (!tagged) await sleep(100);
        }
        expect(tagged, logTail()).toBe(true);
        expect(readFileSync(logFile, 'utf8')).toContain('received SIGHUP: reloading the configuration');
        expect(child.exitCode).toBeNull(); // SIGHUP did not end the process
      } finally {
        child.kill('SIGTERM');
        const stopped = await Promise.race([exited.then(() => true), sleep(40_000).then(() => false)]);
        if (!stopped) child.kill('SIGKILL');
      }
    },
    150_000,
  );
});
