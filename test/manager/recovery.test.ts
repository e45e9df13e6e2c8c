/**
 * PostgreSQL crashes under a live agent: the leader's server is restarted in
 * place while the agent still holds the key (no failover), and a replica's
 * server is restarted and streams again.
 */
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
});
