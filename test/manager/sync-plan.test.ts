/**
 * Who a `sync` key lets race for the leader key (pure): in synchronous mode the recorded leader
 * and its standbys; in quorum commit anyone (the vote decides, candidate-quorum.test.ts); and the
 * key read for the quorum rule as Patroni's SyncState reads it. The leader's side runs on real
 * servers in synchronous.test.ts and in Patroni's features (test/patroni-acceptance).
 */
import { describe, expect, it } from 'vitest';
import type { DcsSnapshot } from '../../src/manager/agent-view';
import { maySyncFailover, quorumOf, syncCandidates } from '../../src/manager/sync';

const snap = (sync: DcsSnapshot['sync'], config: Record<string, unknown> = { synchronous_mode: true }): DcsSnapshot => ({
  leader: undefined, members: ['n0', 'n1', 'n2'].map((name) => ({ name, data: {} })), config, initialize: '1', sync,
  failover: undefined, history: [], status: undefined, revision: '1', revisions: { config: '1', failover: '0', sync: '1', history: '0', initialize: '1' },
});

describe('sync key readers', () => {
  it('synchronous mode: only the recorded leader and its standbys may race; nothing recorded, anyone', () => {
    const s = snap({ leader: 'n0', sync_standby: 'n1, n2' });
    expect([...syncCandidates(s)!].sort()).toEqual(['n0', 'n1', 'n2']);
    expect(maySyncFailover('n1', snap({ leader: 'n0', sync_standby: 'n1' }))).toBe(true);
    expect(maySyncFailover('n2', snap({ leader: 'n0', sync_standby: 'n1' }))).toBe(false);
    expect(maySyncFailover('n2', snap(undefined))).toBe(true);
  });

  it('quorum commit: anyone may race (the quorum vote decides)', () => {
    expect(maySyncFailover('n2', snap({ leader: 'n0', sync_standby: 'n1', quorum: 0 }, { synchronous_mode: 'quorum' }))).toBe(true);
  });

  it('reads quorum as Patroni does: 0 without a leader or a number', () => {
    expect(quorumOf(snap({ leader: 'n0', sync_standby: 'n1,n2', quorum: 1 }))).toEqual({ leader: 'n0', voters: ['n1', 'n2'], quorum: 1 });
    expect(quorumOf(snap({ leader: 'n0', sync_standby: null }))).toEqual({ leader: 'n0', voters: [], quorum: 0 });
    expect(quorumOf(snap({ leader: null, sync_standby: 'n1', quorum: 2 }))).toBeUndefined();
  });
});
