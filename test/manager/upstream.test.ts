/**
 * Who streams from whom, decided from one DCS snapshot (upstream.ts): the same
 * answer for the follower, its upstream and the leader, which keep the slots.
 */
import { describe, expect, it } from 'vitest';
import type { DcsSnapshot, MemberData } from '../../src/manager/agent-view';
import { cloneSource, streamSource, streamTagsOf } from '../../src/manager/upstream';

function snap(leader: string | undefined, members: Record<string, Partial<MemberData>>): DcsSnapshot {
  return {
    leader,
    members: Object.entries(members).map(([name, d]) => ({ name, data: { state: 'running', conn_url: `postgres://127.0.0.1:5432/${name}`, ...d } })),
    config: {}, initialize: '1', sync: undefined, failover: undefined, history: [], status: undefined, revision: '1',
    revisions: { config: '0', failover: '0', sync: '0', history: '0', initialize: '0' },
  };
}
const source = (name: string, s: DcsSnapshot) => {
  const r = streamSource(name, streamTagsOf(s.members.find((m) => m.name === name)?.data), s);
  return r.kind === 'member' ? r.name : r.kind;
};

describe('streamSource (Patroni _get_node_to_follow)', () => {
  it('follows the replicatefrom member while its key is there and it runs, else the leader', () => {
    const s = snap('a', { a: {}, b: {}, c: { tags: { replicatefrom: 'b' } } });
    expect(source('c', s)).toBe('b');
    expect(source('b', s)).toBe('a');
    expect(source('c', snap('a', { a: {}, c: { tags: { replicatefrom: 'b' } } }))).toBe('a');
    expect(source('c', snap('a', { a: {}, b: { state: 'stopped' }, c: { tags: { replicatefrom: 'b' } } }))).toBe('a');
    expect(source('c', snap('a', { a: {}, c: { tags: { replicatefrom: 'c' } } }))).toBe('a');
  });

  it('nostream recovers from the archive; a cascade may stream from a nostream member', () => {
    const s = snap('a', { a: {}, b: { tags: { nostream: 'true' } }, c: { tags: { replicatefrom: 'b' } } });
    expect(source('b', s)).toBe('archive');
    expect(source('c', s)).toBe('b');
  });

  it('two members naming each other both follow the leader instead of starving', () => {
    const s = snap('a', { a: {}, b: { tags: { replicatefrom: 'c' } }, c: { tags: { replicatefrom: 'b' } } });
    expect(source('b', s)).toBe('a');
    expect(source('c', s)).toBe('a');
  });

  it('no leader key: nothing to stream from', () => {
    expect(source('b', snap(undefined, { b: {} }))).toBe('none');
  });
});

describe('cloneSource (Patroni get_clone_member)', () => {
  it('a running clonefrom member other than the leader, else the running leader', () => {
    expect(cloneSource('c', snap('a', { a: {}, b: { tags: { clonefrom: true } } }))?.name).toBe('b');
    expect(cloneSource('c', snap('a', { a: {}, b: { tags: { clonefrom: true }, state: 'starting' } }))?.name).toBe('a');
    expect(cloneSource('c', snap('a', { a: { state: 'starting' } }))).toBeUndefined();
  });
});
