/**
 * pg-boss through pg-failover's Pool (examples/pg-boss): jobs sent are fetched
 * and completed, on a primary + standby cluster. Steady state only (not yet
 * through a failover).
 */
import { describe, it, expect } from 'vitest';
import { useCluster } from '../support/cluster';
import { createBoss } from '../../examples/pg-boss/app';

describe('pg-boss on a pg-failover Pool', () => {
  const h = useCluster({ standbys: 1 });

  it('sends, works and completes jobs', async () => {
    const { boss, close } = createBoss(h.cluster.connectionString());
    try {
      await boss.start();
      await boss.createQueue('emails');
      const ids = await Promise.all([1, 2, 3].map((n) => boss.send('emails', { n })));
      expect(ids.every((id) => typeof id === 'string')).toBe(true);
      const done: number[] = [];
      await boss.work<{ n: number }>('emails', { pollingIntervalSeconds: 0.5, batchSize: 3 }, async (jobs) => {
        for (const j of jobs) done.push(j.data.n);
      });
      const deadline = Date.now() + 15_000;
      while (done.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect(done.sort()).toEqual([1, 2, 3]);
      // The jobs' state, read back (a plain read: a standby once it has replayed), says completed.
      let states: string[] = [];
      while (Date.now() < deadline) {
        states = await Promise.all(ids.map(async (id) => (await boss.getJobById('emails', id!))?.state ?? 'missing'));
        if (states.every((s) => s === 'completed')) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(states).toEqual(['completed', 'completed', 'completed']);
    } finally {
      await close();
    }
  });
});
