/**
 * Reads a Patroni node configuration file (the YAML a Patroni user already
 * has, e.g. Patroni's own postgres0.yml) into a typed, validated
 * {@link PatroniNodeConfig}; and builds the same structure from command-line
 * flags (`manager --name n0 --scope demo --etcd 127.0.0.1:2379 …`).
 *
 * - Keys this manager does not implement are never silently dropped: each one
 *   yields a warning naming its key path.
 * - Invalid values throw one FailoverError (src/errors.ts) with code `MANAGER_CONFIG`
 *   listing every problem by key path with how to fix it (`detail.problems`).
 * - Passwords never appear in a message, a warning, `JSON.stringify` or
 *   `console.log` of the result (they are non-enumerable properties).
 */
import { existsSync, readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import type { CustomBootstrap } from './bootstrap-method';
import type { CallbackAction } from './callbacks';
import { configFromEnvironment } from './config-env';
import { configError, deepMerge, isMap, validateNodeConfig, type ConfigProblem, type Raw } from './config-validate';

export { parseHostPort, type ConfigProblem } from './config-validate';

/** A user name and (non-enumerable) password. */
export interface Credentials {
  username: string;
  /** Non-enumerable: absent from JSON.stringify and util.inspect. */
  readonly password?: string;
}

/** `restapi.certfile` & co. (Patroni's names, file paths). */
export interface RestApiTls {
  certfile: string;
  keyfile?: string;
  /** Non-enumerable: absent from JSON.stringify and util.inspect. */
  readonly keyfilePassword?: string;
  /** CAs that client certificates are verified against. */
  cafile?: string;
  /** OpenSSL cipher list. */
  ciphers?: string;
  /** `none` (default): no client certificate asked; `optional`: asked, and unsafe requests need a valid one; `required`: refused at the handshake without one. */
  verifyClient: 'none' | 'optional' | 'required';
}

/** The `ctl` section: TLS for requests to members' REST APIs. */
export interface CtlTls {
  /** Do not verify the server's certificate. */
  insecure: boolean;
  /** CA file to verify the server's certificate with (Patroni falls back to `restapi.cafile`). */
  cacert?: string;
  /** Client certificate and key. */
  certfile?: string;
  keyfile?: string;
  /** Non-enumerable. */
  readonly keyfilePassword?: string;
}

/** A `host:port` pair (`host` may be a wildcard like `0.0.0.0` for listen addresses). */
export interface HostPort {
  host: string;
  port: number;
}

/** `bootstrap.dcs`: the dynamic configuration written to `/<namespace>/<scope>/config` at bootstrap. */
export interface DynamicConfig {
  ttlSeconds: number;
  loopWaitSeconds: number;
  retryTimeoutSeconds: number;
  maximumLagOnFailoverBytes: number;
  synchronousMode: boolean;
  synchronousModeStrict: boolean;
  postgresql: {
    parameters: Record<string, string | number | boolean>;
    useSlots: boolean;
    usePgRewind: boolean;
    pgHba?: string[];
  };
  /** `bootstrap.dcs` exactly as the file gives it (what Patroni writes into the `config` key). */
  raw: Record<string, unknown>;
}

/** A Patroni node's configuration, typed. */
export interface PatroniNodeConfig {
  scope: string;
  /** Without trailing slash, with leading slash: `/service`. */
  namespace: string;
  name: string;
  restapi: {
    listen: HostPort;
    connectAddress: HostPort;
    authentication?: Credentials;
    /** HTTPS settings (`restapi.certfile` …): present exactly when the API speaks HTTPS. */
    tls?: RestApiTls;
    /** `restapi.allowlist`: IPs, host names and CIDR networks allowed to send unsafe (write) requests. */
    allowlist?: string[];
    /** `restapi.allowlist_include_members`: the members' `api_url` hosts are allowed too. */
    allowlistIncludeMembers?: boolean;
    /** `restapi.http_extra_headers`: headers added to every response. */
    httpExtraHeaders?: Record<string, string>;
    /** `restapi.https_extra_headers`: headers added to every response when the API speaks HTTPS (after the http ones). */
    httpsExtraHeaders?: Record<string, string>;
  };
  /** `ctl`: how this node (and patronictl) talks to members' REST APIs over HTTPS. */
  ctl?: CtlTls;
  etcd: {
    /** `host:port` endpoints. */
    hosts: string[];
    protocol: 'http' | 'https';
    /** The section it came from (`etcd3`, or `etcd` which we also speak v3 to). */
    section: 'etcd3' | 'etcd';
    authentication?: Credentials;
    cacert?: string;
    cert?: string;
    key?: string;
  };
  bootstrap: {
    dcs: DynamicConfig;
    /** initdb arguments, normalised: `encoding: UTF8` → `--encoding=UTF8`, `data-checksums` → `--data-checksums`. */
    initdb: string[];
    /** `bootstrap.pg_hba` (the pre-dynamic-config location). */
    pgHba?: string[];
    /** `bootstrap.method` with a command: create the cluster with it instead of initdb (bootstrap-method.ts). */
    method?: CustomBootstrap;
    /** `bootstrap.post_bootstrap` (or `post_init`): run once after the new cluster started (actions/post-bootstrap.ts). */
    postBootstrap?: string;
  };
  postgresql: {
    /** Listen hosts (Patroni allows `a,b:5432`) and the port. */
    listen: { hosts: string[]; port: number };
    connectAddress: HostPort;
    dataDir: string;
    binDir?: string;
    pgpass?: string;
    authentication: {
      superuser: Credentials;
      replication: Credentials;
      rewind?: Credentials;
    };
    parameters: Record<string, string | number | boolean>;
    pgHba?: string[];
    createReplicaMethods: string[];
    /**
     * Options of each user-defined method in `create_replica_methods` (its `postgresql.<method>`
     * section: `command`, `no_leader`, `keep_data`, `no_params`, and anything else, passed as
     * `--key=value`). See actions/replica-methods.ts.
     */
    replicaMethodOptions?: Record<string, Record<string, unknown>>;
    usePgRewind?: boolean;
    pgCtlTimeoutSeconds?: number;
    removeDataDirectoryOnRewindFailure: boolean;
    removeDataDirectoryOnDivergedTimelines: boolean;
    /** `postgresql.callbacks`: command lines run as `<cmd> <action> <role> <scope>` (Patroni's contract). */
    callbacks: Partial<Record<CallbackAction, string>>;
    /**
     * `postgresql.pre_promote`: a fencing command run (split like a shell line,
     * no arguments added) after this node wins the leader key and before it
     * promotes; a non-zero exit, or no exit within `ttl` × 2 s (at least 30 s),
     * cancels the promotion and releases the key (Patroni's contract).
     */
    prePromote?: string;
  };
  tags: {
    nofailover: boolean;
    noloadbalance: boolean;
    clonefrom: boolean;
    nosync: boolean;
    failoverPriority?: number;
    /** `replicatefrom`: stream from this member instead of the leader while it runs (a cascading replica). */
    replicatefrom?: string;
    /** `nostream`: do not stream; recover WAL from `restore_command` only (Patroni 4). */
    nostream: boolean;
    /** Every other tag, as given (published in the member key). */
    custom: Record<string, unknown>;
    /** The tags' keys in the order the file gives them (the member key lists them in that order, as Patroni does). */
    order?: string[];
    /**
     * The `tags` section exactly as the file gives it (order and values), when read from a file:
     * the member key publishes it by Patroni's rule (tags.ts `publishedTags`), so
     * `failover_priority: '1'` stays a string there, as in Patroni.
     */
    asGiven?: Record<string, unknown>;
  };
  watchdog: { mode: 'off' | 'automatic' | 'required'; device?: string; safetyMarginSeconds?: number };
  log: { level: string; dir?: string; type?: 'plain' | 'json' };
}

/** Result of reading a configuration. */
export interface LoadedConfig {
  config: PatroniNodeConfig;
  /** One line per ignored/unimplemented key, naming its path. */
  warnings: string[];
}

/**
 * Reads a Patroni YAML configuration (text, or a path to a file) and validates it.
 * `overrides` (Patroni-shaped, e.g. `{ name: 'n1', postgresql: { data_dir: '/d' } }`) are merged over the file first;
 * with `opts.env` (the CLI passes `process.env`), Patroni's `PATRONI_*` variables are merged over the file before them.
 *
 * @example
 * const { config, warnings } = loadManagerConfig('/etc/patroni/postgres0.yml');
 * for (const w of warnings) console.warn(w);
 * config.postgresql.connectAddress; // { host: '127.0.0.1', port: 5432 }
 */
export function loadManagerConfig(yamlTextOrPath: string, overrides: Raw = {}, opts: { env?: NodeJS.ProcessEnv } = {}): LoadedConfig {
  let text = yamlTextOrPath;
  let source = 'configuration';
  if (!yamlTextOrPath.includes('\n') && (existsSync(yamlTextOrPath) || /\.ya?ml$/i.test(yamlTextOrPath))) {
    if (!existsSync(yamlTextOrPath)) throw configError([{ key: '(file)', message: `configuration file ${yamlTextOrPath} does not exist` }]);
    source = yamlTextOrPath;
    text = readFileSync(yamlTextOrPath, 'utf8');
  }
  // YAML 1.1, as PyYAML reads Patroni's files: unquoted on/off/yes/no are booleans there too.
  const doc = parseDocument(text, { version: '1.1', uniqueKeys: true, prettyErrors: false });
  if (doc.errors.length) {
    // Only positions and codes: the YAML library's messages quote source lines, which may hold passwords.
    const problems = doc.errors.map((e) => ({ key: '(yaml)', message: `${source}: YAML syntax error ${e.code} at line ${e.linePos?.[0]?.line ?? '?'}, column ${e.linePos?.[0]?.col ?? '?'}` }));
    throw configError(problems);
  }
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: 100 }) as unknown;
  } catch (e) {
    // an alias to an anchor not yet set, or an alias bomb: the library throws a ReferenceError naming only the alias
    throw configError([{ key: '(yaml)', message: `${source}: YAML alias error: ${e instanceof Error ? e.message : String(e)}` }]);
  }
  if (isCyclic(raw)) throw configError([{ key: '(yaml)', message: `${source}: a YAML alias refers to a mapping or list that contains it; a configuration must be a tree` }]);
  if (raw === null || raw === undefined) throw configError([{ key: '(root)', message: `${source} is empty; expected a Patroni configuration mapping (scope, name, restapi, etcd3, postgresql …)` }]);
  if (!isMap(raw)) throw configError([{ key: '(root)', message: `${source} must be a YAML mapping at the top level` }]);
  // Patroni's order: the file, then PATRONI_* environment variables, then (ours) command-line flags.
  const fromEnv = opts.env ? configFromEnvironment(opts.env) : { overlay: {}, ignored: [] };
  const loaded = validateNodeConfig(deepMerge(deepMerge(raw, fromEnv.overlay), overrides));
  for (const name of fromEnv.ignored) loaded.warnings.push(`environment variable ${name} is a Patroni setting this manager does not implement; it is ignored`);
  return loaded;
}

/** Whether a parsed document refers to itself (`a: &x [*x]`): it could never be written as JSON to the DCS. */
function isCyclic(v: unknown, ancestors = new Set<unknown>()): boolean {
  if (!v || typeof v !== 'object') return false;
  if (ancestors.has(v)) return true;
  ancestors.add(v);
  const found = Object.values(v).some((x) => isCyclic(x, ancestors));
  ancestors.delete(v);
  return found;
}

/** Flags accepted by {@link configFromFlags} (kebab-case or camelCase). */
export const MANAGER_FLAGS = [
  'name', 'scope', 'namespace', 'etcd', 'etcd-protocol', 'data-dir', 'bin-dir', 'pg-host', 'pg-port', 'pg-connect-host',
  'api-host', 'api-port', 'api-connect-host', 'api-username', 'api-password', 'superuser', 'superuser-password',
  'replication-user', 'replication-password', 'ttl', 'loop-wait', 'retry-timeout', 'maximum-lag-on-failover',
  'synchronous-mode', 'nofailover', 'noloadbalance', 'failover-priority', 'pg-hba', 'parameter', 'log-level',
] as const;

/**
 * Builds the same typed configuration from command-line flags:
 * `{ name: 'n0', scope: 'demo', etcd: '127.0.0.1:2379', 'data-dir': '/d', 'pg-port': '5432', 'api-port': '8008' }`.
 * `parameter` takes `key=value` (repeatable); `pg-hba` a line (repeatable). Unknown flags are errors.
 */
export function configFromFlags(flags: Record<string, string | number | boolean | string[] | undefined>): LoadedConfig {
  const problems: ConfigProblem[] = [];
  const f = new Map<string, string | number | boolean | string[]>();
  for (const [k, v] of Object.entries(flags)) {
    if (v === undefined) continue;
    const kebab = k.replace(/^--/, '').replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
    if (!(MANAGER_FLAGS as readonly string[]).includes(kebab)) problems.push({ key: `--${kebab}`, message: `unknown flag --${kebab}; known flags: ${MANAGER_FLAGS.map((x) => `--${x}`).join(' ')}` });
    else f.set(kebab, v);
  }
  if (problems.length) throw configError(problems);
  const s = (k: string) => {
    const v = f.get(k);
    return v === undefined ? undefined : Array.isArray(v) ? v[v.length - 1] : String(v);
  };
  const list = (k: string) => {
    const v = f.get(k);
    return v === undefined ? [] : Array.isArray(v) ? v : [String(v)];
  };
  const bool = (k: string) => (f.has(k) ? s(k) !== 'false' : undefined);
  const pgHost = s('pg-host') ?? '127.0.0.1';
  const apiHost = s('api-host') ?? '127.0.0.1';
  const parameters: Raw = {};
  for (const p of list('parameter')) {
    const eq = p.indexOf('=');
    if (eq <= 0) problems.push({ key: '--parameter', message: `--parameter expects key=value, got "${p.split('=')[0]}…"` });
    else parameters[p.slice(0, eq).trim()] = p.slice(eq + 1).trim();
  }
  if (problems.length) throw configError(problems);
  const raw: Raw = {
    scope: s('scope'),
    name: s('name'),
    ...(s('namespace') ? { namespace: s('namespace') } : {}),
    restapi: {
      listen: `${apiHost}:${s('api-port') ?? 8008}`,
      connect_address: `${s('api-connect-host') ?? apiHost}:${s('api-port') ?? 8008}`,
      ...(s('api-username') ? { authentication: { username: s('api-username'), password: s('api-password') ?? '' } } : {}),
    },
    etcd3: { hosts: s('etcd'), ...(s('etcd-protocol') ? { protocol: s('etcd-protocol') } : {}) },
    bootstrap: {
      dcs: {
        ...(s('ttl') ? { ttl: s('ttl') } : {}),
        ...(s('loop-wait') ? { loop_wait: s('loop-wait') } : {}),
        ...(s('retry-timeout') ? { retry_timeout: s('retry-timeout') } : {}),
        ...(s('maximum-lag-on-failover') ? { maximum_lag_on_failover: s('maximum-lag-on-failover') } : {}),
        ...(f.has('synchronous-mode') ? { synchronous_mode: s('synchronous-mode')?.toLowerCase() === 'quorum' ? 'quorum' : bool('synchronous-mode') } : {}),
      },
    },
    postgresql: {
      listen: `${pgHost}:${s('pg-port') ?? 5432}`,
      connect_address: `${s('pg-connect-host') ?? pgHost}:${s('pg-port') ?? 5432}`,
      data_dir: s('data-dir'),
      ...(s('bin-dir') ? { bin_dir: s('bin-dir') } : {}),
      authentication: {
        superuser: { username: s('superuser') ?? 'postgres', ...(s('superuser-password') !== undefined ? { password: s('superuser-password') } : {}) },
        replication: { username: s('replication-user') ?? s('superuser') ?? 'postgres', ...(s('replication-password') !== undefined ? { password: s('replication-password') } : {}) },
      },
      parameters,
      ...(f.has('pg-hba') ? { pg_hba: list('pg-hba') } : {}),
    },
    tags: {
      ...(f.has('nofailover') ? { nofailover: bool('nofailover') } : {}),
      ...(f.has('noloadbalance') ? { noloadbalance: bool('noloadbalance') } : {}),
      ...(f.has('failover-priority') ? { failover_priority: s('failover-priority') } : {}),
    },
    ...(s('log-level') ? { log: { level: s('log-level') } } : {}),
  };
  return validateNodeConfig(raw, { flagOfKey: FLAG_OF_KEY });
}

/** Where a flag lands, to name the flag in errors about configFromFlags input. */
const FLAG_OF_KEY: Record<string, string> = {
  scope: '--scope', name: '--name', namespace: '--namespace', 'etcd3.hosts': '--etcd', 'etcd3.protocol': '--etcd-protocol',
  'postgresql.data_dir': '--data-dir', 'postgresql.listen': '--pg-host/--pg-port', 'postgresql.connect_address': '--pg-connect-host/--pg-port',
  'restapi.listen': '--api-host/--api-port', 'restapi.connect_address': '--api-connect-host/--api-port', 'bootstrap.dcs.ttl': '--ttl',
  'bootstrap.dcs.loop_wait': '--loop-wait', 'bootstrap.dcs.retry_timeout': '--retry-timeout',
  'bootstrap.dcs.maximum_lag_on_failover': '--maximum-lag-on-failover', 'bootstrap.dcs.synchronous_mode': '--synchronous-mode',
  'tags.failover_priority': '--failover-priority', 'log.level': '--log-level',
};
