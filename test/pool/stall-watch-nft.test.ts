/**
 * The stall watch against a real cut (root only): an nftables table of this run's own, in the
 * root namespace, drops every TCP packet on loopback to or from the test server's port — the
 * Pool's sockets see real packet loss and real retransmission backoff, and after the table is
 * removed (the heal) a session with a statement in flight still waits for its next
 * retransmission, while new sessions go through at once. The table is removed in `finally` and
 * in afterAll; its name starts with `pgfsw` (the port is this run's random one: nothing else is
 * touched).
 *
 * With the watch (stallCheckMillis 500) the write in flight at the cut settles ≤ 1 s after the
 * heal (a plain one unknown, a resolvable one proven not run by the server's FATAL); without it
 * (0) it is still waiting then and lands at the retransmission.
 *
 * How soon after the heal (issue 19: never longer than a plain client that reconnects): the watch
 * starts a side connection attempt every 100 ms while the path is down, so a heal just after an
 * attempt's SYN was lost is seen ~100 ms later (one attempt at a time, each waiting out its 250 ms
 * connect timeout, saw it ≥ 350 ms later); the node it just reached is not taken for down, and the
 * stuck writes run again at once on sessions opened while they were being ended.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { useCluster } from '../support/cluster';
import { usePools } from '../support/pools';
import { which } from '../campaign/netns';
import { FailoverError } from '../../src';

const run = promisify(execFile);
const canCut = process.getuid?.() === 0 && which('nft') !== undefined;

const h = useCluster({ standbys: 0 }, async (c) => {
  await c.primary.server.query('CREATE TABLE stalls (id int NOT NULL)');
});
const pool = usePools(() => `postgresql://postgres@127.0.0.1:${h.cluster.primary.server.port}/postgres`);

const table = `pgfsw${randomBytes(3).toString('hex')}`;
let cutOpen = false;
async function cut(port: number): Promise<void> {
  const rules = [
    `table inet ${table} {`,
    '  chain input { type filter hook input priority -10; policy accept;',
    `    iifname "lo" tcp dport ${port} drop`,
    `    iifname "lo" tcp sport ${port} drop`,
    '  }',
    '}',
  ].join('\n');
  cutOpen = true;
  await new Promise<void>((resolve, reject) => {
    const child = execFile('nft', ['-f', '-'], (err, _out, stderr) => (err ? reject(new Error(`nft: ${stderr || err.message}`)) : resolve()));
    child.stdin?.end(rules);
  });
}
async function heal(): Promise<void> {
  if (!cutOpen) return;
  await run('nft', ['delete', 'table', 'inet', table]).catch(() => {});
  cutOpen = false;
}
afterAll(heal);

function settle(p: Promise<unknown>): { done: Promise<{ code: string | undefined; at: number }>; at: () => number | undefined } {
  let at: number | undefined;
  const done = p.then(
    () => ({ code: undefined, at: (at = Date.now()) }),
    (e: unknown) => ({ code: e instanceof FailoverError ? e.code : `not ours: ${(e as Error).message}`, at: (at = Date.now()) }),
  );
  return { done, at: () => at };
}

describe.runIf(canCut)('stall watch across a real cut (nftables drop on loopback, real TCP backoff)', () => {
  it('healed just after a side attempt was lost: both stuck resolvable writes land ≤ 300 ms after the heal, once each, and the node is never taken for down', async () => {
    const port = h.cluster.primary.server.port;
    const p = pool({ readFrom: 'primary', failoverTimeoutMillis: 15_000, recheckIntervalMillis: 60_000, resolveWriteOutcome: true }); // stallCheckMillis: its default (1 s)
    await p.query('SELECT 1');
    await Promise.all([p.query('INSERT INTO stalls VALUES (0)'), p.query('INSERT INTO stalls VALUES (0)')]);
    await sleep(300); // the answers' delayed ACKs out first (see below)
    const downs: string[] = [];
    p.on('nodeDown', (e: { node: string; reason: string }) => downs.push(`${e.node}: ${e.reason}`));
    let healedAt = 0;
    let a: ReturnType<typeof settle>;
    let b: ReturnType<typeof settle>;
    try {
      await cut(port);
      a = settle(p.query('INSERT INTO stalls VALUES (50)'));
      b = settle(p.query('INSERT INTO stalls VALUES (51)'));
      // Stuck for 1 s, then side attempts that the cut swallows; heal just after one started (its SYN is lost).
      const stalls = () => p.stats().stalls!;
      const until = Date.now() + 5000;
      while (stalls().unreachable < 3 && Date.now() < until) await sleep(5);
      expect(stalls().unreachable, 'side attempts found the path down').toBeGreaterThanOrEqual(3);
      const checks = stalls().checks;
      while (stalls().checks === checks && Date.now() < until) await sleep(1);
    } finally {
      await heal();
      healedAt = Date.now();
    }
    const [ra, rb] = await Promise.all([a!.done, b!.done]);
    // Usually never sent (their BEGIN's answer never came): run again on a new session, acknowledged. Under
    // load a BEGIN's answer can arrive before the cut: then the write was sent, ended by the watch, resolved
    // as not committed → TRANSACTION_ROLLED_BACK (and absent). Never anything else.
    for (const r of [ra, rb]) expect([undefined, 'TRANSACTION_ROLLED_BACK']).toContain(r.code);
    // ≤ 300 ms on a quiet machine (the old code: 451 ms); bounded loosely here, as CI's load makes it vary: the down mark below is what the old code fails.
    expect(Math.max(ra.at, rb.at) - healedAt, 'heal → both writes settled').toBeLessThanOrEqual(1000);
    expect(downs, 'the node the watch had just reached is not down').toEqual([]);
    await sleep(300);
    const rows = await h.cluster.primary.server.query<{ id: number; n: number }>('SELECT id, count(*)::int AS n FROM stalls WHERE id IN (50, 51) GROUP BY id ORDER BY id');
    const expected = [ra.code === undefined ? { id: 50, n: 1 } : undefined, rb.code === undefined ? { id: 51, n: 1 } : undefined].filter((x) => x !== undefined);
    expect(rows, 'each acknowledged write present once, each rolled-back one absent').toEqual(expected);
  });

  it('a checked-out client in a transaction, stuck at the cut: its statement fails as a lost transaction after the heal, and the node is not taken for down', async () => {
    const port = h.cluster.primary.server.port;
    const p = pool({ readFrom: 'primary', failoverTimeoutMillis: 15_000, recheckIntervalMillis: 60_000 });
    const c = await p.connect();
    c.on('error', () => {});
    await c.query('BEGIN');
    await c.query('INSERT INTO stalls VALUES (60)');
    await sleep(300);
    const downs: string[] = [];
    p.on('nodeDown', (e: { node: string; reason: string }) => downs.push(`${e.node}: ${e.reason}`));
    let healedAt = 0;
    let r: ReturnType<typeof settle>;
    try {
      await cut(port);
      r = settle(c.query('INSERT INTO stalls VALUES (61)'));
      await sleep(2000);
    } finally {
      await heal();
      healedAt = Date.now();
    }
    const { code, at } = await r!.done;
    c.release();
    expect(code).toBe('TRANSACTION_ROLLED_BACK');
    expect(at - healedAt, 'heal → the statement settled (a sanity bound; the point is the next line)').toBeLessThanOrEqual(2000);
    expect(downs, 'the node the watch had just reached is not down').toEqual([]);
    await p.query('SELECT 1'); // and the Pool goes on using it
    const [{ n }] = await h.cluster.primary.server.query<{ n: number }>('SELECT count(*)::int AS n FROM stalls WHERE id IN (60, 61)');
    expect(n).toBe(0);
  });

  it('the write in flight at the cut settles ≤ 1 s after the heal with the watch; without it, it waits for the retransmission', async () => {
    const port = h.cluster.primary.server.port;
    // The probe re-checks only on errors (an etcd source would not see a client cut either).
    const opts = { readFrom: 'primary' as const, failoverTimeoutMillis: 15_000, recheckIntervalMillis: 60_000 };
    const watched = pool({ ...opts, stallCheckMillis: 500 });
    const unwatched = pool({ ...opts, stallCheckMillis: 0 });
    const resolving = pool({ ...opts, stallCheckMillis: 500, resolveWriteOutcome: true });
    for (const p of [watched, unwatched, resolving]) {
      await p.query('SELECT 1');
      await p.query('INSERT INTO stalls VALUES (0)');
    }
    // Let the delayed ACKs of those answers go out first: an answer whose ACK the cut swallows keeps the
    // server's side in retransmission backoff too, and the ended backend's FATAL would queue behind it.
    await sleep(300);
    let healedAt = 0;
    let w: ReturnType<typeof settle>;
    let u: ReturnType<typeof settle>;
    let v: ReturnType<typeof settle>;
    try {
      await cut(port);
      w = settle(watched.query('INSERT INTO stalls VALUES (1)'));
      u = settle(unwatched.query('INSERT INTO stalls VALUES (2)'));
      v = settle(resolving.query('INSERT INTO stalls VALUES (4)'));
      // The requests' retransmissions (RTO ≈ 0.2–0.26 s on loopback, doubling) fall at 15 × RTO ≈ 3.0–3.9 s
      // (inside the cut) and 31 × RTO ≈ 6.2–8 s: ≥ 2.2 s after a heal at 4 s.
      await sleep(4000);
    } finally {
      await heal();
      healedAt = Date.now();
    }
    await sleep(1500);
    expect(w!.at(), 'the watched write settled').toBeDefined();
    expect(w!.at()! - healedAt).toBeLessThanOrEqual(1000);
    // The watch proves nothing about a plain write: unknown.
    expect((await w!.done).code).toBe('TRANSACTION_RESOLUTION_UNKNOWN');
    // A resolvable write: its session ended before the BEGIN that tells its transaction id answered, so the
    // write itself was never sent (resolvable-write.ts): it runs again on a new session and lands once.
    expect(v!.at()! - healedAt).toBeLessThanOrEqual(1000);
    expect((await v!.done).code).toBeUndefined();
    expect(u!.at(), 'without the watch the write still waits for the retransmission').toBeUndefined();
    // The next write on the watched pool goes through on a new session.
    await watched.query('INSERT INTO stalls VALUES (3)');
    const r = await u!.done;
    expect(r.code).toBeUndefined();
    expect(r.at - healedAt).toBeGreaterThan(1500);
    const rows = await h.cluster.primary.server.query<{ id: number; n: number }>('SELECT id, count(*)::int AS n FROM stalls WHERE id BETWEEN 1 AND 49 GROUP BY id ORDER BY id');
    // Its backend ended first, the watched write's request (retransmitted by the kernel after the heal) never ran.
    expect(rows).toEqual([
      { id: 2, n: 1 },
      { id: 3, n: 1 },
      { id: 4, n: 1 },
    ]);
    expect(watched.stats().stalls).toMatchObject({ ended: 1 });
    expect(resolving.stats().stalls).toMatchObject({ ended: 1 });
    expect(watched.stats().stalls!.unreachable).toBeGreaterThan(0);
  });
});
