/**
 * HAProxy (Debian's) in front of a cluster of our managers, configured the
 * way Patroni's docs configure it: `option httpchk GET /primary` against each
 * member's REST API. Connections through HAProxy reach the leader; after
 * kill -9 of the leader node they reach the new leader, and never a replica.
 */
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { PatroniCluster } from '../../src/local/patroni-cluster';
import { freePort, isListening } from '../../src/local/ports';

const HAPROXY = ['/usr/sbin/haproxy', '/usr/bin/haproxy'].find((p) => existsSync(p));
const hasBuild = existsSync(join(__dirname, '..', '..', 'dist', 'cli', 'main.js'));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const TTL = 5;

/** One connection through HAProxy: which server answered, and is it writable. */
async function through(port: number, password: string): Promise<{ port: number; primary: boolean } | undefined> {
  const c = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', password, database: 'postgres', connectionTimeoutMillis: 1000, query_timeout: 1000 });
  c.on('error', () => {});
  try {
    await c.connect();
    const { rows } = await c.query<{ port: number; recovery: boolean }>('SELECT inet_server_port() AS port, pg_is_in_recovery() AS recovery');
    return { port: rows[0]!.port, primary: !rows[0]!.recovery };
  } catch {
    return undefined; // HAProxy has no healthy server (or closed the session): not an answer
  } finally {
    await c.end().catch(() => {});
  }
}

describe.skipIf(!HAPROXY || !hasBuild)('HAProxy with `option httpchk GET /primary` against our REST API', () => {
  let cluster: PatroniCluster;
  let proxy: ChildProcess | undefined;
  let proxyPort = 0;
  let dir = '';

  beforeAll(async () => {
    cluster = await PatroniCluster.start({ nodes: 3, scope: 'haproxy', daemon: 'pg-failover', ttl: TTL, loopWait: 1, retryTimeout: 2, parentDir: process.env.PGFAILOVER_TEST_ROOT });
    await cluster.waitForReplicasStreaming(60_000);
    dir = mkdtempSync(join(process.env.PGFAILOVER_TEST_ROOT ?? tmpdir(), 'haproxy-'));
    proxyPort = await freePort();
    const cfg = [
      'global',
      '  maxconn 100',
      'defaults',
      '  mode tcp',
      '  timeout connect 1s',
      '  timeout client 30s',
      '  timeout server 30s',
      '  timeout check 1s',
      'listen primary',
      `  bind 127.0.0.1:${proxyPort}`,
      '  option httpchk GET /primary',
      '  http-check expect status 200',
      '  default-server inter 300ms fall 2 rise 1 on-marked-down shutdown-sessions',
      ...cluster.members.map((m) => `  server ${m.name} 127.0.0.1:${m.pgPort} check port ${m.apiPort}`),
      '',
    ].join('\n');
    writeFileSync(join(dir, 'haproxy.cfg'), cfg);
    proxy = spawn(HAPROXY!, ['-db', '-f', join(dir, 'haproxy.cfg')], { cwd: dir, stdio: 'ignore' });
    proxy.on('error', () => {});
    for (let i = 0; i < 100 && !(await isListening(proxyPort)); i++) await sleep(50);
    // HAProxy starts every server UP and marks one down only after `fall` failed checks: let the
    // first checks run (2 × 300 ms) before connecting, or a replica may answer the first query.
    await sleep(1500);
  }, 180_000);

  afterAll(async () => {
    if (proxy?.pid && proxy.exitCode === null) {
      const gone = new Promise((r) => proxy!.once('exit', r));
      proxy.kill('SIGKILL');
      await gone;
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
    await cluster?.stop();
  }, 60_000);

  it('sends connections to the leader, and to the new leader after kill -9 of the leader node — never to a replica', async () => {
    onTestFailed(() => {
      for (const m of cluster.members) console.log(`--- ${m.name} log tail ---\n${cluster.logTail(m.name, 40)}`);
    });
    const leader = await cluster.waitForLeader(30_000);
    let before: Awaited<ReturnType<typeof through>>;
    for (let i = 0; i < 50 && !(before = await through(proxyPort, cluster.password)); i++) await sleep(100);
    expect(before).toEqual({ port: cluster.member(leader).pgPort, primary: true });

    const killedAt = Date.now();
    await cluster.killNode(leader);
    const answers: Array<{ port: number; primary: boolean; at: number }> = [];
    const deadline = killedAt + (TTL + 15) * 1000;
    let next: string | undefined;
    while (Date.now() < deadline) {
      const a = await through(proxyPort, cluster.password);
      if (a) {
        answers.push({ ...a, at: Date.now() - killedAt });
        const m = cluster.members.find((x) => x.pgPort === a.port);
        if (a.primary && m && m.name !== leader) {
          next = m.name;
          break;
        }
      }
      await sleep(100);
    }
    console.log(`HAProxy: ${leader} killed; first connection to the new leader ${next} after ${answers.at(-1)?.at} ms (ttl ${TTL} s)`);
    expect(next).toBeDefined();
    expect(next).toBe(await cluster.waitForLeader(5000));
    // Every answer HAProxy gave came from a writable primary: no connection ever reached a replica.
    expect(answers.filter((a) => !a.primary)).toEqual([]);
    expect(answers.at(-1)!.at).toBeLessThan((TTL + 5) * 1000);
  }, 120_000);
});
