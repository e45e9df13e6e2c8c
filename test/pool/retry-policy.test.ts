/**
 * The one retry policy of the query path (src/pool/retry-policy.ts), branch by branch. Pure:
 * the errors are the shapes pg really produces (a DatabaseError with its SQLSTATE, a socket
 * Error, pg's "not queryable" refusal); the behaviour on real servers is proven by
 * failover.test.ts, lost-transaction.test.ts and the examples.
 */
import { describe, expect, it } from 'vitest';
import pg from 'pg';
import { FailoverError } from '../../src/errors';
import { afterFailure, statementOf, type Failure } from '../../src/pool/retry-policy';
import { Classifier } from '../../src/routing/classify';

function serverError(code: string, message = 'boom', routine?: string): pg.DatabaseError {
  const e = new pg.DatabaseError(message, 0, 'error');
  e.code = code;
  e.severity = code.startsWith('57') ? 'FATAL' : 'ERROR';
  if (routine) e.routine = routine;
  return e;
}
const readOnly = serverError('25006', 'cannot execute INSERT in a read-only transaction');
const socketGone = Object.assign(new Error('Connection terminated unexpectedly'), {});
const notQueryable = new Error('Client was closed and is not queryable');
const shutdownWhileReading = serverError('57P01', 'terminating connection due to administrator command', 'secure_read');
const unique = serverError('23505', 'duplicate key value violates unique constraint');

const base: Failure = { err: socketGone, node: 'h:1', statement: 'write', on: 'primary', routedAsRead: false, inTransaction: false, pinned: false, attempt: 0, retries: 2, late: false };
const f = (o: Partial<Failure>) => afterFailure({ ...base, ...o });
const codeOf = (v: ReturnType<typeof afterFailure>) => (v.do === 'throw' && v.error instanceof FailoverError ? v.error.code : undefined);

describe('retry policy', () => {
  it('a standby refusing a write (25006): run it as a write on the primary; inside a transaction or a pinned session: thrown as is', () => {
    expect(f({ err: readOnly, on: 'standby', statement: 'read', routedAsRead: true })).toEqual({ do: 'run-as-write' });
    expect(f({ err: readOnly, on: 'standby', inTransaction: true })).toMatchObject({ do: 'throw', error: readOnly });
    // Bound as the primary, but the node is read-only (a wrong topology): the block cannot commit there.
    expect(codeOf(f({ err: readOnly, on: 'primary', inTransaction: true }))).toBe('TRANSACTION_ROLLED_BACK');
    expect(f({ err: readOnly, on: 'standby', pinned: true })).toMatchObject({ do: 'throw', error: readOnly });
  });

  it('the primary refusing as read-only: retried on the primary with a growing, capped backoff, FAILOVER_TIMEOUT once late', () => {
    const delays = [0, 1, 2, 3, 4, 5, 6].map((attempt) => f({ err: readOnly, attempt }));
    for (const v of delays) expect(v).toMatchObject({ do: 'retry', on: 'primary', markDown: false });
    const ms = delays.map((v) => (v.do === 'retry' ? v.delayMillis : -1));
    expect(ms.slice(0, 4)).toEqual([10, 20, 40, 80]);
    expect(Math.max(...ms)).toBe(100);
    expect(f({ err: readOnly, late: true })).toMatchObject({ do: 'timeout', cause: readOnly });
  });

  it('any other server error is the application’s: thrown as is, the node not marked down', () => {
    expect(f({ err: unique })).toEqual({ do: 'throw', error: unique, markDown: false });
    expect(f({ err: unique, statement: 'read', routedAsRead: true })).toEqual({ do: 'throw', error: unique, markDown: false });
  });

  it('a lost read is run again elsewhere (or on the primary when routed there) up to `retries`, then CONNECTION_LOST', () => {
    expect(f({ statement: 'read', routedAsRead: true, on: 'standby' })).toMatchObject({ do: 'retry', on: 'other-node', markDown: true });
    expect(f({ statement: 'read', routedAsRead: false })).toMatchObject({ do: 'retry', on: 'primary', markDown: true });
    expect(codeOf(f({ statement: 'read', routedAsRead: true, attempt: 2 }))).toBe('CONNECTION_LOST');
    expect(codeOf(f({ statement: 'read', retries: 0 }))).toBe('CONNECTION_LOST');
  });

  it('a read whose session could not be opened (refused connect, 57P03) ran nowhere: retried past `retries` until the failover deadline', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED', syscall: 'connect' });
    const startingUp = serverError('57P03', 'the database system is starting up');
    for (const err of [refused, startingUp]) {
      expect(f({ err, statement: 'read', routedAsRead: true, attempt: 2 })).toMatchObject({ do: 'retry', on: 'other-node', markDown: true });
      expect(f({ err, statement: 'read', attempt: 5 })).toMatchObject({ do: 'retry', on: 'primary' });
      expect(f({ err, statement: 'read', attempt: 5, late: true })).toMatchObject({ do: 'timeout', cause: err });
    }
    // A session lost while the read ran is still counted; readRetries 0 still means no retry.
    expect(codeOf(f({ err: socketGone, statement: 'read', attempt: 2 }))).toBe('CONNECTION_LOST');
    expect(codeOf(f({ err: refused, statement: 'read', retries: 0 }))).toBe('CONNECTION_LOST');
  });

  it('a lost write is never replayed: TRANSACTION_RESOLUTION_UNKNOWN, with the socket error as cause', () => {
    const v = f({});
    expect(codeOf(v)).toBe('TRANSACTION_RESOLUTION_UNKNOWN');
    expect(v.do === 'throw' && (v.error as FailoverError).cause).toBe(socketGone);
    expect(v).toMatchObject({ markDown: true });
  });

  it('a write that provably never reached the server, and a lone BEGIN, run again on the next primary (bounded; FAILOVER_TIMEOUT once late)', () => {
    expect(f({ err: notQueryable })).toMatchObject({ do: 'retry', on: 'primary' });
    expect(f({ err: shutdownWhileReading })).toMatchObject({ do: 'retry', on: 'primary' });
    expect(f({ statement: 'begin' })).toMatchObject({ do: 'retry', on: 'primary' });
    expect(codeOf(f({ err: notQueryable, attempt: 5 }))).toBe('TRANSACTION_RESOLUTION_UNKNOWN');
    expect(f({ err: notQueryable, late: true })).toMatchObject({ do: 'timeout' });
    // 57P01 raised anywhere but while reading the statement: it may have run.
    expect(codeOf(f({ err: serverError('57P01', 'terminating', 'ProcessInterrupts') }))).toBe('TRANSACTION_RESOLUTION_UNKNOWN');
  });

  it('inside a transaction: ROLLBACK answered locally, COMMIT with an xid resolved, without one unknown (or rolled back when nothing was written), anything else TRANSACTION_ROLLED_BACK', () => {
    const t = { inTransaction: true };
    expect(f({ ...t, statement: 'rollback' })).toEqual({ do: 'answer-rollback' });
    expect(f({ ...t, statement: 'commit', xid: '745' })).toEqual({ do: 'resolve-commit', xid: '745' });
    expect(codeOf(f({ ...t, statement: 'commit', xid: undefined }))).toBe('TRANSACTION_RESOLUTION_UNKNOWN');
    expect(codeOf(f({ ...t, statement: 'commit', xid: null }))).toBe('TRANSACTION_ROLLED_BACK');
    expect(codeOf(f({ ...t, statement: 'read', routedAsRead: true }))).toBe('TRANSACTION_ROLLED_BACK');
    expect(codeOf(f({ ...t, statement: 'begin' }))).toBe('TRANSACTION_ROLLED_BACK');
    expect(codeOf(f({ ...t, err: notQueryable }))).toBe('TRANSACTION_ROLLED_BACK');
  });

  it('a session with state (SET, LISTEN, temp tables) is never silently replaced: CONNECTION_LOST for a read, unknown outcome for a write', () => {
    expect(codeOf(f({ pinned: true, statement: 'read', routedAsRead: true }))).toBe('CONNECTION_LOST');
    expect(codeOf(f({ pinned: true }))).toBe('TRANSACTION_RESOLUTION_UNKNOWN');
    expect(codeOf(f({ pinned: true, statement: 'begin' }))).toBe('TRANSACTION_RESOLUTION_UNKNOWN');
  });

  it('our own typed losses (a hung standby’s TIMEOUT) keep their code when they end a read', () => {
    const hung = new FailoverError('TIMEOUT', 'standby did not answer');
    const v = f({ err: hung, statement: 'read', routedAsRead: true, attempt: 2 });
    expect(v).toEqual({ do: 'throw', error: hung, markDown: true });
  });

  it('statementOf: transaction control by its exact text, reads by the classifier, pins and learned writes as writes', () => {
    const c = new Classifier();
    const of = (t: string, learned = false) => statementOf(t, c.analyze(t), learned);
    expect(of('BEGIN')).toBe('begin');
    expect(of('start transaction isolation level serializable')).toBe('begin');
    expect(of('BEGIN; INSERT INTO t VALUES (1)')).toBe('write');
    expect(of('COMMIT')).toBe('commit');
    expect(of('end work;')).toBe('commit');
    expect(of('ROLLBACK')).toBe('rollback');
    expect(of('SELECT 1')).toBe('read');
    expect(of('SELECT 1', true)).toBe('write');
    expect(of('SELECT pg_advisory_lock(1)')).toBe('write');
    expect(of('UPDATE t SET x = 1')).toBe('write');
  });
});
