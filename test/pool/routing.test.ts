/**
 * Pool routing against a real primary + 2 streaming standbys: reads go to
 * standbys, writes/transactions/session state to the primary, checked-out
 * clients bind lazily and stay bound, a misrouted write self-corrects.
 */
import { describe, it, expect, afterAll } from 'vitest';
import { Pool, FailoverError } from '../../src';
import { useCluster } from '../support/cluster';

const h = useCluster({ standbys: 2 }, async (c) => {
  await c.primary.server.query('CREATE TABLE items (id serial PRIMARY KEY, v text)');
  await c.primary.server.query(`CREATE FUNCTION bump() RETURNS int LANGUAGE sql AS $$ INSERT INTO items (v) VALUES ('bump') RETURNING id $$`);
  await c.primary.server.query(`CREATE FUNCTION pure_add(a int, b int) RETURNS int IMMUTABLE LANGUAGE sql AS $$ SELECT a + b $$`);
  for (const s of c.standbys) await c.waitForReplay(s.name);
});

const pools: Pool[] = [];
function pool(extra: ConstructorParameters<typeof Pool>[0] & object = {}): Pool {
  const p = new Pool({ connectionString: h.cluster.connectionString(), ...extra });
  pools.push(p);
  return p;
}
afterAll(async () => {
  await Promise.all(pools.map((p) => (p.ending ? undefined : p.end())));
});

const where = 'SELECT pg_is_in_recovery() AS standby, inet_server_port() AS port';

describe('Pool.query routing', () => {
  it('sends reads to standbys, spread over both, and writes to the primary', async () => {
    const p = pool();
    const ports = new Set<number>();
    for (let i = 0; i < 12; i++) {
      const { rows } = await p.query(where);
      expect(rows[0].standby).toBe(true);
      ports.add(rows[0].port);
    }
    expect([...ports].sort()).toEqual(h.cluster.standbys.map((s) => s.server.port).sort());
    const ins = await p.query('INSERT INTO items (v) VALUES ($1) RETURNING id', ['a']);
    expect(ins.rowCount).toBe(1);
    const { rows } = await p.query("SELECT nextval('items_id_seq') AS n");
    expect(Number(rows[0].n)).toBeGreaterThan(0);
  });

  it('least-busy counts checked-out clients: with a session held on one standby, reads go to the other', async () => {
    const p = pool();
    const c = await p.connect();
    try {
      const held = (await c.query(where)).rows[0];
      expect(held.standby).toBe(true);
      const ports = new Set<number>();
      for (let i = 0; i < 8; i++) ports.add((await p.query(where)).rows[0].port);
      expect([...ports]).toEqual(h.cluster.standbys.map((s) => s.server.port).filter((port) => port !== held.port));
    } finally {
      c.release();
    }
    // Released: both serve again.
    const after = new Set<number>();
    for (let i = 0; i < 8; i++) after.add((await p.query(where)).rows[0].port);
    expect(after.size).toBe(2);
  });

  it('honours per-query route overrides and comment hints', async () => {
    const p = pool();
    expect((await p.query({ text: where, route: 'primary' })).rows[0].standby).toBe(false);
    expect((await p.query(`/* pgfailover:primary */ ${where}`)).rows[0].standby).toBe(false);
  });

  it('readFrom primary and target_session_attrs=primary keep everything on the primary', async () => {
    expect((await pool({ readFrom: 'primary' }).query(where)).rows[0].standby).toBe(false);
    const p = new Pool({ connectionString: h.cluster.connectionString({ params: { target_session_attrs: 'primary' } }) });
    pools.push(p);
    expect((await p.query(where)).rows[0].standby).toBe(false);
  });

  it('a write misclassified as a read (readOnlyFunctions) is re-run on the primary after SQLSTATE 25006, and remembered', async () => {
    const p = pool({ readOnlyFunctions: ['bump'], learnFunctionVolatility: false });
    const before = Number((await h.cluster.primary.server.query<{ n: string }>('SELECT count(*) AS n FROM items'))[0].n);
    const r = await p.query('SELECT bump() AS id');
    expect(r.rows[0].id).toBeGreaterThan(0);
    const after = Number((await h.cluster.primary.server.query<{ n: string }>('SELECT count(*) AS n FROM items'))[0].n);
    expect(after).toBe(before + 1); // ran exactly once
    await p.query('SELECT bump() AS id');
    expect(Number((await h.cluster.primary.server.query<{ n: string }>('SELECT count(*) AS n FROM items'))[0].n)).toBe(before + 2);
  });

  it('a checked-out client: a write a standby refuses (25006) runs once on the primary, even when routed to a standby by request', async () => {
    const p = pool({ readOnlyFunctions: ['bump'], learnFunctionVolatility: false });
    const count = async () => Number((await h.cluster.primary.server.query<{ n: string }>('SELECT count(*) AS n FROM items'))[0].n);
    const before = await count();
    const c = await p.connect();
    try {
      const r = await c.query({ text: 'SELECT bump() AS id, pg_is_in_recovery() AS standby', route: 'standby' } as never);
      expect(r.rows[0].standby).toBe(false);
      expect(c.boundTo?.role).toBe('primary');
    } finally {
      c.release();
    }
    expect(await count()).toBe(before + 1);
  });

  it('supports callbacks like pg.Pool', async () => {
    const p = pool();
    const rows = await new Promise<unknown[]>((resolve, reject) => p.query('SELECT 1 AS x', (err, res) => (err ? reject(err) : resolve(res!.rows))));
    expect(rows).toEqual([{ x: 1 }]);
    const err = await new Promise<Error>((resolve) => p.query('SELECT * FROM no_such_table', [], (e) => resolve(e!)));
    expect((err as { code?: string }).code).toBe('42P01'); // the server's own error, unwrapped
  });

  it('counts sessions like pg.Pool and ends cleanly', async () => {
    const p = pool({ warmConnectionsPerNode: 0 });
    await Promise.all([p.query('SELECT pg_sleep(0.05)'), p.query('SELECT pg_sleep(0.05)'), p.query('INSERT INTO items (v) VALUES (1)')]);
    expect(p.totalCount).toBeGreaterThanOrEqual(2);
    // Background work (read-your-writes' WAL position, standby replay polls, pg_proc learning) settles quickly.
    for (let i = 0; i < 100 && p.idleCount !== p.totalCount; i++) await new Promise((r) => setTimeout(r, 20));
    expect(p.idleCount).toBe(p.totalCount);
    expect(p.waitingCount).toBe(0);
    await p.end();
    expect(p.ended).toBe(true);
    await expect(p.query('SELECT 1')).rejects.toMatchObject({ code: 'POOL_ENDED' });
  });

  it('rejects bad options with INVALID_OPTION naming the option', () => {
    expect(() => new Pool({ connectionString: h.cluster.connectionString(), readFrom: 'sometimes' as never })).toThrow(/readFrom/);
    expect(() => new Pool({ connectionString: h.cluster.connectionString(), failoverTimeoutMillis: -1 })).toThrow(FailoverError);
    expect(() => new Pool({ connectionString: 'postgresql://h:99999/db' })).toThrow(expect.objectContaining({ code: expect.stringMatching(/^CONNINFO_/) }));
  });
});

describe('checked-out clients bind lazily and stay bound', () => {
  it('a read binds to a standby; a later write outside a transaction moves to the primary', async () => {
    const c = await pool().connect();
    try {
      expect((await c.query(where)).rows[0].standby).toBe(true);
      expect(c.boundTo?.role).toBe('standby');
      await c.query('INSERT INTO items (v) VALUES ($1)', ['moved']);
      expect(c.boundTo?.role).toBe('primary');
      expect((await c.query(where)).rows[0].standby).toBe(false); // stays bound
    } finally {
      c.release();
    }
  });

  it('BEGIN binds to the primary for the whole transaction; BEGIN READ ONLY to a standby', async () => {
    const p = pool({ readYourWrites: 'none' }); // binding rules alone (read-your-writes would keep the next read on the primary)
    const c = await p.connect();
    try {
      await c.query('BEGIN');
      expect((await c.query(where)).rows[0].standby).toBe(false);
      await c.query('INSERT INTO items (v) VALUES ($1)', ['tx']);
      await c.query('COMMIT');
    } finally {
      c.release();
    }
    const r = await p.connect();
    try {
      await r.query('BEGIN READ ONLY');
      expect((await r.query(where)).rows[0].standby).toBe(true);
      await r.query('COMMIT');
    } finally {
      r.release();
    }
  });

  it('session state (SET, temp tables, LISTEN) pins to the primary and survives across statements', async () => {
    const c = await pool().connect();
    try {
      await c.query("SET application_name = 'pinned'");
      expect(c.boundTo?.role).toBe('primary');
      await c.query('CREATE TEMP TABLE scratch (x int)');
      await c.query('INSERT INTO scratch VALUES (1), (2)');
      expect((await c.query('SELECT count(*)::int AS n FROM scratch')).rows[0].n).toBe(2);
      expect((await c.query('SHOW application_name')).rows[0].application_name).toBe('pinned');
      const got = new Promise<string>((resolve) => c.on('notification', (m: { payload?: string }) => resolve(m.payload ?? '')));
      await c.query('LISTEN ch');
      await h.cluster.primary.server.query("SELECT pg_notify('ch', 'hello')");
      expect(await got).toBe('hello');
    } finally {
      c.release();
    }
  });

  it('a COMMIT lost with its connection is resolved with pg_xact_status (committed), once the commit is as durable as an acknowledged one', async () => {
    const p = pool();
    const c = await p.connect();
    // Make COMMIT wait for a synchronous standby that does not exist, then end its session:
    // PostgreSQL has committed locally by then, but no standby has it — PostgreSQL itself would not
    // have acknowledged it. The Pool reports it committed only once the synchronous standbys
    // requirement is met (here: dropped), as the server would have.
    await h.cluster.primary.server.query("ALTER SYSTEM SET synchronous_standby_names = 'nobody'");
    await h.cluster.primary.server.query('SELECT pg_reload_conf()');
    let reset = false;
    try {
      await c.query('BEGIN');
      await c.query('INSERT INTO items (v) VALUES ($1)', ['lost-commit']);
      const pid = (await c.query('SELECT pg_backend_pid() AS pid')).rows[0].pid;
      let settled = false;
      const commit = c.query('COMMIT').finally(() => (settled = true));
      commit.catch(() => {});
      await new Promise((r) => setTimeout(r, 300));
      await h.cluster.primary.server.query('SELECT pg_terminate_backend($1)', [pid]);
      await new Promise((r) => setTimeout(r, 700));
      expect(settled).toBe(false); // committed on the primary alone: not reported yet
      await h.cluster.primary.server.query('ALTER SYSTEM RESET synchronous_standby_names');
      await h.cluster.primary.server.query('SELECT pg_reload_conf()');
      reset = true;
      const res = await commit;
      expect(res.command).toBe('COMMIT');
    } finally {
      if (!reset) {
        await h.cluster.primary.server.query('ALTER SYSTEM RESET synchronous_standby_names');
        await h.cluster.primary.server.query('SELECT pg_reload_conf()');
      }
      c.release(true);
    }
    const n = await h.cluster.primary.server.query<{ n: string }>("SELECT count(*) AS n FROM items WHERE v = 'lost-commit'");
    expect(Number(n[0].n)).toBe(1);
  });

  it('a transaction whose session dies before COMMIT is reported rolled back', async () => {
    const c = await pool().connect();
    try {
      await c.query('BEGIN');
      await c.query('INSERT INTO items (v) VALUES ($1)', ['never']);
      const pid = (await c.query('SELECT pg_backend_pid() AS pid')).rows[0].pid;
      await h.cluster.primary.server.query('SELECT pg_terminate_backend($1)', [pid]);
      await new Promise((r) => setTimeout(r, 100));
      await expect(c.query('COMMIT')).rejects.toMatchObject({ code: 'TRANSACTION_ROLLED_BACK' });
    } finally {
      c.release(true);
    }
    const n = await h.cluster.primary.server.query<{ n: string }>("SELECT count(*) AS n FROM items WHERE v = 'never'");
    expect(Number(n[0].n)).toBe(0);
  });
});
