/**
 * Reads after writes served by standbys (read-your-writes, waiting on the standby): the
 * machinery between the causal tracker (causal.ts: which position a read must see) and the
 * standby's own wait (standby-wait.ts): learning the writes' position, the shared look at a
 * standby's replay, and the bounded wait on the read's own session followed by the read.
 */
import pg from 'pg';
import createDebug from 'debug';
import { FailoverError } from '../errors';
import type { CausalTracker, ReadRequirement } from './causal';
import { isConnectionLoss } from './error-kinds';
import type { NodePool } from './node-pools';
import { STANDBY_GUARD_MILLIS, waitForReplay } from './standby-wait';
import { within } from '../within';

const debugRouter = createDebug('pg-failover:router');

const PRIMARY_ONLY: ReadRequirement = Object.freeze({ primaryOnly: true });
/** Longest a readFrom 'standby' read waits for its writes' position. */
export const STANDBY_WAIT_MILLIS = 5000;

export class CausalReads {
  /** Standbys that could not run the replay wait (detected once; see standby-wait.ts). */
  readonly #noWait = new Set<string>();

  constructor(
    private readonly causal: CausalTracker,
    private readonly options: { waitMillis: number; failoverTimeoutMillis: number; lastPrimary: () => string | undefined },
  ) {}

  /** The writes' position for a read that may wait on a standby; when it cannot be learnt (no primary, slow), the read goes as before. */
  async learnPosition(req: ReadRequirement): Promise<ReadRequirement> {
    try {
      return await within(this.causal.settle(req.minLsn), this.options.failoverTimeoutMillis, () => new FailoverError('TIMEOUT', 'the WAL position of the last writes could not be learnt'));
    } catch {
      return req.minLsn !== undefined ? { primaryOnly: true, minLsn: req.minLsn } : PRIMARY_ONLY;
    }
  }

  /**
   * readFrom 'standby' and this pool's last writes have no known position yet: learn it
   * (bounded; with the primary gone the guarantee becomes best effort, see CausalTracker).
   */
  settleForStandby(req: ReadRequirement): Promise<ReadRequirement> {
    const ms = Math.min(this.options.failoverTimeoutMillis, STANDBY_WAIT_MILLIS);
    return within(
      this.causal.settle(req.minLsn),
      ms,
      () => new FailoverError('NO_STANDBY', `the WAL position of this pool's last writes could not be learnt within ${ms} ms, so no standby can be shown to have them (readFrom: standby, readYourWrites)`),
    );
  }

  /** A standby not known to have replayed `minLsn`. */
  needsWait(key: string, minLsn: bigint): boolean {
    return key !== this.options.lastPrimary() && !this.causal.knows(key, minLsn);
  }

  /** The shared look at a standby's replay position (CausalTracker.caughtUp), bounded like the wait: a hung standby is a lost one. */
  caughtUp(key: string, minLsn: bigint): Promise<boolean> {
    const ms = this.options.waitMillis + STANDBY_GUARD_MILLIS;
    return within(this.causal.caughtUp(key, minLsn), ms, () => new FailoverError('TIMEOUT', `standby ${key} did not tell its replay position within ${ms} ms`, { node: key }));
  }

  /**
   * Waits on the standby's own session (standby-wait.ts) for `minLsn`, then runs the read there.
   * Undefined: the standby did not get there within causalWaitMillis, or cannot run the wait
   * (then it is never asked again) — the caller reads on the primary. A lost or hung session
   * rejects like a read on it would (the session is destroyed).
   */
  async readAfterWait(np: NodePool, q: pg.QueryConfig, plain: boolean, minLsn: bigint): Promise<pg.QueryResult | undefined> {
    const client = await np.pool.connect();
    let broken: Error | undefined;
    try {
      if (!(await this.replayedOn(np.key, client, minLsn))) return undefined;
      return await (plain ? client.query(q.text, q.values) : client.query(q));
    } catch (err) {
      if (isConnectionLoss(err) && !(err instanceof pg.DatabaseError)) broken = err as Error; // a server shutting down keeps its session usable until it closes
      throw err;
    } finally {
      client.release(broken);
    }
  }

  /**
   * Whether the session `client` on standby `key` has replayed `minLsn`, waiting there for at most
   * causalWaitMillis when it has not. False: it did not get there in time, is no longer in recovery,
   * or cannot run the wait (then it is never asked again): read on the primary. A lost or hung
   * session rejects (the caller destroys it).
   */
  async replayedOn(key: string, client: pg.PoolClient, minLsn: bigint): Promise<boolean> {
    if (this.#noWait.has(key)) return false;
    this.causal.stats.standbyWaits++;
    let reached: bigint | null;
    try {
      reached = await waitForReplay(client, minLsn, this.options.waitMillis);
    } catch (err) {
      if (isConnectionLoss(err)) throw err; // the read loop moves on
      this.#noWait.add(key);
      this.causal.stats.standbyWaitUnsupported++;
      debugRouter('standby %s cannot run the replay wait (%s): its reads after writes go as without it', key, (err as Error).message);
      return false;
    }
    if (reached === null) return false; // no longer in recovery (promoted): the topology will say so
    this.causal.observe(key, reached);
    if (reached < minLsn) {
      this.causal.stats.standbyWaitTimeouts++;
      return false;
    }
    if (minLsn > 0n && !this.causal.follows(key)) return false; // past the position, but maybe on another timeline's WAL
    this.causal.used();
    return true;
  }
}
