/**
 * Which standbys may be synchronous and which are confirmed (src/manager/sync-state.ts), pure:
 * Patroni 4's choice (sync_priority, then PostgreSQL's sync_state, then position; nosync and
 * sync_priority ≤ 0 excluded; a standby confirmed only once it caught up after being listed).
 */
import { describe, expect, it } from 'vitest';
import type { DcsSnapshot, MemberData } from '../../src/manager/agent-view';
import { parseStandbyNames } from '../../src/manager/standby-names';
import { eligibleReplicas, syncStateOf, syncTagsOf, type ReplicationRow } from '../../src/manager/sync-state';

const member = (name: string, tags: Record<string, unknown> = {}, state = 'running') => ({ name, data: { state, tags } as MemberData });
const snap = (members: Array<{ name: string; data: MemberData }>): DcsSnapshot => ({
  leader: 'p', members, config: {}, initialize: '1', sync: undefined, failover: undefined, history: [], status: undefined, revision: '1',
  revisions: { config: '1', failover: '0', sync: '0', history: '0', initialize: '1' },
});
const row = (name: string, flush: number, sync_state = 'async', pid = 1): ReplicationRow => ({ pid, application_name: name, sync_state, write_lsn: flush, flush_lsn: flush, replay_lsn: flush });

describe('sync tags', () => {
  it('derives nosync and sync_priority as Patroni does (nosync wins; priority ≤ 0 means nosync when nosync is absent)', () => {
    expect(syncTagsOf({ tags: { sync_priority: '0' } })).toMatchObject({ nosync: true, syncPriority: 0 });
    expect(syncTagsOf({ tags: { sync_priority: '2' } })).toMatchObject({ nosync: false, syncPriority: 2 });
    expect(syncTagsOf({ tags: { nosync: true, sync_priority: '2' } })).toMatchObject({ nosync: true, syncPriority: 0 });
    expect(syncTagsOf({ tags: { nosync: false, sync_priority: '0' } })).toMatchObject({ nosync: false, syncPriority: 0 });
    expect(syncTagsOf({})).toMatchObject({ nosync: false, syncPriority: 1, nofailover: false });
    expect(syncTagsOf({ tags: { failover_priority: 0 } })).toMatchObject({ nofailover: true });
  });
});

describe('eligible replicas', () => {
  it('orders by sync_priority, then sync state, then position; leaves out nosync, non-running and unknown names', () => {
    const s = snap([member('p'), member('a', { sync_priority: '1' }), member('b', { sync_priority: '2' }), member('c', { sync_priority: '0' }), member('d', {}, 'stopped'), member('e', { nosync: true })]);
    const rows = [row('a', 100, 'sync'), row('b', 50), row('c', 200), row('d', 200), row('e', 300), row('stranger', 300)];
    expect(eligibleReplicas('p', s, rows, 'on').map((r) => r.name)).toEqual(['b', 'a']);
    const same = snap([member('a'), member('b'), member('c')]);
    expect(eligibleReplicas('p', same, [row('a', 10), row('b', 30, 'potential'), row('c', 20, 'sync')], 'on').map((r) => r.name)).toEqual(['c', 'b', 'a']);
  });

  it('measures the position synchronous_commit waits for and leaves out a member that should cascade from a streaming standby', () => {
    const s = snap([member('a'), member('b', { replicatefrom: 'a' })]);
    const rows: ReplicationRow[] = [{ ...row('a', 10), replay_lsn: null }, row('b', 20)];
    // a has no replay position yet: not streaming for the cascade rule (b counts), but still a candidate, last (a
    // standby's first reply can take wal_receiver_status_interval; listing it provokes one — Patroni waits a loop)
    expect(eligibleReplicas('p', s, rows, 'remote_apply').map((r) => r.name)).toEqual(['b', 'a']);
    expect(eligibleReplicas('p', s, [row('a', 10), row('b', 20)], 'on').map((r) => r.name)).toEqual(['a']); // b belongs under a
  });
});

describe('synchronous state', () => {
  const settings = { quorumCommit: false, syncNodeCount: 1, maxLagOnSyncnode: -1, synchronousCommit: 'on' };
  const replicas = (rows: ReplicationRow[], s = snap([member('a'), member('b'), member('c')])) => eligibleReplicas('p', s, rows, 'on');

  it('priority mode: the best synchronous_node_count are active; confirmed only when sync and caught up since listed', () => {
    const ready = new Set<string>();
    const guc = parseStandbyNames('b');
    let st = syncStateOf({ replicas: replicas([row('a', 90), row('b', 80, 'sync')]), guc, ready, flushAtChange: 100, primaryLsn: 100, syncKeyStandbys: [], settings });
    expect(st).toEqual({ kind: 'priority', numsync: 1, sync: ['b'], confirmed: [], active: ['b'] });
    st = syncStateOf({ replicas: replicas([row('a', 90), row('b', 100, 'sync')]), guc, ready, flushAtChange: 100, primaryLsn: 100, syncKeyStandbys: [], settings });
    expect(st.confirmed).toEqual(['b']);
    // already in the sync key: counted as confirmed at once (it was synchronous before)
    const fresh = syncStateOf({ replicas: replicas([row('b', 10, 'sync')]), guc, ready: new Set(), flushAtChange: 100, primaryLsn: 100, syncKeyStandbys: ['b'], settings });
    expect(fresh.confirmed).toEqual(['b']);
  });

  it('quorum mode: every eligible standby is active; confirmed when PostgreSQL says quorum and it caught up', () => {
    const q = { ...settings, quorumCommit: true };
    const st = syncStateOf({ replicas: replicas([row('a', 100, 'quorum'), row('b', 90, 'quorum'), row('c', 100, 'async')]), guc: parseStandbyNames('ANY 1 (a,b,c)'), ready: new Set(), flushAtChange: 95, primaryLsn: 100, syncKeyStandbys: [], settings: q });
    expect(st).toMatchObject({ kind: 'quorum', numsync: 1, sync: ['a', 'b', 'c'], confirmed: ['a'] });
    expect([...st.active].sort()).toEqual(['a', 'b', 'c']);
  });

  it('quorum mode: a nofailover standby votes only when the wanted count needs it; `*` lists nobody', () => {
    const s = snap([member('a', { nofailover: true }), member('b')]);
    const q = { ...settings, quorumCommit: true };
    const st = syncStateOf({ replicas: replicas([row('a', 100), row('b', 100)], s), guc: parseStandbyNames('ANY 1 (*)'), ready: new Set(), flushAtChange: 0, primaryLsn: 100, syncKeyStandbys: [], settings: q });
    expect(st).toMatchObject({ active: ['b'], sync: [], numsync: 1 });
    expect(syncStateOf({ replicas: replicas([row('a', 100), row('b', 100)], s), guc: parseStandbyNames(''), ready: new Set(), flushAtChange: 0, primaryLsn: 100, syncKeyStandbys: [], settings: { ...q, syncNodeCount: 2 } }).active).toEqual(['b', 'a']);
  });

  it('maximum_lag_on_syncnode leaves out a standby too far behind the best one', () => {
    const st = syncStateOf({ replicas: replicas([row('a', 100), row('b', 10)]), guc: parseStandbyNames(''), ready: new Set(), flushAtChange: 0, primaryLsn: 100, syncKeyStandbys: [], settings: { ...settings, quorumCommit: true, maxLagOnSyncnode: 50 } });
    expect(st.active).toEqual(['a']);
  });
});
