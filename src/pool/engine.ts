/**
 * The contracts of the query path, so that its pieces import contracts, not each other:
 *
 * - {@link PoolEngine}: what the pg-compatible front (pool.ts) needs from an engine. Two
 *   engines implement it: the single-host pass-through (direct-engine.ts, exactly a pg.Pool)
 *   and the routing engine (routing-engine.ts). The front has no per-method "which engine"
 *   branch: it picks one at construction and forwards.
 * - {@link SessionHost}: what a checked-out client (bound-client.ts) and the COMMIT-outcome
 *   resolver (outcome.ts) need from the routing engine: nodes for a statement, held through a
 *   failover, and the bookkeeping of what happened on them. The routing engine's own parts use
 *   it too: the read path (read-path.ts), the write path (write-path.ts).
 * - {@link EngineHost}: what the routing engine needs from the front (its events, its options).
 * - {@link RoutingCore}: what the routing engine's parts — placement.ts (the wait for a node:
 *   the router asked in a loop, statements held through a failover), read-path.ts,
 *   write-path.ts and topology-follower.ts — share of it beyond SessionHost: the collaborators
 *   it built, once. They never import routing-engine.ts; it builds them and forwards to them.
 */
import type { EventEmitter } from 'node:events';
import type pg from 'pg';
import type { Classifier } from '../routing/classify';
import type { ReadRouter } from '../routing/router';
import type { Topology, TopologySource } from '../topology/topology';
import type { CausalTracker, ReadRequirement } from './causal';
import type { CausalReads } from './causal-reads';
import type { ClusterState } from './cluster-state';
import type { NodePool, NodePools } from './node-pools';
import type { PoolStatsSnapshot } from './stats';
import type { StallWatch } from './stall-watch';

/** Read-your-writes counters, as `pool.causalStats` returns them. */
export type CausalStats = Readonly<Record<string, number>>;

export interface PoolEngine {
  /** pg.Pool's query / connect / end, every call form (promise, callback, config object, Submittable). */
  query(...args: unknown[]): unknown;
  connect(...args: unknown[]): unknown;
  end(...args: unknown[]): unknown;
  readonly totalCount: number;
  readonly idleCount: number;
  readonly waitingCount: number;
  readonly expiredCount: number;
  /** pg-pool's session list (some libraries and tests reach into it). */
  readonly _clients: pg.PoolClient[];
  readonly ending: boolean;
  readonly ended: boolean;
  readonly topology: Topology | undefined;
  stats(): PoolStatsSnapshot<CausalStats>;
  readonly causalStats: CausalStats;
  causalToken(): Promise<string>;
  causalScope<T>(fn: () => T, after?: string): T;
  /** A node's session pool (routing engine only). */
  nodePool(key: string): NodePool;
}

export interface SessionHost {
  /** The primary, holding the caller while none is known (until the deadline). */
  primaryNode(deadline: number): Promise<string>;
  /** A node for a read by policy, honouring read-your-writes. */
  readNode(exclude?: ReadonlySet<string>, req?: ReadRequirement): Promise<string>;
  /** Where a checked-out client's read binds, and the position its session must have replayed first (read-your-writes on a standby). */
  readPlacement(exclude: ReadonlySet<string> | undefined, after: string | undefined): Promise<{ node: string; waitFor?: bigint }>;
  /** Whether a standby session has (or, within causalWaitMillis, gets) that position; false: bind to the primary. Rejects when the session is lost. */
  replayedOn(key: string, client: pg.PoolClient, minLsn: bigint): Promise<boolean>;
  /** At an announced switchover, a new primary session waits like a write does. */
  switchoverGate(deadline: number): Promise<void>;
  nodePool(key: string): NodePool;
  /** A node failed a connection: avoid it briefly and re-check the topology now. */
  markDown(key: string, err: Error): void;
  /** The node the topology calls primary refused a write as read-only: ask the topology source again now. */
  refreshTopology(reason: string): void;
  /** A standby refused this text as a write (25006): send it to the primary from now on. */
  rememberWrite(text: string, key: string): void;
  isLearnedWrite(text: string): boolean;
  /** Something that may have written ran on the primary (read-your-writes bookkeeping). */
  noteWrite(): void;
  readRequirement(after?: string): ReadRequirement;
  readonly topology: Topology | undefined;
  readonly failoverTimeoutMillis: number;
  readonly resolveCommitOutcome: boolean;
  /** Frees primary sessions stuck in a dead network path (stall-watch.ts); undefined when off. */
  readonly stallWatch?: StallWatch;
  /** pg-pool's `Promise` option: every promise handed to the app is one of these. */
  readonly promiseClass: PromiseConstructorLike;
}

/** What the routing engine needs from the front: its events, its options. */
export interface EngineHost {
  readonly front: EventEmitter;
  readonly options: {
    readRetries?: number;
    resolveCommitOutcome?: boolean;
    resolveWriteOutcome?: boolean;
    learnFunctionVolatility?: boolean;
    warmConnectionsPerNode?: number;
    stallCheckMillis?: number;
  };
}

/** What placement.ts, read-path.ts, write-path.ts and topology-follower.ts share of the routing engine (internal to it; built once). */
export interface RoutingCore {
  /** The front's events and options (EngineHost). */
  readonly front: EventEmitter;
  readonly options: EngineHost['options'];
  readonly nodes: NodePools;
  readonly topology: TopologySource;
  readonly state: ClusterState;
  readonly router: ReadRouter;
  readonly classifier: Classifier;
  readonly causal: CausalTracker;
  readonly causalReads: CausalReads;
  /** The router's view of a node's load: its NodePool (which carries `busy`); allocates nothing. */
  readonly loadOf: (key: string) => { busy: number };
  readonly failoverTimeoutMillis: number;
  /** end() was called. */
  readonly ending: boolean;
}
