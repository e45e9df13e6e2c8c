/**
 * Found by the fault campaign (seed 4242: 3 stale reads, each one a read that
 * started within ~100 ms of the primary dying — crash, kill -9, fencing):
 * a read that must run on the primary for read-your-writes (the standbys
 * have not replayed this pool's write) and loses its session there is
 * retried on a standby without that requirement, and returns data older
 * than the pool's own acknowledged write. Reproduced here without a
 * failover: replay paused on both standbys, a write, then a read whose
 * primary backend is terminated mid-statement. The read must see the write
 * (or fail); it must not come back stale. (Regression test: fixed on main —
 * such a read now waits for a standby seen with the write, or for the primary.)
 */
import { describe, it, expect, afterEach } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { useCluster } from '../support/cluster';
import { setReplayPaused, usePools } from '../support/pools';

describe('read-your-writes when the read loses its primary session', () => {
  const h = useCluster({ standbys: 2 }, async (c) => {
    await c.primary.server.query('CREATE TABLE notes (id int PRIMARY KEY, body text)');
    for (const s of c.standbys) await c.waitForReplay(s.name);
  });
  const pool = usePools(() => h.cluster.connectionString());
  afterEach(() => setReplayPaused(h.cluster.standbys, false));

  it('is not retried on a standby that has not replayed the write', async () => {
    const p = pool();
    await p.query('SELECT 1'); // started
    await setReplayPaused(h.cluster.standbys, true);
    await p.query('INSERT INTO notes (id, body) VALUES (1, $1)', ['mine']);
    const read = p
      .query<{ body: string; standby: boolean }>('SELECT body, pg_is_in_recovery() AS standby, pg_sleep(1) FROM notes WHERE id = 1')
      .then((r) => r.rows, (e: Error) => e);
    // The read runs on the primary (the standbys are behind): end its session there mid-statement.
    let killed = false;
    for (let i = 0; i < 100 && !killed; i++) {
      const rows = await h.cluster.primary.server.query<{ t: boolean }>(
        "SELECT pg_terminate_backend(pid) AS t FROM pg_stat_activity WHERE query LIKE 'SELECT body, pg_is_in_recovery()%' AND pid <> pg_backend_pid()",
      );
      killed = rows.some((r) => r.t);
      if (!killed) await sleep(20);
    }
    expect(killed).toBe(true);
    const result = await read;
    // The write is seen (the read runs again on the primary, or on a standby seen with it); never a stale answer.
    expect(result).not.toBeInstanceOf(Error);
    expect((result as Array<{ body: string }>).map((r) => r.body)).toEqual(['mine']);
  }, 60_000);
});
