/**
 * A pg `Client` look-alike over a pg-failover `Pool`, for libraries that keep
 * connections of their own and build them with `new driver.Client(config)`
 * (Sequelize, MikroORM's knex): a statement outside a transaction is routed
 * like `pool.query` (reads → standbys, writes → the primary), and `BEGIN` /
 * `START TRANSACTION` checks out one session that serves the transaction until
 * `COMMIT`/`ROLLBACK`. Statements are run one after another, as on one pg
 * connection; the `types` given to the constructor (the library's type
 * parsers) apply to every statement.
 *
 * Sessions are shared, so a `SET`/`RESET` outside a transaction is refused with
 * INVALID_OPTION (it would change one random pooled session): set it as a
 * startup option of the Pool (`options: '-c name=value'`) instead.
 */
import { EventEmitter } from 'node:events';
import { finished } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import type pg from 'pg';
import type * as pgFailover from '../index';
import type { Pool } from '../pool/pool';
import { FailoverError } from '../errors';

type Callback = (err: Error | null, result?: pg.QueryResult) => void;

const BEGIN = /^\s*(?:start\s+transaction|begin)\b/i;
const END = /^\s*(?:commit|rollback|end|abort)\s*(?:work|transaction)?\s*;?\s*$/i;
const SESSION_SET = /^\s*(?:set|reset)\s/i;

/**
 * Marks what an integration built (a session class, a dialect class, a driver factory) with the
 * Pool it runs on, so `checkWiring` (wiring.ts) can find it from the library's side.
 */
export const WIRED = Symbol.for('pg-failover.wired-pool');

/** Sets the {@link WIRED} mark on `x` (non-enumerable); returns `x`. */
export function markWired<T extends object>(x: T, pool: Pool): T {
  Object.defineProperty(x, WIRED, { value: pool });
  return x;
}

/** What the facade keeps of the constructor's config: only the type parsers (the Pool owns the rest). */
export interface SessionConfig {
  types?: pg.CustomTypesConfig;
}

/** One session facade: the part of pg's `Client` the libraries use. */
export interface PoolSession extends EventEmitter {
  connect(callback?: (err?: Error) => void): Promise<void> | void;
  query(text: string | pg.QueryConfig, values?: unknown[] | Callback, callback?: Callback): Promise<pg.QueryResult> | void;
  submit<S extends Readable & pg.Submittable>(stream: S): S;
  end(callback?: (err?: Error) => void): Promise<void> | void;
}

/**
 * The `Client` class to hand a library as its pg driver's `Client`: every instance
 * is a session facade over `pool`. `label` names the integration in error messages.
 */
export function poolSessionClass(pool: Pool, label: string): new (config?: SessionConfig) => PoolSession {
  return markWired(sessionClass(pool, label), pool);
}

function sessionClass(pool: Pool, label: string) {
  return class PgFailoverPoolSession extends EventEmitter implements PoolSession {
    /** Libraries read server parameters from here; our sessions need no per-connection setup. */
    readonly connection = new EventEmitter();
    readonly standard_conforming_strings = 'on';
    _ending = false;
    readonly #types: pg.CustomTypesConfig | undefined;
    #txn: (pgFailover.BoundClient & pg.PoolClient) | undefined;
    #chain: Promise<unknown> = Promise.resolve();

    constructor(config?: SessionConfig) {
      super();
      const t = config?.types;
      this.#types = t && typeof t.getTypeParser === 'function' ? t : undefined;
    }

    connect(callback?: (err?: Error) => void): Promise<void> | void {
      if (callback) return void process.nextTick(() => callback());
      return Promise.resolve();
    }

    query(text: string | pg.QueryConfig, values?: unknown[] | Callback, callback?: Callback): Promise<pg.QueryResult> | void {
      if (typeof values === 'function') {
        callback = values;
        values = undefined;
      }
      const p = (this.#chain = this.#chain.then(
        () => this.#run(text, values as unknown[] | undefined),
        () => this.#run(text, values as unknown[] | undefined),
      )) as Promise<pg.QueryResult>;
      if (!callback) return p;
      p.then(
        (r) => callback!(null, r),
        (e: Error) => callback!(e),
      );
    }

    async #run(config: string | pg.QueryConfig, values: unknown[] | undefined): Promise<pg.QueryResult> {
      if (config === null || (typeof config !== 'string' && typeof (config as { text?: unknown }).text !== 'string')) {
        throw new FailoverError('INVALID_OPTION', `${label}: only SQL text (a string or { text, values }) can run on a pooled session; streams and cursors need pool.connect()`);
      }
      const q: pg.QueryConfig = typeof config === 'string' ? { text: config } : { ...config };
      if (values !== undefined) q.values = values;
      if (this.#types && !q.types) q.types = this.#types;
      if (this.#txn) {
        try {
          const r = await this.#txn.query(q);
          if (END.test(q.text)) this.#releaseTxn();
          return r;
        } catch (e) {
          // A lost session (our FailoverError) ends the transaction here; an SQL error leaves it for the library's ROLLBACK.
          if (END.test(q.text) || e instanceof FailoverError) this.#releaseTxn(e as Error);
          throw e;
        }
      }
      if (BEGIN.test(q.text)) {
        const client = await pool.connect();
        this.#txn = client;
        try {
          return await client.query(q);
        } catch (e) {
          this.#releaseTxn(e as Error);
          throw e;
        }
      }
      if (SESSION_SET.test(q.text)) {
        throw new FailoverError('INVALID_OPTION', `${label}: "${q.text.slice(0, 60)}" outside a transaction would change one random pooled session; set it as a startup option instead`);
      }
      return pool.query(q);
    }

    /**
     * Runs a streaming submittable (pg-query-stream, pg-cursor's stream) on this
     * session: on the transaction's session inside one, else on a client checked
     * out for it (a read → a standby) and released when the stream ends. Returns it.
     */
    submit<S extends Readable & pg.Submittable>(stream: S): S {
      this.#chain = this.#chain
        .then(async () => {
          if (this.#txn) {
            this.#txn.query(stream);
            await finished(stream);
            return;
          }
          const client = await pool.connect();
          try {
            client.query(stream);
            await finished(stream);
            client.release();
          } catch (e) {
            client.release(e as Error);
          }
        })
        .catch((e: Error) => {
          if (!stream.destroyed) stream.destroy(e);
        });
      return stream;
    }

    #releaseTxn(err?: Error): void {
      const c = this.#txn;
      this.#txn = undefined;
      c?.release(err);
    }

    end(callback?: (err?: Error) => void): Promise<void> | void {
      this._ending = true;
      this.#releaseTxn(new Error(`${label} closed the connection`));
      this.emit('end');
      if (callback) return void process.nextTick(() => callback());
      return Promise.resolve();
    }
  };
}
