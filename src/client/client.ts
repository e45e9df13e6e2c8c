/**
 * `Client`: a drop-in for `pg.Client` whose `connect()` picks a host like
 * libpq (multi-host strings, `target_session_attrs`, `load_balance_hosts`,
 * `connect_timeout` per host). Once connected it is exactly one pg.Client
 * session; every call is delegated to it.
 */
import { EventEmitter } from 'node:events';
import pg from 'pg';
import { FailoverError } from '../errors';
import { connectFirstMatching, type Connected } from './host-walk';
import { planFor, type ClientOptions } from './plan';
import { pgAloneCanServe } from './pg-alone';
import { captureParameterStatus } from './session-attrs';
import { concealOptions, copyOptions, sslForPg } from '../secrets';
import { asPromiseOf, promiseClassOf, rejectedOf } from '../custom-promise';

type Callback<T> = (err: Error | null, result?: T) => void;

/** Events forwarded from the underlying session, as pg.Client emits them. */
const FORWARDED = ['error', 'end', 'notice', 'notification', 'drain'] as const;

export class Client extends EventEmitter {
  /** The options as given (secrets non-enumerable: password, ssl.key, a connection string with a password). */
  readonly options: ClientOptions;
  #inner: pg.Client | undefined;
  #connected: Connected | undefined;
  #connecting: Promise<void> | undefined;
  /** Queries issued before the session exists wait on this (pg queues them too, even before connect()). */
  readonly #gate = gate();
  #queued = 0;
  #abortConnect = false;
  /** The session being opened right now (end() during connect() closes it). */
  #attempt: pg.Client | undefined;
  #ended = false;
  /** pg's `Promise` option: every promise this client returns is one of these (pg's `_Promise`). */
  readonly #Promise: PromiseConstructorLike;
  readonly #types: pg.CustomTypesConfig & { setTypeParser: pg.Client['setTypeParser']; getTypeParser: pg.Client['getTypeParser'] };
  /**
   * One plain host (pg-alone.ts): the pg.Client that is this client's session,
   * made at construction like pg's, so pg resolves env, `pg.defaults`, `ssl`
   * and its connection-string forms, and `connection` exists before connect().
   */
  readonly #alone: pg.Client | undefined;

  constructor(config?: string | ClientOptions) {
    super();
    // A copy that keeps a non-enumerable password (e.g. from another pool's options), secrets hidden (secrets.ts).
    this.options = concealOptions(typeof config === 'string' ? { connectionString: config } : copyOptions(config));
    this.#Promise = promiseClassOf(this.options);
    this.#types = new pg.TypeOverrides(this.options.types as never) as never;
    if (pgAloneCanServe(this.options)) {
      // Every option, hidden ones too, as pg reads them (it hides the password again on its side).
      const all = this.options as Record<string, unknown>;
      const pgConfig = Object.fromEntries(Object.getOwnPropertyNames(all).map((k) => [k, all[k]])) as pg.ClientConfig;
      pgConfig.types = this.#types;
      if (pgConfig.ssl) pgConfig.ssl = sslForPg(pgConfig.ssl) as pg.ClientConfig['ssl'];
      try {
        this.#alone = new pg.Client(pgConfig);
      } catch (e) {
        // pg refuses it; libpq's rules may still accept it (then the host walk serves it), else our error names the problem.
        this.#alone = undefined;
      }
    }
    // Validate early: a malformed connection string is a constructor error, like pg.
    if (!this.#alone) planFor(this.options);
  }

  /** Connects to the first host that matches `target_session_attrs`. Callback or promise, like pg. */
  connect(): Promise<this>;
  connect(callback: (err: Error | null) => void): void;
  connect(callback?: (err: Error | null) => void): Promise<this> | void {
    if (callback && this.#alone && !this.#connecting && !this.#inner) return this.#connectAloneCalling(this.#alone, callback);
    const p = this.#connect().then(() => this); // pg resolves with the client itself
    if (!callback) return asPromiseOf(this.#Promise, p);
    p.then(() => callback(null), (e) => callback(e));
  }

  async #connect(): Promise<void> {
    if (this.#connecting || this.#inner) {
      throw new FailoverError('INVALID_OPTION', 'Client has already been connected. You cannot reuse a client.');
    }
    this.#connecting = (async () => {
      const connected = this.#alone ? await this.#connectAlone(this.#alone) : await this.#walkHosts();
      this.#attempt = undefined;
      if (this.#abortConnect) {
        // end() was called while connecting (e.g. pg-pool's connectionTimeoutMillis): do not hand out the session.
        await connected.client.end().catch(() => {});
        throw new FailoverError('CONNECTION_LOST', 'Connection terminated: end() was called during connect()');
      }
      this.#adopt(connected);
    })();
    try {
      await this.#connecting;
      this.#gate.open();
    } catch (e) {
      this.#connecting = undefined;
      this.#ended = true;
      this.#gate.fail(e as Error);
      throw e;
    }
  }

  /** The session is ours: queries go to it, its events are ours. */
  #adopt(connected: Connected): void {
    this.#connected = connected;
    this.#inner = connected.client;
    for (const event of FORWARDED) {
      // Like pg.Client, an 'error' with no listener is thrown by EventEmitter: same semantics.
      connected.client.on(event, (...args: unknown[]) => this.emit(event, ...args));
    }
  }

  /**
   * One plain host, callback form: the callback runs inside pg's own connect
   * callback, as with pg.Client. Timing is part of the contract: a query
   * issued there is queued until the session reports ready, so an end() right
   * after it discards it instead of leaving it running on the server.
   */
  #connectAloneCalling(client: pg.Client, callback: (err: Error | null) => void): void {
    let settle!: (err?: Error) => void;
    const connecting = new Promise<void>((resolve, reject) => (settle = (err) => (err ? reject(err) : resolve())));
    connecting.catch(() => {});
    this.#connecting = connecting;
    this.#attempt = client;
    const parameters = captureParameterStatus(client);
    client.connect((err: Error | null) => {
      this.#attempt = undefined;
      if (!err && this.#abortConnect) {
        client.end().catch(() => {});
        err = new FailoverError('CONNECTION_LOST', 'Connection terminated: end() was called during connect()');
      }
      if (err) {
        this.#connecting = undefined;
        this.#ended = true;
        this.#gate.fail(err);
        settle(err);
        callback(err);
        return;
      }
      this.#adopt({ client, index: 0, parameters });
      this.#gate.open();
      settle();
      callback(null);
    });
  }

  async #walkHosts(): Promise<Connected> {
    const plan = planFor(this.options, { types: this.#types as never });
    return connectFirstMatching({
      ...plan,
      makeClient: (config) => (this.#attempt = plan.makeClient ? plan.makeClient(config) : new pg.Client(config)),
    });
  }

  /** One plain host: pg's own connect, its errors unchanged (no host list to report). */
  async #connectAlone(client: pg.Client): Promise<Connected> {
    this.#attempt = client;
    const parameters = captureParameterStatus(client);
    const swallow = () => {}; // pg reports a failed connect to the callback; a late 'error' must not escape meanwhile
    client.on('error', swallow);
    try {
      await client.connect();
    } finally {
      client.off('error', swallow);
    }
    return { client, index: 0, parameters };
  }

  /** Same forms (and types, from @types/pg's ClientBase) as pg.Client#query: (text), (text, values), (config), callbacks, and Submittables. */
  query<T extends pg.Submittable>(queryStream: T): T;
  query<R extends any[] = any[], I = any[]>(queryConfig: pg.QueryArrayConfig<I>, values?: pg.QueryConfigValues<I>): Promise<pg.QueryArrayResult<R>>;
  query<R extends pg.QueryResultRow = any, I = any>(queryConfig: pg.QueryConfig<I>): Promise<pg.QueryResult<R>>;
  query<R extends pg.QueryResultRow = any, I = any[]>(queryTextOrConfig: string | pg.QueryConfig<I>, values?: pg.QueryConfigValues<I>): Promise<pg.QueryResult<R>>;
  query<R extends any[] = any[], I = any[]>(queryConfig: pg.QueryArrayConfig<I>, callback: (err: Error, result: pg.QueryArrayResult<R>) => void): void;
  query<R extends pg.QueryResultRow = any, I = any[]>(queryTextOrConfig: string | pg.QueryConfig<I>, callback: (err: Error, result: pg.QueryResult<R>) => void): void;
  query<R extends pg.QueryResultRow = any, I = any[]>(queryText: string, values: pg.QueryConfigValues<I>, callback: (err: Error, result: pg.QueryResult<R>) => void): void;
  query(...args: unknown[]): any {
    const inner = this.#inner;
    if (!inner && !this.#ended) return this.#queueUntilConnected(args);
    if (!inner || this.#ended) {
      const err = new FailoverError('CONNECTION_LOST', this.#ended ? 'Client was closed and is not queryable' : 'Client is not connected: call connect() first');
      const cb = args.find((a) => typeof a === 'function') as Callback<unknown> | undefined;
      if (cb) {
        process.nextTick(() => cb(err));
        return undefined;
      }
      const first = args[0] as { submit?: unknown; handleError?: (e: Error) => void } | undefined;
      if (first && typeof first.submit === 'function') {
        process.nextTick(() => first.handleError?.(err));
        return first;
      }
      return rejectedOf(this.#Promise, err);
    }
    return (inner.query as (...a: unknown[]) => unknown)(...args);
  }

  /**
   * Like pg.Client, a query issued before the session exists (before or
   * during connect()) waits for it, in order, and fails with the connect
   * error if there is none (or a CONNECTION_LOST if the client is ended first).
   * Same return value as the call would have had: the Submittable, undefined
   * with a callback, else a promise.
   */
  #queueUntilConnected(args: unknown[]): unknown {
    const connecting = this.#gate.promise;
    this.#queued++;
    void connecting.finally(() => this.#queued--).catch(() => {});
    const dispatch = () => (this.#inner!.query as (...a: unknown[]) => unknown)(...args);
    const cb = args.find((a) => typeof a === 'function') as Callback<unknown> | undefined;
    const first = args[0] as { submit?: unknown; handleError?: (e: Error) => void; callback?: Callback<unknown> } | undefined;
    if (first && typeof first.submit === 'function') {
      connecting.then(dispatch, (err: Error) => {
        if (typeof first.callback === 'function') first.callback(err);
        else first.handleError?.(err);
      });
      return first;
    }
    if (cb) {
      connecting.then(dispatch, (err: Error) => cb(err));
      return undefined;
    }
    return asPromiseOf(this.#Promise, connecting.then(dispatch) as Promise<unknown>);
  }

  /** Ends the session. Callback or promise, like pg. */
  end(): Promise<void>;
  end(callback: (err?: Error) => void): void;
  end(callback?: (err?: Error) => void): Promise<void> | void {
    if (!this.#connecting && !this.#inner && !this.#ended) {
      // Like pg: end() on a client that never connected is a no-op (connect() still works after it).
      if (!callback) return asPromiseOf(this.#Promise, Promise.resolve());
      callback();
      return;
    }
    this.#ended = true;
    const p = (async () => {
      // Connected: end the session now, in this tick, as pg.Client#end does (a query written just before is
      // then discarded with the socket, not left running on the server).
      if (this.#inner) return this.#inner.end();
      if (this.#connecting && !this.#inner && this.#queued > 0 && (this.options as { pipeline?: boolean }).pipeline) {
        // Like pg in pipeline mode: queries already queued complete first, then the session ends.
        await this.#gate.promise.catch(() => {});
        await new Promise((r) => setImmediate(r));
      } else if (this.#connecting && !this.#inner) {
        // Like pg.Client#end during connect: abort the attempt in flight.
        this.#abortConnect = true;
        await this.#attempt?.end().catch(() => {});
      }
      if (this.#connecting) await this.#connecting.catch(() => {});
      const inner = this.#inner as pg.Client | undefined; // set meanwhile if the attempt won
      if (inner) await inner.end();
      else {
        // A failed connect (one plain host): pg's end() on that client closes what is left of its socket.
        await this.#alone?.end().catch(() => {});
        this.emit('end');
      }
    })();
    if (!callback) return asPromiseOf(this.#Promise, p);
    p.then(() => callback(), (e) => callback(e));
  }

  escapeIdentifier(str: string): string {
    return pg.escapeIdentifier(str);
  }
  escapeLiteral(str: string): string {
    return pg.escapeLiteral(str);
  }
  /** Like pg.Client#setTypeParser; applies to the session this client connects (set it before connect()). */
  setTypeParser(oid: number, parseFn: (value: string) => unknown): void;
  setTypeParser(oid: number, format: 'text' | 'binary', parseFn: (value: any) => unknown): void;
  setTypeParser(...args: unknown[]): void {
    (this.#types.setTypeParser as (...a: unknown[]) => void)(...args);
  }
  getTypeParser(oid: number, format?: 'text' | 'binary'): unknown {
    return (this.#types.getTypeParser as (...a: unknown[]) => unknown)(oid, format);
  }
  ref(): void {
    (this.#inner as unknown as { ref?: () => void } | undefined)?.ref?.();
  }
  unref(): void {
    (this.#inner as unknown as { unref?: () => void } | undefined)?.unref?.();
  }
  /** Whether a session is established and usable (pg-native's name; pg-pool calls it). */
  isConnected(): boolean {
    return this._connected && !this._ending;
  }
  getTransactionStatus(): pg.TransactionStatus {
    return (this.#inner as unknown as { getTransactionStatus?: () => pg.TransactionStatus })?.getTransactionStatus?.() ?? null;
  }

  /** The host this client connected to (before connecting: the first candidate), like pg.Client#host. */
  get host(): string {
    const live = this.#live;
    return (live ? live.host : planFor(this.options).hosts[0]?.host) ?? (pg.defaults.host as string);
  }
  get port(): number {
    const live = this.#live;
    return (live ? live.port : planFor(this.options).hosts[0]?.port) ?? (pg.defaults.port as number);
  }
  get user(): string | undefined {
    const live = this.#live;
    return live ? live.user : planFor(this.options).configFor(0).user;
  }
  get database(): string | undefined {
    const live = this.#live;
    return live ? live.database : planFor(this.options).configFor(0).database;
  }
  /** Like pg.Client#password (not enumerable: a getter, never an own property). */
  get password(): string | undefined {
    // pg's own value may be null (no password) or a function (pg calls it at connect); @types/pg says string.
    const live = this.#live as unknown as { password?: string } | undefined;
    return live ? live.password : (planFor(this.options).configFor(0).password as string | undefined);
  }
  /** The session once connected, or the one this client will connect (one plain host). */
  get #live(): pg.Client | undefined {
    return this.#connected ? this.#inner : this.#alone;
  }
  get processID(): number | null {
    return (this.#inner as unknown as { processID: number | null } | undefined)?.processID ?? null;
  }
  get secretKey(): number | null {
    return (this.#inner as unknown as { secretKey: number | null } | undefined)?.secretKey ?? null;
  }
  /** pg internals some libraries read (pg-pool, pg-cursor …). */
  get connection(): pg.Connection {
    return (this.#live as unknown as { connection?: pg.Connection })?.connection as pg.Connection;
  }
  /** pg's SCRAM exchange state while authenticating (tools read its `mechanism`). */
  get saslSession(): unknown {
    return (this.#live as unknown as { saslSession?: unknown })?.saslSession;
  }
  /** pg.Client's: the TLS settings of the session (false without TLS; before connecting: of the first candidate host). */
  get ssl(): boolean {
    const live = this.#live as unknown as { ssl?: boolean } | undefined;
    return (live ? live.ssl : (planFor(this.options).configFor(0).ssl ?? false)) as boolean;
  }
  /** pg.Client's `pipeline` flag, as configured. */
  get pipeline(): boolean {
    return Boolean((this.options as { pipeline?: boolean }).pipeline);
  }
  // Declared in @types/pg's ClientBase, absent from pg 8 at runtime (from pg.Client too): declared
  // here only so that a pg-failover Client is assignable where a pg.Client is expected.
  declare copyFrom: pg.ClientBase['copyFrom'];
  declare copyTo: pg.ClientBase['copyTo'];
  declare pauseDrain: pg.ClientBase['pauseDrain'];
  declare resumeDrain: pg.ClientBase['resumeDrain'];
  get connectionParameters(): unknown {
    return (this.#live as unknown as { connectionParameters?: unknown })?.connectionParameters;
  }
  get _ending(): boolean {
    return this.#ended || Boolean((this.#inner as unknown as { _ending?: boolean })?._ending);
  }
  get _connected(): boolean {
    return Boolean((this.#inner as unknown as { _connected?: boolean })?._connected);
  }
  get _queryable(): boolean {
    return Boolean((this.#inner as unknown as { _queryable?: boolean })?._queryable);
  }
  /** ParameterStatus values the server reported (server_version, in_hot_standby …). */
  get serverParameters(): ReadonlyMap<string, string> {
    return this.#connected?.parameters ?? new Map();
  }
  /** The underlying pg.Client once connected. */
  get session(): pg.Client | undefined {
    return this.#inner;
  }
}

/** A promise opened or failed once, from outside; never an unhandled rejection by itself. */
function gate(): { promise: Promise<void>; open: () => void; fail: (e: Error) => void } {
  let open!: () => void;
  let fail!: (e: Error) => void;
  const promise = new Promise<void>((resolve, reject) => {
    open = resolve;
    fail = reject;
  });
  promise.catch(() => {});
  return { promise, open, fail };
}
