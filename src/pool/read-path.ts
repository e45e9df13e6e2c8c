/**
 * The read path: a plain read of pool.query placed by policy on a standby (or the primary),
 * honouring read-your-writes — waiting on a standby for the writes' position (causal-reads.ts)
 * or going to the primary — retried on another node when its node fails, and handed to the
 * write path when a node refuses it as a write (SQLSTATE 25006). Also where a checked-out
 * client's reads go (readNode, readPlacement, replayedOn: SessionHost).
 *
 * Part of the routing engine (routing-engine.ts builds it), which it reaches only through
 * {@link SessionHost} and {@link RoutingCore} (engine.ts).
 */
import type pg from 'pg';
import type { ReadRequirement } from './causal';
import { STANDBY_WAIT_MILLIS } from './causal-reads';
import { afterFailure, type Failure } from './retry-policy';
import type { Placement } from './placement';
import type { WritePath } from './write-path';
import type { RoutingCore, SessionHost } from './engine';

/** The requirement of every read under readFrom 'primary' (the policy alone sends it to the primary; not counted as a causal detour). */
export const PRIMARY_READ: ReadRequirement = Object.freeze({ primaryOnly: false });

/** A read with nothing to respect (the node is picked first; a wait on it covers the position). */
const ANY_READ: ReadRequirement = PRIMARY_READ;

export class ReadPath {
  readonly #engine: SessionHost;
  readonly #core: RoutingCore;
  readonly #placement: Placement;
  readonly #writes: WritePath;

  constructor(engine: SessionHost, core: RoutingCore, placement: Placement, writes: WritePath) {
    this.#engine = engine;
    this.#core = core;
    this.#placement = placement;
    this.#writes = writes;
  }

  async read(q: pg.QueryConfig, text: string, req: ReadRequirement, plain: boolean, statement: Failure['statement']): Promise<pg.QueryResult> {
    const core = this.#core;
    let tried: Set<string> | undefined;
    const retries = core.options.readRetries ?? 2;
    // Read-your-writes, waiting on a standby: learn the writes' position (one fetch shared by every read
    // waiting for it), then read on a standby that has replayed it or waits for it (below).
    if (req.pending) req = await core.causalReads.learnPosition(req);
    let onPrimary = false;
    /** Set at the first failure: how long a read that cannot open a session may go on waiting for a node. */
    let deadline: number | undefined;
    for (let attempt = 0; ; attempt++) {
      // Fast path (readFrom 'primary', or a read that must see this process's last writes): no await.
      const fast =
        onPrimary || (!tried && (core.router.policy.readFrom === 'primary' || (req.primaryOnly && core.router.policy.readFrom !== 'standby'))) ? this.#placement.primaryNow() : undefined;
      if (fast && req.primaryOnly) core.causal.stats.readsSentToPrimary++;
      const waitFor = !onPrimary && req.minLsn !== undefined && core.causal.waitsOnStandby ? req.minLsn : undefined;
      const key = fast ?? this.#standbyNow(tried, req) ?? (await this.readNode(tried, waitFor !== undefined ? ANY_READ : req));
      const np = core.nodes.get(key);
      np.busy++;
      try {
        if (waitFor !== undefined && core.causalReads.needsWait(key, waitFor) && !(await core.causalReads.caughtUp(key, waitFor))) {
          // Behind: wait there (unless it cannot run the wait), else the primary.
          const r = await core.causalReads.readAfterWait(np, q, plain, waitFor);
          if (r) {
            np.reads++;
            return r;
          }
          onPrimary = true; // the standby did not get there within the bound: the primary has the writes
          core.causal.stats.readsSentToPrimary++;
          continue;
        }
        if (waitFor !== undefined) core.causal.used();
        const result = await (plain ? np.pool.query(q.text, q.values) : np.pool.query(q));
        np.reads++;
        return result;
      } catch (err) {
        np.errors++;
        // A refusal as read-only (25006) means the text writes, wherever it ran (a primary that refused it is a standby now).
        deadline ??= Date.now() + core.failoverTimeoutMillis;
        const v = afterFailure({ err, node: key, statement, on: 'standby', routedAsRead: !onPrimary, inTransaction: false, pinned: false, attempt, retries, late: Date.now() >= deadline });
        if (v.do === 'run-as-write') {
          this.#engine.rememberWrite(text, key);
          return this.#writes.write(q, plain, 'write', core.classifier.analyze(text), text);
        }
        if (v.do === 'retry') {
          if (v.markDown) this.#engine.markDown(key, err as Error);
          (tried ??= new Set()).add(key);
          continue;
        }
        if (v.do === 'throw') throw v.error;
        if (v.do === 'timeout') {
          if (v.markDown) this.#engine.markDown(key, err as Error);
          throw this.#placement.timeout(v.cause);
        }
        throw err; // no other verdict applies to a read outside a transaction
      } finally {
        np.busy--;
      }
    }
  }

  /**
   * The common read, decided without awaiting: a first attempt, nothing marked down, no
   * position to respect, and a node the router picks. Anything else → undefined (readNode).
   */
  #standbyNow(tried: ReadonlySet<string> | undefined, req: ReadRequirement): string | undefined {
    const core = this.#core;
    if (tried || req.primaryOnly || req.pending || req.minLsn !== undefined || core.state.anyDown || core.ending || core.router.policy.readFrom === 'primary') return undefined;
    return core.router.pick(core.topology.current(), core.loadOf);
  }

  /**
   * A node for a read (standby by policy, or the primary when allowed), honouring
   * read-your-writes (`req`). Waits for a primary when that is the only option.
   */
  async readNode(exclude?: ReadonlySet<string>, req: ReadRequirement = { primaryOnly: false }): Promise<string> {
    const core = this.#core;
    // Checked-out clients do not wait on a standby: a read whose writes have no known position yet goes to the primary.
    if (req.pending) req = { primaryOnly: true, ...(req.minLsn !== undefined ? { minLsn: req.minLsn } : {}) };
    const standbyOnly = core.router.policy.readFrom === 'standby';
    if (req.primaryOnly && standbyOnly) req = await core.causalReads.settleForStandby(req);
    const start = Date.now();
    const deadline = start + core.failoverTimeoutMillis;
    const standbyDeadline = start + Math.min(core.failoverTimeoutMillis, STANDBY_WAIT_MILLIS);
    return this.#placement.placed('read', deadline, { standbyDeadline, exclude, req });
  }

  /**
   * Where a checked-out client's read binds. Reads after writes wait on a standby as
   * pool.query's do: the writes' position is learnt, a standby picked, and `waitFor` names the
   * position its session must have replayed (see {@link replayedOn}) before the read runs there.
   */
  async readPlacement(exclude: ReadonlySet<string> | undefined, after: string | undefined): Promise<{ node: string; waitFor?: bigint }> {
    const core = this.#core;
    let req = core.causal.requirement(after);
    if (core.causal.waitsOnStandby && (req.pending || (!req.primaryOnly && req.minLsn !== undefined))) {
      if (req.pending) req = await core.causalReads.learnPosition(req);
      const minLsn = req.minLsn;
      if (!req.primaryOnly && minLsn !== undefined) {
        const node = await this.readNode(exclude, ANY_READ);
        if (!core.causalReads.needsWait(node, minLsn)) return { node };
        // One shared look first (cheap, and most standbys are there already); the wait only when behind.
        const there = await core.causalReads.caughtUp(node, minLsn).catch(() => false);
        return there ? { node } : { node, waitFor: minLsn };
      }
    }
    return { node: await this.readNode(exclude, req) };
  }

  async replayedOn(key: string, client: pg.PoolClient, minLsn: bigint): Promise<boolean> {
    const there = await this.#core.causalReads.replayedOn(key, client, minLsn);
    if (!there) this.#core.causal.stats.readsSentToPrimary++; // the client binds to the primary instead
    return there;
  }
}
