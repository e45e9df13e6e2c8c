/**
 * After a COMMIT was lost with its connection: did the transaction commit?
 * Asks whoever is primary now with pg_xact_status(xid) — the old primary
 * after its restart, or the promoted standby after a failover — and believes
 * a "committed" only from a node proven to know that id from the history it
 * was handed out in (xid-witness.ts: a promoted standby that never received the
 * transaction hands its id out again). A transaction id the primary has never
 * heard of, or calls aborted, did not commit there.
 */
import createDebug from 'debug';
import type { SessionHost } from './engine';
import { isServerError } from './error-kinds';
import { STARTED_SQL, XidWitness, type LostTransaction } from './xid-witness';

const debug = createDebug('pg-failover:pool');

export type CommitOutcome = 'committed' | 'aborted' | 'unknown';
export type { LostTransaction };

const STATUS = `SELECT pg_xact_status($1::xid8) AS status, ${STARTED_SQL} AS started`;

export async function resolveCommit(pool: SessionHost, lost: LostTransaction): Promise<CommitOutcome> {
  const witness = new XidWitness(pool, lost);
  try {
    return await ask(pool, lost, witness);
  } finally {
    witness.stop();
  }
}

async function ask(pool: SessionHost, lost: LostTransaction, witness: XidWitness): Promise<CommitOutcome> {
  const { xid } = lost;
  const deadline = Date.now() + pool.failoverTimeoutMillis;
  while (Date.now() < deadline) {
    let key: string;
    try {
      key = await pool.primaryNode(deadline);
    } catch {
      return 'unknown';
    }
    try {
      const { rows } = await pool.nodePool(key).pool.query<{ status: string | null; started: string }>(STATUS, [xid]);
      const status = rows[0]?.status;
      debug('outcome of xid %s on %s: %s', xid, key, status);
      if (status === 'aborted') return 'aborted';
      // null: too old to know.
      if (status === null) return 'unknown';
      if (status === 'committed') {
        if (await witness.vouchesFor(key, rows[0]!.started)) return 'committed';
        debug('xid %s committed on %s, but nothing proves %s had the lost transaction: it may be another one with the same id', xid, key, key);
        return 'unknown';
      }
      // 'in progress': the session may still be ending (or, unproven, someone else holds the id): ask again shortly.
    } catch (err) {
      // 22023: "transaction ID … is in the future" — this primary never saw it.
      if (isServerError(err) && err.code === '22023') return 'aborted';
      pool.markDown(key, err as Error);
    }
    await new Promise((r) => setTimeout(r, 200).unref());
  }
  return 'unknown';
}
