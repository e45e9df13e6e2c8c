/**
 * Pool options: everything `pg.Pool` takes, plus routing, failover and
 * topology settings. Defaults and validation live here, in one place.
 */
import pg from 'pg';
import { FailoverError } from '../errors';
import type { ReadBalance, ReadFrom } from '../routing/router';
import type { Classifier } from '../routing/classify';
import type { TopologySource } from '../topology/topology';
import type { TargetSessionAttrs } from '../client/session-attrs';
import type { ReadYourWrites } from './causal';
import type { EtcdTopologyOptions } from '../topology/etcd';
import type { PatroniRestTopologyOptions } from '../topology/patroni-rest';

/** Where the pool learns who is primary: the source's own options plus its name. */
export type TopologyConfig =
  | { source: 'probe'; recheckIntervalMillis?: number; probeTimeoutMillis?: number }
  | ({ source: 'etcd' } & EtcdTopologyOptions)
  | ({ source: 'patroni-rest' } & PatroniRestTopologyOptions);

export interface PoolOptions extends Omit<pg.PoolConfig, 'Client'> {
  /** libpq connection string (URI or keyword/value; several hosts allowed). */
  connectionString?: string;
  /**
   * libpq's. For a Pool: `primary`/`read-write` send everything to the primary; `standby`/`read-only` make
   * reads use standbys only (readFrom 'standby'); `prefer-standby`/`any` (default) route per statement.
   */
  target_session_attrs?: TargetSessionAttrs;
  /**
   * How reads choose among qualifying standbys: `disable` (first in host order, libpq's word), `random`
   * (libpq's), `round-robin`, `least-busy`. Default `least-busy`.
   */
  load_balance_hosts?: ReadBalance;
  /** libpq's, seconds per connection attempt. Default 5 (connectionTimeoutMillis 5000 if neither is set). */
  connect_timeout?: number;
  /** Where reads go: `standby` (only), `prefer-standby` (default; primary when none qualifies), `primary`, `any`. */
  readFrom?: ReadFrom;
  /** Skip standbys more than this many bytes of WAL behind. Default: no limit. */
  maxReplicaLagBytes?: number;
  /** Skip standbys whose replay is more than this many ms old while behind. Default: no limit. */
  maxReplicaLagMillis?: number;
  /** How long writes are held while no primary is known, before FAILOVER_TIMEOUT. Default 30000. */
  failoverTimeoutMillis?: number;
  /** Topology source: a config, or any TopologySource instance. Default: probe the connection string's hosts. */
  topology?: TopologyConfig | TopologySource;
  /** Probe re-check period (when probing). Default 2000. */
  recheckIntervalMillis?: number;
  /**
   * With an etcd or Patroni REST source: after it has been unreachable this long, probe the connection
   * string's hosts instead (a `topologyError` event says so) until it answers again. `false` turns it off.
   * Default 3000.
   */
  fallbackToProbingMillis?: number | false;
  /** Functions safe on a standby whatever pg_proc says. */
  readOnlyFunctions?: readonly string[];
  /** Functions that always need the primary. */
  writeFunctions?: readonly string[];
  /** Read user functions' volatility from pg_proc once, so calls to stable/immutable ones may go to standbys. Default true. */
  learnFunctionVolatility?: boolean;
  /** Before COMMIT, read the transaction id, so a COMMIT lost with its connection can be resolved with pg_xact_status(). Default true. */
  resolveCommitOutcome?: boolean;
  /**
   * Send each single-statement autocommit write (INSERT/UPDATE/DELETE/MERGE/WITH/SELECT) in two round trips:
   * `BEGIN; SELECT pg_current_xact_id()`, then, once that answered, `<write>; SELECT <WAL insert position>; COMMIT`
   * pipelined. A write lost before the id came back was never sent and runs again; one lost after is resolved
   * with pg_xact_status() on the next primary instead of ending TRANSACTION_RESOLUTION_UNKNOWN: its result,
   * TRANSACTION_COMMITTED (committed, result lost) or TRANSACTION_ROLLED_BACK (safe to run again).
   * Costs a second round trip and four tiny statements per write on the server. Default false.
   */
  resolveWriteOutcome?: boolean;
  /**
   * A statement on a primary session (an autocommit write, a checked-out client's statement) without an
   * answer for this long gets its session looked at from a short side session to the same node: a backend
   * that is not working on it (idle, its request or answer stuck in TCP's retransmission backoff after a
   * network cut) is ended and the session dropped, so the statement's outcome is decided (and the next one
   * runs) as soon as the path works again instead of when the backoff ends. A statement that is really
   * running (or waiting on a lock) is never ended. `0` turns it off. Default 1000.
   */
  stallCheckMillis?: number;
  /** Sessions opened ahead of need on each node, so a switch costs no connection setup. Default 1. */
  warmConnectionsPerNode?: number;
  /** How many other nodes a read may be retried on after a connection loss. Default 2. */
  readRetries?: number;
  /**
   * Read-your-writes: `'lsn'` (default) — after a write, reads go to a standby only once it has replayed the
   * primary's WAL position (read with the write, in its round trip, or one coalesced query); `'none'`;
   * or `{ windowMillis }` — reads go to the primary for that long after any write.
   */
  readYourWrites?: ReadYourWrites;
  /**
   * With `readYourWrites: 'lsn'` and `readFrom: 'prefer-standby'`: a read after writes goes to a standby
   * anyway and waits there, on the server and in the read's own session, for up to this many ms until the
   * standby has replayed those writes; only when the bound runs out does it run on the primary. `0`: such
   * reads go straight to the primary (until a standby is known to have the writes). Default 20.
   */
  causalWaitMillis?: number;
  /** Injectable pg.Client class (like pg-pool's `Client`; any type pg.PoolConfig accepts there, too). */
  Client?: typeof pg.Client | pg.PoolConfig['Client'];
  /** Injectable classifier (custom options or a shared cache). */
  classifier?: Classifier;
  /** Environment for PG* variables. Default process.env. */
  env?: NodeJS.ProcessEnv;
}

/** The keys pg-failover adds; they are stripped before a config reaches pg. */
export const OWN_KEYS = [
  'connectionString',
  'target_session_attrs',
  'load_balance_hosts',
  'connect_timeout',
  'readFrom',
  'maxReplicaLagBytes',
  'maxReplicaLagMillis',
  'failoverTimeoutMillis',
  'topology',
  'recheckIntervalMillis',
  'fallbackToProbingMillis',
  'readOnlyFunctions',
  'writeFunctions',
  'learnFunctionVolatility',
  'resolveCommitOutcome',
  'resolveWriteOutcome',
  'warmConnectionsPerNode',
  'stallCheckMillis',
  'readRetries',
  'readYourWrites',
  'causalWaitMillis',
  'classifier',
  'env',
] as const;

const READ_FROM: readonly ReadFrom[] = ['standby', 'prefer-standby', 'primary', 'any'];
const BALANCE: readonly ReadBalance[] = ['disable', 'random', 'round-robin', 'least-busy'];

function nonNegative(name: string, v: unknown): void {
  if (v === undefined) return;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
    throw new FailoverError('INVALID_OPTION', `${name} must be a non-negative number of ${/Millis$/.test(name) ? 'milliseconds' : /Bytes$/.test(name) ? 'bytes' : 'units'}, got ${JSON.stringify(v)}`);
  }
}

/** Throws INVALID_OPTION naming the option and what it accepts. */
export function validatePoolOptions(o: PoolOptions): void {
  for (const k of ['learnFunctionVolatility', 'resolveCommitOutcome', 'resolveWriteOutcome'] as const) {
    if (o[k] !== undefined && typeof o[k] !== 'boolean') throw new FailoverError('INVALID_OPTION', `${k} must be true or false, got ${JSON.stringify(o[k])}`);
  }
  if (o.readFrom !== undefined && !READ_FROM.includes(o.readFrom)) {
    throw new FailoverError('INVALID_OPTION', `readFrom must be one of ${READ_FROM.join(', ')}, got ${JSON.stringify(o.readFrom)}`);
  }
  if (o.load_balance_hosts !== undefined && !BALANCE.includes(o.load_balance_hosts)) {
    throw new FailoverError('INVALID_OPTION', `load_balance_hosts must be one of ${BALANCE.join(', ')}, got ${JSON.stringify(o.load_balance_hosts)}`);
  }
  for (const k of ['maxReplicaLagBytes', 'maxReplicaLagMillis', 'failoverTimeoutMillis', 'recheckIntervalMillis', 'warmConnectionsPerNode', 'readRetries', 'causalWaitMillis', 'stallCheckMillis'] as const) {
    nonNegative(k, o[k]);
  }
  const fb = o.fallbackToProbingMillis;
  if (fb !== undefined && fb !== false && !(typeof fb === 'number' && Number.isFinite(fb) && fb >= 0)) {
    throw new FailoverError('INVALID_OPTION', `fallbackToProbingMillis must be a number of milliseconds ≥ 0 or false, got ${JSON.stringify(fb)}`);
  }
  const ryw = o.readYourWrites;
  if (ryw !== undefined && ryw !== 'lsn' && ryw !== 'none' && !(typeof ryw === 'object' && ryw !== null && typeof ryw.windowMillis === 'number' && ryw.windowMillis >= 0)) {
    throw new FailoverError('INVALID_OPTION', `readYourWrites must be 'lsn', 'none' or { windowMillis: <ms> }, got ${JSON.stringify(ryw)}`);
  }
  const t = o.topology;
  if (t && typeof (t as TopologySource).start !== 'function') {
    const c = t as TopologyConfig;
    if (c.source === 'etcd') {
      if (!Array.isArray(c.hosts) || !c.hosts.length) throw new FailoverError('INVALID_OPTION', 'topology.hosts must list at least one etcd endpoint, e.g. ["http://127.0.0.1:2379"]');
      if (!c.scope) throw new FailoverError('INVALID_OPTION', 'topology.scope must name the Patroni cluster (its `scope`)');
    } else if (c.source === 'patroni-rest') {
      if (!Array.isArray(c.urls) || !c.urls.length) throw new FailoverError('INVALID_OPTION', 'topology.urls must list at least one Patroni REST API URL, e.g. ["http://127.0.0.1:8008"]');
    } else if (c.source !== 'probe') {
      throw new FailoverError('INVALID_OPTION', `topology.source must be probe, etcd or patroni-rest, got ${JSON.stringify((c as { source?: unknown }).source)}`);
    }
  }
}

/** Topology settings carried in a connection string as `pgfailover.*` parameters (stripped before connecting). */
export function topologyFromExtensions(ext: Record<string, string> | undefined): TopologyConfig | undefined {
  if (!ext) return undefined;
  const source = ext.topology ?? (ext.etcd ? 'etcd' : ext.patroni ? 'patroni-rest' : undefined);
  const list = (s: string | undefined) => (s ?? '').split(',').map((x) => x.trim()).filter(Boolean);
  switch (source) {
    case undefined:
      return undefined;
    case 'probe':
      return { source: 'probe' };
    case 'etcd':
      return { source: 'etcd', hosts: list(ext.etcd), scope: ext.scope ?? '', namespace: ext.namespace };
    case 'patroni-rest':
      return { source: 'patroni-rest', urls: list(ext.patroni), ...(ext.patroni_cacert ? { tls: { caFile: ext.patroni_cacert } } : {}) };
    default:
      throw new FailoverError('INVALID_OPTION', `pgfailover.topology must be probe, etcd or patroni-rest, got "${source}"`);
  }
}
