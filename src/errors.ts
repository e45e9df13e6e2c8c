/**
 * The pg-failover error family. Every error this package raises on its own
 * account extends {@link FailoverError} and carries a stable `code`; match on
 * `code`, never on message text. SQLSTATE errors from the server stay pg's own
 * `DatabaseError` and are never wrapped silently; when we do wrap one (or a
 * socket error) it is kept as `cause`.
 *
 * Messages never contain a password.
 */

/** Every error code this package can raise. Stable: new codes may be added, none is renamed. */
export type FailoverErrorCode =
  // connection strings and options
  | 'CONNINFO_SYNTAX'
  | 'CONNINFO_UNKNOWN_KEYWORD'
  | 'CONNINFO_INVALID_VALUE'
  | 'CONNINFO_HOST_PORT_MISMATCH'
  | 'CONNINFO_SERVICE'
  | 'INVALID_OPTION'
  // connecting
  | 'NO_HOST_AVAILABLE'
  | 'CONNECT_TIMEOUT'
  // routing / failover
  | 'NO_PRIMARY'
  | 'NO_STANDBY'
  | 'FAILOVER_TIMEOUT'
  | 'TRANSACTION_RESOLUTION_UNKNOWN'
  | 'TRANSACTION_ROLLED_BACK'
  /** A write whose connection was lost committed (resolved with pg_xact_status), but its result did not arrive: do not run it again. */
  | 'TRANSACTION_COMMITTED'
  | 'CONNECTION_LOST'
  | 'POOL_ENDED'
  // topology
  | 'TOPOLOGY_SOURCE'
  // process control (manager, `up`, tests)
  | 'BINARY_NOT_FOUND'
  | 'DATA_DIR_EXISTS'
  | 'SERVER_START_FAILED'
  | 'COMMAND_FAILED'
  | 'TIMEOUT'
  | 'UNSAFE_USER'
  // manager
  | 'MANAGER_CONFIG'
  | 'MANAGER_DUPLICATE_NAME'
  | 'DCS_ERROR'
  /** A state machine was asked for a transition it forbids: a bug in this package, never the user's input. */
  | 'INTERNAL_STATE';

export interface FailoverErrorOptions {
  cause?: unknown;
  /** The node (host:port) the error is about, where there is one. */
  node?: string;
  /** Extra machine-readable detail. Must not contain secrets. */
  detail?: Record<string, unknown>;
}

/** Base class of every pg-failover error. */
export class FailoverError extends Error {
  readonly code: FailoverErrorCode;
  readonly node?: string;
  readonly detail?: Record<string, unknown>;
  /** Whether repeating the same operation (elsewhere, or later) is safe and may succeed. */
  readonly retryable: boolean;

  constructor(code: FailoverErrorCode, message: string, options: FailoverErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'FailoverError';
    this.code = code;
    if (options.node !== undefined) this.node = options.node;
    if (options.detail !== undefined) this.detail = options.detail;
    this.retryable = RETRYABLE.has(code);
  }
}

const RETRYABLE: ReadonlySet<FailoverErrorCode> = new Set<FailoverErrorCode>([
  'NO_HOST_AVAILABLE',
  'CONNECT_TIMEOUT',
  'NO_PRIMARY',
  'FAILOVER_TIMEOUT',
  'CONNECTION_LOST',
  'TOPOLOGY_SOURCE',
  'TIMEOUT',
]);

/** A connection string or option that libpq (or we) cannot accept. */
export class ConnectionStringError extends FailoverError {
  /** The offending fragment of the input (never a password). */
  readonly fragment?: string;
  constructor(code: FailoverErrorCode, message: string, options: FailoverErrorOptions & { fragment?: string } = {}) {
    super(code, message, options);
    this.name = 'ConnectionStringError';
    if (options.fragment !== undefined) this.fragment = options.fragment;
  }
}

/** An external program (initdb, pg_ctl, etcd …) is missing, failed, or timed out. */
export class ProcessError extends FailoverError {
  constructor(code: FailoverErrorCode, message: string, options: FailoverErrorOptions = {}) {
    super(code, message, options);
    this.name = 'ProcessError';
  }
}

export function isFailoverError(e: unknown): e is FailoverError {
  return e instanceof FailoverError;
}

export function isConnectionStringError(e: unknown): e is ConnectionStringError {
  return e instanceof ConnectionStringError;
}

/** Removes `password=…` and `user:password@` forms from a string before it reaches a message or log. */
export function redact(text: string): string {
  return text
    .replace(/(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S*)/gi, '$1***')
    .replace(/(\/\/[^/@:\s]*:)[^@/\s]*@/g, '$1***@');
}
