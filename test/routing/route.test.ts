/**
 * The router's single hook (ReadRouter.route): every statement gets a node, a wait or a
 * failure. Pure decisions on topology values; the machinery around it (holding, refreshing,
 * waiting for changes) is proven on real servers by test/pool/failover.test.ts and routing.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { ReadRouter, type ReadFrom, type RouteInput } from '../../src/routing/router';
import type { Member, Topology } from '../../src/topology/topology';

const m = (port: number, role: Member['role'], extra: Partial<Member> = {}): Member => ({ name: `n${port}`, host: 'h', port, role, state: 'running', ...extra });
const topo = (...members: Member[]): Topology => ({ primary: members.find((x) => x.role === 'primary'), members, source: 'test', observedAt: 0 });
const T = topo(m(1, 'primary'), m(2, 'standby'), m(3, 'standby'));
const idle = () => ({ busy: 0 });
const input = (o: Partial<RouteInput> = {}): RouteInput => ({
  role: 'read',
  topology: T,
  primary: 'h:1',
  namedPrimary: 'h:1',
  load: idle,
  now: 1000,
  deadline: 31_000,
  standbyDeadline: 6000,
  ...o,
});
const router = (readFrom: ReadFrom = 'prefer-standby') => new ReadRouter({ readFrom, balance: 'disable' });

describe('router.route', () => {
  it('writes go to the usable primary; without one they wait (≤ 250 ms a round, naming why) until the deadline, then FAILOVER_TIMEOUT', () => {
    expect(router().route(input({ role: 'primary' }))).toEqual({ node: 'h:1' });
    expect(router().route(input({ role: 'primary', primary: undefined }))).toEqual({ wait: 'primary h:1 is unreachable', millis: 250 });
    expect(router().route(input({ role: 'primary', primary: undefined, namedPrimary: undefined, deadline: 1100 }))).toEqual({ wait: 'no primary known', millis: 100 });
    expect(router().route(input({ role: 'primary', primary: undefined, now: 31_000 }))).toMatchObject({ fail: 'FAILOVER_TIMEOUT' });
  });

  it('reads go to a standby; skipped nodes are not picked; with none left, prefer-standby reads use the primary', () => {
    expect(router().route(input())).toEqual({ node: 'h:2' });
    expect(router().route(input({ skip: new Set(['h:2']) }))).toEqual({ node: 'h:3' });
    expect(router().route(input({ skip: new Set(['h:2', 'h:3']) }))).toEqual({ node: 'h:1' });
  });

  it('readFrom primary: reads are placed like writes', () => {
    expect(router('primary').route(input())).toEqual({ node: 'h:1' });
    expect(router('primary').route(input({ primary: undefined }))).toMatchObject({ wait: 'primary h:1 is unreachable' });
  });

  it('a read that must see writes no standby has: the primary (a causal detour); with no usable primary, a wait for the next one — never a standby that may lack them', () => {
    expect(router().route(input({ primaryOnly: true }))).toEqual({ node: 'h:1', detour: 'causal-primary' });
    expect(router().route(input({ primaryOnly: true, primary: undefined }))).toEqual({ wait: 'primary h:1 is unreachable', millis: 250 });
    expect(router().route(input({ primaryOnly: true, primary: undefined, now: 31_000 }))).toMatchObject({ fail: 'FAILOVER_TIMEOUT' });
  });

  it('readFrom standby: never the primary; waits (3 ms rounds for a replay position, 20 ms otherwise) until its deadline, then NO_STANDBY', () => {
    const r = router('standby');
    expect(r.route(input())).toEqual({ node: 'h:2' });
    const none = { skip: new Set(['h:2', 'h:3']) };
    expect(r.route(input(none))).toEqual({ wait: 'a read needs a standby', millis: 20 });
    expect(r.route(input({ ...none, waitingForPosition: true }))).toMatchObject({ millis: 3 });
    expect(r.route(input({ ...none, standbyDeadline: 1005 }))).toMatchObject({ millis: 5 });
    expect(r.route(input({ ...none, now: 6000 }))).toMatchObject({ fail: 'NO_STANDBY' });
    // Even a read that would rather see the primary's writes stays on standbys.
    expect(r.route(input({ primaryOnly: true }))).toEqual({ node: 'h:2' });
  });

  it('standbys that do not qualify (unreachable, noloadbalance, too far behind) are never picked', () => {
    const t = topo(m(1, 'primary'), m(2, 'standby', { state: 'unreachable' }), m(3, 'standby', { tags: { noloadbalance: true } }), m(4, 'standby', { lagBytes: 10_000 }));
    const r = new ReadRouter({ readFrom: 'standby', balance: 'disable', maxReplicaLagBytes: 1000 });
    expect(r.route(input({ topology: t }))).toMatchObject({ wait: 'a read needs a standby' });
    expect(new ReadRouter({ readFrom: 'prefer-standby', balance: 'disable' }).route(input({ topology: t }))).toEqual({ node: 'h:4' });
  });
});
