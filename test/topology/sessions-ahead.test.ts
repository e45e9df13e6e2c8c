/**
 * Sessions opened ahead on the next primary (src/pool/sessions-ahead.ts), on real servers and a
 * real etcd (the Patroni keys written by hand, no manager). While writes are held through a
 * failover, the Pool opens their sessions on the node about to take them — the leader key's
 * holder while it still promotes, or the old primary restarting in place — so that none has to
 * be opened once it takes writes (under a reconnect storm, 225–460 ms each in the campaign).
 */
import { describe, it, expect } from 'vitest';
import { killNode, type LocalNode } from '../support/cluster';
import { usePoolOnKeys } from '../support/pool-on-keys';
import { patroniMemberValue } from '../support/patroni-keys';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const APP = 'sessions-ahead-test';
const HELD = 3;

/**
 * The Pool's sessions on `node`: how many, and how many started within [since, until] (ms since
 * epoch: from the moment the node could take the writes to the moment they were all done).
 */
async function sessionsOn(node: LocalNode, since: number, until = since): Promise<{ all: number; after: number }> {
  const rows = await node.server.query<{ all: number; after: number }>(
    `SELECT count(*)::int AS all,
            count(*) FILTER (WHERE backend_start BETWEEN to_timestamp($2::float8 / 1000) AND to_timestamp($3::float8 / 1000))::int AS after
       FROM pg_stat_activity WHERE application_name = $1`,
    [APP, since, until],
  );
  return rows[0]!;
}

describe('Pool (etcd source): sessions ahead on the leader key holder while it promotes', () => {
  const ctx = usePoolOnKeys('ahead', { standbys: 1, status: true, applicationName: APP, failoverTimeoutMillis: 20_000, createTable: 'CREATE TABLE ahead (id int PRIMARY KEY)' });
  const { prefix } = ctx;

  it(`has a session for each of ${HELD} held writes on the holder before it is promoted, and opens none for them after`, async () => {
    const c = ctx.cluster;
    const old = c.primary;
    const next = c.standbys[0]!;
    await killNode(old);
    await ctx.etcd.delete().key(`${prefix}leader`);
    await ctx.etcd.delete().key(`${prefix}members/${old.name}`);
    await sleep(300);
    const writes = Array.from({ length: HELD }, (_, i) => ctx.pool.query('INSERT INTO ahead VALUES ($1)', [i + 1]));
    await sleep(1000);
    // No leader yet: every standby that may be promoted gets the sessions already.
    const leaderless = await sessionsOn(next, 0);
    console.log(`Pool sessions on the standby while no leader is named: ${leaderless.all}`);
    expect(leaderless.all).toBeGreaterThanOrEqual(HELD);
    await ctx.etcd.put(`${prefix}leader`).value(next.name); // the lock is taken; the holder is still in recovery
    await sleep(1000);
    const before = await sessionsOn(next, 0);
    console.log(`Pool sessions on the holder before its promotion: ${before.all}`);
    expect(before.all).toBeGreaterThanOrEqual(HELD);

    const promotedAt = Date.now();
    await c.promote(next.name);
    await Promise.all(writes);
    const doneAt = Date.now();
    const took = doneAt - promotedAt;
    const after = await sessionsOn(next, promotedAt, doneAt);
    console.log(`held writes done ${took} ms after the promotion; sessions opened meanwhile: ${after.after}`);
    expect(after.after).toBe(0);
    expect(took).toBeLessThan(1000);
    const rows = await next.server.query<{ id: number }>('SELECT id FROM ahead ORDER BY id');
    expect(rows.map((r) => r.id)).toEqual([1, 2, 3]);
  }, 60_000);
});

describe('Pool (etcd source): sessions ahead on the old primary restarting in place', () => {
  // Its lease ran out (no leader key, no member key): the Pool tries the last primary meanwhile,
  // so the sessions are open when its manager takes the key back.
  const ctx = usePoolOnKeys('ahead-restart', { applicationName: APP, failoverTimeoutMillis: 20_000, createTable: 'CREATE TABLE ahead_restart (id int PRIMARY KEY)' });
  const { prefix } = ctx;

  it(`opens the ${HELD} held writes' sessions while no leader is named, before the key is taken again`, async () => {
    const c = ctx.cluster;
    const node = c.primary;
    await node.server.stop('immediate');
    await ctx.etcd.delete().key(`${prefix}leader`);
    await ctx.etcd.delete().key(`${prefix}members/${node.name}`);
    await sleep(300);
    expect(ctx.pool.topology?.primary).toBeUndefined();
    const writes = Array.from({ length: HELD }, (_, i) => ctx.pool.query('INSERT INTO ahead_restart VALUES ($1)', [i + 1]));
    await sleep(300);
    await node.server.start();
    await sleep(1000);
    const before = await sessionsOn(node, 0);
    console.log(`Pool sessions on the restarted node before it is named again: ${before.all}`);
    expect(before.all).toBeGreaterThanOrEqual(HELD);

    const namedAt = Date.now();
    await ctx.etcd.put(`${prefix}members/${node.name}`).value(patroniMemberValue(node, 'master'));
    await ctx.etcd.put(`${prefix}leader`).value(node.name);
    await Promise.all(writes);
    const doneAt = Date.now();
    const after = await sessionsOn(node, namedAt, doneAt);
    console.log(`held writes done ${doneAt - namedAt} ms after the key; sessions opened meanwhile: ${after.after}`);
    expect(after.after).toBe(0);
    const rows = await node.server.query<{ id: number }>('SELECT id FROM ahead_restart ORDER BY id');
    expect(rows.map((r) => r.id)).toEqual([1, 2, 3]);
  }, 60_000);
});
