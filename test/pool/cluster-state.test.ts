/**
 * The routing engine's cluster state (src/pool/cluster-state.ts): one phase at a time, and
 * the events each transition fires. Pure: topology values in, phases and events out. The same
 * transitions on real kills and switchovers: test/pool/failover.test.ts, test/observability.
 */
import { describe, expect, it, vi, afterEach } from 'vitest';
import { ClusterState, SWITCHOVER_HOLD_MILLIS } from '../../src/pool/cluster-state';
import type { Member, Topology } from '../../src/topology/topology';

const m = (port: number, role: Member['role'], state = 'running'): Member => ({ name: `n${port}`, host: 'h', port, role, state });
const topo = (members: Member[], extra: Partial<Topology> = {}): Topology => ({ primary: members.find((x) => x.role === 'primary'), members, source: 'etcd', observedAt: 0, ...extra });

function make() {
  const events: Array<[string, Record<string, unknown>]> = [];
  const retired: string[] = [];
  const refreshed: string[] = [];
  const s = new ClusterState({
    announce: (e, p) => events.push([e, p as Record<string, unknown>]),
    retire: (k, why) => retired.push(`${k} ${why}`),
    refresh: (r) => refreshed.push(r),
  });
  return { s, events, retired, refreshed, names: () => events.map((e) => e[0]) };
}

afterEach(() => vi.useRealTimers());

describe('ClusterState', () => {
  it('idle → steady on the first topology with a primary (no event: nothing changed for the app)', () => {
    const { s, names } = make();
    expect(s.phase.kind).toBe('idle');
    s.observe(topo([m(1, 'primary'), m(2, 'standby')]), undefined);
    expect(s.phase).toEqual({ kind: 'steady', primary: 'h:1' });
    expect(s.primaryNow(topo([m(1, 'primary')]))).toBe('h:1');
    expect(names()).toEqual([]);
  });

  it('primary lost → failing-over (failoverStart, old sessions retired); a new primary → steady (primaryChanged, failoverEnd with its duration)', () => {
    vi.useFakeTimers({ now: 10_000 });
    const { s, events, names, retired } = make();
    const t0 = topo([m(1, 'primary'), m(2, 'standby')]);
    s.observe(t0, undefined);
    const t1 = topo([m(1, 'unknown', 'unreachable'), m(2, 'standby')]);
    s.observe(t1, t0);
    expect(s.phase).toMatchObject({ kind: 'failing-over', previous: 'h:1', since: 10_000 });
    expect(s.primaryNow(t1)).toBeUndefined();
    expect(retired).toContain('h:1 no longer the primary');
    vi.advanceTimersByTime(2500);
    const t2 = topo([m(1, 'unknown', 'unreachable'), m(2, 'primary')]);
    s.observe(t2, t1);
    expect(s.phase).toEqual({ kind: 'steady', primary: 'h:2' });
    expect(names()).toEqual(['primaryChanged', 'failoverStart', 'nodeDown', 'primaryChanged', 'failoverEnd']);
    expect(events.at(-1)![1]).toEqual({ primary: 'h:2', durationMillis: 2500 });
    expect(s.failovers).toMatchObject({ count: 1, durationsMillis: [2500], primaryChanges: 2 });
  });

  it('failing() is entered once (one failoverStart however many writes are held) and recovered() only leaves failing-over', () => {
    const { s, names } = make();
    s.observe(topo([m(1, 'primary')]), undefined);
    s.recovered('h:1');
    expect(names()).toEqual([]);
    s.failing('primary h:1 is unreachable');
    s.failing('again');
    expect(names()).toEqual(['failoverStart']);
    expect(s.primaryNow(topo([m(1, 'primary')]))).toBeUndefined(); // the slow path closes the failover
    s.recovered('h:1');
    expect(names()).toEqual(['failoverStart', 'failoverEnd']);
  });

  it('a node marked down is avoided for a second (nodeDown once, the topology asked again each time), the primary’s sessions retired', () => {
    vi.useFakeTimers({ now: 0 });
    const { s, names, refreshed, retired } = make();
    const t = topo([m(1, 'primary'), m(2, 'standby')]);
    s.observe(t, undefined);
    s.markDown('h:1', new Error('ECONNREFUSED'));
    s.markDown('h:1', new Error('ECONNREFUSED'));
    expect(names()).toEqual(['nodeDown']);
    expect(refreshed).toHaveLength(2);
    expect(retired).toContain('h:1 primary unreachable');
    expect(s.primaryNow(t)).toBeUndefined();
    expect(s.downKeys()).toEqual(['h:1']);
    vi.advanceTimersByTime(1001);
    expect(s.primaryNow(t)).toBe('h:1');
    expect(s.downKeys()).toEqual([]);
  });

  it('an announced switchover holds until the primary changes, or SWITCHOVER_HOLD_MILLIS — and that pair is not held again', () => {
    vi.useFakeTimers({ now: 0 });
    const { s } = make();
    const base = [m(1, 'primary'), m(2, 'standby')];
    s.observe(topo(base), undefined);
    const announced = topo(base, { switchoverPending: { candidate: 'n2' } });
    s.observe(announced, topo(base));
    expect(s.phase).toMatchObject({ kind: 'switchover-hold', primary: 'h:1' });
    expect(s.switchoverHoldUntil()).toBe(SWITCHOVER_HOLD_MILLIS);
    vi.advanceTimersByTime(SWITCHOVER_HOLD_MILLIS);
    expect(s.switchoverHoldUntil()).toBeUndefined(); // ran out: writes go to the old primary
    expect(s.phase.kind).toBe('steady');
    s.observe(topo(base, { switchoverPending: { candidate: 'n2' } }), announced);
    expect(s.phase.kind).toBe('steady'); // the same pair again: not held
    // A switchover that happens: the hold ends with the new primary.
    const { s: s2 } = make();
    s2.observe(topo(base), undefined);
    s2.observe(announced, topo(base));
    s2.observe(topo([m(1, 'standby'), m(2, 'primary')]), announced);
    expect(s2.phase).toEqual({ kind: 'steady', primary: 'h:2' });
    expect(s2.switchoverHoldUntil()).toBeUndefined();
  });
});
