/**
 * How the campaign reads an operation's result: acknowledged, definitely not
 * applied, or in doubt (resolved later by reading). "Definitely failed" is a
 * claim the client makes — the register checker holds it to that claim.
 */
import { isFailoverError } from '../../src/errors';

export type Outcome = 'ok' | 'failed' | 'unknown';

/** Codes with which our Pool says the statement was not applied. */
const NOT_APPLIED = new Set(['NO_PRIMARY', 'FAILOVER_TIMEOUT', 'NO_HOST_AVAILABLE', 'CONNECT_TIMEOUT', 'POOL_ENDED', 'TRANSACTION_ROLLED_BACK', 'NO_STANDBY']);

/**
 * `failed` for a pg-failover code that promises "not applied" and for a
 * server-sent SQLSTATE error other than a shutdown/connection one (57P0x,
 * 08xxx: a commit may have happened locally before the session died);
 * `unknown` for everything else (lost connections, TRANSACTION_RESOLUTION_UNKNOWN, timeouts).
 */
export function classify(err: unknown): Outcome {
  if (isFailoverError(err)) return NOT_APPLIED.has(err.code) ? 'failed' : 'unknown';
  const code = (err as { code?: unknown; severity?: unknown })?.code;
  const severity = (err as { severity?: unknown })?.severity;
  if (typeof severity === 'string' && typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) {
    return code.startsWith('57P') || code.startsWith('08') ? 'unknown' : 'failed';
  }
  return 'unknown';
}

/** pg's errors that carry no code, by their fixed text: node-postgres gives them nothing else to tell them apart. */
const PG_UNCODED: Array<[string, string]> = [
  ['Query read timeout', 'query timeout'],
  ['Connection terminated unexpectedly', 'connection terminated'],
  ['Connection terminated', 'connection terminated'],
  ['timeout expired', 'connect timeout'],
];

/** A short label for an error (its stable code, else what pg's uncoded errors say, else its class and a short message without numbers), for counting. */
export function errorLabel(err: unknown): string {
  const e = err as { code?: unknown; name?: unknown; message?: unknown };
  if (typeof e?.code === 'string') return e.code;
  const known = typeof e?.message === 'string' ? PG_UNCODED.find(([text]) => e.message === text) : undefined;
  if (known) return known[1];
  const name = typeof e?.name === 'string' ? e.name : 'unknown';
  // pg's other uncoded errors are fixed texts too: keep a short one, so the counts say what happened
  return typeof e?.message === 'string' && e.message && !/\d{3}/.test(e.message) ? `${name}: ${e.message.slice(0, 60)}` : name;
}

/** One timed operation of a workload. */
export interface Op {
  workload: string;
  kind: 'write' | 'read';
  start: number;
  end: number;
  outcome: Outcome;
  error?: string;
}

/** An invariant and how often it was broken. */
export interface Invariant {
  name: string;
  /** How many things were checked (ids, reads, rounds …). */
  checked: number;
  violations: number;
  /** A few examples of violations (ids, times). */
  examples: string[];
}

/** Something counted and reported but never a violation (e.g. what only synchronous replication prevents). */
export interface Measurement {
  name: string;
  /** How many things were looked at. */
  checked: number;
  count: number;
  examples: string[];
}
