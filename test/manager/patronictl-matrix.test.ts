/**
 * Debian's patronictl (3.0.2) against a cluster of `pg-failover manager` daemons started from
 * Patroni YAML: every subcommand that talks to a cluster, each asserted by its effect (etcd keys,
 * REST answers, PostgreSQL), not only by its exit code. The order matters: later commands build
 * on what earlier ones did (a paused cluster, a pending restart …).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { Etcd3 } from 'etcd3';
import { PatroniCluster } from '../../src/local/patroni-cluster';

const HAVE_CTL = existsSync('/usr/bin/patronictl');
let c: PatroniCluster;
let etcd: Etcd3;
const SCOPE = 'matrix';

function ctl(args: string[], input?: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const child = execFile('patronictl', ['-c', c.member('n0').configFile, ...args], { timeout: 90_000, env: { ...process.env } }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: `${stdout}${stderr}` }),
    );
    if (input !== undefined) child.stdin?.end(input);
  });
}
const ok = async (...args: string[]) => {
  const r = await ctl(args);
  expect(r.code, `patronictl ${args.join(' ')}: ${r.out}`).toBe(0);
  return r.out;
};
const key = async (k: string) => etcd.get(`/service/${SCOPE}/${k}`).string();
const patroni = async (name: string) => (await (await fetch(`${c.member(name).apiUrl}/patroni`)).json()) as Record<string, unknown>;
async function until(what: string, fn: () => Promise<boolean>, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await fn().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe.skipIf(!HAVE_CTL)('patronictl matrix against pg-failover managers', () => {
  let leader: string;
  let replica: string;

  beforeAll(async () => {
    c = await PatroniCluster.start({ daemon: 'pg-failover', nodes: 2, scope: SCOPE, ttl: 10, loopWait: 1, retryTimeout: 3, parentDir: process.env.PGFAILOVER_TEST_ROOT, startTimeoutMillis: 120_000 });
    etcd = new Etcd3({ hosts: c.etcdHosts.map((h) => (h.startsWith('http') ? h : `http://${h}`)) });
    leader = await c.waitForLeader(60_000);
    replica = leader === 'n0' ? 'n1' : 'n0';
    await c.waitForReplicasStreaming(60_000);
  }, 180_000);
  afterAll(async () => {
    etcd?.close();
    await c?.stop();
  }, 60_000);

  it('version, list, topology, dsn, query', async () => {
    expect(await ok('version')).toContain('patronictl version');
    const v = await ok('version', SCOPE);
    expect(v).toMatch(new RegExp(`${leader}: Patroni \\S+ PostgreSQL`));
    const rows = JSON.parse(await ok('list', SCOPE, '--format', 'json')) as Array<{ Member: string; Role: string }>;
    expect(rows.find((r) => r.Role === 'Leader')?.Member).toBe(leader);
    const topo = await ok('topology', SCOPE);
    expect(topo).toContain(leader);
    expect(topo).toContain(`+ ${replica}`); // the replica hangs under its leader
    expect(await ok('dsn', SCOPE)).toContain(`port=${c.member(leader).pgPort}`);
    const q = await ok('query', SCOPE, '-U', 'postgres', '-c', 'SELECT 40 + 2 AS answer');
    expect(q).toContain('42');
  }, 60_000);

  it('show-config and edit-config (-s, -p): the config key changes and the agent applies it', async () => {
    expect(await ok('show-config', SCOPE)).toMatch(/ttl: 10/);
    const out = await ok('edit-config', SCOPE, '-s', 'maximum_lag_on_failover=2097152', '-p', 'max_connections=111', '--force');
    expect(out).toContain('max_connections: 111');
    const cfg = JSON.parse((await key('config'))!) as { maximum_lag_on_failover: number; postgresql: { parameters: Record<string, unknown> } };
    expect(cfg.maximum_lag_on_failover).toBe(2097152);
    expect(cfg.postgresql.parameters.max_connections).toBe(111);
    await until('pending_restart on the leader', async () => (await patroni(leader)).pending_restart === true);
  }, 60_000);

  it('restart --pending restarts only what is pending; restart --scheduled restarts later; flush restart cancels one', async () => {
    const before = (await patroni(leader)).postmaster_start_time;
    await ok('restart', SCOPE, leader, '--pending', '--force');
    await until('leader restarted without pending_restart', async () => (await patroni(leader)).pending_restart === undefined && (await patroni(leader)).postmaster_start_time !== before);
    const at = new Date(Date.now() + 3000).toISOString();
    const before2 = (await patroni(replica)).postmaster_start_time;
    await ok('restart', SCOPE, replica, '--scheduled', at, '--force');
    await until('replica restarted at the scheduled time', async () => (await patroni(replica)).postmaster_start_time !== before2 && (await patroni(replica)).state === 'running');
    const later = new Date(Date.now() + 3_600_000).toISOString();
    await ok('restart', SCOPE, replica, '--scheduled', later, '--force');
    await ok('flush', SCOPE, replica, 'restart', '--force');
    expect((await fetch(`${c.member(replica).apiUrl}/restart`, { method: 'DELETE' })).status).toBe(404); // nothing left to cancel
  }, 90_000);

  it('reload answers for each member; pause / resume flip the config key and /cluster', async () => {
    expect(await ok('reload', SCOPE, '--force')).toMatch(/Reload request received for member/);
    await ok('pause', SCOPE, '--wait');
    expect(JSON.parse((await key('config'))!).pause).toBe(true);
    expect(await ok('list', SCOPE)).toMatch(/Maintenance mode: on/);
    await ok('resume', SCOPE, '--wait');
    expect(JSON.parse((await key('config'))!).pause).toBeUndefined();
  }, 60_000);

  it('reinit re-clones the replica from the leader', async () => {
    const before = (await patroni(replica)).postmaster_start_time;
    await ok('reinit', SCOPE, replica, '--force', '--wait');
    await until('replica re-cloned and streaming', async () => {
      const p = await patroni(replica);
      return p.postmaster_start_time !== before && p.state === 'running' && p.role === 'replica';
    }, 60_000);
  }, 90_000);

  it('switchover --scheduled writes the failover key; flush switchover clears it; switchover and failover move the leader', async () => {
    const at = new Date(Date.now() + 3_600_000).toISOString();
    await ok('switchover', SCOPE, '--leader', leader, '--candidate', replica, '--scheduled', at, '--force');
    expect(JSON.parse((await key('failover'))!)).toMatchObject({ leader, member: replica });
    await ok('flush', SCOPE, 'switchover', '--force');
    expect(JSON.parse((await key('failover'))!)).toEqual({});
    await ok('switchover', SCOPE, '--leader', leader, '--candidate', replica, '--force');
    expect(await c.waitForLeader(30_000, { except: leader })).toBe(replica);
    await c.waitForReplicasStreaming(60_000);
    await ok('failover', SCOPE, '--candidate', leader, '--force');
    expect(await c.waitForLeader(30_000, { except: replica })).toBe(leader);
    const history = await ok('history', SCOPE, '--format', 'json');
    expect((JSON.parse(history) as unknown[]).length).toBeGreaterThanOrEqual(2);
  }, 120_000);

  it('remove wipes the cluster from etcd', async () => {
    for (const m of c.members) await c.killNode(m.name);
    await until('the leader key expired', async () => (await key('leader')) === null, 30_000);
    const r = await ctl(['remove', SCOPE], `${SCOPE}\nYes I am aware\n`);
    expect(r.code, r.out).toBe(0);
    expect(await key('config')).toBeNull();
    expect(await key('initialize')).toBeNull();
  }, 60_000);
});
