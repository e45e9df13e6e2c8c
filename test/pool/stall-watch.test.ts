/**
 * The stall watch (stallCheckMillis, issue 19) on a real primary behind a proxy that simulates a
 * network cut as TCP's backoff makes it look to the sessions open at it: during the cut nothing
 * passes; after the heal new sessions go through while the old ones still swallow their traffic,
 * until their "retransmission" (`release()`) delivers what they held.
 *
 * - a write in flight at the cut settles within stallCheckMillis + a small bound after the heal
 *   (its backend was idle: ended first, so the held request, delivered later, never runs); with
 *   the watch off the same write is still waiting then, and lands at the retransmission;
 * - a write whose answer was stuck (it ran and committed) is resolved by its transaction id;
 * - across a cut with writers looping (resolveWriteOutcome): no duplicate, no acknowledged row lost;
 * - a checked-out client's transaction cut off: freed after the heal, rolled back (and said so);
 * - a long statement and one waiting on a lock are never ended by the watch;
 * - a frozen server is not a cut path: side sessions back off instead of piling up.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { connectTo, freezeNode, thawNode, useCluster } from '../support/cluster';
import { LatencyProxy } from '../support/latency-proxy';
import { usePools } from '../support/pools';
import { FailoverError, type Pool } from '../../src';

const h = useCluster({ standbys: 0 }, async (c) => {
  await c.primary.server.query('CREATE TABLE stalls (id int NOT NULL, at timestamptz DEFAULT clock_timestamp())');
});

let proxy: LatencyProxy;
beforeAll(async () => {
  proxy = await LatencyProxy.start(h.cluster.primary.server.host, h.cluster.primary.server.port);
});
afterAll(() => proxy?.close());

const pool = usePools(() => `postgresql://postgres@127.0.0.1:${proxy.port}/postgres`);
const count = async (id: number) => (await h.cluster.primary.server.query<{ n: number }>('SELECT count(*)::int AS n FROM stalls WHERE id = $1', [id]))[0]!.n;

/** A statement's outcome once it settles, and when. */
interface Settled {
  code: string | undefined;
  at: number;
}
function settle(p: Promise<unknown>): { done: Promise<Settled>; settled: () => Settled | undefined } {
  let s: Settled | undefined;
  const done = p.then(
    () => (s = { code: undefined, at: Date.now() }),
    (e: unknown) => (s = { code: e instanceof FailoverError ? e.code : `not ours: ${(e as Error).message}`, at: Date.now() }),
  );
  return { done, settled: () => s };
}

const STALL = 500;
/**
 * The probe topology re-checks only on errors here: its periodic look through the cut proxy would
 * call the node hung and abort its busy sessions (the probe's own remedy), hiding what the watch
 * does. As with an etcd source, which the client cut does not reach.
 */
const QUIET_PROBE = { recheckIntervalMillis: 60_000 };
/** How long after the heal a stuck statement may take to settle: the watch's retry pace, a side session, the termination. */
const BOUND = 1000;

async function warm(p: Pool): Promise<void> {
  await p.query('SELECT 1');
  await p.query('INSERT INTO stalls (id) VALUES (0)');
}

describe('stall watch (the cut is simulated by a TCP proxy that holds the traffic of sessions open at it)', () => {
  it('a write in flight at the cut settles within stallCheckMillis + 1 s of the heal and never runs late; with the watch off it is still waiting then', async () => {
    const watched = pool({ readFrom: 'primary', stallCheckMillis: STALL, failoverTimeoutMillis: 10_000, ...QUIET_PROBE });
    const unwatched = pool({ readFrom: 'primary', stallCheckMillis: 0, failoverTimeoutMillis: 10_000, ...QUIET_PROBE });
    await Promise.all([warm(watched), warm(unwatched)]);
    const bystander = await connectTo(h.cluster.primary); // another session of the same role: never ended by the watch
    proxy.blackhole();
    let healedAt = 0;
    let u: ReturnType<typeof settle> | undefined;
    try {
      const w = settle(watched.query('INSERT INTO stalls (id) VALUES (1)'));
      u = settle(unwatched.query('INSERT INTO stalls (id) VALUES (2)'));
      await sleep(1500); // the cut
      proxy.heal();
      healedAt = Date.now();
      await sleep(STALL + BOUND);
      const ws = w.settled();
      expect(ws, 'the watched write settled in time').toBeDefined();
      expect(ws!.at - healedAt).toBeLessThanOrEqual(STALL + BOUND);
      // Its request never reached the server (held at the cut): its backend was idle, ended, the session dropped.
      // The watch proves nothing about whether a write ran, so the Pool says what it knows: unknown.
      expect(ws!.code).toBe('TRANSACTION_RESOLUTION_UNKNOWN');
      expect(u.settled(), 'without the watch the write still waits for the retransmission').toBeUndefined();
      // The next write on the watched pool goes through on a new session.
      await watched.query('INSERT INTO stalls (id) VALUES (3)');
      expect(Date.now() - healedAt).toBeLessThan(STALL + BOUND + 1500);
      expect(watched.stats().stalls).toMatchObject({ ended: 1 });
    } finally {
      proxy.release(); // the retransmission: the unwatched write lands; the watched one meets a closed backend
    }
    expect((await u!.done).code, 'the unwatched write lands at the retransmission').toBeUndefined();
    await sleep(300);
    expect(await count(1), 'the held request of the ended session never ran').toBe(0);
    expect(await count(2)).toBe(1);
    expect(await count(3)).toBe(1);
    expect((await bystander.query('SELECT 1 AS ok')).rows[0]).toEqual({ ok: 1 });
    await bystander.end();
  });

  it('a resolvable write that ran and committed while its answer was stuck: resolved by its transaction id (TRANSACTION_COMMITTED), the row there once', async () => {
    const p = pool({ readFrom: 'primary', stallCheckMillis: STALL, resolveWriteOutcome: true, failoverTimeoutMillis: 10_000, ...QUIET_PROBE });
    await warm(p);
    const w = settle(p.query('INSERT INTO stalls (id) SELECT 10 FROM pg_sleep(0.4)'));
    // Cut once the write runs (its transaction id came back before it started).
    for (let i = 0; i < 200; i++) {
      const r = await h.cluster.primary.server.query("SELECT 1 FROM pg_stat_activity WHERE query LIKE '%SELECT 10 FROM pg_sleep%' AND state = 'active' AND pid <> pg_backend_pid()");
      if (r.length) break;
      await sleep(5);
    }
    proxy.blackhole();
    try {
      await sleep(1200);
      proxy.heal();
      const healedAt = Date.now();
      const s = await Promise.race([w.done, sleep(STALL + BOUND + 1000).then(() => undefined)]);
      expect(s, 'settled after the heal').toBeDefined();
      expect(s!.at - healedAt).toBeLessThanOrEqual(STALL + BOUND + 500); // + the resolution's own round trips
      expect(s!.code).toBe('TRANSACTION_COMMITTED');
    } finally {
      proxy.release();
    }
    await sleep(200);
    expect(await count(10)).toBe(1);
  });

  it('writers looping across a cut (resolveWriteOutcome): every acknowledged id present once, none duplicated, none reported rolled back present', async () => {
    const p = pool({ readFrom: 'primary', stallCheckMillis: STALL, resolveWriteOutcome: true, failoverTimeoutMillis: 10_000, ...QUIET_PROBE });
    await warm(p);
    const acked = new Set<number>();
    const notRun = new Set<number>();
    const unknown = new Set<number>();
    let next = 1000;
    let stop = false;
    const loop = async () => {
      while (!stop) {
        const id = next++;
        try {
          await p.query('INSERT INTO stalls (id) VALUES ($1)', [id]);
          acked.add(id);
        } catch (e) {
          const code = e instanceof FailoverError ? e.code : 'other';
          if (code === 'TRANSACTION_COMMITTED') acked.add(id);
          else if (code === 'TRANSACTION_ROLLED_BACK') notRun.add(id);
          else {
            unknown.add(id);
          }
        }
        await sleep(20);
      }
    };
    const loops = [loop(), loop()];
    await sleep(300);
    proxy.blackhole();
    let ackedAtHeal = 0;
    try {
      await sleep(1500);
      ackedAtHeal = acked.size;
      proxy.heal();
      await sleep(STALL + BOUND + 1000);
      expect(acked.size, 'writes go on after the heal while the old sessions are still cut off').toBeGreaterThan(ackedAtHeal);
    } finally {
      proxy.release();
      stop = true;
      await Promise.all(loops);
    }
    await sleep(300);
    const rows = await h.cluster.primary.server.query<{ id: number; n: number }>('SELECT id, count(*)::int AS n FROM stalls WHERE id >= 1000 GROUP BY id');
    const n = new Map(rows.map((r) => [r.id, r.n]));
    expect(rows.filter((r) => r.n > 1), 'duplicates').toEqual([]);
    expect([...acked].filter((id) => !n.has(id)), 'acknowledged but lost').toEqual([]);
    expect([...notRun].filter((id) => n.has(id)), 'reported rolled back but present').toEqual([]);
    expect(acked.size).toBeGreaterThan(10);
    expect(unknown.size, "at most the two writes in flight at the cut").toBeLessThanOrEqual(2);
  });

  it('a checked-out client inside a transaction, its statement cut off: freed after the heal, TRANSACTION_ROLLED_BACK, nothing of the transaction left', async () => {
    const p = pool({ readFrom: 'primary', stallCheckMillis: STALL, failoverTimeoutMillis: 10_000, ...QUIET_PROBE });
    await warm(p);
    const c = await p.connect();
    try {
      await c.query('BEGIN');
      await c.query('INSERT INTO stalls (id) VALUES (30)');
      proxy.blackhole();
      let healedAt = 0;
      try {
        const s = settle(c.query('INSERT INTO stalls (id) VALUES (31)'));
        await sleep(1000);
        proxy.heal();
        healedAt = Date.now();
        const r = await Promise.race([s.done, sleep(STALL + BOUND + 500).then(() => undefined)]);
        expect(r, 'settled after the heal').toBeDefined();
        expect(r!.at - healedAt).toBeLessThanOrEqual(STALL + BOUND);
        expect(r!.code).toBe('TRANSACTION_ROLLED_BACK');
      } finally {
        proxy.release();
      }
      await expect(c.query('ROLLBACK')).resolves.toBeDefined();
    } finally {
      c.release();
    }
    await sleep(300);
    expect((await count(30)) + (await count(31))).toBe(0);
  });

  it('a long statement and one waiting on a lock are looked at but never ended', async () => {
    const p = pool({ readFrom: 'primary', stallCheckMillis: 300, failoverTimeoutMillis: 10_000, ...QUIET_PROBE });
    await warm(p);
    await h.cluster.primary.server.query('INSERT INTO stalls (id) VALUES (20)');
    const holder = await connectTo(h.cluster.primary);
    try {
      await holder.query('BEGIN');
      await holder.query('UPDATE stalls SET at = now() WHERE id = 20');
      const sleeping = p.query('INSERT INTO stalls (id) SELECT 21 FROM pg_sleep(1.5)');
      const waiting = p.query('UPDATE stalls SET at = now() WHERE id = 20'); // waits for the holder's lock
      const c = await p.connect();
      try {
        await c.query('BEGIN');
        const inTxn = c.query('SELECT pg_sleep(1.2), 1 AS done');
        await sleep(1500);
        await holder.query('COMMIT');
        expect((await inTxn).rows[0]).toMatchObject({ done: 1 });
        await c.query('COMMIT');
      } finally {
        c.release();
      }
      expect((await sleeping).rowCount).toBe(1);
      expect((await waiting).rowCount).toBe(1);
      const s = p.stats().stalls!;
      expect(s.running).toBeGreaterThanOrEqual(3);
      expect(s.ended).toBe(0);
    } finally {
      await holder.end();
    }
  });

  it('a frozen server (SIGSTOP: connections open, nothing answers) is not a cut path: side sessions back off, and the write lands at the thaw', async () => {
    const p = pool({ readFrom: 'primary', stallCheckMillis: 300, failoverTimeoutMillis: 10_000, ...QUIET_PROBE });
    await warm(p);
    await freezeNode(h.cluster.primary);
    let w: ReturnType<typeof settle>;
    try {
      w = settle(p.query('INSERT INTO stalls (id) VALUES (40)'));
      await sleep(3000);
    } finally {
      await thawNode(h.cluster.primary);
    }
    expect((await w!.done).code).toBeUndefined();
    expect(await count(40)).toBe(1);
    const s = p.stats().stalls!;
    expect(s.ended).toBe(0);
    // Without the back-off (an attempt every ~0.4 s) there would be 7 or 8 in 3 s, each left in the frozen postmaster's listen queue.
    expect(s.unreachable).toBeGreaterThanOrEqual(2);
    expect(s.unreachable).toBeLessThanOrEqual(5);
  });

  it('stallCheckMillis must be a non-negative number: INVALID_OPTION', () => {
    expect(() => pool({ stallCheckMillis: -1 })).toThrow(expect.objectContaining({ code: 'INVALID_OPTION' }));
    expect(() => pool({ stallCheckMillis: 'soon' as unknown as number })).toThrow(expect.objectContaining({ code: 'INVALID_OPTION' }));
  });
});
