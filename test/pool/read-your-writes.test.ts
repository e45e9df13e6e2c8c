/**
 * Read-your-writes and lag limits on a real primary + 2 standbys. Standbys
 * are made to lag for real with pg_wal_replay_pause(): a process that wrote
 * must not read older data, and the same guarantee travels in a token.
 */
import { describe, it, expect, afterEach } from 'vitest';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { from as copyFrom } from 'pg-copy-streams';
import { FailoverError } from '../../src';
import { useCluster } from '../support/cluster';
import { setReplayPaused, usePools } from '../support/pools';

const h = useCluster({ standbys: 2 }, async (c) => {
  await c.primary.server.query('CREATE TABLE notes (id int PRIMARY KEY, body text)');
  for (const s of c.standbys) await c.waitForReplay(s.name);
});

const pool = usePools(() => h.cluster.connectionString());
const pauseReplay = (paused: boolean) => setReplayPaused(h.cluster.standbys, paused);
afterEach(() => pauseReplay(false));

let nextId = 1;
const where = 'SELECT pg_is_in_recovery() AS standby';

describe('read-your-writes (on by default)', () => {
  it('a write-then-read loop never reads stale data, and reads still reach standbys once they caught up', async () => {
    const p = pool();
    let onStandby = 0;
    for (let i = 0; i < 200; i++) {
      const id = nextId++;
      await p.query('INSERT INTO notes (id, body) VALUES ($1, $2)', [id, `n${id}`]);
      const { rows } = await p.query('SELECT body, pg_is_in_recovery() AS standby FROM notes WHERE id = $1', [id]);
      expect(rows).toHaveLength(1);
      expect(rows[0].body).toBe(`n${id}`);
      if (rows[0].standby) onStandby++;
      if (i % 20 === 19) {
        // A pause, then reads of older rows: these may (and should) go back to standbys.
        await new Promise((r) => setTimeout(r, 30));
        for (let j = 0; j < 3; j++) {
          const r = await p.query('SELECT body, pg_is_in_recovery() AS standby FROM notes WHERE id = $1', [id - j]);
          expect(r.rows[0].body).toBe(`n${id - j}`);
          if (r.rows[0].standby) onStandby++;
        }
      }
    }
    const s = p.causalStats;
    console.log(`200 write→read pairs: ${onStandby} reads on standbys, ${s.readsSentToPrimary} kept on the primary, ${s.lsnFetches} LSN fetches, ${s.replayPolls} replay polls`);
    expect(onStandby).toBeGreaterThan(0); // not simply "everything on the primary"
    expect(s.lsnFetches).toBeGreaterThan(0);
  }, 60_000);

  it('a COPY … FROM STDIN on a checked-out client counts as a write: the next read does not miss its rows', async () => {
    const p = pool();
    await p.query(where); // started, topology known
    // Settled: the first read goes to a standby (nothing written yet through this pool).
    let settled = false;
    for (let i = 0; i < 100 && !settled; i++) settled = (await p.query(where)).rows[0].standby;
    expect(settled).toBe(true);
    await pauseReplay(true);
    const id = nextId++;
    const c = await p.connect();
    try {
      await c.query({ text: 'SELECT 1', route: 'primary' });
      await pipeline(Readable.from([`${id}\tcopied\n`]), c.query(copyFrom('COPY notes (id, body) FROM STDIN')));
    } finally {
      c.release();
    }
    const r = await p.query('SELECT body, pg_is_in_recovery() AS standby FROM notes WHERE id = $1', [id]);
    expect(r.rows).toEqual([{ body: 'copied', standby: false }]);
  });

  it('with replay paused on every standby, reads after a write go to the primary; with readYourWrites none they are stale', async () => {
    const causal = pool();
    const loose = pool({ readYourWrites: 'none' });
    await causal.query(where); // both pools started
    await loose.query(where);
    await pauseReplay(true);
    const id = nextId++;
    await causal.query('INSERT INTO notes (id, body) VALUES ($1, $2)', [id, 'fresh']);
    await loose.query('INSERT INTO notes (id, body) VALUES ($1, $2)', [id + 100_000, 'fresh']);
    const c = await causal.query('SELECT body, pg_is_in_recovery() AS standby FROM notes WHERE id = $1', [id]);
    expect(c.rows).toEqual([{ body: 'fresh', standby: false }]);
    const l = await loose.query('SELECT body, pg_is_in_recovery() AS standby FROM notes WHERE id = $1', [id + 100_000]);
    expect(l.rows).toEqual([]); // a standby that has not replayed it: the anomaly read-your-writes prevents
    // Resume: the causal pool's reads go back to standbys.
    await pauseReplay(false);
    let back = false;
    for (let i = 0; i < 100 && !back; i++) {
      back = (await causal.query(where)).rows[0].standby;
      if (!back) await new Promise((r) => setTimeout(r, 20));
    }
    expect(back).toBe(true);
  }, 60_000);

  it('default (reads wait on standbys): under a continuous write stream every read sees its own write, and nearly all run on standbys', async () => {
    const p = pool();
    await p.query(where);
    let reads = 0;
    let onStandby = 0;
    const until = Date.now() + 1500;
    await Promise.all(
      Array.from({ length: 6 }, async () => {
        while (Date.now() < until) {
          const id = nextId++;
          await p.query('INSERT INTO notes (id, body) VALUES ($1, $2)', [id, `w${id}`]);
          const { rows } = await p.query('SELECT body, pg_is_in_recovery() AS standby FROM notes WHERE id = $1', [id]);
          expect(rows.map((r) => r.body)).toEqual([`w${id}`]);
          reads++;
          if (rows[0].standby) onStandby++;
        }
      }),
    );
    const s = p.causalStats;
    console.log(`write stream, reads waiting on standbys: ${onStandby}/${reads} reads on standbys, ${s.standbyLooks} looks, ${s.standbyWaits} waited there, ${s.standbyWaitTimeouts} ran out of time, ${s.lsnFetches} positions learnt`);
    expect(reads).toBeGreaterThan(200);
    expect(onStandby / reads).toBeGreaterThan(0.9);
  }, 60_000);

  it('causalWaitMillis 0: under a continuous write stream, positions are fetched at a pace, not per write; every read still sees its own write, and a pause sends reads back to standbys', async () => {
    const p = pool({ causalWaitMillis: 0 });
    await p.query(where);
    const before = p.causalStats;
    let writes = 0;
    const until = Date.now() + 1500;
    // 6 workers, each write followed by a read of that row: writes never pause for 2 ms.
    await Promise.all(
      Array.from({ length: 6 }, async () => {
        while (Date.now() < until) {
          const id = nextId++;
          await p.query('INSERT INTO notes (id, body) VALUES ($1, $2)', [id, `s${id}`]);
          writes++;
          const { rows } = await p.query('SELECT body FROM notes WHERE id = $1', [id]);
          expect(rows).toEqual([{ body: `s${id}` }]);
        }
      }),
    );
    const fetches = p.causalStats.lsnFetches - before.lsnFetches;
    console.log(`continuous stream: ${writes} writes, ${fetches} position fetches, ${p.causalStats.replayPolls - before.replayPolls} replay polls`);
    expect(writes).toBeGreaterThan(300);
    expect(fetches).toBeLessThan(writes / 10); // per write it would be ~writes / 2 (2 ms coalescing)
    // The stream stops: the position is learnt at once, and reads of older rows go back to standbys.
    await new Promise((r) => setTimeout(r, 50));
    let onStandby = 0;
    for (let i = 0; i < 5; i++) if ((await p.query(where)).rows[0].standby) onStandby++;
    expect(onStandby).toBeGreaterThan(0);
  }, 60_000);

  it('readFrom standby under a continuous write stream: every read waits only for the writes completed before it, and sees them', async () => {
    const p = pool({ readFrom: 'standby' });
    await p.query('INSERT INTO notes (id, body) VALUES ($1, $2)', [nextId++, 'warm']);
    let lastDone = 0;
    let stop = false;
    const writers = Array.from({ length: 4 }, async () => {
      while (!stop) {
        const id = nextId++;
        await p.query('INSERT INTO notes (id, body) VALUES ($1, $2)', [id, `w${id}`]);
        if (id > lastDone) lastDone = id;
      }
    });
    const waits: number[] = [];
    const until = Date.now() + 1500;
    try {
      await Promise.all(
        Array.from({ length: 2 }, async () => {
          while (Date.now() < until) {
            const id = lastDone;
            const t = Date.now();
            const { rows } = await p.query('SELECT body, pg_is_in_recovery() AS standby FROM notes WHERE id = $1', [id]);
            waits.push(Date.now() - t);
            if (id > 0) expect(rows).toEqual([{ body: `w${id}`, standby: true }]);
          }
        }),
      );
    } finally {
      stop = true;
      await Promise.all(writers);
    }
    waits.sort((a, b) => a - b);
    const median = waits[waits.length >> 1]!;
    console.log(`readFrom standby under a write stream: ${waits.length} reads, median ${median} ms, max ${waits[waits.length - 1]} ms`);
    expect(waits.length).toBeGreaterThan(20);
    expect(median).toBeLessThan(50);
  }, 60_000);

  it('readFrom standby, replay paused: a read after a write fails with NO_STANDBY instead of reading stale data, and waits for the standby once replay resumes (regression: it read stale rows)', async () => {
    const p = pool({ readFrom: 'standby', failoverTimeoutMillis: 1000 });
    await p.query(where);
    await pauseReplay(true);
    const id = nextId++;
    await p.query('INSERT INTO notes (id, body) VALUES ($1, $2)', [id, 'held']);
    const t = Date.now();
    await expect(p.query('SELECT body FROM notes WHERE id = $1', [id])).rejects.toMatchObject({ code: 'NO_STANDBY' });
    expect(Date.now() - t).toBeGreaterThanOrEqual(900);
    const pending = p.query('SELECT body, pg_is_in_recovery() AS standby FROM notes WHERE id = $1', [id]);
    await new Promise((r) => setTimeout(r, 200));
    await pauseReplay(false);
    expect((await pending).rows).toEqual([{ body: 'held', standby: true }]);
  }, 60_000);

  it('causalScope (causalWaitMillis 0, so that where a read runs shows what it must see): while scopes keep writing, each sees its own writes, scopes that wrote nothing read from standbys, unscoped reads stay pool-wide', async () => {
    const p = pool({ causalWaitMillis: 0 });
    await p.query(where);
    let stop = false;
    let ownReads = 0;
    const writers = Array.from({ length: 3 }, () =>
      p.causalScope(async () => {
        while (!stop) {
          const id = nextId++;
          await p.query('INSERT INTO notes (id, body) VALUES ($1, $2)', [id, `c${id}`]);
          const { rows } = await p.query('SELECT body FROM notes WHERE id = $1', [id]);
          expect(rows).toEqual([{ body: `c${id}` }]);
          ownReads++;
        }
      }),
    );
    const count = { scoped: 0, scopedOnStandby: 0, unscoped: 0, unscopedOnStandby: 0 };
    const until = Date.now() + 1500;
    try {
      await Promise.all([
        ...Array.from({ length: 2 }, () =>
          p.causalScope(async () => {
            while (Date.now() < until) {
              count.scoped++;
              if ((await p.query(where)).rows[0].standby) count.scopedOnStandby++;
            }
          }),
        ),
        (async () => {
          while (Date.now() < until) {
            count.unscoped++;
            if ((await p.query(where)).rows[0].standby) count.unscopedOnStandby++;
          }
        })(),
      ]);
    } finally {
      stop = true;
      await Promise.all(writers);
    }
    console.log(`causalScope under a write stream: ${ownReads} write→read pairs fresh; scoped reads on standbys ${count.scopedOnStandby}/${count.scoped}, unscoped ${count.unscopedOnStandby}/${count.unscoped}`);
    expect(ownReads).toBeGreaterThan(50);
    expect(count.scopedOnStandby / count.scoped).toBeGreaterThan(0.9);
    expect(count.unscopedOnStandby / count.unscoped).toBeLessThan(0.5);
  }, 60_000);

  it('causalScope with replay paused: the writing scope reads its row, another scope may read from a standby that lacks it, unscoped code still sees it', async () => {
    const p = pool();
    await p.query(where);
    await pauseReplay(true);
    const id = nextId++;
    const mine = await p.causalScope(async () => {
      await p.query('INSERT INTO notes (id, body) VALUES ($1, $2)', [id, 'scoped']);
      return (await p.query('SELECT body, pg_is_in_recovery() AS standby FROM notes WHERE id = $1', [id])).rows;
    });
    expect(mine).toEqual([{ body: 'scoped', standby: false }]);
    const other = await p.causalScope(() => p.query('SELECT body, pg_is_in_recovery() AS standby FROM notes WHERE id = $1', [id]));
    expect(other.rows).toEqual([]); // a standby that has not replayed it: this scope never wrote it
    const unscoped = await p.query('SELECT body, pg_is_in_recovery() AS standby FROM notes WHERE id = $1', [id]);
    expect(unscoped.rows).toEqual([{ body: 'scoped', standby: false }]);
  }, 60_000);

  it('a causal token carries the guarantee to another pool (another request or process)', async () => {
    const writer = pool();
    const reader = pool({ readYourWrites: 'none' });
    await reader.query(where);
    await pauseReplay(true);
    const id = nextId++;
    await writer.query('INSERT INTO notes (id, body) VALUES ($1, $2)', [id, 'tokened']);
    const token = await writer.causalToken();
    expect(token).toMatch(/^pgfo1:[0-9A-F]+\/[0-9A-F]+$/);
    const r = await reader.query({ text: 'SELECT body FROM notes WHERE id = $1', values: [id], after: token });
    expect(r.rows).toEqual([{ body: 'tokened' }]);
    // A checked-out client honours it too.
    const client = await reader.connect();
    try {
      const r2 = await client.query({ text: 'SELECT body FROM notes WHERE id = $1', values: [id], after: token } as never);
      expect(r2.rows).toEqual([{ body: 'tokened' }]);
    } finally {
      client.release();
    }
    await expect(reader.query({ text: 'SELECT 1', after: 'not-a-token' })).rejects.toMatchObject({ code: 'INVALID_OPTION' });
  }, 60_000);

  it('readFrom primary: no position is fetched per write, yet a token still covers the last write', async () => {
    const writer = pool({ readFrom: 'primary' });
    const reader = pool({ readYourWrites: 'none' });
    await reader.query(where);
    for (let i = 0; i < 20; i++) await writer.query('INSERT INTO notes (id, body) VALUES ($1, $2)', [nextId++, 'primary-only']);
    expect((await writer.query(where)).rows[0].standby).toBe(false);
    await new Promise((r) => setTimeout(r, 100)); // past the write-only fetch pace: still nothing fetched
    expect(writer.causalStats.lsnFetches).toBe(0);
    expect(writer.causalStats.readsSentToPrimary).toBe(0); // the policy sends reads there, not causality
    await pauseReplay(true);
    const id = nextId++;
    try {
      await writer.query('INSERT INTO notes (id, body) VALUES ($1, $2)', [id, 'tokened-primary']);
      const token = await writer.causalToken();
      expect(writer.causalStats.lsnFetches).toBe(1);
      const read = reader.query({ text: 'SELECT body FROM notes WHERE id = $1', values: [id], after: token });
      await new Promise((r) => setTimeout(r, 200));
      await pauseReplay(false);
      expect((await read).rows).toEqual([{ body: 'tokened-primary' }]);
    } finally {
      await pauseReplay(false);
    }
  }, 60_000);

  it('a time window sends reads to the primary right after a write', async () => {
    const p = pool({ readYourWrites: { windowMillis: 300 } });
    await p.query('INSERT INTO notes (id, body) VALUES ($1, $2)', [nextId++, 'w']);
    expect((await p.query(where)).rows[0].standby).toBe(false);
    await new Promise((r) => setTimeout(r, 350));
    expect((await p.query(where)).rows[0].standby).toBe(true);
    expect(() => pool({ readYourWrites: { windowMillis: -1 } })).toThrow(FailoverError);
    expect(() => pool({ readYourWrites: 'sometimes' as never })).toThrow(/readYourWrites must be/);
  }, 30_000);
});

describe('replica lag limits', () => {
  it('a standby further behind than maxReplicaLagBytes is skipped', async () => {
    const p = pool({ readYourWrites: 'none', maxReplicaLagBytes: 1024, recheckIntervalMillis: 100 });
    await p.query(where);
    const [lagging, healthy] = h.cluster.standbys;
    await lagging!.server.query('SELECT pg_wal_replay_pause()');
    // Generate well over 1 kB of WAL the paused standby will not replay.
    await h.cluster.primary.server.query("INSERT INTO notes SELECT g, repeat('x', 200) FROM generate_series(1000000, 1000200) g");
    await h.cluster.waitForReplay(healthy!.name);
    await new Promise((r) => setTimeout(r, 400)); // a few probe rechecks
    const ports = new Set<number>();
    for (let i = 0; i < 20; i++) ports.add((await p.query('SELECT inet_server_port() AS port')).rows[0].port);
    expect(ports.has(lagging!.server.port)).toBe(false);
    expect(ports.has(healthy!.server.port)).toBe(true);
    const lag = p.topology!.members.find((m) => m.port === lagging!.server.port)!.lagBytes!;
    expect(lag).toBeGreaterThan(1024);
  }, 30_000);
});
