/**
 * One pg Pool per node, keyed by host:port. Created on first use, retired
 * (idle sessions closed at once, busy ones when released) when a node goes
 * down or stops being what it was. Errors on idle sessions are caught here:
 * during a failover every idle session fails at once, and none of that may
 * become an unhandled 'error' event.
 */
import pg from 'pg';
import createDebug from 'debug';

const debug = createDebug('pg-failover:pool');

export interface NodePoolsOptions {
  /** The pg.Pool config for a node (host/port set by the caller). */
  configFor(node: { host: string; port: number }): pg.PoolConfig;
  /** Called for every pg-pool event, to re-emit on the public Pool. */
  forward(event: 'connect' | 'acquire' | 'release' | 'remove' | 'error', node: string, ...args: unknown[]): void;
}

export interface NodePool {
  readonly key: string;
  readonly host: string;
  readonly port: number;
  readonly pool: pg.Pool;
  /** Queries running or waiting on this node through us (and checked-out clients bound to it). */
  busy: number;
  /** Statements that ran here (pool.query and checked-out clients), by what they were routed as, and those that failed. */
  reads: number;
  writes: number;
  errors: number;
  /**
   * Sessions being opened for statements to come ({@link NodePools.replenish}, {@link NodePools.openMore}).
   * A statement about to ask for a session takes one of those ({@link sessionOf}) rather than opening
   * another one beside it: on a server slow to start sessions, a second connect is no faster than the first.
   */
  opening?: Opening | undefined;
}

/** A batch of sessions being opened to one node. */
export interface Opening {
  /** When the batch began: a session opened since is one of its own (or as new). */
  readonly since: number;
  /** Settles when every session of the batch is in (or failed). */
  all: Promise<void>;
  /** Settles when the first new session of the batch is in and idle, or when the batch settles. */
  readonly firstIn: Promise<void>;
  oneIn(): void;
}

/** When each session was opened (pg-pool's 'connect'). */
const bornAt = new WeakMap<object, number>();

/**
 * A session of `np` for a statement. While a batch is being opened there (a revival, the stall
 * watch's replacements, sessions ahead): the batch's first session that is in, not the whole batch,
 * which under a reconnect storm ends a few hundred ms after its first session could serve. Never an
 * idle session older than the batch while it opens: after a restart, that may be a dead session
 * whose end has not been read yet, and a write sent on it would be in doubt. Then it waits for the
 * batch, as before.
 */
export function sessionOf(np: NodePool): Promise<pg.PoolClient> {
  // The common case (nothing being opened) adds no async step to the statement.
  return np.opening ? sessionOfBatch(np, np.opening) : np.pool.connect();
}

async function sessionOfBatch(np: NodePool, batch: Opening): Promise<pg.PoolClient> {
  await batch.firstIn;
  if (np.opening === batch && np.pool.idleCount > 0) {
    // pg-pool hands out its most recently released idle session: the one just in, unless another took it.
    const client = await np.pool.connect();
    if ((bornAt.get(client) ?? 0) >= batch.since) return client;
    client.release();
  }
  await batch.all;
  return np.pool.connect();
}

export class NodePools {
  readonly #map = new Map<string, NodePool>();
  readonly #retiring = new Set<Promise<void>>();
  constructor(private readonly options: NodePoolsOptions) {}

  get(key: string): NodePool {
    let np = this.#map.get(key);
    if (!np) {
      const { host, port } = splitKey(key);
      const pool = new pg.Pool({ ...this.options.configFor({ host, port }), host, port });
      for (const event of ['connect', 'acquire', 'release', 'remove'] as const) {
        pool.on(event, (...args: unknown[]) => this.options.forward(event, key, ...args));
      }
      pool.on('connect', (client: pg.PoolClient) => {
        bornAt.set(client, Date.now());
        // A checked-out session that dies emits 'error' on the client; the query in flight gets the error.
        client.on('error', (err: Error) => debug('session on %s failed: %s', key, err.message));
      });
      pool.on('error', (err: Error, client: pg.PoolClient) => {
        debug('idle session on %s failed: %s', key, err.message);
        this.options.forward('error', key, err, client);
      });
      np = { key, host, port, pool, busy: 0, reads: 0, writes: 0, errors: 0 };
      this.#map.set(key, np);
    }
    return np;
  }

  /** The node's pool if one exists (never creates one). */
  peek(key: string): NodePool | undefined {
    return this.#map.get(key);
  }

  has(key: string): boolean {
    return this.#map.has(key);
  }

  keys(): IterableIterator<string> {
    return this.#map.keys();
  }

  values(): IterableIterator<NodePool> {
    return this.#map.values();
  }

  /**
   * Stops handing out sessions to this node; idle ones close now, busy ones
   * on release — or at once with `abortBusy` (the topology says the node is
   * gone, hung, or no longer what it was): their sockets are destroyed so a
   * statement stuck on a frozen server fails now (reads are retried, writes
   * reported as TRANSACTION_RESOLUTION_UNKNOWN) instead of hanging.
   */
  retire(key: string, why: string, options: { abortBusy?: boolean } = {}): void {
    const np = this.#map.get(key);
    if (!np) return;
    this.#map.delete(key);
    debug('retiring sessions to %s: %s%s', key, why, options.abortBusy ? ' (aborting busy sessions)' : '');
    if (options.abortBusy) {
      // pg-pool keeps every session in `_clients`; a destroyed socket fails the query in flight with a connection error.
      const clients = (np.pool as unknown as { _clients?: Array<{ connection?: { stream?: { destroy(): void } } }> })._clients ?? [];
      for (const c of clients) c.connection?.stream?.destroy();
    }
    const p = np.pool.end().catch(() => {});
    this.#retiring.add(p);
    void p.finally(() => this.#retiring.delete(p));
  }

  /**
   * Opens up to `n` sessions to a node (within its pool's `max`) to replace sessions that are about to
   * be ended while the node works (the stall watch's), so that their statements, run again, find one
   * open instead of each opening its own after the loss. Until they are in, `opening` says so.
   * A failure is only logged.
   */
  replenish(key: string, n: number): void {
    const np = this.#map.get(key);
    if (!np) return;
    const pool = np.pool as pg.Pool & { options?: { max?: number } };
    const count = Math.min(n, (pool.options?.max ?? 10) - pool.totalCount);
    if (count <= 0) return;
    debug('opening %d session(s) to %s to replace stuck ones', count, key);
    for (let i = 0; i < count; i++) {
      this.#openOne(np).catch((err: Error) => debug('replacing a session to %s failed: %s', key, err.message));
    }
  }

  /**
   * Opens `n` more sessions to a node and leaves them idle (statements wait for them meanwhile:
   * `opening`); rejects when one cannot be opened. pg.Pool hands out an idle session before it
   * opens one, so the idle ones are asked for too, in the same tick, and given back at once.
   */
  async openMore(key: string, n: number): Promise<void> {
    const np = this.get(key);
    const asks = n + np.pool.idleCount;
    await Promise.all(Array.from({ length: asks }, () => this.#openOne(np)));
  }

  /**
   * Asks the node's pool for one session and gives it back, as part of the node's `opening` batch
   * (started now if none is open). A new session that is in tells the batch's `firstIn`.
   */
  #openOne(np: NodePool): Promise<void> {
    let batch = np.opening;
    if (!batch) {
      let oneIn!: () => void;
      const firstIn = new Promise<void>((resolve) => (oneIn = resolve));
      batch = { since: Date.now(), all: Promise.resolve(), firstIn, oneIn };
      np.opening = batch;
    }
    const b = batch;
    const p = np.pool.connect().then((c) => {
      const fresh = (bornAt.get(c) ?? 0) >= b.since;
      c.release();
      if (fresh) b.oneIn();
    });
    const all = Promise.all([b.all, p.catch(() => {})]).then(() => {});
    b.all = all;
    void all.then(() => {
      if (b.all !== all) return;
      if (np.opening === b) np.opening = undefined;
      b.oneIn();
    });
    return p;
  }

  /** Opens sessions to a node until it has `want` (warm-up; a failure is only logged). */
  warm(key: string, want: number): void {
    const np = this.get(key);
    for (let i = np.pool.totalCount; i < want; i++) {
      np.pool.connect().then(
        (c) => c.release(),
        (err: Error) => debug('warming %s failed: %s', key, err.message),
      );
    }
  }

  /** Ends every pool; resolves when all sessions are closed. */
  async end(): Promise<void> {
    const ends = [...this.#map.values()].map((np) => np.pool.end().catch(() => {}));
    this.#map.clear();
    await Promise.all([...ends, ...this.#retiring]);
  }

  sum(f: (p: pg.Pool) => number): number {
    let n = 0;
    for (const np of this.#map.values()) n += f(np.pool);
    return n;
  }
}

export function splitKey(key: string): { host: string; port: number } {
  const i = key.lastIndexOf(':');
  return { host: key.slice(0, i), port: Number(key.slice(i + 1)) };
}
