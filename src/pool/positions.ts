/**
 * A write and its WAL position in one round trip. Reads after writes must know how far the
 * primary's WAL had gone once the write committed (causal.ts); asking `pg_current_wal_lsn()`
 * on the write's own session right after it costs a round trip during which the session is
 * held. node-postgres ≥ 8.23 can pipeline (`client.pipeline`): both statements go out at once,
 * each with its own Sync, so the write commits (its own implicit transaction) before the
 * position is read, and both answers come back together.
 *
 * The session is ours (taken from a node's pool for this one write), idle when this starts, and
 * switched back to ordinary mode before it is released. Where the driver has no pipeline mode,
 * the position is asked after the write (one more round trip), as before.
 */
import type pg from 'pg';
import { isConnectionLoss } from './error-kinds';

const POSITION = 'SELECT pg_current_wal_lsn()::text AS lsn';

/** The parts of pg.Client's pipeline mode this relies on (pg ≥ 8.23). */
interface Pipelining {
  pipeline: boolean;
  _sentQueryQueue?: unknown[];
}

export interface WriteWithPosition {
  /** The write's own result, as `client.query` gives it. */
  readonly result: Promise<pg.QueryResult>;
  /** The primary's WAL position read right after the write committed (rejects if it could not be read). */
  readonly position: Promise<string>;
}

/**
 * Runs `q` on `client` and reads the position after it; the client is released (destroyed if the
 * session was lost) once both answers are in — the caller must not release it.
 */
export function writeWithPosition(client: pg.PoolClient, q: pg.QueryConfig, plain: boolean): WriteWithPosition {
  const c = client as unknown as Pipelining;
  const canPipeline = typeof c.pipeline === 'boolean' && Array.isArray(c._sentQueryQueue) && !('rows' in q);
  if (!canPipeline) {
    const result = plain ? client.query(q.text, q.values) : client.query(q);
    const position = result.then(
      () => client.query<{ lsn: string }>(POSITION).then((r) => r.rows[0]!.lsn),
      () => Promise.reject(new Error('the write failed: no position to read')),
    );
    releaseAfter(client, result, position);
    return { result, position };
  }
  c.pipeline = true;
  let result: Promise<pg.QueryResult>;
  let position: Promise<string>;
  try {
    result = plain ? client.query(q.text, q.values) : client.query(q);
    position = client.query<{ lsn: string }>(POSITION).then((r) => r.rows[0]!.lsn);
  } catch (err) {
    c.pipeline = false;
    throw err;
  }
  releaseAfter(client, result, position, () => {
    c.pipeline = false; // idle again: back to one statement at a time before anyone else gets it
  });
  return { result, position };
}

function releaseAfter(client: pg.PoolClient, result: Promise<unknown>, position: Promise<unknown>, before?: () => void): void {
  void Promise.allSettled([result, position]).then(([r, p]) => {
    before?.();
    const lost = [r, p].find((s) => s.status === 'rejected' && isConnectionLoss(s.reason));
    client.release(lost ? ((lost as PromiseRejectedResult).reason as Error) : undefined);
  });
}
