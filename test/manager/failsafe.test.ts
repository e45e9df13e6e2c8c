/**
 * DCS failsafe mode's rules (src/manager/failsafe.ts, failsafe-state.ts), pure: one test per
 * branch on a fake clock — all members accept, one is missing, the member list changed, etcd is
 * back — plus the replica's side (who leads, who may race). The same rules run against real
 * etcd, PostgreSQL and REST APIs in failsafe-agent.test.ts.
 */
import { describe, expect, it } from 'vitest';
import type { DcsSnapshot, MemberData } from '../../src/manager/agent-view';
import { decide, type CycleInput } from '../../src/manager/decide';
import {
  failsafeKeyUpdate,
  failsafeModeOf,
  failsafePeers,
  failsafeRaceBlock,
  failsafeSlotsView,
  failsafeTopology,
  judgeFailsafe,
  parseFailsafeKey,
  withFailsafeLeader,
  type FailsafeInput,
} from '../../src/manager/failsafe';
import { FailsafeState } from '../../src/manager/failsafe-state';
import { LeaseKeeper } from '../../src/manager/lease-keeper';
import { writeFailsafeKey } from '../../src/manager/actions/failsafe';
import type { NodeContext } from '../../src/manager/node-context';

const NOW = Date.parse('2026-12-01T12:00:00Z');
const api = (n: number) => `http://127.0.0.1:${8008 + n}/patroni`;
const KEY = { n0: api(0), n1: api(1), n2: api(2) };

function member(name: string, extra: Partial<MemberData> = {}): { name: string; data: MemberData } {
  return { name, data: { conn_url: `postgres://127.0.0.1:${5430 + Number(name.slice(1))}/postgres`, api_url: api(Number(name.slice(1))), state: 'running', role: 'replica', ...extra } };
}

function snapshot(over: Partial<DcsSnapshot> = {}): DcsSnapshot {
  return {
    leader: undefined,
    members: [member('n1'), member('n2')],
    config: { failsafe_mode: true },
    initialize: '7300000000000000000',
    sync: undefined,
    failover: undefined,
    history: [],
    status: undefined,
    failsafe: KEY,
    revision: '10',
    revisions: { config: '1', failover: '0', sync: '0', history: '0', initialize: '1', failsafe: '7' },
    ...over,
  };
}

function judge(over: Partial<FailsafeInput> = {}) {
  return judgeFailsafe({ enabled: true, me: 'n0', key: KEY, acks: { n1: true, n2: true }, dcsDownMillis: 5000, retryTimeoutMillis: 3000, ...over });
}

describe('failsafe: the primary that cannot reach etcd', () => {
  it('all members of the key accept: it stays the primary', () => {
    expect(judge()).toEqual({ kind: 'continue', line: 'continue to run as a leader because failsafe mode is enabled and all members are accessible' });
    // also during the first retry_timeout of the outage
    expect(judge({ dcsDownMillis: 100 }).kind).toBe('continue');
  });

  it('one member is missing (refused, or no answer at all): demotes once etcd has failed for retry_timeout, waits before', () => {
    const refused = judge({ acks: { n1: true, n2: false } });
    expect(refused).toMatchObject({ kind: 'demote', line: 'demoted self because DCS is not accessible and I was a leader' });
    expect(refused.kind === 'demote' && refused.reason).toContain('n2 did not accept');
    expect(judge({ acks: { n1: true } }).kind).toBe('demote'); // n2 never answered
    // one slow etcd call is not an outage: the lease still covers the primary
    const early = judge({ acks: { n1: true, n2: false }, dcsDownMillis: 2999 });
    expect(early.kind).toBe('wait');
    expect(early.kind === 'wait' && early.line).toContain('n2 did not accept');
  });

  it('the member list changed: the key as last read decides — a member that joined later is not asked, one that left still must answer', () => {
    // n3 joined after the key was written: its answer is neither needed nor counted
    expect(judge({ acks: { n1: true, n2: true, n3: false } }).kind).toBe('continue');
    // n2 left the cluster but is still in the key: without its answer, demote
    expect(judge({ acks: { n1: true, n3: true } }).kind).toBe('demote');
    // only the primary itself in the key: a one-node cluster continues without asking anyone
    expect(judge({ key: { n0: api(0) }, acks: {} }).kind).toBe('continue');
  });

  it('a key that does not name us, or no key: demote (after retry_timeout); failsafe_mode off: the lease rule alone', () => {
    expect(judge({ key: { n1: api(1), n2: api(2) } })).toMatchObject({ kind: 'demote' });
    expect(judge({ key: undefined })).toMatchObject({ kind: 'demote', reason: expect.stringContaining('no failsafe key') });
    expect(judge({ key: undefined, dcsDownMillis: 10 }).kind).toBe('wait');
    expect(judge({ enabled: false })).toEqual({ kind: 'off' });
    expect(failsafePeers('n0', KEY)).toEqual({ peers: [{ name: 'n1', apiUrl: api(1) }, { name: 'n2', apiUrl: api(2) }] });
  });

  it('etcd back: a primary is ruled by its lease again — the confirmation is forgotten and the fence counts from the lease', () => {
    let now = NOW;
    const state = new FailsafeState(() => now);
    let lastKeepaliveOkAt = NOW - 30_000; // etcd gone for 30 s: the lease alone would have fenced long ago
    let fenced = 0;
    const keeper = new LeaseKeeper({
      store: { keepalive: async () => true, get lastKeepaliveOkAt() { return lastKeepaliveOkAt; }, leaseTtlSeconds: 20 },
      timing: () => ({ ttl: 20, loopWait: 2, retryTimeout: 3 }),
      guard: () => ({ primary: true, holdsLock: false, failsafeConfirmedAt: state.confirmedAt }),
      onFence: () => fenced++,
      now: () => now,
    });
    state.confirm(NOW - 1000); // a round that started 1 s ago was accepted by everyone
    expect(state.isActive(20_000)).toBe(true);
    expect(keeper.check()).toBe(false);
    now += 16_000; // 17 s after the round: fenceAfter = ttl - retry_timeout = 17 s
    expect(keeper.check()).toBe(false);
    now += 1_001;
    expect(keeper.check()).toBe(true); // no newer confirmation: fenced on its own clock
    // etcd answers again: the lease is renewed, the agent forgets the confirmation
    lastKeepaliveOkAt = now;
    state.reset();
    expect(state.confirmedAt).toBeUndefined();
    expect(state.isActive(20_000)).toBe(false);
    expect(keeper.check()).toBe(false);
    expect(fenced).toBe(1);
  });

  it('failsafe mode is active for ttl after a confirmation (primary) or a ping (replica), and a promotion forgets the old leader', () => {
    let now = NOW;
    const state = new FailsafeState(() => now);
    state.accept({ name: 'n0', conn_url: 'postgres://127.0.0.1:5430/postgres', api_url: api(0), slots: { n1: 42 } });
    expect(state.leader(20_000)).toMatchObject({ name: 'n0', slots: { n1: 42 }, receivedAt: NOW });
    now += 19_999;
    expect(state.isActive(20_000)).toBe(true);
    now += 1;
    expect(state.isActive(20_000)).toBe(false);
    expect(state.leader(20_000)).toBeUndefined();
    state.accept({ name: 'n0', conn_url: 'postgres://x:1/postgres', api_url: api(0) });
    state.reset(); // promoted
    expect(state.lastLeader).toBeUndefined();
  });
});

describe('failsafe: the failsafe key the leader keeps', () => {
  it('lists every member with an api_url and the leader itself; rewritten only when it changed', () => {
    const members = [member('n1'), member('n2'), { name: 'n9', data: { conn_url: 'postgres://h:1/postgres' } }];
    const wanted = failsafeTopology('n0', api(0), members);
    expect(wanted).toEqual(KEY);
    expect(failsafeKeyUpdate(KEY, wanted)).toBeUndefined();
    expect(failsafeKeyUpdate({ n1: api(1), n0: api(0), n2: api(2) }, wanted)).toBeUndefined(); // order does not matter
    expect(failsafeKeyUpdate(undefined, wanted)).toEqual(KEY);
    // a member joined, one left, one moved
    expect(failsafeKeyUpdate(KEY, { ...KEY, n3: api(3) })).toEqual({ ...KEY, n3: api(3) });
    expect(failsafeKeyUpdate(KEY, { n0: api(0), n1: api(1) })).toEqual({ n0: api(0), n1: api(1) });
    expect(failsafeKeyUpdate(KEY, { ...KEY, n2: 'http://10.0.0.2:8008/patroni' })).toEqual({ ...KEY, n2: 'http://10.0.0.2:8008/patroni' });
  });

  it('reads the key like Patroni: an object of strings, else nothing; failsafe_mode with parse_bool', () => {
    expect(parseFailsafeKey(JSON.stringify(KEY))).toEqual(KEY);
    for (const bad of [undefined, '', 'not json', '[]', '"x"', '{"n0": 1}', 'null']) expect(parseFailsafeKey(bad), String(bad)).toBeUndefined();
    expect([true, 'on', 'True', 1].map((v) => failsafeModeOf({ failsafe_mode: v }))).toEqual([true, true, true, true]);
    expect([false, 'off', undefined, 'maybe'].map((v) => failsafeModeOf({ failsafe_mode: v }))).toEqual([false, false, false, false]);
    expect(failsafeModeOf(undefined)).toBe(false);
  });
});

describe('failsafe: a replica', () => {
  const leader = { name: 'n0', conn_url: 'postgres://127.0.0.1:5430/postgres', api_url: api(0), receivedAt: NOW - 5000 };

  it('follows the leader that pinged it within ttl while etcd has no leader key (it does not race)', () => {
    const seen = withFailsafeLeader(snapshot(), 'n1', leader, NOW, 20_000);
    expect(seen.leader).toBe('n0');
    expect(seen.members.find((m) => m.name === 'n0')?.data).toMatchObject({ conn_url: leader.conn_url, role: 'primary' });
    const input: CycleInput = {
      me: 'n1', snapshot: seen, node: { role: 'replica', following: 'n0' }, needsRewind: false, local: 'replica', postgresRunning: true,
      settings: { ttlSeconds: 20, synchronousMode: false }, tags: { nofailover: false, nostream: false }, now: NOW, noLeaderSince: undefined,
    };
    expect(decide(input).action).toMatchObject({ kind: 'follow', leader: 'n0', repoint: false });
    // without the ping the same replica would race
    expect(decide({ ...input, snapshot: snapshot() }).action).toMatchObject({ kind: 'election' });
  });

  it('ignores the ping once ttl has passed, when etcd names a leader, for itself, and with failsafe_mode off', () => {
    expect(withFailsafeLeader(snapshot(), 'n1', leader, NOW + 15_000, 20_000).leader).toBeUndefined();
    expect(withFailsafeLeader(snapshot({ leader: 'n2' }), 'n1', leader, NOW, 20_000).leader).toBe('n2');
    expect(withFailsafeLeader(snapshot(), 'n0', leader, NOW, 20_000).leader).toBeUndefined();
    expect(withFailsafeLeader(snapshot({ config: {} }), 'n1', leader, NOW, 20_000).leader).toBeUndefined();
    expect(withFailsafeLeader(snapshot(), 'n1', undefined, NOW, 20_000).leader).toBeUndefined();
  });

  it('while etcd is unreachable, keeps its slots on the positions the pinging leader sent (status.slots)', () => {
    const last = snapshot({ leader: 'n0', members: [member('n0', { role: 'primary' }), member('n1')], status: { optime: 10, slots: { dcs_slot_1: 10 } } });
    const view = failsafeSlotsView(last, { ...leader, slots: { dcs_slot_1: 99, n0: 120 } });
    expect(view.leader).toBe('n0');
    expect(view.status).toEqual({ optime: 10, slots: { dcs_slot_1: 99, n0: 120 } });
    expect(view.members.find((m) => m.name === 'n0')?.data.role).toBe('primary'); // the member key as last read
    // a leader the last snapshot did not know, without slots: the snapshot's status stays
    const other = failsafeSlotsView(snapshot({ status: { optime: 5 } }), { ...leader, name: 'n9' });
    expect(other.members.find((m) => m.name === 'n9')?.data).toMatchObject({ conn_url: leader.conn_url, role: 'primary' });
    expect(other.status).toEqual({ optime: 5 });
  });

  it('may race only when the failsafe key names it (a replica restored from a backup is not promoted); a named failover candidate may', () => {
    expect(failsafeRaceBlock('n1', snapshot())).toBeUndefined();
    expect(failsafeRaceBlock('n7', snapshot())).toContain('n7 is not in the failsafe key');
    expect(failsafeRaceBlock('n7', snapshot({ failsafe: {} }))).toBeUndefined(); // empty key: discarded, as Patroni
    expect(failsafeRaceBlock('n7', snapshot({ failsafe: undefined }))).toBeUndefined();
    expect(failsafeRaceBlock('n7', snapshot({ config: { failsafe_mode: false } }))).toBeUndefined();
    const base: CycleInput = {
      me: 'n7', snapshot: snapshot(), node: { role: 'replica', following: undefined }, needsRewind: false, local: 'replica', postgresRunning: true,
      settings: { ttlSeconds: 20, synchronousMode: false }, tags: { nofailover: false, nostream: false }, now: NOW, noLeaderSince: undefined,
    };
    expect(decide(base).action).toEqual({ kind: 'idle', line: expect.stringContaining('not racing (failsafe mode: n7 is not in the failsafe key') });
    expect(decide({ ...base, snapshot: snapshot({ failover: { member: 'n7' } }) }).action).toEqual({ kind: 'election', named: true });
  });
});

describe('failsafe: what the leader remembers of the key (stub DCS store: the write path only)', () => {
  it('regression (behave dcs_failsafe_mode): after writing the key it asks the members it wrote, not the older list the cycle read', async () => {
    const writes: Array<[Record<string, string>, string]> = [];
    const logs: string[] = [];
    const ctx = {
      name: 'n0',
      config: { restapi: { connectAddress: { host: '127.0.0.1', port: 8008 } }, postgresql: { connectAddress: { host: '127.0.0.1', port: 5430 } } },
      dcs: { setFailsafe: async (v: Record<string, string>, rev: string) => (writes.push([v, rev]), true) },
      failsafe: new FailsafeState(() => NOW),
      log: (l: string) => logs.push(l),
    } as unknown as NodeContext;
    // the cycle read a key from before n1 and n2 joined
    const snap = snapshot({ failsafe: { n0: api(0) } });
    ctx.failsafe.topology = snap.failsafe;
    await writeFailsafeKey(ctx, snap);
    expect(writes).toEqual([[KEY, '7']]);
    expect(ctx.failsafe.topology).toEqual(KEY); // etcd may vanish before the next read: these are the members to ask
    // unchanged: no write; failsafe_mode off: no write
    await writeFailsafeKey(ctx, snapshot());
    await writeFailsafeKey(ctx, snapshot({ config: {}, failsafe: undefined }));
    expect(writes).toHaveLength(1);
  });
});
