/**
 * What the failover runner needs from a cluster, whoever manages it: where to
 * connect, who is primary, how to inject a fault, how to get back to a healthy
 * primary + standbys between trials, and how to stop everything by PID.
 */
import type { Endpoint } from './peers';

/** The faults a trial can inject. */
export type FaultKind = 'kill' | 'crash' | 'hang' | 'switchover';
export const FAULT_KINDS: readonly FaultKind[] = ['kill', 'crash', 'hang', 'switchover'];

/** A node with its manager's REST API port (for HAProxy health checks). */
export interface ApiNode extends Endpoint {
  name: string;
  apiPort: number;
}

export interface ClusterUnderTest {
  /** `manual`, `patroni` or `ours`. */
  readonly manager: string;
  /** A libpq multi-host URL over every node. */
  connectionString(): string;
  /** Every PostgreSQL endpoint (stable across trials). */
  readonly hosts: Endpoint[];
  /** etcd client URLs, when the manager publishes Patroni-shaped keys there. */
  readonly etcdHosts?: string[];
  /** Patroni scope (with namespace `/service`). */
  readonly scope?: string;
  /** Patroni REST API base URLs, when the manager serves one. */
  readonly apiUrls?: string[];
  /** Nodes with their REST API ports (HAProxy). */
  readonly apiNodes?: ApiNode[];
  /** The node that holds the leader role now. */
  primaryName(): Promise<string>;
  /** The PostgreSQL endpoint of a node. */
  endpoint(node: string): Endpoint;
  /** Injects a fault on `node`; resolves once injected (the manager's reaction is not awaited). */
  fault(kind: FaultKind, node: string): Promise<void>;
  /** Undoes what the fault left behind (thaw, rejoin) and waits until one primary + every standby streams. */
  waitHealthy(timeoutMillis: number): Promise<void>;
  /** Stops every process it started, by PID, and removes its directory. */
  stop(): Promise<void>;
}
