/**
 * `pg-failover/observability`: what a dashboard needs from a Pool, without
 * touching the Pool itself.
 *
 * - `poolStats(pool)`: one plain object — connection counts, the primary, every
 *   member's role/state/lag, read-your-writes counters, and (with `trackPool`)
 *   failover counts.
 * - `publishDiagnostics(pool)`: nothing any more — every Pool publishes its events on
 *   Node's `diagnostics_channel` itself (`pg-failover:primaryChanged`, `:failoverStart`,
 *   `:failoverEnd`, `:nodeDown`, `:nodeUp`, `:topologyError`, `:route`, `:hold`);
 *   kept so that code calling it still compiles and runs.
 * - `registerPoolMetrics(pool, promClient)`: prom-client gauges and counters
 *   (prom-client is yours: pass the module; it is never imported here).
 */
import type { Pool } from '../pool/pool';
import { nodeKey } from '../topology/topology';
import { NOT_IN_TOPOLOGY } from '../pool/stats';

/** Failover history of one Pool, counted from its events (see {@link trackPool}). */
export interface FailoverCounts {
  failovers: number;
  lastFailoverMillis: number | undefined;
  primaryChanges: number;
  nodeDown: Record<string, number>;
}

const tracked = new WeakMap<Pool, FailoverCounts>();

/** Starts counting failovers, primary changes and node-down events of `pool` (idempotent). */
export function trackPool(pool: Pool): FailoverCounts {
  let t = tracked.get(pool);
  if (t) return t;
  const counts: FailoverCounts = { failovers: 0, lastFailoverMillis: undefined, primaryChanges: 0, nodeDown: {} };
  t = counts;
  tracked.set(pool, counts);
  pool.on('failoverEnd', (e) => {
    counts.failovers++;
    counts.lastFailoverMillis = e.durationMillis;
  });
  pool.on('primaryChanged', () => void counts.primaryChanges++);
  pool.on('nodeDown', (e) => void (counts.nodeDown[e.node] = (counts.nodeDown[e.node] ?? 0) + 1));
  return counts;
}

export interface PoolStats {
  totalCount: number;
  idleCount: number;
  waitingCount: number;
  /** `host:port` of the primary, when one is known. */
  primary: string | undefined;
  /** Topology source (`probe`, `etcd`, `patroni-rest`), undefined before the first observation. */
  source: string | undefined;
  members: Array<{ node: string; name: string; role: string; state: string; lagBytes?: number; lagMillis?: number }>;
  causal: Pool['causalStats'];
  /** Present once {@link trackPool} (or registerPoolMetrics) has been called for this pool. */
  failovers?: FailoverCounts;
}

/** A snapshot of `pool` (cheap: reads what the Pool already knows, sends no query). */
export function poolStats(pool: Pool): PoolStats {
  const s = pool.stats();
  const counts = tracked.get(pool);
  return {
    totalCount: s.totalCount,
    idleCount: s.idleCount,
    waitingCount: s.waitingCount,
    primary: s.primary,
    source: s.source,
    members: s.nodes
      .filter((n) => n.state !== NOT_IN_TOPOLOGY)
      .map(({ node, name, role, state, lagBytes, lagMillis }) => ({ node, name, role, state, ...(lagBytes !== undefined ? { lagBytes } : {}), ...(lagMillis !== undefined ? { lagMillis } : {}) })),
    causal: s.causal,
    ...(counts ? { failovers: { ...counts, nodeDown: { ...counts.nodeDown } } } : {}),
  };
}

/** The diagnostics_channel names {@link publishDiagnostics} publishes on. */
export const CHANNELS = ['primaryChanged', 'failoverStart', 'failoverEnd', 'nodeDown', 'nodeUp', 'topologyError'] as const;

/**
 * Publishes `pool`'s events on `pg-failover:<event>` channels; messages are
 * `{ pool, ...eventPayload }` (`topologyError`: `{ pool, error }`). Returns a
 * function that stops publishing.
 */
export function publishDiagnostics(_pool: Pool): () => void {
  // Kept for code written against it: the Pool itself publishes on these channels now (and on
  // pg-failover:route and :hold, see src/pool/stats.ts); publishing here too would say everything twice.
  return () => {};
}

/** The parts of prom-client used here (pass `require('prom-client')`). */
export interface PromClientLike {
  Gauge: new (config: { name: string; help: string; labelNames?: string[]; registers?: unknown[]; collect?: () => void }) => {
    set(labels: Record<string, string>, value: number): void;
    set(value: number): void;
    reset(): void;
  };
  register: unknown;
}

/**
 * Registers gauges for `pool` on `registry` (default prom-client's global one), read at
 * scrape time: `<prefix>pool_connections{state}`, `<prefix>member_up{node,role}` (1/0),
 * `<prefix>member_lag_bytes{node}`, `<prefix>primary{node}` (1 on the primary),
 * `<prefix>failovers`, `<prefix>last_failover_seconds`, `<prefix>reads_sent_to_primary`
 * (read-your-writes). Default prefix `pgfailover_`. Call once per pool and registry.
 */
export function registerPoolMetrics(pool: Pool, prom: PromClientLike, options: { registry?: unknown; prefix?: string; labels?: Record<string, string> } = {}): void {
  const registers = [options.registry ?? prom.register];
  const p = options.prefix ?? 'pgfailover_';
  const extra = options.labels ?? {};
  const extraNames = Object.keys(extra);
  const counts = trackPool(pool);
  const gauge = (name: string, help: string, labelNames: string[], collect: (g: InstanceType<PromClientLike['Gauge']>) => void) => {
    const g: InstanceType<PromClientLike['Gauge']> = new prom.Gauge({
      name: p + name,
      help,
      labelNames: [...labelNames, ...extraNames],
      registers,
      collect() {
        collect(g);
      },
    });
  };
  gauge('pool_connections', 'Sessions of the pool, over every node', ['state'], (g) => {
    g.set({ state: 'total', ...extra }, pool.totalCount);
    g.set({ state: 'idle', ...extra }, pool.idleCount);
    g.set({ state: 'waiting', ...extra }, pool.waitingCount);
  });
  gauge('member_up', 'Members the topology source reports, 1 when not unreachable/stopped', ['node', 'role'], (g) => {
    g.reset();
    for (const m of pool.topology?.members ?? []) g.set({ node: nodeKey(m), role: m.role, ...extra }, m.state === 'unreachable' || m.state === 'stopped' ? 0 : 1);
  });
  gauge('member_lag_bytes', 'Replication lag behind the primary, when the source knows it', ['node'], (g) => {
    g.reset();
    for (const m of pool.topology?.members ?? []) if (m.lagBytes !== undefined) g.set({ node: nodeKey(m), ...extra }, m.lagBytes);
  });
  gauge('primary', '1 for the node that takes writes', ['node'], (g) => {
    g.reset();
    const primary = pool.topology?.primary;
    if (primary) g.set({ node: nodeKey(primary), ...extra }, 1);
  });
  gauge('failovers', 'Failovers this pool went through (failoverEnd events)', [], (g) => g.set({ ...extra }, counts.failovers));
  gauge('last_failover_seconds', 'How long the last failover held writes', [], (g) => {
    if (counts.lastFailoverMillis !== undefined) g.set({ ...extra }, counts.lastFailoverMillis / 1000);
  });
  gauge('reads_sent_to_primary', 'Reads read-your-writes kept on the primary', [], (g) => g.set({ ...extra }, pool.causalStats.readsSentToPrimary));
}
