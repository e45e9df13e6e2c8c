/**
 * DCS failsafe mode (Patroni's `failsafe_mode`, docs/dcs_failsafe_mode.rst): its rules, pure.
 *
 * - While the leader holds the key and `failsafe_mode` is on, it keeps the `failsafe` key
 *   (`{member name: api_url}` of every member it knows, itself included) up to date
 *   ({@link failsafeKeyUpdate}).
 * - When etcd cannot be reached, the primary asks every other member of that key to accept it
 *   (`POST /failsafe`); it keeps running as the primary only while all of them do
 *   ({@link judgeFailsafe}). A missing answer demotes it — but only once etcd has failed for
 *   `retry_timeout` (Patroni's own retry window), never on one slow etcd call.
 * - A replica that accepted a `POST /failsafe` treats its sender as the leader for `ttl`, even
 *   when etcd (reachable from the replica) has no leader key any more ({@link withFailsafeLeader}).
 * - Only a member named in the `failsafe` key may race for the leader key ({@link failsafeRaceBlock}).
 *
 * Nothing here does I/O or reads a clock: the agent passes the times in.
 */
import type { DcsSnapshot, MemberData } from './agent-view';
import { parseBool } from './dynamic-config';

/** The `failsafe` key's value: member name → its REST API's `api_url`. */
export type FailsafeTopology = Record<string, string>;

/** Is `failsafe_mode` on in this dynamic configuration (Patroni's parse_bool)? */
export function failsafeModeOf(config: Record<string, unknown> | undefined): boolean {
  return parseBool(config?.failsafe_mode) === true;
}

/** Reads the `failsafe` key's text: a JSON object of strings, else undefined (absent and garbage alike). */
export function parseFailsafeKey(text: string | undefined): FailsafeTopology | undefined {
  if (text === undefined || text === '') return undefined;
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) return undefined;
  const out: FailsafeTopology = {};
  for (const [k, url] of Object.entries(v as Record<string, unknown>)) {
    if (typeof url !== 'string') return undefined;
    out[k] = url;
  }
  return out;
}

/** The topology the leader publishes: every member whose key has an `api_url`, and itself. */
export function failsafeTopology(me: string, myApiUrl: string, members: ReadonlyArray<{ name: string; data: MemberData }>): FailsafeTopology {
  const out: FailsafeTopology = {};
  for (const m of members) if (typeof m.data.api_url === 'string' && m.data.api_url) out[m.name] = m.data.api_url;
  out[me] ??= myApiUrl;
  return out;
}

/** The value the leader must write to the `failsafe` key, or undefined when the key already says exactly that. */
export function failsafeKeyUpdate(current: FailsafeTopology | undefined, wanted: FailsafeTopology): FailsafeTopology | undefined {
  if (current && sameTopology(current, wanted)) return undefined;
  return wanted;
}

function sameTopology(a: FailsafeTopology, b: FailsafeTopology): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => b[k] === a[k]);
}

/** The members a primary must hear from: everyone in the key but itself; or why the key cannot be used. */
export function failsafePeers(me: string, key: FailsafeTopology | undefined): { peers: Array<{ name: string; apiUrl: string }> } | { unusable: string } {
  if (!key) return { unusable: 'there is no failsafe key' };
  if (!(me in key)) return { unusable: `${me} is not in the failsafe key` };
  return { peers: Object.entries(key).filter(([name]) => name !== me).map(([name, apiUrl]) => ({ name, apiUrl })) };
}

/** What a primary that cannot reach etcd does this cycle. */
export type FailsafeVerdict =
  /** failsafe_mode is off: the lease rule alone applies (fence before the lease can expire). */
  | { kind: 'off' }
  /** Every member of the failsafe key accepted us (or we are its only member): stay the primary. */
  | { kind: 'continue'; line: string }
  /** Not confirmed, but etcd has failed for less than retry_timeout: wait (the lease still covers us). */
  | { kind: 'wait'; line: string }
  /** Not confirmed, and etcd has failed for retry_timeout or longer: demote now. */
  | { kind: 'demote'; reason: string; line: string };

/** Inputs of {@link judgeFailsafe}. */
export interface FailsafeInput {
  /** `failsafe_mode` as last read from the `config` key. */
  enabled: boolean;
  me: string;
  /** The `failsafe` key as last read. */
  key: FailsafeTopology | undefined;
  /** Each asked member's answer: true = `200 Accepted`. A member of the key missing here counts as not accepting. */
  acks: Readonly<Record<string, boolean>>;
  /** Milliseconds since the last successful etcd call. */
  dcsDownMillis: number;
  /** `retry_timeout` in milliseconds. */
  retryTimeoutMillis: number;
}

/** The failsafe rule for a primary that cannot reach etcd (see the module header). */
export function judgeFailsafe(input: FailsafeInput): FailsafeVerdict {
  if (!input.enabled) return { kind: 'off' };
  const peers = failsafePeers(input.me, input.key);
  let why: string;
  if ('unusable' in peers) why = peers.unusable;
  else {
    const missing = peers.peers.filter((p) => input.acks[p.name] !== true).map((p) => p.name);
    if (missing.length === 0) {
      return { kind: 'continue', line: 'continue to run as a leader because failsafe mode is enabled and all members are accessible' };
    }
    why = `${missing.join(', ')} did not accept POST /failsafe`;
  }
  if (input.dcsDownMillis < input.retryTimeoutMillis) return { kind: 'wait', line: `etcd unreachable for ${input.dcsDownMillis} ms (< retry_timeout): ${why}; retrying` };
  return { kind: 'demote', reason: `DCS is not accessible and failsafe mode cannot confirm the leader: ${why}`, line: 'demoted self because DCS is not accessible and I was a leader' };
}

/** The leader a replica learned from a `POST /failsafe` (Patroni's body) and when (ms). */
export interface FailsafeLeader {
  name: string;
  conn_url: string;
  api_url: string;
  /** The leader's replication slots and its own position (slot name → LSN in bytes), when it sent them. */
  slots?: Record<string, number>;
  receivedAt: number;
}

/**
 * A replica's view of the cluster when etcd is reachable but has no leader key: the member that
 * sent `POST /failsafe` less than `ttl` ago is the leader (it runs on failsafe, cut off from
 * etcd). Only with failsafe_mode on, never for ourselves; otherwise the snapshot unchanged.
 */
export function withFailsafeLeader(snap: DcsSnapshot, me: string, leader: FailsafeLeader | undefined, now: number, ttlMillis: number): DcsSnapshot {
  if (snap.leader !== undefined || !leader || leader.name === me || !failsafeModeOf(snap.config)) return snap;
  if (now - leader.receivedAt >= ttlMillis) return snap;
  const known = snap.members.find((m) => m.name === leader.name);
  const data: MemberData = known ? { ...known.data, conn_url: known.data.conn_url || leader.conn_url } : { conn_url: leader.conn_url, api_url: leader.api_url, state: 'running', role: 'primary' };
  return { ...snap, leader: leader.name, members: [...snap.members.filter((m) => m.name !== leader.name), { name: leader.name, data }] };
}

/**
 * A replica's view while etcd is unreachable and a leader pings it (Patroni's
 * `Failsafe.update_cluster`): the last snapshot read, with that leader as the leader and the slot
 * positions it sent as `status.slots`, so the replica's copies of the permanent slots keep
 * advancing (its `pg_wal` does not grow) until etcd answers again.
 */
export function failsafeSlotsView(snap: DcsSnapshot, leader: FailsafeLeader): DcsSnapshot {
  const known = snap.members.find((m) => m.name === leader.name);
  const data: MemberData = known ? known.data : { conn_url: leader.conn_url, api_url: leader.api_url, state: 'running', role: 'primary' };
  return {
    ...snap,
    leader: leader.name,
    members: [...snap.members.filter((m) => m.name !== leader.name), { name: leader.name, data }],
    ...(leader.slots ? { status: { ...(snap.status ?? {}), slots: leader.slots } } : {}),
  };
}

/**
 * Why this node may not race for the leader key under failsafe mode: the `failsafe` key exists,
 * is not empty and does not name it (a member that joined while etcd was gone, or one restored
 * from a backup, never promotes). Undefined when it may race.
 */
export function failsafeRaceBlock(me: string, snap: DcsSnapshot): string | undefined {
  if (!failsafeModeOf(snap.config)) return undefined;
  const key = snap.failsafe;
  if (!key || Object.keys(key).length === 0 || me in key) return undefined;
  return `${me} is not in the failsafe key (${Object.keys(key).join(', ')})`;
}
