/**
 * The pure decisions behind the REST API, for the cases a two-node test
 * cluster cannot reach: standby clusters, stopped PostgreSQL, no DCS, lag
 * parsing edge cases, LSN formatting, `/cluster` for scheduled switchovers.
 */
import { describe, it, expect } from 'vitest';
import type { DcsSnapshot, NodeStatus } from '../../src/manager/agent-view';
import { formatLsn } from '../../src/lsn';
import { clusterJson, healthStatusCode, hostPortOf, metricsText, parseLagBytes, readinessCode } from '../../src/manager/api-views';

const replica = (over: Partial<NodeStatus> = {}): NodeStatus => ({
  state: 'running',
  role: 'replica',
  xlog: { received_location: 5000, replayed_location: 5000, replayed_timestamp: null, paused: false },
  replication_state: 'streaming',
  patroni: { version: '4.0.0', scope: 's', name: 'n1' },
  ...over,
});
const snapshot = (over: Partial<DcsSnapshot> = {}): DcsSnapshot => ({
  leader: 'n0',
  members: [],
  config: {},
  initialize: undefined,
  sync: undefined,
  failover: undefined,
  history: [],
  revisions: { config: '0', failover: '0', sync: '0', history: '0', initialize: '0' },
  status: { optime: 5000 },
  revision: '1',
  ...over,
});
const q = (s = '') => new URLSearchParams(s);

describe('parseLagBytes (Patroni parse_int with base unit B)', () => {
  it.each([
    ['1048576', 1048576],
    ['16kB', 16384],
    ['10MB', 10 * 1048576],
    [' 1 GB ', 1024 ** 3],
    ['0', 0],
  ])('%s → %d', (text, bytes) => expect(parseLagBytes(text)).toBe(bytes));
  it.each(['', 'lots', '10mb', '10XB', '1e3'])('%s → no bound', (text) => expect(parseLagBytes(text)).toBeUndefined());
});

describe('healthStatusCode', () => {
  it('a standby-cluster leader answers /standby-leader and /leader, not /primary', () => {
    const input = { status: replica({ role: 'standby_leader' }), isLeader: true, name: 'n1', snapshot: snapshot() };
    expect(['/standby-leader', '/standby_leader', '/leader', '/primary', '/replica', '/read-only'].map((p) => healthStatusCode(p, q(), input))).toEqual([200, 200, 200, 503, 503, 200]);
  });

  it('a stopped replica fails /replica and /health; the primary still answers /primary', () => {
    const stopped = { status: replica({ state: 'stopped' }), isLeader: false, name: 'n1' };
    expect(healthStatusCode('/replica', q(), stopped)).toBe(503);
    expect(healthStatusCode('/health', q(), stopped)).toBe(503);
    expect(healthStatusCode('/primary', q(), { status: replica({ role: 'primary' }), isLeader: true, name: 'n0' })).toBe(200);
  });

  it('without a DCS snapshot the sync/async checks answer 503 (Patroni: "elif cluster")', () => {
    const input = { status: replica(), isLeader: false, name: 'n1' };
    expect(['/sync', '/async', '/read-only-sync', '/replica'].map((p) => healthStatusCode(p, q(), input))).toEqual([503, 503, 503, 200]);
  });

  it('the sync key counts only in synchronous mode, and may list several standbys', () => {
    const sync = { leader: 'n0', sync_standby: 'n2,n1' };
    const on = { status: replica(), isLeader: false, name: 'n1', snapshot: snapshot({ sync, config: { synchronous_mode: true } }) };
    const off = { ...on, snapshot: snapshot({ sync, config: { synchronous_mode: false } }) };
    expect([healthStatusCode('/sync', q(), on), healthStatusCode('/async', q(), on)]).toEqual([200, 503]);
    expect([healthStatusCode('/sync', q(), off), healthStatusCode('/async', q(), off)]).toEqual([503, 200]);
  });

  it('tags are ignored by leader checks and compared as lower-case text otherwise', () => {
    const input = { status: replica({ tags: { nosync: true, zone: 'Z1' } }), isLeader: false, name: 'n1', snapshot: snapshot() };
    expect(healthStatusCode('/replica', q('tag_nosync=true&tag_zone=Z1'), input)).toBe(200);
    expect(healthStatusCode('/replica', q('tag_nosync=True'), input)).toBe(503);
    expect(healthStatusCode('/primary', q('tag_zone=nope'), { ...input, status: replica({ role: 'primary' }), isLeader: true })).toBe(200);
  });

  it('readiness: replica must stream and be within maximum_lag_on_failover', () => {
    const snap = snapshot({ status: { optime: 5000 + 2048 }, config: { maximum_lag_on_failover: 1024 } });
    expect(readinessCode(q(), { status: replica(), isLeader: false, name: 'n1', snapshot: snap })).toBe(503);
    expect(readinessCode(q('lag=4kB'), { status: replica(), isLeader: false, name: 'n1', snapshot: snap })).toBe(200);
    expect(readinessCode(q(), { status: replica({ replication_state: undefined }), isLeader: false, name: 'n1', snapshot: snapshot() })).toBe(503);
  });
});

describe('/cluster and /metrics documents', () => {
  it('formats LSNs like Patroni and parses conn_url host/port (IPv6, default port)', () => {
    expect(formatLsn(0x1_0000_00a0)).toBe('1/A0');
    expect(formatLsn(50331648)).toBe('0/3000000');
    expect(hostPortOf('postgres://[::1]:5433/postgres')).toEqual({ host: '::1', port: 5433 });
    expect(hostPortOf('postgres://db.example/postgres')).toEqual({ host: 'db.example', port: 5432 });
    expect(hostPortOf('not a url')).toEqual({});
  });

  it('lists a scheduled switchover, standby_leader in a standby cluster, and lag against the optime', () => {
    const doc = clusterJson(
      snapshot({
        config: { standby_cluster: { host: 'x' }, pause: true },
        failover: { leader: 'n0', member: 'n1', scheduled_at: '2030-01-01T00:00:00+00:00' },
        members: [
          { name: 'n1', data: { conn_url: 'postgres://h1:5433/postgres', state: 'running', role: 'replica', xlog_location: 4000 } },
          { name: 'n0', data: { conn_url: 'postgres://h0:5432/postgres', state: 'running', role: 'standby_leader', xlog_location: 5000 } },
        ],
      }),
      's',
    );
    expect(doc.members.map((m) => [m.name, m.role, m.lag])).toEqual([
      ['n0', 'standby_leader', undefined],
      ['n1', 'replica', 1000],
    ]);
    expect(doc.pause).toBe(true);
    expect(doc.scheduled_switchover).toEqual({ at: '2030-01-01T00:00:00+00:00', from: 'n0', to: 'n1' });
  });

  it('metrics escape label values and report failover priority 0 for nofailover', () => {
    const text = metricsText({ status: replica({ tags: { nofailover: true } }), isLeader: false, name: 'we"ird', scope: 's' });
    expect(text).toContain('patroni_failover_priority{scope="s",name="we\\"ird"} 0');
    expect(text).toContain('patroni_cluster_unlocked{scope="s",name="we\\"ird"} 0');
  });

  it('regression: patroni_postgres_timeline is a counter for the version we report (gauge only from Patroni 4.1.4); patroni_failsafe_mode_is_active exists', () => {
    const text = metricsText({ status: replica({ timeline: 3 }), isLeader: false, name: 'n1', scope: 's' });
    expect(text).toContain('# TYPE patroni_postgres_timeline counter');
    expect(text).toContain('patroni_postgres_timeline{scope="s",name="n1"} 3');
    expect(text).toContain('# TYPE patroni_failsafe_mode_is_active gauge');
    expect(text).toContain('patroni_failsafe_mode_is_active{scope="s",name="n1"} 0');
    const newer = metricsText({ status: replica({ patroni: { version: '4.1.4', scope: 's', name: 'n1' } }), isLeader: false, name: 'n1', scope: 's' });
    expect(newer).toContain('# TYPE patroni_postgres_timeline gauge');
  });
});
