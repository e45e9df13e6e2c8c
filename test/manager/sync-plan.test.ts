/**
 * The synchronous standby plan (pure): one standby by default, `synchronous_node_count` of them
 * otherwise, written as Patroni writes them (sorted, comma-joined in `sync`; `N ("a","b")` in
 * synchronous_standby_names). The agent's use of it runs on real servers in synchronous.test.ts
 * and in Patroni's basic_replication feature (test/patroni-acceptance).
 */
import { describe, expect, it } from 'vitest';
import type { DcsSnapshot } from '../../src/manager/agent-view';
import { chooseSyncStandby, standbyNamesFor, syncCandidates } from '../../src/manager/sync';

const snap = (sync: DcsSnapshot['sync'], names = ['n0', 'n1', 'n2']): DcsSnapshot => ({
  leader: 'n0', members: names.map((name) => ({ name, data: {} })), config: { synchronous_mode: true }, initialize: '1', sync,
  failover: undefined, history: [], status: undefined, revision: '1', revisions: { config: '1', failover: '0', sync: '1', history: '0', initialize: '1' },
});

describe('synchronous standby plan', () => {
  it('keeps the current standby while it streams, else picks the first by name', () => {
    expect(chooseSyncStandby('n0', snap({ leader: 'n0', sync_standby: 'n2' }), ['n1', 'n2']).standby).toBe('n2');
    expect(chooseSyncStandby('n0', snap({ leader: 'n0', sync_standby: 'n2' }), ['n1']).standby).toBe('n1');
    expect(chooseSyncStandby('n0', snap(undefined), []).standby).toBeNull();
  });

  it('synchronous_node_count 2 names both streaming standbys, sorted, and PostgreSQL waits for both', () => {
    const plan = chooseSyncStandby('n0', snap({ leader: 'n0', sync_standby: 'n2' }), ['n2', 'n1'], 2);
    expect(plan.standby).toBe('n1,n2');
    expect(standbyNamesFor(plan.standby)).toBe('2 ("n1","n2")');
    expect(standbyNamesFor('n1')).toBe('"n1"');
    expect([...syncCandidates(snap({ leader: 'n0', sync_standby: 'n1,n2' }))!].sort()).toEqual(['n0', 'n1', 'n2']);
  });
});
