import { describe, test, expect } from 'vitest';
import { useCluster, killNode } from '../support/cluster';

describe('promotion and pg_rewind', () => {
  const ctx = useCluster({ standbys: 2 }, async (cluster) => {
    await cluster.primary.server.query('CREATE TABLE t (id int primary key, v text)');
    await cluster.primary.server.query("INSERT INTO t VALUES (1, 'before')");
    for (const s of cluster.standbys) await cluster.waitForReplay(s.name);
  });

  test('promoting a standby makes it writable, and the other standby follows it', async () => {
    const { cluster } = ctx;
    const old = cluster.primary;
    await killNode(old);
    await cluster.promote('n1');
    expect(cluster.primary.name).toBe('n1');
    expect(await cluster.primary.server.isInRecovery()).toBe(false);
    await cluster.primary.server.query("INSERT INTO t VALUES (2, 'on-new-primary')");
    await cluster.waitForReplay('n2');
    expect(await cluster.node('n2').server.query('SELECT v FROM t WHERE id = 2')).toEqual([{ v: 'on-new-primary' }]);
    const [tl] = await cluster.primary.server.query<{ timeline_id: number }>('SELECT timeline_id FROM pg_control_checkpoint()');
    expect(tl!.timeline_id).toBeGreaterThanOrEqual(1);
  });

  test('pg_rewind turns a diverged old primary into a standby of the new one', async () => {
    const { cluster } = ctx;
    const old = cluster.node('n0');
    // Diverge: the old primary comes back alone as a primary and takes a write the new one never saw.
    await old.server.start();
    expect(await old.server.isInRecovery()).toBe(false);
    await old.server.query("INSERT INTO t VALUES (100, 'diverged')");
    await killNode(old); // crashed, not cleanly stopped: pg_rewind must cope (it runs crash recovery itself)

    await cluster.primary.server.query("INSERT INTO t VALUES (3, 'after-divergence')");
    await cluster.rejoin('n0');
    expect(await old.server.isInRecovery()).toBe(true);
    await cluster.waitForReplay('n0');
    const rows = await old.server.query<{ id: number }>('SELECT id FROM t ORDER BY id');
    expect(rows.map((r) => r.id)).toEqual([1, 2, 3]); // the diverged row is gone, the new history is there
  });
});
