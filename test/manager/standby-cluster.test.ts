/**
 * A standby cluster (`standby_cluster` in bootstrap.dcs) against real PostgreSQL and etcd: its
 * first member clones the remote cluster's primary and leads as a standby leader (never a
 * primary), the next member clones from it, writes on the remote reach both, and removing
 * `standby_cluster` from the `config` key promotes the standby leader.
 */
import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Harness } from './harness';

describe('standby cluster', () => {
  const main = new Harness({ scope: 'main' });
  const standby = new Harness({ scope: 'standby' });

  beforeAll(async () => {
    await main.startEtcd();
    standby.etcd = main.etcd; // one etcd, two scopes
    standby.kv = new Etcd3({ hosts: main.etcd.endpoints });
    await main.startAll(['m0']);
    await main.until('main leader', () => main.leader());
    await main.query('m0', 'CREATE TABLE t (id int primary key)');
    const remote = (await main.config('m0')).postgresql.connectAddress;
    for (const name of ['s0', 's1']) {
      const c = await standby.config(name);
      c.bootstrap.dcs.raw = { ...c.bootstrap.dcs.raw, synchronous_mode: true, standby_cluster: { host: remote.host, port: remote.port } };
    }
  }, 180_000);

  afterAll(async () => {
    (standby as { etcd: unknown }).etcd = undefined; // main's, stopped by main.close()
    await standby.close();
    await main.close();
  }, 120_000);

  it('the first member clones the remote and leads as a standby leader; the next one follows it; remote writes reach both', async () => {
    await standby.startAll(['s0']);
    await standby.until('standby leader', async () => (await standby.leader()) === 's0', 30_000);
    const s0 = standby.agents.get('s0')!;
    expect(s0.role).toBe('standby_leader');
    expect((await s0.status()).role).toBe('standby_leader');
    expect(s0.isLeader()).toBe(true);
    const keys = await standby.keys();
    expect(JSON.parse(keys['members/s0']!).role).toBe('standby_leader');
    expect(keys.initialize).toMatch(/^\d+$/);
    // synchronous_mode is ignored in a standby cluster: no sync key
    expect(keys.sync).toBeUndefined();
    await standby.startAll(['s1']);
    await main.query('m0', 'INSERT INTO t VALUES (1)');
    for (const n of ['s0', 's1']) await standby.until(`row on ${n}`, async () => (await standby.query(n, 'SELECT 1 FROM t WHERE id = 1')).length === 1, 30_000);
    expect(standby.agents.get('s1')!.role).toBe('replica');
    const inRecovery = await standby.query<{ r: boolean }>('s0', 'SELECT pg_is_in_recovery() AS r');
    expect(inRecovery[0]!.r).toBe(true);
  }, 120_000);

  it('removing standby_cluster from the config key promotes the standby leader; its replica follows', async () => {
    const s0 = standby.agents.get('s0')!;
    expect((await s0.patchConfig({ standby_cluster: null })).status).toBe(200);
    await standby.until('s0 primary', () => s0.role === 'primary', 30_000);
    await standby.query('s0', 'INSERT INTO t VALUES (2)');
    await standby.until('row 2 on s1', async () => (await standby.query('s1', 'SELECT 1 FROM t WHERE id = 2')).length === 1, 30_000);
    expect(await standby.leader()).toBe('s0');
  }, 90_000);
});
