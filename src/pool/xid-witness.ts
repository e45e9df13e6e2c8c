/**
 * Whether a node's answer about a lost transaction id is about *that* transaction.
 *
 * PostgreSQL does not write a transaction id to the WAL when it hands it out, only with the
 * first record that uses it. A standby that never received a record of transaction X ends its
 * recovery with a next transaction id ≤ X, and once promoted hands X out again, to someone
 * else's transaction. `pg_xact_status(X)` on it then answers for that other transaction:
 * "committed" although the lost one is gone (measured: a primary killed with X open, its
 * standby promoted, X was the new primary's first transaction id). The same happens on a
 * primary restarted after a crash, when X's records had not reached its disk.
 *
 * So an answer counts only from a node proven to know every transaction id up to X from the
 * history X was handed out in:
 *
 * - the node X ran on, with no restart and no crash recovery since (same {@link STARTED_SQL}):
 *   a server that has not recovered never hands an id out twice;
 * - a node seen *in recovery* with a snapshot whose xmax is above X: it had replayed a finished
 *   transaction ≥ X, so its next id is past X and stays past X after its promotion;
 *
 * Not the node X ran on after a restart (or a crash recovery), even when a standby was seen in
 * recovery past X: that standby may have followed the restarted node and replayed its new life,
 * where X was handed out again (measured in the campaign, seed 98, crash-postgres: X "in progress"
 * on the restarted primary, both standbys then seen past X, X "committed" — someone else's
 * transaction; the lost write's row absent, an acknowledged insert lost, 3 times in 7 runs). Its
 * answer "committed" then stays unknown; "aborted" and "in the future" are still safe. (A standby
 * seen past X after it followed such a restarted node, then promoted, is not ruled out here: that
 * needs the observation's WAL to predate the restart.)
 *
 * What else an answer may say is safe without proof: "aborted" and "in the future" mean the
 * transaction did not commit in that node's history, whoever's it was.
 *
 * Assumed: X was handed out by the cluster's primary of the moment, and standbys follow it (no
 * second primary of another timeline at the same time; fencing is what guarantees that).
 */
import createDebug from 'debug';
import { nodeKey } from '../topology/topology';
import type { SessionHost } from './engine';

const debug = createDebug('pg-failover:pool');

/** Taken in one statement: the snapshot at its start, then whether recovery was still going on. */
const OBSERVE = 'SELECT pg_snapshot_xmax(pg_current_snapshot())::text AS xmax, pg_is_in_recovery() AS rec';
const OBSERVE_EVERY_MILLIS = 100;

/** A transaction lost with its session, as much as is known of where it ran. */
export interface LostTransaction {
  /** Its id (`pg_current_xact_id()`, xid8 text). */
  readonly xid: string;
  /** The node (`host:port`) it ran on. */
  readonly node: string;
  /** That node's {@link STARTED_SQL} when the id was read. */
  readonly started?: string;
  /**
   * A WAL insert position read on that node after the id, before the COMMIT was sent
   * ({@link INSERT_LSN_SQL}): the commit record, if any, lies at or past it.
   */
  readonly lsn?: string;
}

/**
 * The WAL insert position, or NULL on a node in recovery (where the function raises an error,
 * which would abort the caller's transaction).
 */
export const INSERT_LSN_SQL = 'CASE WHEN pg_catalog.pg_is_in_recovery() THEN NULL ELSE pg_catalog.pg_current_wal_insert_lsn()::text END';

/**
 * Whether a primary's history provably lacks the lost transaction's commit: its last recovery
 * (the promotion of a standby, or crash recovery) replayed nothing at or past `lost.lsn`
 * (`pg_last_wal_replay_lsn()`, which stays put once recovery has ended). Every record written after
 * that position — the commit record among them — is then absent from it, on whatever timeline, and
 * the id may since have been handed out again there: its status is someone else's.
 *
 * Not for the node the id was handed out on, in the postmaster's life it was handed out in: its
 * replay position may be that of an older recovery, before the transaction (a crash recovery
 * without a postmaster restart is not told apart from an explicit statistics reset here, so it is
 * not used either). Another node, or the same one restarted, always qualifies: its history past
 * its last recovery is its own transactions', never the lost one.
 * `replayShort` is the node's own answer to `NOT pg_is_in_recovery() AND pg_last_wal_replay_lsn() <= lost.lsn`.
 */
export function commitProvablyAbsent(lost: LostTransaction, started: string | undefined, replayShort: boolean | null): boolean {
  if (replayShort !== true || lost.lsn === undefined || lost.started === undefined || started === undefined) return false;
  return postmasterStart(started) !== postmasterStart(lost.started);
}

/** The postmaster start time part of a {@link STARTED_SQL} value. */
function postmasterStart(started: string): string {
  return started.split('/')[0]!;
}

export type WitnessHost = Pick<SessionHost, 'topology' | 'nodePool'>;

/**
 * The server-side expression whose value `LostTransaction.started` holds: when the postmaster
 * started, and when the shared statistics were last reset. A crash of any backend makes the
 * postmaster reinitialise and run crash recovery *without* a new start time (measured: the start
 * time unchanged, the next transaction id handed out again); it does discard the statistics,
 * which stamps a new reset time. So an unchanged value means no crash recovery since (an explicit
 * `pg_stat_reset_shared('bgwriter')` changes it too: then nothing is believed, which is safe).
 */
export const STARTED_SQL =
  "extract(epoch from pg_catalog.pg_postmaster_start_time())::text || '/' || coalesce(extract(epoch from pg_catalog.pg_stat_get_bgwriter_stat_reset_time())::text, '')";

export class XidWitness {
  readonly #host: WitnessHost;
  readonly #lost: LostTransaction;
  readonly #xid: bigint;
  /** Nodes seen in recovery with a snapshot past the id. */
  readonly #proven = new Set<string>();
  /** Nodes seen out of recovery: a snapshot taken there now proves nothing. */
  readonly #out = new Set<string>();
  readonly #pending = new Map<string, Promise<void>>();
  readonly #timer: NodeJS.Timeout;

  /** Starts looking at the standbys at once (before any of them can be promoted), then every 100 ms until `stop()`. */
  constructor(host: WitnessHost, lost: LostTransaction) {
    this.#host = host;
    this.#lost = lost;
    this.#xid = BigInt(lost.xid);
    this.#round();
    this.#timer = setInterval(() => this.#round(), OBSERVE_EVERY_MILLIS);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  /** Whether `key`'s answer about the id is about this transaction; `started` is its `STARTED_SQL` now. */
  async vouchesFor(key: string, started: string | undefined): Promise<boolean> {
    if (key === this.#lost.node) return this.#lost.started !== undefined && started === this.#lost.started;
    await Promise.allSettled([...this.#pending.values()]); // a snapshot already taken may still be on its way
    return this.#proven.has(key);
  }

  #round(): void {
    for (const m of this.#host.topology?.members ?? []) {
      const key = nodeKey(m);
      if (key === this.#lost.node || this.#proven.has(key) || this.#out.has(key) || this.#pending.has(key)) continue;
      const p = this.#observe(key).finally(() => this.#pending.delete(key));
      this.#pending.set(key, p);
    }
  }

  async #observe(key: string): Promise<void> {
    try {
      const { rows } = await this.#host.nodePool(key).pool.query<{ xmax: string; rec: boolean }>(OBSERVE);
      const row = rows[0];
      if (!row) return;
      if (!row.rec) this.#out.add(key);
      else if (BigInt(row.xmax) > this.#xid) {
        this.#proven.add(key);
        debug('%s knows every transaction id up to %s (snapshot xmax %s, in recovery)', key, this.#lost.xid, row.xmax);
      }
    } catch {
      // unreachable now: asked again next round
    }
  }
}
