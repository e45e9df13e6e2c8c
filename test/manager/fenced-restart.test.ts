/**
 * A primary whose PostgreSQL is started again in place while its manager keeps the leader key:
 *
 * - fenced while its lease still lives: its manager lost etcd long enough to fence (PostgreSQL
 *   stopped at `ttl - retry_timeout`) but got through again before the lease ran out, so the key
 *   never moved and the same node starts again as the primary (actions/promote.ts). The campaign
 *   met it as one etcd member isolated (seed 96): the primary's manager fenced, restarted, and the
 *   Pool wrote again 1.3 s after plain clients;
 * - PostgreSQL killed under its manager (crash recovery in place, actions/crash-recovery.ts).
 *
 * Both times the member key kept saying `demoted`/`stopped` (or `crashed`) until the next HA
 * cycle published it, and clients that believe it (our Pool's etcd source) held their writes:
 * a loop_wait later, unless the manager's own watch happened to wake it early. The key must say
 * primary/running when the manager reports the restart. Then a plain `pg` reconnect loop and a
 * Pool write (etcd source) race to write again. Real etcd, real PostgreSQL, in-process managers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { Harness } from './harness';
import { Pool } from '../../src/pool/pool';
import type { Agent } from '../../src/manager/agent';

/** One node led by n0, a table, and a Pool with the etcd source. */
function setUp(scope: string) {
  // the campaign's timing: fence at ttl - retry_timeout = 6 s, the lease lives 10 s
  const h = new Harness({ scope, ttl: 10, loopWait: 1, retryTimeout: 4 });
  const ctx = { h, pool: undefined as unknown as Pool };
  beforeAll(async () => {
    await h.startEtcd();
    await h.startAll(['n0']);
    await h.until('n0 leads', async () => (await h.leader()) === 'n0' && h.agents.get('n0')!.role === 'primary');
    await h.query('n0', 'CREATE TABLE fr (at bigint)');
    const pgc = h.configs.get('n0')!.postgresql.connectAddress;
    ctx.pool = new Pool({
      connectionString: `postgresql://postgres@${pgc.host}:${pgc.port}/postgres`,
      topology: { source: 'etcd', hosts: h.etcd.endpoints, scope: h.scope },
      failoverTimeoutMillis: 30_000,
    });
    ctx.pool.on('error', () => {});
    await ctx.pool.query('INSERT INTO fr VALUES (0)');
  }, 120_000);
  afterAll(async () => {
    await ctx.pool?.end();
    await h.close();
  }, 120_000);
  return ctx;
}

/**
 * What etcd says of n0 when its manager reports it runs as the primary again: read at once,
 * before the next HA cycle (which publishes the key anyway).
 */
function keyAtRestart(h: Harness, agent: Agent): Promise<{ role?: string; state?: string }> {
  return new Promise((resolve, reject) => {
    let read = false;
    agent.on('promoted', () => {
      if (read) return;
      read = true;
      h.kv
        .get(`${h.prefix}members/n0`)
        .string()
        .then((v) => resolve(JSON.parse(v ?? '{}') as { role?: string; state?: string }), reject);
    });
  });
}

/** The `state` of every value n0's member key takes from now on, in order. */
async function keyStates(h: Harness): Promise<{ states: string[]; close(): Promise<void> }> {
  const states: string[] = [];
  const watcher = await h.kv.watch().key(`${h.prefix}members/n0`).create();
  watcher.on('put', (kv) => {
    try {
      states.push(String((JSON.parse(kv.value.toString()) as { state?: unknown }).state));
    } catch {
      states.push('?');
    }
  });
  return { states, close: () => watcher.cancel() };
}

/**
 * While PostgreSQL starts, the key says `starting` (the Pool tries the node itself meanwhile), then
 * `running`: not the fence's `stopped`/`stopping` or the crash's `crashed` until the start is over.
 */
function expectStartingThenRunning(states: string[]): void {
  const starting = states.indexOf('starting');
  expect(starting, `member key states: ${states.join(' → ')}`).toBeGreaterThanOrEqual(0);
  expect(states.slice(starting + 1), `member key states: ${states.join(' → ')}`).toContain('running');
}

/** From now on: a plain reconnect loop and one Pool write, each until its first write lands. */
async function raceToWrite(h: Harness, pool: Pool): Promise<{ plainAt: number; poolAt: number }> {
  const pgc = h.configs.get('n0')!.postgresql.connectAddress;
  const deadline = Date.now() + 30_000;
  const plain = (async () => {
    while (Date.now() < deadline) {
      const c = new pg.Client({ host: pgc.host, port: pgc.port, user: 'postgres', database: 'postgres', connectionTimeoutMillis: 1000 });
      c.on('error', () => {});
      try {
        await c.connect();
        await c.query('INSERT INTO fr VALUES ($1)', [Date.now()]);
        return Date.now();
      } catch {
        await sleep(20);
      } finally {
        await c.end().catch(() => {});
      }
    }
    throw new Error('the plain client never wrote again');
  })();
  const viaPool = pool.query('INSERT INTO fr VALUES ($1)', [Date.now()]).then(() => Date.now());
  const [plainAt, poolAt] = await Promise.all([plain, viaPool]);
  return { plainAt, poolAt };
}

async function expectPublished(h: Harness, agent: Agent, key: Promise<{ role?: string; state?: string }>): Promise<void> {
  // The scenario: the key never moved, the same node is the primary again.
  expect(await h.leader()).toBe('n0');
  expect(agent.role).toBe('primary');
  const never: { role?: string; state?: string } = { role: 'the manager never reported the restart' };
  const member = await Promise.race([key, sleep(20_000).then(() => never)]);
  const seen = `member key when the manager restarted PostgreSQL as the primary: ${JSON.stringify(member)}`;
  expect(['primary', 'master'], seen).toContain(member.role);
  expect(member.state, seen).toBe('running');
}

describe('a fenced primary restarted in place (the leader key never moved)', () => {
  const ctx = setUp('fencedrestart');

  it('publishes its member key with the restart; the Pool writes again as soon as a plain reconnect loop does', async () => {
    const { h, pool } = ctx;
    const agent = h.agents.get('n0')!;
    const fenced = new Promise<number>((resolve) => agent.on('fenced', () => resolve(Date.now())));
    // the fence's stop is done (PostgreSQL down; it may be started again soon after)
    const stopped = new Promise<void>((resolve) => agent.on('demoted', () => resolve()));
    const key = keyAtRestart(h, agent);
    const watched = await keyStates(h);
    await h.until('fresh keepalive', () => Date.now() - agent.dcs.lastKeepaliveOkAt < 300, 10_000);
    h.etcd.kill(0, 'SIGSTOP');
    let fencedAt: number | undefined;
    try {
      fencedAt = await Promise.race([fenced, sleep(15_000).then(() => undefined)]);
    } finally {
      h.etcd.kill(0, 'SIGCONT');
    }
    expect(fencedAt, `not fenced:\n${h.lines.slice(-20).join('\n')}`).toBeDefined();
    await stopped;
    const { plainAt, poolAt } = await raceToWrite(h, pool);
    await expectPublished(h, agent, key);
    await watched.close();
    expectStartingThenRunning(watched.states);
    console.log(`fence: plain client wrote again ${plainAt - fencedAt!} ms after the fence, the Pool ${poolAt - fencedAt!} ms (gap ${poolAt - plainAt} ms)`);
    // Without the key, the Pool waited for the next HA cycle (~loop_wait + a cycle: 1.0–1.3 s) when nothing woke it.
    expect(poolAt - plainAt).toBeLessThan(500);
  }, 90_000);
});

describe('a primary whose PostgreSQL crashed, started again in place', () => {
  const ctx = setUp('crashrestart');

  it('publishes its member key with the restart; the Pool writes again as soon as a plain reconnect loop does', async () => {
    const { h, pool } = ctx;
    const agent = h.agents.get('n0')!;
    const key = keyAtRestart(h, agent);
    const watched = await keyStates(h);
    const pid = agent.postgres.pid;
    expect(pid).toBeDefined();
    process.kill(pid!, 'SIGKILL');
    const killedAt = Date.now();
    // Its backends outlive it for a moment and may still commit a write on a session already open:
    // the race starts once the server refuses new sessions (the orphans noticed by then).
    await h.until('PostgreSQL refuses sessions', () => h.query('n0', 'SELECT 1').then(() => false, () => true), 10_000);
    const { plainAt, poolAt } = await raceToWrite(h, pool);
    await expectPublished(h, agent, key);
    await watched.close();
    expectStartingThenRunning(watched.states);
    console.log(`crash: plain client wrote again ${plainAt - killedAt} ms after the kill, the Pool ${poolAt - killedAt} ms (gap ${poolAt - plainAt} ms)`);
    expect(poolAt - plainAt).toBeLessThan(500);
  }, 90_000);
});

describe('a whole node killed (manager and PostgreSQL) and started again while its leader key lives', () => {
  const ctx = setUp('noderestart');

  it('says `starting` in its member key before PostgreSQL takes sessions, `running` after (standbys and the Pool need not wait for its first HA cycle)', async () => {
    const { h } = ctx;
    const old = h.agents.get('n0')!;
    // kill -9 of the node: etcd contact ends at once, PostgreSQL dies with it
    await old.stop({ release: false, stopPostgres: false });
    await old.postgres.kill9();
    await h.until('PostgreSQL refuses sessions', () => h.query('n0', 'SELECT 1').then(() => false, () => true), 10_000);
    const watched = await keyStates(h);
    const puts: number[] = [];
    const w = await h.kv.watch().key(`${h.prefix}members/n0`).create();
    w.on('put', () => puts.push(Date.now()));
    const again = await h.agent('n0');
    const started = again.start();
    let acceptedAt: number | undefined;
    for (const deadline = Date.now() + 30_000; acceptedAt === undefined && Date.now() < deadline; ) {
      if (await h.query('n0', 'SELECT 1').then(() => true, () => false)) acceptedAt = Date.now();
      else await sleep(10);
    }
    await started;
    await h.until('the key says running', () => watched.states.includes('running'), 10_000);
    await w.cancel();
    await watched.close();
    expect(h.lines.some((l) => l.includes('restarting as the primary')), h.lines.slice(-20).join('\n')).toBe(true);
    expect(acceptedAt, 'PostgreSQL never took a session again').toBeDefined();
    // before: the key was written first by the HA cycle after the start (the old one went with the old lease)
    expect(puts[0], `first member key write vs PostgreSQL taking sessions (${acceptedAt})`).toBeLessThan(acceptedAt!);
    expectStartingThenRunning(watched.states);
  }, 90_000);
});
