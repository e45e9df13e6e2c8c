/**
 * Which replication slots each node keeps (slot-plan.ts), Patroni 4's rules on PostgreSQL ≥ 11,
 * and what the leader publishes in `status`: the cluster of Patroni's permanent_slots feature
 * (p0 leader, p1, p2 nofailover, p3 replicatefrom p2, permanent test_physical / p3 / test_logical)
 * and of its nostream_node feature.
 */
import { describe, expect, it } from 'vitest';
import type { DcsSnapshot, MemberData } from '../../src/manager/agent-view';
import { slotSettingsOf } from '../../src/manager/slot-config';
import { slotNameFor } from '../../src/manager/postgres';
import { planSlots, RetainedSlots, slotNameOf, slotNameOnPrimary, statusSlotsFor, type OwnSlotTags, type SlotPlanSettings } from '../../src/manager/slot-plan';

type Snap = Pick<DcsSnapshot, 'leader' | 'members' | 'status'>;

function snap(leader: string | undefined, members: Record<string, Partial<MemberData>>, status?: DcsSnapshot['status']): Snap {
  return { leader, members: Object.entries(members).map(([name, d]) => ({ name, data: { state: 'running', version: '4.0.0', ...d } })), status };
}

function settings(config: Record<string, unknown> = {}, useSlots = true): SlotPlanSettings {
  const s = slotSettingsOf(config);
  expect(s.problems).toEqual([]);
  return { ...s, useSlots };
}

const tagsOf = (s: Snap, name: string): OwnSlotTags => {
  const t = s.members.find((m) => m.name === name)?.data.tags ?? {};
  return { nofailover: t.nofailover === true, nostream: t.nostream === true, ...(typeof t.replicatefrom === 'string' ? { replicatefrom: t.replicatefrom } : {}) };
};
const names = (s: Snap, me: string, role: 'primary' | 'replica', st: SlotPlanSettings) => [...planSlots(me, role, tagsOf(s, me), s, st).slots.keys()].sort();

// Patroni's permanent_slots feature, after the logical slot was added
const PERMANENT = { slots: { test_physical: 0, p3: 0, test_logical: { type: 'logical', database: 'postgres', plugin: 'test_decoding' } } };
const cluster = (status?: DcsSnapshot['status']) =>
  snap('p0', { p0: { xlog_location: 900 }, p1: { xlog_location: 800 }, p2: { tags: { nofailover: true }, xlog_location: 700 }, p3: { tags: { replicatefrom: 'p2' }, xlog_location: 650 } }, status);

describe('planSlots: which slots a node keeps (Patroni 4, member_slots_ttl > 0)', () => {
  it('the leader: every other member, and the permanent slots', () => {
    expect(names(cluster(), 'p0', 'primary', settings(PERMANENT))).toEqual(['p1', 'p2', 'p3', 'test_logical', 'test_physical']);
  });

  it('a replica that may become the leader: the other members and every permanent slot', () => {
    expect(names(cluster(), 'p1', 'replica', settings(PERMANENT))).toEqual(['p0', 'p2', 'p3', 'test_logical', 'test_physical']);
  });

  it('a nofailover replica: only the slots of members that stream from it, no permanent slots', () => {
    expect(names(cluster(), 'p2', 'replica', settings(PERMANENT))).toEqual(['p3']);
  });

  it('a cascading replica keeps permanent slots too, never one named for itself', () => {
    expect(names(cluster(), 'p3', 'replica', settings(PERMANENT))).toEqual(['p0', 'p1', 'p2', 'test_logical', 'test_physical']);
  });

  it('slots are expected active only where their member streams from this node', () => {
    const s = settings(PERMANENT);
    const p0 = planSlots('p0', 'primary', {}, cluster(), s).slots;
    expect(p0.get('p1')).toMatchObject({ expectedActive: true });
    expect(p0.get('p3')).toMatchObject({ expectedActive: false }); // cascades from p2
    expect(p0.get('test_physical')).toMatchObject({ expectedActive: true });
    const p2 = planSlots('p2', 'replica', { nofailover: true }, cluster(), s).slots;
    expect(p2.get('p3')).toMatchObject({ expectedActive: true });
    const p1 = planSlots('p1', 'replica', {}, cluster(), s).slots;
    expect(p1.get('p0')).toMatchObject({ expectedActive: false });
    expect(p1.get('test_physical')).toMatchObject({ expectedActive: false });
  });

  it('idle slots advance to the leader published positions; a cascading member to its own position when that is ahead', () => {
    const s = settings(PERMANENT);
    const status = { optime: 900, slots: { p0: 900, p1: 800, p2: 700, p3: 600, test_physical: 500, test_logical: 450 } };
    const p1 = planSlots('p1', 'replica', {}, cluster(status), s).slots;
    expect(p1.get('p0')).toMatchObject({ lsn: 900 });
    expect(p1.get('p3')).toMatchObject({ lsn: 650 }); // p3's xlog_location beats the idle slot on the leader
    expect(p1.get('test_physical')).toMatchObject({ type: 'physical', lsn: 500 });
    expect(p1.get('test_logical')).toEqual({ type: 'logical', database: 'postgres', plugin: 'test_decoding', lsn: 450 });
    // a permanent physical slot named for a cascading member: the member's own position counts (p0 keeps p3 for it)
    expect(planSlots('p0', 'primary', {}, cluster(status), s).slots.get('p3')).toMatchObject({ lsn: 650 });
  });

  it('a leader older than Patroni 4 does not advance member slots from status: members own positions count', () => {
    const s = snap('p0', { p0: { version: '3.0.2' }, p1: { xlog_location: 800 } }, { optime: 1, slots: { p1: 100 } });
    expect(planSlots('p9', 'replica', {}, s, settings()).slots.get('p1')).toMatchObject({ lsn: 800 });
  });

  it('keeps the slots the leader retains for members that left, except on a nofailover node and for itself', () => {
    const s = snap('p1', { p1: {} }, { optime: 1, retain_slots: ['p0', 'p1', 'p2'] });
    expect(names(s, 'p1', 'primary', settings(PERMANENT))).toEqual(['p0', 'p2', 'p3', 'test_logical', 'test_physical']);
    expect(planSlots('p1', 'primary', {}, s, settings()).slots.get('p0')).toEqual({ type: 'physical' }); // no expectation about activity
    expect(names(s, 'p1', 'replica', { ...settings(), useSlots: true })).toEqual(['p0', 'p2']);
    expect(names(snap('p1', { p1: {}, p5: { tags: { nofailover: true } } }, { optime: 1, retain_slots: ['p0'] }), 'p5', 'replica', settings())).toEqual([]);
  });

  it('after failover: the new leader keeps permanent slots, retained member slots, and the permanent slot of a member that left', () => {
    const s = snap('p1', { p1: {} }, { optime: 1, slots: { p0: 900, test_physical: 500 }, retain_slots: ['p0', 'p1', 'p2'] });
    const p1 = planSlots('p1', 'primary', {}, s, settings(PERMANENT)).slots;
    expect(p1.get('p3')).toMatchObject({ type: 'physical', expectedActive: true }); // p3's key is gone: no replicatefrom known
    expect(p1.get('test_physical')).toMatchObject({ lsn: 500 });
    expect(p1.has('p0')).toBe(true);
  });

  it('nostream: no slot for a nostream member anywhere; a node without a path to the leader keeps only permanent physical slots', () => {
    // Patroni's nostream_node feature: p0 leader, p1 nostream, p2 replicatefrom p1
    const s = snap('p0', { p0: {}, p1: { tags: { nostream: true } }, p2: { tags: { replicatefrom: 'p1' } } });
    const st = settings({ slots: { test_logical: { type: 'logical', database: 'postgres', plugin: 'test_decoding' }, keep: null } });
    expect(names(s, 'p0', 'primary', st)).toEqual(['keep', 'p2', 'test_logical']);
    expect(names(s, 'p1', 'replica', st)).toEqual(['keep', 'p0', 'p2']);
    expect(names(s, 'p2', 'replica', st)).toEqual(['keep', 'p0']);
    expect(slotNameOnPrimary('p2', { replicatefrom: 'p1' }, s)).toBeUndefined();
    expect(slotNameOnPrimary('p1', { nostream: true }, s)).toBeUndefined();
    expect(slotNameOnPrimary('p0', {}, s)).toBe('p0');
  });

  it('slotNameOnPrimary follows the replicatefrom chain to the member that streams from the leader, and gives up on a loop', () => {
    const s = snap('a', { a: {}, b: {}, c: { tags: { replicatefrom: 'b' } }, d: { tags: { replicatefrom: 'c' } }, x: { tags: { replicatefrom: 'y' } }, y: { tags: { replicatefrom: 'x' } } });
    expect(slotNameOnPrimary('d', { replicatefrom: 'c' }, s)).toBe('b');
    expect(slotNameOnPrimary('x', { replicatefrom: 'y' }, s)).toBeUndefined();
    expect(slotNameOnPrimary('e', { replicatefrom: 'gone' }, s)).toBe('e');
  });

  it('member_slots_ttl: 0 keeps member slots only where the member streams from (Patroni < 4 rules)', () => {
    const st = settings({ member_slots_ttl: 0 });
    expect(names(cluster(), 'p0', 'primary', st)).toEqual(['p1', 'p2']);
    expect(names(cluster(), 'p2', 'replica', st)).toEqual(['p3']);
    expect(names(cluster(), 'p1', 'replica', st)).toEqual([]);
  });

  it('use_slots: false keeps no slot at all', () => {
    expect(names(cluster(), 'p0', 'primary', settings(PERMANENT, false))).toEqual([]);
  });

  it('slot names are member names lower-cased with anything but [a-z0-9_] as _; a permanent logical slot may not take a member slot name', () => {
    expect(slotNameOf('Postgres-0.dc1')).toBe('postgres_0_dc1');
    const long = 'N'.repeat(70);
    expect(slotNameOf(long)).toBe('n'.repeat(63));
    expect(slotNameFor(long)).toBe(slotNameOf(long)); // the name a replica asks for in primary_slot_name
    const s = snap('a', { a: {}, 'Node-B': {} });
    const plan = planSlots('a', 'primary', {}, s, settings({ slots: { node_b: { type: 'logical', database: 'd', plugin: 'p' } } }));
    expect(plan.slots.get('node_b')).toMatchObject({ type: 'physical' });
    expect(plan.warnings.join()).toMatch(/node_b/);
    const shared = planSlots('a', 'primary', {}, snap('a', { a: {}, 'x-1': {}, 'x.1': {} }), settings());
    expect(shared.warnings.join()).toMatch(/share a replication slot name/);
  });
});

describe('status: what the leader publishes', () => {
  const have = [
    { name: 'p1', type: 'physical' as const, lsn: 800 },
    { name: 'p3', type: 'physical' as const, lsn: 640 },
    { name: 'test_physical', type: 'physical' as const, lsn: 500 },
    { name: 'test_logical', type: 'logical' as const, database: 'postgres', plugin: 'test_decoding', lsn: 450 },
    { name: 'stray', type: 'logical' as const, database: 'postgres', plugin: 'x', lsn: 10 }, // ignored, unmanaged
  ];

  it('slots: the managed slots that exist and its own name at optime; only permanent ones with member_slots_ttl: 0', () => {
    const s = settings(PERMANENT);
    const plan = planSlots('p0', 'primary', {}, cluster(), s).slots;
    expect(statusSlotsFor('p0', 900, plan, have, s, ['p0', 'p1', 'p2', 'p3'])).toEqual({ p1: 800, p3: 640, test_physical: 500, test_logical: 450, p0: 900 });
    const s0 = settings({ ...PERMANENT, member_slots_ttl: '0' });
    expect(statusSlotsFor('p0', 900, planSlots('p0', 'primary', {}, cluster(), s0).slots, have, s0, ['p0', 'p1', 'p2', 'p3'])).toEqual({ p3: 640, test_physical: 500, test_logical: 450 });
  });

  it('retain_slots: member slots only (not permanent physical, not nostream), forgotten member_slots_ttl after last seen; a new leader starts from its predecessor list', () => {
    const s = settings({ ...PERMANENT, member_slots_ttl: '30s' });
    const r = new RetainedSlots();
    r.seed(['old'], 0);
    const members = cluster();
    expect(r.update('p0', members, { p0: 9, p1: 8, p2: 7, p3: 6, test_physical: 5 }, s, 1000)).toEqual(['old', 'p0', 'p1', 'p2']);
    expect(r.update('p0', snap('p0', { p0: {} }), { p0: 9 }, s, 30_500)).toEqual(['p0', 'p1', 'p2']); // old expired (seen at 0)
    expect(r.update('p0', snap('p0', { p0: {} }), { p0: 9 }, s, 31_000)).toEqual(['p0']);
    expect(r.update('p0', snap('p0', { p0: {}, n: { tags: { nostream: true } } }), { p0: 9, n: 1 }, s, 31_000)).toEqual(['p0']);
  });
});

describe('slot settings: what Patroni accepts', () => {
  it('permanent slots: 0, null, {} and {type: physical} are physical; logical needs database and plugin (type may be implied)', () => {
    const s = slotSettingsOf({ slots: { a: 0, b: null, c: {}, d: { type: 'physical' }, e: { database: 'db', plugin: 'pgoutput' }, f: { type: 'logical', database: 'db', plugin: 'p' } } });
    expect(s.problems).toEqual([]);
    expect(Object.fromEntries(s.permanent)).toEqual({
      a: { type: 'physical' }, b: { type: 'physical' }, c: { type: 'physical' }, d: { type: 'physical' },
      e: { type: 'logical', database: 'db', plugin: 'pgoutput' }, f: { type: 'logical', database: 'db', plugin: 'p' },
    });
    expect(slotSettingsOf({ permanent_slots: { a: 0 }, slots: { b: 0 } }).permanent.has('a')).toBe(true);
  });

  it('refuses bad names and values, naming the key and what is accepted; keeps the good ones', () => {
    const s = slotSettingsOf({ slots: { 'Bad-Name': 0, ok: 0, l: { type: 'logical', database: 'db' }, t: { type: 'wal' }, n: 5 } }, 'bootstrap.dcs.');
    expect([...s.permanent.keys()]).toEqual(['ok']);
    expect(s.problems.map((p) => p.key)).toEqual(['bootstrap.dcs.slots.Bad-Name', 'bootstrap.dcs.slots.l', 'bootstrap.dcs.slots.t', 'bootstrap.dcs.slots.n']);
    expect(s.problems[1]!.message).toMatch(/database and plugin/);
    expect(slotSettingsOf({ slots: ['a'] }).problems[0]!.key).toBe('slots');
  });

  it('ignore_slots: a list of matchers over name/type/database/plugin; any subset matches', () => {
    const s = slotSettingsOf({ ignore_slots: [{ name: 'u0', database: 'postgres', plugin: 'test_decoding', type: 'logical' }, { name: 'u2', database: 'postgres' }, { name: 'u3' }, { plugin: 'pgoutput' }] });
    expect(s.problems).toEqual([]);
    expect(s.ignore).toHaveLength(4);
    const bad = slotSettingsOf({ ignore_slots: [{ slot: 'x' }, 'y', { type: 'wal' }] });
    expect(bad.problems.map((p) => p.key)).toEqual(['ignore_slots[0].slot', 'ignore_slots[1]', 'ignore_slots[2].type']);
    expect(bad.ignore).toEqual([]);
    expect(slotSettingsOf({ ignore_slots: { name: 'x' } }).problems[0]!.key).toBe('ignore_slots');
  });

  it('member_slots_ttl: seconds or a duration with a unit; default 30 min; bad values refused', () => {
    expect(slotSettingsOf({}).memberSlotsTtlSeconds).toBe(1800);
    expect(slotSettingsOf({ member_slots_ttl: '10min' }).memberSlotsTtlSeconds).toBe(600);
    expect(slotSettingsOf({ member_slots_ttl: 0 }).memberSlotsTtlSeconds).toBe(0);
    expect(slotSettingsOf({ member_slots_ttl: '45' }).memberSlotsTtlSeconds).toBe(45);
    const bad = slotSettingsOf({ member_slots_ttl: '-1' });
    expect(bad.problems[0]!.key).toBe('member_slots_ttl');
    expect(bad.memberSlotsTtlSeconds).toBe(1800);
  });
});

describe('isIgnored (Patroni ignore_replication_slot)', () => {
  it('a slot is left alone when every attribute a matcher names is equal (Patroni ignored_slots feature)', async () => {
    const { isIgnored } = await import('../../src/manager/slot-config');
    const { ignore } = slotSettingsOf({ ignore_slots: [{ name: 'unmanaged_slot_0', database: 'postgres', plugin: 'test_decoding', type: 'logical' }, { name: 'unmanaged_slot_1', database: 'postgres', plugin: 'test_decoding' }, { name: 'unmanaged_slot_2', database: 'postgres' }, { name: 'unmanaged_slot_3' }] });
    const logical = (name: string, database = 'postgres') => ({ name, type: 'logical', database, plugin: 'test_decoding' });
    for (const n of [0, 1, 2, 3]) expect(isIgnored(ignore, logical(`unmanaged_slot_${n}`))).toBe(true);
    expect(isIgnored(ignore, logical('dummy_slot'))).toBe(false);
    expect(isIgnored(ignore, logical('unmanaged_slot_2', 'other'))).toBe(false);
    expect(isIgnored(ignore, { name: 'unmanaged_slot_0', type: 'physical', database: null, plugin: null })).toBe(false);
    expect(isIgnored(ignore, { name: 'unmanaged_slot_3', type: 'physical' })).toBe(true);
  });
});
