/**
 * The stall watch (issue 19): notices a primary session stuck in a dead network path and frees
 * it as soon as the path works again, without ever ending a statement that is really running.
 *
 * A statement cut off in transit (its request, or its answer, lost with a partition) is not
 * lost for TCP: the kernel retransmits it with an exponential backoff (RTO 0.2, 0.4, 0.8, 1.6,
 * 3.2 s …), so after the path heals the session still waits, seconds at times, for the next
 * retransmission. A per-statement timeout would end it sooner, but would kill long statements
 * too. The watch asks the server instead:
 *
 * 1. A statement has had no answer (no byte read on its socket) for `stallCheckMillis`.
 * 2. A short side session to the same node (connect timeout bounded): while it cannot connect, the
 *    path is still down; nothing to do yet. A new attempt starts every {@link RETRY_MILLIS} while
 *    the earlier ones still wait for their SYN's answer (a few in flight at most), so the heal is
 *    seen within ~RETRY_MILLIS of happening, not a whole connect timeout later. When the TCP
 *    connection opened but the server never answered — frozen, swamped — the next attempt waits
 *    a pause that doubles from 0.5 to 5 s, so attempts do not pile up in its listen queue.
 * 3. It connects: the heal is proven. Every statement of that node that has had no answer since
 *    before the path was last seen down is looked at with it, not only those due (one side session
 *    for all of them), and the node's pool is told (`reachable`), so it opens the sessions that
 *    will replace the stuck ones while they are being ended. One statement looks at the sessions'
 *    backends (pg.Client's `processID`) in pg_stat_activity and ends, there and then, those not working:
 *    - `active` and not waiting on the client: running our statement, or waiting on a lock.
 *      Left alone (looked at again later, less and less often).
 *    - `idle`, `idle in transaction (…)`, gone, or `active` but waiting to read from or write to
 *      the client (ClientRead / ClientWrite): the server is not working on the statement and
 *      the path to the node works, so the request or its answer is in transit, in the backoff.
 * 4. Those are ended (pg_terminate_backend; a role may end its own sessions), waited
 *    for, their goodbye (FATAL 57P01) given a moment to arrive where that direction works, and
 *    only then the stuck sockets destroyed: a request the client's kernel still retransmits after
 *    that meets a closed socket on the server, never a backend that runs it. The statement fails
 *    as a lost connection (or with that FATAL), and the existing handling (retry-policy.ts,
 *    resolvable-write.ts, outcome.ts) decides what the caller is told — e.g. a resolvable write
 *    whose transaction-id BEGIN had not answered was never sent, and runs again. (The FATAL
 *    is late when the server's side is in backoff too — an answer sent just before the cut, its
 *    ACK lost — and then the socket is destroyed without it: the caller gets what a lost
 *    connection means, e.g. TRANSACTION_RESOLUTION_UNKNOWN for a plain write.)
 *
 * What this proves, and what it does not: only that the backend was not executing the statement
 * at the look and that the node is reachable, i.e. the statement's bytes are stuck in transit.
 * It does NOT prove whether the statement ran: an idle backend may have run and committed it
 * (its answer stuck on the way back) or never received it (the request stuck on the way out),
 * and the two look alike in pg_stat_activity (the last query text may equal ours; comparing
 * `state_change` with our send time compares two machines' clocks; and a request arriving between
 * the look and the termination could still run). So the watch itself claims nothing; what the
 * caller is told comes from what did reach the client: a read (outside a transaction) is
 * retried, a statement inside a transaction is TRANSACTION_ROLLED_BACK (the terminated backend
 * rolled it back; a lost COMMIT is resolved by its xid), a resolvable write is resolved by its
 * transaction id, or run again when its id never came back (then it was not sent), and anything else stays
 * TRANSACTION_RESOLUTION_UNKNOWN (never replayed).
 *
 * A statement the watch ended this way failed on a node it had just reached: the statement is marked
 * (`reached`) so that the Pool does not take the node for down (no down mark, no waiting for it to
 * be revived: its next statement goes straight to a session there).
 *
 * Bounded: per node one check at a time, with at most (connect timeout / RETRY_MILLIS) side connection
 * attempts in flight while the path is down (a SYN waiting each; one connected side session); one unref'd timer for the whole pool,
 * running only while statements are outstanding; a statement that answers in time costs a Set
 * insert and delete.
 */
import pg from 'pg';
import createDebug from 'debug';

const debug = createDebug('pg-failover:pool');

/** While a side session cannot connect (the path is still down): a new attempt this often. */
export const RETRY_MILLIS = 100;
/**
 * A side session whose TCP connection opened but whose server never answered (a frozen or swamped
 * server, not a cut path): the next attempt waits this long, doubling up to {@link BUSY_RETRY_MAX_MILLIS},
 * so attempts do not pile up in a frozen postmaster's listen queue.
 */
const BUSY_RETRY_MILLIS = 500;
const BUSY_RETRY_MAX_MILLIS = 5000;
/** The watch's timer never runs more often than this. */
const TICK_MIN_MILLIS = 25;
/**
 * Bounds on how long a side attempt waits for the answer to its SYN (a quarter of stallCheckMillis in between). Short on
 * purpose: an attempt whose SYN the cut swallowed completes no sooner than the kernel's SYN
 * retransmission (1 s), so a fresh attempt notices the heal sooner than a patient one.
 */
const CONNECT_MIN_MILLIS = 250;
const CONNECT_MAX_MILLIS = 2000;
/**
 * A side session whose TCP connection opened gets at least this long to start (its server fork, the
 * authentication): right after a heal every client reconnects at once and a server answers slowly;
 * a start that short connect timeout cut off was taken for a frozen server, and the watch backed off
 * for 0.5 s while its statements stayed stuck (measured in the campaign: the side session in at +0.8 s).
 */
const STARTUP_MIN_MILLIS = 1000;
/** Bound on each statement of the side session. */
const SIDE_QUERY_MILLIS = 2000;
/** How long the side session waits for an ended backend to be gone before it destroys the socket anyway. */
const GONE_WAIT_MILLIS = 1000;
/** Longest wait for an ended backend's goodbye to reach the stuck session before its socket is destroyed. */
const GOODBYE_MAX_MILLIS = 500;
/** A statement found running is looked at again after a doubling pause, at most this long. */
const RUNNING_RECHECK_MAX_MILLIS = 60_000;

/** What the watch needs of a session: pg.Client's backend pid and its socket. */
interface WatchedClient {
  processID?: number | null;
  connection?: { stream?: { bytesRead?: number; destroyed?: boolean; destroy(): void } };
}

/** One outstanding statement. */
export interface StallEntry {
  readonly node: string;
  readonly client: WatchedClient;
  /** When it was sent (ms since epoch). */
  readonly sentAt: number;
  /** Socket bytes read when last seen (an answer in progress is not a stall). */
  bytes: number;
  /** When to look at it next (ms since epoch). */
  lookAt: number;
  /** Pause before the next look after it was found running. */
  backoff: number;
  done: boolean;
  /** The watch's side session reached the node while this statement was stuck, and ended its backend: the node works. */
  reached: boolean;
}

export interface StallWatchOptions {
  stallCheckMillis: number;
  /** The pg config of a node's sessions (host, port, user, password, TLS …; `Client` is honoured). */
  configFor(node: string): pg.PoolConfig;
  /**
   * A side session reached `node` while `stuck` statements there had no answer: the path works again
   * and those sessions are about to be ended (or found working). The Pool opens their replacements now.
   */
  reachable?(node: string, stuck: number): void;
}

/** What the watch did, for tests and stats. */
export interface StallWatchStats {
  /** Side connection attempts. */
  checks: number;
  /** Side connection attempts that did not connect (the path still down, or a server that did not start the session). */
  unreachable: number;
  /** Statements found running (left alone). */
  running: number;
  /** Stuck sessions ended (backend terminated, socket destroyed). */
  ended: number;
}

type Row = { pid: number; ended: boolean };

/** What the side connection attempts came to. */
type Reach = { side: pg.Client } | { side?: undefined; busy: boolean };

export class StallWatch {
  readonly stats: StallWatchStats = { checks: 0, unreachable: 0, running: 0, ended: 0 };
  readonly #millis: number;
  readonly #configFor: (node: string) => pg.PoolConfig;
  readonly #reachable: ((node: string, stuck: number) => void) | undefined;
  /** Per node: when the last side connection attempt that found the path down started. */
  readonly #downAt = new Map<string, number>();
  readonly #entries = new Set<StallEntry>();
  /** Per node: the pause after the last side session that reached a server that did not answer. */
  readonly #busyPause = new Map<string, number>();
  /** Nodes with a side session open (at most one each). */
  readonly #checking = new Map<string, Promise<void>>();
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(o: StallWatchOptions) {
    this.#millis = o.stallCheckMillis;
    this.#configFor = o.configFor;
    this.#reachable = o.reachable;
  }

  /** Starts watching a statement just sent (or about to be sent) on `client`; call {@link end} once it settles. */
  start(node: string, client: unknown): StallEntry {
    const c = client as WatchedClient;
    const now = Date.now();
    const e: StallEntry = { node, client: c, sentAt: now, bytes: c.connection?.stream?.bytesRead ?? 0, lookAt: now + this.#millis, backoff: this.#millis, done: false, reached: false };
    this.#entries.add(e);
    if (!this.#timer && !this.#closed) {
      this.#timer = setInterval(() => this.#tick(), Math.max(TICK_MIN_MILLIS, Math.min(RETRY_MILLIS / 2, this.#millis / 4)));
      this.#timer.unref();
    }
    return e;
  }

  /** The statement settled (answered or failed). */
  end(e: StallEntry | undefined): void {
    if (!e) return;
    e.done = true;
    this.#entries.delete(e);
  }

  /** Stops the timer; side sessions under way finish on their own (bounded). */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#entries.clear();
    await Promise.allSettled([...this.#checking.values()]);
  }

  #tick(): void {
    if (!this.#entries.size) {
      clearInterval(this.#timer);
      this.#timer = undefined;
      return;
    }
    const now = Date.now();
    let due: Map<string, StallEntry[]> | undefined;
    for (const e of this.#entries) {
      if (now < e.lookAt || this.#checking.has(e.node)) continue;
      const bytes = e.client.connection?.stream?.bytesRead ?? 0;
      if (bytes !== e.bytes) {
        // Answer bytes are arriving: not stalled (a long result being read).
        e.bytes = bytes;
        e.lookAt = now + this.#millis;
        continue;
      }
      if (!watchable(e)) continue;
      (due ??= new Map()).set(e.node, [...(due.get(e.node) ?? []), e]);
    }
    if (!due) return;
    for (const [node, entries] of due) {
      const p = this.#check(node, entries)
        .catch((err: Error) => debug('stall watch on %s: %s', node, err.message))
        .finally(() => this.#checking.delete(node));
      this.#checking.set(node, p);
    }
  }

  /** One side session to `node`: look at the stalled sessions' backends, end the stuck ones. */
  async #check(node: string, entries: StallEntry[]): Promise<void> {
    const reach = await this.#reach(node, () => !this.#closed && entries.some((e) => !e.done));
    if (!reach.side) {
      // A cut path swallows the SYN: the attempts went on until the statements settled (or the pool closed).
      // A server that took the connection but never answered is frozen or swamped: back off.
      let pause = RETRY_MILLIS;
      if (reach.busy) {
        pause = this.#busyPause.get(node) ?? BUSY_RETRY_MILLIS;
        this.#busyPause.set(node, Math.min(BUSY_RETRY_MAX_MILLIS, pause * 2));
      }
      const next = Date.now() + pause;
      for (const e of entries) e.lookAt = next;
      return;
    }
    const side = reach.side;
    this.#busyPause.delete(node);
    try {
      // The heal is proven: every statement of this node without an answer since before the path was last seen down is stuck the same way.
      const downAt = this.#downAt.get(node);
      this.#downAt.delete(node);
      const live = entries.filter((e) => !e.done);
      if (downAt !== undefined) {
        for (const e of this.#entries) {
          if (e.node !== node || e.done || e.sentAt > downAt || live.includes(e) || !watchable(e)) continue;
          if ((e.client.connection?.stream?.bytesRead ?? 0) !== e.bytes) continue;
          live.push(e);
        }
      }
      if (!live.length) return;
      this.#reachable?.(node, live.length);
      // Marked before the statement is sent: an ended backend's FATAL can reach its session before the answer reaches us.
      for (const e of live) e.reached = true;
      // One statement looks and ends: a backend is ended only if, as it is ended, it is still our session's and not
      // working. The conditions are fenced off from the termination: a qual of the form f(a.pid) would be pushed
      // down to pg_stat_activity's scan and run for every backend (the view is flattened into the join).
      const asked = Date.now();
      const { rows } = await side
        .query<Row>(
          `WITH c AS MATERIALIZED (SELECT a.pid, ${MINE_SQL} AND (${STUCK_SQL}) AS stuck FROM ${WATCHED_SQL})
           SELECT pid, CASE WHEN stuck THEN pg_catalog.pg_terminate_backend(pid) ELSE false END AS ended FROM c`,
          args(live),
        )
        .catch((err: unknown) => {
          for (const e of live) e.reached = false; // nothing proven about those sessions
          throw err;
        });
      const rtt = Date.now() - asked;
      const byPid = new Map(rows.map((r) => [r.pid, r]));
      const stuck: StallEntry[] = [];
      const now = Date.now();
      for (const e of live) {
        const r = byPid.get(e.client.processID as number);
        if (!r || r.ended) {
          stuck.push(e); // gone already, or ended now
        } else {
          e.reached = false;
          // Running our statement, or waiting on a lock (or a state we do not read, or a backend we cannot tell is ours): never ended by the watch.
          this.stats.running++;
          e.backoff = Math.min(RUNNING_RECHECK_MAX_MILLIS, e.backoff * 2);
          e.lookAt = now + e.backoff;
        }
      }
      const endedPids = rows.filter((r) => r.ended).map((r) => r.pid);
      if (endedPids.length) {
        await this.#gone(side, endedPids);
        // The ended backends' goodbye (FATAL 57P01, then FIN) is on its way where that direction works: let it
        // arrive, so the statement fails with the server's word (which can prove a resolvable write never ran).
        await settledWithin(stuck, Math.min(GOODBYE_MAX_MILLIS, 2 * rtt + 20));
      }
      for (const e of stuck) {
        this.stats.ended++;
        if (e.done) continue; // failed already (the server's FATAL for the ended backend came through)
        debug('stall watch: session %d on %s: no answer, its backend not working on it (%s): ended', e.client.processID, node, byPid.has(e.client.processID as number) ? 'ended' : 'gone');
        e.client.connection?.stream?.destroy();
      }
    } finally {
      await side.end().catch(() => {});
    }
  }

  /**
   * Side connection attempts to `node` until one connects (returned), one reaches a server that does not
   * answer (busy), or `wanted()` turns false. While the path is down an attempt starts every RETRY_MILLIS
   * (as many in flight as fit in one connect timeout), none while an attempt's TCP connection is open
   * (the server is answering: it gets its whole connect timeout).
   */
  async #reach(node: string, wanted: () => boolean): Promise<Reach> {
    const config = this.#configFor(node);
    const Client = (config.Client as typeof pg.Client | undefined) ?? pg.Client;
    // The SYN's answer is waited for this long (then the path counts as down); the session's start, longer.
    const connectTimeout = Math.min(CONNECT_MAX_MILLIS, Math.max(CONNECT_MIN_MILLIS, this.#millis / 4));
    const startupTimeout = Math.min(CONNECT_MAX_MILLIS, Math.max(STARTUP_MIN_MILLIS, 4 * connectTimeout));
    const maxAttempts = Math.ceil(connectTimeout / RETRY_MILLIS);
    type Stream = { once?(ev: string, f: () => void): void; destroy?(err?: Error): void };
    type Attempt = { side: pg.Client; tcpUp: boolean; startedAt: number };
    const pending = new Set<Attempt>();
    return new Promise<Reach>((resolve) => {
      let over = false;
      let timer: NodeJS.Timeout | undefined;
      const finish = (r: Reach) => {
        if (over) return;
        over = true;
        if (timer) clearTimeout(timer);
        for (const a of pending) if (a.side !== r.side) void a.side.end().catch(() => {});
        resolve(r);
      };
      const launch = () => {
        timer = undefined;
        if (over) return;
        if (!wanted()) {
          if (!pending.size) finish({ busy: false });
          return;
        }
        if (pending.size < maxAttempts && ![...pending].some((a) => a.tcpUp)) {
          this.stats.checks++;
          const side = new Client({ ...config, connectionTimeoutMillis: startupTimeout, query_timeout: SIDE_QUERY_MILLIS, application_name: 'pg-failover stall watch' } as pg.ClientConfig);
          side.on('error', () => {});
          const a: Attempt = { side, tcpUp: false, startedAt: Date.now() };
          pending.add(a);
          const stream = (side as unknown as { connection?: { stream?: Stream } }).connection?.stream;
          stream?.once?.('connect', () => (a.tcpUp = true));
          // No answer to the SYN within connectTimeout: the path is down (the kernel's next SYN is a second away).
          const synTimer = setTimeout(() => {
            if (!a.tcpUp) stream?.destroy?.(new Error('timeout expired'));
          }, connectTimeout);
          synTimer.unref();
          side.connect().then(
            () => {
              clearTimeout(synTimer);
              pending.delete(a);
              if (over) void side.end().catch(() => {});
              else finish({ side });
            },
            (err: Error) => {
              clearTimeout(synTimer);
              pending.delete(a);
              void side.end().catch(() => {});
              if (over) return;
              this.stats.unreachable++;
              if (a.tcpUp) return finish({ busy: true });
              // The path is still down (or the node is): the SYN went unanswered.
              this.#downAt.set(node, Math.max(this.#downAt.get(node) ?? 0, a.startedAt));
              debug('stall watch: %s unreachable (%s)', node, err.message);
              if (!pending.size && !timer) launch();
            },
          );
        }
        timer = setTimeout(launch, RETRY_MILLIS);
        timer.unref();
      };
      launch();
    });
  }

  /** Waits (bounded) until the ended backends have left pg_stat_activity. */
  async #gone(side: pg.Client, pids: number[]): Promise<void> {
    if (!pids.length) return;
    const until = Date.now() + GONE_WAIT_MILLIS;
    while (Date.now() < until) {
      const { rows } = await side.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_catalog.pg_stat_activity WHERE pid = ANY($1::int[])', [pids]);
      if (rows[0]?.n === 0) return;
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}

/** The watched backends ($1 pids) with how long ago each one's statement was sent ($2, ms). */
const WATCHED_SQL = 'unnest($1::int[], $2::int[]) AS w(pid, age) JOIN pg_catalog.pg_stat_activity a ON a.pid = w.pid';
/**
 * The pid is still our session's backend, not a later one that got the number again: same role and
 * database, a client backend, started before our statement was sent (`age` is a duration, set
 * against the server's own clock: no two clocks compared). Only a filter: it proves nothing about
 * the statement.
 */
const MINE_SQL = "(a.usename = current_user AND a.datname = current_database() AND a.backend_type = 'client backend' AND a.backend_start <= clock_timestamp() - w.age * interval '1 millisecond')";
/**
 * The backend is not working on a statement: idle (in a transaction or not), or `active` but
 * waiting on its client — ClientRead (the rest of an extended-protocol message has not arrived)
 * or ClientWrite (its answer is not leaving). Anything else — active on the CPU, on a lock, on
 * I/O, a `pg_sleep`; `disabled` (track_activities off); null (not visible to this role) — is
 * treated as working.
 */
const STUCK_SQL = "a.state IN ('idle', 'idle in transaction', 'idle in transaction (aborted)') OR (a.state = 'active' AND a.wait_event_type = 'Client')";

/** Resolves once every entry is done, or after `ms`. */
async function settledWithin(entries: readonly StallEntry[], ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (entries.some((e) => !e.done) && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
}

/** The query parameters for WATCHED_SQL. */
function args(entries: readonly StallEntry[]): [number[], number[]] {
  const now = Date.now();
  return [entries.map((e) => e.client.processID as number), entries.map((e) => Math.max(0, now - e.sentAt))];
}

/** The statement's session can be looked at: its backend pid is known and its socket not destroyed. */
function watchable(e: StallEntry): boolean {
  return typeof e.client.processID === 'number' && !e.client.connection?.stream?.destroyed;
}
