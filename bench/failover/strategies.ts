/**
 * The strategies a trial runs side by side: pg-failover with each topology
 * source, and the peers (naive pg retry loop, postgres.js, HAProxy). Each is
 * a StrategyClient plus the times at which it said it noticed a fault.
 */
import { Pool } from '../../src/pool/pool';
import type { TopologyConfig } from '../../src/pool/options';
import type { ClusterUnderTest } from './cluster-under-test';
import { naivePg, postgresJs, type HaproxyPeer } from './peers';
import type { StrategyClient } from './workload';

export const STRATEGIES = ['pg-failover:etcd', 'pg-failover:rest', 'pg-failover:probe', 'naive-pg', 'postgres.js', 'haproxy'] as const;
export type StrategyName = (typeof STRATEGIES)[number];

export interface BenchClient extends StrategyClient {
  /** Times (ms since epoch) of the strategy's own fault signals (pg-failover events). */
  readonly signals: number[];
}

const INSERT = 'INSERT INTO bench_writes (strategy, op_id) VALUES ($1, $2)';
const READ = 'SELECT count(*) FROM bench_reads';

/** Why a strategy cannot run against this cluster, or undefined when it can. */
export function unavailable(name: StrategyName, cluster: ClusterUnderTest, haproxy: HaproxyPeer | undefined): string | undefined {
  if (name === 'pg-failover:etcd' && !(cluster.etcdHosts && cluster.scope)) return 'the cluster publishes no etcd keys';
  if (name === 'pg-failover:rest' && !cluster.apiUrls?.length) return 'the cluster has no Patroni REST API';
  if (name === 'haproxy' && !haproxy) return 'HAProxy needs REST health checks (no apiNodes) or is not installed';
  return undefined;
}

/** Builds a fresh client; `label` is the strategy column its writes carry (unique per trial). */
export function makeClient(name: StrategyName, label: string, cluster: ClusterUnderTest, haproxy: HaproxyPeer | undefined): BenchClient {
  switch (name) {
    case 'pg-failover:etcd':
      return pgFailover(label, cluster, { source: 'etcd', hosts: cluster.etcdHosts!, scope: cluster.scope!, namespace: '/service' });
    case 'pg-failover:rest':
      return pgFailover(label, cluster, { source: 'patroni-rest', urls: cluster.apiUrls!, intervalMillis: 250, timeoutMillis: 500 });
    case 'pg-failover:probe':
      return pgFailover(label, cluster, { source: 'probe', recheckIntervalMillis: 1000 });
    case 'naive-pg':
      return { ...naivePg(label, cluster.hosts), signals: [] };
    case 'postgres.js':
      return { ...postgresJs(label, cluster.hosts), signals: [] };
    case 'haproxy':
      return { ...haproxy!.client(label), signals: [] };
  }
}

function pgFailover(label: string, cluster: ClusterUnderTest, topology: TopologyConfig): BenchClient {
  const pool = new Pool({ connectionString: cluster.connectionString(), topology, max: 4, connectionTimeoutMillis: 2000, failoverTimeoutMillis: 30_000 });
  const signals: number[] = [];
  const mark = () => signals.push(Date.now());
  pool.on('failoverStart', mark);
  pool.on('primaryChanged', mark);
  pool.on('nodeDown', mark);
  pool.on('error', () => {});
  pool.on('topologyError', () => {});
  return {
    signals,
    write: async (id) => {
      await pool.query(INSERT, [label, id]);
    },
    read: async () => {
      await pool.query(READ);
    },
    close: () => pool.end(),
  };
}
