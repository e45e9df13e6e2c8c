/**
 * Failover safety in quorum commit (src/manager/candidate.ts), no servers: a member may take the
 * leader key only when it sees enough voters not ahead of it to prove it holds every
 * acknowledged commit (Patroni 4's `_is_healthiest_node` quorum check), and a leader hands
 * over only when enough voters remain (`is_failover_possible`). Probes are injected.
 */
import { describe, expect, it } from 'vitest';
import type { DcsSnapshot, MemberData } from '../../src/manager/agent-view';
import { failoverPossible, isHealthiestNode, quorumReached, type PeerState } from '../../src/manager/candidate';
import { quorumOf, syncCandidates } from '../../src/manager/sync';

function snapshot(sync: DcsSnapshot['sync'], names = ['L', 'a', 'b', 'c', 'x']): DcsSnapshot {
  return {
    leader: undefined,
    members: names.map((name) => ({ name, data: { state: 'running' } as MemberData })),
    config: { synchronous_mode: 'quorum' },
    initialize: '1',
    sync,
    failover: undefined,
    history: [],
    status: undefined,
    revision: '1',
    revisions: { config: '0', failover: '0', sync: '1', history: '0', initialize: '0' },
  };
}

const probes = (states: Record<string, PeerState>) => async (name: string) => states[name] ?? { kind: 'unreachable' as const };
const replica = (walPosition: number): PeerState => ({ kind: 'replica', walPosition });

async function race(me: string, sync: DcsSnapshot['sync'], states: Record<string, PeerState>, myWal = 1000) {
  const snap = snapshot(sync);
  return isHealthiestNode({
    me, myWalPosition: myWal, myPriority: 1, nofailover: false, maximumLagOnFailoverBytes: 1 << 20, snapshot: snap,
    syncCandidates: syncCandidates(snap), quorum: quorumOf(snap), probe: probes(states),
  });
}

describe('quorum commit: the leader race', () => {
  // leader L died; voters a, b, c; quorum 1: any 2 of {a, b, c} hold every acknowledged commit (ANY 2)
  const sync = { leader: 'L', sync_standby: 'a,b,c', quorum: 1 };

  it('a voter that sees one more voter not ahead of it has the quorum', async () => {
    const v = await race('a', sync, { b: replica(1000) });
    expect(v).toMatchObject({ ok: true });
    expect(v.reason).toContain('b');
  });

  it('a voter that sees no other voter does not (the commit may be only on the two it cannot see)', async () => {
    const v = await race('a', sync, {});
    expect(v.ok).toBe(false);
    expect(v.reason).toContain('quorum not reached');
  });

  it('a member outside the voters needs quorum + 1 votes', async () => {
    expect((await race('x', sync, { a: replica(1000) })).ok).toBe(false);
    expect((await race('x', sync, { a: replica(1000), b: replica(900) })).ok).toBe(true);
  });

  it('a voter ahead of us wins instead (we stand down)', async () => {
    const v = await race('a', sync, { b: replica(1001), c: replica(1000) });
    expect(v.ok).toBe(false);
    expect(v.reason).toContain('ahead');
  });

  it('the former leader may be ahead (WAL nobody acknowledged): ignored, and it votes only when not ahead', async () => {
    expect((await race('a', sync, { L: replica(5000), b: replica(1000) })).ok).toBe(true);
    expect((await race('a', sync, { L: replica(5000) })).ok).toBe(false);
    expect((await race('a', sync, { L: replica(1000) })).ok).toBe(true); // the old leader itself is a voter
  });

  it('a member whose PostgreSQL answers no position does not vote; a nofailover member never does', async () => {
    expect((await race('a', sync, { b: replica(0) })).ok).toBe(false);
    const snap = snapshot(sync);
    snap.members.find((m) => m.name === 'b')!.data.tags = { nofailover: true };
    const v = await isHealthiestNode({ me: 'a', myWalPosition: 1000, myPriority: 1, nofailover: false, maximumLagOnFailoverBytes: 1 << 20, snapshot: snap, syncCandidates: syncCandidates(snap), quorum: quorumOf(snap), probe: probes({ b: replica(1000) }) });
    expect(v.ok).toBe(false);
  });

  it('quorum 0 (ANY 1 of the only voter): that voter wins alone; the former leader wins alone while nobody is ahead', async () => {
    expect((await race('a', { leader: 'L', sync_standby: 'a', quorum: 0 }, {})).ok).toBe(true);
    expect((await race('L', { leader: 'L', sync_standby: 'a', quorum: 0 }, {})).ok).toBe(true);
    expect((await race('L', { leader: 'L', sync_standby: 'a,b', quorum: 1 }, { a: replica(999) })).ok).toBe(true);
  });

  it('a still-running primary forbids the race whatever the votes', async () => {
    expect((await race('a', sync, { b: replica(1000), c: { kind: 'primary', walPosition: 1 } })).ok).toBe(false);
  });
});

describe('quorum commit: the counting rules', () => {
  it('votes must reach the quorum; the former leader needs none while nobody is ahead', () => {
    expect(quorumReached({ votes: 1, quorum: 1, ahead: 0, formerLeaderIsMe: false })).toBe(true);
    expect(quorumReached({ votes: 0, quorum: 1, ahead: 0, formerLeaderIsMe: false })).toBe(false);
    expect(quorumReached({ votes: -1, quorum: 0, ahead: 0, formerLeaderIsMe: false })).toBe(false);
    expect(quorumReached({ votes: 0, quorum: 2, ahead: 0, formerLeaderIsMe: true })).toBe(true);
    expect(quorumReached({ votes: 0, quorum: 2, ahead: 1, formerLeaderIsMe: true })).toBe(false);
  });

  it('a switchover needs quorum + 1 healthy voters unless a candidate is named; plain mode needs one', () => {
    const q = { leader: 'L', voters: ['a', 'b', 'c'], quorum: 1 };
    expect(failoverPossible({ healthy: 2, quorum: q, candidateNamed: false })).toBe(true);
    expect(failoverPossible({ healthy: 1, quorum: q, candidateNamed: false })).toBe(false);
    expect(failoverPossible({ healthy: 1, quorum: q, candidateNamed: true })).toBe(true);
    expect(failoverPossible({ healthy: 1, quorum: undefined, candidateNamed: false })).toBe(true);
    expect(failoverPossible({ healthy: 0, quorum: undefined, candidateNamed: false })).toBe(false);
  });
});
