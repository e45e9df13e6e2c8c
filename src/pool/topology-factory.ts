/**
 * TopologyConfig → a TopologySource. Probing is built by the pool itself
 * (it needs the connection string's hosts); this builds the others.
 */
import { FailoverError } from '../errors';
import type { TopologySource } from '../topology/topology';
import type { TopologyConfig } from './options';

export function createTopologySource(config: TopologyConfig): TopologySource {
  throw new FailoverError('INVALID_OPTION', `topology source "${config.source}" is not available in this build`);
}
