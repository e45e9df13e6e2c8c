/**
 * Cascading replicas (Patroni's `replicatefrom` and `clonefrom` tags): n2,
 * tagged `replicatefrom: n1`, clones from n1 (tagged `clonefrom`) and streams
 * from it, not from the leader n0; n1 keeps n2's slot, n0 does not. When n1's
 * manager and PostgreSQL die, n2 moves to the leader once n1's member key is
 * gone, and returns to n1 when n1 is back. A reinitialize re-clones from the
 * clonefrom member too, unless `from_leader`.
 */
import { writeFileSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Harness } from './harness';

const TTL = 5;

describe('cascading replica (replicatefrom)', () => {
  const h = new Harness({ scope: 'cascade', ttl: TTL, loopWait: 1, retryTimeout: 2 });

  /** application_name of the WAL senders on `name` that stream. */
  const walSenders = async (name: string) =>
    (await h.query<{ a: string }>(name, "SELECT application_name AS a FROM pg_stat_replication WHERE state = 'streaming' ORDER BY 1")).map((r) => r.a);
  const slot = async (name: string, slotName: string) =>
    (await h.query<{ active: boolean }>(name, 'SELECT active FROM pg_replication_slots WHERE slot_name = $1', [slotName]))[0];
  const row = async (name: string, id: number) => (await h.query(name, 'SELECT 1 FROM t WHERE id = $1', [id])).length === 1;

  beforeAll(async () => {
    await h.startEtcd();
    await h.startAll(['n0']);
    await h.until('n0 leads', async () => (await h.leader()) === 'n0');
    (await h.config('n1')).tags.clonefrom = true;
    await (await h.agent('n1')).start();
    await h.until('n1 streams from n0', async () => (await walSenders('n0')).includes('n1'));
    // a label in n1's data directory only: a clone of n1 has it, a clone of n0 does not (Patroni's own check)
    writeFileSync(join(h.configs.get('n1')!.postgresql.dataDir, 'label'), 'n1');
    // clone sources are running members only (Patroni's get_clone_member): wait as Patroni's feature does
    await h.until('n1 running in its member key', async () => JSON.parse((await h.keys())['members/n1'] ?? '{}').state === 'running');
    (await h.config('n2')).tags.replicatefrom = 'n1';
    await (await h.agent('n2')).start();
    await h.query('n0', 'CREATE TABLE t (id int primary key)');
  }, 180_000);
  afterAll(() => h.close(), 120_000);

  it('clones from the clonefrom member and streams from the replicatefrom member, through its slot', async () => {
    expect(readFileSync(join(h.configs.get('n2')!.postgresql.dataDir, 'label'), 'utf8')).toBe('n1');
    await h.until('n2 streams from n1', async () => (await walSenders('n1')).includes('n2'), 20_000);
    expect(await walSenders('n0')).toEqual(['n1']);
    expect(await slot('n1', 'n2')).toEqual({ active: true });
    // Patroni 4 (member_slots_ttl): the leader keeps an idle slot for n2 too, advanced from n2's position, for after a failover
    await h.until('an idle slot for n2 on n0', async () => (await slot('n0', 'n2'))?.active === false, 10_000);
    await h.query('n0', 'INSERT INTO t VALUES (1)');
    await h.until('row 1 on n2', () => row('n2', 1), 10_000);
    const member = JSON.parse((await h.keys())['members/n2']!) as { tags?: Record<string, unknown> };
    expect(member.tags).toMatchObject({ replicatefrom: 'n1' });
  }, 60_000);

  it('moves to the leader when its upstream is gone, and back when it returns', async () => {
    const n1 = h.agents.get('n1')!;
    const t0 = Date.now();
    await n1.stop({ release: false, stopPostgres: false }); // the manager dies, its keys stay until the lease expires
    await n1.postgres.kill9();
    await h.until('n2 streams from n0', async () => (await walSenders('n0')).includes('n2'), (TTL + 10) * 1000);
    console.log(`cascade: n2 streams from the leader ${Date.now() - t0} ms after kill -9 of its upstream (ttl ${TTL} s)`);
    expect(await slot('n0', 'n2')).toEqual({ active: true });
    await h.query('n0', 'INSERT INTO t VALUES (2)');
    await h.until('row 2 on n2', () => row('n2', 2), 10_000);

    expect(existsSync(join(n1.postgres.dataDir, 'PG_VERSION'))).toBe(true);
    await (await h.agent('n1')).start(); // same config and data directory: n1 rejoins as a replica
    await h.until('n2 streams from n1 again', async () => (await walSenders('n1')).includes('n2'), 30_000);
    await h.until('n0 streams to n1 only', async () => (await walSenders('n0')).join() === 'n1', 10_000);
    await h.query('n0', 'INSERT INTO t VALUES (3)');
    await h.until('row 3 on n2', () => row('n2', 3), 10_000);
  }, 90_000);

  it('reinitialize (what POST /reinitialize runs) re-clones from the clonefrom member, or from the leader with from_leader', async () => {
    const n2 = h.agents.get('n2')!;
    const label = join(n2.postgres.dataDir, 'label');
    await h.until('n1 running in its member key', async () => JSON.parse((await h.keys())['members/n1'] ?? '{}').state === 'running', 20_000);
    const reinit = async (fromLeader: boolean) => {
      const done = new Promise<void>((resolve) => n2.once('following', () => resolve()));
      expect((await n2.reinitialize({ force: true, fromLeader })).status).toBe(200);
      await Promise.race([done, new Promise((_, reject) => setTimeout(() => reject(new Error('reinitialize did not finish in 30 s')), 30_000))]);
    };
    await reinit(false);
    expect(readFileSync(label, 'utf8')).toBe('n1');
    await h.until('n2 streams from n1 after reinit', async () => (await walSenders('n1')).includes('n2'), 20_000);
    await reinit(true);
    expect(existsSync(label)).toBe(false);
    await h.until('n2 streams from n1 after reinit from the leader', async () => (await walSenders('n1')).includes('n2'), 20_000);
    await h.query('n0', 'INSERT INTO t VALUES (4)');
    await h.until('row 4 on n2', () => row('n2', 4), 10_000);
  }, 90_000);
});
