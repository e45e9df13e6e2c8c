/**
 * An autocommit write whose outcome can be resolved if its connection dies (the Pool's
 * `resolveWriteOutcome` option). Without it, a write in flight when the session is lost is
 * `TRANSACTION_RESOLUTION_UNKNOWN`: it may or may not have committed. With it, the write runs
 * as `BEGIN; SELECT pg_current_xact_id(); <write>; COMMIT` — pipelined, one round trip
 * (node-postgres ≥ 8.23) — so its transaction id is known before the write itself runs, and a
 * lost write is resolved like a lost COMMIT of a checked-out client: `pg_xact_status(xid)` on
 * whoever is primary next (outcome.ts).
 *
 * Only a single INSERT / UPDATE / DELETE / MERGE / WITH / SELECT is wrapped: statements that
 * cannot run inside a transaction block (VACUUM, CREATE INDEX CONCURRENTLY, …), transaction
 * control and multi-statement strings are sent as they are.
 */
import type pg from 'pg';
import type { Analysis } from '../routing/classify';
import { isConnectionLoss } from './error-kinds';

const WRAPPABLE = /^\s*(?:\/\*[\s\S]*?\*\/\s*|--[^\n]*\n\s*)*(?:insert|update|delete|merge|with|select)\b/i;
const POSITION = 'SELECT pg_current_wal_lsn()::text AS lsn';
const BEGIN_XID = 'BEGIN; SELECT pg_current_xact_id()::text AS xid';

/** pg.Client's pipeline mode, as positions.ts uses it. */
interface Pipelining {
  pipeline: boolean;
  _sentQueryQueue?: unknown[];
}

/** Whether the statement itself can be wrapped as a resolvable write (one plain DML statement, no cursor). */
export function resolvableStatement(q: pg.QueryConfig, text: string, a: Analysis): boolean {
  return a.statements === 1 && a.kind === 'write' && !a.pins && WRAPPABLE.test(text) && !('rows' in q);
}

/** Whether `text` can be sent as a resolvable write on `client` (the driver must pipeline). */
export function canResolve(client: pg.PoolClient, q: pg.QueryConfig, text: string, a: Analysis): boolean {
  const c = client as unknown as Pipelining;
  return resolvableStatement(q, text, a) && typeof c.pipeline === 'boolean' && Array.isArray(c._sentQueryQueue);
}

export interface ResolvableWrite {
  /** The write's result, once its COMMIT has answered (a write is acknowledged only then). */
  readonly result: Promise<pg.QueryResult>;
  /** The write's transaction id (known before the write runs; rejects if BEGIN or the id failed). */
  readonly xid: Promise<string>;
  /** Whether the write's own answer arrived before anything was lost (then only COMMIT's is missing). */
  readonly answered: () => pg.QueryResult | undefined;
  /** The WAL position after the COMMIT, when asked for. */
  readonly position?: Promise<string>;
}

/**
 * Sends the wrapped write on `client` (idle, taken for this write). The client is released once
 * every answer is in (destroyed if the session was lost): the caller must not release it.
 */
export function resolvableWrite(client: pg.PoolClient, q: pg.QueryConfig, plain: boolean, withPosition: boolean): ResolvableWrite {
  const c = client as unknown as Pipelining;
  c.pipeline = true;
  let answer: pg.QueryResult | undefined;
  const sent: Array<Promise<unknown>> = [];
  let xid: Promise<string>;
  let write: Promise<pg.QueryResult>;
  let commit: Promise<pg.QueryResult>;
  let position: Promise<string> | undefined;
  try {
    // One simple-protocol message for both: a BEGIN inside it makes the block outlive the message.
    xid = (client.query(BEGIN_XID) as unknown as Promise<pg.QueryResult[]>).then((r) => (r[1]!.rows[0] as { xid: string }).xid);
    write = (plain ? client.query(q.text, q.values) : client.query(q)).then((r) => (answer = r));
    commit = client.query('COMMIT');
    if (withPosition) position = client.query<{ lsn: string }>(POSITION).then((r) => r.rows[0]!.lsn);
  } catch (err) {
    c.pipeline = false;
    throw err;
  }
  sent.push(xid, write, commit, ...(position ? [position] : []));
  void Promise.allSettled(sent).then((settled) => {
    c.pipeline = false; // idle again: back to one statement at a time before anyone else gets it
    const lost = settled.find((s) => s.status === 'rejected' && isConnectionLoss(s.reason));
    client.release(lost ? ((lost as PromiseRejectedResult).reason as Error) : undefined);
  });
  // A failed write aborts the block; its COMMIT then answers ROLLBACK: the write's own error is the answer.
  const result = write.then(async (r) => {
    await commit;
    return r;
  });
  return { result, xid, answered: () => answer, ...(position ? { position } : {}) };
}
