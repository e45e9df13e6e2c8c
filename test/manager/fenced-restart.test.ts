/**
 * A primary fenced while its lease still lives, restarted in place: its manager lost etcd long
 * enough to fence (PostgreSQL stopped at `ttl - retry_timeout`) but got through again before the
 * lease ran out, so the leader key never moved and the same node starts again as the primary
 * (actions/promote.ts, "the leader key is still ours"). The campaign met it as one etcd member
 * isolated (seed 96): the primary's manager kept picking that member, fenced, restarted; the Pool
 * wrote again 1.3 s after plain clients, because the member key kept saying `demoted`/`stopped`
 * until the next HA cycle (loop_wait later) — the Pool (etcd source) believes that key.
 *
 * Here etcd is frozen with SIGSTOP right after a keepalive and thawed as soon as the manager
 * fences; then a plain `pg` reconnect loop and a Pool write (etcd source) race to write again.
 * Real etcd, real PostgreSQL, an in-process manager.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { Harness } from './harness';
import { Pool } from '../../src/pool/pool';

const TTL = 10;

describe('a fenced primary restarted in place (the leader key never moved)', () => {
  // the campaign's timing: fence at ttl - retry_timeout = 6 s, the lease lives 10 s
  const h = new Harness({ scope: 'fencedrestart', ttl: TTL, loopWait: 1, retryTimeout: 4 });
  let pool: Pool;

  beforeAll(async () => {
    await h.startEtcd();
    await h.startAll(['n0']);
    await h.until('n0 leads', async () => (await h.leader()) === 'n0' && h.agents.get('n0')!.role === 'primary');
    await h.query('n0', 'CREATE TABLE fr (at bigint)');
    const pgc = h.configs.get('n0')!.postgresql.connectAddress;
    pool = new Pool({
      connectionString: `postgresql://postgres@${pgc.host}:${pgc.port}/postgres`,
      topology: { source: 'etcd', hosts: h.etcd.endpoints, scope: h.scope },
      failoverTimeoutMillis: 30_000,
    });
    pool.on('error', () => {});
    await pool.query('INSERT INTO fr VALUES (0)');
  }, 120_000);
  afterAll(async () => {
    await pool?.end();
    await h.close();
  }, 120_000);

  it('the Pool writes again as soon as a plain reconnect loop does', async () => {
    const agent = h.agents.get('n0')!;
    const pgc = h.configs.get('n0')!.postgresql.connectAddress;
    const fenced = new Promise<number>((resolve) => agent.on('fenced', () => resolve(Date.now())));
    // What etcd says of n0 when its manager reports it is the primary again: read at once, before
    // the next HA cycle (which publishes the key anyway, a loop_wait later unless woken early).
    let keyAtRestart: Promise<string | null> | undefined;
    agent.on('promoted', () => (keyAtRestart ??= h.kv.get(`${h.prefix}members/n0`).string()));
    await h.until('fresh keepalive', () => Date.now() - agent.dcs.lastKeepaliveOkAt < 300, 10_000);
    h.etcd.kill(0, 'SIGSTOP');
    let fencedAt: number | undefined;
    try {
      fencedAt = await Promise.race([fenced, sleep(15_000).then(() => undefined)]);
    } finally {
      h.etcd.kill(0, 'SIGCONT');
    }
    expect(fencedAt, `not fenced:\n${h.lines.slice(-20).join('\n')}`).toBeDefined();
    await h.until('PostgreSQL stopped by the fence', () => !agent.postgres.isRunning(), 10_000);

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

    // The scenario: the key never moved, the same node is the primary again.
    expect(await h.leader()).toBe('n0');
    expect(agent.role).toBe('primary');
    const member = JSON.parse((await keyAtRestart) ?? '{}') as { role?: string; state?: string };
    const seen = `member key when the manager restarted PostgreSQL as the primary: ${JSON.stringify({ role: member.role, state: member.state })}`;
    expect(['primary', 'master'], seen).toContain(member.role);
    expect(member.state, seen).toBe('running');
    console.log(`plain client wrote again ${plainAt - fencedAt!} ms after the fence, the Pool ${poolAt - fencedAt!} ms (gap ${poolAt - plainAt} ms)`);
    // Before the member key was published at the restart, the Pool waited for the next HA cycle (~loop_wait + a cycle: 1.0–1.3 s).
    expect(poolAt - plainAt).toBeLessThan(500);
  }, 90_000);
});
