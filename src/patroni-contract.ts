/**
 * Patroni's public contract, in one place for both halves of the package: the manager
 * (src/manager/, which writes it) and the client's topology readers (src/topology/, which read
 * it from etcd or REST). Neither half imports the other; both import this. It imports nothing
 * but the LSN module, so it stays a leaf.
 *
 * What it holds: the key names under `/<namespace>/<scope>/`, the role words members publish,
 * the member document's fields, `conn_url`/`api_url` building and parsing, and (re-exported)
 * the WAL position type and parser. See /work/shared/PATRONI-CONTRACT.md for the prose.
 */
export { type Lsn, parseLsn, formatLsn, lsnToPosition } from './lsn';

/** Patroni's default `namespace`. */
export const DEFAULT_NAMESPACE = '/service';

/**
 * The key prefix for a namespace and scope, `/<namespace>/<scope>/`: leading slash added,
 * trailing slashes dropped (`service/` → `/service/demo/`; `/` → `/demo/`).
 */
export function patroniPrefix(namespace: string, scope: string): string {
  const ns = `/${namespace.replace(/^\/+|\/+$/g, '')}`;
  return `${ns === '/' ? '' : ns}/${scope}/`;
}

/** Key names relative to the cluster prefix. */
export const PATRONI_KEYS = {
  /** The leader lock: the member name, on the holder's lease. */
  leader: 'leader',
  /** `""` during the bootstrap race, then the system identifier. */
  initialize: 'initialize',
  /** The dynamic configuration (JSON). */
  config: 'config',
  /** `{optime, slots?, retain_slots?}` (Patroni ≥ 2.1). */
  status: 'status',
  /** The leader's optime before Patroni 2.1 (a plain integer). */
  optimeLeader: 'optime/leader',
  /** `[[timeline, lsn, reason, time, new leader], …]`. */
  history: 'history',
  /** A pending switchover/failover request; `{}` once cleared. */
  failover: 'failover',
  /** Synchronous mode: `{leader, sync_standby}`. */
  sync: 'sync',
  /** DCS failsafe mode: `{member name: api_url}` of the members the leader knew (Patroni ≥ 3.0). */
  failsafe: 'failsafe',
  /** The directory of member keys (with the trailing slash). */
  membersDir: 'members/',
  /** `members/<name>`: one member's document, on its lease. */
  member: (name: string) => `members/${name}`,
} as const;

/** The member name of a relative `members/<name>` key; undefined for any other key (or a nested one). */
export function memberNameOfKey(relativeKey: string): string | undefined {
  if (!relativeKey.startsWith(PATRONI_KEYS.membersDir)) return undefined;
  const name = relativeKey.slice(PATRONI_KEYS.membersDir.length);
  return name && !name.includes('/') ? name : undefined;
}

/** The word a primary publishes as its `role`: `primary` (Patroni ≥ 4) or `master` (Patroni 3). */
export type PrimaryRoleWord = 'primary' | 'master';
/** What a primary publishes unless configured otherwise (Patroni ≥ 4's word). */
export const DEFAULT_PRIMARY_ROLE: PrimaryRoleWord = 'primary';
/** A replica's `role`. */
export const REPLICA_ROLE = 'replica';
/** A standby cluster's leader (in recovery, never writable). */
export const STANDBY_LEADER_ROLE = 'standby_leader';

/** Role words that mean "the writable primary": member keys (`master`, `primary`) and `/cluster` (`leader`). */
const PRIMARY_WORDS: ReadonlySet<unknown> = new Set(['master', 'primary', 'leader']);
/** Role words of a member in recovery: member keys and `/cluster`'s `sync_standby`, `quorum_standby`, `standby_leader`. */
const STANDBY_WORDS: ReadonlySet<unknown> = new Set(['replica', 'sync_standby', 'quorum_standby', 'standby_leader', 'standby']);

/** True for a word Patroni uses for the writable primary (`master`, `primary`, `/cluster`'s `leader`). */
export function isPrimaryRoleWord(role: unknown): boolean {
  return PRIMARY_WORDS.has(role);
}

/** True for a word Patroni uses for a member in recovery (`replica`, `sync_standby`, `standby_leader` …). */
export function isStandbyRoleWord(role: unknown): boolean {
  return STANDBY_WORDS.has(role);
}

/** A `members/<name>` document as Patroni writes it (field names are the contract). */
export interface PatroniMemberDocument {
  /** `postgres://host:port/db`: see {@link buildConnUrl}. */
  conn_url?: string;
  /** `http://host:port/patroni`: see {@link buildApiUrl}. */
  api_url?: string;
  /** `running`, `starting`, `stopped`, `crashed`, `creating replica`, … */
  state?: string;
  /** `primary`/`master`, `replica`, `standby_leader`, `demoted`, `uninitialized`. */
  role?: string;
  version?: string;
  /** WAL position as Patroni's integer byte offset. */
  xlog_location?: number;
  receive_lsn?: number;
  replay_lsn?: number;
  /** `streaming` while a WAL receiver streams. */
  replication_state?: string;
  timeline?: number;
  tags?: Record<string, unknown>;
  [key: string]: unknown;
}

/** REST paths of Patroni's API that both halves use: the member document and the cluster view. */
export const PATRONI_API_PATHS = { patroni: '/patroni', cluster: '/cluster' } as const;

/** A host as it goes into a URL: IPv6 literals in brackets. */
function hostForUrl(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/** A member's `conn_url`: `postgres://host:port/postgres` (IPv6 hosts bracketed). */
export function buildConnUrl(host: string, port: number, database = 'postgres'): string {
  return `postgres://${hostForUrl(host)}:${port}/${database}`;
}

/** A member's `api_url`: `http://host:port/patroni`. */
export function buildApiUrl(host: string, port: number, protocol: 'http' | 'https' = 'http'): string {
  return `${protocol}://${hostForUrl(host)}:${port}${PATRONI_API_PATHS.patroni}`;
}

/**
 * `postgres://host:port/db` or `postgresql://…` (a member's `conn_url`) → host and port; IPv6
 * hosts come without brackets, the port defaults to 5432. Undefined for anything else.
 */
export function parseConnUrl(connUrl: unknown): { host: string; port: number } | undefined {
  if (typeof connUrl !== 'string' || !connUrl) return undefined;
  let url: URL;
  try {
    url = new URL(connUrl);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') return undefined;
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (!host) return undefined;
  if (url.port === '') return { host, port: 5432 };
  const port = /^\d+$/.test(url.port) ? Number(url.port) : NaN;
  return Number.isInteger(port) && port > 0 && port < 65536 ? { host, port } : undefined;
}
