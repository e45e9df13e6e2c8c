/**
 * Which replication slots a node keeps, as Patroni 4 decides it on PostgreSQL ≥ 11
 * (`Cluster.get_replication_slots`: `_get_members_slots`, `_get_permanent_slots`,
 * `_merge_permanent_slots`, `get_slot_name_on_primary`), and what the leader publishes in the
 * `status` key (`Postgresql.slots`, `maybe_filter_permanent_slots`, `_build_retain_slots`). Pure:
 * functions of one DCS snapshot, the node's own tags and the slot settings, so every member
 * reaches the same answer from the same keys.
 *
 * The rules, briefly:
 * - with `member_slots_ttl` > 0 (the default) every node keeps a physical slot for every other
 *   member (slot name: the member name lower-cased, anything but `[a-z0-9_]` → `_`), except for
 *   `nostream` members; a `nofailover` node keeps only the slots of the members that stream from
 *   it. With `member_slots_ttl: 0`: the leader keeps slots for the members that stream from it,
 *   a replica for its cascading replicas only;
 * - the slots named in the leader's `status.retain_slots` are kept too (a member that left
 *   recently), except on a `nofailover` node;
 * - permanent slots (`slots`) live on every node that may become the leader (not `nofailover`);
 *   a node that does not stream from the leader, directly or through its chain of
 *   `replicatefrom` (it or an upstream is `nostream`), keeps only the permanent physical ones;
 * - a physical slot is "expected active" where its member streams from this node: on the leader
 *   for the members that do not cascade from an existing member, on a replica for the members
 *   that name it in `replicatefrom`. Slots not expected active are advanced from the positions in
 *   `status.slots` (or from the member's own position when it cascades).
 */
import type { DcsSnapshot, MemberData } from './agent-view';
import type { PermanentSlot } from './slot-config';

/** A slot this node should have. */
export type WantedSlot =
  | {
      type: 'physical';
      /** Position to advance an idle slot to (from `status.slots` or the member's own position). */
      lsn?: number;
      /** Its member streams from this node (undefined: a retained slot, no opinion). */
      expectedActive?: boolean;
    }
  | { type: 'logical'; database: string; plugin: string; lsn?: number };

/** This node's own tags (from its configuration, not from its possibly stale member key). */
export interface OwnSlotTags {
  nofailover?: boolean;
  nostream?: boolean;
  replicatefrom?: string;
}

/** The settings the plan depends on. */
export interface SlotPlanSettings {
  /** `postgresql.use_slots`. */
  useSlots: boolean;
  /** `member_slots_ttl` in seconds; 0 turns member slot retention off. */
  memberSlotsTtlSeconds: number;
  /** Permanent slots (`slots`). */
  permanent: ReadonlyMap<string, PermanentSlot>;
}

/** What the plan reads of the snapshot. */
export type PlanSnapshot = Pick<DcsSnapshot, 'leader' | 'members' | 'status'>;

/** The plan for one node: the slots it should have, and what is wrong with the configuration. */
export interface SlotPlan {
  slots: Map<string, WantedSlot>;
  /** Lines worth logging (slot name conflicts). */
  warnings: string[];
}

/** Patroni's `slot_name_from_member_name`: lower-case, anything but `[a-z0-9_]` → `_`, at most 63 characters. */
export function slotNameOf(member: string): string {
  return member.toLowerCase().replace(/[^a-z0-9_]/g, '_').slice(0, 63);
}

function truthy(v: unknown): boolean {
  return v === true || v === 1 || (typeof v === 'string' && /^(true|on|yes|1)$/i.test(v.trim()));
}

/** A member's `replicatefrom` tag, when set. */
function replicatefromOf(data: MemberData | undefined): string | undefined {
  const v = data?.tags?.replicatefrom;
  return typeof v === 'string' && v !== '' ? v : undefined;
}

function nostreamOf(data: MemberData | undefined): boolean {
  return truthy(data?.tags?.nostream);
}

/** A member's WAL position as it publishes it (`xlog_location`). */
function lsnOf(data: MemberData | undefined): number {
  const v = Number(data?.xlog_location);
  return Number.isFinite(v) && v > 0 ? v : 0;
}

/** `status.slots` with every value an integer (Patroni: unparsable → 0). */
export function statusSlotsOf(snap: Pick<DcsSnapshot, 'status'>): Record<string, number> {
  const raw = snap.status?.slots;
  const out: Record<string, number> = {};
  if (raw && typeof raw === 'object') for (const [k, v] of Object.entries(raw)) out[k] = Number.isFinite(Number(v)) ? Math.trunc(Number(v)) : 0;
  return out;
}

/** `status.retain_slots` as a list of names. */
export function retainSlotsOf(snap: Pick<DcsSnapshot, 'status'>): string[] {
  const raw = (snap.status as { retain_slots?: unknown } | undefined)?.retain_slots;
  return Array.isArray(raw) ? raw.filter((x): x is string => typeof x === 'string') : [];
}

/** A version below 4.0.0 (`"3.0.2"`)? A leader that old does not advance member slots from `status`, so members' own positions count. */
function olderThanV4(version: unknown): boolean {
  const major = typeof version === 'string' ? Number(/^(\d+)\./.exec(version)?.[1]) : NaN;
  return Number.isFinite(major) && major < 4;
}

/**
 * Patroni's `get_slot_name_on_primary`: the slot through which `name`'s WAL leaves the leader
 * (its own, or that of the first member of its `replicatefrom` chain that streams from the
 * leader); undefined when the chain reaches a `nostream` member or loops.
 */
export function slotNameOnPrimary(name: string, tags: OwnSlotTags, snap: Pick<DcsSnapshot, 'members'>): string | undefined {
  const seen = new Set<string>();
  let current = name;
  let t: { nostream: boolean; replicatefrom: string | undefined } = { nostream: !!tags.nostream, replicatefrom: tags.replicatefrom };
  for (;;) {
    seen.add(current);
    if (t.nostream) return undefined;
    const from = t.replicatefrom && t.replicatefrom !== current ? snap.members.find((m) => m.name === t.replicatefrom) : undefined;
    if (!from) return slotNameOf(current);
    if (seen.has(from.name)) return undefined;
    current = from.name;
    t = { nostream: nostreamOf(from.data), replicatefrom: replicatefromOf(from.data) };
  }
}

/**
 * The slots node `me` should have as `role`. `tags` are its own; everything else comes from
 * the snapshot (members' tags and positions, `leader`, `status`).
 */
export function planSlots(me: string, role: 'primary' | 'replica', tags: OwnSlotTags, snap: PlanSnapshot, settings: SlotPlanSettings): SlotPlan {
  const warnings: string[] = [];
  const slots = membersSlots(me, role, !!tags.nofailover, snap, settings, warnings);
  if (!settings.useSlots || tags.nofailover) return { slots, warnings };
  const mySlot = slotNameOf(me);
  const physicalOnly = slotNameOnPrimary(me, tags, snap) === undefined;
  const statusSlots = statusSlotsOf(snap);
  // For a permanent physical slot named like a cascading member, that member's own position counts too.
  const cascadingLsn = new Map(snap.members.filter((m) => replicatefromOf(m.data)).map((m) => [slotNameOf(m.name), lsnOf(m.data)]));
  const topology = new Map(snap.members.map((m) => [slotNameOf(m.name), replicatefromOf(m.data)]));
  for (const [name, slot] of settings.permanent) {
    if (slot.type === 'physical') {
      if (slots.has(name) || name === mySlot) continue; // a member's slot already, or our own name
      const lsn = Math.max(cascadingLsn.get(name) ?? 0, statusSlots[name] ?? 0);
      // On the leader a permanent physical slot is expected to be active, unless it is named for a cascading member.
      slots.set(name, { type: 'physical', ...(lsn ? { lsn } : {}), expectedActive: !topology.get(name) && role === 'primary' });
      continue;
    }
    if (physicalOnly) continue;
    if (slots.has(name)) {
      warnings.push(`permanent logical replication slot ${name} has the name of a member's physical slot; it is not created`);
      continue;
    }
    const lsn = statusSlots[name] ?? 0;
    slots.set(name, { ...slot, ...(lsn ? { lsn } : {}) });
  }
  return { slots, warnings };
}

/** Patroni's `_get_members_slots` (PostgreSQL ≥ 11, where slots can be advanced). */
function membersSlots(me: string, role: 'primary' | 'replica', nofailover: boolean, snap: PlanSnapshot, settings: SlotPlanSettings, warnings: string[]): Map<string, WantedSlot> {
  const out = new Map<string, WantedSlot>();
  if (!settings.useSlots) return out;
  const names = new Set(snap.members.map((m) => m.name));
  const leaderFilter = (m: { name: string; data: MemberData }) => {
    const from = replicatefromOf(m.data);
    return from === undefined || from === me || !names.has(from);
  };
  const replicaFilter = (m: { name: string; data: MemberData }) => replicatefromOf(m.data) === me && m.name !== snap.leader;
  const expectedActive = role === 'primary' ? leaderFilter : replicaFilter;
  let members = snap.members.filter((m) => m.name !== me && !nostreamOf(m.data));
  members = settings.memberSlotsTtlSeconds > 0 ? members.filter((m) => !nofailover || replicatefromOf(m.data) === me) : members.filter(expectedActive);
  const leaderData = snap.leader ? snap.members.find((m) => m.name === snap.leader)?.data : undefined;
  const leaderIsOld = olderThanV4(leaderData?.version);
  const statusSlots = statusSlotsOf(snap);
  const byName = new Map<string, string[]>();
  for (const m of members) {
    const name = slotNameOf(m.name);
    byName.set(name, [...(byName.get(name) ?? []), m.name]);
    let lsn = statusSlots[name] ?? 0;
    // The leader keeps `status` from its own slots; a cascading member's slot there is idle, so its own position counts.
    if (replicatefromOf(m.data) || leaderIsOld) lsn = Math.max(lsnOf(m.data), lsn);
    out.set(name, { type: 'physical', lsn, expectedActive: expectedActive(m) });
  }
  const mySlot = slotNameOf(me);
  if (!nofailover) for (const name of retainSlotsOf(snap)) if (!out.has(name) && name !== mySlot) out.set(name, { type: 'physical' });
  const shared = [...byName].filter(([, v]) => v.length > 1);
  if (shared.length) warnings.push(`these cluster members share a replication slot name: ${shared.map(([k, v]) => `${v.join(', ')} map to ${k}`).join('; ')}`);
  return out;
}

/** A slot on the leader as `status` needs it. */
export interface LeaderSlotPosition {
  name: string;
  type: 'physical' | 'logical';
  database?: string | null;
  plugin?: string | null;
  /** physical: restart_lsn; logical: confirmed_flush_lsn (bytes); null when unknown. */
  lsn: number | null;
}

/** Is the slot on the server the one the plan wants (Patroni's `compare_slots`: type, and for logical slots database and plugin)? */
export function sameSlot(wanted: WantedSlot, have: { type: string; database?: string | null; plugin?: string | null }): boolean {
  if (wanted.type !== have.type) return false;
  return wanted.type === 'physical' || (wanted.database === have.database && wanted.plugin === have.plugin);
}

/**
 * The leader's `status.slots`: the position of every slot it manages (its plan) that exists on
 * it, and its own slot name at `optime` (Patroni's `Postgresql.slots()`); with
 * `member_slots_ttl: 0` only the permanent slots (`maybe_filter_permanent_slots`).
 */
export function statusSlotsFor(me: string, optime: number, plan: ReadonlyMap<string, WantedSlot>, have: readonly LeaderSlotPosition[], settings: SlotPlanSettings, memberNames: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of have) {
    const wanted = plan.get(s.name);
    if (wanted && sameSlot(wanted, s) && s.lsn !== null) out[s.name] = s.lsn;
  }
  out[slotNameOf(me)] = optime;
  if (settings.memberSlotsTtlSeconds > 0) return out;
  const memberSlots = new Set(memberNames.map(slotNameOf));
  return Object.fromEntries(
    Object.entries(out).filter(([name]) => {
      const p = settings.permanent.get(name);
      return p !== undefined && (p.type === 'physical' || !memberSlots.has(name));
    }),
  );
}

/**
 * The leader's memory of member slots for `status.retain_slots` (Patroni's
 * `_build_retain_slots`): a member slot (not permanent physical, not of a `nostream` member) is
 * retained while it was seen in `status.slots` within the last `member_slots_ttl`. A new leader
 * starts from the `retain_slots` its predecessor published ({@link seed}).
 */
export class RetainedSlots {
  readonly #seen = new Map<string, number>();

  /** On taking the leader key: every name the last `status` retained counts as seen now. */
  seed(names: readonly string[], nowMillis: number): void {
    this.#seen.clear();
    for (const n of names) this.#seen.set(n, nowMillis);
  }

  /**
   * Records the member slots among `statusSlots` as seen now, forgets those older than `ttl`,
   * and returns the sorted names, or null when none.
   */
  update(me: string, snap: Pick<DcsSnapshot, 'members'>, statusSlots: Readonly<Record<string, number>>, settings: SlotPlanSettings, nowMillis: number): string[] | null {
    if (Object.keys(statusSlots).length) {
      const members = new Set(snap.members.filter((m) => !nostreamOf(m.data)).map((m) => slotNameOf(m.name)));
      // Our own member key may be missing (then our tags are unknown): our name counts until it is back.
      if (!snap.members.some((m) => m.name === me)) members.add(slotNameOf(me));
      for (const name of Object.keys(statusSlots)) {
        if (members.has(name) && settings.permanent.get(name)?.type !== 'physical') this.#seen.set(name, nowMillis);
      }
    }
    for (const [name, at] of this.#seen) if (at + settings.memberSlotsTtlSeconds * 1000 <= nowMillis) this.#seen.delete(name);
    const names = [...this.#seen.keys()].sort();
    return names.length ? names : null;
  }
}
