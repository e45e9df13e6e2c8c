/**
 * TopologyConfig → a TopologySource. Probing is built by the pool itself
 * (it needs the connection string's hosts); this builds the others.
 */
import { FailoverError } from '../errors';
import { EtcdTopology } from '../topology/etcd';
import { PatroniRestTopology } from '../topology/patroni-rest';
import type { TopologySource } from '../topology/topology';
import type { TopologyConfig } from './options';

/** Builds the etcd or Patroni REST source a pool's `topology` option names. */
export function createTopologySource(config: TopologyConfig): TopologySource {
  switch (config.source) {
    case 'etcd':
      return new EtcdTopology(config);
    case 'patroni-rest':
      return new PatroniRestTopology(config);
    default:
      throw new FailoverError('INVALID_OPTION', `topology source "${(config as { source?: unknown }).source}" is not built here (the pool probes by itself)`);
  }
}
