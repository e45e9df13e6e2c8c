/**
 * A COMMIT lost with its primary, resolved on the promoted standby: PostgreSQL does not log a
 * transaction id when it hands it out, so a standby that never received the lost transaction
 * hands the same id out again after its promotion. Its pg_xact_status then answers for someone
 * else's transaction. Real primary + standby + etcd (the test moves Patroni's leader key itself,
 * so it decides when the Pool sees the new primary):
 *
 * - the lost transaction never reached the standby, and the new primary's first transaction took
 *   its id and committed: the Pool must not call the lost one committed (it did at first:
 *   "committed", the row absent). The standby replayed nothing past the WAL position read before
 *   the COMMIT, so the commit is provably absent from the new history → TRANSACTION_ROLLED_BACK
 *   (it was TRANSACTION_RESOLUTION_UNKNOWN before that proof existed) — for a checked-out COMMIT
 *   and for a resolvable autocommit write;
 * - the lost transaction did reach the standby (seen there, in recovery, with a snapshot past
 *   its id): the COMMIT is resolved as committed, and the row is there;
 * - the primary crash-recovered (no failover) and handed the lost write's id out again, to a
 *   transaction that committed and reached the standby: the standby, seen past the id, proves
 *   nothing about the restarted primary's history — the write is not reported committed (it was:
 *   TRANSACTION_COMMITTED, the row absent; campaign seed 98, crash-postgres).
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Etcd3 } from 'etcd3';
import { Pool, FailoverError } from '../../src';
import { connectTo, killNode, useCluster, type LocalCluster, type LocalNode } from '../support/cluster';
import { LatencyProxy } from '../support/latency-proxy';
import { STARTED_SQL } from '../../src/pool/xid-witness';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function member(host: string, port: number, role: string): string {
  return JSON.stringify({ conn_url: `postgres://${host}:${port}/postgres`, api_url: 'http://127.0.0.1:1/patroni', state: 'running', role, version: '3.0.2', xlog_location: 1, timeline: 1 });
}

/** A cluster whose primary waits for its standby at COMMIT, a proxy in front of the primary, and a Pool reading Patroni's keys. */
function setup(scope: string, poolOptions: { resolveWriteOutcome?: boolean; stallCheckMillis?: number } = {}) {
  const h = useCluster({ standbys: 1, etcd: true }, async (c) => {
    await c.primary.server.query("ALTER SYSTEM SET synchronous_standby_names = '*'"); // the primary's only: the standby, promoted, must not wait
    await c.primary.server.query('SELECT pg_reload_conf()');
    await c.primary.server.query('CREATE TABLE reuse (id int PRIMARY KEY)');
    await c.waitForReplay(c.standbys[0]!.name);
  });
  const ctx = {} as { etcd: Etcd3; pool: Pool; proxy: LatencyProxy; standby: LocalNode; c: LocalCluster };
  beforeAll(async () => {
    const c = h.cluster;
    ctx.c = c;
    ctx.standby = c.standbys[0]!;
    ctx.proxy = await LatencyProxy.start(c.primary.server.host, c.primary.server.port);
    ctx.etcd = new Etcd3({ hosts: c.etcd!.endpoints });
    const s = ctx.standby.server;
    await ctx.etcd.put(`/service/${scope}/members/${c.primary.name}`).value(member('127.0.0.1', ctx.proxy.port, 'master'));
    await ctx.etcd.put(`/service/${scope}/members/${ctx.standby.name}`).value(member(s.host, s.port, 'replica'));
    await ctx.etcd.put(`/service/${scope}/leader`).value(c.primary.name);
    ctx.pool = new Pool({ connectionString: `postgresql://postgres@127.0.0.1:${ctx.proxy.port}/postgres`, topology: { source: 'etcd', hosts: c.etcd!.endpoints, scope }, failoverTimeoutMillis: 20_000, ...poolOptions });
    ctx.pool.on('error', () => {});
  });
  afterAll(async () => {
    await ctx.pool?.end();
    ctx.etcd?.close();
    await ctx.proxy?.close();
  });
  /** Promotes the standby, then (after `between`) tells the Pool through etcd. */
  const failOver = async (between: () => Promise<void> = async () => {}) => {
    await ctx.c.promote(ctx.standby.name);
    await between();
    const s = ctx.standby.server;
    await ctx.etcd.put(`/service/${scope}/members/${ctx.standby.name}`).value(member(s.host, s.port, 'master'));
    await ctx.etcd.put(`/service/${scope}/leader`).value(ctx.standby.name);
  };
  return { ctx, failOver };
}

/**
 * The standby stops streaming (it stays in recovery): nothing written from now on reaches it.
 * (A SIGSTOPped walreceiver is not enough: what the kernel buffered still arrives after SIGCONT.)
 */
async function stopStreaming(standby: LocalNode): Promise<void> {
  const s = standby.server;
  await s.query("ALTER SYSTEM SET primary_conninfo = 'host=127.0.0.1 port=1 connect_timeout=1'");
  await s.query('SELECT pg_reload_conf()');
  for (let i = 0; i < 200 && (await s.query('SELECT 1 FROM pg_stat_wal_receiver')).length; i++) await sleep(25);
}

async function outcome(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'committed';
  } catch (e) {
    return e instanceof FailoverError ? e.code : `not ours: ${(e as Error).message}`;
  }
}

describe('a lost COMMIT whose transaction never reached the promoted standby', () => {
  const { ctx, failOver } = setup('xid-reuse');

  test('the new primary reuses its id for a committed transaction: not called committed but rolled back (its replay ended before the COMMIT), and the row is absent', async () => {
    await stopStreaming(ctx.standby);
    const client = await ctx.pool.connect();
    client.on('error', () => {});
    await client.query('BEGIN');
    await client.query('INSERT INTO reuse VALUES (1)');
    const xid = (await client.query<{ x: string }>('SELECT pg_current_xact_id()::text AS x')).rows[0]!.x;
    const commit = outcome(client.query('COMMIT')); // waits for a standby that never answers
    await sleep(300);
    await killNode(ctx.c.primary);
    await sleep(300); // the Pool looks at the standby: in recovery, nothing past the id
    let reusedBy = '';
    await failOver(async () => {
      const direct = await connectTo(ctx.standby);
      reusedBy = (await direct.query<{ x: string }>('INSERT INTO reuse VALUES (2) RETURNING pg_current_xact_id()::text AS x')).rows[0]!.x;
      await direct.end();
    });
    expect(reusedBy).toBe(xid); // the hazard is real: the same id, committed by someone else
    expect(await commit).toBe('TRANSACTION_ROLLED_BACK');
    client.release();
    expect((await ctx.standby.server.query<{ n: number }>('SELECT count(*)::int AS n FROM reuse WHERE id = 1'))[0]!.n).toBe(0);
  }, 60_000);
});

describe('a resolvable autocommit write lost with its primary, never streamed to the promoted standby', () => {
  const { ctx, failOver } = setup('xid-reuse-write', { resolveWriteOutcome: true });

  test('the new primary reuses its id: the write is reported rolled back (not committed, not unknown), and the row is absent', async () => {
    await stopStreaming(ctx.standby);
    const primary = ctx.c.primary.server;
    const write = outcome(ctx.pool.query('INSERT INTO reuse VALUES (11)'));
    let xid = '';
    for (let i = 0; i < 200 && !xid; i++) {
      const rows = await primary.query<{ x: string }>("SELECT backend_xid::text AS x FROM pg_stat_activity WHERE wait_event = 'SyncRep'");
      if (rows.length) xid = rows[0]!.x;
      else await sleep(20);
    }
    expect(xid).not.toBe(''); // committed locally, waiting for the standby
    await killNode(ctx.c.primary);
    await sleep(300);
    let reusedBy = '';
    await failOver(async () => {
      const direct = await connectTo(ctx.standby);
      reusedBy = (await direct.query<{ x: string }>('INSERT INTO reuse VALUES (12) RETURNING pg_current_xact_id()::text AS x')).rows[0]!.x;
      await direct.end();
    });
    expect(reusedBy).toBe(xid);
    expect(await write).toBe('TRANSACTION_ROLLED_BACK');
    expect((await ctx.standby.server.query<{ n: number }>('SELECT count(*)::int AS n FROM reuse WHERE id = 11'))[0]!.n).toBe(0);
  }, 60_000);
});

describe('a lost COMMIT whose transaction reached the promoted standby', () => {
  const { ctx, failOver } = setup('xid-kept');

  test('resolved as committed (the standby was seen in recovery past the id), and the row is there', async () => {
    const client = await ctx.pool.connect();
    client.on('error', () => {});
    await client.query('BEGIN');
    await client.query('INSERT INTO reuse VALUES (3)');
    ctx.proxy.delayMillis = 5_000; // the COMMIT's answer will not get through
    const commit = outcome(client.query('COMMIT'));
    for (let i = 0; i < 200; i++) {
      const [r] = await ctx.standby.server.query<{ n: number }>('SELECT count(*)::int AS n FROM reuse WHERE id = 3');
      if (r!.n === 1) break;
      await sleep(10);
    }
    await killNode(ctx.c.primary);
    ctx.proxy.drop();
    ctx.proxy.delayMillis = 0;
    await sleep(300);
    await failOver();
    expect(await commit).toBe('committed');
    client.release();
    expect((await ctx.standby.server.query<{ n: number }>('SELECT count(*)::int AS n FROM reuse WHERE id = 3'))[0]!.n).toBe(1);
  }, 60_000);
});

describe('a lost COMMIT that committed on the primary alone', () => {
  const { ctx } = setup('xid-durable');

  test('its wait for the synchronous standby cut short: not reported committed until a standby has it', async () => {
    const s = ctx.standby.server;
    const primary = ctx.c.primary.server;
    await stopStreaming(ctx.standby);
    const client = await ctx.pool.connect();
    client.on('error', () => {});
    await client.query('BEGIN');
    await client.query('INSERT INTO reuse VALUES (5)');
    let settled = false;
    const commit = outcome(client.query('COMMIT')).finally(() => (settled = true));
    let waiting: Array<{ pid: number }> = [];
    for (let i = 0; i < 200 && !waiting.length; i++) {
      waiting = await primary.query<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE wait_event = 'SyncRep'");
      if (!waiting.length) await sleep(20);
    }
    expect(waiting).toHaveLength(1);
    // The server ends the session while it waits: the transaction stays committed on the primary alone.
    await primary.query('SELECT pg_terminate_backend($1)', [waiting[0]!.pid]);
    await sleep(1500);
    expect(settled).toBe(false); // not "committed" while no standby has it
    await s.query('ALTER SYSTEM RESET primary_conninfo');
    await s.query('SELECT pg_reload_conf()');
    expect(await commit).toBe('committed');
    client.release();
    expect((await s.query<{ n: number }>('SELECT count(*)::int AS n FROM reuse WHERE id = 5'))[0]!.n).toBe(1);
  }, 60_000);
});

describe('a crash of one backend: the server recovers without a new start time', () => {
  const h = useCluster({ standbys: 0 });

  test('the next transaction id is handed out again, and STARTED_SQL (not pg_postmaster_start_time) tells', async () => {
    const s = h.cluster.primary.server;
    const q = `SELECT extract(epoch from pg_postmaster_start_time())::text AS start, ${STARTED_SQL} AS started`;
    const [before] = await s.query<{ start: string; started: string }>(q);
    const a = await connectTo(h.cluster.primary);
    a.on('error', () => {});
    await a.query('BEGIN');
    const x = (await a.query<{ x: string }>('SELECT pg_current_xact_id()::text AS x')).rows[0]!.x;
    const victim = await connectTo(h.cluster.primary);
    victim.on('error', () => {});
    process.kill((await victim.query<{ p: number }>('SELECT pg_backend_pid() AS p')).rows[0]!.p, 'SIGKILL');
    let after: { start: string; started: string } | undefined;
    for (let i = 0; i < 100 && !after; i++) {
      try {
        [after] = await s.query<{ start: string; started: string }>(q);
      } catch {
        await sleep(100);
      }
    }
    const [{ y }] = await s.query<{ y: string }>('SELECT pg_current_xact_id()::text AS y');
    expect(y).toBe(x); // the id is handed out again
    expect(after!.start).toBe(before!.start); // the postmaster did not restart…
    expect(after!.started).not.toBe(before!.started); // …but crash recovery shows
  }, 60_000);
});

describe('a lost resolvable write whose primary crash-recovered and handed its id out again', () => {
  // No stall watch: the write's BEGIN answer is held back on purpose.
  const { ctx } = setup('xid-restart', { resolveWriteOutcome: true, stallCheckMillis: 0 });

  test('the restarted primary calls the id committed (another transaction), the standby followed it past the id: not reported committed, the row absent', async () => {
    const primary = ctx.c.primary.server;
    await primary.query('CREATE TABLE reuse_other (id int)');
    await ctx.c.waitForReplay(ctx.standby.name);
    await ctx.pool.query('INSERT INTO reuse_other VALUES (-1)'); // a session open to the primary (the next write takes it)
    // The answer to the write's `BEGIN; SELECT pg_current_xact_id()` (its id) reaches the Pool only after all that follows.
    ctx.proxy.delayMillis = 12_000;
    let lost: { detail?: { why?: string }; message: string } | undefined;
    const write = outcome(
      ctx.pool.query('INSERT INTO reuse VALUES (9)').catch((e: { detail?: { why?: string }; message: string }) => {
        lost = e;
        throw e;
      }),
    );
    let holder: { pid: number; xid: string } | undefined;
    for (let i = 0; i < 200 && !holder; i++) {
      [holder] = await primary.query<{ pid: number; xid: string }>("SELECT pid, backend_xid::text AS xid FROM pg_stat_activity WHERE state = 'idle in transaction' AND backend_xid IS NOT NULL");
      if (!holder) await sleep(20);
    }
    expect(holder, 'the write took its id').toBeDefined();
    // WAL past the write's BEGIN (the lost write then lies before the end of crash recovery: not provably absent), no id taken.
    await primary.query('SELECT pg_switch_wal()');
    // A crash of another backend: crash recovery; the id had no WAL, it is handed out again.
    const victim = await connectTo(ctx.c.primary);
    victim.on('error', () => {});
    process.kill((await victim.query<{ p: number }>('SELECT pg_backend_pid() AS p')).rows[0]!.p, 'SIGKILL');
    for (let i = 0; i < 100; i++) {
      try {
        await primary.query('SELECT 1');
        break;
      } catch {
        await sleep(100);
      }
    }
    // Other transactions take the id and commit; each waits for the standby (synchronous_standby_names '*').
    for (let i = 0; i < 3; i++) await primary.query('INSERT INTO reuse_other VALUES ($1)', [i]);
    const xmins = (await primary.query<{ x: string }>('SELECT xmin::text AS x FROM reuse_other WHERE id >= 0')).map((r) => r.x);
    expect(xmins, 'the id was handed out again and committed').toContain(holder!.xid);
    await ctx.c.waitForReplay(ctx.standby.name);
    ctx.proxy.delayMillis = 0; // new sessions (the resolution's) go through at once; the held answers keep their delay
    const code = await write;
    expect(code).not.toBe('committed');
    expect(code).toBe('TRANSACTION_RESOLUTION_UNKNOWN');
    // the error says why it stayed unknown
    expect(lost?.detail?.why).toMatch(/says transaction \d+ committed, but it restarted or recovered since/);
    expect(lost?.message).toContain(lost!.detail!.why!);
    expect((await primary.query<{ n: number }>('SELECT count(*)::int AS n FROM reuse WHERE id = 9'))[0]!.n).toBe(0);
  }, 60_000);
});
