/**
 * After a COMMIT was lost with its connection: did the transaction commit?
 * Asks whoever is primary now with pg_xact_status(xid) — the old primary
 * after its restart, or the promoted standby after a failover — and believes
 * a "committed" only from a node proven to know that id from the history it
 * was handed out in (xid-witness.ts: a promoted standby that never received the
 * transaction hands its id out again). A transaction id the primary has never
 * heard of, or calls aborted, did not commit there; nor did one whose commit
 * would lie past everything the primary replayed before it became primary.
 */
import createDebug from 'debug';
import type pg from 'pg';
import type { SessionHost } from './engine';
import { isServerError } from './error-kinds';
import { sessionOf, type NodePool } from './node-pools';
import { commitProvablyAbsent, STARTED_SQL, XidWitness, type LostTransaction } from './xid-witness';

const debug = createDebug('pg-failover:pool');

export type CommitOutcome = 'committed' | 'aborted' | 'unknown';
export type { LostTransaction };

/** What a resolution found, and for `unknown` why it could not tell (for the error's message and `detail.why`). */
export interface Resolution {
  outcome: CommitOutcome;
  why?: string;
}

const unknown = (why: string): Resolution => ({ outcome: 'unknown', why });

/**
 * The durability barrier: a transaction that writes WAL (a transactional logical-decoding message,
 * executable by any role, readable only by logical decoding that asks for messages) so that its
 * COMMIT waits for the synchronous standbys. A transaction that only took an id writes no WAL of
 * its own and would not wait.
 */
const BARRIER = "SELECT pg_catalog.pg_logical_emit_message(true, 'pg-failover', 'durability barrier')";
const STATUS = `SELECT pg_xact_status($1::xid8) AS status, ${STARTED_SQL} AS started,
  (NOT pg_catalog.pg_is_in_recovery() AND pg_catalog.pg_last_wal_replay_lsn() <= $2::pg_lsn) AS replay_short`;

export async function resolveCommit(pool: SessionHost, lost: LostTransaction): Promise<Resolution> {
  const witness = new XidWitness(pool, lost);
  try {
    return await ask(pool, lost, witness);
  } finally {
    witness.stop();
  }
}

async function ask(pool: SessionHost, lost: LostTransaction, witness: XidWitness): Promise<Resolution> {
  const { xid } = lost;
  const deadline = Date.now() + pool.failoverTimeoutMillis;
  let last = 'no primary was found to ask';
  while (Date.now() < deadline) {
    let key: string;
    try {
      key = await pool.primaryNode(deadline);
    } catch {
      return unknown(`no primary could be asked within failoverTimeoutMillis (${pool.failoverTimeoutMillis} ms)`);
    }
    try {
      const np = pool.nodePool(key);
      const { rows } = await statusOn(np, xid, lost.lsn);
      const status = rows[0]?.status;
      debug('outcome of xid %s on %s: %s', xid, key, status);
      if (status === 'aborted') return { outcome: 'aborted' };
      if (commitProvablyAbsent(lost, rows[0]?.started, rows[0]?.replay_short ?? null)) {
        debug('xid %s: %s replayed nothing past %s, where the commit would be: it did not commit in this history', xid, key, lost.lsn);
        return { outcome: 'aborted' };
      }
      // null: too old to know.
      if (status === null) return unknown(`${key} no longer knows transaction ${xid} (pg_xact_status is NULL: too old)`);
      if (status === 'committed') {
        if (!(await witness.vouchesFor(key, rows[0]!.started))) {
          debug('xid %s committed on %s, but nothing proves %s had the lost transaction: it may be another one with the same id', xid, key, key);
          return unknown(`${key} says transaction ${xid} committed, but it restarted or recovered since the write was sent and nothing proves that id is still the lost write's (a recovered node may hand an id out again)`);
        }
        return (await durable(pool, key, deadline))
          ? { outcome: 'committed' }
          : unknown(`transaction ${xid} committed on ${key}, but its synchronous standbys did not confirm it within failoverTimeoutMillis`);
      }
      last = `${key} still showed transaction ${xid} in progress`;
      // 'in progress': the session may still be ending (or, unproven, someone else holds the id): ask again shortly.
    } catch (err) {
      // 22023: "transaction ID … is in the future" — this primary never saw it.
      if (isServerError(err) && err.code === '22023') return { outcome: 'aborted' };
      last = `${key} did not answer (${(err as Error).message})`;
      pool.markDown(key, err as Error);
      // Not answered (the node refused the session, or lost it): primaryNode() holds while the node is
      // marked down and wakes the moment the topology names the next primary. A pause here made a
      // resolution up to 200 ms late when that happened during it (campaign, kill -9 of the primary).
      if (!isServerError(err)) continue;
    }
    await new Promise((r) => setTimeout(r, 200).unref());
  }
  return unknown(`failoverTimeoutMillis (${pool.failoverTimeoutMillis} ms) ran out; last: ${last}`);
}

/**
 * A commit found after its session was lost may exist on this node alone: a backend terminated
 * while it waited for its synchronous standby leaves it committed locally, and crash recovery
 * makes such a commit visible without any standby having it (measured in the campaign: a
 * `crash-postgres` fault, the lost write "committed" on the restarted primary, then gone after the
 * failover that followed). Before it is reported committed, a transaction of our own commits on
 * that node (BARRIER): its commit waits for the synchronous standbys like any other, and its WAL
 * comes after the lost one's, so once it returns the lost commit is as durable as an acknowledged one.
 */
async function durable(pool: SessionHost, key: string, deadline: number): Promise<boolean> {
  const left = deadline - Date.now();
  if (left <= 0) return false;
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      pool.nodePool(key).pool.query(BARRIER),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error('the synchronous standbys did not confirm in time')), left);
        timer.unref();
      }),
    ]);
    return true;
  } catch (err) {
    debug('commit found on %s, but not confirmed durable: %s', key, (err as Error).message);
    return false;
  } finally {
    if (timer) clearTimeout(timer);
  }
}

type StatusRow = { status: string | null; started: string; replay_short: boolean | null };

/** The STATUS query on a session of the node: one being opened there (a revival) rather than another beside it. */
async function statusOn(np: NodePool, xid: string, lsn: string | undefined): Promise<pg.QueryResult<StatusRow>> {
  const client = await sessionOf(np);
  try {
    const result = await client.query<StatusRow>(STATUS, [xid, lsn ?? null]);
    client.release();
    return result;
  } catch (err) {
    client.release(err as Error);
    throw err;
  }
}
