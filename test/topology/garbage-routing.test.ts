/**
 * Garbage from the topology sources never routes a write to a non-primary.
 * A real primary + standby; a Pool learns the topology
 *  - from real etcd, whose keys under a real scope get garbage put into them
 *    (invalid JSON, wrong types, a leader key naming a missing member or the
 *    replica, a replica claiming to be master, a member's conn_url pointing at
 *    the standby, duplicate "leaders", huge values, deleted keys);
 *  - from a tiny local HTTP server standing in for Patroni's REST API and
 *    answering /cluster with garbage (invalid JSON, wrong shapes, the standby
 *    reported as leader, two leaders, huge or truncated bodies, error statuses,
 *    hangs).
 * After each round of garbage a write (autocommit, and every third round a
 * transaction on a checked-out client) reports `inet_server_port()` and
 * `pg_is_in_recovery()` from its own statement: it either ran on the real
 * primary or failed with a FailoverError code — never another error type (a
 * transaction bound to a standby the topology called primary gets
 * TRANSACTION_ROLLED_BACK, not the standby's raw 25006). topologyError events are emitted; the
 * process does not crash; with the true topology back, writes succeed again.
 *
 * Seeded: PGF_GARBAGE_SEED replays; PGF_GARBAGE_ROUNDS sets rounds per source (default 15).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Pool } from '../../src/pool/pool';
import { FailoverError } from '../../src/errors';
import { useCluster } from '../support/cluster';
import { patroniMemberValue } from '../support/patroni-keys';
import { pick, prng } from '../connection/corpus';

const SEED = Number(process.env.PGF_GARBAGE_SEED ?? Math.floor(Math.random() * 2 ** 31));
const ROUNDS = Number(process.env.PGF_GARBAGE_ROUNDS ?? 15);
const FAILOVER_TIMEOUT_MILLIS = 800;

const h = useCluster({ standbys: 1, etcd: true });

interface Tally {
  primary: number;
  failover: Record<string, number>;
  violations: string[];
}

function newTally(): Tally {
  return { primary: 0, failover: {}, violations: [] };
}

/** One write, autocommit or in a transaction; classifies where it ran or how it failed. */
async function write(pool: Pool, inTransaction: boolean, tally: Tally, context: string): Promise<void> {
  const c = h.cluster;
  const sql = 'INSERT INTO garbage_w (at) VALUES (now()) RETURNING inet_server_port() AS port, pg_is_in_recovery() AS recovery';
  try {
    let row: { port: number; recovery: boolean };
    if (inTransaction) {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        row = (await client.query<{ port: number; recovery: boolean }>(sql)).rows[0]!;
        await client.query('COMMIT');
        client.release();
      } catch (e) {
        client.release(e as Error);
        throw e;
      }
    } else {
      row = (await pool.query<{ port: number; recovery: boolean }>(sql)).rows[0]!;
    }
    if (row.recovery || row.port !== c.primary.server.port) tally.violations.push(`a write ran on port ${row.port} (recovery ${row.recovery}) — ${context}`);
    else tally.primary++;
  } catch (e) {
    if (e instanceof FailoverError) tally.failover[e.code] = (tally.failover[e.code] ?? 0) + 1;
    else tally.violations.push(`${inTransaction ? 'transaction' : 'autocommit'} write failed with ${(e as Error).name} ${(e as { code?: string }).code ?? ''}: ${(e as Error).message} — ${context}`);
  }
}

beforeAll(async () => {
  const client = await h.cluster.primary.server.query('CREATE TABLE IF NOT EXISTS garbage_w (id serial PRIMARY KEY, at timestamptz)');
  void client;
});

describe(`garbage topology never routes a write to the standby (seed ${SEED}, ${ROUNDS} rounds per source)`, () => {
  const scope = 'garbage';
  const prefix = `/service/${scope}/`;
  let etcd: Etcd3;

  beforeAll(() => {
    etcd = new Etcd3({ hosts: h.cluster.etcd!.endpoints });
  });
  afterAll(() => etcd?.close());

  it('from etcd keys', async () => {
    const c = h.cluster;
    const p = c.primary;
    const s = c.standbys[0]!;
    const valid = async () => {
      await etcd.delete().prefix(prefix);
      await etcd.put(`${prefix}members/${p.name}`).value(patroniMemberValue(p, 'master', 50_000_000));
      await etcd.put(`${prefix}members/${s.name}`).value(patroniMemberValue(s, 'replica', 50_000_000));
      await etcd.put(`${prefix}leader`).value(p.name);
    };
    await valid();
    const member = (over: Record<string, unknown>, n = p) => JSON.stringify({ ...JSON.parse(patroniMemberValue(n, 'master', 50_000_000)), ...over });
    const standbyUrl = `postgres://${s.server.host}:${s.server.port}/postgres`;
    const GARBAGE: Array<[string, string | null]>[] = [
      [['leader', '']],
      [['leader', ' ']],
      [['leader', 'nobody']],
      [['leader', s.name]], // the leader key names the replica
      [['leader', s.name], [`members/${s.name}`, member({ role: 'master' }, s)]], // …and the replica claims to be master
      [['leader', 'ghost'], ['members/ghost', JSON.stringify({ conn_url: standbyUrl, role: 'master', state: 'running' })]], // a ghost leader living on the standby's port
      [[`members/${p.name}`, member({ conn_url: standbyUrl })]], // the leader's conn_url points at the standby
      [[`members/${s.name}`, member({ role: 'master' }, s)]], // two members claim master (duplicate leaders)
      [[`members/${s.name}`, member({ role: 'primary', state: 'running' }, s)], [`members/${p.name}`, member({ role: 'replica' })]],
      [['leader', `${p.name}\u0000`]],
      [['leader', p.name.toUpperCase()]],
      [['leader', JSON.stringify({ name: p.name })]],
      [['leader', 'x'.repeat(100_000)]],
      [['leader', null]],
      [[`members/${p.name}`, null]],
      [[`members/${p.name}`, 'not json']],
      [[`members/${p.name}`, '[]']],
      [[`members/${p.name}`, 'null']],
      [[`members/${p.name}`, '{}']],
      [[`members/${p.name}`, '{"conn_url":']],
      [[`members/${p.name}`, member({ conn_url: 5 })]],
      [[`members/${p.name}`, member({ conn_url: 'postgres://127.0.0.1:1/postgres' })]], // a dead port
      [[`members/${p.name}`, member({ conn_url: 'postgres://:99999/x' })]],
      [[`members/${p.name}`, member({ conn_url: 'mysql://127.0.0.1/x' })]],
      [[`members/${p.name}`, member({ role: ['master'], state: 42, xlog_location: 'huge', timeline: -1 })]],
      [[`members/${p.name}`, member({ state: 'stopped' })]],
      [[`members/${p.name}`, member({ xlog_location: Number.MAX_VALUE, timeline: 1e308 })]],
      [[`members/${p.name}`, JSON.stringify(JSON.parse(patroniMemberValue(p, 'master')), null, 1).replace(/"role"/, '"role": "replica", "x"')]], // duplicate JSON keys
      [[`members/${s.name}`, `{${'"a":{'.repeat(5000)}1${'}'.repeat(5000)}}`]], // deep nesting
      [['members/', '{"role":"master"}']],
      [[`members/${p.name}/extra`, member({})]],
      [['members/\u00e9\u0000', member({ conn_url: standbyUrl })]],
      [['config', '{"ttl": "x"}'], ['sync', '{"leader": 5}'], ['failover', 'garbage'], ['initialize', '']],
    ];
    const topologyErrors: Error[] = [];
    const pool = new Pool({
      // the standby first: only the topology source can say which node is the primary
      connectionString: `postgresql://postgres@${s.server.host}:${s.server.port},${p.server.host}:${p.server.port}/postgres`,
      topology: { source: 'etcd', hosts: c.etcd!.endpoints, scope },
      failoverTimeoutMillis: FAILOVER_TIMEOUT_MILLIS,
      fallbackToProbingMillis: false,
      readYourWrites: 'none',
    });
    pool.on('error', () => {});
    pool.on('topologyError', (e: Error) => topologyErrors.push(e));
    const tally = newTally();
    try {
      await write(pool, false, tally, 'valid keys');
      expect(tally.primary).toBe(1);
      const r = prng(SEED);
      for (let round = 0; round < ROUNDS; round++) {
        if (r() < 0.5) await valid();
        const picks = Array.from({ length: 1 + Math.floor(r() * 2) }, () => pick(r, GARBAGE)).flat();
        for (const [key, value] of picks) {
          if (value === null) await etcd.delete().key(`${prefix}${key}`);
          else await etcd.put(`${prefix}${key}`).value(value);
        }
        await sleep(50 + Math.floor(r() * 150));
        const context = `seed ${SEED} round ${round}: ${JSON.stringify(picks.map(([k, v]) => [k, v === null ? null : v.slice(0, 200)]))}`;
        await write(pool, round % 3 === 2, tally, context);
      }
      await valid();
      const back = newTally();
      for (let i = 0; i < 50 && back.primary === 0; i++) {
        await write(pool, false, back, 'valid keys again');
        if (back.primary === 0) await sleep(100);
      }
      expect(back.primary).toBe(1);
    } finally {
      await pool.end();
    }
    console.log(`etcd garbage: ${ROUNDS} rounds (seed ${SEED}): ${tally.primary} writes on the primary, failed ${JSON.stringify(tally.failover)}, ${topologyErrors.length} topologyError events`);
    expect(tally.violations).toEqual([]);
    expect(tally.primary + Object.values(tally.failover).reduce((a, b) => a + b, 0)).toBe(ROUNDS + 1);
  }, 180_000);

  // Regression: a checked-out client bound at BEGIN to the node the topology wrongly calls primary got
  // the standby's raw DatabaseError 25006 at its first write; now TRANSACTION_ROLLED_BACK (cause: the 25006).
  it('a transaction whose leader key names the standby (which claims master) fails with a FailoverError code', async () => {
    const c = h.cluster;
    const p = c.primary;
    const s = c.standbys[0]!;
    await etcd.delete().prefix(prefix);
    await etcd.put(`${prefix}members/${p.name}`).value(patroniMemberValue(p, 'replica', 50_000_000));
    await etcd.put(`${prefix}members/${s.name}`).value(patroniMemberValue(s, 'master', 50_000_000));
    await etcd.put(`${prefix}leader`).value(s.name);
    const pool = new Pool({
      connectionString: `postgresql://postgres@${s.server.host}:${s.server.port},${p.server.host}:${p.server.port}/postgres`,
      topology: { source: 'etcd', hosts: c.etcd!.endpoints, scope },
      failoverTimeoutMillis: FAILOVER_TIMEOUT_MILLIS,
      fallbackToProbingMillis: false,
      readYourWrites: 'none',
    });
    pool.on('error', () => {});
    const tally = newTally();
    try {
      await sleep(300);
      await write(pool, true, tally, 'leader key names the standby');
    } finally {
      await pool.end();
      await etcd.delete().prefix(prefix);
    }
    expect(tally.failover).toEqual({ TRANSACTION_ROLLED_BACK: 1 });
    expect(tally.violations).toEqual([]);
    expect(tally.primary + Object.values(tally.failover).reduce((a, b) => a + b, 0)).toBe(1);
  }, 60_000);

  it('from a Patroni REST API answering garbage', async () => {
    const c = h.cluster;
    const p = c.primary;
    const s = c.standbys[0]!;
    const m = (name: string, role: string, port: number, extra: Record<string, unknown> = {}) => ({ name, role, state: role === 'leader' ? 'running' : 'streaming', host: '127.0.0.1', port, api_url: 'http://127.0.0.1:1/patroni', timeline: 1, ...extra });
    const truth = { scope: 'garbage', members: [m(p.name, 'leader', p.server.port), m(s.name, 'replica', s.server.port, { lag: 0 })] };
    type Reply = { status?: number; body?: string | Buffer; hang?: boolean; destroy?: boolean; headers?: Record<string, string> };
    const json = (v: unknown): Reply => ({ body: JSON.stringify(v) });
    const GARBAGE: Reply[] = [
      { body: 'not json' },
      { body: '' },
      { body: '{"members":' },
      json([]),
      json(null),
      json({}),
      json({ members: 'x' }),
      json({ members: [null, 1, 'a', []] }),
      json({ members: [m(s.name, 'leader', s.server.port), m(p.name, 'replica', p.server.port)] }), // the standby reported as leader
      json({ members: [m(p.name, 'leader', p.server.port), m(s.name, 'leader', s.server.port)] }), // two leaders
      json({ members: [m(s.name, 'leader', s.server.port)] }),
      json({ members: [m('ghost', 'leader', s.server.port), m(p.name, 'replica', p.server.port)] }),
      json({ members: [m(p.name, 'leader', 1)] }), // a dead port
      json({ members: [m(p.name, 'leader', 'x' as unknown as number), m(s.name, 'replica', -5)] }),
      json({ members: [{ ...m(p.name, 'leader', p.server.port), host: '' }] }),
      json({ members: [m(p.name, 'leader', p.server.port, { state: 'stopped' })] }),
      json({ members: [m(p.name, ['leader'] as unknown as string, p.server.port)] }),
      json({ members: [m(p.name, 'standby_leader', s.server.port)] }),
      json({ members: [m(p.name, 'leader', p.server.port, { lag: 'huge', timeline: 1e308 }), m(s.name, 'sync_standby', s.server.port, { lag: -1 })] }),
      { body: `${'['.repeat(50_000)}${']'.repeat(50_000)}` },
      { body: Buffer.alloc(5 * 1024 * 1024, 0x20) }, // huge
      { status: 500, body: JSON.stringify(truth) },
      { status: 503 },
      { status: 302, headers: { location: 'http://127.0.0.1:1/' } },
      { hang: true },
      { destroy: true },
      { body: JSON.stringify(truth).slice(0, 40) },
      { body: JSON.stringify(truth), headers: { 'content-type': 'text/html', 'content-length': '5' } },
    ];
    let current: Reply = json(truth);
    const server: Server = createServer((req, res) => {
      req.resume();
      const reply = current;
      if (reply.destroy) return req.socket.destroy();
      if (reply.hang) return; // never answers (the client's timeout must cut it)
      try {
        res.writeHead(reply.status ?? 200, { 'content-type': 'application/json', ...reply.headers });
        res.end(reply.body ?? '');
      } catch {
        req.socket.destroy();
      }
    });
    server.on('clientError', (_e, socket) => socket.destroy());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const topologyErrors: Error[] = [];
    const pool = new Pool({
      connectionString: `postgresql://postgres@${s.server.host}:${s.server.port},${p.server.host}:${p.server.port}/postgres`,
      topology: { source: 'patroni-rest', urls: [url], intervalMillis: 100, timeoutMillis: 300, discoverMembers: false },
      failoverTimeoutMillis: FAILOVER_TIMEOUT_MILLIS,
      fallbackToProbingMillis: false,
      readYourWrites: 'none',
    });
    pool.on('error', () => {});
    pool.on('topologyError', (e: Error) => topologyErrors.push(e));
    const tally = newTally();
    try {
      await sleep(300);
      await write(pool, false, tally, 'the true /cluster');
      expect(tally.primary).toBe(1);
      const r = prng(SEED + 1);
      for (let round = 0; round < ROUNDS; round++) {
        if (r() < 0.4) {
          current = json(truth);
          await sleep(150);
        }
        current = pick(r, GARBAGE);
        await sleep(150 + Math.floor(r() * 250));
        const shown = current.body === undefined ? '' : String(current.body).slice(0, 200);
        await write(pool, round % 3 === 2, tally, `seed ${SEED + 1} round ${round}: ${JSON.stringify({ ...current, body: shown })}`);
      }
      current = json(truth);
      const back = newTally();
      for (let i = 0; i < 50 && back.primary === 0; i++) {
        await write(pool, false, back, 'the true /cluster again');
        if (back.primary === 0) await sleep(100);
      }
      expect(back.primary).toBe(1);
    } finally {
      await pool.end();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    console.log(`REST garbage: ${ROUNDS} rounds (seed ${SEED + 1}): ${tally.primary} writes on the primary, failed ${JSON.stringify(tally.failover)}, ${topologyErrors.length} topologyError events (${[...new Set(topologyErrors.map((e) => (e as FailoverError).detail?.reason ?? (e as FailoverError).code))].join(', ')})`);
    expect(tally.violations).toEqual([]);
    expect(topologyErrors.length).toBeGreaterThan(0);
    for (const e of topologyErrors) expect(e).toBeInstanceOf(FailoverError);
  }, 180_000);
});
