/**
 * Client options (pg.ClientConfig plus libpq's multi-host settings) → a
 * {@link WalkPlan}: the hosts to try, in which order, with which pg config.
 */
import pg from 'pg';
import { parseConnectionString, parseConninfo, toPgConfig } from '../connection';
import { TARGET_SESSION_ATTRS, type TargetSessionAttrs } from './session-attrs';
import type { WalkPlan } from './host-walk';
import { ConnectionStringError } from '../errors';
import { sslForPg } from '../secrets';

/** `pg.ClientConfig`, plus libpq's keywords for choosing among several hosts. */
export interface ClientOptions extends pg.ClientConfig {
  /** libpq's: any (default), read-write, read-only, primary, standby, prefer-standby. */
  target_session_attrs?: TargetSessionAttrs;
  /** libpq's: disable (default, hosts in order) or random. */
  load_balance_hosts?: 'disable' | 'random';
  /** libpq's, in seconds per host (0 = none; values below 2 count as 2). Default: none, or `connectionTimeoutMillis`. */
  connect_timeout?: number;
  /** The environment to read PG* variables from (default process.env). */
  env?: NodeJS.ProcessEnv;
  /**
   * pg's (deprecated in pg 8): the constructor of every promise this client returns
   * (`connect()`, `query()`, `end()`), e.g. Bluebird. Default: the global Promise.
   */
  Promise?: PromiseConstructorLike;
}

/** Connection-string keywords that decide TLS (then the `ssl` option is not used, as in pg). */
const SSL_KEYWORDS: ReadonlySet<string> = new Set(['sslmode', 'sslcert', 'sslkey', 'sslrootcert', 'sslpassword', 'requiressl']);

const cache = new WeakMap<object, WalkPlan>();

/** Builds (and caches per options object) the walk plan. Throws ConnectionStringError on bad input. */
export function planFor(options: ClientOptions, extra: { types?: unknown } = {}): WalkPlan {
  const cached = cache.get(options);
  if (cached && !extra.types) return cached;
  const env = options.env ?? process.env;
  const conninfo = options.connectionString ?? conninfoFromFields(withPgDefaults(options, env));
  // pg.defaults.user (read now, like pg) stands in for libpq's OS user name when nothing else names a user.
  const parsed = parseConnectionString(conninfo, { env, osUser: typeof pg.defaults.user === 'string' && pg.defaults.user ? pg.defaults.user : undefined });
  const { connectionString: _cs, target_session_attrs, load_balance_hosts, connect_timeout, env: _env, ...passThrough } = options;
  const tsa = (target_session_attrs ?? parsed.target_session_attrs ?? 'any') as TargetSessionAttrs;
  if (!TARGET_SESSION_ATTRS.includes(tsa)) {
    throw new ConnectionStringError('CONNINFO_INVALID_VALUE', `invalid target_session_attrs value: "${tsa}" (use one of ${TARGET_SESSION_ATTRS.join(', ')})`, {
      fragment: `target_session_attrs=${tsa}`,
    });
  }
  const lb = (load_balance_hosts ?? parsed.load_balance_hosts ?? 'disable') as 'disable' | 'random';
  if (lb !== 'disable' && lb !== 'random') {
    throw new ConnectionStringError('CONNINFO_INVALID_VALUE', `invalid load_balance_hosts value: "${lb}" (use disable or random)`, {
      fragment: `load_balance_hosts=${lb}`,
    });
  }
  const sslInString =
    options.connectionString !== undefined && Object.keys(parseConninfo(options.connectionString).keywords).some((k) => SSL_KEYWORDS.has(k));
  const plan: WalkPlan = {
    hosts: parsed.hosts.map((h) => ({ host: h.host, port: h.port })),
    targetSessionAttrs: tsa,
    loadBalanceHosts: lb,
    configFor(index) {
      const base = toPgConfig(parsed, index) as pg.ClientConfig;
      const cfg: pg.ClientConfig = { ...passThrough, ...stripUndefined(base) };
      if (options.password !== undefined && base.password === undefined) cfg.password = options.password;
      // Like pg: an `ssl` option applies unless the connection string itself says how to do TLS.
      if (options.ssl !== undefined && !sslInString) cfg.ssl = sslForPg(options.ssl) as pg.ClientConfig['ssl'];
      if (connect_timeout !== undefined) cfg.connectionTimeoutMillis = connect_timeout <= 0 ? 0 : Math.max(2, connect_timeout) * 1000;
      else if (options.connectionTimeoutMillis !== undefined && !base.connectionTimeoutMillis) cfg.connectionTimeoutMillis = options.connectionTimeoutMillis;
      if (extra.types) cfg.types = extra.types as pg.CustomTypesConfig;
      return cfg;
    },
  };
  if (!extra.types) cache.set(options, plan);
  return plan;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * pg's precedence for a field: the config, then its PG* variable, then
 * `pg.defaults` as it is now (an app may change it after import). Fields pg's
 * defaults leave at their initial values add nothing (libpq's defaults agree).
 */
function withPgDefaults(o: ClientOptions, env: NodeJS.ProcessEnv): ClientOptions {
  const d = pg.defaults as Record<string, unknown>;
  const out: ClientOptions = { ...o };
  if ('password' in o) Object.defineProperty(out, 'password', { value: o.password, enumerable: false, writable: true, configurable: true });
  const fill = (field: 'host' | 'port' | 'user' | 'database', envvar: string, initial: unknown) => {
    if (out[field] !== undefined || env[envvar] !== undefined) return;
    const v = d[field];
    if (v !== undefined && v !== null && v !== '' && v !== initial) (out as Record<string, unknown>)[field] = v;
  };
  fill('host', 'PGHOST', 'localhost');
  fill('port', 'PGPORT', 5432);
  fill('user', 'PGUSER', process.platform === 'win32' ? process.env.USERNAME : process.env.USER);
  fill('database', 'PGDATABASE', undefined);
  if (out.password === undefined && env.PGPASSWORD === undefined && typeof d.password === 'string') {
    Object.defineProperty(out, 'password', { value: d.password, enumerable: false, writable: true, configurable: true });
  }
  return out;
}

/** pg-style discrete fields → a keyword/value conninfo (password stays out of it). */
function conninfoFromFields(o: ClientOptions): string {
  const kv: string[] = [];
  const put = (k: string, v: unknown) => {
    if (v === undefined || v === null || v === '') return;
    kv.push(`${k}='${String(v).replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`);
  };
  put('host', o.host);
  put('port', o.port);
  put('user', o.user);
  put('dbname', o.database);
  put('application_name', o.application_name);
  put('options', o.options);
  return kv.join(' ');
}
