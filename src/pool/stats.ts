/**
 * `pool.stats()`: what a dashboard needs, from what the Pool already knows
 * (no query is sent), and the diagnostics_channel names the Pool publishes on.
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import type { StallWatchStats } from './stall-watch';
import { nodeKey, type Topology } from '../topology/topology';
import type { NodePool } from './node-pools';

export interface NodeStats {
  /** `host:port`. */
  node: string;
  /** Member name (Patroni's), or host:port when probing. */
  name: string;
  role: string;
  state: string;
  lagBytes?: number;
  lagMillis?: number;
  /** This node's sessions (pg-pool's counts for the node). */
  totalCount: number;
  idleCount: number;
  waitingCount: number;
  /** Statements that ran here, as routed (reads, writes), and those that failed here. */
  reads: number;
  writes: number;
  errors: number;
}

export interface FailoverStats {
  /** Failovers (no primary → a primary again) this pool went through. */
  count: number;
  /** How long each took, ms, newest last (at most the last 20). */
  durationsMillis: number[];
  /** Since when one is under way (epoch ms), if one is. */
  inProgressSince?: number;
  primaryChanges: number;
}

export interface PoolStatsSnapshot<Causal> {
  totalCount: number;
  idleCount: number;
  waitingCount: number;
  /** `host:port` of the primary, when one is known. */
  primary: string | undefined;
  /** Topology source (`probe`, `etcd`, `patroni-rest`). */
  source: string | undefined;
  nodes: NodeStats[];
  failovers: FailoverStats;
  /** Read-your-writes counters (pool.causalStats). */
  causal: Causal;
  /** The stall watch's counters (stallCheckMillis > 0): side sessions opened, unreachable, statements found running, stuck sessions ended. */
  stalls?: StallWatchStats;
}

/** The state of a node this pool has sessions to but the topology no longer names. */
export const NOT_IN_TOPOLOGY = 'not in the topology';

/** Every node the topology names, and any other node this pool has sessions to. */
export function nodeStats(t: Topology | undefined, pools: Iterable<NodePool>): NodeStats[] {
  const byKey = new Map<string, NodePool>();
  for (const np of pools) byKey.set(np.key, np);
  const out: NodeStats[] = [];
  const seen = new Set<string>();
  const counts = (np: NodePool | undefined) => ({
    totalCount: np?.pool.totalCount ?? 0,
    idleCount: np?.pool.idleCount ?? 0,
    waitingCount: np?.pool.waitingCount ?? 0,
    reads: np?.reads ?? 0,
    writes: np?.writes ?? 0,
    errors: np?.errors ?? 0,
  });
  for (const m of t?.members ?? []) {
    const key = nodeKey(m);
    seen.add(key);
    out.push({
      node: key,
      name: m.name,
      role: m.role,
      state: m.state,
      ...(m.lagBytes !== undefined ? { lagBytes: m.lagBytes } : {}),
      ...(m.lagMillis !== undefined ? { lagMillis: m.lagMillis } : {}),
      ...counts(byKey.get(key)),
    });
  }
  for (const [key, np] of byKey) if (!seen.has(key)) out.push({ node: key, name: key, role: 'unknown', state: NOT_IN_TOPOLOGY, ...counts(np) });
  return out;
}

/**
 * The channels the Pool publishes on (`diagnostics_channel`, the undici/Node convention):
 * `pg-failover:<event>` for primaryChanged, failoverStart, failoverEnd, nodeDown, nodeUp,
 * topologyError (messages `{ pool, ...payload }`, topologyError `{ pool, error }`), and
 * `pg-failover:route` (`{ pool, text, role, why }`) and `pg-failover:hold` (`{ pool, reason }`,
 * a write waiting for a primary). Publishing costs nothing without subscribers.
 */
export const POOL_CHANNELS = ['primaryChanged', 'failoverStart', 'failoverEnd', 'nodeDown', 'nodeUp', 'topologyError', 'route', 'hold'] as const;
export type PoolChannel = (typeof POOL_CHANNELS)[number];

const channels = new Map(POOL_CHANNELS.map((n) => [n, diagnosticsChannel.channel(`pg-failover:${n}`)]));

/** The channel object for `name` (check `hasSubscribers` before building a message). */
export function channelFor(name: PoolChannel): diagnosticsChannel.Channel {
  return channels.get(name)!;
}
