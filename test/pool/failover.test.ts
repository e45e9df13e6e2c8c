/**
 * The Pool through a real failover (probe topology, no manager): the primary
 * is killed with kill -9 while a workload runs, a standby is promoted by hand
 * a moment later. Writes issued in between are held and succeed on the new
 * primary; reads keep flowing; the write in flight at the kill is reported
 * as TRANSACTION_RESOLUTION_UNKNOWN, never retried; no primary at all ends
 * in FAILOVER_TIMEOUT; a returning node gets traffic again.
 */
import { describe, it, expect, afterAll } from 'vitest';
import diagnosticsChannel from 'node:diagnostics_channel';
import { Pool, FailoverError } from '../../src';
import { useCluster, killNode } from '../support/cluster';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const h = useCluster({ standbys: 2 }, async (c) => {
  await c.primary.server.query('CREATE TABLE ledger (id int PRIMARY KEY, at timestamptz DEFAULT now())');
  for (const s of c.standbys) await c.waitForReplay(s.name);
});

const pools: Pool[] = [];
afterAll(async () => {
  await Promise.all(pools.map((p) => (p.ending ? undefined : p.end())));
});

const where = 'SELECT pg_is_in_recovery() AS standby, inet_server_port() AS port';

describe('Pool failover (probe topology, real kill -9 + promotion)', () => {
  it('holds writes until the new primary is known, keeps reads flowing, reports the in-flight write as unknown', async () => {
    const c = h.cluster;
    const old = c.primary;
    const p = new Pool({ connectionString: c.connectionString(), failoverTimeoutMillis: 20_000 });
    pools.push(p);
    const events: Array<[string, unknown]> = [];
    for (const e of ['failoverStart', 'failoverEnd', 'primaryChanged', 'nodeDown'] as const) p.on(e, (x: unknown) => events.push([e, x]));
    p.on('error', () => {}); // idle-connection errors are forwarded like pg.Pool; the test only needs them handled

    // Warm up: one read, one write.
    expect((await p.query(where)).rows[0].standby).toBe(true);
    await p.query('INSERT INTO ledger (id) VALUES (0)');

    // A write that is in flight when the primary dies.
    const inFlight = p.query('INSERT INTO ledger (id) SELECT 1 FROM pg_sleep(3)').then(
      () => 'ok',
      (e: unknown) => e,
    );
    await sleep(300);
    const killedAt = Date.now();
    await killNode(old);

    // Writes issued while there is no primary: held, not failed.
    const held = Promise.allSettled([2, 3, 4].map((id) => p.query('INSERT INTO ledger (id) VALUES ($1)', [id])));
    // Reads keep flowing from the standbys meanwhile.
    const reads: boolean[] = [];
    for (let i = 0; i < 5; i++) {
      reads.push((await p.query(where)).rows[0].standby);
      await sleep(100);
    }
    expect(reads.every((s) => s === true)).toBe(true);

    const next = c.standbys.find((n) => n !== old)!;
    await c.promote(next.name);
    const promotedAt = Date.now();

    const results = await held;
    const doneAt = Date.now();
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value.rowCount : (r.reason as Error).message))).toEqual([1, 1, 1]);
    // Held writes finish soon after promotion (probe recheck is 250 ms while no primary is known).
    expect(doneAt - promotedAt).toBeLessThan(5000);

    const err = await inFlight;
    expect(err).toBeInstanceOf(FailoverError);
    expect((err as FailoverError).code).toBe('TRANSACTION_RESOLUTION_UNKNOWN');
    expect((err as FailoverError).node).toBe(`${old.server.host}:${old.server.port}`);

    // The held writes really are on the new primary.
    const rows = await next.server.query<{ id: number }>('SELECT id FROM ledger ORDER BY id');
    expect(rows.map((r) => r.id)).toEqual(expect.arrayContaining([0, 2, 3, 4]));

    const names = events.map(([e]) => e);
    expect(names).toContain('failoverStart');
    expect(names).toContain('failoverEnd');
    const end = events.find(([e]) => e === 'failoverEnd')![1] as { primary: string; durationMillis: number };
    expect(end.primary).toBe(`${next.server.host}:${next.server.port}`);
    expect(end.durationMillis).toBeGreaterThan(0);
    const changes = events.filter(([e]) => e === 'primaryChanged').map(([, x]) => x as { previous?: string; current?: string });
    expect(changes.at(-1)).toMatchObject({ previous: undefined, current: `${next.server.host}:${next.server.port}` });
    console.log(`failover: kill → promote ${promotedAt - killedAt} ms, promote → held writes done ${doneAt - promotedAt} ms, failover event ${end.durationMillis} ms`);

    // Writes after the failover go straight to the new primary.
    const after = await p.query('INSERT INTO ledger (id) VALUES (5) RETURNING inet_server_port() AS port');
    expect(after.rows[0].port).toBe(next.server.port);
  }, 60_000);

  it('a returning node (old primary rewound as a standby) gets reads again without a restart', async () => {
    const c = h.cluster;
    const p = new Pool({ connectionString: c.connectionString(), load_balance_hosts: 'round-robin' });
    pools.push(p);
    p.on('error', () => {});
    const old = c.nodes.find((n) => !n.server.isRunning())!;
    expect(old).toBeDefined();
    const ups: unknown[] = [];
    p.on('nodeUp', (x) => ups.push(x));
    await p.query(where); // the pool has started and sees the old node down
    await c.rejoin(old.name);
    const deadline = Date.now() + 20_000;
    let seen = false;
    while (!seen && Date.now() < deadline) {
      const { rows } = await p.query(where);
      if (rows[0].port === old.server.port) seen = true;
      else await sleep(100);
    }
    expect(seen).toBe(true);
  }, 60_000);

  it('with no primary to be found, a write ends in FAILOVER_TIMEOUT after failoverTimeoutMillis while reads still work', async () => {
    const c = h.cluster;
    const p = new Pool({ connectionString: c.connectionString(), failoverTimeoutMillis: 1500 });
    pools.push(p);
    p.on('error', () => {});
    await p.query('INSERT INTO ledger (id) VALUES (100)');
    const holds: unknown[] = [];
    const onHold = (m: unknown) => {
      if ((m as { pool?: unknown }).pool === p) holds.push(m);
    };
    diagnosticsChannel.subscribe('pg-failover:hold', onHold);
    await killNode(c.primary);
    const t0 = Date.now();
    // (a write issued at this instant is either retried — the dying server never had it — or held: never applied twice)
    const err = await p.query('INSERT INTO ledger (id) VALUES (101)').then(
      () => undefined,
      (e: unknown) => e,
    );
    const waited = Date.now() - t0;
    expect(err).toBeInstanceOf(FailoverError);
    expect((err as FailoverError).code).toBe('FAILOVER_TIMEOUT');
    expect((err as FailoverError).retryable).toBe(true);
    expect(waited).toBeGreaterThanOrEqual(1400);
    expect(waited).toBeLessThan(6000);
    diagnosticsChannel.unsubscribe('pg-failover:hold', onHold);
    expect(holds.length, 'the held write was published on pg-failover:hold').toBeGreaterThanOrEqual(1);
    expect(p.stats().failovers.inProgressSince).toBeGreaterThan(0);
    expect((await p.query(where)).rows[0].standby).toBe(true);
  }, 60_000);
});
