/**
 * Found by the fault campaign (seed 4242, evidence in
 * results/evidence-seed4242-diverged-replica.txt): a standby that replayed
 * WAL past the point where the new primary's timeline forked (an async
 * standby can be ahead of the one promoted) is re-pointed to the new leader
 * but never rewound. PostgreSQL refuses to follow ("new timeline N forked off
 * current database system timeline M before current recovery point"), and
 * the manager keeps reporting "no action. I am a secondary and I am following
 * a leader" — a standby that never replicates again. Patroni calls
 * trigger_check_diverged_lsn() after re-pointing a replica and rewinds it.
 * Reproduced here on loopback: n2 (nofailover) receives WAL that n1 (its
 * WAL receiver frozen) does not; the leader dies; n1 is promoted; n2 must
 * follow n1. Fixed (replica.ts divergedFrom): n2 now rewinds and follows.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Harness } from '../manager/harness';

describe('a standby ahead of the promoted one', () => {
  let h: Harness;
  let receiverPid: number | undefined;

  beforeAll(async () => {
    h = new Harness({ scope: 'dv', ttl: 5, loopWait: 1, retryTimeout: 2 }); // here, not at collection: a skipped suite makes no directory
    await h.startEtcd();
    await (await h.agent('n0')).start();
    await h.until('n0 leads', async () => (await h.leader()) === 'n0');
    await (await h.agent('n1')).start();
    await (await h.agent('n2', { nofailover: true })).start();
    await h.query('n0', 'CREATE TABLE t (id int PRIMARY KEY)');
    for (const n of ['n1', 'n2']) await h.until(`${n} streams`, async () => (await h.query(n, 'SELECT 1 FROM pg_stat_wal_receiver WHERE status = $1 AND to_regclass($2) IS NOT NULL', ['streaming', 't'])).length === 1, 60_000);
  }, 180_000);
  afterAll(async () => {
    if (receiverPid) {
      try {
        process.kill(receiverPid, 'SIGCONT');
      } catch {
        /* gone */
      }
    }
    await h?.close();
  }, 120_000);

  it('rewinds and follows the new leader (else it never replicates again)', async () => {
    // n1 stops receiving WAL (its WAL receiver frozen); n2 keeps receiving.
    [{ pid: receiverPid }] = await h.query<{ pid: number }>('n1', 'SELECT pid FROM pg_stat_wal_receiver');
    process.kill(receiverPid!, 'SIGSTOP');
    // …and the leader drops n1's WAL sender, so nothing more reaches n1 even through socket buffers.
    await h.query('n0', "SELECT pg_terminate_backend(pid) FROM pg_stat_replication WHERE application_name = 'n1'");
    await h.until('n1 has no WAL sender', async () => (await h.query('n0', "SELECT 1 FROM pg_stat_replication WHERE application_name = 'n1'")).length === 0, 10_000);
    await h.query('n0', 'INSERT INTO t SELECT generate_series(1, 100)');
    await h.until('n2 has the rows', async () => (await h.query('n2', 'SELECT 1 FROM t WHERE id = 100')).length === 1, 20_000);
    // The leader dies; n1 (behind n2, but the only one allowed to fail over) is promoted.
    const dead = h.agents.get('n0')!;
    await dead.stop({ release: false, stopPostgres: false });
    await dead.postgres.kill9();
    process.kill(receiverPid!, 'SIGCONT');
    receiverPid = undefined;
    await h.until('n1 leads and writes', async () => (await h.leader()) === 'n1' && (await h.query<{ r: boolean }>('n1', 'SELECT pg_is_in_recovery() AS r'))[0]!.r === false, 60_000);
    await h.query('n1', 'CREATE TABLE after_failover (x int)');
    const [{ lsn }] = await h.query<{ lsn: string }>('n1', 'SELECT pg_current_wal_lsn()::text AS lsn');
    const [{ behind }] = await h.query<{ behind: boolean }>('n1', 'SELECT NOT EXISTS (SELECT 1 FROM t WHERE id = 100) AS behind');
    expect(behind).toBe(true); // the setup worked: n1 was promoted without the rows n2 has
    const followed = await h
      .until('n2 replays the new leader', async () => (await h.query<{ ok: boolean }>('n2', 'SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS ok', [lsn]))[0]!.ok, 45_000)
      .then(() => true, () => false);
    expect(followed, `n2 never followed n1:\n${h.lines.filter((l) => /\bn2\b/.test(l)).slice(-15).join('\n')}`).toBe(true);
  }, 180_000);
});
