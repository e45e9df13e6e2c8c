/**
 * The write path of pool.query: a statement routed to the primary (a write, or anything not
 * known to be a plain read) runs there on a session of its own, held through a failover by
 * placement.ts. Never sent: tried again on whoever is primary next. Lost after it was sent:
 * never replayed blindly — `TRANSACTION_RESOLUTION_UNKNOWN`, or, for a resolvable write
 * (resolveWriteOutcome, or one sent through an announced switchover: resolvable-write.ts),
 * resolved with pg_xact_status() on the next primary (outcome.ts) and run again only when it
 * provably did not commit.
 *
 * Part of the routing engine (routing-engine.ts builds it), which it reaches only through
 * {@link SessionHost} and {@link RoutingCore} (engine.ts).
 */
import type pg from 'pg';
import createDebug from 'debug';
import { setTimeout as sleep } from 'node:timers/promises';
import { FailoverError } from '../errors';
import type { Analysis } from '../routing/classify';
import { sessionOf, type NodePool } from './node-pools';
import { afterFailure, type Failure } from './retry-policy';
import { writeWithPosition } from './positions';
import { canResolve, resolvableStatement, resolvableWrite, type ResolvableWrite } from './resolvable-write';
import { resolveCommit } from './outcome';
import type { Placement } from './placement';
import type { RoutingCore, SessionHost } from './engine';

const debug = createDebug('pg-failover:pool');

/** How many times a resolvable write is run again after it provably did not run (or, sent through an announced switchover, did not commit). */
const RUN_AGAIN_MAX = 5;

export class WritePath {
  readonly #engine: SessionHost;
  readonly #core: RoutingCore;
  readonly #placement: Placement;
  /** resolveWriteOutcome: autocommit writes tell their transaction id first, so a lost one can be resolved. */
  readonly #resolveWrites: boolean;

  constructor(engine: SessionHost, core: RoutingCore, placement: Placement) {
    this.#engine = engine;
    this.#core = core;
    this.#placement = placement;
    this.#resolveWrites = core.options.resolveWriteOutcome ?? false;
  }

  async write(q: pg.QueryConfig, plain: boolean, statement: Failure['statement'], a: Analysis, text: string): Promise<pg.QueryResult> {
    const core = this.#core;
    const engine = this.#engine;
    const deadline = Date.now() + core.failoverTimeoutMillis;
    // During an announced switchover a write whose outcome can be resolved is not held: it goes on
    // to the old primary while that still takes writes, as a resolvable write. Cut by the stop, it is
    // resolved on the new primary and, when it did not commit, run there (as if it had been held).
    // Other writes wait at the gate, so none of them is in flight when the old primary stops.
    let passesHold = resolvableStatement(q, text, a);
    for (let attempt = 0; ; attempt++) {
      const held = core.state.phase.kind === 'switchover-hold';
      if (held && !passesHold) await this.#placement.switchoverGate(deadline);
      const key = this.#placement.primaryNow() ?? (await this.#placement.primaryNode(deadline));
      const np = core.nodes.get(key);
      let client: pg.PoolClient;
      try {
        // Sessions are being opened for statements like this one (the stall watch's replacements, a revival): take one of those.
        client = await sessionOf(np);
      } catch (err) {
        // Never sent: safe to try again on whoever is primary next.
        if (!this.#retired(key, np)) engine.markDown(key, err as Error);
        if (Date.now() >= deadline) throw this.#placement.timeout(err);
        continue;
      }
      np.busy++;
      // Reads waiting on standbys need this write's position: read on this session with the write
      // (one round trip where the driver pipelines; positions.ts). resolveWriteOutcome: the write
      // runs in a pipelined BEGIN … COMMIT that tells its transaction id first (resolvable-write.ts).
      // Either then releases the session itself.
      const wantsPosition = core.causal.positionWithWrite;
      const passing = held && passesHold && core.state.phase.kind === 'switchover-hold';
      if (passing && !this.#resolveWrites && !canResolve(client, q, text, a)) {
        // This driver cannot pipeline the wrapped write: wait at the gate after all.
        client.release();
        np.busy--;
        passesHold = false;
        continue;
      }
      const resolvable = (this.#resolveWrites || passing) && canResolve(client, q, text, a) ? resolvableWrite(client, q, plain, wantsPosition) : undefined;
      const pending = resolvable ?? (wantsPosition ? writeWithPosition(client, q, plain) : undefined);
      const watched = engine.stallWatch?.start(key, client);
      try {
        const result = await (pending ? pending.result : plain ? client.query(q.text, q.values) : client.query(q));
        engine.stallWatch?.end(watched);
        np.writes++;
        if (!pending) client.release();
        if (pending?.position) core.causal.noteWriteWithPosition(pending.position);
        else engine.noteWrite();
        return result;
      } catch (err) {
        engine.stallWatch?.end(watched);
        np.errors++;
        const v = afterFailure({ err, node: key, statement, on: 'primary', routedAsRead: false, inTransaction: false, pinned: false, attempt, retries: core.options.readRetries ?? 2, late: Date.now() >= deadline });
        const lost = v.do === 'throw' || v.do === 'retry' || v.do === 'timeout' ? v.markDown : false;
        if (!pending) client.release(lost ? (err as Error) : undefined);
        // The stall watch ended this session from a side session it had just opened there: the node works, it is not down.
        const down = lost && !watched?.reached && !this.#retired(key, np);
        if (resolvable && v.do === 'throw' && (v.error as FailoverError).code === 'TRANSACTION_RESOLUTION_UNKNOWN') {
          if (!watched?.reached && !this.#retired(key, np)) engine.markDown(key, err as Error);
          // Sent instead of held at a switchover: run again when it did not commit (a few times at most).
          const outcome = await this.#resolved(resolvable, v.error as FailoverError, key, passing && attempt < RUN_AGAIN_MAX, attempt < RUN_AGAIN_MAX);
          if (outcome) return outcome;
          debug('write lost on %s did not commit: running it on the primary again', key);
          continue;
        }
        if (down) engine.markDown(key, err as Error);
        if (v.do === 'retry') {
          // A primary still promoting (or just demoted) refused it: nothing was written. Re-check the
          // topology and try again shortly; no 1 s "down" penalty, which would delay the first write
          // to a primary whose promotion completes a moment later.
          if (!v.markDown) core.topology.refresh(`${key} refused a write (SQLSTATE 25006)`);
          else debug('statement lost on %s before it could have written (%s): running it again on the primary', key, (err as Error).message);
          if (v.delayMillis > 0) await sleep(v.delayMillis);
          continue;
        }
        if (v.do === 'timeout') throw this.#placement.timeout(v.cause);
        if (v.do === 'throw') throw v.error;
        throw err;
      } finally {
        np.busy--;
      }
    }
  }

  /**
   * A resolvable write lost with its connection: what became of it, asked of whoever is primary
   * next (pg_xact_status). Lost before its transaction id came back → it was never sent: run it
   * again (`undefined`), or TRANSACTION_ROLLED_BACK once the attempts are used up. Committed with
   * its answer in hand → that answer; committed without → TRANSACTION_COMMITTED (do not run it
   * again); not committed → run again when `runAgain` (it passed a switchover hold), else
   * TRANSACTION_ROLLED_BACK (safe to run again); still unknown → the original
   * TRANSACTION_RESOLUTION_UNKNOWN, with the xid.
   */
  async #resolved(w: ResolvableWrite, unknown: FailoverError, key: string, runAgain: boolean, attemptsLeft: boolean): Promise<pg.QueryResult | undefined> {
    let xidError: unknown;
    const sent = await w.xid.catch((e: unknown) => {
      xidError = e;
      return undefined;
    });
    if (sent === undefined) {
      // The write goes out only after `BEGIN; SELECT pg_current_xact_id()` has answered: it never ran.
      debug('write lost on %s before its transaction id came back (%s: %s): it was never sent', key, (xidError as { code?: string })?.code ?? '-', (xidError as Error)?.message);
      if (attemptsLeft) return undefined;
      throw new FailoverError('TRANSACTION_ROLLED_BACK', `the connection to ${key} was lost before the write was sent (${(xidError as Error)?.message}); it did not run and may be run again`, { cause: unknown.cause, node: key });
    }
    const { xid, started } = sent;
    const lsn = w.lsnBeforeCommit();
    const { outcome, why } = await resolveCommit(this.#engine, { xid, node: key, started, ...(lsn ? { lsn } : {}) });
    debug('write of xid %s lost with its connection to %s, resolved: %s%s', xid, key, outcome, why ? ` (${why})` : '');
    if (outcome === 'committed') {
      this.#engine.noteWrite();
      const answer = w.answered();
      if (answer) return answer;
      throw new FailoverError('TRANSACTION_COMMITTED', `the write committed on ${key} (xid ${xid}), but its result was lost with the connection; do not run it again`, { cause: unknown.cause, node: key, detail: { xid } });
    }
    if (outcome === 'aborted') {
      if (runAgain) return undefined; // sent instead of being held at a switchover: the caller runs it again
      throw new FailoverError('TRANSACTION_ROLLED_BACK', `the connection to ${key} was lost while a write was in flight; it did not commit (xid ${xid}) and may be run again`, { cause: unknown.cause, node: key, detail: { xid } });
    }
    throw new FailoverError('TRANSACTION_RESOLUTION_UNKNOWN', `${unknown.message}; the outcome of xid ${xid} could not be resolved: ${why}`, { cause: unknown.cause, node: key, detail: { xid, why } });
  }

  /**
   * Whether `np`, the node pool a statement used, was retired meanwhile (the topology stopped naming
   * its node the primary: its sockets were destroyed here, or its pool ended). A failure then says
   * nothing about the node, which must not be avoided for it. Campaign, a primary restarted in place:
   * its lease ran out just after it was back, the retirement failed the writes in flight there, and
   * the down mark kept them ~0.6 s from it after it took its key back 240 ms later.
   */
  #retired(key: string, np: NodePool): boolean {
    return this.#core.nodes.peek(key) !== np;
  }
}
