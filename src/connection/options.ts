/**
 * Connection string → typed, validated connection settings, the way libpq
 * resolves them before connecting: explicit settings, then the service file
 * (`service` / PGSERVICE), then PG* environment variables, then compiled-in
 * defaults; then libpq's derived settings (host/hostaddr/port lists, default
 * user and database, passwords from the password file) and the checks libpq
 * only makes when it connects (ports, enumerated values, list lengths), which
 * we make up front.
 *
 * Default host: `localhost` (what node-postgres does, and libpq on Windows),
 * not Debian libpq's `/var/run/postgresql` socket directory; pass
 * `defaultHost: '/var/run/postgresql'` to get libpq's Debian behaviour.
 */
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { ConnectionStringError } from '../errors';
import { parseConninfo } from './conninfo';
import { safePorts, safeWord } from './fragment';
import { LIBPQ_KEYWORD_SPECS, LIBPQ_KEYWORDS, type LibpqKeyword } from './keywords';
import { isUnixSocketPath, passwordFromFile } from './passfile';
import { applyService } from './service-file';

export const TARGET_SESSION_ATTRS = ['any', 'read-write', 'read-only', 'primary', 'standby', 'prefer-standby'] as const;
export type TargetSessionAttrs = (typeof TARGET_SESSION_ATTRS)[number];
export const LOAD_BALANCE_HOSTS = ['disable', 'random'] as const;
export type LoadBalanceHosts = (typeof LOAD_BALANCE_HOSTS)[number];
export const SSL_MODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'] as const;
export type SslMode = (typeof SSL_MODES)[number];

/** Debian's libpq default socket directory (DEFAULT_PGSOCKET_DIR); `.pgpass` treats it as `localhost`. */
export const DEBIAN_SOCKET_DIR = '/var/run/postgresql';
/** Debian's libpq SYSCONFDIR, where it looks for pg_service.conf without PGSYSCONFDIR. */
export const DEBIAN_SYSCONFDIR = '/etc/postgresql-common';

/** One host to try, in libpq's order. */
export interface HostSpec {
  /** Host name, IP address, or unix-socket directory; when only `hostaddr` was given, that address. */
  readonly host: string;
  /** Numeric address to connect to instead of resolving `host`. */
  readonly hostaddr?: string;
  readonly port: number;
  /** `unix` when `host` is a socket directory (starts with `/` or `@`) and no hostaddr is set. */
  readonly type: 'tcp' | 'unix';
  /** From the password file for this host, when no password was given (non-enumerable). */
  readonly password?: string;
}

type TypedKeyword =
  | 'host'
  | 'hostaddr'
  | 'port'
  | 'dbname'
  | 'user'
  | 'password'
  | 'sslpassword'
  | 'target_session_attrs'
  | 'load_balance_hosts'
  | 'connect_timeout'
  | 'sslmode'
  | 'application_name'
  | 'options';

/** The remaining libpq settings, as resolved strings (only those with a value). */
export type OtherSettings = { readonly [K in Exclude<LibpqKeyword, TypedKeyword>]?: string };

/** A resolved connection configuration. */
export type ConnectionConfig = OtherSettings & {
  /** The hosts, in the order given (libpq's `load_balance_hosts=random` shuffles at connect time). */
  readonly hosts: readonly HostSpec[];
  readonly database: string;
  readonly user: string;
  /** Explicit or PGPASSWORD (non-enumerable: not in JSON, logs or spreads). */
  readonly password?: string;
  /** SSL key passphrase (non-enumerable). */
  readonly sslpassword?: string;
  readonly target_session_attrs: TargetSessionAttrs;
  readonly load_balance_hosts: LoadBalanceHosts;
  /** Seconds per host attempt; 0 = no timeout. libpq rules: negative → 0, 1 → 2. */
  readonly connect_timeout: number;
  readonly sslmode: SslMode;
  readonly application_name?: string;
  readonly options: string;
  /** `pgfailover.<name>` parameters, keyed by `<name>`. */
  readonly extensions: Readonly<Record<string, string>>;
};

export interface ParseConnectionStringOptions {
  /** Where PG* variables come from. Default `process.env`; when given, process.env is not read. */
  readonly env?: NodeJS.ProcessEnv;
  /** Host used when none is given. Default `localhost` (see module docs). */
  readonly defaultHost?: string;
  /** Default user name. Default: the OS user running this process (like libpq). */
  readonly osUser?: string;
  /** Home directory for ~/.pgpass and ~/.pg_service.conf. Default: $HOME, else the OS user's. */
  readonly home?: string;
  /** Directory of the system-wide pg_service.conf when PGSYSCONFDIR is unset. Default {@link DEBIAN_SYSCONFDIR}. */
  readonly sysconfdir?: string;
  /** Receives libpq's warnings (an insecure password file is ignored). */
  readonly warn?: (message: string) => void;
}

/**
 * Resolves a libpq connection string (URI or keyword/value) into a validated
 * {@link ConnectionConfig}, applying the service file, PG* environment
 * variables, the password file and libpq's defaults.
 *
 * @throws {ConnectionStringError} codes `CONNINFO_SYNTAX`, `CONNINFO_UNKNOWN_KEYWORD`,
 *   `CONNINFO_INVALID_VALUE`, `CONNINFO_HOST_PORT_MISMATCH`, `CONNINFO_SERVICE`.
 *
 * @example
 * const cfg = parseConnectionString('postgresql://app@db1,db2/shop?target_session_attrs=read-write', { env: {} });
 * cfg.hosts.map((h) => `${h.host}:${h.port}`); // ['db1:5432', 'db2:5432']
 */
export function parseConnectionString(conninfo = '', options: ParseConnectionStringOptions = {}): ConnectionConfig {
  const env = options.env ?? process.env;
  const { keywords, extensions } = parseConninfo(conninfo);
  // A string that may hold a password: echo none of its values in errors.
  const quiet = /password/i.test(conninfo) || conninfo.includes('@');
  const values = new Map<string, string>(Object.entries(keywords));
  const home = options.home ?? homeDirectory(env);

  // Service file first: it only fills what the string left unset.
  const service = values.get('service') ?? env.PGSERVICE;
  if (service !== undefined) {
    applyService(values, {
      service,
      env,
      home,
      sysconfdir: options.sysconfdir ?? DEBIAN_SYSCONFDIR,
      keywords: new Set<string>(LIBPQ_KEYWORDS),
    });
  }

  // Environment, then compiled-in defaults (libpq's conninfo_add_defaults).
  let sslmodeDefaulted = false;
  for (const spec of LIBPQ_KEYWORD_SPECS) {
    if (values.has(spec.keyword)) continue;
    const fromEnv = spec.envvar === undefined ? undefined : env[spec.envvar];
    if (fromEnv !== undefined) {
      values.set(spec.keyword, fromEnv);
      continue;
    }
    if (spec.keyword === 'sslmode') {
      if (env.PGREQUIRESSL?.startsWith('1')) {
        values.set('sslmode', 'require');
        continue;
      }
      sslmodeDefaulted = true;
    }
    if (spec.compiled !== undefined) values.set(spec.keyword, spec.compiled);
  }
  // libpq 16+: sslrootcert=system without an explicit sslmode means verify-full.
  if (sslmodeDefaulted && values.get('sslrootcert') === 'system') values.set('sslmode', 'verify-full');

  const get = (k: LibpqKeyword): string => values.get(k) ?? '';

  let user = get('user');
  if (user === '') user = options.osUser ?? osUserName();
  const database = get('dbname') || user;

  const hosts = resolveHosts(get('host'), get('hostaddr'), get('port'), options.defaultHost ?? 'localhost', quiet);

  validate(values, quiet);
  const connectTimeout = parseConnectTimeout(values.get('connect_timeout'), quiet);

  const password = get('password');
  let hostsWithPasswords = hosts;
  if (password === '') {
    const passfile = get('passfile') || (home ? join(home, '.pgpass') : '');
    if (passfile) {
      hostsWithPasswords = hosts.map((h, i) => {
        const found = passwordFromFile(
          passfile,
          { host: h.rawHost || h.hostaddr || '', port: h.rawPort, database, user, defaultSocketDir: DEBIAN_SOCKET_DIR },
          options.warn,
        );
        return found === undefined ? h : withHidden(h, 'password', found);
      });
    }
  }

  const rest: Record<string, string> = {};
  for (const k of LIBPQ_KEYWORDS) {
    if (TYPED.has(k)) continue;
    const v = values.get(k);
    if (v !== undefined) rest[k] = v;
  }

  const config = {
    ...rest,
    hosts: hostsWithPasswords.map(publicHost),
    database,
    user,
    target_session_attrs: (get('target_session_attrs') || 'any') as TargetSessionAttrs,
    load_balance_hosts: (get('load_balance_hosts') || 'disable') as LoadBalanceHosts,
    connect_timeout: connectTimeout,
    sslmode: (get('sslmode') || 'prefer') as SslMode,
    options: get('options'),
    extensions,
  } as Record<string, unknown>;
  const appName = values.get('application_name');
  if (appName !== undefined) config.application_name = appName;
  if (password !== '') Object.defineProperty(config, 'password', { value: password, enumerable: false });
  const sslpassword = values.get('sslpassword');
  if (sslpassword) Object.defineProperty(config, 'sslpassword', { value: sslpassword, enumerable: false });
  return config as ConnectionConfig;
}

const TYPED: ReadonlySet<string> = new Set<TypedKeyword>([
  'host',
  'hostaddr',
  'port',
  'dbname',
  'user',
  'password',
  'sslpassword',
  'target_session_attrs',
  'load_balance_hosts',
  'connect_timeout',
  'sslmode',
  'application_name',
  'options',
]);

interface ResolvedHost {
  host: string;
  hostaddr?: string;
  port: number;
  type: 'tcp' | 'unix';
  /** The host list element as given ('' when absent). */
  rawHost: string;
  /** The port list element as given ('' when absent). */
  rawPort: string;
  password?: string;
}

function withHidden<T extends object>(obj: T, key: string, value: string): T {
  const copy = { ...obj };
  Object.defineProperty(copy, key, { value, enumerable: false });
  return copy;
}

function publicHost(h: ResolvedHost): HostSpec {
  const out: { host: string; hostaddr?: string; port: number; type: 'tcp' | 'unix' } = { host: h.host, port: h.port, type: h.type };
  if (h.hostaddr !== undefined) out.hostaddr = h.hostaddr;
  if (h.password !== undefined) Object.defineProperty(out, 'password', { value: h.password, enumerable: false });
  return out;
}

/** libpq's pqConnectOptions2, host part: split the lists and pair them up. */
function resolveHosts(host: string, hostaddr: string, port: string, defaultHost: string, quiet: boolean): ResolvedHost[] {
  const hostaddrs = hostaddr === '' ? undefined : hostaddr.split(',');
  const names = host === '' ? undefined : host.split(',');
  const count = hostaddrs?.length ?? names?.length ?? 1;
  if (hostaddrs && names && names.length !== count) {
    throw new ConnectionStringError(
      'CONNINFO_HOST_PORT_MISMATCH',
      `could not match ${names.length} host names to ${count} hostaddr values`,
      quiet ? {} : { fragment: `host=${safeWord(host)} hostaddr=${safeWord(hostaddr)}` },
    );
  }
  let ports: string[] = [''];
  if (port !== '') {
    ports = port.split(',');
    if (ports.length === 1) ports = new Array<string>(count).fill(ports[0]!);
    else if (ports.length !== count) {
      throw new ConnectionStringError(
        'CONNINFO_HOST_PORT_MISMATCH',
        `could not match ${ports.length} port numbers to ${count} hosts`,
        { fragment: `port=${safePorts(port)}` },
      );
    }
  } else {
    ports = new Array<string>(count).fill('');
  }
  const out: ResolvedHost[] = [];
  for (let i = 0; i < count; i++) {
    const addr = hostaddrs?.[i] ?? '';
    const name = names?.[i] ?? '';
    const rawPort = ports[i]!;
    const portNumber = rawPort === '' ? 5432 : parsePort(rawPort);
    if (addr !== '') {
      out.push({ host: name || addr, hostaddr: addr, port: portNumber, type: 'tcp', rawHost: name, rawPort });
    } else {
      const h = name || defaultHost;
      out.push({ host: h, port: portNumber, type: isUnixSocketPath(h) ? 'unix' : 'tcp', rawHost: name, rawPort });
    }
  }
  return out;
}

/** libpq's pqParseIntParam: optional whitespace, sign, digits, trailing whitespace; fits in int32. */
export function parseLibpqInt(value: string): number | undefined {
  const m = /^[ \t\n\r\v\f]*([+-]?\d+)[ \t\n\r\v\f]*$/.exec(value);
  if (!m) return undefined;
  const n = Number(m[1]);
  if (!Number.isSafeInteger(n) || n > 2147483647 || n < -2147483648) return undefined;
  return n;
}

function parsePort(raw: string): number {
  const n = parseLibpqInt(raw);
  if (n === undefined || n < 1 || n > 65535) {
    const shown = safePorts(raw);
    throw new ConnectionStringError('CONNINFO_INVALID_VALUE', `invalid port number: ${JSON.stringify(shown)}`, { fragment: `port=${shown}` });
  }
  return n;
}

function parseConnectTimeout(raw: string | undefined, quiet: boolean): number {
  if (raw === undefined || raw === '') return 0;
  const n = parseLibpqInt(raw);
  if (n === undefined) invalid('connect_timeout', raw, 'an integer number of seconds', quiet);
  if (n <= 0) return 0;
  return n < 2 ? 2 : n;
}

/** Fails naming the keyword and, unless the input may hold a password, the value. */
function invalid(keyword: string, value: string, expected: string, quiet: boolean): never {
  if (quiet) {
    throw new ConnectionStringError('CONNINFO_INVALID_VALUE', `invalid ${keyword} value (expected ${expected})`, { fragment: keyword });
  }
  const shown = safeWord(value);
  throw new ConnectionStringError('CONNINFO_INVALID_VALUE', `invalid ${keyword} value: ${JSON.stringify(shown)} (expected ${expected})`, {
    fragment: `${keyword}=${shown}`,
  });
}

const ENUMS: Readonly<Record<string, readonly string[]>> = {
  target_session_attrs: TARGET_SESSION_ATTRS,
  load_balance_hosts: LOAD_BALANCE_HOSTS,
  sslmode: SSL_MODES,
  channel_binding: ['disable', 'prefer', 'require'],
  gssencmode: ['disable', 'prefer', 'require'],
  sslcertmode: ['disable', 'allow', 'require'],
  sslnegotiation: ['postgres', 'direct'],
};

const INT_KEYWORDS = ['keepalives', 'keepalives_idle', 'keepalives_interval', 'keepalives_count', 'tcp_user_timeout'] as const;
const TLS_VERSIONS = ['tlsv1', 'tlsv1.1', 'tlsv1.2', 'tlsv1.3'];

/** The checks libpq makes in pqConnectOptions2 / at connect time, made now. */
function validate(values: ReadonlyMap<string, string>, quiet: boolean): void {
  for (const [keyword, allowed] of Object.entries(ENUMS)) {
    const v = values.get(keyword);
    if (v !== undefined && v !== '' && !allowed.includes(v)) invalid(keyword, v, `one of ${allowed.join(', ')}`, quiet);
  }
  for (const keyword of INT_KEYWORDS) {
    const v = values.get(keyword);
    if (v !== undefined && v !== '' && parseLibpqInt(v) === undefined) invalid(keyword, v, 'an integer', quiet);
  }
  const sslmode = values.get('sslmode') || 'prefer';
  if (values.get('sslrootcert') === 'system' && sslmode !== 'verify-full') {
    invalid('sslmode', sslmode, 'verify-full, which sslrootcert=system requires', quiet);
  }
  if (values.get('sslnegotiation') === 'direct' && !['require', 'verify-ca', 'verify-full'].includes(sslmode)) {
    invalid('sslmode', sslmode, 'require, verify-ca or verify-full, which sslnegotiation=direct requires', quiet);
  }
  const min = values.get('ssl_min_protocol_version') ?? '';
  const max = values.get('ssl_max_protocol_version') ?? '';
  for (const [keyword, v] of [['ssl_min_protocol_version', min], ['ssl_max_protocol_version', max]] as const) {
    if (v !== '' && !TLS_VERSIONS.includes(v.toLowerCase())) invalid(keyword, v, 'TLSv1, TLSv1.1, TLSv1.2 or TLSv1.3', quiet);
  }
  if (min !== '' && max !== '' && TLS_VERSIONS.indexOf(min.toLowerCase()) > TLS_VERSIONS.indexOf(max.toLowerCase())) {
    invalid('ssl_max_protocol_version', max, `a version not below ssl_min_protocol_version=${min}`, quiet);
  }
  const requireAuth = values.get('require_auth');
  if (requireAuth) validateRequireAuth(requireAuth, quiet);
}

const AUTH_METHODS = ['password', 'md5', 'gss', 'sspi', 'scram-sha-256', 'none'];

/** libpq 16's require_auth rules: known methods, all negated or none, no duplicates. */
function validateRequireAuth(value: string, quiet: boolean): void {
  const parts = value.split(',');
  const negated = parts[0]!.startsWith('!');
  const seen = new Set<string>();
  for (const part of parts) {
    const isNeg = part.startsWith('!');
    if (isNeg !== negated) invalid('require_auth', value, 'methods that are either all negated or none negated', quiet);
    const method = isNeg ? part.slice(1) : part;
    if (!AUTH_METHODS.includes(method)) invalid('require_auth', value, `methods among ${AUTH_METHODS.join(', ')}`, quiet);
    if (seen.has(method)) invalid('require_auth', value, 'each method at most once', quiet);
    seen.add(method);
  }
}

function homeDirectory(env: NodeJS.ProcessEnv): string | undefined {
  if (env.HOME) return env.HOME;
  try {
    return userInfo().homedir || undefined;
  } catch {
    return undefined;
  }
}

function osUserName(): string {
  try {
    return userInfo().username;
  } catch {
    throw new ConnectionStringError('CONNINFO_INVALID_VALUE', 'no user name given and the local user name could not be determined');
  }
}
