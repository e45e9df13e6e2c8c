/**
 * Where a statement goes when its node is not at hand: the machinery around the router's one
 * hook (routing/router.ts). The router is asked in a loop; a node → there; a wait → the
 * statement is held (counted in waitingCount, published on `pg-failover:hold` for writes), the
 * topology refreshed and the nodes it waits for made ready (node-revival.ts for a named primary
 * marked down, sessions-ahead.ts for the likely next primaries) until a change wakes it; a
 * failure → its typed error. Also: the primary when it is at hand (no await), the gate new
 * primary sessions wait at during an announced switchover, and the promotion check the topology
 * source asks a node through ("has it left recovery?").
 *
 * Part of the routing engine (routing-engine.ts builds it), which it reaches only through
 * {@link RoutingCore} (engine.ts).
 */
import { FailoverError } from '../errors';
import type { Route } from '../routing/router';
import { nodeKey, type Topology } from '../topology/topology';
import { isDownState } from '../topology/patroni-members';
import type { ReadRequirement } from './causal';
import { NodeRevival } from './node-revival';
import { SessionsAhead } from './sessions-ahead';
import { channelFor } from './stats';
import { within } from '../within';
import type { RoutingCore } from './engine';

const HOLD = channelFor('hold');

/** Bound on one "has the new leader left recovery yet?" check. */
const PROMOTION_CHECK_TIMEOUT_MILLIS = 1000;

export class Placement {
  readonly #core: RoutingCore;
  readonly #revival: NodeRevival;
  readonly #ahead: SessionsAhead;
  #waiters = new Set<() => void>();
  #held = 0;

  constructor(core: RoutingCore) {
    this.#core = core;
    this.#revival = new NodeRevival({
      tryConnect: async (key) => {
        // Kept open and idle: the statements waiting for the node take them (and wait for them rather than open their own).
        await core.nodes.openMore(key, Math.max(1, this.#held - (core.nodes.peek(key)?.pool.totalCount ?? 0)));
      },
      wanted: (key) => !core.ending && this.#held > 0 && core.state.isDown(key),
      revived: (key) => {
        core.state.revived(key);
        for (const w of this.#waiters) w();
      },
    });
    this.#ahead = new SessionsAhead({
      // Sessions busy with statements (reads on a standby go on during a failover) are not at hand for the writes.
      sessions: (key) => {
        const np = core.nodes.peek(key);
        return np ? Math.max(0, np.pool.totalCount - np.busy) : 0;
      },
      open: (key, n) => core.nodes.openMore(key, n),
      wanted: (key) => this.#sessionsAheadFor(key),
    });
  }

  /** Statements held now, waiting for a primary or at a switchover's gate (part of waitingCount). */
  get held(): number {
    return this.#held;
  }

  /** Something changed (the topology, a node revived, the pool ended): every waiting statement looks again. */
  wake(): void {
    for (const w of this.#waiters) w();
  }

  /** Asks the node itself (a pooled session, bounded by PROMOTION_CHECK_TIMEOUT_MILLIS) whether it left recovery. */
  async acceptsWrites(key: string): Promise<boolean> {
    if (this.#core.ending) return false;
    const check = this.#core.nodes.get(key).pool.query<{ r: boolean }>('SELECT pg_catalog.pg_is_in_recovery() AS r');
    const { rows } = await within(check, PROMOTION_CHECK_TIMEOUT_MILLIS, () => new Error('promotion check timed out'));
    return rows[0]?.r === false;
  }

  /** The primary, holding the caller while none is known (until the deadline). */
  primaryNode(deadline: number): Promise<string> {
    return this.placed('primary', deadline);
  }

  /**
   * The machinery around the router's one hook: ask it where to go; a node → there; a wait →
   * hold (counted in waitingCount, published on `pg-failover:hold` for writes), refresh the
   * topology, wait for a change, ask again; a failure → its typed error.
   */
  async placed(
    role: 'primary' | 'read',
    deadline: number,
    read?: { standbyDeadline: number; exclude?: ReadonlySet<string>; req: ReadRequirement },
  ): Promise<string> {
    const core = this.#core;
    let held = false;
    try {
      for (;;) {
        if (core.ending) throw new FailoverError('POOL_ENDED', 'the pool was ended while a query waited for a primary');
        const t = core.topology.current();
        const named = t?.primary ? nodeKey(t.primary) : undefined;
        const primary = named !== undefined && !core.state.isDown(named) ? named : undefined;
        const req = read?.req;
        const r: Route = core.router.route({
          role,
          topology: t,
          primary,
          namedPrimary: named,
          load: core.loadOf,
          skip: read ? this.#skipFor(read.exclude, req!) : undefined,
          primaryOnly: req?.primaryOnly,
          waitingForPosition: req?.minLsn !== undefined,
          now: Date.now(),
          deadline,
          standbyDeadline: read?.standbyDeadline ?? deadline,
        });
        if ('node' in r) {
          if (r.node === primary && core.state.phase.kind === 'failing-over') core.state.recovered(r.node);
          if (r.detour === 'causal-primary' || (req?.minLsn !== undefined && role === 'read' && core.router.policy.readFrom !== 'primary' && r.node === core.state.lastPrimary)) core.causal.stats.readsSentToPrimary++;
          return r.node;
        }
        if ('fail' in r) {
          if (r.fail === 'NO_STANDBY') {
            throw new FailoverError('NO_STANDBY', r.reason, { detail: { members: t?.members.map((m) => `${m.name}:${m.role}/${m.state}`) } });
          }
          throw this.timeout(undefined);
        }
        // A wait. For a primary: the failover is under way (held writes are counted and published).
        const forPrimary = role === 'primary' || core.router.policy.readFrom !== 'standby';
        if (forPrimary) {
          core.state.failing(r.wait);
          if (!held) {
            held = true;
            this.#held++;
            if (HOLD.hasSubscribers) HOLD.publish({ pool: core.front, reason: r.wait });
          }
          core.topology.refresh('a write is waiting for a primary');
          // The primary the topology names failed a connection: try it again while we wait.
          if (named !== undefined && primary === undefined) this.#revival.poke(named);
          // Sessions on the likely next primaries before one takes writes (sessions-ahead.ts).
          for (const next of this.#nextPrimaries(t)) this.#ahead.poke(next);
        } else if (req?.minLsn === undefined) {
          // No standby qualifies at all: ask the topology again. (Waiting for a standby to replay a
          // position: its replay is polled by the causal tracker every few ms.)
          core.topology.refresh(r.wait);
        }
        await this.#waitForChange(r.millis);
      }
    } finally {
      if (held) this.#held--;
    }
  }

  /**
   * While writes wait: the nodes that may take them next. The leader key's holder still promoting,
   * alone; else every standby that may be promoted and, no primary named, the one before (a node
   * restarted in place takes its key back). A named primary marked down is the revival's.
   */
  #nextPrimaries(t: Topology | undefined): string[] {
    if (this.#core.ending || this.#held === 0) return [];
    if (t?.promoting) return [nodeKey(t.promoting)];
    const out: string[] = [];
    if (t?.primary) {
      // Named but marked down: the revival opens its sessions (node-revival.ts); the standbys here.
      if (!this.#core.state.isDown(nodeKey(t.primary))) return [];
    } else {
      const phase = this.#core.state.phase;
      if (phase.kind === 'failing-over' && phase.previous !== undefined) out.push(phase.previous);
    }
    for (const m of t?.members ?? []) {
      const nofailover = m.tags?.nofailover === true || m.tags?.nofailover === 'true';
      if (m.role === 'standby' && !nofailover && m.state !== 'unreachable' && !isDownState(m.state)) out.push(nodeKey(m));
    }
    return out;
  }

  /**
   * Sessions wanted ahead on `key`, beside those busy with statements: one per statement waiting,
   * and one for the Pool's own look at the node (the promotion check; at a first primary, the
   * function-volatility read), within the node pool's `max`.
   */
  #sessionsAheadFor(key: string): number {
    if (!this.#nextPrimaries(this.#core.topology.current()).includes(key)) return 0;
    const np = this.#core.nodes.peek(key);
    const max = (np?.pool as { options?: { max?: number } } | undefined)?.options?.max ?? 10;
    return Math.min(this.#held + 1, max - (np?.busy ?? 0));
  }

  /** Nodes a read must skip: tried, marked down, and (while the primary can serve it) standbys behind its position. */
  #skipFor(exclude: ReadonlySet<string> | undefined, req: ReadRequirement): ReadonlySet<string> | undefined {
    // The common case (no retry, nothing down, no position to respect) allocates nothing.
    if (!exclude?.size && !this.#core.state.anyDown && req.minLsn === undefined) return undefined;
    const skip = new Set([...(exclude ?? []), ...this.#core.state.downKeys()]);
    // Read-your-writes: a standby not known to have replayed the position is skipped, also while the
    // primary is gone (the read then waits for a standby to be seen with it, or for the next primary:
    // a failover must not turn into stale reads). Its replay is polled meanwhile (standbyHas).
    if (req.minLsn !== undefined) {
      for (const m of this.#core.topology.current()?.members ?? []) {
        const k = nodeKey(m);
        if (m.role !== 'primary' && !skip.has(k) && !this.#core.causal.standbyHas(k, req.minLsn)) skip.add(k);
      }
    }
    return skip;
  }

  /** The primary's key when one is known, usable and no failover is being closed; else undefined (take the slow path). */
  primaryNow(): string | undefined {
    if (this.#core.ending) return undefined;
    return this.#core.state.primaryNow(this.#core.topology.current());
  }

  /**
   * While a planned switchover is announced and the old primary still leads, a new primary
   * session waits (see ClusterState's `switchover-hold`), at most until the write's deadline.
   */
  async switchoverGate(deadline: number): Promise<void> {
    if (this.#core.state.phase.kind !== 'switchover-hold') return;
    this.#held++;
    try {
      for (;;) {
        const until = this.#core.state.switchoverHoldUntil();
        if (until === undefined || this.#core.ending) return;
        const left = Math.min(until, deadline) - Date.now();
        if (left <= 0) return;
        await this.#waitForChange(left);
      }
    } finally {
      this.#held--;
    }
  }

  #waitForChange(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      this.#waiters.add(done);
    });
  }

  /** FAILOVER_TIMEOUT: no primary came within failoverTimeoutMillis (the members as last seen in its detail). */
  timeout(cause: unknown): FailoverError {
    return new FailoverError('FAILOVER_TIMEOUT', `no reachable primary within failoverTimeoutMillis (${this.#core.failoverTimeoutMillis} ms)`, {
      cause,
      detail: { members: this.#core.topology.current()?.members.map((m) => `${m.name}:${m.role}/${m.state}`) },
    });
  }
}
