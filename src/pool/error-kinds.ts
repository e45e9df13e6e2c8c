/**
 * What an error from a node means for routing, decided in one place:
 * did the server refuse a write because it is a standby, is the session
 * gone, and should the topology be re-checked now.
 */
import pg from 'pg';
import { FailoverError } from '../errors';

/** A server-sent error (SQLSTATE), as opposed to a socket/connection failure. */
export function isServerError(err: unknown): err is pg.DatabaseError {
  return err instanceof pg.DatabaseError || (typeof err === 'object' && err !== null && typeof (err as { severity?: unknown }).severity === 'string' && typeof (err as { code?: unknown }).code === 'string' && /^[0-9A-Z]{5}$/.test((err as { code: string }).code));
}

/** The node is a standby and refused a write (SQLSTATE 25006, or "cannot assign TransactionIds during recovery"). */
export function isReadOnlyRefusal(err: unknown): boolean {
  if (!isServerError(err)) return false;
  return err.code === '25006' || /cannot assign TransactionIds during recovery/i.test(err.message);
}

/** SQLSTATEs that mean the server is going away or not accepting sessions: admin/crash shutdown, cannot connect now. */
const SHUTDOWN_STATES = new Set(['57P01', '57P02', '57P03']);

/** The session is unusable: a socket error, a timeout of ours, or the server shutting down. */
export function isConnectionLoss(err: unknown): boolean {
  if (err instanceof FailoverError) return err.code === 'CONNECTION_LOST' || err.code === 'CONNECT_TIMEOUT' || err.code === 'TIMEOUT';
  if (isServerError(err)) return SHUTDOWN_STATES.has(err.code ?? '') || (err.code ?? '').startsWith('08');
  return err instanceof Error;
}

/**
 * No session was ever opened: the socket connect was refused or could not be made (the node is
 * down or its address unreachable), or the server refused new sessions (57P03). Nothing ran.
 */
export function neverConnected(err: unknown): boolean {
  if (err instanceof FailoverError) return err.code === 'CONNECT_TIMEOUT';
  if (isServerError(err)) return err.code === '57P03';
  return err instanceof Error && (err as NodeJS.ErrnoException).syscall === 'connect';
}

/** The error says the cluster may have changed: re-check topology now. */
export function signalsTopologyChange(err: unknown): boolean {
  return isReadOnlyRefusal(err) || isConnectionLoss(err);
}

/**
 * The statement provably never ran: the session was already unusable when it
 * was handed over (pg refuses to send on it), or the server died while
 * *waiting for input* — a FATAL 57P0x raised from `secure_read` means the
 * backend had not received the whole statement (a backend that had it would
 * have run it and answered before blocking on the socket again). Such a
 * write is safe to send again to the next primary.
 */
export function neverExecuted(err: unknown): boolean {
  if (isServerError(err)) return SHUTDOWN_STATES.has(err.code ?? '') && (err as { routine?: string }).routine === 'secure_read';
  return err instanceof Error && /not queryable|Client was closed and is not queryable/i.test(err.message);
}
