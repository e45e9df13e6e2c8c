/**
 * When a config needs nothing pg-failover adds, pg alone serves it: one plain
 * host and no setting that only libpq or pg-failover gives a meaning to.
 * Then `Client` is a pg.Client and `Pool` a pg.Pool built from the options as
 * given, so pg itself resolves everything the way its users know: `PG*`
 * environment variables, `pg.defaults` (read when the client is created, as
 * pg does), `.pgpass`, `ssl` values, and its own connection-string forms
 * (`pg://`, `socket:` and bare socket paths, `?ssl=true`,
 * `sslmode=no-verify`, `?host=` overrides, extra query parameters as config
 * fields). Anything else — several hosts, `target_session_attrs`,
 * `load_balance_hosts`, `connect_timeout`, `service`, `hostaddr`,
 * `passfile`, keyword/value strings, `pgfailover.*` — goes through our libpq
 * parser and host walk.
 */
import pg from 'pg';

/** URI query parameters pg ignores and libpq (or pg-failover) gives a meaning to. */
const LIBPQ_ONLY_PARAMS = new Set(['target_session_attrs', 'load_balance_hosts', 'service', 'hostaddr', 'connect_timeout', 'passfile']);

export interface AloneInput {
  connectionString?: string;
  host?: string;
  port?: number | string;
  target_session_attrs?: string;
  load_balance_hosts?: string;
  connect_timeout?: number;
  env?: NodeJS.ProcessEnv;
}

/** True when these options describe one plain host that pg alone can serve (see the module comment). */
export function pgAloneCanServe(o: AloneInput, env: NodeJS.ProcessEnv = process.env): boolean {
  if (o.env !== undefined) return false; // a custom environment is ours to read, pg only reads process.env
  if (o.target_session_attrs !== undefined || o.load_balance_hosts !== undefined || o.connect_timeout !== undefined) return false;
  if (nonEmpty(env.PGTARGETSESSIONATTRS, 'any') || nonEmpty(env.PGLOADBALANCEHOSTS, 'disable') || nonEmpty(env.PGSERVICE)) return false;
  if (typeof o.host === 'string' && o.host.includes(',')) return false;
  if (typeof o.port === 'string' && o.port.includes(',')) return false;
  const cs = o.connectionString?.trim();
  if (cs) {
    const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(cs)?.[1]?.toLowerCase();
    if (scheme === 'postgres' || scheme === 'postgresql') {
      if (!plainUri(cs)) return false;
    } else if (scheme === undefined && !cs.startsWith('/')) {
      return false; // keyword/value conninfo: libpq's form, pg does not parse it
    }
    // Other schemes (pg://, socket:, …) and bare socket paths are pg's forms.
  } else if (o.host === undefined && ((env.PGHOST ?? '').includes(',') || (env.PGPORT ?? '').includes(','))) {
    return false;
  }
  return true;
}

/** A postgres(ql):// URI with one host and no libpq-only or pgfailover.* parameter. */
function plainUri(uri: string): boolean {
  const rest = uri.replace(/^[a-z]+:\/\//i, '');
  const authority = rest.split(/[/?#]/, 1)[0] ?? '';
  const hostPart = authority.slice(authority.lastIndexOf('@') + 1);
  if (hostPart.includes(',')) return false;
  const q = rest.indexOf('?');
  if (q < 0) return true;
  for (const pair of rest.slice(q + 1).split('#', 1)[0]!.split('&')) {
    if (!pair) continue;
    const [rawKey, rawValue = ''] = pair.split('=');
    const key = safeDecode(rawKey!);
    if (LIBPQ_ONLY_PARAMS.has(key) || key.startsWith('pgfailover.')) return false;
    if ((key === 'host' || key === 'port') && safeDecode(rawValue).includes(',')) return false;
  }
  return true;
}

/** Whether pg would accept this config (its constructor parses the connection string; no I/O). */
export function pgAccepts(config: pg.ClientConfig): boolean {
  try {
    new pg.Client(config);
    return true;
  } catch {
    return false;
  }
}

function nonEmpty(v: string | undefined, neutral?: string): boolean {
  return v !== undefined && v !== '' && v !== neutral;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
