/**
 * pg-boss through pg-failover's Pool (examples/pg-boss) on a real managed
 * cluster (etcd + three `pg-failover manager`s), with pg-boss's supervisor on
 * (maintenance and state monitoring every second: `BEGIN; … pg_advisory_xact_lock;
 * … COMMIT` scripts) and a worker polling every 0.5 s, while jobs are sent and
 * looked up by three senders:
 *
 * - steady: jobs are sent, worked and completed; lookups reach a standby;
 * - planned switchover: no send, lookup, poll or maintenance run fails, and
 *   every job sent is worked exactly once;
 * - kill -9 of the leader node: only in-doubt errors with our codes (on sends,
 *   and on pg-boss's own polls/maintenance, reported through its 'error'
 *   event), no lookup fails, and every job acknowledged is completed on the
 *   new primary (jobs whose fetch was in doubt expire and are retried).
 *
 * Everything that locks or writes (fetches `FOR UPDATE SKIP LOCKED`, advisory
 * locks, inserts, completions) stays on the primary: checked on the routing
 * decisions the Pool publishes (diagnostics_channel `pg-failover:route`) and,
 * from the server's side, on the standbys' pg_stat_activity.
 *
 * Needs the build (`npm test` builds first): the managers run from dist/.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import diagnosticsChannel from 'node:diagnostics_channel';
import pg from 'pg';
import type PgBoss from 'pg-boss';
import type { Pool } from 'pg-failover';
import { PatroniCluster } from '../../src/local/patroni-cluster';
import { createBoss } from '../../examples/pg-boss/app';
import { codeOf, until } from './drive';

const hasBuild = existsSync(join(__dirname, '..', '..', 'dist', 'cli', 'main.js'));
const IN_DOUBT = new Set(['TRANSACTION_RESOLUTION_UNKNOWN', 'TRANSACTION_ROLLED_BACK']);
const QUEUE = 'failover-jobs';
/** Statement text that takes a lock or writes: must never be routed as a read. */
const LOCKS_OR_WRITES = /for\s+update|skip\s+locked|pg_advisory|\binsert\s+into\b|\bupdate\s+\S+\s+set\b|\bdelete\s+from\b|^\s*begin\b/i;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Op {
  kind: 'send' | 'lookup';
  n: number;
  at: number;
  ok: boolean;
  id?: string;
  code?: string;
  message?: string;
}

describe.skipIf(!hasBuild)('pg-boss on a managed cluster through a switchover and a leader kill', () => {
  let cluster: PatroniCluster;
  let boss: PgBoss;
  let pool: Pool;
  let close: () => Promise<void>;
  const routes: Array<{ text: string; role: string }> = [];
  const bossErrors: Array<{ at: number; code?: string; message: string }> = [];
  /** Job number → how many times the handler ran it. */
  const worked = new Map<number, number>();
  const unhandled: unknown[] = [];
  const onUnhandled = (r: unknown) => unhandled.push(r);
  const onRoute = (m: unknown) => {
    const msg = m as { pool: unknown; text: string; role: string };
    if (msg.pool === pool) routes.push({ text: msg.text, role: msg.role });
  };
  let nextN = 1;

  /** SQL on the current leader directly (plain pg): the job states as the new primary has them. */
  const onLeader = async <T,>(f: (c: pg.Client) => Promise<T>): Promise<T> => {
    const c = new pg.Client({ host: '127.0.0.1', port: cluster.member(await cluster.waitForLeader(30_000)).pgPort, user: 'postgres', database: 'postgres' });
    await c.connect();
    try {
      return await f(c);
    } finally {
      await c.end();
    }
  };
  const states = (ns: number[]) =>
    onLeader(async (c) => {
      const r = await c.query<{ n: number; state: string }>(`SELECT (data->>'n')::int AS n, state::text FROM pgboss_example.job WHERE name = $1 AND (data->>'n')::int = ANY($2)`, [QUEUE, ns]);
      return new Map(r.rows.map((x) => [x.n, x.state]));
    });

  beforeAll(async () => {
    process.on('unhandledRejection', onUnhandled);
    diagnosticsChannel.subscribe('pg-failover:route', onRoute);
    cluster = await PatroniCluster.start({ daemon: 'pg-failover', nodes: 3, ttl: 5, loopWait: 1, retryTimeout: 2, scope: 'pgboss', parentDir: process.env.PGFAILOVER_TEST_ROOT });
    const url = cluster.connectionString({ params: { 'pgfailover.etcd': cluster.etcdHosts.join(','), 'pgfailover.scope': cluster.scope } });
    ({ boss, pool, close } = createBoss(url, { supervise: true, maintenanceIntervalSeconds: 1, monitorStateIntervalSeconds: 1 }));
    boss.on('error', (e: unknown) => bossErrors.push({ at: Date.now(), code: codeOf(e), message: String((e as Error)?.message ?? e).slice(0, 200) }));
    await boss.start();
    // A job whose fetch was in doubt at a kill stays 'active' until it expires; then it is retried.
    await boss.createQueue(QUEUE, { name: QUEUE, expireInSeconds: 4, retryLimit: 10, retryDelay: 1 });
    await boss.work<{ n: number }>(QUEUE, { pollingIntervalSeconds: 0.5, batchSize: 10 }, async (jobs) => {
      for (const j of jobs) worked.set(j.data.n, (worked.get(j.data.n) ?? 0) + 1);
    });
  }, 180_000);

  afterAll(async () => {
    process.off('unhandledRejection', onUnhandled);
    diagnosticsChannel.unsubscribe('pg-failover:route', onRoute);
    await close?.();
    await cluster?.stop();
  }, 60_000);

  /** SENDERS loops, each sending a job every ~30 ms and looking one up every third round, until stopped. */
  const SENDERS = 3;
  const produce = () => {
    const ops: Op[] = [];
    let running = true;
    const loop = async () => {
      for (let round = 0; running; round++) {
        const n = nextN++;
        const at = Date.now();
        try {
          const id = await boss.send(QUEUE, { n });
          ops.push({ kind: 'send', n, at, ok: true, id: id ?? undefined });
        } catch (e) {
          ops.push({ kind: 'send', n, at, ok: false, code: codeOf(e), message: String((e as Error).message).slice(0, 200) });
        }
        await sleep(15);
        const last = [...ops].reverse().find((o) => o.kind === 'send' && o.ok);
        if (round % 3 === 2 && last?.id) {
          const at2 = Date.now();
          try {
            await boss.getJobById(QUEUE, last.id);
            ops.push({ kind: 'lookup', n: last.n, at: at2, ok: true });
          } catch (e) {
            ops.push({ kind: 'lookup', n: last.n, at: at2, ok: false, code: codeOf(e), message: String((e as Error).message).slice(0, 200) });
          }
        }
        await sleep(15);
      }
    };
    const done = Promise.all(Array.from({ length: SENDERS }, loop));
    return {
      ops,
      async stop() {
        running = false;
        await done;
        return ops;
      },
    };
  };

  const run = async (fault: (old: string) => Promise<void>, label: string) => {
    const old = await cluster.waitForLeader(30_000);
    const errorsBefore = bossErrors.length;
    const load = produce();
    await sleep(1000);
    const faultAt = Date.now();
    await fault(old);
    const nextLeader = await cluster.waitForLeader(30_000, { except: old });
    const leaderAt = Date.now();
    console.log(`pg-boss ${label}: ${old} → ${nextLeader} after ${leaderAt - faultAt} ms`);
    // Sent, fetched and completed after the new primary was known: the queue runs there.
    const resumed = await until(() => load.ops.some((o) => o.kind === 'send' && o.ok && o.at > leaderAt && worked.has(o.n)), 30_000);
    await sleep(500);
    const ops = await load.stop();
    const acked = ops.filter((o) => o.kind === 'send' && o.ok).map((o) => o.n);
    // Every acknowledged job is worked and completed (in-doubt fetches: after their expiry).
    let st = new Map<number, string>();
    await until(() => acked.every((n) => worked.has(n)), 30_000);
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      st = await states(acked);
      if (acked.every((n) => st.get(n) === 'completed')) break;
      await sleep(250);
    }
    const failed = ops.filter((o) => !o.ok);
    const errors = bossErrors.slice(errorsBefore);
    const notCompleted = acked.filter((n) => st.get(n) !== 'completed').map((n) => `${n}:${st.get(n) ?? 'missing'}`);
    const twice = acked.filter((n) => (worked.get(n) ?? 0) > 1);
    console.log(
      `pg-boss ${label}: ${acked.length}/${ops.filter((o) => o.kind === 'send').length} sends ok, ${ops.filter((o) => o.kind === 'lookup' && o.ok).length}/${ops.filter((o) => o.kind === 'lookup').length} lookups ok, ` +
        `${failed.length} failed${failed.length ? `: ${[...new Set(failed.map((f) => f.code ?? 'no code'))].join(', ')}` : ''}; ` +
        `${errors.length} pg-boss 'error' events${errors.length ? `: ${[...new Set(errors.map((e) => e.code ?? 'no code'))].join(', ')}` : ''}; ` +
        `not completed ${notCompleted.length}, worked more than once ${twice.length}`,
    );
    for (const f of failed) console.log(`  ${f.kind} +${f.at - faultAt} ms: ${f.code ?? '-'} ${f.message}`);
    for (const e of errors) console.log(`  pg-boss error +${e.at - faultAt} ms: ${e.code ?? '-'} ${e.message}`);
    return { ops, failed, errors, notCompleted, twice, resumed };
  };

  it('steady: jobs are sent, worked and completed; lookups reach a standby', async () => {
    const ns = [nextN++, nextN++, nextN++];
    const ids = await Promise.all(ns.map((n) => boss.send(QUEUE, { n })));
    expect(ids.every((id) => typeof id === 'string')).toBe(true);
    expect(await until(() => ns.every((n) => worked.has(n)), 15_000)).toBe(true);
    let st = new Map<number, string>();
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && !ns.every((n) => st.get(n) === 'completed')) {
      st = await states(ns);
      await sleep(100);
    }
    expect(ns.map((n) => st.get(n))).toEqual(['completed', 'completed', 'completed']);
    // A lookup is a plain read: the Pool routes it as one (and a standby answers once it has replayed the job).
    const before = routes.length;
    expect((await boss.getJobById(QUEUE, ids[0]!))?.state).toBe('completed');
    expect(routes.slice(before).map((r) => r.role)).toContain('read');
  }, 60_000);

  it('planned switchover under load: no failed send, lookup, poll or maintenance run; every job worked once', async () => {
    const r = await run(async () => void (await cluster.switchover()), 'switchover');
    expect(r.resumed, 'a job sent after the switchover was worked').toBe(true);
    expect(r.failed.map((f) => `${f.kind} ${f.code}: ${f.message}`)).toEqual([]);
    expect(r.errors.map((e) => `${e.code}: ${e.message}`)).toEqual([]);
    expect(r.notCompleted).toEqual([]);
    expect(r.twice).toEqual([]);
    expect(unhandled).toEqual([]);
  }, 150_000);

  it('kill -9 of the leader node under load: only in-doubt errors with our codes; every acknowledged job completed', async () => {
    const r = await run((old) => cluster.killNode(old), 'kill');
    expect(r.resumed, 'a job sent after the kill was worked on the new primary').toBe(true);
    for (const f of r.failed) {
      expect(f.kind, `a lookup failed: ${f.code} ${f.message}`).toBe('send');
      expect(IN_DOUBT.has(f.code ?? ''), `send: ${f.code} ${f.message}`).toBe(true);
    }
    // Writes are held while no primary is known: only a send in flight at the kill fails (one per sender at most).
    expect(r.failed.length).toBeLessThanOrEqual(SENDERS);
    // pg-boss's own work in flight at the kill (a poll, a completion, a maintenance script) reports in doubt too.
    for (const e of r.errors) expect(IN_DOUBT.has(e.code ?? ''), `pg-boss error: ${e.code} ${e.message}`).toBe(true);
    expect(r.errors.length).toBeLessThanOrEqual(4);
    expect(r.notCompleted).toEqual([]);
    expect(unhandled).toEqual([]);
  }, 150_000);

  it('what locks or writes stayed on the primary: routing decisions and the standbys\' sessions', async () => {
    const reads = routes.filter((r) => r.role === 'read');
    expect(reads.length, 'lookups were routed as reads').toBeGreaterThan(0);
    expect(reads.filter((r) => LOCKS_OR_WRITES.test(r.text)).map((r) => r.text.slice(0, 120))).toEqual([]);
    const locked = routes.filter((r) => /pg_advisory_xact_lock/.test(r.text));
    expect(locked.length, 'pg-boss maintenance (advisory-locked scripts) ran through the Pool').toBeGreaterThan(0);
    expect(locked.every((r) => r.role !== 'read')).toBe(true);
    expect(routes.some((r) => /skip\s+locked/i.test(r.text) && r.role !== 'read'), 'job fetches went through the Pool as writes').toBe(true);
    // From the servers' side: no session on a standby last ran a locking or writing pg-boss statement.
    const leader = await cluster.waitForLeader(30_000);
    for (const m of cluster.members.filter((x) => x.name !== leader && x.pid !== undefined)) {
      const c = new pg.Client({ host: '127.0.0.1', port: m.pgPort, user: 'postgres', database: 'postgres' });
      await c.connect();
      try {
        const r = await c.query<{ query: string }>(`SELECT query FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() AND query LIKE '%pgboss_example%'`);
        expect(r.rows.filter((x) => LOCKS_OR_WRITES.test(x.query)).map((x) => x.query.slice(0, 120)), m.name).toEqual([]);
      } finally {
        await c.end();
      }
    }
  }, 60_000);
});
