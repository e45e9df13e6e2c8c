/**
 * readNodeStatus against a real primary and a real streaming standby: the
 * facts /patroni reports must be PostgreSQL's own (WAL positions as integers
 * that move, timeline, system identifier shared by both, the standby listed in
 * the primary's pg_stat_replication).
 */
import { describe, it, expect, afterAll } from 'vitest';
import pg from 'pg';
import { useCluster, connectTo } from '../support/cluster';
import { readNodeStatus, offlineNodeStatus, MANAGER_VERSION } from '../../src/manager/node-status';

describe('readNodeStatus on a real primary + standby', () => {
  const h = useCluster({ standbys: 1 });
  const clients: pg.Client[] = [];
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.end().catch(() => {})));
  });
  const open = async (name: string) => {
    const c = await connectTo(h.cluster.node(name));
    clients.push(c);
    return c;
  };

  it('reports a primary: role, location, timeline 1, its standby in replication[]', async () => {
    const c = await open('n0');
    await h.cluster.waitForReplay('n1');
    const s = await readNodeStatus(c, { name: 'n0', scope: 'demo', tags: { nofailover: false }, dcsLastSeen: 1700000000 });
    expect(s.role).toBe('primary');
    expect(s.state).toBe('running');
    expect(s.patroni).toEqual({ version: MANAGER_VERSION, scope: 'demo', name: 'n0' });
    expect(s.server_version).toBeGreaterThanOrEqual(150000);
    expect(s.timeline).toBe(1);
    expect(s.xlog && 'location' in s.xlog && s.xlog.location).toBeGreaterThan(0);
    expect(s.database_system_identifier).toMatch(/^\d{15,20}$/);
    expect(s.postmaster_start_time).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}\+00:00$/);
    expect(Date.now() - Date.parse(s.postmaster_start_time!.replace(' ', 'T'))).toBeLessThan(10 * 60_000);
    expect(s.replication).toHaveLength(1);
    expect(s.replication![0]).toMatchObject({ application_name: 'n1', state: 'streaming', sync_state: 'async', usename: 'postgres' });
    expect(s.dcs_last_seen).toBe(1700000000);
    expect(s.tags).toEqual({ nofailover: false });
    expect(s.replication_state).toBeUndefined();
  });

  it('reports a standby: received/replayed positions that follow the primary, streaming, same system id', async () => {
    const primary = await open('n0');
    const standby = await open('n1');
    const before = await readNodeStatus(standby, { name: 'n1', scope: 'demo', syncStandby: true });
    await primary.query('CREATE TABLE IF NOT EXISTS ns_t AS SELECT g FROM generate_series(1, 20000) g');
    await h.cluster.waitForReplay('n1');
    const [p, s] = await Promise.all([readNodeStatus(primary, { name: 'n0', scope: 'demo' }), readNodeStatus((sql) => standby.query(sql).then((r) => r.rows), { name: 'n1', scope: 'demo' })]);
    expect(s.role).toBe('replica');
    expect(s.replication_state).toBe('streaming');
    expect(s.timeline).toBe(1);
    expect(s.database_system_identifier).toBe(p.database_system_identifier);
    const x = s.xlog as { received_location: number; replayed_location: number; paused: boolean; replayed_timestamp: string | null };
    const bx = before.xlog as typeof x;
    expect(x.replayed_location).toBeGreaterThan(bx.replayed_location);
    expect(x.received_location).toBeGreaterThanOrEqual(x.replayed_location);
    expect(x.paused).toBe(false);
    expect(x.replayed_timestamp).toMatch(/\+00:00$/);
    // the primary's flushed position is at least what the standby replayed
    expect((p.xlog as { location: number }).location).toBeGreaterThanOrEqual(x.replayed_location);
    expect(before.sync_standby).toBe(true);
    expect(s.sync_standby).toBeUndefined();
    expect(s.replication).toBeUndefined();
  });

  it('reports paused replay on a standby', async () => {
    const standby = await open('n1');
    await standby.query('SELECT pg_wal_replay_pause()');
    try {
      const s = await readNodeStatus(standby, { name: 'n1', scope: 'demo' });
      expect((s.xlog as { paused: boolean }).paused).toBe(true);
    } finally {
      await standby.query('SELECT pg_wal_replay_resume()');
    }
  });

  it('can use the legacy role word and throws the server error when the connection is gone', async () => {
    const c = await connectTo(h.cluster.node('n0'));
    const s = await readNodeStatus(c, { name: 'n0', scope: 'demo', primaryRole: 'master' });
    expect(s.role).toBe('master');
    await c.end();
    await expect(readNodeStatus(c, { name: 'n0', scope: 'demo' })).rejects.toThrow();
    expect(offlineNodeStatus({ name: 'n0', scope: 'demo', role: 'primary' })).toMatchObject({ state: 'unknown', role: 'primary' });
    expect(offlineNodeStatus({ name: 'n0', scope: 'demo', state: 'stopped' })).toMatchObject({ state: 'stopped', role: 'uninitialized' });
  });
});
