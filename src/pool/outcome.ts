/**
 * After a COMMIT was lost with its connection: did the transaction commit?
 * Asks whoever is primary now with pg_xact_status(xid) — the old primary
 * after its restart, or the promoted standby after a failover. A transaction
 * id the new primary has never heard of did not survive there: it counts as
 * not committed.
 */
import createDebug from 'debug';
import type { SessionHost } from './engine';
import { isServerError } from './error-kinds';

const debug = createDebug('pg-failover:pool');

export type CommitOutcome = 'committed' | 'aborted' | 'unknown';

export async function resolveCommit(pool: SessionHost, xid: string): Promise<CommitOutcome> {
  const deadline = Date.now() + pool.failoverTimeoutMillis;
  while (Date.now() < deadline) {
    let key: string;
    try {
      key = await pool.primaryNode(deadline);
    } catch {
      return 'unknown';
    }
    try {
      const { rows } = await pool.nodePool(key).pool.query<{ status: string | null }>('SELECT pg_xact_status($1::xid8) AS status', [xid]);
      const status = rows[0]?.status;
      debug('outcome of xid %s on %s: %s', xid, key, status);
      if (status === 'committed') return 'committed';
      if (status === 'aborted') return 'aborted';
      // 'in progress' (the session may still be ending) or null (too old to know): ask again shortly.
      if (status === null) return 'unknown';
    } catch (err) {
      // 22023: "transaction ID … is in the future" — this primary never saw it.
      if (isServerError(err) && err.code === '22023') return 'aborted';
      pool.markDown(key, err as Error);
    }
    await new Promise((r) => setTimeout(r, 200).unref());
  }
  return 'unknown';
}
