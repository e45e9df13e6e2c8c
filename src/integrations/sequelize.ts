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
import * as pgFailover from '../index';
import { Pool } from '../pool/pool';
import type { PoolOptions } from '../pool/options';
import { FailoverError } from '../errors';
import { parseConnectionString } from '../connection';
import { poolSessionClass } from './pool-session';

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
  const dialectModule = { ...pgFailover, Client: poolSessionClass(pool, 'pg-failover/sequelize') };
  return { options: { dialect: 'postgres', dialectModule, database, username, keepDefaultTimezone: true, dialectOptions: { clientMinMessages: 'ignore' } }, pool };
}
