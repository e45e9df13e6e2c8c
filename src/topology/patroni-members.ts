/**
 * Patroni's member documents → our {@link Member}: the `members/<name>` JSON
 * Patroni keeps in etcd and the `members[]` of its REST `GET /cluster`.
 * Shared by etcd.ts and patroni-rest.ts. Everything here tolerates garbage:
 * an entry that cannot be understood is skipped (the caller is told why),
 * nothing throws.
 */
import { roleFromPatroni, type Member, type Topology } from './topology';
import { formatLsn, parseConnUrl, STANDBY_LEADER_ROLE } from '../patroni-contract';

/** Patroni states in which PostgreSQL is not serving, so the node must not be used as a primary. */
const DOWN_STATES: ReadonlySet<string> = new Set([
  'stopped',
  'stopping',
  'crashed',
  'start failed',
  'restart failed',
  'stopping failed',
  'creating replica',
  'uninitialized',
]);

/** True when Patroni's `state` says PostgreSQL is not serving queries. */
export function isDownState(state: string): boolean {
  return DOWN_STATES.has(state);
}

/** A non-negative integer WAL position, or undefined for anything else (strings, 0, NaN …). */
function position(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isSafeInteger(v) && v > 0 ? v : undefined;
}

function validPort(v: unknown): number | undefined {
  const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
  return typeof n === 'number' && Number.isInteger(n) && n > 0 && n < 65536 ? n : undefined;
}

/**
 * `postgres://host:port/db` (Patroni's `conn_url`) → host and port; the contract's
 * {@link parseConnUrl}, under the name the topology readers have always used.
 */
export const hostPortFromConnUrl = parseConnUrl;

/** One member as read from etcd, with the WAL positions needed to compute lag. */
export interface ParsedMember {
  member: Member;
  /** Patroni's `xlog_location` (the leader: its write position; a replica: what it has received/replayed). */
  xlogLocation?: number;
  /** Patroni 4.x `replay_lsn`, when written. */
  replayLocation?: number;
  /** Patroni 4.x `receive_lsn`, when written. */
  receiveLocation?: number;
}

function tagsOf(v: unknown): Record<string, unknown> | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

function timelineOf(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isInteger(v) && v > 0 ? v : undefined;
}

/**
 * Parses the value of an etcd `members/<name>` key as Patroni 3.x/4.x writes it
 * (`{conn_url, api_url, state, role, xlog_location, timeline, tags, …}`).
 * Returns a reason string instead when the value is unusable.
 */
export function parseEtcdMember(name: string, value: string): ParsedMember | string {
  let data: unknown;
  try {
    data = JSON.parse(value);
  } catch {
    return `member ${name}: value is not JSON`;
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return `member ${name}: value is not a JSON object`;
  const d = data as Record<string, unknown>;
  const hp = hostPortFromConnUrl(d.conn_url);
  if (!hp) return `member ${name}: no usable conn_url`;
  const member: Member = {
    name,
    host: hp.host,
    port: hp.port,
    role: roleFromPatroni(d.role),
    state: typeof d.state === 'string' ? d.state : 'unknown',
  };
  const timeline = timelineOf(d.timeline);
  if (timeline !== undefined) member.timeline = timeline;
  const tags = tagsOf(d.tags);
  if (tags) member.tags = tags;
  const out: ParsedMember = { member };
  const xlog = position(d.xlog_location);
  if (xlog !== undefined) out.xlogLocation = xlog;
  const replay = position(d.replay_lsn);
  if (replay !== undefined) out.replayLocation = replay;
  const receive = position(d.receive_lsn);
  if (receive !== undefined) out.receiveLocation = receive;
  return out;
}

/**
 * Builds a Topology from etcd's view: the members and the `leader` key's value.
 * The primary is the member the leader key names, only when its own key says
 * it is a primary (`master`/`primary`) and PostgreSQL is not down — right
 * after a leader takes the key its member key may still say `replica` (or
 * `stopped`) while it promotes or starts: it is then `promoting`, and writes
 * wait until the node itself says it accepts them (promotion.ts). A non-leader member that still
 * claims to be primary gets role 'unknown' (a stale or demoting old primary).
 * Standby lag = leader position − standby position (replay, else xlog, else receive).
 * `replayLsn` only from a reported *replay* position (`replay_lsn`, Patroni 4 and our manager):
 * Patroni 3's `xlog_location` of a replica is max(received, replayed), and read-your-writes must
 * not take received-but-not-replayed WAL for visible rows (the Pool then asks the standby itself).
 */
export function topologyFromEtcd(
  parsed: readonly ParsedMember[],
  leaderName: string | undefined,
  leaderOptime: number | undefined,
  observedAt = Date.now(),
): Topology {
  const leader = leaderName === undefined ? undefined : parsed.find((p) => p.member.name === leaderName);
  const leaderPos = Math.max(leader?.xlogLocation ?? 0, leaderOptime ?? 0) || undefined;
  const members: Member[] = parsed.map((p) => {
    const m: Member = { ...p.member };
    if (p === leader) {
      if (m.role === 'primary' && !isDownState(m.state)) {
        if (p.xlogLocation !== undefined) m.replayLsn = formatLsn(p.xlogLocation);
        return m;
      }
      if (m.role === 'primary') m.role = 'unknown';
    } else if (m.role === 'primary') {
      m.role = 'unknown';
    }
    const pos = p.replayLocation ?? p.xlogLocation ?? p.receiveLocation;
    if (pos !== undefined && leaderPos !== undefined) m.lagBytes = Math.max(0, leaderPos - pos);
    if (p.replayLocation !== undefined) m.replayLsn = formatLsn(p.replayLocation);
    return m;
  });
  members.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const primary = leader ? members.find((m) => m.name === leader.member.name && m.role === 'primary') : undefined;
  // The key's holder is asked directly (promotion.ts) whatever its member key says: after a fence,
  // or a crash, its manager starts PostgreSQL again as primary while that key still says `stopped`
  // (until the next HA loop); plain clients write the moment it accepts. Safe: it gets writes only
  // when it holds the key and says itself that it is not in recovery.
  const holder = leader && !primary ? members.find((m) => m.name === leader.member.name) : undefined;
  return { primary, members, source: 'etcd', observedAt, ...(holder ? { promoting: holder } : {}) };
}

/** The result of reading a `/cluster` body: a topology plus the members skipped, with reasons. */
export interface ClusterParse {
  topology: Topology;
  skipped: string[];
}

/**
 * Parses Patroni's `GET /cluster` body (`{scope, members:[{name, role, state,
 * host, port, api_url, lag, timeline, tags}]}`). Returns a reason string when
 * the document as a whole has the wrong shape; members that are unusable are
 * skipped and listed. The primary is the member with role `leader` (Patroni
 * derives it from the leader key) unless its state is down; `standby_leader`
 * (a standby cluster's leader) is in recovery, so never the primary.
 */
export function topologyFromCluster(body: unknown, observedAt = Date.now()): ClusterParse | string {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return '/cluster body is not a JSON object';
  const list = (body as Record<string, unknown>).members;
  if (!Array.isArray(list)) return '/cluster body has no members array';
  const skipped: string[] = [];
  const members: Member[] = [];
  const leaders: Member[] = [];
  const seen = new Set<string>();
  for (const raw of list) {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      skipped.push('member entry is not an object');
      continue;
    }
    const d = raw as Record<string, unknown>;
    const name = typeof d.name === 'string' && d.name ? d.name : undefined;
    if (!name) {
      skipped.push('member without a name');
      continue;
    }
    if (seen.has(name)) {
      skipped.push(`member ${name}: listed twice`);
      continue;
    }
    const host = typeof d.host === 'string' && d.host ? d.host.replace(/^\[(.*)\]$/, '$1') : undefined;
    const port = d.port === undefined ? 5432 : validPort(d.port);
    if (!host || port === undefined) {
      skipped.push(`member ${name}: no usable host/port`);
      continue;
    }
    seen.add(name);
    const state = typeof d.state === 'string' ? d.state : 'unknown';
    const m: Member = { name, host, port, role: roleFromPatroni(d.role), state };
    if (d.role === STANDBY_LEADER_ROLE) m.role = 'standby';
    if (m.role === 'primary') {
      if (isDownState(state)) m.role = 'unknown';
      else leaders.push(m);
    }
    // Patroni 4 lists replay_/receive_ positions beside `lag`; any of them may be "unknown".
    const lag = [d.replay_lag, d.lag, d.receive_lag].find((x) => typeof x === 'number' && Number.isFinite(x) && x >= 0) as number | undefined;
    if (m.role !== 'primary' && lag !== undefined) m.lagBytes = lag;
    // A replay position only (see topologyFromEtcd): `lsn` and `receive_lsn` may be ahead of what is visible.
    if (typeof d.replay_lsn === 'string' && /^[0-9A-Fa-f]+\/[0-9A-Fa-f]+$/.test(d.replay_lsn)) m.replayLsn = d.replay_lsn;
    const timeline = timelineOf(d.timeline);
    if (timeline !== undefined) m.timeline = timeline;
    const tags = tagsOf(d.tags);
    if (tags) m.tags = tags;
    members.push(m);
  }
  members.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  // Two members claiming leadership is not something to route writes on.
  if (leaders.length > 1) {
    for (const m of leaders) m.role = 'unknown';
    skipped.push(`more than one leader listed (${leaders.map((m) => m.name).join(', ')})`);
  }
  const primary = leaders.length === 1 ? leaders[0] : undefined;
  return { topology: { primary, members, source: 'patroni-rest', observedAt }, skipped };
}

/** A stable text of what matters for routing, to emit 'change' only when something did change. */
export function topologySignature(t: Topology): string {
  return (
    t.members.map((m) => `${m.name}@${m.host}:${m.port}=${m.role}/${m.state}/${m.lagBytes ?? '?'}/${m.timeline ?? '?'}`).join(',') +
    `|${t.primary?.name ?? ''}` +
    // The leader key taken by a member still promoting is a change of its own (the pool starts asking
    // that node whether it left recovery); without it, that revision looked like "nothing changed".
    (t.promoting ? `|promoting→${t.promoting.name}` : '') +
    (t.switchoverPending ? `|switchover→${t.switchoverPending.candidate ?? '?'}` : '')
  );
}
