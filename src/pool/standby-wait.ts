/**
 * A causal read's wait on the standby itself: before a read that must see
 * WAL position P runs on a standby not known to have replayed P, one
 * statement on the read's own session waits — on the server, bounded — for
 * replay to reach P, and answers how far replay got. The read then runs on
 * that session (replay only moves forward), or, when the bound ran out, on
 * the primary. Standbys' positions come from these answers, not from polls.
 *
 * It runs only for a standby found behind (CausalTracker.caughtUp looks first,
 * once per standby for all the reads waiting). PostgreSQL 13–18 have no
 * WAIT FOR LSN, so the wait is a DO block: it spins
 * for up to SPIN_MICROS (replay on a healthy standby is usually that close),
 * then sleeps in 1 ms steps (pg_sleep's granularity) until the bound. The
 * position and bound are numbers this module formats itself: no user input
 * reaches the SQL.
 */
import type pg from 'pg';
import { FailoverError } from '../errors';
import { formatLsn, parseLsn } from '../lsn';

/** How long the wait spins before it sleeps, µs. */
const SPIN_MICROS = 300;
/** The client gives the server this much beyond the bound before it calls the session (or the standby) hung. */
export const STANDBY_GUARD_MILLIS = 500;

/** The wait statement (simple protocol, two statements: the wait, then the replay position). */
export function waitSql(minLsn: bigint, waitMillis: number): string {
  const lsn = `'${formatLsn(minLsn)}'::pg_lsn`;
  const ms = Math.max(0, Math.floor(waitMillis));
  return (
    `DO $pgfailover_wait$ DECLARE spin timestamptz := clock_timestamp() + interval '${SPIN_MICROS} microseconds'; ` +
    `stop timestamptz := clock_timestamp() + interval '${ms} milliseconds'; BEGIN ` +
    `WHILE pg_last_wal_replay_lsn() < ${lsn} AND clock_timestamp() < stop LOOP ` +
    `IF clock_timestamp() >= spin THEN PERFORM pg_sleep(0.001); END IF; END LOOP; END $pgfailover_wait$; ` +
    `SELECT pg_last_wal_replay_lsn()::text AS lsn`
  );
}

/**
 * Runs the wait on `client` (a standby session) and returns how far replay got (null: the
 * node is not in recovery). Rejects with TIMEOUT when the server does not answer within
 * the bound plus a margin (a hung standby): the caller must destroy the session.
 */
export async function waitForReplay(client: pg.PoolClient, minLsn: bigint, waitMillis: number): Promise<bigint | null> {
  let timer: NodeJS.Timeout | undefined;
  const guard = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new FailoverError('TIMEOUT', `a standby did not answer its replay wait within ${waitMillis + STANDBY_GUARD_MILLIS} ms (causalWaitMillis ${waitMillis} + ${STANDBY_GUARD_MILLIS})`)),
      waitMillis + STANDBY_GUARD_MILLIS,
    );
  });
  try {
    const results = (await Promise.race([client.query(waitSql(minLsn, waitMillis)), guard])) as unknown as pg.QueryResult[];
    const lsn = (results[results.length - 1]?.rows?.[0] as { lsn?: string | null } | undefined)?.lsn;
    return typeof lsn === 'string' ? parseLsn(lsn) : null;
  } finally {
    clearTimeout(timer);
  }
}
