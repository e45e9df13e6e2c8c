/**
 * resolveWriteOutcome: an autocommit write lost with its connection is resolved on the primary
 * (pg_xact_status of the transaction id it told first), on a real primary behind a proxy that
 * can drop its sessions (real sockets) or with the backend terminated for real:
 *
 * - killed while running (it did not commit) → TRANSACTION_ROLLED_BACK, and the row is absent;
 *   without the option the same loss is TRANSACTION_RESOLUTION_UNKNOWN;
 * - the session lost under a running write → resolved (committed or not), matching the table;
 * - the session lost before the transaction id came back → the write was never sent (it goes out
 *   only after that answer): it runs again, once;
 * - every answer after the id lost in transit → TRANSACTION_COMMITTED (the same server, not
 *   restarted, vouches for its own transaction ids);
 * - statements that cannot run in a transaction block are sent as they are.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useCluster } from '../support/cluster';
import { LatencyProxy } from '../support/latency-proxy';
import { usePools } from '../support/pools';
import { FailoverError } from '../../src';

const h = useCluster({ standbys: 0 }, async (c) => {
  await c.primary.server.query('CREATE TABLE outcomes (id int PRIMARY KEY)');
});

/** The server's answers can be delayed, and the open sessions dropped (new ones still go through). */
let proxy: LatencyProxy;
beforeAll(async () => {
  proxy = await LatencyProxy.start(h.cluster.primary.server.host, h.cluster.primary.server.port);
});
afterAll(() => proxy?.close());
const drop = () => proxy.drop();

const pool = usePools(() => `postgresql://postgres@127.0.0.1:${proxy.port}/postgres`);
const rows = async (id: number) => (await h.cluster.primary.server.query<{ n: number }>('SELECT count(*)::int AS n FROM outcomes WHERE id = $1', [id]))[0]!.n;
async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
    return undefined;
  } catch (e) {
    return e instanceof FailoverError ? e.code : `not ours: ${(e as Error).message}`;
  }
}

/** Terminates the backend running `pattern` once it shows in pg_stat_activity. */
async function terminateWhenRunning(pattern: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const r = await h.cluster.primary.server.query<{ ok: boolean }>(
      "SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE query LIKE $1 AND pid <> pg_backend_pid()",
      [pattern],
    );
    if (r.length) return;
    await new Promise((res) => setTimeout(res, 20));
  }
  throw new Error('the write never showed up');
}

describe('resolveWriteOutcome', () => {
  it('a write killed while it runs did not commit: TRANSACTION_ROLLED_BACK (without the option: TRANSACTION_RESOLUTION_UNKNOWN), the row absent', async () => {
    for (const [resolveWriteOutcome, expected, id] of [
      [true, 'TRANSACTION_ROLLED_BACK', 1],
      [false, 'TRANSACTION_RESOLUTION_UNKNOWN', 2],
    ] as const) {
      const p = pool({ readFrom: 'primary', resolveWriteOutcome, failoverTimeoutMillis: 5000 });
      await p.query('SELECT 1');
      const w = codeOf(p.query(`INSERT INTO outcomes SELECT ${id} FROM pg_sleep(2) /* victim ${id} */`));
      await terminateWhenRunning(`%victim ${id}%`);
      expect(await w).toBe(expected);
      expect(await rows(id)).toBe(0);
    }
  });

  it('the server ends the session before the transaction id came back (the write not sent yet): the write runs again on a new session, once', async () => {
    // The pool's one session is frozen (SIGSTOP of its real backend) while the write is sent, told to
    // terminate, then thawed: the backend handles the termination before it reads the write.
    const p = pool({ readFrom: 'primary', resolveWriteOutcome: true, failoverTimeoutMillis: 5000, max: 1 });
    const pid = (await p.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    process.kill(pid, 'SIGSTOP');
    let w: Promise<string | undefined>;
    try {
      w = codeOf(p.query('INSERT INTO outcomes VALUES (7)'));
      await new Promise((r) => setTimeout(r, 100));
      await h.cluster.primary.server.query('SELECT pg_terminate_backend($1)', [pid]);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    expect(await w!).toBeUndefined();
    expect(await rows(7)).toBe(1);
  });

  it('a session lost under a running write, its transaction id in hand: resolved one way or the other, and the verdict matches the table', async () => {
    const p = pool({ readFrom: 'primary', resolveWriteOutcome: true, failoverTimeoutMillis: 5000 });
    await p.query('SELECT 1');
    const w = codeOf(p.query('INSERT INTO outcomes SELECT $1 FROM pg_sleep(0.5) /* dropped */', [3]));
    for (let i = 0; i < 100; i++) {
      const r = await h.cluster.primary.server.query("SELECT 1 FROM pg_stat_activity WHERE query LIKE '%/* dropped */%' AND pid <> pg_backend_pid()");
      if (r.length) break;
      await new Promise((res) => setTimeout(res, 10));
    }
    drop(); // the client's socket goes; the server finds out when it answers
    const code = await w;
    expect(['TRANSACTION_COMMITTED', 'TRANSACTION_ROLLED_BACK']).toContain(code);
    // Wait for the backend to be gone, then check the verdict against the table.
    for (let i = 0; i < 100; i++) {
      const r = await h.cluster.primary.server.query("SELECT 1 FROM pg_stat_activity WHERE query LIKE '%/* dropped */%' AND pid <> pg_backend_pid()");
      if (!r.length) break;
      await new Promise((res) => setTimeout(res, 20));
    }
    expect(await rows(3)).toBe(code === 'TRANSACTION_COMMITTED' ? 1 : 0);
  });

  it('every answer after the transaction id lost in transit (the write did commit) → TRANSACTION_COMMITTED, not run again', async () => {
    const p = pool({ readFrom: 'primary', resolveWriteOutcome: true, failoverTimeoutMillis: 5000 });
    await p.query('SELECT 1');
    proxy.delayMillis = 400;
    try {
      const w = codeOf(p.query('INSERT INTO outcomes VALUES ($1)', [6]));
      for (let i = 0; i < 150 && (await rows(6)) === 0; i++) await new Promise((r) => setTimeout(r, 10));
      expect(await rows(6)).toBe(1);
      drop();
      expect(await w).toBe('TRANSACTION_COMMITTED');
      expect(await rows(6)).toBe(1);
    } finally {
      proxy.delayMillis = 0;
    }
  });

  it('the session lost before the transaction id came back: the write had not been sent, it runs again and lands once', async () => {
    const p = pool({ readFrom: 'primary', resolveWriteOutcome: true, failoverTimeoutMillis: 5000 });
    await p.query('SELECT 1');
    proxy.delayMillis = 300;
    try {
      const w = codeOf(p.query('INSERT INTO outcomes VALUES ($1)', [8]));
      await new Promise((r) => setTimeout(r, 100)); // the id's answer is still in the proxy
      expect(await rows(8)).toBe(0);
      drop();
      expect(await w).toBeUndefined();
      expect(await rows(8)).toBe(1);
    } finally {
      proxy.delayMillis = 0;
    }
  });

  it('a write that is answered goes through unchanged, and statements that cannot run in a transaction block are sent as they are', async () => {
    const p = pool({ readFrom: 'primary', resolveWriteOutcome: true });
    expect((await p.query('INSERT INTO outcomes VALUES ($1) RETURNING id', [4])).rows).toEqual([{ id: 4 }]);
    expect((await p.query('UPDATE outcomes SET id = 5 WHERE id = 4')).rowCount).toBe(1);
    await expect(p.query('INSERT INTO outcomes VALUES (5)')).rejects.toMatchObject({ code: '23505' });
    await p.query('VACUUM outcomes');
    await p.query('CREATE INDEX CONCURRENTLY IF NOT EXISTS outcomes_idx ON outcomes (id)');
    expect(await rows(5)).toBe(1);
  });

  it('a non-boolean value is refused with INVALID_OPTION', () => {
    expect(() => pool({ resolveWriteOutcome: 'yes' as unknown as boolean })).toThrow(expect.objectContaining({ code: 'INVALID_OPTION' }));
  });
});
