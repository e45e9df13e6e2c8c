/**
 * WAL positions (PostgreSQL's pg_lsn), one type and one parser for the whole package.
 *
 * Two spellings meet here: PostgreSQL's text (`16/B374D848`, two hex halves) and Patroni's
 * integer byte offset (what it writes to etcd and answers over REST as `xlog_location`,
 * `optime`, history LSNs). Inside the client positions are `Lsn` (bigint, exact for every
 * pg_lsn); the manager keeps Patroni's integers (exact up to 2^53 bytes, 8 PiB of WAL).
 */
import { FailoverError } from './errors';

/** A WAL byte position. */
export type Lsn = bigint;

const LSN_TEXT = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/;

/** pg_lsn text → Lsn; INVALID_OPTION names the text otherwise. */
export function parseLsn(text: string): Lsn {
  const m = typeof text === 'string' ? LSN_TEXT.exec(text) : null;
  if (!m) throw new FailoverError('INVALID_OPTION', `not a WAL position (pg_lsn text like "16/B374D848"): ${JSON.stringify(String(text).slice(0, 40))}`);
  return (BigInt(`0x${m[1]}`) << 32n) | BigInt(`0x${m[2]}`);
}

/** Lsn or Patroni's integer position → pg_lsn text (upper-case hex halves, as PostgreSQL and Patroni's `format_lsn` print it). */
export function formatLsn(position: Lsn | number): string {
  const v = typeof position === 'bigint' ? position : BigInt(Math.trunc(position));
  return `${(v >> 32n).toString(16).toUpperCase()}/${(v & 0xffffffffn).toString(16).toUpperCase()}`;
}

/** pg_lsn text → Patroni's integer position. */
export function lsnToPosition(text: string): number {
  return Number(parseLsn(text));
}
