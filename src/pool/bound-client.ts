/**
 * The client `pool.connect()` returns: it binds to a node lazily, at its
 * first statement, and stays there until released — so transactions, SET,
 * LISTEN, temp tables, prepared statements and cursors stay on one session.
 *
 * - A read outside a transaction binds to a standby; a later write (still
 *   outside a transaction, with no session state made) moves the client to
 *   the primary: a read leaves nothing behind on the standby to lose.
 * - BEGIN / a write / session state / a pin bind to the primary; BEGIN READ
 *   ONLY binds to a standby.
 * - Connection lost: a read outside a transaction is retried elsewhere;
 *   inside a transaction the transaction is rolled back (TRANSACTION_ROLLED_BACK);
 *   a lost COMMIT is resolved with pg_xact_status() (outcome.ts). Like an
 *   aborted transaction in PostgreSQL, the client then refuses the block's
 *   further statements (TRANSACTION_ROLLED_BACK, not run: run on a new session
 *   they would commit piecemeal) until ROLLBACK, which is answered locally, or
 *   COMMIT, which fails; release() ends it too.
 * - A cursor whose session dies between its last rows and the server's
 *   ReadyForQuery gets the loss too (pg-cursor alone would never call back:
 *   node-postgres#2468).
 */
import { EventEmitter } from 'node:events';
import pg from 'pg';
import createDebug from 'debug';
import { FailoverError } from '../errors';
import type { Classifier } from '../routing/classify';
import { needFor, type RouteOverride } from '../routing/router';
import { isConnectionLoss, isReadOnlyRefusal } from './error-kinds';
import type { NodePool } from './node-pools';
import type { SessionHost } from './engine';
import { resolveCommit } from './outcome';
import { INSERT_LSN_SQL, STARTED_SQL } from './xid-witness';
import { afterFailure, COMMIT, ROLLBACK, statementOf } from './retry-policy';
import { setTimeout as sleep } from 'node:timers/promises';
import { asPromiseOf, rejectedOf } from '../custom-promise';

const debug = createDebug('pg-failover:router');

type Role = 'primary' | 'standby';
interface Binding {
  node: NodePool;
  client: pg.PoolClient;
  role: Role;
  /** Session state was created here (SET, LISTEN, temp table …): never move. */
  pinned: boolean;
}

const FORWARDED = ['notification', 'notice', 'error', 'end'] as const;

type Callback = (err: Error | undefined, result?: pg.QueryResult) => void;

interface Submittable {
  submit: (connection: unknown) => void;
  text?: string;
  callback?: unknown;
}

export class BoundClient extends EventEmitter {
  #binding: Binding | undefined;
  #released = false;
  /** The session died inside a transaction: the block's later statements are refused until it is ended. */
  #lost: { node: string; cause: Error } | undefined;
  #chain: Promise<unknown> = Promise.resolve();

  // Private fields, not properties: util.inspect / JSON.stringify of a checked-out client must not walk into the pool's options.
  readonly #pool: SessionHost;
  readonly #classifier: Classifier;
  /** How many times a read lost with its session runs again (the pool's readRetries). */
  readonly #retries: number;

  constructor(pool: SessionHost, classifier: Classifier, retries = 2) {
    super();
    this.#pool = pool;
    this.#classifier = classifier;
    this.#retries = retries;
  }

  /** 'primary' | 'standby' once bound, else undefined. */
  get boundTo(): { node: string; role: Role } | undefined {
    return this.#binding ? { node: this.#binding.node.key, role: this.#binding.role } : undefined;
  }

  get processID(): number | undefined {
    return (this.#binding?.client as unknown as { processID?: number })?.processID;
  }

  escapeLiteral(s: string): string {
    return pg.escapeLiteral(s);
  }

  escapeIdentifier(s: string): string {
    return pg.escapeIdentifier(s);
  }

  /** pg.Client's: 'I' idle, 'T' in a transaction, 'E' failed transaction, null before the first statement. */
  getTransactionStatus(): string | null {
    return (this.#binding?.client as unknown as { getTransactionStatus?: () => string | null })?.getTransactionStatus?.() ?? null;
  }

  query<R extends pg.QueryResultRow = any>(config: string | (pg.QueryConfig & { route?: RouteOverride }), values?: unknown[]): Promise<pg.QueryResult<R>>;
  query(config: string | pg.QueryConfig, callback: Callback): void;
  query(config: string | pg.QueryConfig, values: unknown[], callback: Callback): void;
  query<T extends Submittable>(submittable: T): T;
  query(config: unknown, values?: unknown, callback?: unknown): unknown {
    if (this.#released) {
      const err = new FailoverError('INVALID_OPTION', 'Release called on client which has already been released to the pool.');
      if (typeof values === 'function') return void (values as Callback)(err);
      if (typeof callback === 'function') return void (callback as Callback)(err);
      return rejectedOf(this.#pool.promiseClass, err);
    }
    if (config && typeof (config as Submittable).submit === 'function') {
      const sub = config as Submittable;
      this.#serial(async () => {
        const text = submittableText(sub);
        if (this.#lost) throw this.#refusal();
        const b = await this.#bindFor(text, undefined);
        this.#typeLossOf(sub, text, b);
        this.#noteWriteOf(sub, text, b);
        b.client.query(sub as never);
      }).catch((err) => deliverError(sub, err));
      return sub;
    }
    if (typeof values === 'function') {
      callback = values;
      values = undefined;
    }
    const q: pg.QueryConfig & { route?: RouteOverride } = typeof config === 'string' ? { text: config } : { ...(config as pg.QueryConfig) };
    if (values !== undefined) q.values = values as unknown[];
    const p = this.#serial(() => this.#run(q));
    if (typeof callback !== 'function') return asPromiseOf(this.#pool.promiseClass, p);
    p.then(
      (r) => (callback as Callback)(undefined, r as pg.QueryResult),
      (e) => (callback as Callback)(e),
    );
  }

  /**
   * A Submittable (COPY stream, cursor, query stream) gets pg's errors straight from the
   * connection. A lost connection is reported to it with our codes, like any statement:
   * TRANSACTION_ROLLED_BACK inside a transaction, CONNECTION_LOST for a read (a stream
   * cannot be replayed: rows may already have been delivered), else
   * TRANSACTION_RESOLUTION_UNKNOWN (e.g. COPY … FROM STDIN). The original stays `cause`.
   */
  #typeLossOf(sub: Submittable, text: string, b: Binding): void {
    const target = sub as { handleError?: (err: Error, connection: unknown) => void };
    const original = target.handleError;
    if (typeof original !== 'function') return;
    const status = this.getTransactionStatus();
    const inTxn = status === 'T' || status === 'E';
    let reported = false;
    target.handleError = (err: Error, connection: unknown) => {
      if (!isConnectionLoss(err) || !(err instanceof pg.DatabaseError || sessionDead(b.client))) return original.call(sub, err, connection);
      // pg reports a dying session twice (the server's FATAL, then the socket's end); some streams
      // (pg-copy-streams) emit 'error' for each, the second one unhandled. One report is the truth.
      if (reported) return;
      reported = true;
      this.#pool.markDown(b.node.key, err);
      const kind = this.#classifier.analyze(text).kind;
      const typed = inTxn
        ? new FailoverError('TRANSACTION_ROLLED_BACK', `the connection to ${b.node.key} was lost inside a transaction; the server rolled it back`, { cause: err, node: b.node.key })
        : kind === 'read'
          ? new FailoverError('CONNECTION_LOST', `the connection to ${b.node.key} was lost under a streamed read (not replayed: rows may have been delivered)`, { cause: err, node: b.node.key })
          : new FailoverError('TRANSACTION_RESOLUTION_UNKNOWN', `the connection to ${b.node.key} was lost while a streamed write was in flight; it may or may not have been applied (not retried)`, { cause: err, node: b.node.key });
      if (inTxn) this.#lost = { node: b.node.key, cause: err };
      closeWithoutServer(sub); // first: the error handling below may close it (pg-query-stream's destroy does)
      const out = original.call(sub, typed, connection);
      settleOrphanedRead(sub, typed);
      return out;
    };
  }

  /** A Submittable write (COPY … FROM STDIN, a cursor over INSERT … RETURNING) counts for read-your-writes once the server is done with it. */
  #noteWriteOf(sub: Submittable, text: string, b: Binding): void {
    if (b.role !== 'primary' || this.#classifier.analyze(text).kind === 'read') return;
    const target = sub as { handleReadyForQuery?: (connection: unknown) => void };
    const original = target.handleReadyForQuery;
    if (typeof original !== 'function') return;
    target.handleReadyForQuery = (connection: unknown) => {
      this.#pool.noteWrite();
      return original.call(sub, connection);
    };
  }

  /** What a statement of a transaction lost with its session gets (it is not run). */
  #refusal(): FailoverError {
    const lost = this.#lost!;
    return new FailoverError(
      'TRANSACTION_ROLLED_BACK',
      `the transaction was rolled back when the connection to ${lost.node} was lost; statement not run: end the block with ROLLBACK (or release the client) and start the transaction again`,
      { cause: lost.cause, node: lost.node },
    );
  }

  /** Returns the session to its node's pool; `release(err)` (or `true`) destroys it, like pg. */
  release(err?: Error | boolean): void {
    if (this.#released) throw new FailoverError('INVALID_OPTION', 'Release called on client which has already been released to the pool.');
    this.#released = true;
    this.#lost = undefined;
    const b = this.#binding;
    this.#binding = undefined;
    if (!b) return;
    this.#unforward(b);
    b.node.busy--;
    b.client.release(err as Error | undefined);
  }

  #serial<T>(f: () => Promise<T>): Promise<T> {
    const p = this.#chain.then(f, f);
    this.#chain = p.catch(() => {});
    return p;
  }

  async #run(q: pg.QueryConfig & { route?: RouteOverride }, attempt = 0, exclude?: ReadonlySet<string>, deadline = Date.now() + this.#pool.failoverTimeoutMillis): Promise<pg.QueryResult> {
    const text = typeof q.text === 'string' ? q.text : '';
    const { route, after, ...pgq } = q as typeof q & { after?: string };
    if (this.#lost) {
      // The server rolled the transaction back with its session: ROLLBACK has nothing left to do,
      // COMMIT must not look like it committed, anything else would run outside the transaction.
      if (ROLLBACK.test(text)) {
        this.#lost = undefined;
        return localResult('ROLLBACK');
      }
      const refusal = this.#refusal();
      if (COMMIT.test(text)) this.#lost = undefined;
      throw refusal;
    }
    const b = await this.#bindFor(text, route, exclude, after);
    const inTxn = this.getTransactionStatus() === 'T' || this.getTransactionStatus() === 'E';
    const a = this.#classifier.analyze(text);
    const learned = this.#pool.isLearnedWrite(text);
    const statement = statementOf(text, a, learned);
    let xid: string | null | undefined;
    let started: string | undefined;
    let lsn: string | undefined;
    if (b.role === 'primary' && inTxn && this.#pool.resolveCommitOutcome && statement === 'commit') {
      try {
        const row = (
          await b.client.query<{ xid: string | null; started: string; lsn: string | null }>(
            `SELECT pg_current_xact_id_if_assigned()::text AS xid, ${STARTED_SQL} AS started, ${INSERT_LSN_SQL} AS lsn`,
          )
        ).rows[0];
        xid = row?.xid ?? null;
        started = row?.started;
        lsn = row?.lsn ?? undefined;
      } catch {
        xid = undefined; // the COMMIT below will report what happened
      }
    }
    // A primary session stuck in a dead network path is freed once the path works (stall-watch.ts).
    const watched = b.role === 'primary' ? this.#pool.stallWatch?.start(b.node.key, b.client) : undefined;
    try {
      const result = await b.client.query(pgq);
      this.#pool.stallWatch?.end(watched);
      const wrote = a.kind !== 'read';
      if (wrote) b.node.writes++;
      else b.node.reads++;
      if (b.role === 'primary' && wrote) this.#pool.noteWrite();
      return result;
    } catch (err) {
      this.#pool.stallWatch?.end(watched);
      b.node.errors++;
      const v = afterFailure({
        err,
        node: b.node.key,
        statement,
        on: b.role,
        routedAsRead: needFor(a, route, learned).role === 'read',
        inTransaction: inTxn,
        pinned: b.pinned,
        xid,
        attempt,
        retries: this.#retries,
        late: Date.now() >= deadline,
      });
      switch (v.do) {
        case 'run-as-write':
          this.#pool.rememberWrite(text, b.node.key);
          this.#drop(undefined);
          return this.#run({ ...q, route: 'primary' }, attempt + 1, undefined, deadline); // even if it was routed to a standby by request
        case 'answer-rollback':
          this.#lose(b, err, watched?.reached);
          return localResult('ROLLBACK');
        case 'retry':
          if (v.markDown) this.#lose(b, err, watched?.reached);
          else {
            // A primary that refused as read-only (still promoting, or demoted): bind again to whoever is primary.
            this.#drop(undefined);
            this.#pool.refreshTopology(`${b.node.key} refused a write (SQLSTATE 25006)`);
          }
          if (statement === 'begin') debug('BEGIN lost with the session on %s: starting the transaction on a new session', b.node.key);
          else debug('%s lost on %s: running it again (%s)', statement, b.node.key, v.on);
          if (v.delayMillis > 0) await sleep(v.delayMillis);
          return this.#run(q, attempt + 1, v.on === 'other-node' ? new Set([...(exclude ?? []), b.node.key]) : undefined, deadline);
        case 'resolve-commit': {
          this.#lose(b, err, watched?.reached);
          // The block ends with its COMMIT, whatever the outcome.
          const { outcome, why } = await resolveCommit(this.#pool, { xid: v.xid, node: b.node.key, started, ...(lsn ? { lsn } : {}) });
          if (outcome === 'committed') {
            debug('COMMIT of xid %s lost with its connection, resolved: committed', v.xid);
            return { command: 'COMMIT', rowCount: null, oid: 0, rows: [], fields: [] } as unknown as pg.QueryResult;
          }
          if (outcome === 'aborted') {
            throw new FailoverError('TRANSACTION_ROLLED_BACK', `the connection to ${b.node.key} was lost during COMMIT; the transaction (xid ${v.xid}) did not commit`, {
              cause: err,
              node: b.node.key,
              detail: { xid: v.xid },
            });
          }
          throw new FailoverError('TRANSACTION_RESOLUTION_UNKNOWN', `the connection to ${b.node.key} was lost during COMMIT and the outcome of xid ${v.xid} could not be resolved: ${why}`, {
            cause: err,
            node: b.node.key,
            detail: { xid: v.xid, why },
          });
        }
        case 'timeout':
          if (v.markDown) this.#lose(b, err, watched?.reached);
          throw new FailoverError('FAILOVER_TIMEOUT', `no primary accepted the statement within failoverTimeoutMillis (${this.#pool.failoverTimeoutMillis} ms)`, { cause: v.cause });
        case 'throw':
          if (b.role === 'primary' && isReadOnlyRefusal(err)) this.#pool.refreshTopology(`${b.node.key} refused a write (SQLSTATE 25006)`);
          if (v.markDown) {
            this.#lose(b, err, watched?.reached);
            // A transaction lost with its session: its later statements are refused until it is ended.
            if (inTxn && statement !== 'commit' && statement !== 'rollback') this.#lost = { node: b.node.key, cause: err as Error };
          }
          throw v.error;
      }
    }
  }

  /**
   * The session is gone: the node is marked down and the session destroyed — unless the stall watch
   * ended it from a side session it had just opened there (`reached`): then the node works, and only
   * the session goes.
   */
  #lose(b: Binding, err: unknown, reached = false): void {
    if (!reached) this.#pool.markDown(b.node.key, err as Error);
    this.#drop(err as Error);
  }

  /** Binds (or re-binds, when allowed) for a statement and returns the binding. */
  async #bindFor(text: string, route: RouteOverride | undefined, exclude?: ReadonlySet<string>, after?: string): Promise<Binding> {
    const a = this.#classifier.analyze(text);
    const need = needFor(a, route, this.#pool.isLearnedWrite(text));
    const b = this.#binding;
    if (b) {
      const status = this.getTransactionStatus();
      const movable = b.role === 'standby' && !b.pinned && status !== 'T' && status !== 'E';
      if (!(movable && need.role === 'primary')) {
        if (a.pins) b.pinned = true;
        return b;
      }
      debug('moving a checked-out client from standby %s to the primary: %s', b.node.key, need.why);
      this.#drop(undefined);
    }
    let wantsStandby = need.role === 'read';
    const deadline = Date.now() + this.#pool.failoverTimeoutMillis;
    for (;;) {
      // Like pool.query's writes: at an announced switchover a new primary session waits, so that
      // no statement of it is in flight when the old primary shuts down.
      if (!wantsStandby) await this.#pool.switchoverGate(deadline);
      const place = wantsStandby ? await this.#pool.readPlacement(exclude, after) : undefined;
      const key = place ? place.node : await this.#pool.primaryNode(deadline);
      const node = this.#pool.nodePool(key);
      let client: pg.PoolClient;
      try {
        client = await node.pool.connect();
      } catch (err) {
        this.#pool.markDown(key, err as Error);
        if (Date.now() >= deadline) throw err;
        continue;
      }
      if (place?.waitFor !== undefined) {
        // A read after this pool's writes, on a standby not known to have them: wait there (bounded).
        let there: boolean;
        try {
          there = await this.#pool.replayedOn(key, client, place.waitFor);
        } catch (err) {
          client.release(err as Error);
          this.#pool.markDown(key, err as Error);
          if (Date.now() >= deadline) throw err;
          continue;
        }
        if (!there) {
          client.release();
          wantsStandby = false; // it did not get there within causalWaitMillis: the primary has the writes
          continue;
        }
      }
      const role: Role = this.#pool.topology?.primary && `${this.#pool.topology.primary.host}:${this.#pool.topology.primary.port}` === key ? 'primary' : 'standby';
      const binding: Binding = { node, client, role, pinned: Boolean(a.pins) };
      node.busy++; // least-busy counts the sessions checked out, not only pool.query's work
      if (a.pins) debug('client pinned to %s: %s', key, a.pins);
      this.#binding = binding;
      this.#forwardFrom(binding);
      return binding;
    }
  }

  #listeners = new Map<string, (...args: unknown[]) => void>();

  #forwardFrom(b: Binding): void {
    for (const event of FORWARDED) {
      const l = (...args: unknown[]) => {
        if (event === 'error' && !b.pinned) return this.#sessionLost(b, args[0] as Error);
        if (event === 'error' && !this.listenerCount('error')) return; // handled by the pool; never crash the app
        this.emit(event, ...args);
      };
      this.#listeners.set(event, l);
      b.client.on(event, l);
    }
  }

  /**
   * The session died under a client that holds no session state: it is not 'error' to the app as
   * pg's would be (that says "this client is dead": TypeORM, for one, then releases it under the
   * transaction it runs), because this client is not — its next statement gets a new session, or,
   * inside a transaction, TRANSACTION_ROLLED_BACK. A statement in flight gets its own error.
   * A pinned client (LISTEN, SET, temp tables, prepared statements) forwards it: the app must rebuild.
   */
  #sessionLost(b: Binding, err: Error): void {
    if (this.#binding !== b) return;
    const status = this.getTransactionStatus();
    debug('session on %s lost while checked out (transaction status %s): %s', b.node.key, status, err?.message);
    if (status === 'T' || status === 'E') this.#lost = { node: b.node.key, cause: err };
    this.#pool.markDown(b.node.key, err);
    this.#drop(err);
  }

  #unforward(b: Binding): void {
    for (const [event, l] of this.#listeners) b.client.off(event, l);
    this.#listeners.clear();
  }

  #drop(err: Error | undefined): void {
    const b = this.#binding;
    this.#binding = undefined;
    if (!b) return;
    this.#unforward(b);
    b.node.busy--;
    b.client.release(err);
  }
}

/** The pg-cursor of a Submittable: itself, or the one pg-query-stream wraps. */
function cursorOf(sub: Submittable): object {
  return (sub as { cursor?: object }).cursor ?? sub;
}

/** A Submittable that could not be sent gets the error the way pg gives it one: its handleError (pg.Query, pg-cursor, pg-copy-streams, pg-query-stream), else its callback, else 'error' if listened to. */
function deliverError(sub: Submittable, err: Error): void {
  const target = sub as { handleError?: (err: Error, connection: unknown) => void };
  if (typeof target.handleError === 'function') return target.handleError(err, undefined);
  const cb = sub.callback;
  if (typeof cb === 'function') return void cb(err);
  const emitter = sub as unknown as EventEmitter;
  if (typeof emitter.emit === 'function' && emitter.listenerCount?.('error')) emitter.emit('error', err);
}

/**
 * pg-cursor marks itself done at CommandComplete and hands the rows over only at the
 * ReadyForQuery that follows its Close/Sync; a session lost in between makes it ignore the
 * error, and the pending read() never calls back (node-postgres#2468). Settle it with the loss.
 */
function settleOrphanedRead(sub: Submittable, err: Error): void {
  const cursor = cursorOf(sub) as { state?: unknown; _cb?: unknown; _queue?: Array<[number, (e: Error) => void]> };
  if (cursor.state !== 'done') return;
  const pending = typeof cursor._cb === 'function' ? [cursor._cb as (e: Error) => void] : [];
  cursor._cb = null;
  for (const [, cb] of cursor._queue?.splice(0) ?? []) pending.push(cb);
  for (const cb of pending) cb(err);
}

/**
 * A failed pg-cursor's close() waits for a ReadyForQuery the dead session will never send
 * (node-postgres#2588) — and pg-query-stream closes its cursor to finish destroy(err), so a
 * stream cut mid-rows never errored: `for await` hung. With the session gone there is nothing
 * to close: call back at once.
 */
function closeWithoutServer(sub: Submittable): void {
  const cursor = cursorOf(sub) as { close?: unknown; _portal?: unknown; _Promise?: PromiseConstructor };
  if (typeof cursor.close !== 'function' || !('_portal' in cursor)) return;
  const P = cursor._Promise ?? Promise;
  cursor.close = (cb?: (err?: Error) => void) => {
    if (typeof cb === 'function') return void setImmediate(cb);
    return new P<void>((resolve) => setImmediate(resolve));
  };
}

/** What pg returns for a statement answered without the server (a ROLLBACK of a transaction already rolled back). */
function localResult(command: string): pg.QueryResult {
  const r = new pg.Result(undefined as never, undefined as never) as unknown as pg.QueryResult & { command: string; rowCount: number | null };
  r.command = command;
  r.rowCount = null;
  return r;
}

/** The SQL of a Submittable: its own `text` (pg.Query, pg-cursor) or its cursor's (pg-query-stream wraps a Cursor). */
function submittableText(sub: Submittable): string {
  const own = (sub as { text?: unknown }).text;
  if (typeof own === 'string') return own;
  const inner = (sub as { cursor?: { text?: unknown } }).cursor?.text;
  return typeof inner === 'string' ? inner : '';
}

/** pg's own (untyped) errors say nothing of the socket: a plain Error is a connection loss only when the session is dead. */
function sessionDead(client: pg.PoolClient): boolean {
  const c = client as unknown as { _queryable?: boolean; _ended?: boolean; connection?: { stream?: { destroyed?: boolean; readableEnded?: boolean } } };
  return c._queryable === false || c._ended === true || c.connection?.stream?.destroyed === true || c.connection?.stream?.readableEnded === true;
}
