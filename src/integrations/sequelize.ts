/**
 * `pg-failover/sequelize`: Sequelize (6) on a pg-failover Pool, with no change
 * to Sequelize. Sequelize cannot take a multi-host URI (`new Sequelize(url)`
 * throws `Invalid URL`) and keeps long-lived connections of its own; here its
 * `dialectModule` is ours, and each "connection" it holds is a thin session
 * facade over the Pool: a statement outside a transaction is routed like
 * `pool.query` (reads → standbys, writes → the primary), and `START
 * TRANSACTION`/`BEGIN` checks out one session that serves the transaction
 * until `COMMIT`/`ROLLBACK`.
 *
 * ```ts
 * import { Sequelize } from 'sequelize';
 * import { sequelizeOptions } from 'pg-failover/sequelize';
 * const { options, pool } = sequelizeOptions(process.env.DATABASE_URL!);
 * const sequelize = new Sequelize({ ...options, logging: false });
 * …
 * await sequelize.close(); await pool.end();
 * ```
 *
 * Sessions are shared, so Sequelize's per-connection `SET`s (time zone,
 * client_min_messages) are replaced by startup options on every session of the
 * Pool (`TimeZone`, from Sequelize's `timezone`, default `+00:00`); a `SET`
 * outside a transaction is refused with INVALID_OPTION (it would land on one
 * random session). Loaded only through this sub-path; does not import Sequelize.
 */
import { EventEmitter } from 'node:events';
import type pg from 'pg';
import * as pgFailover from '../index';
import { Pool } from '../pool/pool';
import type { PoolOptions } from '../pool/options';
import { FailoverError } from '../errors';
import { parseConnectionString } from '../connection';

type Callback = (err: Error | null, result?: pg.QueryResult) => void;

const BEGIN = /^\s*(?:start\s+transaction|begin)\b/i;
const END = /^\s*(?:commit|rollback|end|abort)\s*(?:work|transaction)?\s*;?\s*$/i;
const SESSION_SET = /^\s*(?:set|reset)\s/i;

/** The options to spread into `new Sequelize({...})`, and the Pool they run on (end it after `sequelize.close()`). */
export interface SequelizeWiring {
  options: { dialect: 'postgres'; dialectModule: unknown; database?: string; username?: string; keepDefaultTimezone: true; dialectOptions: { clientMinMessages: 'ignore' } };
  pool: Pool;
}

/**
 * Builds Sequelize options over a pg-failover Pool. `timezone` is Sequelize's own
 * option (give it here too, if you set it there); it becomes every session's TimeZone.
 */
export function sequelizeOptions(connection: string | PoolOptions, extra: { timezone?: string } = {}): SequelizeWiring {
  const opts: PoolOptions & { options?: string } = typeof connection === 'string' ? { connectionString: connection } : { ...connection };
  const tz = extra.timezone ?? '+00:00';
  if (!/^[+-]\d{2}:\d{2}$|^[A-Za-z_]+(?:\/[A-Za-z_+-]+)*$/.test(tz)) throw new FailoverError('INVALID_OPTION', `pg-failover/sequelize: timezone must be ±HH:MM or an IANA name, got ${JSON.stringify(tz)}`);
  // POSIX offsets are inverted relative to ISO: +02:00 east of UTC is "<+02>-02" in PostgreSQL's POSIX form; an interval avoids that.
  const tzSetting = /^[+-]/.test(tz) ? `-c TimeZone=${tz === '+00:00' || tz === '-00:00' ? 'UTC' : `<${tz}>${tz.startsWith('+') ? '-' : '+'}${tz.slice(1)}`}` : `-c TimeZone=${tz}`;
  opts.options = [opts.options, tzSetting].filter(Boolean).join(' ');
  const pool = new Pool(opts);
  pool.on('error', () => {});
  let database: string | undefined;
  let username: string | undefined;
  if (typeof opts.connectionString === 'string') {
    const parsed = parseConnectionString(opts.connectionString) as { database?: string; user?: string };
    database = parsed.database;
    username = parsed.user;
  }
  database ??= opts.database;
  username ??= opts.user;
  const dialectModule = { ...pgFailover, Client: facadeClass(pool) };
  return { options: { dialect: 'postgres', dialectModule, database, username, keepDefaultTimezone: true, dialectOptions: { clientMinMessages: 'ignore' } }, pool };
}

/** The `Client` Sequelize constructs per connection: a facade over `pool`. */
function facadeClass(pool: Pool) {
  return class PgFailoverSequelizeSession extends EventEmitter {
    /** Sequelize reads server parameters from here; our sessions need no per-connection setup. */
    readonly connection = new EventEmitter();
    readonly standard_conforming_strings = 'on';
    _ending = false;
    #txn: (pgFailover.BoundClient & pg.PoolClient) | undefined;
    #chain: Promise<unknown> = Promise.resolve();

    constructor(_config?: unknown) {
      super();
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
      const q: pg.QueryConfig = typeof config === 'string' ? { text: config } : { ...config };
      if (values !== undefined) q.values = values;
      if (this.#txn) {
        try {
          const r = await this.#txn.query(q);
          if (END.test(q.text)) this.#releaseTxn();
          return r;
        } catch (e) {
          // A lost session (our FailoverError) ends the transaction here; an SQL error leaves it for Sequelize's ROLLBACK.
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
        throw new FailoverError('INVALID_OPTION', `pg-failover/sequelize: "${q.text.slice(0, 60)}" outside a transaction would change one random pooled session; set it as a startup option instead`);
      }
      return pool.query(q);
    }

    #releaseTxn(err?: Error): void {
      const c = this.#txn;
      this.#txn = undefined;
      c?.release(err);
    }

    end(callback?: (err?: Error) => void): Promise<void> | void {
      this._ending = true;
      this.#releaseTxn(new Error('sequelize closed the connection'));
      this.emit('end');
      if (callback) return void process.nextTick(() => callback());
      return Promise.resolve();
    }
  };
}
