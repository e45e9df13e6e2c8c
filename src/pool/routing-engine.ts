/**
 * The routing engine: one pg Pool per node (node-pools.ts), a topology source saying who is
 * primary, the router (routing/router.ts) as the single hook that places every statement,
 * the cluster state (cluster-state.ts) that holds writes through a failover, and one retry
 * policy (retry-policy.ts) for what failed. pool.ts is the pg-compatible front over it.
 *
 * A write whose connection dies after it was sent is never replayed: it fails with
 * `TRANSACTION_RESOLUTION_UNKNOWN` (or, for a COMMIT on a checked-out client, is resolved
 * with pg_xact_status(): see outcome.ts).
 */
import type { EventEmitter } from 'node:events';
import pg from 'pg';
import createDebug from 'debug';
import { setTimeout as sleep } from 'node:timers/promises';
import { FailoverError } from '../errors';
import type { Analysis, Classifier } from '../routing/classify';
import { needFor, ReadRouter, type Route, type RouteOverride } from '../routing/router';
import { isNoLoadBalance, nodeKey, type Topology, type TopologySource } from '../topology/topology';
import { isDownState } from '../topology/patroni-members';
import { NodePools, sessionOf, splitKey, type NodePool } from './node-pools';
import { afterFailure, statementOf, type Failure } from './retry-policy';
import { BoundClient } from './bound-client';
import { CausalTracker, type ReadRequirement, type ReadYourWrites } from './causal';
import { CausalReads, STANDBY_WAIT_MILLIS } from './causal-reads';
import { ClusterState } from './cluster-state';
import { channelFor, nodeStats, type PoolStatsSnapshot } from './stats';
import { asPromiseOf, rejectedOf } from '../custom-promise';
import { within } from '../within';
import { writeWithPosition } from './positions';
import { NodeRevival } from './node-revival';
import { SessionsAhead } from './sessions-ahead';
import { canResolve, resolvableStatement, resolvableWrite, type ResolvableWrite } from './resolvable-write';
import { resolveCommit } from './outcome';
import { functionVolatility } from './function-volatility';
import { StallWatch } from './stall-watch';
import type { CausalStats, PoolEngine, SessionHost } from './engine';
import type { ReadPolicy } from '../routing/router';

const debug = createDebug('pg-failover:pool');
const debugRouter = createDebug('pg-failover:router');
const ROUTE = channelFor('route');
const HOLD = channelFor('hold');

type Callback<T> = (err: Error | undefined, result?: T) => void;
type RoutedQuery = pg.QueryConfig & { route?: RouteOverride; after?: string };

const MAX_LEARNED = 10_000;
/** How many times a resolvable write is run again after it provably did not run (or, sent through an announced switchover, did not commit). */
const RUN_AGAIN_MAX = 5;
/** The requirement of every read under readFrom 'primary' (the policy alone sends it to the primary; not counted as a causal detour). */
const PRIMARY_READ: ReadRequirement = Object.freeze({ primaryOnly: false });
/** The timeline a primary writes on: the first 8 hex digits of its current WAL file's name. */
const PRIMARY_TIMELINE_SQL = "SELECT ('x' || substr(pg_catalog.pg_walfile_name(pg_catalog.pg_current_wal_lsn()), 1, 8))::bit(32)::int AS tli";

/** A read with nothing to respect (the node is picked first; a wait on it covers the position). */
const ANY_READ: ReadRequirement = PRIMARY_READ;
/** The load of a node no query has used yet. */
const IDLE: Readonly<{ busy: number }> = Object.freeze({ busy: 0 });
/** Bound on one "has the new leader left recovery yet?" check. */
const PROMOTION_CHECK_TIMEOUT_MILLIS = 1000;
/** stallCheckMillis' default: a primary statement without an answer this long gets its session looked at (stall-watch.ts). */
const DEFAULT_STALL_CHECK_MILLIS = 1000;

/** What the engine needs from the front: its events, its options. */
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

export interface RoutingEngineOptions {
  policy: ReadPolicy;
  classifier: Classifier;
  readYourWrites: ReadYourWrites | undefined;
  causalWaitMillis: number;
  /** Reads after writes wait on a standby (else they go to the primary until a standby is known to have the writes). */
  waitOnStandby: boolean;
  failoverTimeoutMillis: number;
  promiseClass: PromiseConstructorLike;
  /** The pg.Pool config of a node. */
  configFor(node: { host: string; port: number }): pg.PoolConfig;
  /** Builds the topology source; `isWritable` asks a node itself whether it left recovery. */
  topology(isWritable: (key: string) => Promise<boolean>): TopologySource;
}

export class RoutingEngine implements PoolEngine, SessionHost {
  ending = false;
  ended = false;
  readonly #host: EngineHost;
  readonly #classifier: Classifier;
  readonly #router: ReadRouter;
  readonly #nodes: NodePools;
  readonly #topology: TopologySource;
  readonly #state: ClusterState;
  readonly #revival: NodeRevival;
  readonly #ahead: SessionsAhead;
  readonly #learnedWrites = new Set<string>();
  #started: Promise<void> | undefined;
  /** The topology source has started (the first query no longer needs to await it). */
  #startedOk = false;
  #waiters = new Set<() => void>();
  #held = 0;
  #functionsLearned = false;
  readonly #failoverTimeoutMillis: number;
  /** resolveWriteOutcome: autocommit writes tell their transaction id first, so a lost one can be resolved. */
  readonly #resolveWrites: boolean;
  readonly #causal: CausalTracker;
  readonly #causalReads: CausalReads;
  /** The router's view of a node's load: its NodePool (which carries `busy`); allocates nothing. */
  readonly #loadOf = (key: string): { busy: number } => this.#nodes.peek(key) ?? IDLE;
  readonly promiseClass: PromiseConstructorLike;
  /** Frees primary sessions stuck in a dead network path once it works again (stall-watch.ts); undefined when off. */
  readonly stallWatch: StallWatch | undefined;

  constructor(host: EngineHost, o: RoutingEngineOptions) {
    this.#host = host;
    this.#classifier = o.classifier;
    this.#router = new ReadRouter(o.policy);
    this.#failoverTimeoutMillis = o.failoverTimeoutMillis;
    this.#resolveWrites = host.options.resolveWriteOutcome ?? false;
    this.promiseClass = o.promiseClass;
    const stallCheckMillis = host.options.stallCheckMillis ?? DEFAULT_STALL_CHECK_MILLIS;
    this.stallWatch =
      stallCheckMillis > 0
        ? new StallWatch({
            stallCheckMillis,
            configFor: (key) => ({ ...o.configFor(splitKey(key)), ...splitKey(key) }),
            // The path to the node works again: open the sessions that replace the stuck ones now.
            reachable: (key, stuck) => this.#nodes.replenish(key, stuck),
          })
        : undefined;
    const waitOnStandby = o.waitOnStandby;
    this.#causal = new CausalTracker(
      o.readYourWrites,
      {
        primaryLsn: async () => {
          const p = this.#topology.current()?.primary;
          if (!p) throw new FailoverError('NO_PRIMARY', 'no primary known');
          const { rows } = await this.#nodes.get(nodeKey(p)).pool.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn');
          return rows[0].lsn;
        },
        replayLsn: async (key) => {
          const { rows } = await this.#nodes.get(key).pool.query<{ lsn: string | null }>('SELECT pg_last_wal_replay_lsn()::text AS lsn');
          return rows[0].lsn;
        },
        standbys: () => (this.#topology.current()?.members ?? []).filter((m) => m.role === 'standby' && m.state !== 'unreachable' && !isNoLoadBalance(m)).map(nodeKey),
        primaryTimeline: async (key) => {
          const { rows } = await this.#nodes.get(key).pool.query<{ tli: number }>(PRIMARY_TIMELINE_SQL);
          return Number(rows[0]!.tli);
        },
        standbyFollows: (key, tli) => {
          const members = this.#topology.current()?.members ?? [];
          const m = members.find((x) => nodeKey(x) === key);
          if (m?.timeline !== undefined) return m.timeline >= tli;
          // No word on its timeline. From a source that tells timelines (Patroni, our manager) that
          // means the standby's own status is unknown (Patroni leaves it out while it runs crash
          // recovery, for one): not known to follow. From one that never does (probe): nothing against it.
          return !members.some((x) => x.timeline !== undefined);
        },
      },
      { waitOnStandby },
    );
    this.#causalReads = new CausalReads(this.#causal, {
      waitMillis: o.causalWaitMillis,
      failoverTimeoutMillis: o.failoverTimeoutMillis,
      lastPrimary: () => this.#state.lastPrimary,
    });
    this.#nodes = new NodePools({ configFor: o.configFor, forward: (event, node, ...args) => this.#forward(event, node, args) });
    this.#state = new ClusterState({
      announce: (event, payload) => this.#announce(event, payload),
      retire: (key, why, abortBusy) => this.#nodes.retire(key, why, { abortBusy }),
      refresh: (reason) => this.#topology.refresh(reason),
    });
    this.#revival = new NodeRevival({
      tryConnect: async (key) => {
        // Kept open and idle: the statements waiting for the node take them (and wait for them rather than open their own).
        await this.#nodes.openMore(key, Math.max(1, this.#held - (this.#nodes.peek(key)?.pool.totalCount ?? 0)));
      },
      wanted: (key) => !this.ending && this.#held > 0 && this.#state.isDown(key),
      revived: (key) => {
        this.#state.revived(key);
        for (const w of this.#waiters) w();
      },
    });
    this.#ahead = new SessionsAhead({
      // Sessions busy with statements (reads on a standby go on during a failover) are not at hand for the writes.
      sessions: (key) => {
        const np = this.#nodes.peek(key);
        return np ? Math.max(0, np.pool.totalCount - np.busy) : 0;
      },
      open: (key, n) => this.#nodes.openMore(key, n),
      wanted: (key) => this.#sessionsAheadFor(key),
    });
    this.#topology = o.topology((key) => this.#acceptsWrites(key));
    this.#topology.on('change', (next, previous) => this.#onTopology(next, previous));
    this.#topology.on('error', (err) => {
      debug('topology source %s: %s', this.#topology.name, err.message);
      this.#announce('topologyError', err);
    });
  }

  /** Asks the node itself (a pooled session, bounded by PROMOTION_CHECK_TIMEOUT_MILLIS) whether it left recovery. */
  async #acceptsWrites(key: string): Promise<boolean> {
    if (this.ending) return false;
    const check = this.#nodes.get(key).pool.query<{ r: boolean }>('SELECT pg_catalog.pg_is_in_recovery() AS r');
    const { rows } = await within(check, PROMOTION_CHECK_TIMEOUT_MILLIS, () => new Error('promotion check timed out'));
    return rows[0]?.r === false;
  }

  // ---- pg.Pool's counters -------------------------------------------------
  get totalCount(): number {
    return this.#nodes.sum((p) => p.totalCount);
  }
  get idleCount(): number {
    return this.#nodes.sum((p) => p.idleCount);
  }
  get waitingCount(): number {
    return this.#nodes.sum((p) => p.waitingCount) + this.#held;
  }
  get _clients(): pg.PoolClient[] {
    return [...this.#nodes.values()].flatMap((np) => (np.pool as unknown as { _clients: pg.PoolClient[] })._clients);
  }
  get expiredCount(): number {
    return this.#nodes.sum((p) => (p as unknown as { expiredCount?: number }).expiredCount ?? 0);
  }

  get topology(): Topology | undefined {
    return this.#topology.current();
  }

  // ---- query ---------------------------------------------------------------
  query(config: unknown, values?: unknown, callback?: unknown): Promise<pg.QueryResult> | void {
    if (typeof config === 'function') {
      const err = new FailoverError('INVALID_OPTION', 'Passing a function as the first parameter to pool.query is not supported');
      if (typeof values === 'function') {
        setImmediate(() => (values as Callback<never>)(err));
        return;
      }
      return rejectedOf(this.promiseClass, err);
    }
    if (typeof values === 'function') {
      callback = values;
      values = undefined;
    }
    const q: RoutedQuery = typeof config === 'string' ? { text: config } : { ...(config as RoutedQuery) };
    if (values !== undefined) q.values = values as unknown[];
    const p = this.#query(q, typeof config === 'string');
    if (typeof callback !== 'function') return asPromiseOf(this.promiseClass, p);
    p.then(
      (r) => (callback as Callback<pg.QueryResult>)(undefined, r),
      (e) => (callback as Callback<pg.QueryResult>)(e),
    );
  }

  /**
   * `plain`: the caller passed SQL text (and values), not a config object. Then pg gets
   * (text, values) too: pg copies every config object it is given with property
   * descriptors (pg/lib/utils.js cloneQueryConfig): measured 3–5 µs of client CPU per point select.
   */
  #query(q: RoutedQuery, plain: boolean): Promise<pg.QueryResult> {
    if (this.ending) return Promise.reject(new FailoverError('POOL_ENDED', 'Cannot use a pool after calling end on the pool'));
    if (!this.#startedOk) return this.#start().then(() => this.#route(q, plain));
    try {
      return this.#route(q, plain);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Classifies and sends to the right node (not async itself: one promise less per query). */
  #route(q: RoutedQuery, plain: boolean): Promise<pg.QueryResult> {
    const text = typeof q.text === 'string' ? q.text : '';
    const a = this.#classifier.analyze(text);
    let pgConfig: pg.QueryConfig = q;
    const { route, after } = q;
    if ('route' in q || 'after' in q) {
      const { route: _r, after: _a, ...rest } = q;
      pgConfig = rest;
    }
    const learned = this.#learnedWrites.size > 0 && this.#learnedWrites.has(text);
    const need = needFor(a, route, learned);
    if (debugRouter.enabled) debugRouter('%s → %s (%s)', shorten(text), need.role, need.why);
    if (ROUTE.hasSubscribers) ROUTE.publish({ pool: this.#host.front, text, role: need.role, why: need.why });
    const statement = statementOf(text, a, learned);
    if (need.role !== 'read') return this.#write(pgConfig, plain, statement, a, text);
    // readFrom 'primary': every read sees every write already; no position to track (a token is still checked).
    const req = this.#router.policy.readFrom === 'primary' && after === undefined ? PRIMARY_READ : this.#causal.requirement(after);
    return this.#read(pgConfig, text, req, plain, statement);
  }

  async #read(q: pg.QueryConfig, text: string, req: ReadRequirement, plain: boolean, statement: Failure['statement']): Promise<pg.QueryResult> {
    let tried: Set<string> | undefined;
    const retries = this.#host.options.readRetries ?? 2;
    // Read-your-writes, waiting on a standby: learn the writes' position (one fetch shared by every read
    // waiting for it), then read on a standby that has replayed it or waits for it (below).
    if (req.pending) req = await this.#causalReads.learnPosition(req);
    let onPrimary = false;
    /** Set at the first failure: how long a read that cannot open a session may go on waiting for a node. */
    let deadline: number | undefined;
    for (let attempt = 0; ; attempt++) {
      // Fast path (readFrom 'primary', or a read that must see this process's last writes): no await.
      const fast =
        onPrimary || (!tried && (this.#router.policy.readFrom === 'primary' || (req.primaryOnly && this.#router.policy.readFrom !== 'standby'))) ? this.#primaryNow() : undefined;
      if (fast && req.primaryOnly) this.#causal.stats.readsSentToPrimary++;
      const waitFor = !onPrimary && req.minLsn !== undefined && this.#causal.waitsOnStandby ? req.minLsn : undefined;
      const key = fast ?? this.#standbyNow(tried, req) ?? (await this.readNode(tried, waitFor !== undefined ? ANY_READ : req));
      const np = this.#nodes.get(key);
      np.busy++;
      try {
        if (waitFor !== undefined && this.#causalReads.needsWait(key, waitFor) && !(await this.#causalReads.caughtUp(key, waitFor))) {
          // Behind: wait there (unless it cannot run the wait), else the primary.
          const r = await this.#causalReads.readAfterWait(np, q, plain, waitFor);
          if (r) {
            np.reads++;
            return r;
          }
          onPrimary = true; // the standby did not get there within the bound: the primary has the writes
          this.#causal.stats.readsSentToPrimary++;
          continue;
        }
        if (waitFor !== undefined) this.#causal.used();
        const result = await (plain ? np.pool.query(q.text, q.values) : np.pool.query(q));
        np.reads++;
        return result;
      } catch (err) {
        np.errors++;
        // A refusal as read-only (25006) means the text writes, wherever it ran (a primary that refused it is a standby now).
        deadline ??= Date.now() + this.#failoverTimeoutMillis;
        const v = afterFailure({ err, node: key, statement, on: 'standby', routedAsRead: !onPrimary, inTransaction: false, pinned: false, attempt, retries, late: Date.now() >= deadline });
        if (v.do === 'run-as-write') {
          this.rememberWrite(text, key);
          return this.#write(q, plain, 'write', this.#classifier.analyze(text), text);
        }
        if (v.do === 'retry') {
          if (v.markDown) this.markDown(key, err as Error);
          (tried ??= new Set()).add(key);
          continue;
        }
        if (v.do === 'throw') throw v.error;
        if (v.do === 'timeout') {
          if (v.markDown) this.markDown(key, err as Error);
          throw this.#timeout(v.cause);
        }
        throw err; // no other verdict applies to a read outside a transaction
      } finally {
        np.busy--;
      }
    }
  }

  async #write(q: pg.QueryConfig, plain: boolean, statement: Failure['statement'], a: Analysis, text: string): Promise<pg.QueryResult> {
    const deadline = Date.now() + this.#failoverTimeoutMillis;
    // During an announced switchover a write whose outcome can be resolved is not held: it goes on
    // to the old primary while that still takes writes, as a resolvable write. Cut by the stop, it is
    // resolved on the new primary and, when it did not commit, run there (as if it had been held).
    // Other writes wait at the gate, so none of them is in flight when the old primary stops.
    let passesHold = resolvableStatement(q, text, a);
    for (let attempt = 0; ; attempt++) {
      const held = this.#state.phase.kind === 'switchover-hold';
      if (held && !passesHold) await this.switchoverGate(deadline);
      const key = this.#primaryNow() ?? (await this.primaryNode(deadline));
      const np = this.#nodes.get(key);
      let client: pg.PoolClient;
      try {
        // Sessions are being opened for statements like this one (the stall watch's replacements, a revival): take one of those.
        client = await sessionOf(np);
      } catch (err) {
        // Never sent: safe to try again on whoever is primary next.
        if (!this.#retired(key, np)) this.markDown(key, err as Error);
        if (Date.now() >= deadline) throw this.#timeout(err);
        continue;
      }
      np.busy++;
      // Reads waiting on standbys need this write's position: read on this session with the write
      // (one round trip where the driver pipelines; positions.ts). resolveWriteOutcome: the write
      // runs in a pipelined BEGIN … COMMIT that tells its transaction id first (resolvable-write.ts).
      // Either then releases the session itself.
      const wantsPosition = this.#causal.positionWithWrite;
      const passing = held && passesHold && this.#state.phase.kind === 'switchover-hold';
      if (passing && !this.#resolveWrites && !canResolve(client, q, text, a)) {
        // This driver cannot pipeline the wrapped write: wait at the gate after all.
        client.release();
        np.busy--;
        passesHold = false;
        continue;
      }
      const resolvable = (this.#resolveWrites || passing) && canResolve(client, q, text, a) ? resolvableWrite(client, q, plain, wantsPosition) : undefined;
      const pending = resolvable ?? (wantsPosition ? writeWithPosition(client, q, plain) : undefined);
      const watched = this.stallWatch?.start(key, client);
      try {
        const result = await (pending ? pending.result : plain ? client.query(q.text, q.values) : client.query(q));
        this.stallWatch?.end(watched);
        np.writes++;
        if (!pending) client.release();
        if (pending?.position) this.#causal.noteWriteWithPosition(pending.position);
        else this.noteWrite();
        return result;
      } catch (err) {
        this.stallWatch?.end(watched);
        np.errors++;
        const v = afterFailure({ err, node: key, statement, on: 'primary', routedAsRead: false, inTransaction: false, pinned: false, attempt, retries: this.#host.options.readRetries ?? 2, late: Date.now() >= deadline });
        const lost = v.do === 'throw' || v.do === 'retry' || v.do === 'timeout' ? v.markDown : false;
        if (!pending) client.release(lost ? (err as Error) : undefined);
        // The stall watch ended this session from a side session it had just opened there: the node works, it is not down.
        const down = lost && !watched?.reached && !this.#retired(key, np);
        if (resolvable && v.do === 'throw' && (v.error as FailoverError).code === 'TRANSACTION_RESOLUTION_UNKNOWN') {
          if (!watched?.reached && !this.#retired(key, np)) this.markDown(key, err as Error);
          // Sent instead of held at a switchover: run again when it did not commit (a few times at most).
          const outcome = await this.#resolved(resolvable, v.error as FailoverError, key, passing && attempt < RUN_AGAIN_MAX, attempt < RUN_AGAIN_MAX);
          if (outcome) return outcome;
          debug('write lost on %s did not commit: running it on the primary again', key);
          continue;
        }
        if (down) this.markDown(key, err as Error);
        if (v.do === 'retry') {
          // A primary still promoting (or just demoted) refused it: nothing was written. Re-check the
          // topology and try again shortly; no 1 s "down" penalty, which would delay the first write
          // to a primary whose promotion completes a moment later.
          if (!v.markDown) this.#topology.refresh(`${key} refused a write (SQLSTATE 25006)`);
          else debug('statement lost on %s before it could have written (%s): running it again on the primary', key, (err as Error).message);
          if (v.delayMillis > 0) await sleep(v.delayMillis);
          continue;
        }
        if (v.do === 'timeout') throw this.#timeout(v.cause);
        if (v.do === 'throw') throw v.error;
        throw err;
      } finally {
        np.busy--;
      }
    }
  }

  /**
   * A resolvable write lost with its connection: what became of it, asked of whoever is primary
   * next (pg_xact_status). Lost before its transaction id came back → it was never sent: run it
   * again (`undefined`), or TRANSACTION_ROLLED_BACK once the attempts are used up. Committed with
   * its answer in hand → that answer; committed without → TRANSACTION_COMMITTED (do not run it
   * again); not committed → run again when `runAgain` (it passed a switchover hold), else
   * TRANSACTION_ROLLED_BACK (safe to run again); still unknown → the original
   * TRANSACTION_RESOLUTION_UNKNOWN, with the xid.
   */
  async #resolved(w: ResolvableWrite, unknown: FailoverError, key: string, runAgain: boolean, attemptsLeft: boolean): Promise<pg.QueryResult | undefined> {
    let xidError: unknown;
    const sent = await w.xid.catch((e: unknown) => {
      xidError = e;
      return undefined;
    });
    if (sent === undefined) {
      // The write goes out only after `BEGIN; SELECT pg_current_xact_id()` has answered: it never ran.
      debug('write lost on %s before its transaction id came back (%s: %s): it was never sent', key, (xidError as { code?: string })?.code ?? '-', (xidError as Error)?.message);
      if (attemptsLeft) return undefined;
      throw new FailoverError('TRANSACTION_ROLLED_BACK', `the connection to ${key} was lost before the write was sent (${(xidError as Error)?.message}); it did not run and may be run again`, { cause: unknown.cause, node: key });
    }
    const { xid, started } = sent;
    const lsn = w.lsnBeforeCommit();
    const { outcome, why } = await resolveCommit(this, { xid, node: key, started, ...(lsn ? { lsn } : {}) });
    debug('write of xid %s lost with its connection to %s, resolved: %s%s', xid, key, outcome, why ? ` (${why})` : '');
    if (outcome === 'committed') {
      this.noteWrite();
      const answer = w.answered();
      if (answer) return answer;
      throw new FailoverError('TRANSACTION_COMMITTED', `the write committed on ${key} (xid ${xid}), but its result was lost with the connection; do not run it again`, { cause: unknown.cause, node: key, detail: { xid } });
    }
    if (outcome === 'aborted') {
      if (runAgain) return undefined; // sent instead of being held at a switchover: the caller runs it again
      throw new FailoverError('TRANSACTION_ROLLED_BACK', `the connection to ${key} was lost while a write was in flight; it did not commit (xid ${xid}) and may be run again`, { cause: unknown.cause, node: key, detail: { xid } });
    }
    throw new FailoverError('TRANSACTION_RESOLUTION_UNKNOWN', `${unknown.message}; the outcome of xid ${xid} could not be resolved: ${why}`, { cause: unknown.cause, node: key, detail: { xid, why } });
  }

  // ---- connect (checked-out client) ----------------------------------------
  connect(callback?: unknown): Promise<BoundClient & pg.PoolClient> | void {
    const p = (async () => {
      if (this.ending) throw new FailoverError('POOL_ENDED', 'Cannot use a pool after calling end on the pool');
      await this.#start();
      return new BoundClient(this, this.#classifier, this.#host.options.readRetries ?? 2) as BoundClient & pg.PoolClient;
    })();
    if (typeof callback !== 'function') return asPromiseOf(this.promiseClass, p);
    const cb = callback as (err: Error | undefined, client?: BoundClient & pg.PoolClient, done?: (release?: unknown) => void) => void;
    p.then(
      (c) => cb(undefined, c, (err?: unknown) => c.release(err as Error)),
      (e) => cb(e),
    );
  }

  // ---- end -----------------------------------------------------------------
  end(callback?: unknown): Promise<void> | void {
    const p = (async () => {
      if (this.ending) throw new FailoverError('POOL_ENDED', 'Called end on pool more than once');
      this.ending = true;
      this.#causal.close();
      void this.stallWatch?.close();
      for (const w of this.#waiters) w();
      await this.#topology.close().catch(() => {});
      await this.#nodes.end();
      this.ended = true;
    })();
    if (typeof callback !== 'function') return asPromiseOf(this.promiseClass, p);
    p.then(
      () => (callback as () => void)(),
      () => (callback as () => void)(),
    );
  }

  // ---- what checked-out clients use (SessionHost) --------------------------

  nodePool(key: string): NodePool {
    return this.#nodes.get(key);
  }

  /**
   * A node for a read (standby by policy, or the primary when allowed), honouring
   * read-your-writes (`req`). Waits for a primary when that is the only option.
   */
  async readNode(exclude?: ReadonlySet<string>, req: ReadRequirement = { primaryOnly: false }): Promise<string> {
    // Checked-out clients do not wait on a standby: a read whose writes have no known position yet goes to the primary.
    if (req.pending) req = { primaryOnly: true, ...(req.minLsn !== undefined ? { minLsn: req.minLsn } : {}) };
    const standbyOnly = this.#router.policy.readFrom === 'standby';
    if (req.primaryOnly && standbyOnly) req = await this.#causalReads.settleForStandby(req);
    const start = Date.now();
    const deadline = start + this.#failoverTimeoutMillis;
    const standbyDeadline = start + Math.min(this.#failoverTimeoutMillis, STANDBY_WAIT_MILLIS);
    return this.#placed('read', deadline, { standbyDeadline, exclude, req });
  }

  /**
   * Where a checked-out client's read binds. Reads after writes wait on a standby as
   * pool.query's do: the writes' position is learnt, a standby picked, and `waitFor` names the
   * position its session must have replayed (see {@link replayedOn}) before the read runs there.
   */
  async readPlacement(exclude: ReadonlySet<string> | undefined, after: string | undefined): Promise<{ node: string; waitFor?: bigint }> {
    let req = this.#causal.requirement(after);
    if (this.#causal.waitsOnStandby && (req.pending || (!req.primaryOnly && req.minLsn !== undefined))) {
      if (req.pending) req = await this.#causalReads.learnPosition(req);
      const minLsn = req.minLsn;
      if (!req.primaryOnly && minLsn !== undefined) {
        const node = await this.readNode(exclude, ANY_READ);
        if (!this.#causalReads.needsWait(node, minLsn)) return { node };
        // One shared look first (cheap, and most standbys are there already); the wait only when behind.
        const there = await this.#causalReads.caughtUp(node, minLsn).catch(() => false);
        return there ? { node } : { node, waitFor: minLsn };
      }
    }
    return { node: await this.readNode(exclude, req) };
  }

  async replayedOn(key: string, client: pg.PoolClient, minLsn: bigint): Promise<boolean> {
    const there = await this.#causalReads.replayedOn(key, client, minLsn);
    if (!there) this.#causal.stats.readsSentToPrimary++; // the client binds to the primary instead
    return there;
  }

  /** The primary, holding the caller while none is known (until the deadline). */
  primaryNode(deadline: number): Promise<string> {
    return this.#placed('primary', deadline);
  }

  /**
   * The machinery around the router's one hook: ask it where to go; a node → there; a wait →
   * hold (counted in waitingCount, published on `pg-failover:hold` for writes), refresh the
   * topology, wait for a change, ask again; a failure → its typed error.
   */
  async #placed(
    role: 'primary' | 'read',
    deadline: number,
    read?: { standbyDeadline: number; exclude?: ReadonlySet<string>; req: ReadRequirement },
  ): Promise<string> {
    let held = false;
    try {
      for (;;) {
        if (this.ending) throw new FailoverError('POOL_ENDED', 'the pool was ended while a query waited for a primary');
        const t = this.#topology.current();
        const named = t?.primary ? nodeKey(t.primary) : undefined;
        const primary = named !== undefined && !this.#state.isDown(named) ? named : undefined;
        const req = read?.req;
        const r: Route = this.#router.route({
          role,
          topology: t,
          primary,
          namedPrimary: named,
          load: this.#loadOf,
          skip: read ? this.#skipFor(read.exclude, req!) : undefined,
          primaryOnly: req?.primaryOnly,
          waitingForPosition: req?.minLsn !== undefined,
          now: Date.now(),
          deadline,
          standbyDeadline: read?.standbyDeadline ?? deadline,
        });
        if ('node' in r) {
          if (r.node === primary && this.#state.phase.kind === 'failing-over') this.#state.recovered(r.node);
          if (r.detour === 'causal-primary' || (req?.minLsn !== undefined && role === 'read' && this.#router.policy.readFrom !== 'primary' && r.node === this.#state.lastPrimary)) this.#causal.stats.readsSentToPrimary++;
          return r.node;
        }
        if ('fail' in r) {
          if (r.fail === 'NO_STANDBY') {
            throw new FailoverError('NO_STANDBY', r.reason, { detail: { members: t?.members.map((m) => `${m.name}:${m.role}/${m.state}`) } });
          }
          throw this.#timeout(undefined);
        }
        // A wait. For a primary: the failover is under way (held writes are counted and published).
        const forPrimary = role === 'primary' || this.#router.policy.readFrom !== 'standby';
        if (forPrimary) {
          this.#state.failing(r.wait);
          if (!held) {
            held = true;
            this.#held++;
            if (HOLD.hasSubscribers) HOLD.publish({ pool: this.#host.front, reason: r.wait });
          }
          this.#topology.refresh('a write is waiting for a primary');
          // The primary the topology names failed a connection: try it again while we wait.
          if (named !== undefined && primary === undefined) this.#revival.poke(named);
          // Sessions on the likely next primaries before one takes writes (sessions-ahead.ts).
          for (const next of this.#nextPrimaries(t)) this.#ahead.poke(next);
        } else if (req?.minLsn === undefined) {
          // No standby qualifies at all: ask the topology again. (Waiting for a standby to replay a
          // position: its replay is polled by the causal tracker every few ms.)
          this.#topology.refresh(r.wait);
        }
        await this.#waitForChange(r.millis);
      }
    } finally {
      if (held) this.#held--;
    }
  }

  /**
   * Whether `np`, the node pool a statement used, was retired meanwhile (the topology stopped naming
   * its node the primary: its sockets were destroyed here, or its pool ended). A failure then says
   * nothing about the node, which must not be avoided for it. Campaign, a primary restarted in place:
   * its lease ran out just after it was back, the retirement failed the writes in flight there, and
   * the down mark kept them ~0.6 s from it after it took its key back 240 ms later.
   */
  #retired(key: string, np: NodePool): boolean {
    return this.#nodes.peek(key) !== np;
  }

  /**
   * While writes wait: the nodes that may take them next. The leader key's holder still promoting,
   * alone; else every standby that may be promoted and, no primary named, the one before (a node
   * restarted in place takes its key back). A named primary marked down is the revival's.
   */
  #nextPrimaries(t: Topology | undefined): string[] {
    if (this.ending || this.#held === 0) return [];
    if (t?.promoting) return [nodeKey(t.promoting)];
    const out: string[] = [];
    if (t?.primary) {
      // Named but marked down: the revival opens its sessions (node-revival.ts); the standbys here.
      if (!this.#state.isDown(nodeKey(t.primary))) return [];
    } else {
      const phase = this.#state.phase;
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
    if (!this.#nextPrimaries(this.#topology.current()).includes(key)) return 0;
    const np = this.#nodes.peek(key);
    const max = (np?.pool as { options?: { max?: number } } | undefined)?.options?.max ?? 10;
    return Math.min(this.#held + 1, max - (np?.busy ?? 0));
  }

  /** Nodes a read must skip: tried, marked down, and (while the primary can serve it) standbys behind its position. */
  #skipFor(exclude: ReadonlySet<string> | undefined, req: ReadRequirement): ReadonlySet<string> | undefined {
    // The common case (no retry, nothing down, no position to respect) allocates nothing.
    if (!exclude?.size && !this.#state.anyDown && req.minLsn === undefined) return undefined;
    const skip = new Set([...(exclude ?? []), ...this.#state.downKeys()]);
    // Read-your-writes: a standby not known to have replayed the position is skipped, also while the
    // primary is gone (the read then waits for a standby to be seen with it, or for the next primary:
    // a failover must not turn into stale reads). Its replay is polled meanwhile (standbyHas).
    if (req.minLsn !== undefined) {
      for (const m of this.#topology.current()?.members ?? []) {
        const k = nodeKey(m);
        if (m.role !== 'primary' && !skip.has(k) && !this.#causal.standbyHas(k, req.minLsn)) skip.add(k);
      }
    }
    return skip;
  }

  /**
   * The common read, decided without awaiting: a first attempt, nothing marked down, no
   * position to respect, and a node the router picks. Anything else → undefined (readNode).
   */
  #standbyNow(tried: ReadonlySet<string> | undefined, req: ReadRequirement): string | undefined {
    if (tried || req.primaryOnly || req.pending || req.minLsn !== undefined || this.#state.anyDown || this.ending || this.#router.policy.readFrom === 'primary') return undefined;
    return this.#router.pick(this.#topology.current(), this.#loadOf);
  }

  /** The primary's key when one is known, usable and no failover is being closed; else undefined (take the slow path). */
  #primaryNow(): string | undefined {
    if (this.ending) return undefined;
    return this.#state.primaryNow(this.#topology.current());
  }

  /**
   * While a planned switchover is announced and the old primary still leads, a new primary
   * session waits (see ClusterState's `switchover-hold`), at most until the write's deadline.
   */
  async switchoverGate(deadline: number): Promise<void> {
    if (this.#state.phase.kind !== 'switchover-hold') return;
    this.#held++;
    try {
      for (;;) {
        const until = this.#state.switchoverHoldUntil();
        if (until === undefined || this.ending) return;
        const left = Math.min(until, deadline) - Date.now();
        if (left <= 0) return;
        await this.#waitForChange(left);
      }
    } finally {
      this.#held--;
    }
  }

  markDown(key: string, err: Error): void {
    this.#state.markDown(key, err);
  }

  refreshTopology(reason: string): void {
    this.#topology.refresh(reason);
  }

  rememberWrite(text: string, key: string): void {
    if (this.#learnedWrites.size >= MAX_LEARNED) this.#learnedWrites.clear();
    this.#learnedWrites.add(text);
    debugRouter('standby %s refused a write; will send this text to the primary from now on: %s', key, shorten(text));
    this.#topology.refresh(`${key} refused a write (SQLSTATE 25006)`);
  }

  isLearnedWrite(text: string): boolean {
    return this.#learnedWrites.has(text);
  }

  noteWrite(): void {
    this.#causal.noteWrite(this.#router.policy.readFrom !== 'primary');
  }

  readRequirement(after?: string): ReadRequirement {
    return this.#causal.requirement(after);
  }

  get failoverTimeoutMillis(): number {
    return this.#failoverTimeoutMillis;
  }

  get resolveCommitOutcome(): boolean {
    return this.#host.options.resolveCommitOutcome ?? true;
  }

  // ---- read-your-writes and stats -------------------------------------------

  causalToken(): Promise<string> {
    return this.#causal.token();
  }

  causalScope<T>(fn: () => T, after?: string): T {
    return this.#causal.scope(fn, after);
  }

  get causalStats(): CausalStats {
    return { ...this.#causal.stats };
  }

  stats(): PoolStatsSnapshot<CausalStats> {
    const t = this.#topology.current();
    const f = this.#state.failovers;
    const since = this.#state.failingOverSince;
    return {
      totalCount: this.totalCount,
      idleCount: this.idleCount,
      waitingCount: this.waitingCount,
      primary: t?.primary ? nodeKey(t.primary) : undefined,
      source: t?.source,
      nodes: nodeStats(t, this.#nodes.values()),
      failovers: { count: f.count, durationsMillis: [...f.durationsMillis], primaryChanges: f.primaryChanges, ...(since !== undefined ? { inProgressSince: since } : {}) },
      causal: this.causalStats,
      ...(this.stallWatch ? { stalls: { ...this.stallWatch.stats } } : {}),
    };
  }

  // ---- topology --------------------------------------------------------------

  #start(): Promise<void> {
    if (!this.#started) {
      this.#started = this.#topology.start().then(
        (t) => {
          this.#onTopology(t, undefined);
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

  #onTopology(next: Topology, previous: Topology | undefined): void {
    for (const w of this.#waiters) w();
    this.#state.observe(next, previous);
    this.#causal.primaryIs(next.primary ? nodeKey(next.primary) : undefined);
    const before = previous ? new Map(previous.members.map((m) => [nodeKey(m), m])) : undefined;
    for (const m of next.members) {
      if (m.role !== 'standby') continue;
      const k = nodeKey(m);
      // A standby that was something else, or is on another timeline now (rewound, cloned again, or
      // following a new timeline): its earlier position may be of WAL it no longer has.
      const was = before?.get(k);
      if (!was || was.role !== 'standby' || was.timeline !== m.timeline) this.#causal.forget(k);
      this.#causal.observeReported(k, m.replayLsn);
    }
    const key = this.#state.lastPrimary;
    if (!this.#functionsLearned && key && (this.#host.options.learnFunctionVolatility ?? true)) {
      this.#functionsLearned = true;
      void this.#learnFunctions(key);
    }
    this.#warm(next);
  }

  #warm(t: Topology): void {
    const want = this.#host.options.warmConnectionsPerNode ?? 1;
    if (!want || this.ending) return;
    for (const m of t.members) if (m.role !== 'unknown' && m.state !== 'unreachable') this.#nodes.warm(nodeKey(m), want);
  }

  async #learnFunctions(key: string): Promise<void> {
    try {
      const learned = await functionVolatility(this.#nodes.get(key).pool);
      this.#classifier.learnFunctions(learned);
      debug('learned volatility of %d user functions', learned.size);
    } catch (err) {
      this.#functionsLearned = false;
      debug('could not read pg_proc: %s', (err as Error).message);
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

  #timeout(cause: unknown): FailoverError {
    return new FailoverError('FAILOVER_TIMEOUT', `no reachable primary within failoverTimeoutMillis (${this.#failoverTimeoutMillis} ms)`, {
      cause,
      detail: { members: this.#topology.current()?.members.map((m) => `${m.name}:${m.role}/${m.state}`) },
    });
  }

  /** Emits a Pool event on the front and publishes it on its diagnostics_channel (`pg-failover:<event>`, see stats.ts). */
  #announce(event: 'primaryChanged' | 'failoverStart' | 'failoverEnd' | 'nodeDown' | 'nodeUp' | 'topologyError', payload: object): void {
    const front = this.#host.front;
    if (event !== 'topologyError' || front.listenerCount(event)) front.emit(event, payload);
    const ch = channelFor(event);
    if (ch.hasSubscribers) ch.publish(event === 'topologyError' ? { pool: front, error: payload } : { pool: front, ...payload });
  }

  #forward(event: string, node: string, args: unknown[]): void {
    const front = this.#host.front;
    if (event === 'error') {
      // pg.Pool would crash an app without an 'error' listener here; we never do.
      if (front.listenerCount('error')) front.emit('error', ...(args as [Error, pg.PoolClient]));
      this.markDown(node, args[0] as Error);
      return;
    }
    if (front.listenerCount(event)) front.emit(event, ...args);
  }
}

function shorten(text: string): string {
  const t = text.replace(/\s+/g, ' ').trim();
  return t.length > 80 ? `${t.slice(0, 77)}...` : t;
}
