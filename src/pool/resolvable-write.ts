/**
 * An autocommit write whose outcome can be resolved if its connection dies (the Pool's
 * `resolveWriteOutcome` option). Without it, a write in flight when the session is lost is
 * `TRANSACTION_RESOLUTION_UNKNOWN`: it may or may not have committed. With it, the write runs
 * in two round trips: `BEGIN; SELECT pg_current_xact_id()` first, then — only once that id is in
 * hand — `<write>; SELECT <WAL insert position>; COMMIT` pipelined (node-postgres ≥ 8.23). So:
 *
 * - lost before the id came back: the write was never sent, it did not run, and runs again;
 * - lost after: it is resolved like a lost COMMIT of a checked-out client, `pg_xact_status(xid)`
 *   on whoever is primary next, believed only where that id is provably this transaction's
 *   (outcome.ts, xid-witness.ts).
 *
 * One pipelined round trip (the id, the write and COMMIT sent together) was the first design:
 * a node killed mid-way could take the id's answer with it while the write had run, and 10 of
 * 19,133 campaign writes stayed unknown that way. The second round trip is the price of 0
 * (bench/overhead measures it).
 *
 * Only a single INSERT / UPDATE / DELETE / MERGE / WITH / SELECT is wrapped: statements that
 * cannot run inside a transaction block (VACUUM, CREATE INDEX CONCURRENTLY, …), transaction
 * control and multi-statement strings are sent as they are.
 */
import type pg from 'pg';
import type { Analysis } from '../routing/classify';
import { FailoverError } from '../errors';
import { isConnectionLoss } from './error-kinds';
import { INSERT_LSN_SQL, STARTED_SQL } from './xid-witness';

const WRAPPABLE = /^\s*(?:\/\*[\s\S]*?\*\/\s*|--[^\n]*\n\s*)*(?:insert|update|delete|merge|with|select)\b/i;
const POSITION = 'SELECT pg_current_wal_lsn()::text AS lsn';
const BEGIN_XID = `BEGIN; SELECT pg_current_xact_id()::text AS xid, ${STARTED_SQL} AS started, ${INSERT_LSN_SQL} AS lsn`;
/** Sent between the write and COMMIT, in the same round trip: the commit record lies at or past it. */
const BEFORE_COMMIT = `SELECT ${INSERT_LSN_SQL} AS lsn`;

/** What the first round trip answers. */
export interface SentWrite {
  readonly xid: string;
  readonly started: string;
  /** The WAL insert position then. */
  readonly lsn: string | null;
}

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
  /** The write's transaction id and its node's start time (rejects if BEGIN or the id failed: then the write was never sent). */
  readonly xid: Promise<SentWrite>;
  /** Whether the write's own answer arrived before anything was lost (then only COMMIT's is missing). */
  readonly answered: () => pg.QueryResult | undefined;
  /** The latest WAL insert position known to precede the COMMIT (the one read just before it, if its answer came). */
  readonly lsnBeforeCommit: () => string | undefined;
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
  let lsn: string | undefined;
  let xid: Promise<SentWrite>;
  try {
    // One simple-protocol message for both: a BEGIN inside it makes the block outlive the message.
    xid = (client.query(BEGIN_XID) as unknown as Promise<pg.QueryResult[]>).then((r) => {
      const row = r[1]!.rows[0] as SentWrite;
      lsn = row.lsn ?? undefined;
      return row;
    });
  } catch (err) {
    c.pipeline = false;
    throw err;
  }
  // The rest goes out only once the id is in hand (nothing is sent if it never comes).
  const rest = xid.then(() => {
    const write = (plain ? client.query(q.text, q.values) : client.query(q)).then((r) => (answer = r));
    const before = client.query<{ lsn: string | null }>(BEFORE_COMMIT).then((r) => (lsn = r.rows[0]?.lsn ?? lsn));
    before.catch(() => {}); // fails with the write (aborted block) or the session: `lsn` keeps BEGIN's
    const commit = client.query('COMMIT');
    const position = withPosition ? client.query<{ lsn: string }>(POSITION).then((r) => r.rows[0]!.lsn) : undefined;
    return { write, commit, position };
  });
  void rest
    .then(
      ({ write, commit, position }) => Promise.allSettled([xid, write, commit, ...(position ? [position] : [])]),
      () => Promise.allSettled([xid]),
    )
    .then((settled) => {
      c.pipeline = false; // idle again: back to one statement at a time before anyone else gets it
      const lost = settled.find((s) => s.status === 'rejected' && isConnectionLoss(s.reason));
      // The id's statement failed (a standby refusing to assign one, a full disk): its BEGIN left an
      // aborted block open and nothing after it was sent. Back in the pool, that session would answer
      // every later statement with 25P02 (the campaign: 157 inserts on a full disk), so it is closed.
      const open = settled[0]?.status === 'rejected' && !lost;
      client.release(lost ? ((lost as PromiseRejectedResult).reason as Error) : open ? new Error('aborted transaction block left by a failed resolvable write') : undefined);
    });
  // A failed write aborts the block; its COMMIT then answers ROLLBACK: the write's own error is the answer.
  const result = rest.then(async ({ write, commit }) => {
    const r = await write;
    // COMMIT of a block something in it aborted answers ROLLBACK, not an error: never report such a write as done.
    if ((await commit).command === 'ROLLBACK') throw new FailoverError('TRANSACTION_ROLLED_BACK', 'the write ran, but its transaction was rolled back before COMMIT (a statement after it failed); it did not commit and may be run again');
    return r;
  });
  const position = withPosition ? rest.then(({ position: p }) => p!) : undefined;
  position?.catch(() => {}); // read only after a committed write; a lost one is answered through `result`
  // Unobserved rejections of the pieces are answered through `result`.
  void rest.then(({ write, commit, position: p }) => {
    write.catch(() => {});
    commit.catch(() => {});
    p?.catch(() => {});
  }, () => {});
  return { result, xid, answered: () => answer, lsnBeforeCommit: () => lsn, ...(position ? { position } : {}) };
}
