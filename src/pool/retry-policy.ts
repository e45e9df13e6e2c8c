/**
 * One retry policy for the whole query path: what a failed statement means, and what to do
 * next, decided in one place for `pool.query` and for checked-out clients alike (STYLE.md:
 * "retryable vs not is a property of the error, decided in one place"). Pure: no I/O, no
 * timers; the engine and the bound client carry the verdict out.
 *
 * The rules, in the order they apply:
 * 1. A standby refused the statement as a write (SQLSTATE 25006) → it is a write: run it on
 *    the primary (nothing ran). Outside a transaction and off a pinned session only. Inside a
 *    transaction on a session bound as the primary (the topology was wrong): TRANSACTION_ROLLED_BACK.
 * 2. The primary refused it as read-only (a leader still promoting, or one just demoted) →
 *    nothing ran: try again on whoever is primary, after a short backoff, until the deadline.
 * 3. Any other server error is the app's: thrown as is (a `DatabaseError`, SQLSTATE intact).
 * 4. The connection was lost:
 *    - a ROLLBACK inside a transaction did its job (the server rolls back a dead session's work);
 *    - a COMMIT whose transaction id is known is resolved with pg_xact_status() (outcome.ts);
 *    - anything else inside a transaction: TRANSACTION_ROLLED_BACK;
 *    - a session with state (SET, LISTEN, temp tables…) cannot be replaced: CONNECTION_LOST for
 *      a read, TRANSACTION_RESOLUTION_UNKNOWN for a write;
 *    - a statement that provably never reached the server, or a lone BEGIN: run again on the next
 *      primary (nothing was written);
 *    - a read: run again on another node (or, routed to the primary, on the primary), at most
 *      `retries` times, then CONNECTION_LOST; a read whose session could not even be opened (it
 *      ran nowhere) is not counted: it goes on waiting for a node that takes it — during a failover,
 *      the next primary — until the failover deadline (FAILOVER_TIMEOUT), as a write would;
 *    - a write: TRANSACTION_RESOLUTION_UNKNOWN — never replayed.
 */
import { FailoverError } from '../errors';
import type { Analysis } from '../routing/classify';
import { isConnectionLoss, isReadOnlyRefusal, neverConnected, neverExecuted } from './error-kinds';

export const COMMIT = /^\s*(?:commit|end)(?:\s+(?:work|transaction))?\s*;?\s*$/i;
/** One transaction start and nothing else (no literal, no second statement). */
export const BEGIN = /^\s*(?:begin|start\s+transaction)\b[^;'"$]*;?\s*$/i;
export const ROLLBACK = /^\s*(?:rollback|abort)(?:\s+(?:work|transaction))?(?:\s+and\s+no\s+chain)?\s*;?\s*$/i;

/**
 * What a statement is, for the policy: transaction control by its exact text, a read when
 * the classifier says so (no pin, not a text a standby refused before), else a write.
 */
export function statementOf(text: string, a: Analysis, learnedWrite: boolean): Failure['statement'] {
  if (a.kind === 'transaction') {
    if (COMMIT.test(text)) return 'commit';
    if (ROLLBACK.test(text)) return 'rollback';
    if (BEGIN.test(text)) return 'begin';
  }
  return a.kind === 'read' && !a.pins && !learnedWrite ? 'read' : 'write';
}

/** Longest pause between retries of a write the primary refused as read-only (25006). */
const READ_ONLY_RETRY_MAX_MILLIS = 100;

/** How many times a statement that provably never ran (or a lone BEGIN) is sent again. */
const NEVER_SENT_RETRIES = 5;

/**
 * How many times a read whose session could not be opened is tried again (each try waits for the
 * topology or a down mark to change; the failover deadline bounds the whole).
 */
const NEVER_CONNECTED_READ_RETRIES = 60;

/** The statement that failed, and where. */
export interface Failure {
  err: unknown;
  /** host:port of the node it ran on. */
  node: string;
  /** What it is: a read (classified, not a learned write), a write, or transaction control. */
  statement: 'read' | 'write' | 'begin' | 'commit' | 'rollback';
  /** The role it was routed to. */
  on: 'standby' | 'primary';
  /** Read-routed (a standby by policy) rather than sent to the primary. */
  routedAsRead: boolean;
  /** Inside a transaction block when it was sent. */
  inTransaction: boolean;
  /** The session holds state a new session would not have. */
  pinned: boolean;
  /** A COMMIT's transaction id: learnt before sending it, null when none was assigned (nothing written), undefined when not asked. */
  xid?: string | null;
  /** Tries so far (0 on the first failure) and how many more a read may take. */
  attempt: number;
  retries: number;
  /** Past the failover deadline. */
  late: boolean;
}

export type Verdict =
  /** Throw this (the original server error, or a typed FailoverError with it as cause). */
  | { readonly do: 'throw'; readonly error: unknown; readonly markDown: boolean }
  /** Run it again: on another node than `failure.node` (a read), or on the (next) primary. */
  | { readonly do: 'retry'; readonly on: 'other-node' | 'primary'; readonly markDown: boolean; readonly delayMillis: number }
  /** A standby refused it as a write: remember the text, run it on the primary. */
  | { readonly do: 'run-as-write' }
  /** A lost COMMIT with a known xid: ask the new primary what became of it. */
  | { readonly do: 'resolve-commit'; readonly xid: string }
  /** A lost ROLLBACK: the server rolled back the dead session's transaction; answer it locally. */
  | { readonly do: 'answer-rollback' }
  /** It would be retried on the primary, but the failover deadline passed: FAILOVER_TIMEOUT. */
  | { readonly do: 'timeout'; readonly cause: unknown; readonly markDown: boolean };

export function afterFailure(f: Failure): Verdict {
  const { err, node } = f;
  if (isReadOnlyRefusal(err)) {
    if (f.inTransaction && f.on === 'primary') {
      // The node the topology called primary is read-only (a stale or wrong topology): the block cannot commit there.
      return { do: 'throw', error: typed('TRANSACTION_ROLLED_BACK', `${node}, bound as the primary, refused a write as read-only (SQLSTATE 25006): the transaction cannot commit; end it with ROLLBACK and run it again`, err, node), markDown: false };
    }
    if (f.inTransaction || f.pinned) return { do: 'throw', error: err, markDown: false };
    if (f.on === 'standby') return { do: 'run-as-write' };
    if (f.late) return { do: 'timeout', cause: err, markDown: false };
    return { do: 'retry', on: 'primary', markDown: false, delayMillis: Math.min(READ_ONLY_RETRY_MAX_MILLIS, 5 * 2 ** (f.attempt + 1)) };
  }
  if (!isConnectionLoss(err)) return { do: 'throw', error: err, markDown: false };
  if (f.inTransaction) {
    if (f.statement === 'rollback') return { do: 'answer-rollback' };
    if (f.statement === 'commit' && f.xid) return { do: 'resolve-commit', xid: f.xid };
    if (f.statement === 'commit' && f.xid === undefined && f.on === 'primary') return { do: 'throw', error: unknownOutcome(err, node), markDown: true };
    return { do: 'throw', error: typed('TRANSACTION_ROLLED_BACK', `the connection to ${node} was lost inside a transaction; the server rolled it back`, err, node), markDown: true };
  }
  if (f.pinned) {
    return f.statement === 'read'
      ? { do: 'throw', error: typed('CONNECTION_LOST', `the connection to ${node} was lost; run the statement again`, err, node), markDown: true }
      : { do: 'throw', error: unknownOutcome(err, node), markDown: true };
  }
  if (f.statement === 'read') {
    if (f.attempt < f.retries) return { do: 'retry', on: f.routedAsRead ? 'other-node' : 'primary', markDown: true, delayMillis: 0 };
    // It ran nowhere (e.g. the killed primary refused the connect while the topology still named it): not a retry used up.
    if (f.retries > 0 && neverConnected(err) && f.attempt < NEVER_CONNECTED_READ_RETRIES) {
      if (f.late) return { do: 'timeout', cause: err, markDown: true };
      return { do: 'retry', on: f.routedAsRead ? 'other-node' : 'primary', markDown: true, delayMillis: 0 };
    }
    if (f.err instanceof FailoverError) return { do: 'throw', error: err, markDown: true };
    return { do: 'throw', error: typed('CONNECTION_LOST', `connection to ${node} lost: ${(err as Error).message}`, err, node), markDown: true };
  }
  if ((neverExecuted(err) || f.statement === 'begin') && f.attempt < NEVER_SENT_RETRIES) {
    if (f.late) return { do: 'timeout', cause: err, markDown: true };
    return { do: 'retry', on: 'primary', markDown: true, delayMillis: 0 };
  }
  return { do: 'throw', error: unknownOutcome(err, node), markDown: true };
}

function typed(code: 'CONNECTION_LOST' | 'TRANSACTION_ROLLED_BACK', message: string, cause: unknown, node: string): FailoverError {
  return new FailoverError(code, message, { cause, node });
}

function unknownOutcome(cause: unknown, node: string): FailoverError {
  return new FailoverError(
    'TRANSACTION_RESOLUTION_UNKNOWN',
    `the connection to ${node} was lost while a write was in flight; it may or may not have been applied (not retried)`,
    { cause, node },
  );
}
