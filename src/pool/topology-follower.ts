/**
 * The routing engine following its topology source: started once, at the first query or
 * connect(), and at each change the engine's parts are told — the statements held in
 * placement.ts look again, the cluster state (cluster-state.ts) observes it, the causal tracker
 * learns the primary and each standby's reported replay — the volatility of the database's own
 * functions is read once a primary is known (function-volatility.ts), and each node gets its
 * warm sessions.
 *
 * Part of the routing engine (routing-engine.ts builds it), which it reaches only through
 * {@link RoutingCore} (engine.ts).
 */
import createDebug from 'debug';
import { nodeKey, type Topology } from '../topology/topology';
import { functionVolatility } from './function-volatility';
import type { Placement } from './placement';
import type { RoutingCore } from './engine';

const debug = createDebug('pg-failover:pool');

export class TopologyFollower {
  readonly #core: RoutingCore;
  readonly #placement: Placement;
  #started: Promise<void> | undefined;
  #startedOk = false;
  #functionsLearned = false;

  constructor(core: RoutingCore, placement: Placement) {
    this.#core = core;
    this.#placement = placement;
  }

  /** The topology source has started (the first query no longer needs to await it). */
  get startedOk(): boolean {
    return this.#startedOk;
  }

  /** Starts the topology source, once; resolves also when it failed to start (it keeps trying). */
  start(): Promise<void> {
    if (!this.#started) {
      this.#started = this.#core.topology.start().then(
        (t) => {
          this.onTopology(t, undefined);
          this.#startedOk = true;
        },
        (err) => {
          // The source keeps trying; queries will hold or fail on their own deadlines.
          debug('topology source failed to start: %s', (err as Error).message);
        },
      );
    }
    return this.#started;
  }

  onTopology(next: Topology, previous: Topology | undefined): void {
    const core = this.#core;
    this.#placement.wake();
    core.state.observe(next, previous);
    core.causal.primaryIs(next.primary ? nodeKey(next.primary) : undefined);
    const before = previous ? new Map(previous.members.map((m) => [nodeKey(m), m])) : undefined;
    for (const m of next.members) {
      if (m.role !== 'standby') continue;
      const k = nodeKey(m);
      // A standby that was something else, or is on another timeline now (rewound, cloned again, or
      // following a new timeline): its earlier position may be of WAL it no longer has.
      const was = before?.get(k);
      if (!was || was.role !== 'standby' || was.timeline !== m.timeline) core.causal.forget(k);
      core.causal.observeReported(k, m.replayLsn);
    }
    const key = core.state.lastPrimary;
    if (!this.#functionsLearned && key && (core.options.learnFunctionVolatility ?? true)) {
      this.#functionsLearned = true;
      void this.#learnFunctions(key);
    }
    this.#warm(next);
  }

  #warm(t: Topology): void {
    const want = this.#core.options.warmConnectionsPerNode ?? 1;
    if (!want || this.#core.ending) return;
    for (const m of t.members) if (m.role !== 'unknown' && m.state !== 'unreachable') this.#core.nodes.warm(nodeKey(m), want);
  }

  async #learnFunctions(key: string): Promise<void> {
    try {
      const learned = await functionVolatility(this.#core.nodes.get(key).pool);
      this.#core.classifier.learnFunctions(learned);
      debug('learned volatility of %d user functions', learned.size);
    } catch (err) {
      this.#functionsLearned = false;
      debug('could not read pg_proc: %s', (err as Error).message);
    }
  }
}
