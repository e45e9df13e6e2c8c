/**
 * Reads after writes wait on the standby (causalWaitMillis), on a real
 * primary + 2 standbys made to lag for real with pg_wal_replay_pause():
 *
 * - a standby that catches up within the bound serves the read, with the write;
 * - one that does not sends the read to the primary once the bound runs out;
 * - a frozen standby (SIGSTOP, sockets open) costs at most the bound plus the
 *   guard, then the read is answered elsewhere, correctly;
 * - a standby that cannot run the wait is detected once and left out of waits,
 *   never a failed query.
 */
import { describe, it, expect, afterEach } from 'vitest';
import { useCluster, freezeNode, thawNode, connectTo } from '../support/cluster';
import { waitSql } from '../../src/pool/standby-wait';
import { setReplayPaused, usePools } from '../support/pools';

const h = useCluster({ standbys: 2 }, async (c) => {
  await c.primary.server.query('CREATE TABLE waits (id int PRIMARY KEY, body text)');
  // A role that cannot run DO blocks (no USAGE on plpgsql): its standbys cannot run the wait.
  await c.primary.server.query('CREATE ROLE limited LOGIN');
  await c.primary.server.query('GRANT SELECT, INSERT ON waits TO limited');
  await c.primary.server.query('REVOKE USAGE ON LANGUAGE plpgsql FROM PUBLIC');
  for (const s of c.standbys) await c.waitForReplay(s.name);
});

const pool = usePools(() => h.cluster.connectionString());
const limitedPool = usePools(() => h.cluster.connectionString().replace('postgres@', 'limited@'));
const replay = (paused: boolean, which = h.cluster.standbys) => setReplayPaused(which, paused);
afterEach(() => replay(false));

let nextId = 1;
const read = 'SELECT body, pg_is_in_recovery() AS standby FROM waits WHERE id = $1';

describe('causal reads wait on the standby', () => {
  it('a standby that replays within the bound serves the read after the write, with the write', async () => {
    const p = pool({ causalWaitMillis: 3000 });
    await p.query('SELECT 1');
    await replay(true);
    const id = nextId++;
    await p.query('INSERT INTO waits VALUES ($1, $2)', [id, 'waited']);
    const t0 = Date.now();
    const r = p.query(read, [id]);
    await new Promise((res) => setTimeout(res, 200));
    await replay(false);
    const { rows } = await r;
    expect(rows).toEqual([{ body: 'waited', standby: true }]);
    expect(Date.now() - t0, 'it waited for the replay, not for the bound').toBeLessThan(2500);
    expect(p.causalStats.standbyWaits).toBeGreaterThan(0);
    expect(p.causalStats.standbyWaitTimeouts).toBe(0);
  });

  it('a standby that does not get there within the bound: the read runs on the primary once the bound runs out, never stale', async () => {
    const p = pool({ causalWaitMillis: 150 });
    await p.query('SELECT 1');
    await replay(true);
    const id = nextId++;
    await p.query('INSERT INTO waits VALUES ($1, $2)', [id, 'bounded']);
    const t0 = Date.now();
    const { rows } = await p.query(read, [id]);
    const took = Date.now() - t0;
    expect(rows).toEqual([{ body: 'bounded', standby: false }]);
    expect(took).toBeGreaterThanOrEqual(140);
    expect(took, 'one bound, not one per standby plus a poll loop').toBeLessThan(1000);
    expect(p.causalStats.standbyWaitTimeouts).toBe(1);
  });

  it('a checked-out client: its read after the pool’s writes binds to a standby that waits for them, with the write', async () => {
    const p = pool({ causalWaitMillis: 3000 });
    await p.query('SELECT 1');
    await replay(true);
    const id = nextId++;
    await p.query('INSERT INTO waits VALUES ($1, $2)', [id, 'client-waited']);
    const c = await p.connect();
    try {
      const r = c.query(read, [id]);
      await new Promise((res) => setTimeout(res, 200));
      await replay(false);
      expect((await r).rows).toEqual([{ body: 'client-waited', standby: true }]);
      expect(c.boundTo?.role).toBe('standby');
    } finally {
      c.release();
    }
    expect(p.causalStats.standbyWaits).toBeGreaterThan(0);
  });

  it('a checked-out client: a standby that does not get there within the bound → the client binds to the primary, never stale', async () => {
    const p = pool({ causalWaitMillis: 150 });
    await p.query('SELECT 1');
    await replay(true);
    const id = nextId++;
    await p.query('INSERT INTO waits VALUES ($1, $2)', [id, 'client-bounded']);
    const c = await p.connect();
    try {
      const t0 = Date.now();
      expect((await c.query(read, [id])).rows).toEqual([{ body: 'client-bounded', standby: false }]);
      expect(Date.now() - t0).toBeLessThan(1500);
      expect(c.boundTo?.role).toBe('primary');
    } finally {
      c.release();
    }
    expect(p.causalStats.standbyWaitTimeouts).toBeGreaterThan(0);
  });

  it('causalWaitMillis 0: reads after writes go straight to the primary (the old behaviour)', async () => {
    const p = pool({ causalWaitMillis: 0 });
    await p.query('SELECT 1');
    await replay(true);
    const id = nextId++;
    await p.query('INSERT INTO waits VALUES ($1, $2)', [id, 'direct']);
    const t0 = Date.now();
    expect((await p.query(read, [id])).rows).toEqual([{ body: 'direct', standby: false }]);
    expect(Date.now() - t0).toBeLessThan(100);
    expect(p.causalStats.standbyWaits).toBe(0);
  });

  it('a frozen standby costs at most the bound plus the guard; the read is answered elsewhere, with the write', async () => {
    const p = pool({ causalWaitMillis: 300 });
    // Both standbys known and warm.
    for (let i = 0; i < 6; i++) await p.query('SELECT 1');
    const frozen = h.cluster.standbys[0]!;
    await replay(true, [h.cluster.standbys[1]!]);
    const id = nextId++;
    await p.query('INSERT INTO waits VALUES ($1, $2)', [id, 'frozen']);
    freezeNode(frozen);
    try {
      const t0 = Date.now();
      const { rows } = await p.query(read, [id]);
      const took = Date.now() - t0;
      expect(rows[0].body).toBe('frozen');
      // Worst case: the frozen one (bound + 500 ms guard), then the paused one (bound), then the primary.
      expect(took).toBeLessThan(300 + 500 + 300 + 700);
    } finally {
      thawNode(frozen);
    }
  });

  it('a standby that cannot run the wait (no plpgsql for the role) is detected once and left out of waits: never a failed query, never stale', async () => {
    const p = limitedPool({ causalWaitMillis: 100 });
    await p.query('SELECT 1');
    await replay(true);
    for (let i = 0; i < 3; i++) {
      const id = nextId++;
      await p.query('INSERT INTO waits VALUES ($1, $2)', [id, 'limited']);
      const { rows } = await p.query(read, [id]);
      expect(rows).toEqual([{ body: 'limited', standby: false }]);
    }
    const s = p.causalStats;
    expect(s.standbyWaitUnsupported, 'each standby found out once').toBeGreaterThanOrEqual(1);
    expect(s.standbyWaitUnsupported).toBeLessThanOrEqual(2);
    expect(s.standbyWaits).toBe(s.standbyWaitUnsupported);
  });

  it('the wait statement is one the server parses, and it names no user input', async () => {
    const sql = waitSql(0x16b374d848n, 20);
    expect(sql).toContain("'16/B374D848'::pg_lsn");
    expect(sql).toContain("interval '20 milliseconds'");
    // Runs on a standby that is there already, at once.
    const c = await connectTo(h.cluster.standbys[1]!);
    try {
      const t0 = Date.now();
      // A long bound, so that "at once" cannot be mistaken for "after the bound" on a loaded machine.
      const results = (await c.query(waitSql(0n, 5000))) as unknown as Array<{ rows: Array<{ lsn: string }> }>;
      expect(results[1]!.rows[0]!.lsn).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
      expect(Date.now() - t0).toBeLessThan(2500);
      // Behind (an LSN far ahead): it waits for the bound, then answers where replay is.
      const t1 = Date.now();
      const behind = (await c.query(waitSql(0xffffffffffn, 50))) as unknown as Array<{ rows: Array<{ lsn: string }> }>;
      expect(Date.now() - t1).toBeGreaterThanOrEqual(45);
      expect(behind[1]!.rows[0]!.lsn).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
    } finally {
      await c.end();
    }
  });
});
