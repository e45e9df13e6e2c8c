/**
 * A checked-out client whose session dies inside a transaction, on a real
 * primary + standby:
 *
 * - the block's later statements are refused (TRANSACTION_ROLLED_BACK, not
 *   run): on a fresh session they would commit one by one, outside the
 *   transaction the app believes it is in;
 * - ROLLBACK is answered at once without a server (the server already rolled
 *   back); COMMIT fails; after either, the client works again;
 * - a cursor whose session is cut right after its CommandComplete (before the
 *   ReadyForQuery its Close/Sync would bring) still calls back with the loss —
 *   pg-cursor alone never does (node-postgres#2468). The cut is made by a real
 *   TCP proxy in front of the primary that closes both sockets after that
 *   message: the one failure here that cannot be timed from the server side.
 */
import { describe, it, expect, afterAll, beforeAll } from 'vitest';
import net from 'node:net';
import Cursor from 'pg-cursor';
import QueryStream from 'pg-query-stream';
import { Pool } from '../../src';
import { useCluster } from '../support/cluster';

const h = useCluster({ standbys: 1 }, async (c) => {
  await c.primary.server.query('CREATE TABLE lost (id int PRIMARY KEY, v text)');
  await c.waitForReplay(c.standbys[0]!.name);
});

/**
 * Forwards to `port`; on a connection whose client sent a statement with a MARK comment, the
 * next server→client message of that mark's type (CommandComplete 'C', DataRow 'D') is the last
 * byte the client gets.
 */
class CuttingProxy {
  readonly server = net.createServer((client) => this.#pipe(client));
  cuts = 0;
  readonly #sockets = new Set<net.Socket>();
  constructor(readonly upstreamPort: number) {}

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  listen(): Promise<void> {
    return new Promise((r) => this.server.listen(0, '127.0.0.1', () => r()));
  }

  close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    return new Promise((r) => this.server.close(() => r()));
  }

  #pipe(client: net.Socket): void {
    const upstream = net.connect(this.upstreamPort, '127.0.0.1');
    this.#sockets.add(client).add(upstream);
    const cut = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', cut).on('close', cut);
    upstream.on('error', cut).on('close', cut);
    let armed: string | false = false;
    let severed = false; // nothing more passes either way (the client's Close/Sync must not reach the server)
    client.on('data', (d) => {
      if (severed) return;
      for (const [type, mark] of Object.entries(MARKS)) if (d.includes(mark)) armed = type;
      upstream.write(d);
    });
    // Server messages after the startup phase: a type byte and an int32 length.
    let pending = Buffer.alloc(0);
    upstream.on('data', (d) => {
      if (severed) return;
      if (!armed) return void client.write(d);
      pending = Buffer.concat([pending, d]);
      let at = 0;
      while (pending.length - at >= 5) {
        const len = pending.readInt32BE(at + 1);
        if (pending.length - at < 1 + len) break;
        const type = String.fromCharCode(pending[at]!);
        at += 1 + len;
        if (type === armed) {
          severed = true;
          this.cuts++;
          client.write(pending.subarray(0, at), () => setTimeout(cut, 20));
          pending = Buffer.alloc(0);
          return;
        }
      }
      client.write(pending.subarray(0, at));
      pending = pending.subarray(at);
    });
  }
}

const MARKS = { C: '/* cut-after-command-complete */', D: '/* cut-after-first-row */' };
const MARK = MARKS.C;
let proxy: CuttingProxy;
const pools: Pool[] = [];
beforeAll(async () => {
  proxy = new CuttingProxy(h.cluster.primary.server.port);
  await proxy.listen();
});
afterAll(async () => {
  await Promise.all(pools.map((p) => (p.ending ? undefined : p.end())));
  await proxy?.close();
});

/** Primary through the proxy, the standby direct; topology by probing. */
function pool(): Pool {
  const standby = h.cluster.standbys[0]!.server;
  const p = new Pool({ connectionString: `postgresql://postgres@127.0.0.1:${proxy.port},127.0.0.1:${standby.port}/postgres` });
  p.on('error', () => {});
  pools.push(p);
  return p;
}

const count = async (v: string) => Number((await h.cluster.primary.server.query<{ n: string }>('SELECT count(*) AS n FROM lost WHERE v = $1', [v]))[0]!.n);
const killSession = async (c: { query: (q: string) => Promise<{ rows: Array<{ pid: number }> }> }) => {
  const pid = (await c.query('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
  await h.cluster.primary.server.query('SELECT pg_terminate_backend($1)', [pid]);
  await new Promise((r) => setTimeout(r, 100));
};

describe('a checked-out client after its transaction was lost with its session', () => {
  it('refuses the rest of the block (nothing of it is written), answers ROLLBACK locally, then works again', async () => {
    const c = await pool().connect();
    try {
      await c.query('BEGIN');
      await c.query('INSERT INTO lost VALUES (1, $1)', ['first']);
      await killSession(c);
      await expect(c.query('INSERT INTO lost VALUES (2, $1)', ['second'])).rejects.toMatchObject({ code: 'TRANSACTION_ROLLED_BACK' });
      // The app carries on with its transaction: refused, not run on a new session in autocommit.
      const third = await c.query('INSERT INTO lost VALUES (3, $1)', ['third']).catch((e) => e);
      expect(third).toMatchObject({ code: 'TRANSACTION_ROLLED_BACK', message: expect.stringMatching(/statement not run.*ROLLBACK/) });
      const t0 = Date.now();
      const rb = await c.query('ROLLBACK');
      expect(rb.command).toBe('ROLLBACK');
      expect(Date.now() - t0, 'answered without a server').toBeLessThan(50);
      expect(await count('first')).toBe(0);
      expect(await count('second')).toBe(0);
      expect(await count('third')).toBe(0);
      // Usable again: a new transaction on a new session commits.
      await c.query('BEGIN');
      await c.query('INSERT INTO lost VALUES (4, $1)', ['again']);
      await c.query('COMMIT');
      expect(await count('again')).toBe(1);
    } finally {
      c.release();
    }
  });

  it('a COMMIT after the loss fails (it must not look committed) and ends the block', async () => {
    const c = await pool().connect();
    try {
      await c.query('BEGIN');
      await c.query('INSERT INTO lost VALUES (5, $1)', ['lost-commit']);
      await killSession(c);
      await expect(c.query('SELECT 1')).rejects.toMatchObject({ code: 'TRANSACTION_ROLLED_BACK' });
      await expect(c.query('COMMIT')).rejects.toMatchObject({ code: 'TRANSACTION_ROLLED_BACK' });
      expect(await count('lost-commit')).toBe(0);
      const r = await c.query('SELECT 2 AS two');
      expect(r.rows[0].two).toBe(2);
    } finally {
      c.release();
    }
  });

  it('a BEGIN lost with an idle session starts the transaction on a new session; with session state it fails', async () => {
    const c = await pool().connect();
    try {
      await c.query({ text: 'SELECT 1', route: 'primary' });
      await killSession(c);
      await c.query('BEGIN');
      await c.query('INSERT INTO lost VALUES (8, $1)', ['begin-again']);
      await c.query('COMMIT');
      expect(await count('begin-again')).toBe(1);
      await c.query("SET application_name = 'pinned'");
      await killSession(c);
      // Its SET died with the session: not silently started on a session without it.
      await expect(c.query('BEGIN')).rejects.toMatchObject({ code: expect.stringMatching(/^(TRANSACTION_RESOLUTION_UNKNOWN|CONNECTION_LOST)$/) });
    } finally {
      c.release();
    }
  });

  it("an idle session's death is no 'error' event unless the client holds session state; the next statement tells", async () => {
    const c = await pool().connect();
    const events: string[] = [];
    c.on('error', (e: Error) => events.push(e.message));
    try {
      // Outside a transaction: the next write simply runs on a new session.
      await c.query('INSERT INTO lost VALUES (9, $1)', ['idle-1']);
      await killSession(c);
      await c.query('INSERT INTO lost VALUES (10, $1)', ['idle-2']);
      expect(await count('idle-2')).toBe(1);
      // Inside one: no event (TypeORM would release the client under its transaction); the next statement says rolled back.
      await c.query('BEGIN');
      await c.query('INSERT INTO lost VALUES (11, $1)', ['idle-txn']);
      await killSession(c);
      expect(events).toEqual([]);
      await expect(c.query('INSERT INTO lost VALUES (12, $1)', ['idle-txn-2'])).rejects.toMatchObject({ code: 'TRANSACTION_ROLLED_BACK' });
      expect((await c.query('ROLLBACK')).command).toBe('ROLLBACK');
      expect(await count('idle-txn')).toBe(0);
      // Session state (LISTEN) died with it: that is the app's to rebuild, so it hears of it, as with pg.
      await c.query('LISTEN lost_channel');
      await killSession(c);
      expect(events.length, 'pg itself reports it twice: the FATAL, then the socket').toBeGreaterThanOrEqual(1);
    } finally {
      c.release();
    }
  });

  it('a read sent to the primary (route) and lost in flight runs again there; a write is not replayed', async () => {
    const c = await pool().connect();
    try {
      const pid = (await c.query({ text: 'SELECT pg_backend_pid() AS pid', route: 'primary' })).rows[0].pid;
      const read = c.query({ text: 'SELECT pg_sleep(0.5), pg_backend_pid() AS pid', route: 'primary' });
      await new Promise((r) => setTimeout(r, 150));
      await h.cluster.primary.server.query('SELECT pg_terminate_backend($1)', [pid]);
      const r = await read;
      expect(r.rows[0].pid, 'answered by a new session').not.toBe(pid);
      const pid2 = r.rows[0].pid;
      const write = c.query('INSERT INTO lost SELECT 13, $1 FROM pg_sleep(0.5)', ['slow-write']);
      await new Promise((r) => setTimeout(r, 150));
      await h.cluster.primary.server.query('SELECT pg_terminate_backend($1)', [pid2]);
      await expect(write).rejects.toMatchObject({ code: 'TRANSACTION_RESOLUTION_UNKNOWN' });
      expect(await count('slow-write')).toBe(0);
    } finally {
      c.release();
    }
  });

  it('a cursor cut between its CommandComplete and ReadyForQuery calls back with TRANSACTION_ROLLED_BACK; the next statement is refused', async () => {
    const c = await pool().connect();
    try {
      await c.query('BEGIN');
      await c.query('INSERT INTO lost VALUES (6, $1)', ['cursor']);
      const cursor = c.query(new Cursor(`SELECT id FROM lost ${MARK}`));
      const cuts = proxy.cuts;
      const outcome = await Promise.race([
        new Promise((resolve) => cursor.read(100, (err: Error | undefined, rows: unknown[]) => resolve(err ?? rows))),
        new Promise((resolve) => setTimeout(() => resolve('no callback within 5 s'), 5000)),
      ]);
      expect(proxy.cuts, 'the proxy cut after a CommandComplete').toBe(cuts + 1);
      expect(outcome).toMatchObject({ code: 'TRANSACTION_ROLLED_BACK' });
      await expect(c.query('INSERT INTO lost VALUES (7, $1)', ['after-cursor'])).rejects.toMatchObject({ code: 'TRANSACTION_ROLLED_BACK' });
      expect((await c.query('ROLLBACK')).command).toBe('ROLLBACK');
      expect(await count('cursor')).toBe(0);
      expect(await count('after-cursor')).toBe(0);
    } finally {
      c.release();
    }
  });

  it('a query stream cut mid-rows ends with the error instead of stalling (its cursor close() would wait for the dead session)', async () => {
    const c = await pool().connect();
    try {
      await c.query('BEGIN');
      await c.query('SELECT 1');
      const cuts = proxy.cuts;
      const stream = c.query(new QueryStream(`SELECT g FROM generate_series(1, 100000) g ${MARKS.D}`, [], { batchSize: 10 }));
      const outcome = await Promise.race([
        (async () => {
          let n = 0;
          try {
            for await (const _ of stream) n++;
            return `ended after ${n} rows`;
          } catch (e) {
            return e;
          }
        })(),
        new Promise((resolve) => setTimeout(() => resolve('stalled for 5 s'), 5000)),
      ]);
      expect(proxy.cuts, 'the proxy cut after a DataRow').toBe(cuts + 1);
      expect(outcome).toMatchObject({ code: 'TRANSACTION_ROLLED_BACK' });
      expect((await c.query('ROLLBACK')).command).toBe('ROLLBACK');
    } finally {
      c.release();
    }
  });

  it('a query stream cut the same way ends with the error instead of stalling', async () => {
    const c = await pool().connect();
    try {
      await c.query('BEGIN');
      await c.query('SELECT 1'); // bound to the primary (through the proxy) by the transaction
      const cuts = proxy.cuts;
      const stream = c.query(new QueryStream(`SELECT g FROM generate_series(1, 3) g ${MARK}`));
      const outcome = await Promise.race([
        (async () => {
          const rows: unknown[] = [];
          try {
            for await (const row of stream) rows.push(row);
            return rows;
          } catch (e) {
            return e;
          }
        })(),
        new Promise((resolve) => setTimeout(() => resolve('stalled for 5 s'), 5000)),
      ]);
      expect(proxy.cuts, 'the proxy cut after a CommandComplete').toBe(cuts + 1);
      expect(outcome).toMatchObject({ code: 'TRANSACTION_ROLLED_BACK' });
      expect((await c.query('ROLLBACK')).command).toBe('ROLLBACK');
    } finally {
      c.release();
    }
  });
});
