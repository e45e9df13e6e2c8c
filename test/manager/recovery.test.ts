/**
 * PostgreSQL crashes under a live agent: the leader's server is restarted in
 * place while the agent still holds the key (no failover), and a replica's
 * server is restarted and streams again. With `primary_start_timeout: 0` a
 * crashed leader fails over at once instead; a crashed leader whose server
 * cannot start again demotes and hands the key over (Patroni's recover).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Harness } from './harness';

describe('agent restarts a crashed PostgreSQL', () => {
  const h = new Harness({ scope: 'crash' });
  let leader: string;
  let replica: string;

  beforeAll(async () => {
    await h.startEtcd();
    await h.startAll(['n0', 'n1']);
    leader = await h.until('a leader', () => h.leader());
    replica = leader === 'n0' ? 'n1' : 'n0';
    await h.query(leader, 'CREATE TABLE c (id int primary key)');
  }, 180_000);
  afterAll(() => h.close(), 120_000);

  it('restarts the leader’s PostgreSQL as the primary while it holds the key', async () => {
    const agent = h.agents.get(leader)!;
    let replicaPromoted = false;
    h.agents.get(replica)!.on('promoted', () => (replicaPromoted = true));
    const t0 = Date.now();
    await agent.postgres.kill9();
    await h.until('leader writable again', async () => {
      await h.query(leader, 'INSERT INTO c VALUES (1) ON CONFLICT DO NOTHING');
      return true;
    }, 30_000);
    console.log(`leader PostgreSQL back ${Date.now() - t0} ms after kill -9`);
    expect(await h.leader()).toBe(leader);
    expect(replicaPromoted).toBe(false);
    expect(agent.role).toBe('primary');
    await h.until('replica has row 1', async () => (await h.query(replica, 'SELECT 1 FROM c WHERE id = 1')).length === 1, 30_000);
  }, 60_000);

  it('restarts a crashed replica, which streams again', async () => {
    const agent = h.agents.get(replica)!;
    await agent.postgres.kill9();
    await h.until('replica back', () => agent.postgres.isRunning(), 30_000);
    await h.query(leader, 'INSERT INTO c VALUES (2)');
    await h.until('replica has row 2', async () => (await h.query(replica, 'SELECT 1 FROM c WHERE id = 2')).length === 1, 30_000);
    expect(agent.role).toBe('replica');
    expect(await h.leader()).toBe(leader);
  }, 60_000);

  it('primary_start_timeout: 0 — a crashed leader gives the key up at once and the replica is promoted', async () => {
    const old = h.agents.get(leader)!;
    expect((await old.patchConfig({ primary_start_timeout: 0 })).status).toBe(200);
    await h.until('setting seen by the leader', async () => (await old.cluster()).config.primary_start_timeout === 0, 10_000);
    const t0 = Date.now();
    await old.postgres.kill9();
    await h.until('the replica leads', async () => (await h.leader()) === replica, 20_000);
    console.log(`failover ${Date.now() - t0} ms after kill -9 with primary_start_timeout 0`);
    await h.until('the old leader rejoins as a replica', () => old.role === 'replica' && old.postgres.isRunning(), 60_000);
    [leader, replica] = [replica, leader];
  }, 120_000);

  it('a crashed leader whose PostgreSQL cannot start demotes (on_role_change demoted) and removes the leader key', async () => {
    const old = h.agents.get(leader)!;
    expect((await old.patchConfig({ primary_start_timeout: null })).status).toBe(200);
    await h.until('setting removed', async () => !('primary_start_timeout' in (await old.cluster()).config), 10_000);
    const demoted: string[] = [];
    old.on('demoted', ({ reason }) => demoted.push(reason));
    // the regression: Patroni's suite spoils postgresql.auto.conf the same way
    writeFileSync(join(old.postgres.dataDir, 'postgresql.auto.conf'), 'foo=bar\n');
    await old.postgres.kill9();
    await h.until('the other member leads', async () => (await h.leader()) === replica, 30_000);
    expect(demoted).toContain('PostgreSQL failed to start after a crash');
  }, 60_000);
});
