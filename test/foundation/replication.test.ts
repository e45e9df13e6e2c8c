import { describe, test, expect } from 'vitest';
import { useCluster, killNode, freezeNode, thawNode } from '../support/cluster';
import { slotNameFor } from '../../src/manager/postgres';

describe('a local primary + 2 streaming standbys', () => {
  const ctx = useCluster({ standbys: 2 });

  test('a row written on the primary is read on each standby', async () => {
    const { cluster } = ctx;
    await cluster.primary.server.query('CREATE TABLE t (id int primary key, v text)');
    await cluster.primary.server.query("INSERT INTO t VALUES (1, 'hello')");
    const lsn = await cluster.primaryLsn();
    for (const s of cluster.standbys) {
      await cluster.waitForReplay(s.name, lsn);
      const rows = await s.server.query<{ v: string }>('SELECT v FROM t WHERE id = 1');
      expect(rows).toEqual([{ v: 'hello' }]);
      expect(await s.server.isInRecovery()).toBe(true);
    }
    expect(await cluster.primary.server.isInRecovery()).toBe(false);
  });

  test('standbys refuse writes (SQLSTATE 25006)', async () => {
    const { cluster } = ctx;
    await expect(cluster.standbys[0]!.server.query("INSERT INTO t VALUES (2, 'x')")).rejects.toMatchObject({ code: '25006' });
  });

  test('pg_basebackup created a slot per standby, and each standby streams through it', async () => {
    const { cluster } = ctx;
    const slots = await cluster.primary.server.query<{ slot_name: string; active: boolean }>(
      'SELECT slot_name, active FROM pg_replication_slots ORDER BY slot_name',
    );
    expect(slots).toEqual(cluster.standbys.map((s) => ({ slot_name: slotNameFor(s.name), active: true })));
    const senders = await cluster.primary.server.query<{ application_name: string; state: string }>(
      'SELECT application_name, state FROM pg_stat_replication ORDER BY application_name',
    );
    expect(senders).toEqual(cluster.standbys.map((s) => ({ application_name: s.name, state: 'streaming' })));
  });

  test('a frozen (SIGSTOP) standby stops answering and resumes after SIGCONT', async () => {
    const { cluster } = ctx;
    const s = cluster.standbys[1]!;
    freezeNode(s);
    const started = Date.now();
    const pg = await import('pg');
    const c = new pg.default.Client({ host: s.server.host, port: s.server.port, user: 'postgres', connectionTimeoutMillis: 500 });
    c.on('error', () => {});
    await expect(c.connect()).rejects.toThrow();
    expect(Date.now() - started).toBeGreaterThanOrEqual(400);
    thawNode(s);
    await cluster.primary.server.query("INSERT INTO t VALUES (3, 'after-thaw')");
    await cluster.waitForReplay(s.name);
    expect(await s.server.query('SELECT v FROM t WHERE id = 3')).toEqual([{ v: 'after-thaw' }]);
  });

  test('a killed (-9) standby restarts and catches up', async () => {
    const { cluster } = ctx;
    const s = cluster.standbys[0]!;
    const pid = s.server.pid!;
    await killNode(s);
    expect(() => process.kill(pid, 0)).toThrow();
    expect(s.server.status()).toBe('stopped');
    await cluster.primary.server.query("INSERT INTO t VALUES (4, 'while-dead')");
    await s.server.start();
    await cluster.waitForReplay(s.name);
    expect(await s.server.query('SELECT v FROM t WHERE id = 4')).toEqual([{ v: 'while-dead' }]);
  });
});
