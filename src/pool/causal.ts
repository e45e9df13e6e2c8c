/**
 * Read-your-writes: a process never reads older data than it has written.
 *
 * Precise, not time-based: a read after writes needs a standby that has
 * replayed their WAL position. Two ways to get there:
 *
 * - Waiting on standbys (causalWaitMillis > 0, the default with readFrom
 *   'prefer-standby'): each write's position is read on its own session,
 *   pipelined with it (positions.ts), while this pool reads
 *   (noteWriteWithPosition), else one fetch is
 *   shared by the reads that need it (settle()); the read then goes to a
 *   standby, which is looked at once per standby for every read waiting
 *   (caughtUp()) and, when behind, waits on the server (pool.ts,
 *   standby-wait.ts).
 * - Otherwise (causalWaitMillis 0): after writes, one coalesced
 *   `pg_current_wal_lsn()` gives a position covering them; until it is known,
 *   reads go to the primary. While the pool only writes (no read for a
 *   second), writes share one position query per 50 ms; while writes stream
 *   in faster than a position can be used, a fetch waits for a pause in writes
 *   (up to 16 ms) or a pace (up to 256 ms). A standby serves a read once it is
 *   known to have replayed that far, from the topology source or a coalesced
 *   `pg_last_wal_replay_lsn()` poll that runs only while some standby is
 *   behind. With readFrom 'standby' a read after writes waits for their
 *   position (settle()).
 *
 * `token()` exports the position (opaque string) so another request or
 * process can ask for the same guarantee with `{ after: token }`.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { FailoverError } from '../errors';
import { formatLsn, parseLsn, type Lsn } from '../lsn';

/** `'lsn'` (default): precise; `'none'`: off; `{ windowMillis }`: reads go to the primary for that long after a write. */
export type ReadYourWrites = 'lsn' | 'none' | { windowMillis: number };

/** What a read must respect. */
export interface ReadRequirement {
  /** The primary must serve it (a write's position is not known yet, or inside the time window). */
  primaryOnly: boolean;
  /** A standby must have replayed at least this far (bigint LSN); with primaryOnly, a token's position (for readFrom 'standby'). */
  minLsn?: bigint;
  /**
   * This pool's last writes have no known position yet, and a standby may serve the read once
   * it is learnt (waiting on the standby): see {@link CausalTracker.settle}. Readers that cannot
   * wait on a standby treat it as primaryOnly.
   */
  pending?: boolean;
}

export interface CausalIo {
  /** `pg_current_wal_lsn()` on the current primary. */
  primaryLsn(): Promise<string>;
  /** `pg_last_wal_replay_lsn()` on a standby (null when it is not in recovery). */
  replayLsn(key: string): Promise<string | null>;
  /** The standbys (host:port) reads may go to now. */
  standbys(): string[];
  /** The timeline `primary` (host:port) writes on (`pg_walfile_name(pg_current_wal_lsn())`'s first part). */
  primaryTimeline(primary: string): Promise<number>;
  /**
   * Whether standby `key` is known to follow timeline `tli` (the topology source's word on its
   * timeline, ≥ tli). No word on it: false when the source tells other members' timelines (its
   * status is unknown), true from a source that never tells any (nothing known against it).
   */
  standbyFollows(key: string, tli: number): boolean;
}

const TOKEN_PREFIX = 'pgfo1:';
/** Writes completing within this window share one WAL-position query. */
const COALESCE_MILLIS = 2;
/**
 * While this pool only writes (no read for this long), writes share one
 * position query per WRITE_ONLY_COALESCE_MILLIS instead: a write-only stream
 * costs ~20 queries a second, and a read after a pause still finds the
 * position known and standbys' replay polled.
 */
const EAGER_AFTER_READ_MILLIS = 1000;
const WRITE_ONLY_COALESCE_MILLIS = 50;
/**
 * Positions that no read could use on a standby before the next write (writes arrive
 * faster than a fetch and replay complete) are stale on arrival. After such a one, a
 * fetch waits, while writes keep streaming in, for a pause in writes or for a pace,
 * both doubling per unused position from COALESCE_MILLIS up to MAX_QUIET_MILLIS and
 * MAX_PACE_MILLIS; a position a standby read used resets both. Reads stay on the
 * primary either way under a continuous write stream; this stops paying a query for
 * every few writes.
 */
const MAX_PACE_MILLIS = 256;
/** The pause in writes that ends such a wait grows the same way, up to this (a 2 ms gap is common in a busy stream). */
const MAX_QUIET_MILLIS = 16;
const ANY_NODE: ReadRequirement = Object.freeze({ primaryOnly: false });
const PRIMARY_ONLY: ReadRequirement = Object.freeze({ primaryOnly: true });
const PENDING: ReadRequirement = Object.freeze({ primaryOnly: false, pending: true });

/** Decodes a token from `causalToken()`; a clear INVALID_OPTION error otherwise. */
export function parseCausalToken(token: string): bigint {
  if (typeof token !== 'string' || !token.startsWith(TOKEN_PREFIX)) {
    throw new FailoverError('INVALID_OPTION', `"after" must be a token from pool.causalToken() (pgfo1:…), got ${JSON.stringify(String(token).slice(0, 40))}`);
  }
  return parseLsn(token.slice(TOKEN_PREFIX.length));
}

function lsnOf(lsn: Lsn | string | undefined): bigint | undefined {
  if (lsn === undefined || lsn === '') return undefined;
  if (typeof lsn === 'bigint') return lsn;
  try {
    return parseLsn(lsn);
  } catch {
    return undefined; // not an LSN: ignore
  }
}

export class CausalTracker {
  readonly mode: ReadYourWrites;
  readonly #io: CausalIo;
  /** Position covering every write whose LSN has been learnt. */
  #required = 0n;
  /** Writes completed so far / covered by #required. */
  #writes = 0;
  #covered = 0;
  #lastWriteAt = 0;
  #lastReadAt = 0;
  #fetching: Promise<void> | undefined;
  /**
   * Each standby's replay position: the newest answer, also when lower than an earlier one. A
   * standby's position goes back when it is rewound (pg_rewind) or cloned again: the old primary
   * killed in a failover, restarted as a standby that replayed its own diverged WAL, then rewound
   * (campaign seed 4242 with Patroni 3.0.2: 102 stale reads with "positions only move forward",
   * the rewound node counted at its diverged position after it followed the new timeline).
   */
  readonly #replayed = new Map<string, bigint>();
  /** The last position each standby's topology source reported (see {@link observeReported}). */
  readonly #reported = new Map<string, bigint>();
  /**
   * The timeline the current primary writes on, learnt from it after each primary change
   * (undefined until then, and while there is none). A replay position is a bare LSN: a standby
   * that replayed more of a dead primary's WAL than the standby promoted in its place (it
   * diverged) shows a position past the new primary's writes without having any of them (the
   * campaign, seed 4242 with Patroni 3.0.2: 348 stale reads after a kill -9). So a standby counts
   * as having this pool's writes only when it is also known to follow that timeline
   * ({@link follows}).
   */
  #tli: number | undefined;
  #tliOf: string | undefined;
  #tliLearning: Promise<void> | undefined;
  readonly #polling = new Map<string, Promise<void>>();
  readonly #pollTimers = new Map<string, NodeJS.Timeout>();
  #closed = false;
  #fetchTimer: NodeJS.Timeout | undefined;
  #fetchDue = 0;
  /** Consecutive learnt positions no standby read used (see MAX_PACE_MILLIS). */
  #unused = 0;
  #lastFetchAt = 0;
  /** A position was learnt since the last write, and whether a standby read has used it. */
  #learntSinceWrite = false;
  #usedSinceLearnt = false;
  /**
   * Causal scopes (scope()): each records how many of this pool's writes had completed
   * after its own last write. Created on first use, so a pool that never opens a scope
   * pays nothing for AsyncLocalStorage.
   */
  #scopes: AsyncLocalStorage<{ need: number; after: bigint }> | undefined;
  /** Counters for tests and metrics. */
  readonly stats = {
    lsnFetches: 0,
    replayPolls: 0,
    readsSentToPrimary: 0,
    positionsUnknown: 0,
    readsBestEffort: 0,
    /** Reads that found their standby behind and waited there (causalWaitMillis), and those of them that ran out of time (then on the primary). */
    standbyWaits: 0,
    standbyWaitTimeouts: 0,
    /** Looks at a standby's replay position a read waited for (shared by the reads waiting at once). */
    standbyLooks: 0,
    /** Standbys passed over for a read after writes because they were not known to follow the primary's timeline. */
    notFollowing: 0,
    /** Standbys found unable to run the wait (then never asked again; their reads go as without the wait). */
    standbyWaitUnsupported: 0,
  };

  /** Reads after writes wait on a standby (causalWaitMillis > 0) instead of going to the primary. */
  readonly #waitOnStandby: boolean;

  constructor(mode: ReadYourWrites | undefined, io: CausalIo, options: { waitOnStandby?: boolean } = {}) {
    this.mode = mode ?? 'lsn';
    this.#io = io;
    this.#waitOnStandby = options.waitOnStandby ?? false;
    if (typeof this.mode === 'object' && !(Number.isFinite(this.mode.windowMillis) && this.mode.windowMillis >= 0)) {
      throw new FailoverError('INVALID_OPTION', 'readYourWrites.windowMillis must be a number of milliseconds ≥ 0');
    }
  }

  /**
   * A write (or anything that ran on the primary and may have written) completed. `fetch`
   * false: count it, but learn its position only when {@link token} is asked for.
   */
  noteWrite(fetch = true): void {
    if (this.mode === 'none') return;
    const now = this.#countWrite();
    if (this.#learntSinceWrite) {
      this.#learntSinceWrite = false;
      this.#unused = this.#usedSinceLearnt ? 0 : Math.min(this.#unused + 1, 16);
    }
    // fetch false (every read goes to the primary anyway): the position is learnt only when a token asks for it.
    if (this.mode === 'lsn' && fetch) this.#fetch(this.#delay(now));
  }

  /**
   * Whether the next write should learn its position on its own session: reads wait on standbys
   * and this pool read recently. Then the engine sends the position query with the write, in the
   * same round trip where the driver can pipeline (positions.ts), and hands the answer to
   * {@link noteWriteWithPosition}; reads after the write wait for that answer, already on its
   * way, rather than each starting a fetch.
   */
  get positionWithWrite(): boolean {
    return this.waitsOnStandby && Date.now() - this.#lastReadAt < EAGER_AFTER_READ_MILLIS;
  }

  /** A write completed and `position` (its session's `pg_current_wal_lsn()` after it) is on its way. */
  noteWriteWithPosition(position: Promise<string>): void {
    this.#countWrite();
    const upTo = this.#writes;
    this.stats.lsnFetches++;
    const p = position.then(
      (lsn) => this.#learnt(upTo, lsn),
      () => this.#unknown(upTo),
    );
    const settled = p.finally(() => {
      if (this.#ownFetch === settled) this.#ownFetch = undefined;
    });
    this.#ownFetch = settled;
  }

  /** One more write completed (the pool's count, and its scope's); returns now. */
  #countWrite(): number {
    this.#writes++;
    const scope = this.#scopes?.getStore();
    if (scope) scope.need = this.#writes;
    this.#lastWriteAt = Date.now();
    return this.#lastWriteAt;
  }

  /** A position covering the first `upTo` writes was learnt. */
  #learnt(upTo: number, lsn: string): void {
    const v = parseLsn(lsn);
    if (v > this.#required) this.#required = v;
    if (upTo > this.#covered) this.#covered = upTo;
  }

  /**
   * The primary was gone (or unknown) before the position of the first `upTo` writes could be
   * read. Holding every read until a new primary appears would stop reads during a failover;
   * instead the guarantee for these writes becomes best effort (with asynchronous replication
   * they may be lost with the old primary anyway). Counted.
   */
  #unknown(upTo: number): void {
    this.stats.positionsUnknown++;
    if (upTo > this.#covered) this.#covered = upTo;
  }

  /** The newest write's own position query (noteWriteWithPosition), while in flight. */
  #ownFetch: Promise<void> | undefined;

  /** How long completed writes coalesce before their position is fetched. */
  #delay(now = Date.now()): number {
    return now - this.#lastReadAt < EAGER_AFTER_READ_MILLIS ? COALESCE_MILLIS : WRITE_ONLY_COALESCE_MILLIS;
  }

  /** What a read must respect now; `after` is a token from another request/process. */
  requirement(after?: string): ReadRequirement {
    let token = after !== undefined ? parseCausalToken(after) : 0n;
    const scoped = this.#scopes?.getStore()?.after ?? 0n;
    if (scoped > token) token = scoped;
    if (this.mode === 'none') return token ? { primaryOnly: false, minLsn: token } : ANY_NODE;
    if (typeof this.mode === 'object') {
      const primaryOnly = Date.now() - this.#lastWriteAt < this.mode.windowMillis;
      return token ? { primaryOnly, minLsn: token } : { primaryOnly };
    }
    this.#lastReadAt = Date.now();
    const need = this.#need();
    if (this.#covered < need) {
      if (this.#waitOnStandby) return token ? { primaryOnly: false, pending: true, minLsn: token } : PENDING;
      this.#fetch(COALESCE_MILLIS); // a failed fetch is retried by the next read
      return token ? { primaryOnly: true, minLsn: token } : PRIMARY_ONLY;
    }
    return this.#covering(need, token);
  }

  /** A standby read covering `need` writes (known: #covered ≥ need) and the token's position. */
  #covering(need: number, token: bigint): ReadRequirement {
    // #required covers every write up to #covered ≥ need: enough (if more than a scope needs).
    const own = need > 0 ? this.#required : 0n;
    const min = token > own ? token : own;
    return min ? { primaryOnly: false, minLsn: min } : ANY_NODE;
  }

  /**
   * Runs `fn` in a causal scope: reads inside it must see the writes made inside it
   * (and, with a token, the token's), not every write of the pool. Scopes nest; the
   * innermost counts. Outside any scope the guarantee is pool-wide. `after`: a token
   * (from another request or process) every read in the scope must also respect.
   */
  scope<T>(fn: () => T, after?: string): T {
    const floor = after !== undefined ? parseCausalToken(after) : 0n;
    this.#scopes ??= new AsyncLocalStorage();
    return this.#scopes.run({ need: 0, after: floor }, fn);
  }

  /** How many of this pool's writes a read here must see: its scope's, else all. */
  #need(): number {
    const scope = this.#scopes?.getStore();
    return scope ? scope.need : this.#writes;
  }

  /**
   * The primary is now `key` (undefined: none known — the last one's timeline is kept, so that
   * standbys go on serving reads while it is unreachable). A new primary's timeline is learnt from
   * it; until then no standby counts as having this pool's writes (their reads go to the primary or wait).
   */
  primaryIs(key: string | undefined): void {
    if (key === undefined || key === this.#tliOf) return;
    this.#tliOf = key;
    this.#tli = undefined;
    if (key) this.#learnTimeline(key);
  }

  #learnTimeline(key: string): void {
    if (this.#tliLearning) return;
    const p: Promise<void> = this.#io.primaryTimeline(key).then(
      (tli) => {
        if (this.#tliOf === key) this.#tli = tli;
      },
      () => undefined, // asked again by the next read that needs it
    );
    this.#tliLearning = p.finally(() => {
      this.#tliLearning = undefined;
      if (this.#tliOf !== undefined && this.#tliOf !== key && this.#tli === undefined) this.#learnTimeline(this.#tliOf); // the primary changed meanwhile
    });
  }

  /** Whether standby `key` is known to follow the current primary's timeline (see #tli). */
  follows(key: string): boolean {
    const tli = this.#tli;
    if (tli === undefined) {
      if (this.#tliOf !== undefined) this.#learnTimeline(this.#tliOf);
      this.stats.notFollowing++;
      return false;
    }
    if (this.#io.standbyFollows(key, tli)) return true;
    this.stats.notFollowing++;
    return false;
  }

  /** True when `key` is known to have replayed `minLsn`; otherwise starts a poll of it and answers false. */
  standbyHas(key: string, minLsn: bigint): boolean {
    const seen = this.#replayed.get(key);
    if (seen !== undefined && seen >= minLsn && (minLsn === 0n || this.follows(key))) {
      this.#usedSinceLearnt = true;
      return true;
    }
    this.#poll(key);
    return false;
  }

  /**
   * For a read that may not use the primary (readFrom 'standby'): learns the position of
   * every write completed so far (joining a fetch in flight, or starting one now), and
   * answers what a standby must have replayed. Writes that complete meanwhile are
   * concurrent with the read and need not be covered, so a write stream cannot starve it.
   * `token`: a position the read must also respect (from `after`).
   */
  async settle(token = 0n): Promise<ReadRequirement> {
    const need = this.#need();
    while (this.#covered < need && !this.#closed) await (this.#ownFetch ?? this.#fetching ?? this.#fetchNow());
    return this.#covering(need, token);
  }

  /** Reads after writes may wait on a standby (see ReadRequirement.pending). */
  get waitsOnStandby(): boolean {
    return this.#waitOnStandby && this.mode === 'lsn';
  }

  /** True when `key` is known to have replayed `minLsn` (no poll started). */
  knows(key: string, minLsn: bigint): boolean {
    const seen = this.#replayed.get(key);
    return seen !== undefined && seen >= minLsn && (minLsn === 0n || this.follows(key));
  }

  /**
   * Whether `key` has replayed `minLsn`, asking it if not known: one look at its replay position
   * per standby in flight, shared by every read that waits for one (replay only moves forward, so
   * the read may then run on any session of that standby).
   */
  async caughtUp(key: string, minLsn: bigint): Promise<boolean> {
    if (this.knows(key, minLsn)) return true;
    const joined = this.#looking.get(key);
    if (joined) {
      await joined;
      if (this.knows(key, minLsn)) return true;
    }
    await this.#look(key);
    return this.knows(key, minLsn);
  }

  readonly #looking = new Map<string, Promise<void>>();

  #look(key: string): Promise<void> {
    let p = this.#looking.get(key);
    if (!p) {
      this.stats.standbyLooks++;
      p = this.#io
        .replayLsn(key)
        .then(
          (lsn) => this.observe(key, lsn ?? undefined),
          () => undefined, // the read that follows finds out what is wrong with the standby
        )
        .finally(() => this.#looking.delete(key));
      this.#looking.set(key, p);
    }
    return p;
  }

  /** A standby served a read at a learnt position (it waited for it): positions are being used. */
  used(): void {
    this.#usedSinceLearnt = true;
  }

  /**
   * The standby's own answer about its replay position (a poll, a look, a wait): it replaces what
   * was known, also when lower (see #replayed). A slower answer overtaken by a newer one can only
   * lower the position, which sends reads elsewhere, never to a standby without the rows.
   */
  observe(key: string, lsn: Lsn | string | undefined): void {
    const v = lsnOf(lsn);
    if (v !== undefined) this.#replayed.set(key, v);
  }

  /**
   * A replay position from the topology source (member keys, `/cluster`). Counts only when it
   * changed since the source's last report for `key`: a source re-delivers an unchanged member
   * with every other change, and an old value must not undo the standby's newer answer (after a
   * rewind the source may go on showing the diverged position until its next loop).
   */
  observeReported(key: string, lsn: string | undefined): void {
    const v = lsnOf(lsn);
    if (v === undefined || this.#reported.get(key) === v) return;
    this.#reported.set(key, v);
    this.#replayed.set(key, v);
  }

  /**
   * What was known of `key`'s replay position no longer holds (its source reports another
   * timeline or role for it, or it left and came back): asked again before a read after writes
   * runs there.
   */
  forget(key: string): void {
    this.#replayed.delete(key);
    this.#reported.delete(key);
  }

  /** An opaque token covering this process's writes so far (waits for a pending position). */
  async token(): Promise<string> {
    while (this.#covered < this.#writes) {
      const f = this.#fetching ?? this.#fetchNow();
      await f;
      if (this.#covered < this.#writes && !this.#fetching) break;
    }
    return `${TOKEN_PREFIX}${formatLsn(this.#required)}`;
  }

  /**
   * Learns the position soon: writes completing within the next
   * COALESCE_MILLIS share one `pg_current_wal_lsn()` (reads go to the
   * primary meanwhile, which is where they would go anyway).
   */
  #fetch(delay: number): void {
    if (this.#fetching) return;
    const due = Date.now() + delay;
    if (this.#fetchTimer) {
      // A read wants it sooner than the write-only pace. Not while positions go unused (a write stream):
      // the timer already waits on purpose, and re-arming it on every read costs more than the fetch.
      if (this.#fetchDue <= due || this.#unused > 0) return;
      clearTimeout(this.#fetchTimer);
    }
    this.#fetchDue = due;
    this.#fetchTimer = setTimeout(() => this.#onFetchTimer(), delay);
    this.#fetchTimer.unref();
  }

  #onFetchTimer(): void {
    this.#fetchTimer = undefined;
    if (this.#fetching || this.#closed) return;
    const now = Date.now();
    const pace = Math.min(COALESCE_MILLIS * 2 ** this.#unused, MAX_PACE_MILLIS);
    const quiet = Math.min(pace, MAX_QUIET_MILLIS);
    if (this.#unused > 0 && now - this.#lastWriteAt < quiet && now - this.#lastFetchAt < pace) {
      // Writes are still streaming in and the last positions went unused: wait for a pause, or the pace.
      this.#fetch(Math.max(1, Math.min(this.#lastWriteAt + quiet, this.#lastFetchAt + pace) - now));
      return;
    }
    void this.#fetchNow();
  }

  #fetchNow(): Promise<void> {
    const upTo = this.#writes;
    this.#lastFetchAt = Date.now();
    this.stats.lsnFetches++;
    const p = this.#io.primaryLsn().then(
      (lsn) => {
        this.#learnt(upTo, lsn);
        this.#learntSinceWrite = true;
        this.#usedSinceLearnt = false;
        // Refresh standbys' positions now, so the next reads can go back to them.
        for (const k of this.#io.standbys()) if ((this.#replayed.get(k) ?? 0n) < this.#required) this.#poll(k);
      },
      () => this.#unknown(upTo),
    );
    this.#fetching = p.finally(() => {
      this.#fetching = undefined;
      if (this.#covered < this.#writes) this.#fetch(this.#delay()); // writes completed meanwhile
    });
    return this.#fetching;
  }

  /**
   * Polls a standby's replay position (one poll in flight per standby). While
   * it is still behind what this process wrote, polls again with a growing
   * delay (2 ms doubling to 64 ms, for at most ~1 s), so that positions
   * converge right after a burst of writes without waiting for a read.
   */
  #poll(key: string, delayMillis = 0, spentMillis = 0, fromChain = false): void {
    // One chain per standby: a poll in flight or a scheduled one already covers the newest position.
    if (this.#polling.has(key) || (!fromChain && this.#pollTimers.has(key))) return;
    this.#pollTimers.delete(key);
    this.stats.replayPolls++;
    const p = this.#io.replayLsn(key).then(
      (lsn) => {
        this.observe(key, lsn ?? undefined);
        return lsn !== null;
      },
      () => false,
    );
    this.#polling.set(key, p.then(() => undefined));
    void p.then((inRecovery) => {
      this.#polling.delete(key);
      const behind = (this.#replayed.get(key) ?? 0n) < this.#required;
      if (!inRecovery || !behind || this.#closed) return;
      const next = Math.min(Math.max(2, delayMillis * 2), 64);
      if (spentMillis + next > 1000) return; // a read will start polling again
      const t = setTimeout(() => this.#poll(key, next, spentMillis + next, true), next);
      t.unref();
      this.#pollTimers.set(key, t);
    });
  }

  /** Stops background polling (the pool is ending). */
  close(): void {
    this.#closed = true;
    if (this.#fetchTimer) clearTimeout(this.#fetchTimer);
    for (const t of this.#pollTimers.values()) clearTimeout(t);
    this.#pollTimers.clear();
  }
}
