/**
 * The "healthiest node" rule (who may race for the leader key), decided from
 * probes of the other members: pure logic, the probes injected.
 */
import { describe, expect, it } from 'vitest';
import type { DcsSnapshot, MemberData } from '../../src/manager/agent-view';
import { isHealthiestNode, parseConnUrl, type PeerState } from '../../src/manager/candidate';
import { lsnToPosition as lsnToNumber } from '../../src/lsn';

function snapshot(members: Record<string, MemberData>, extra: Partial<DcsSnapshot> = {}): DcsSnapshot {
  return {
    leader: undefined,
    members: Object.entries(members).map(([name, data]) => ({ name, data })),
    config: {},
    initialize: '1',
    sync: undefined,
    failover: undefined,
    history: [],
    status: undefined,
    revision: '1',
    revisions: { config: '0', failover: '0', sync: '0', history: '0', initialize: '0' },
    ...extra,
  };
}

const base = { me: 'a', myWalPosition: 1000, myPriority: 1, nofailover: false, maximumLagOnFailoverBytes: 1 << 20 };
const probes = (states: Record<string, PeerState>) => async (name: string) => states[name] ?? { kind: 'unreachable' as const };

describe('isHealthiestNode', () => {
  const members = { a: { state: 'running' }, b: { state: 'running' }, c: { state: 'running' } };

  it('wins when every reachable peer has less or equal WAL', async () => {
    const v = await isHealthiestNode({ ...base, snapshot: snapshot(members), probe: probes({ b: { kind: 'replica', walPosition: 900 }, c: { kind: 'replica', walPosition: 1000 } }) });
    expect(v.ok).toBe(true);
  });

  it('ignores unreachable peers (the failed primary)', async () => {
    expect((await isHealthiestNode({ ...base, snapshot: snapshot(members), probe: probes({}) })).ok).toBe(true);
  });

  it('synchronous mode: an asynchronous replica with more WAL does not stop the sync standby (Patroni compares sync candidates only)', async () => {
    const probe = probes({ b: { kind: 'replica', walPosition: 5000 }, c: { kind: 'replica', walPosition: 900 } });
    const sync = await isHealthiestNode({ ...base, snapshot: snapshot(members), syncCandidates: new Set(['c', 'a']), probe });
    expect(sync).toMatchObject({ ok: true });
    // Without the sync restriction b's extra WAL wins, and a still-primary member forbids the race either way.
    expect((await isHealthiestNode({ ...base, snapshot: snapshot(members), probe })).ok).toBe(false);
    const primary = probes({ b: { kind: 'primary', walPosition: 5000 } });
    expect((await isHealthiestNode({ ...base, snapshot: snapshot(members), syncCandidates: new Set(['c', 'a']), probe: primary })).ok).toBe(false);
  });

  it('loses to a peer with more WAL', async () => {
    const v = await isHealthiestNode({ ...base, snapshot: snapshot(members), probe: probes({ b: { kind: 'replica', walPosition: 1001 } }) });
    expect(v).toMatchObject({ ok: false });
    expect(v.reason).toContain('Wal position of b is ahead of my wal position');
  });

  it('does not race while a peer still runs as a primary', async () => {
    const v = await isHealthiestNode({ ...base, snapshot: snapshot(members), probe: probes({ c: { kind: 'primary', walPosition: 5 } }) });
    expect(v.ok).toBe(false);
  });

  it('breaks WAL ties by failover_priority', async () => {
    const m = { ...members, b: { state: 'running', tags: { failover_priority: 5 } } };
    expect((await isHealthiestNode({ ...base, snapshot: snapshot(m), probe: probes({ b: { kind: 'replica', walPosition: 1000 } }) })).ok).toBe(false);
    const nf = { ...members, b: { state: 'running', tags: { nofailover: true } } };
    expect((await isHealthiestNode({ ...base, snapshot: snapshot(nf), probe: probes({ b: { kind: 'replica', walPosition: 9999 } }) })).ok).toBe(true);
  });

  it('refuses when lagging more than maximum_lag_on_failover behind the last leader optime', async () => {
    const v = await isHealthiestNode({ ...base, maximumLagOnFailoverBytes: 100, snapshot: snapshot(members, { status: { optime: 1200 } }), probe: probes({}) });
    expect(v.ok).toBe(false);
    expect((await isHealthiestNode({ ...base, maximumLagOnFailoverBytes: 200, snapshot: snapshot(members, { status: { optime: 1200 } }), probe: probes({}) })).ok).toBe(true);
  });

  it('refuses under nofailover, and defers to a live requested candidate', async () => {
    expect((await isHealthiestNode({ ...base, nofailover: true, snapshot: snapshot(members), probe: probes({}) })).ok).toBe(false);
    const req = snapshot(members, { failover: { member: 'b' } });
    expect((await isHealthiestNode({ ...base, snapshot: req, probe: probes({}) })).ok).toBe(false);
    expect((await isHealthiestNode({ ...base, me: 'b', snapshot: req, probe: probes({}) })).ok).toBe(true);
    const deadCandidate = snapshot({ a: members.a, b: { state: 'stopped' } }, { failover: { member: 'b' } });
    expect((await isHealthiestNode({ ...base, snapshot: deadCandidate, probe: probes({}) })).ok).toBe(true);
  });
});

describe('helpers', () => {
  it('parses conn_url and LSNs', () => {
    expect(parseConnUrl('postgres://127.0.0.1:5433/postgres')).toEqual({ host: '127.0.0.1', port: 5433 });
    expect(parseConnUrl('postgres://[::1]:5433/postgres')).toEqual({ host: '::1', port: 5433 });
    expect(parseConnUrl('not a url')).toBeUndefined();
    expect(lsnToNumber('0/3000060')).toBe(0x3000060);
    expect(lsnToNumber('16/B374D848')).toBe(0x16 * 2 ** 32 + 0xb374d848);
  });
});
