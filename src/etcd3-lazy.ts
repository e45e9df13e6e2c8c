/**
 * etcd3 (gRPC and protobuf: about 150 ms of loading and a larger heap) is loaded when the first
 * etcd client is made, not when pg-failover is imported: an app that never uses the etcd topology
 * source does not pay for it (its first query ran ~15 ms slower, measured on a fresh process).
 */
import type * as Etcd3Module from 'etcd3';

let loaded: typeof Etcd3Module | undefined;

export function etcd3(): typeof Etcd3Module {
  loaded ??= require('etcd3') as typeof Etcd3Module;
  return loaded;
}
