/**
 * Fencing: when etcd stops answering (its process frozen with SIGSTOP), the
 * leader must stop accepting writes on its own clock, before its lease could
 * expire, while the replica must not promote (it cannot take the key). When
 * etcd comes back the cluster converges on exactly one primary again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { Harness } from './harness';

const TTL = 5;

describe('agent fencing when etcd is lost', () => {
  const h = new Harness({ scope: 'fence', ttl: TTL, loopWait: 1, retryTimeout: 2 });
  let leader: string;
  let replica: string;

  beforeAll(async () => {
    await h.startEtcd();
    await h.startAll(['n0', 'n1']);
    leader = await h.until('a leader', () => h.leader());
    replica = leader === 'n0' ? 'n1' : 'n0';
    await h.query(leader, 'CREATE TABLE f (id int primary key)');
    await h.query(leader, 'INSERT INTO f VALUES (1)');
    await h.until('row on the replica', async () => (await h.query(replica, 'SELECT 1 FROM f')).length === 1);
  }, 180_000);
  afterAll(() => h.close(), 120_000);

  it('demotes the leader before its lease can expire, and the replica does not promote', async () => {
    const agent = h.agents.get(leader)!;
    const other = h.agents.get(replica)!;
    let replicaPromoted = false;
    other.on('promoted', () => (replicaPromoted = true));
    const fenced = new Promise<{ at: number; leaseAgeMillis: number }>((resolve) => agent.on('fenced', (e) => resolve({ at: Date.now(), leaseAgeMillis: e.leaseAgeMillis })));
    // Make sure a keepalive just went through, then freeze etcd.
    await h.until('fresh keepalive', () => Date.now() - agent.dcs.lastKeepaliveOkAt < 300);
    h.etcd.kill(0, 'SIGSTOP');
    const frozenAt = Date.now();
    try {
      const lastOk = agent.dcs.lastKeepaliveOkAt;
      const leaseExpiresNoEarlierThan = lastOk + TTL * 1000;
      const f = await Promise.race([fenced, sleep((TTL + 5) * 1000).then(() => undefined)]);
      expect(f, `not fenced:\n${h.lines.slice(-20).join('\n')}`).toBeDefined();
      // PostgreSQL must be down (no writes) before the lease could expire.
      await h.until('leader PostgreSQL stopped', () => !agent.postgres.isRunning(), TTL * 1000);
      const stoppedAt = Date.now();
      console.log(
        `fencing: lease renewed at +0 ms, etcd frozen at +${frozenAt - lastOk} ms, fenced at +${f!.at - lastOk} ms, ` +
          `PostgreSQL stopped by +${stoppedAt - lastOk} ms; lease lives ≥ +${TTL * 1000} ms`,
      );
      expect(stoppedAt).toBeLessThan(leaseExpiresNoEarlierThan);
      await expect(h.query(leader, 'INSERT INTO f VALUES (2)')).rejects.toThrow();
      expect(agent.isLeader()).toBe(false);
      // The replica keeps serving reads and must not promote without the key.
      await sleep(TTL * 1000);
      expect(replicaPromoted).toBe(false);
      expect((await h.query<{ r: boolean }>(replica, 'SELECT pg_is_in_recovery() AS r'))[0]!.r).toBe(true);
    } finally {
      h.etcd.kill(0, 'SIGCONT');
    }
  }, 60_000);

  it('converges on exactly one primary once etcd is back', async () => {
    const primary = await h.until(
      'one primary, one streaming replica',
      async () => {
        const l = await h.leader();
        if (!l) return undefined;
        const other = l === 'n0' ? 'n1' : 'n0';
        const [a, b] = [h.agents.get(l)!, h.agents.get(other)!];
        if (a.role !== 'primary' || b.role !== 'replica') return undefined;
        const rep = await h.query<{ application_name: string }>(l, "SELECT application_name FROM pg_stat_replication WHERE state = 'streaming'");
        return rep.some((r) => r.application_name === other) ? l : undefined;
      },
      60_000,
    );
    console.log(`after etcd came back: ${primary} is the primary (was ${leader})`);
    await h.query(primary, 'INSERT INTO f VALUES (3)');
    const rows = await h.query<{ id: number }>(primary, 'SELECT id FROM f ORDER BY id');
    expect(rows.map((r) => r.id)).toEqual([1, 3]);
    const other = primary === 'n0' ? 'n1' : 'n0';
    await h.until('row 3 replicated', async () => (await h.query(other, 'SELECT 1 FROM f WHERE id = 3')).length === 1);
    expect((await h.query<{ r: boolean }>(other, 'SELECT pg_is_in_recovery() AS r'))[0]!.r).toBe(true);
  }, 90_000);
});
