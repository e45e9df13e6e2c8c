/**
 * `pg-failover manager --config <Patroni YAML>` as separate processes, from
 * the very YAML the real-Patroni launcher writes: the cluster comes up,
 * answers Patroni's REST API, survives kill -9 of the leader node (manager +
 * every PostgreSQL process), and switches over on request.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import type pg from 'pg';
import { Client } from '../../src';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { PatroniCluster } from '../../src/local/patroni-cluster';

let c: PatroniCluster;
const TTL = 6;
beforeAll(async () => {
  c = await PatroniCluster.start({ daemon: 'pg-failover', nodes: 3, ttl: TTL, loopWait: 1, retryTimeout: 2, parentDir: process.env.PGFAILOVER_TEST_ROOT, startTimeoutMillis: 120_000 });
}, 180_000);
afterAll(async () => {
  await c?.stop();
}, 60_000);

async function write(sql: string, values: unknown[] = []): Promise<pg.QueryResult> {
  const client = new Client({ connectionString: c.connectionString({ params: { target_session_attrs: 'read-write' } }), password: c.password });
  client.on('error', () => {});
  await client.connect();
  try {
    return await client.query(sql, values);
  } finally {
    await client.end();
  }
}

describe('pg-failover manager daemons (Patroni YAML, separate processes)', () => {
  it('forms a cluster: one leader, streaming replicas, Patroni-shaped /cluster', async () => {
    const leader = await c.waitForLeader(30_000);
    const view = await c.clusterView();
    expect(view?.members.map((m) => m.name).sort()).toEqual(['n0', 'n1', 'n2']);
    expect(view?.members.filter((m) => m.role === 'leader').map((m) => m.name)).toEqual([leader]);
    await write('CREATE TABLE IF NOT EXISTS daemon_t (id int PRIMARY KEY)');
    await write('INSERT INTO daemon_t VALUES (1)');
  }, 60_000);

  it('kill -9 of the leader node → a replica leads within ttl + 3 s; the row survives', async () => {
    const old = await c.waitForLeader(30_000);
    const t0 = Date.now();
    await c.killNode(old);
    const next = await c.waitForLeader((TTL + 10) * 1000, { except: old });
    const took = Date.now() - t0;
    console.log(`daemon failover: ${old} → ${next} in ${took} ms (ttl ${TTL} s)`);
    expect(next).not.toBe(old);
    expect(took).toBeLessThan((TTL + 3) * 1000);
    const { rows } = await write('SELECT count(*)::int AS n FROM daemon_t');
    expect(rows[0].n).toBe(1);
    c.startNode(old); // rejoins (pg_rewind when needed)
    await c.waitForReplicasStreaming(60_000);
  }, 120_000);

  it('switchover to a named replica: the candidate leads, the old leader follows', async () => {
    const old = await c.waitForLeader(30_000);
    const candidate = c.members.map((m) => m.name).find((n) => n !== old)!;
    const res = await c.switchover(candidate);
    expect(res.status).toBe(200);
    expect(await c.waitForLeader(30_000, { except: old })).toBe(candidate);
    await c.waitForReplicasStreaming(60_000);
  }, 120_000);

  it.skipIf(!existsSync('/usr/bin/patronictl'))("Patroni's own patronictl lists our cluster and switches it over", async () => {
    const cfg = c.member('n0').configFile;
    const ctl = (...args: string[]) =>
      new Promise<string>((resolve, reject) =>
        execFile('patronictl', ['-c', cfg, ...args], { timeout: 60_000, env: { ...process.env, PATH: process.env.PATH } }, (err, stdout, stderr) =>
          err ? reject(new Error(`patronictl ${args.join(' ')}: ${stderr || err.message}`)) : resolve(stdout),
        ),
      );
    const leader = await c.waitForLeader(30_000);
    const list = await ctl('list', '--format', 'json');
    const rows = JSON.parse(list) as Array<{ Member: string; Role: string; State: string }>;
    expect(rows.map((r) => r.Member).sort()).toEqual(['n0', 'n1', 'n2']);
    expect(rows.find((r) => r.Role === 'Leader')?.Member).toBe(leader);
    expect(rows.filter((r) => r.Role === 'Replica' || r.Role === 'Sync Standby').every((r) => r.State === 'streaming' || r.State === 'running')).toBe(true);
    const candidate = rows.find((r) => r.Role !== 'Leader')!.Member;
    await ctl('switchover', '--leader', leader, '--candidate', candidate, '--force');
    expect(await c.waitForLeader(30_000, { except: leader })).toBe(candidate);
  }, 120_000);
});
