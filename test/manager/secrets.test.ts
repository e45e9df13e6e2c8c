/**
 * The manager side of "nothing leaks": two real `pg-failover manager`
 * processes from Patroni YAML carrying every password Patroni takes
 * (superuser, replication, a separate rewind user, restapi.authentication),
 * md5 auth on TCP, DEBUG=* (every debug namespace) and log.level DEBUG. Through a
 * bootstrap, a base backup, a kill -9 of the leader, a failover and a
 * pg_rewind, no password appears in:
 *  - the command line of any process (sampled from /proc every ~20 ms: the
 *    managers, initdb, pg_basebackup, pg_rewind, pg_ctl, postgres);
 *  - the managers' logs (stdout + stderr, every debug namespace) and the PostgreSQL logs;
 *  - any REST API answer (every GET/HEAD endpoint on both nodes; refused writes);
 *  - `pg-failover ctl list|history` (table and --json) and `ctl switchover` (credentials from the environment);
 *  - any key under the cluster's etcd prefix (member conn_url carries no credentials);
 *  - util.inspect / JSON.stringify of the config, the Agent, its Dcs and PostgresServer,
 *    and of the error thrown for an invalid config.
 * (etcd authentication is covered in-process only: the test etcd runs without auth.)
 */
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { format, inspect } from 'node:util';
import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { PatroniCluster } from '../../src/local/patroni-cluster';
import { loadManagerConfig } from '../../src/manager/config';
import { Agent } from '../../src/manager/agent';
import { FailoverError } from '../../src/errors';

const AUTH = { username: 'admin', password: 'ApiSecret-7f3c9a' };
const REWIND = { username: 'rewinder', password: 'RewindSecret-51be07' };
const ETCD_PASSWORD = 'EtcdSecret-c0ffee';

/** Every command line seen while the scanner runs (deduplicated), restricted to PostgreSQL tools and node. */
class CmdlineScanner {
  readonly seen = new Set<string>();
  #timer: NodeJS.Timeout | undefined;
  start(): void {
    const scan = () => {
      let pids: string[];
      try {
        pids = readdirSync('/proc').filter((p) => /^\d+$/.test(p));
      } catch {
        return;
      }
      for (const pid of pids) {
        try {
          const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
          if (/pg_basebackup|pg_rewind|initdb|pg_ctl|postgres|pg-failover/.test(cmd)) this.seen.add(cmd);
        } catch {
          /* gone */
        }
      }
    };
    this.#timer = setInterval(scan, 20);
    scan();
  }
  stop(): void {
    clearInterval(this.#timer);
  }
}

let c: PatroniCluster;
const scanner = new CmdlineScanner();
let secrets: string[] = [];
let savedDebug: string | undefined;

function secretsOf(configFile: string): string[] {
  const y = parse(readFileSync(configFile, 'utf8')) as { postgresql: { authentication: Record<string, { password?: string }> }; restapi: { authentication?: { password?: string } } };
  const out = Object.values(y.postgresql.authentication).map((a) => a.password);
  out.push(y.restapi.authentication?.password);
  return [...new Set(out.filter((p): p is string => typeof p === 'string' && p.length > 0))];
}

function leaked(text: string): string[] {
  return secrets.filter((s) => text.includes(s));
}

beforeAll(async () => {
  savedDebug = process.env.DEBUG;
  process.env.DEBUG = '*'; // every namespace of every library, inherited by the manager processes (this process's debug is already set up)
  scanner.start();
  c = await PatroniCluster.start({
    daemon: 'pg-failover',
    nodes: 2,
    ttl: 6,
    loopWait: 1,
    retryTimeout: 2,
    clientAuth: 'md5',
    restApiAuth: AUTH,
    rewindUser: REWIND,
    logLevel: 'DEBUG',
    parentDir: process.env.PGFAILOVER_TEST_ROOT,
    startTimeoutMillis: 120_000,
  });
  secrets = secretsOf(c.member('n0').configFile);
}, 180_000);

afterAll(async () => {
  scanner.stop();
  if (savedDebug === undefined) delete process.env.DEBUG;
  else process.env.DEBUG = savedDebug;
  await c?.stop();
}, 60_000);

function run(args: string[], env: NodeJS.ProcessEnv = {}, okExit = false): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(process.execPath, [join(__dirname, '..', '..', 'bin', 'pg-failover.js'), ...args], { timeout: 30_000, env: { ...process.env, ...env } }, (err, stdout, stderr) =>
      err && !okExit ? reject(new Error(`${args.join(' ')}: ${stderr || err.message}`)) : resolve(stdout + stderr),
    ),
  );
}

const GET_PATHS = [
  '/', '/patroni', '/cluster', '/config', '/history', '/metrics', '/health', '/liveness', '/readiness', '/primary', '/master', '/leader',
  '/replica', '/replica?lag=1MB', '/read-only', '/read-write', '/standby-leader', '/synchronous', '/sync', '/async', '/asynchronous', '/failsafe',
];

describe('the manager never shows a password (2 nodes, md5, DEBUG=*)', () => {
  it('knows the four passwords it must not show', () => {
    expect(secrets).toHaveLength(4); // superuser, replication, rewind, restapi
    expect(secrets).toContain(AUTH.password);
    expect(secrets).toContain(REWIND.password);
  });

  it('through a kill -9 of the leader, a failover and a pg_rewind: no command line carries a password', async () => {
    const old = await c.waitForLeader(30_000);
    await c.killNode(old);
    await c.waitForLeader(30_000, { except: old });
    c.startNode(old); // a former primary: pg_rewind from the new leader with the rewind user
    await c.waitForReplicasStreaming(90_000);
    scanner.stop();
    // every process on the machine was sampled (a password of ours anywhere is a leak); ours are those naming our directory
    const everything = [...scanner.seen];
    expect(everything.filter((l) => leaked(l).length)).toEqual([]);
    const cmdlines = everything.filter((l) => l.includes(c.dir));
    // the scanner did see the programs that take a password
    expect(cmdlines.some((l) => /pg_basebackup .*-h/.test(l)), cmdlines.join('\n')).toBe(true);
    expect(cmdlines.some((l) => /pg_rewind .*--source-server=/.test(l)), cmdlines.join('\n')).toBe(true);
    expect(cmdlines.some((l) => /pg-failover\.js manager --config/.test(l))).toBe(true);
    const rewindLine = cmdlines.find((l) => /pg_rewind/.test(l))!;
    expect(rewindLine).toContain(`user=${REWIND.username}`);
    expect(readFileSync(c.member(old).logFile, 'utf8')).toContain('pg_rewind from');
  }, 180_000);

  it('no REST API answer shows one (every GET/HEAD endpoint on both nodes, refused and failed writes)', async () => {
    const bodies: string[] = [];
    for (const m of c.members) {
      for (const path of GET_PATHS) {
        for (const method of ['GET', 'HEAD', 'OPTIONS']) {
          const res = await fetch(`${m.apiUrl}${path}`, { method, signal: AbortSignal.timeout(10_000) });
          bodies.push(`${method} ${m.name}${path} ${res.status} ${JSON.stringify([...res.headers])} ${await res.text()}`);
        }
      }
      const post = async (path: string, body: unknown, auth?: string, method = 'POST') => {
        const res = await fetch(`${m.apiUrl}${path}`, {
          method,
          headers: { 'content-type': 'application/json', ...(auth ? { authorization: `Basic ${Buffer.from(auth).toString('base64')}` } : {}) },
          body: JSON.stringify(body),
          signal: AbortSignal.timeout(40_000),
        });
        bodies.push(`${method} ${m.name}${path} ${res.status} ${JSON.stringify([...res.headers])} ${await res.text()}`);
        return res.status;
      };
      expect(await post('/switchover', { leader: 'n0' })).toBe(401);
      expect(await post('/switchover', { leader: 'n0' }, `${AUTH.username}:${AUTH.password}x`)).toBe(401);
      expect(await post('/config', { ttl: 7 }, undefined, 'PATCH')).toBe(401);
      // authorised but impossible: the answer explains without echoing anything secret
      expect(await post('/switchover', { leader: 'nobody', candidate: 'nobody' }, `${AUTH.username}:${AUTH.password}`)).toBeGreaterThanOrEqual(400);
      expect(await post('/failover', { candidate: 'nobody' }, `${AUTH.username}:${AUTH.password}`)).toBeGreaterThanOrEqual(400);
    }
    const all = bodies.join('\n');
    expect(all).toContain('"scope"'); // real answers were read
    expect(leaked(all)).toEqual([]);
  }, 120_000);

  it('ctl list / history (table and --json) show none', async () => {
    const etcd = c.etcd!.endpoints.join(',');
    const outs = await Promise.all([
      run(['ctl', 'list', '--etcd', etcd, '--scope', c.scope]),
      run(['ctl', 'list', '--etcd', etcd, '--scope', c.scope, '--json']),
      run(['ctl', 'history', '--etcd', etcd, '--scope', c.scope]),
      run(['ctl', 'history', '--etcd', etcd, '--scope', c.scope, '--json']),
    ]);
    expect(outs[1]).toContain('"name"');
    expect(leaked(outs.join('\n'))).toEqual([]);
  });

  it('ctl switchover takes the REST credentials from the environment (not argv) and shows them nowhere', async () => {
    const etcd = c.etcd!.endpoints.join(',');
    const args = ['ctl', 'switchover', '--etcd', etcd, '--scope', c.scope, '--candidate', 'nobody'];
    const right = await run(args, { PGFAILOVER_API_USERNAME: AUTH.username, PGFAILOVER_API_PASSWORD: AUTH.password }, true);
    const wrong = await run(args, { PGFAILOVER_API_USERNAME: AUTH.username, PGFAILOVER_API_PASSWORD: 'not-it' }, true);
    expect(wrong).toMatch(/^401 /m);
    expect(right).toMatch(/^4\d\d /m); // authenticated, refused for the unknown candidate
    expect(right).not.toMatch(/^401 /m);
    expect(leaked(`${right}\n${wrong}`)).toEqual([]);
  });

  it('no etcd key shows one; member conn_url carries no credentials', async () => {
    const kv = new Etcd3({ hosts: c.etcd!.endpoints });
    try {
      const all = await kv.getAll().prefix(`${c.namespace}/${c.scope}/`).strings();
      expect(Object.keys(all).length).toBeGreaterThan(3);
      expect(leaked(JSON.stringify(all))).toEqual([]);
      const members = Object.entries(all).filter(([k]) => k.includes('/members/'));
      expect(members).toHaveLength(2);
      for (const [, v] of members) {
        const url = (JSON.parse(v) as { conn_url: string }).conn_url;
        expect(new URL(url).password).toBe('');
        expect(url).not.toContain('@');
      }
    } finally {
      kv.close();
    }
  });

  it('no manager log line (all debug namespaces) and no PostgreSQL log line shows one', () => {
    const logs: string[] = [];
    for (const m of c.members) {
      const text = readFileSync(m.logFile, 'utf8');
      logs.push(text);
      for (const f of readdirSync(join(c.dir, m.name))) if (f.endsWith('.log') && f !== 'patroni.log') logs.push(readFileSync(join(c.dir, m.name, f), 'utf8'));
    }
    const text = logs.join('\n');
    expect(text).toMatch(/pg-failover:/); // the debug namespaces did write
    expect(text).toMatch(/pg_rewind from/);
    const lines = text.split('\n').filter((l) => leaked(l).length);
    expect(lines).toEqual([]);
  });

  it('util.inspect / JSON.stringify of the config, Agent, Dcs, PostgresServer and a config error show none (with etcd auth too)', async () => {
    const yaml = parse(readFileSync(c.member('n0').configFile, 'utf8')) as Record<string, Record<string, unknown>>;
    yaml.etcd3 = { ...yaml.etcd3, username: 'root', password: ETCD_PASSWORD };
    const text = stringify(yaml);
    const all = [...secrets, ETCD_PASSWORD];
    const { config } = loadManagerConfig(text);
    const agent = Agent.create(config);
    try {
      for (const x of [config, agent, agent.dcs, agent.postgres, config.postgresql.authentication, config.etcd]) {
        const shown = printed(x);
        expect(all.filter((s) => shown.includes(s))).toEqual([]);
      }
    } finally {
      await agent.dcs.close().catch(() => {});
    }
    // a config that fails validation, with every password still in it
    const bad = { ...yaml, bootstrap: { dcs: { ttl: 'soon' } }, restapi: { ...yaml.restapi, listen: 'nowhere' } };
    let caught: unknown;
    try {
      loadManagerConfig(stringify(bad));
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(FailoverError);
    expect((caught as FailoverError).code).toBe('MANAGER_CONFIG');
    const shown = `${printed(caught)}\n${(caught as Error).stack}`;
    expect(all.filter((s) => shown.includes(s))).toEqual([]);
  });
});

/** Every way an object gets printed: inspect (deep), console.log's %O and %j, JSON (cycles cut). */
function printed(x: unknown): string {
  const seen = new WeakSet<object>();
  const json = JSON.stringify(x, (_k, v: unknown) => {
    if (typeof v === 'object' && v !== null) {
      if (seen.has(v)) return '[circular]';
      seen.add(v);
    }
    return typeof v === 'bigint' ? String(v) : v;
  });
  return [inspect(x, { depth: 10 }), format('%O', x), format('%j', x), json ?? ''].join('\n');
}
