/**
 * Quorum commit's resolver (src/manager/quorum.ts), pure: the steps that take
 * synchronous_standby_names (`ANY numsync (sync)`) and the `sync` key (`quorum` of `voters`)
 * to the optimal state, one at a time, in an order that never lets a leader race miss a
 * node that acknowledged a commit. The cases are the states Patroni's quorum_commit feature
 * walks through, plus a property check over every small state.
 */
import { describe, expect, it } from 'vitest';
import { quorumTransitions, QuorumError, type QuorumInput, type QuorumTransition } from '../../src/manager/quorum';

const base: QuorumInput = { leader: 'L', quorum: 0, voters: [], numsync: 0, sync: [], numsyncConfirmed: 0, active: [], syncWanted: 1, leaderWanted: 'L' };
const steps = (over: Partial<QuorumInput>) => quorumTransitions({ ...base, ...over }).map((t) => [t.kind, t.leader, t.num, t.names.join(',')]);

/** Applies the steps as the leader does (each `sync` sets the GUC, each `quorum` writes the key), until nothing changes. */
function settle(start: QuorumInput, confirm: (s: QuorumInput) => number): QuorumInput {
  let s = { ...start };
  for (let round = 0; round < 10; round++) {
    const ts: QuorumTransition[] = quorumTransitions({ ...s, numsyncConfirmed: confirm(s) });
    if (!ts.length || (ts.length === 1 && ts[0]!.kind === 'restart' && round > 0)) return s;
    for (const t of ts) {
      if (t.kind === 'sync') s = { ...s, numsync: t.num, sync: t.names };
      else if (t.kind === 'quorum') s = { ...s, leader: t.leader, quorum: t.num, voters: t.names };
    }
  }
  return s;
}
const allConfirmed = (s: QuorumInput) => Math.min(s.numsync, [...s.sync].filter((n) => [...s.active].includes(n)).length);

describe('quorum commit: steps from one state to the next', () => {
  it('a first standby: the GUC names it first, the key only once it has caught up (a restart re-reads meanwhile)', () => {
    expect(steps({ active: ['b'] })).toEqual([['sync', 'L', 1, 'b'], ['restart', 'L', 0, '']]);
    expect(steps({ numsync: 1, sync: ['b'], numsyncConfirmed: 1, active: ['b'] })).toEqual([['quorum', 'L', 0, 'b']]);
  });

  it('a second standby with synchronous_node_count 1: the key first (quorum 1 of 2), then the GUC (ANY 1 of 2)', () => {
    expect(steps({ voters: ['b'], numsync: 1, sync: ['b'], numsyncConfirmed: 1, active: ['b', 'c'] })).toEqual([
      ['quorum', 'L', 1, 'b,c'],
      ['sync', 'L', 1, 'b,c'],
    ]);
  });

  it('synchronous_node_count 1 → 2: raise numsync first, then lower the quorum', () => {
    expect(steps({ quorum: 1, voters: ['b', 'c'], numsync: 1, sync: ['b', 'c'], numsyncConfirmed: 1, active: ['b', 'c'], syncWanted: 2 })).toEqual([
      ['sync', 'L', 2, 'b,c'], // the quorum stays 1 while only 1 of the 2 is confirmed
    ]);
    expect(steps({ quorum: 1, voters: ['b', 'c'], numsync: 2, sync: ['b', 'c'], numsyncConfirmed: 2, active: ['b', 'c'], syncWanted: 2 })).toEqual([['quorum', 'L', 0, 'b,c']]);
  });

  it('synchronous_node_count 2 → 1: raise the quorum first, then lower numsync', () => {
    expect(steps({ quorum: 0, voters: ['b', 'c'], numsync: 2, sync: ['b', 'c'], numsyncConfirmed: 2, active: ['b', 'c'], syncWanted: 1 })).toEqual([
      ['quorum', 'L', 1, 'b,c'],
      ['sync', 'L', 1, 'b,c'],
    ]);
  });

  it('the only standby goes away: the key drops it before the GUC does', () => {
    expect(steps({ voters: ['b'], numsync: 1, sync: ['b'], numsyncConfirmed: 1, active: [] })).toEqual([
      ['quorum', 'L', 0, ''],
      ['sync', 'L', 0, ''],
    ]);
  });

  it('one of two standbys goes away (quorum 1): the GUC drops it first, then the key', () => {
    expect(steps({ quorum: 1, voters: ['b', 'c'], numsync: 1, sync: ['b', 'c'], numsyncConfirmed: 1, active: ['b'] })).toEqual([
      ['sync', 'L', 1, 'b'],
      ['quorum', 'L', 0, 'b'],
    ]);
  });

  it('after a failover the new leader names itself and the old leader as a voter; standbys not yet connected wait a loop', () => {
    // b won: the old leader L joins the voters, b leaves them (the GUC was set before promotion)
    expect(quorumTransitions({ ...base, leader: 'L', voters: ['b'], numsync: 1, sync: ['L'], active: [], leaderWanted: 'b' }).map((t) => [t.kind, t.leader, t.num, t.names.join(',')])).toEqual([
      ['quorum', 'b', 0, 'L'],
    ]);
    // a loop later L still does not stream: both drop it (the key first)
    expect(quorumTransitions({ ...base, leader: 'b', voters: ['L'], numsync: 1, sync: ['L'], active: [], leaderWanted: 'b' }).map((t) => t.kind)).toEqual(['quorum', 'sync']);
  });

  it('nothing to do in the steady state', () => {
    expect(steps({ quorum: 1, voters: ['b', 'c'], numsync: 1, sync: ['b', 'c'], numsyncConfirmed: 1, active: ['b', 'c'] })).toEqual([]);
  });

  it('a broken state is repaired from the GUC (the key follows what PostgreSQL enforces)', () => {
    // the key claims b and c with quorum 0 while PostgreSQL waits for one of b, c: the race could miss a commit
    expect(steps({ quorum: 0, voters: ['b', 'c'], numsync: 1, sync: ['b', 'c'], numsyncConfirmed: 1, active: ['b', 'c'] })[0]).toEqual(['quorum', 'L', 1, 'b,c']);
  });

  it('throws QuorumError for a state it cannot repair', () => {
    expect(() => quorumTransitions({ ...base, leader: 'M', quorum: 3, voters: [], numsync: 0, sync: [], leaderWanted: 'L' })).toThrow(QuorumError);
  });
});

describe('quorum commit: properties', () => {
  const names = ['b', 'c', 'd'];
  const subsets = (xs: string[]): string[][] => xs.reduce<string[][]>((acc, x) => acc.concat(acc.map((s) => [...s, x])), [[]]);

  it('every step keeps the commit set and the race set overlapping, from every consistent steady state', () => {
    let checked = 0;
    for (const members of subsets(names)) {
      for (let wanted = 1; wanted <= 3; wanted++) {
        const numsync = Math.min(wanted, members.length);
        const start: QuorumInput = { ...base, voters: members, sync: members, numsync, quorum: members.length ? members.length - numsync : 0, numsyncConfirmed: numsync, syncWanted: wanted };
        for (const active of subsets(names)) {
          for (const newWanted of [1, 2, 3]) {
            let s: QuorumInput = { ...start, active, syncWanted: newWanted };
            for (const t of quorumTransitions({ ...s, numsyncConfirmed: allConfirmed(s) })) {
              if (t.kind === 'sync') s = { ...s, numsync: t.num, sync: t.names };
              if (t.kind === 'quorum') s = { ...s, quorum: t.num, voters: t.names };
              const all = new Set([...s.voters, ...s.sync, 'L']);
              if ([...s.voters].length) expect(all.size).toBeLessThanOrEqual(s.quorum + Math.min(s.numsync, [...s.sync].length) + 1);
              checked++;
            }
          }
        }
      }
    }
    expect(checked).toBeGreaterThan(100);
  });

  it('settles in the optimal state: sync = voters = active, numsync = min(wanted, |active|), quorum = |active| - numsync', () => {
    for (const active of subsets(names)) {
      for (let wanted = 1; wanted <= 3; wanted++) {
        const s = settle({ ...base, active, syncWanted: wanted }, allConfirmed);
        const n = Math.min(wanted, active.length);
        expect([[...s.sync].sort(), [...s.voters].sort(), s.numsync, s.quorum]).toEqual([active, active, n, active.length - n]);
      }
    }
  });
});
