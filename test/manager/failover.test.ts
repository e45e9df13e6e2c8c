/**
 * Automatic failover: the leader's manager dies without releasing anything and
 * its PostgreSQL is killed -9. A replica must take the leader key and promote
 * within ttl + 2 s; the other replica follows it; a row written before the
 * failover survives. Then the old primary, whose WAL diverged (it wrote a row
 * no replica received), comes back and rejoins as a replica through pg_rewind.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Agent } from '../../src/manager/agent';
import { Harness } from './harness';

const TTL = 5;

describe('agent failover after kill -9 of the leader', () => {
  const h = new Harness({ scope: 'fo', ttl: TTL, loopWait: 1, retryTimeout: 2 });
  const names = ['n0', 'n1', 'n2'];
  let oldLeader: string;
  let newLeader: string;
  let failoverMillis = 0;

  beforeAll(async () => {
    await h.startEtcd();
    await h.startAll(names);
    oldLeader = await h.until('a leader', () => h.leader());
    await h.query(oldLeader, "CREATE TABLE t (id int primary key, note text)");
    await h.query(oldLeader, "INSERT INTO t VALUES (1, 'before')");
    for (const n of names.filter((x) => x !== oldLeader)) {
      await h.until(`row 1 on ${n}`, async () => (await h.query(n, 'SELECT 1 FROM t WHERE id = 1')).length === 1);
    }
  }, 180_000);
  afterAll(() => h.close(), 120_000);

  it(`promotes a replica within ttl + 2 s (ttl ${TTL} s)`, async () => {
    const replicas = names.filter((n) => n !== oldLeader);
    // Diverge: the leader refuses replication connections and drops its WAL senders, then writes what no replica will get.
    const leaderCfg = h.configs.get(oldLeader)!;
    const { writeFileSync } = await import('node:fs');
    writeFileSync(`${leaderCfg.postgresql.dataDir}/pg_hba.conf`, 'local all all trust\nhost replication all 127.0.0.1/32 reject\nhost all all 127.0.0.1/32 trust\n');
    await h.query(oldLeader, 'SELECT pg_reload_conf()');
    await h.query(oldLeader, "SELECT pg_terminate_backend(pid) FROM pg_stat_replication");
    await h.until('replicas disconnected', async () => (await h.query(oldLeader, 'SELECT 1 FROM pg_stat_replication')).length === 0, 10_000);
    {
      await h.query(oldLeader, "INSERT INTO t VALUES (2, 'diverged')");
      await h.query(oldLeader, 'CHECKPOINT');
      const promoted = new Promise<{ name: string; at: number }>((resolve) => {
        for (const n of replicas) h.agents.get(n)!.on('promoted', () => resolve({ name: n, at: Date.now() }));
      });
      const dead = h.agents.get(oldLeader)!;
      let keyGoneAt = 0;
      const watcher = await h.kv.watch().key(`${h.prefix}leader`).create();
      watcher.on('delete', () => (keyGoneAt ||= Date.now()));
      const t0 = Date.now();
      await dead.stop({ release: false, stopPostgres: false }); // the manager "crashes": nothing released
      await dead.postgres.kill9();
      const winner = await Promise.race([promoted, new Promise<undefined>((r) => setTimeout(() => r(undefined), (TTL + 15) * 1000))]);
      expect(winner, `no promotion:\n${h.lines.slice(-30).join('\n')}`).toBeDefined();
      newLeader = winner!.name;
      failoverMillis = winner!.at - t0;
      await watcher.cancel();
      const lastRenewal = dead.dcs.lastKeepaliveOkAt - t0;
      console.log(
        `failover: ${newLeader} promoted ${failoverMillis} ms after kill -9 of ${oldLeader} (ttl ${TTL} s; ` +
          `last lease renewal at ${lastRenewal} ms, leader key expired at +${keyGoneAt - t0} ms, ` +
          `promotion ${winner!.at - keyGoneAt} ms after expiry)`,
      );
      expect(failoverMillis).toBeLessThan((TTL + 2) * 1000);
      expect(await h.leader()).toBe(newLeader);
    }
  }, 60_000);

  it('keeps the row written before the failover and accepts writes on the new primary', async () => {
    const rows = await h.query<{ id: number; note: string }>(newLeader, 'SELECT id, note FROM t ORDER BY id');
    expect(rows).toEqual([{ id: 1, note: 'before' }]);
    const [{ r }] = await h.query<{ r: boolean }>(newLeader, 'SELECT pg_is_in_recovery() AS r');
    expect(r).toBe(false);
    await h.query(newLeader, "INSERT INTO t VALUES (3, 'after')");
  });

  it('re-points the other replica to the new leader', async () => {
    const other = names.find((n) => n !== oldLeader && n !== newLeader)!;
    await h.until(`row 3 on ${other}`, async () => (await h.query(other, 'SELECT 1 FROM t WHERE id = 3')).length === 1, 30_000);
    const rep = await h.query<{ application_name: string }>(newLeader, 'SELECT application_name FROM pg_stat_replication');
    expect(rep.map((x) => x.application_name)).toContain(other);
  });

  it('records the promotion in history (Patroni shape)', async () => {
    const keys = await h.keys();
    const history = JSON.parse(keys.history ?? '[]') as unknown[][];
    expect(history).toHaveLength(1);
    const [tli, lsn, reason, at, leader] = history[0]!;
    expect(tli).toBe(1);
    expect(typeof lsn).toBe('number');
    expect(typeof reason).toBe('string');
    expect(Number.isNaN(Date.parse(String(at)))).toBe(false);
    expect(leader).toBe(newLeader);
    expect(JSON.parse(keys[`members/${newLeader}`]!)).toMatchObject({ role: 'primary', state: 'running', timeline: 2 });
  });

  it('rejoins the old primary as a replica through pg_rewind', async () => {
    const back: Agent = await h.agent(oldLeader);
    const t0 = Date.now();
    await back.start();
    await h.until('old primary streaming', async () => back.role === 'replica' && (await h.query(oldLeader, 'SELECT 1 FROM t WHERE id = 3')).length === 1, 60_000);
    console.log(`rejoin: ${oldLeader} replica again ${Date.now() - t0} ms after its manager restarted`);
    expect(h.lines.some((l) => l.includes(`${oldLeader}: pg_rewind from ${newLeader}`))).toBe(true);
    const rows = await h.query<{ id: number }>(oldLeader, 'SELECT id FROM t ORDER BY id');
    expect(rows.map((r) => r.id)).toEqual([1, 3]); // the diverged row 2 is gone
    const [{ r }] = await h.query<{ r: boolean }>(oldLeader, 'SELECT pg_is_in_recovery() AS r');
    expect(r).toBe(true);
    expect(await h.leader()).toBe(newLeader);
  }, 90_000);
});
