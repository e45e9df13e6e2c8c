/**
 * Validation behind loadManagerConfig / configFromFlags: walks a
 * Patroni-shaped configuration object key by key, collects every invalid
 * value as a problem (key path + how to fix it) and every unimplemented or
 * unknown key as a warning (key path), and builds the typed
 * {@link PatroniNodeConfig}. Passwords are stored non-enumerable and never
 * echoed.
 */
import { FailoverError } from '../errors';
import { parseBool, synchronousModeOf } from './dynamic-config';
import { parseLagBytes } from './api-views';
import { customBootstrapOf } from './bootstrap-method';
import { STANDBY_CLUSTER_KEYS, standbyClusterOf } from './standby-cluster';
import { CALLBACK_ACTIONS, splitCommandLine, type CallbackAction } from './callbacks';
import type { Credentials, DynamicConfig, HostPort, LoadedConfig, PatroniNodeConfig } from './config';
import { RESTAPI_SECURITY_KEYS, validateCtl, validateRestApiSecurity } from './config-restapi-security';
import { SLOT_KEYS, slotSettingsOf } from './slot-config';

export type Raw = Record<string, unknown>;

/** One invalid value. */
export interface ConfigProblem {
  /** Key path, e.g. `bootstrap.dcs.ttl`. */
  key: string;
  message: string;
}

// ───────────────────────── validation ─────────────────────────

/** Keys Patroni knows but this manager ignores (warned, never silent), by section path. */
const NOT_IMPLEMENTED = 'is a Patroni setting this manager does not implement; it is ignored';

export class Walker {
  readonly problems: ConfigProblem[] = [];
  readonly warnings: string[] = [];
  constructor(readonly flagOfKey: Record<string, string> = {}) {}

  problem(key: string, message: string): void {
    const flag = this.flagOfKey[key];
    this.problems.push({ key, message: flag ? `${message} (flag ${flag})` : message });
  }
  warn(key: string, why = NOT_IMPLEMENTED): void {
    this.warnings.push(`${key} ${why}`);
  }
  /** Warns about every key of `obj` not in `known`, under `path`. */
  unknownKeys(obj: Raw, path: string, known: readonly string[], notImplemented: readonly string[] = []): void {
    for (const k of Object.keys(obj)) {
      if (known.includes(k)) continue;
      const at = path ? `${path}.${k}` : k;
      if (notImplemented.includes(k)) this.warn(at);
      else this.warn(at, 'is not a known Patroni setting (typo?); it is ignored');
    }
  }
  section(obj: Raw, key: string, path: string, required = false): Raw | undefined {
    const v = obj[key];
    const at = path ? `${path}.${key}` : key;
    if (v === undefined || v === null) {
      if (required) this.problem(at, `${at} is required`);
      return undefined;
    }
    if (!isMap(v)) {
      // never echo the value: a misplaced password (authentication: secret) must not reach a message
      this.problem(at, `${at} must be a mapping (key: value lines indented under it), got ${Array.isArray(v) ? 'a list' : typeof v}`);
      return undefined;
    }
    return v;
  }
  string(obj: Raw | undefined, key: string, path: string, required = false): string | undefined {
    const at = path ? `${path}.${key}` : key;
    const v = obj?.[key];
    if (v === undefined || v === null || v === '') {
      if (required) this.problem(at, `${at} is required${hint(at)}`);
      return undefined;
    }
    if (typeof v === 'string') return v;
    if (typeof v === 'number') return String(v);
    this.problem(at, `${at} must be a string, got ${typeName(v)}`);
    return undefined;
  }
  bool(obj: Raw | undefined, key: string, path: string): boolean | undefined {
    const at = `${path}.${key}`;
    const v = obj?.[key];
    if (v === undefined || v === null) return undefined;
    const b = parseBool(v);
    if (b !== undefined) return b;
    this.problem(at, `${at} must be a boolean (Patroni accepts true/false, on/off, yes/no, 1/0), got ${typeName(v)}`);
    return undefined;
  }
  number(obj: Raw | undefined, key: string, path: string, opts: { min: number; integer?: boolean }): number | undefined {
    const at = `${path}.${key}`;
    const v = obj?.[key];
    if (v === undefined || v === null) return undefined;
    const n = typeof v === 'number' ? v : typeof v === 'string' && /^\s*-?\d+(\.\d+)?\s*$/.test(v) ? Number(v) : NaN;
    if (!Number.isFinite(n) || (opts.integer && !Number.isInteger(n))) {
      this.problem(at, `${at} must be ${opts.integer ? 'an integer' : 'a number'}, got ${typeName(v)}`);
      return undefined;
    }
    if (n < opts.min) {
      this.problem(at, `${at} must be at least ${opts.min}, got ${n}`);
      return undefined;
    }
    return n;
  }
  stringList(obj: Raw | undefined, key: string, path: string): string[] | undefined {
    const at = `${path}.${key}`;
    const v = obj?.[key];
    if (v === undefined || v === null) return undefined;
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) {
      this.problem(at, `${at} must be a list of strings (one "- line" each)`);
      return undefined;
    }
    return v as string[];
  }
  credentials(obj: Raw | undefined, key: string, path: string, required: boolean): Credentials | undefined {
    const at = `${path}.${key}`;
    const sec = obj ? this.section(obj, key, path, required) : undefined;
    if (!sec) return undefined;
    this.unknownKeys(sec, at, ['username', 'password'], ['sslmode', 'sslkey', 'sslcert', 'sslrootcert', 'sslcrl', 'sslcrldir', 'sslpassword', 'sslnegotiation', 'gssencmode', 'channel_binding']);
    const username = this.string(sec, 'username', at, true);
    const pw = sec.password;
    if (pw !== undefined && pw !== null && typeof pw !== 'string' && typeof pw !== 'number') this.problem(`${at}.password`, `${at}.password must be a string (value not shown)`);
    return credentials(username ?? '', pw === undefined || pw === null ? undefined : String(pw));
  }
  address(obj: Raw | undefined, key: string, path: string, required: boolean): HostPort | undefined {
    const at = `${path}.${key}`;
    const v = obj?.[key];
    if (v === undefined || v === null || v === '') {
      if (required) this.problem(at, `${at} is required, as host:port (e.g. 127.0.0.1:8008)`);
      return undefined;
    }
    const parsed = parseHostPort(String(v));
    if (typeof parsed === 'string') {
      this.problem(at, `${at}: ${parsed}`);
      return undefined;
    }
    return parsed;
  }
}

/**
 * Validates a Patroni-shaped configuration object (parsed YAML, or built from
 * flags) into the typed structure. `flagOfKey` names the flag behind a key path
 * so errors about command-line input can say which flag to fix.
 */
export function validateNodeConfig(raw: Raw, opts: { flagOfKey?: Record<string, string> } = {}): LoadedConfig {
  const w = new Walker(opts.flagOfKey);
  const DCS_OTHERS = ['consul', 'zookeeper', 'exhibitor', 'kubernetes', 'raft'];
  w.unknownKeys(raw, '', ['scope', 'namespace', 'name', 'restapi', 'etcd', 'etcd3', 'bootstrap', 'postgresql', 'tags', 'watchdog', 'log', 'ctl'], [
    'citus', 'thread_pool_size', 'thread_stack_size', 'synchronous_mode', ...DCS_OTHERS,
  ]);

  const scope = w.string(raw, 'scope', '', true);
  const name = w.string(raw, 'name', '', true);
  if (name === '__patroni_strict_sync_replica_placeholder__') w.problem('name', 'name uses a value Patroni reserves; choose another member name');
  const namespaceRaw = w.string(raw, 'namespace', '') ?? '/service';
  const namespace = '/' + namespaceRaw.replace(/^\/+|\/+$/g, '');
  if (scope && /[/\s]/.test(scope)) w.problem('scope', 'scope must not contain "/" or spaces (it becomes an etcd key segment)');
  if (name && /[/\s]/.test(name)) w.problem('name', 'name must not contain "/" or spaces (it becomes an etcd key segment)');

  // restapi
  const rest = w.section(raw, 'restapi', '', true);
  let restapi: PatroniNodeConfig['restapi'] | undefined;
  if (rest) {
    w.unknownKeys(rest, 'restapi', ['listen', 'connect_address', 'authentication', 'http_extra_headers', 'https_extra_headers', ...RESTAPI_SECURITY_KEYS], [
      'thread_pool_size', 'request_queue_size', 'server_tokens',
    ]);
    const listen = w.address(rest, 'listen', 'restapi', true);
    const connect = w.address(rest, 'connect_address', 'restapi', false) ?? defaultConnect(w, listen, 'restapi');
    const auth = w.credentials(rest, 'authentication', 'restapi', false);
    if (auth && auth.password === undefined) w.problem('restapi.authentication.password', 'restapi.authentication.password is required when restapi.authentication is set');
    const security = validateRestApiSecurity(w, rest);
    const httpExtraHeaders = extraHeaders(w, rest, 'http_extra_headers');
    const httpsExtraHeaders = extraHeaders(w, rest, 'https_extra_headers');
    if (listen && connect) {
      restapi = { listen, connectAddress: connect, ...(auth ? { authentication: auth } : {}), ...security, ...(httpExtraHeaders ? { httpExtraHeaders } : {}), ...(httpsExtraHeaders ? { httpsExtraHeaders } : {}) };
    }
  }

  // etcd
  const etcd = validateEtcd(w, raw, DCS_OTHERS);

  // bootstrap
  const boot = w.section(raw, 'bootstrap', '') ?? {};
  w.unknownKeys(boot, 'bootstrap', ['dcs', 'initdb', 'pg_hba', 'method', 'post_bootstrap', 'post_init', ...(typeof boot.method === 'string' ? [boot.method] : [])], ['users']);
  const postBootstrap = w.string(boot, 'post_bootstrap', 'bootstrap') ?? w.string(boot, 'post_init', 'bootstrap');
  const dcs = validateDcs(w, w.section(boot, 'dcs', 'bootstrap') ?? {});
  const initdb = validateInitdb(w, boot.initdb);
  const bootHba = w.stringList(boot, 'pg_hba', 'bootstrap');

  // postgresql
  const pgc = validatePostgresql(w, w.section(raw, 'postgresql', '', true));

  // tags
  const tagsRaw = w.section(raw, 'tags', '') ?? {};
  const failoverPriority = w.number(tagsRaw, 'failover_priority', 'tags', { min: 0, integer: true });
  const nofailover = w.bool(tagsRaw, 'nofailover', 'tags') ?? false;
  if (tagsRaw.nofailover !== undefined && failoverPriority !== undefined && (nofailover ? failoverPriority > 0 : failoverPriority === 0)) {
    // Patroni starts and lets nofailover win, with this warning (word for word: tools grep for it)
    const py = (b: boolean) => (b ? 'True' : 'False');
    w.warn('tags.failover_priority', `: Conflicting configuration between nofailover: ${py(nofailover)} and failover_priority: ${failoverPriority}. Defaulting to nofailover: ${py(nofailover)}`);
  }
  const custom: Raw = {};
  for (const [k, v] of Object.entries(tagsRaw)) if (!['nofailover', 'noloadbalance', 'clonefrom', 'nosync', 'nostream', 'replicatefrom', 'failover_priority'].includes(k)) custom[k] = v;
  const replicatefrom = tagsRaw.replicatefrom === undefined || tagsRaw.replicatefrom === null ? undefined : String(tagsRaw.replicatefrom);
  // sync_priority (Patroni ≥ 4): higher is preferred as synchronous standby, ≤ 0 means nosync unless nosync says otherwise
  const syncPriorityRaw = tagsRaw.sync_priority;
  const syncPriority = typeof syncPriorityRaw === 'number' ? Math.trunc(syncPriorityRaw) : typeof syncPriorityRaw === 'string' && /^\s*[+-]?\d+\s*$/.test(syncPriorityRaw) ? Number(syncPriorityRaw) : undefined;
  if (syncPriorityRaw !== undefined && syncPriorityRaw !== null && syncPriority === undefined) w.problem('tags.sync_priority', `tags.sync_priority must be an integer, got ${typeName(syncPriorityRaw)}`);
  const nosyncGiven = tagsRaw.nosync !== undefined && tagsRaw.nosync !== null;
  const nosyncTag = w.bool(tagsRaw, 'nosync', 'tags') ?? false;
  if (nosyncGiven && syncPriority !== undefined && (nosyncTag ? syncPriority > 0 : syncPriority <= 0)) {
    // Patroni's warning word for word (its priority_sync feature greps for it); nosync wins
    const py = (b: boolean) => (b ? 'True' : 'False');
    w.warn('tags.sync_priority', `: Conflicting configuration between nosync: ${py(nosyncTag)} and sync_priority: ${syncPriority}. Defaulting to nosync: ${py(nosyncTag)}`);
  }
  const tags: PatroniNodeConfig['tags'] = {
    nofailover: tagsRaw.nofailover !== undefined ? nofailover : failoverPriority === 0,
    noloadbalance: w.bool(tagsRaw, 'noloadbalance', 'tags') ?? false,
    clonefrom: w.bool(tagsRaw, 'clonefrom', 'tags') ?? false,
    nosync: nosyncGiven ? nosyncTag : syncPriority !== undefined && syncPriority <= 0,
    nostream: w.bool(tagsRaw, 'nostream', 'tags') ?? false,
    ...(replicatefrom ? { replicatefrom } : {}),
    ...(failoverPriority !== undefined ? { failoverPriority } : {}),
    custom,
    order: Object.keys(tagsRaw),
    asGiven: { ...tagsRaw },
  };

  // watchdog
  const wd = w.section(raw, 'watchdog', '') ?? {};
  w.unknownKeys(wd, 'watchdog', ['mode', 'device', 'safety_margin']);
  // PyYAML reads unquoted off/on (and no/yes) as booleans; Patroni maps them back: false → off, true → automatic.
  const mode = typeof wd.mode === 'boolean' ? (wd.mode ? 'automatic' : 'off') : (w.string(wd, 'mode', 'watchdog') ?? 'off').toLowerCase();
  if (!['off', 'automatic', 'required'].includes(mode)) w.problem('watchdog.mode', `watchdog.mode must be off, automatic or required, got "${mode}"`);
  if (mode === 'required') w.problem('watchdog.mode', 'watchdog.mode: required cannot be honoured: this manager has no watchdog support; set watchdog.mode: off (or automatic, which is ignored with a warning)');
  if (mode === 'automatic') w.warn('watchdog.mode', 'is automatic but this manager has no watchdog support; it runs without one');
  const watchdog: PatroniNodeConfig['watchdog'] = {
    mode: mode as 'off' | 'automatic' | 'required',
    ...(w.string(wd, 'device', 'watchdog') ? { device: w.string(wd, 'device', 'watchdog')! } : {}),
    ...(wd.safety_margin !== undefined ? { safetyMarginSeconds: w.number(wd, 'safety_margin', 'watchdog', { min: -1, integer: true }) ?? 5 } : {}),
  };

  // log
  const lg = w.section(raw, 'log', '') ?? {};
  w.unknownKeys(lg, 'log', ['level', 'dir', 'type'], ['traceback_level', 'format', 'dateformat', 'static_fields', 'max_queue_size', 'file_num', 'file_size', 'mode', 'loggers', 'deduplicate_heartbeat_logs']);
  const level = (w.string(lg, 'level', 'log') ?? 'INFO').toUpperCase();
  if (!['DEBUG', 'INFO', 'WARN', 'WARNING', 'ERROR', 'FATAL', 'CRITICAL'].includes(level)) w.problem('log.level', `log.level must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL; got "${level}"`);
  const logType = w.string(lg, 'type', 'log');
  if (logType !== undefined && logType !== 'plain' && logType !== 'json') w.problem('log.type', `log.type must be plain or json, got "${logType}"`);
  const logDir = w.string(lg, 'dir', 'log');
  const log: PatroniNodeConfig['log'] = { level, ...(logDir ? { dir: logDir } : {}), ...(logType ? { type: logType as 'plain' | 'json' } : {}) };

  const method = pgc && scope ? customBootstrapOf(boot, { scope, dataDir: pgc.dataDir }, { warn: (at, why) => w.warn(at, why), problem: (at, why) => w.problem(at, why) }) : undefined;

  if (w.problems.length || !scope || !name || !restapi || !etcd || !pgc || !dcs) {
    if (!w.problems.length) w.problem('(root)', 'configuration is incomplete');
    throw configError(w.problems);
  }
  const ctl = validateCtl(w, raw);
  if (w.problems.length) throw configError(w.problems);
  const config: PatroniNodeConfig = {
    ...(ctl ? { ctl } : {}),
    scope,
    namespace,
    name,
    restapi,
    etcd,
    bootstrap: { dcs, initdb, ...(bootHba ? { pgHba: bootHba } : {}), ...(method ? { method } : {}), ...(postBootstrap ? { postBootstrap } : {}) },
    postgresql: pgc,
    tags,
    watchdog,
    log,
  };
  return { config, warnings: w.warnings };
}

function validateEtcd(w: Walker, raw: Raw, others: string[]): PatroniNodeConfig['etcd'] | undefined {
  const sectionName = raw.etcd3 !== undefined ? 'etcd3' : raw.etcd !== undefined ? 'etcd' : undefined;
  if (!sectionName) {
    const other = others.find((k) => raw[k] !== undefined);
    w.problem('etcd3', other ? `${other}: this manager supports etcd v3 only; replace the ${other} section with an etcd3 section (hosts: host:port,…)` : 'etcd3 is required: add an etcd3 section with hosts (e.g. hosts: 127.0.0.1:2379)');
    return undefined;
  }
  if (raw.etcd3 !== undefined && raw.etcd !== undefined) w.warn('etcd', 'is ignored because etcd3 is also given');
  if (sectionName === 'etcd') w.warn('etcd', 'selects the etcd v2 API in Patroni; this manager speaks the v3 API to the same hosts (rename the section to etcd3 to silence this)');
  for (const k of others) if (raw[k] !== undefined) w.warn(k, `is ignored: this manager uses ${sectionName} only`);
  const sec = w.section(raw, sectionName, '', true);
  if (!sec) return undefined;
  w.unknownKeys(sec, sectionName, ['host', 'hosts', 'url', 'protocol', 'username', 'user', 'password', 'cacert', 'cert', 'key'], ['proxy', 'srv', 'srv_suffix', 'use_proxies', 'retry_timeout', 'ttl', 'loop_wait']);
  const hosts: string[] = [];
  let sawHttps = false;
  const add = (v: string, at: string) => {
    if (/^\s*https:\/\//i.test(v)) sawHttps = true;
    const hp = parseHostPort(v.trim().replace(/^https?:\/\//, '').replace(/\/.*$/, ''));
    if (typeof hp === 'string') w.problem(at, `${at}: ${hp}`);
    else hosts.push(`${hp.host.includes(':') ? `[${hp.host}]` : hp.host}:${hp.port}`);
  };
  let protocol = w.string(sec, 'protocol', sectionName);
  if (sec.hosts !== undefined && sec.hosts !== null) {
    const list = Array.isArray(sec.hosts) ? sec.hosts : typeof sec.hosts === 'string' ? sec.hosts.split(',') : undefined;
    if (!list || list.some((x) => typeof x !== 'string')) w.problem(`${sectionName}.hosts`, `${sectionName}.hosts must be "host:port,host:port" or a list of host:port strings`);
    else list.filter((x: string) => x.trim()).forEach((x: string, i: number) => add(x, `${sectionName}.hosts[${i}]`));
  }
  const host = w.string(sec, 'host', sectionName);
  if (host) add(host, `${sectionName}.host`);
  const url = w.string(sec, 'url', sectionName);
  if (url) add(url, `${sectionName}.url`);
  if (!hosts.length && !w.problems.some((p) => p.key.startsWith(sectionName))) w.problem(`${sectionName}.hosts`, `${sectionName}.hosts is required: give hosts (host:port,…), host or url`);
  protocol ??= sawHttps ? 'https' : 'http';
  if (protocol !== 'http' && protocol !== 'https') w.problem(`${sectionName}.protocol`, `${sectionName}.protocol must be http or https, got "${protocol}"`);
  const username = w.string(sec, 'username', sectionName) ?? w.string(sec, 'user', sectionName);
  const password = sec.password === undefined || sec.password === null ? undefined : String(sec.password);
  if (password !== undefined && !username) w.problem(`${sectionName}.username`, `${sectionName}.username is required when ${sectionName}.password is set`);
  const cacert = w.string(sec, 'cacert', sectionName);
  const cert = w.string(sec, 'cert', sectionName);
  const key = w.string(sec, 'key', sectionName);
  return {
    hosts,
    protocol: protocol as 'http' | 'https',
    section: sectionName,
    ...(username ? { authentication: credentials(username, password) } : {}),
    ...(cacert ? { cacert } : {}),
    ...(cert ? { cert } : {}),
    ...(key ? { key } : {}),
  };
}

function validateDcs(w: Walker, dcs: Raw): DynamicConfig | undefined {
  const P = 'bootstrap.dcs';
  w.unknownKeys(dcs, P, ['ttl', 'loop_wait', 'retry_timeout', 'maximum_lag_on_failover', 'maximum_lag_on_syncnode', 'synchronous_node_count', 'synchronous_mode', 'synchronous_mode_strict', 'postgresql', ...SLOT_KEYS, 'failsafe_mode', 'primary_start_timeout', 'master_start_timeout', 'standby_cluster'], [
    'primary_stop_timeout', 'master_stop_timeout',
    'check_timeline', 'max_timelines_history', 'pause',
  ]);
  for (const p of slotSettingsOf(dcs, `${P}.`).problems) w.problem(p.key, p.message);
  const ttl = w.number(dcs, 'ttl', P, { min: 2, integer: true }) ?? 30;
  const loopWait = w.number(dcs, 'loop_wait', P, { min: 0.1 }) ?? 10;
  const retry = w.number(dcs, 'retry_timeout', P, { min: 0.5 }) ?? 10;
  if (loopWait + 2 * retry > ttl) {
    w.problem(`${P}.ttl`, `${P}.ttl: loop_wait + 2 * retry_timeout (${loopWait} + 2 * ${retry} = ${loopWait + 2 * retry}) must not exceed ttl (${ttl}); raise ttl or lower loop_wait/retry_timeout`);
  }
  let maxLag: number | undefined = 1048576;
  const ml = dcs.maximum_lag_on_failover;
  if (ml !== undefined && ml !== null) {
    maxLag = typeof ml === 'number' && Number.isInteger(ml) && ml >= 0 ? ml : typeof ml === 'string' ? parseLagBytes(ml) : undefined;
    if (maxLag === undefined || maxLag < 0) w.problem(`${P}.maximum_lag_on_failover`, `${P}.maximum_lag_on_failover must be bytes (e.g. 1048576 or 1MB), got ${typeName(ml)}`);
  }
  // Patroni features whose absence would silently change what the cluster does: refused, by name
  // DCS failsafe mode (failsafe.ts): a flag; the agent reads it from the `config` key each cycle
  if (dcs.failsafe_mode !== undefined && dcs.failsafe_mode !== null) w.bool(dcs, 'failsafe_mode', P);
  if (dcs.standby_cluster !== undefined && dcs.standby_cluster !== null) {
    // a standby cluster (standby-cluster.ts): its first leader clones the remote with pg_basebackup
    const sc = dcs.standby_cluster;
    if (!isMap(sc)) w.problem(`${P}.standby_cluster`, `${P}.standby_cluster must be a mapping (host, port, primary_slot_name, restore_command …)`);
    else {
      w.unknownKeys(sc, `${P}.standby_cluster`, STANDBY_CLUSTER_KEYS.filter((k) => k !== 'leader_tags'), ['leader_tags']);
      if (sc.create_replica_methods !== undefined) w.warn(`${P}.standby_cluster.create_replica_methods`, 'is accepted, but a new standby cluster is always cloned from standby_cluster.host with pg_basebackup');
      if (!standbyClusterOf(sc)) w.problem(`${P}.standby_cluster`, `${P}.standby_cluster needs a host (or a restore_command) to replicate from`);
      else if (typeof sc.host !== 'string' || !sc.host) {
        w.problem(`${P}.standby_cluster.host`, `${P}.standby_cluster without a host cannot bootstrap here: a new standby cluster is cloned from the remote host with pg_basebackup (restore_command alone would need create_replica_methods, which this manager does not implement); set host, or add restore_command later with PATCH /config`);
      }
    }
  }
  let sync = false;
  const sm = dcs.synchronous_mode;
  if (sm !== undefined && sm !== null) {
    if (synchronousModeOf(dcs) === 'quorum') sync = true; // quorum commit (quorum.ts); the raw value keeps the word
    else {
      const b = w.bool(dcs, 'synchronous_mode', P);
      sync = b ?? false;
    }
  }
  // Patroni's validator: an integer ≥ 1 (more than the standbys is capped at run time, with a log line)
  w.number(dcs, 'synchronous_node_count', P, { min: 1, integer: true });
  w.number(dcs, 'maximum_lag_on_syncnode', P, { min: -1, integer: true });
  const pgDcs = w.section(dcs, 'postgresql', P) ?? {};
  w.unknownKeys(pgDcs, `${P}.postgresql`, ['parameters', 'use_slots', 'use_pg_rewind', 'pg_hba'], ['rewind', 'basebackup', 'pg_ident', 'pg_ctl_timeout', 'recovery_conf']);
  const parameters = validateParameters(w, pgDcs, `${P}.postgresql`);
  const pgHba = w.stringList(pgDcs, 'pg_hba', `${P}.postgresql`);
  return {
    ttlSeconds: ttl,
    loopWaitSeconds: loopWait,
    retryTimeoutSeconds: retry,
    maximumLagOnFailoverBytes: maxLag ?? 1048576,
    synchronousMode: sync,
    synchronousModeStrict: w.bool(dcs, 'synchronous_mode_strict', P) ?? false,
    postgresql: {
      parameters,
      useSlots: w.bool(pgDcs, 'use_slots', `${P}.postgresql`) ?? true,
      usePgRewind: w.bool(pgDcs, 'use_pg_rewind', `${P}.postgresql`) ?? false,
      ...(pgHba ? { pgHba } : {}),
    },
    raw: dcs,
  };
}

function validateInitdb(w: Walker, v: unknown): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) {
    w.problem('bootstrap.initdb', 'bootstrap.initdb must be a list: "- data-checksums" for switches, "- encoding: UTF8" for options');
    return [];
  }
  const out: string[] = [];
  v.forEach((item, i) => {
    const at = `bootstrap.initdb[${i}]`;
    if (typeof item === 'string') out.push(`--${item.replace(/^--/, '')}`);
    else if (isMap(item) && Object.keys(item).length === 1) {
      const [k, val] = Object.entries(item)[0]!;
      if (typeof val === 'object' && val !== null) w.problem(at, `${at}.${k} must be a single value`);
      else out.push(`--${k.replace(/^--/, '')}=${String(val)}`);
    } else w.problem(at, `${at} must be a string (switch) or a one-key mapping (option: value)`);
  });
  return out;
}

function validateParameters(w: Walker, sec: Raw, path: string): Record<string, string | number | boolean> {
  const p = w.section(sec, 'parameters', path) ?? {};
  const out: Record<string, string | number | boolean> = {};
  for (const [k, v] of Object.entries(p)) {
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') out[k] = v;
    else if (v !== null) w.problem(`${path}.parameters.${k}`, `${path}.parameters.${k} must be a string, number or boolean, got ${typeName(v)}`);
  }
  return out;
}

function validatePostgresql(w: Walker, pg: Raw | undefined): PatroniNodeConfig['postgresql'] | undefined {
  if (!pg) return undefined;
  const P = 'postgresql';
  const methods = w.stringList(pg, 'create_replica_methods', P) ?? ['basebackup'];
  // a user-defined replica method's options live in a section named after it (Patroni's contract)
  const customMethods = methods.filter((m) => m !== 'basebackup');
  w.unknownKeys(pg, P, [
    'listen', 'connect_address', 'data_dir', 'bin_dir', 'pgpass', 'authentication', 'parameters', 'pg_hba', 'create_replica_methods',
    'basebackup', 'use_pg_rewind', 'pg_ctl_timeout', 'remove_data_directory_on_rewind_failure', 'remove_data_directory_on_diverged_timelines',
    'callbacks', 'pre_promote', ...customMethods,
  ], [
    'proxy_address', 'config_dir', 'bin_name', 'use_unix_socket', 'use_unix_socket_repl', 'recovery_conf', 'custom_conf', 'parameters_primary',
    'parameters_replica', 'parameters_standby_leader', 'pg_hba_primary', 'pg_hba_replica', 'pg_hba_standby_leader', 'pg_ident', 'pg_ident_primary',
    'pg_ident_replica', 'pg_ident_standby_leader', 'before_stop', 'krbsrvname', 'rewind', 'database',
    'replica_method', 'pgbackrest', 'wal_e', 'barman', 'bootstrap',
  ]);
  let listen: { hosts: string[]; port: number } | undefined;
  const lv = pg.listen;
  if (lv === undefined || lv === null || lv === '') w.problem(`${P}.listen`, `${P}.listen is required, as host:port (e.g. 127.0.0.1:5432; several hosts as a,b:5432)`);
  else {
    const text = String(lv);
    const colon = text.lastIndexOf(':');
    const hp = parseHostPort(text.startsWith('[') ? text : `${text.slice(0, colon).split(',')[0]}:${text.slice(colon + 1)}`);
    if (typeof hp === 'string') w.problem(`${P}.listen`, `${P}.listen: ${hp}`);
    else listen = { hosts: text.startsWith('[') ? [hp.host] : text.slice(0, colon).split(',').map((h) => h.trim()), port: hp.port };
  }
  const connect =
    w.address(pg, 'connect_address', P, false) ?? (listen ? defaultConnect(w, { host: listen.hosts[0]!, port: listen.port }, P) : undefined);
  const dataDir = w.string(pg, 'data_dir', P, true);
  const auth = w.section(pg, 'authentication', P, true);
  let authentication: PatroniNodeConfig['postgresql']['authentication'] | undefined;
  if (auth) {
    w.unknownKeys(auth, `${P}.authentication`, ['superuser', 'replication', 'rewind']);
    const superuser = w.credentials(auth, 'superuser', `${P}.authentication`, true);
    const replication = w.credentials(auth, 'replication', `${P}.authentication`, true);
    const rewind = w.credentials(auth, 'rewind', `${P}.authentication`, false);
    if (superuser && replication) authentication = { superuser, replication, ...(rewind ? { rewind } : {}) };
  }
  const parameters = validateParameters(w, pg, P);
  const pgHba = w.stringList(pg, 'pg_hba', P);
  const replicaMethodOptions: Record<string, Record<string, unknown>> = {};
  for (const m of customMethods) {
    const section = w.section(pg, m, P);
    const command = section ? (section.command ?? m) : m;
    if (typeof command !== 'string' || command.trim() === '') w.problem(`${P}.${m}.command`, `${P}.${m}.command must be a command line (the replica method "${m}" runs it)`);
    replicaMethodOptions[m] = { ...(section ?? {}) };
  }
  const binDir = w.string(pg, 'bin_dir', P);
  const pgpass = w.string(pg, 'pgpass', P);
  const usePgRewind = w.bool(pg, 'use_pg_rewind', P);
  const pgCtl = w.number(pg, 'pg_ctl_timeout', P, { min: 0 });
  if (pg.basebackup !== undefined) w.warn(`${P}.basebackup`, 'options are not passed to pg_basebackup by this manager; it is ignored');
  const callbacks = validateCallbacks(w, pg, P);
  const prePromote = w.string(pg, 'pre_promote', P);
  if (prePromote !== undefined) {
    try {
      if (splitCommandLine(prePromote).length === 0) w.problem(`${P}.pre_promote`, `${P}.pre_promote is empty; give a command line or remove the key`);
    } catch (e) {
      w.problem(`${P}.pre_promote`, `${P}.pre_promote: ${(e as Error).message}`);
    }
  }
  if (!listen || !connect || !dataDir || !authentication) return undefined;
  return {
    listen,
    connectAddress: connect,
    dataDir,
    ...(binDir ? { binDir } : {}),
    ...(pgpass ? { pgpass } : {}),
    authentication,
    parameters,
    ...(pgHba ? { pgHba } : {}),
    createReplicaMethods: methods,
    replicaMethodOptions,
    ...(usePgRewind !== undefined ? { usePgRewind } : {}),
    ...(pgCtl !== undefined ? { pgCtlTimeoutSeconds: pgCtl } : {}),
    removeDataDirectoryOnRewindFailure: w.bool(pg, 'remove_data_directory_on_rewind_failure', P) ?? false,
    removeDataDirectoryOnDivergedTimelines: w.bool(pg, 'remove_data_directory_on_diverged_timelines', P) ?? false,
    callbacks,
    ...(prePromote !== undefined ? { prePromote } : {}),
  };
}

/** `postgresql.callbacks`: a command line per action (on_start, on_stop, on_restart, on_reload, on_role_change). */
function validateCallbacks(w: Walker, pg: Raw, path: string): Partial<Record<CallbackAction, string>> {
  const sec = w.section(pg, 'callbacks', path);
  const out: Partial<Record<CallbackAction, string>> = {};
  if (!sec) return out;
  w.unknownKeys(sec, `${path}.callbacks`, [...CALLBACK_ACTIONS]);
  for (const action of CALLBACK_ACTIONS) {
    const cmd = w.string(sec, action, `${path}.callbacks`);
    if (cmd !== undefined && cmd.trim()) out[action] = cmd;
  }
  return out;
}

// ───────────────────────── helpers ─────────────────────────

function defaultConnect(w: Walker, listen: HostPort | undefined, path: string): HostPort | undefined {
  if (!listen) return undefined;
  if (['0.0.0.0', '::', '*', ''].includes(listen.host)) {
    w.problem(`${path}.connect_address`, `${path}.connect_address is required when ${path}.listen is a wildcard (${listen.host}); give the address other members reach this node at, e.g. 10.0.0.5:${listen.port}`);
    return undefined;
  }
  w.warn(`${path}.connect_address`, `is missing; using ${path}.listen (${listen.host}:${listen.port})`);
  return listen;
}

/** Parses `host:port` / `[v6]:port`; returns an explanation string when invalid. */
export function parseHostPort(text: string): HostPort | string {
  const t = text.trim();
  const m = /^\[([^\]]+)\]:(.*)$/.exec(t) ?? /^([^:]*):([^:]*)$/.exec(t);
  if (!m) return `expected host:port, got "${t}"`;
  const port = Number(m[2]);
  if (!/^\d+$/.test(m[2]!) || !Number.isInteger(port) || port < 1 || port > 65535) return `port must be an integer 1-65535, got "${m[2]}"`;
  return { host: m[1]!, port };
}

/** Makes a Credentials object whose password is non-enumerable. */
function credentials(username: string, password: string | undefined): Credentials {
  const c = { username } as Credentials;
  if (password !== undefined) Object.defineProperty(c, 'password', { value: password, enumerable: false });
  return c;
}

export function configError(problems: ConfigProblem[]): FailoverError {
  const lines = problems.map((p) => `  - ${p.message}`).join('\n');
  return new FailoverError('MANAGER_CONFIG', `invalid manager configuration:\n${lines}`, { detail: { problems } });
}

export function isMap(v: unknown): v is Raw {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return `"${v.length > 40 ? `${v.slice(0, 40)}…` : v}"`;
  return String(v);
}

function hint(key: string): string {
  if (key === 'scope') return ' (the cluster name, same on every member)';
  if (key === 'name') return ' (this member\'s unique name)';
  if (key === 'postgresql.data_dir') return ' (the PostgreSQL data directory)';
  return '';
}

export function deepMerge(base: Raw, over: Raw): Raw {
  const out: Raw = { ...base };
  for (const [k, v] of Object.entries(over)) {
    out[k] = isMap(v) && isMap(out[k]) ? deepMerge(out[k] as Raw, v) : v;
  }
  return out;
}

/** An HTTP header name (RFC 9110 token). */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** `restapi.http_extra_headers` / `https_extra_headers`: a mapping of header name → value (string or number), as Patroni takes it. */
function extraHeaders(w: Walker, rest: Raw, key: string): Record<string, string> | undefined {
  const sec = w.section(rest, key, 'restapi');
  if (!sec) return undefined;
  const out: Record<string, string> = {};
  for (const [name, v] of Object.entries(sec)) {
    const at = `restapi.${key}.${name}`;
    if (!HEADER_NAME.test(name)) w.problem(at, `${at}: ${JSON.stringify(name)} is not a valid HTTP header name (letters, digits and !#$%&'*+.^_\`|~-)`);
    else if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') {
      const value = String(v);
      if (/[\r\n\0]/.test(value)) w.problem(at, `${at} must not contain line breaks or NUL`);
      else out[name] = value;
    } else w.problem(at, `${at} must be a string, got ${typeName(v)}`);
  }
  return out;
}
