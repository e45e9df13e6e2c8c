/**
 * PostgreSQL process control, shared by the manager, `pg-failover up`, the
 * tests and the benchmarks: initdb, start/stop, status, promote,
 * pg_basebackup with a replication slot, standby configuration and pg_rewind.
 *
 * The server is started directly (not through pg_ctl) in its own process
 * group, so that we always know its PID and can stop, freeze or kill the whole
 * node (postmaster and backends) by PID. When we run as root, every server
 * program runs as an unprivileged OS user (PostgreSQL refuses root).
 */
import { killWholeNode, signalWholeNode } from './node-signals';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync, appendFileSync, chownSync, readdirSync, openSync, closeSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import createDebug from 'debug';
import { ProcessError } from '../errors';
import { findPgBinaries, type PgBinaries } from './pg-binaries';
import { parametersForVersion } from './pg-parameters';
import { run, lookupUser, userEnv, tail, type OsUser } from './run';

const debug = createDebug('pg-failover:postgres');

export type StopMode = 'smart' | 'fast' | 'immediate';
const STOP_SIGNAL: Record<StopMode, NodeJS.Signals> = { smart: 'SIGTERM', fast: 'SIGINT', immediate: 'SIGQUIT' };

/** What postmaster.pid says (line 8, PostgreSQL 10+), or 'stopped'. */
export type ServerStatus = 'stopped' | 'starting' | 'stopping' | 'ready' | 'standby';

export interface PostgresServerOptions {
  dataDir: string;
  port: number;
  /** Address to listen on. Default 127.0.0.1. */
  host?: string;
  /** Unix socket directory. Default: `<dataDir>/../<basename>.sock` is avoided; we use `dataDir`'s parent `run` dir. */
  socketDir?: string;
  /** Server log file. Default `<dataDir>.log`. */
  logFile?: string;
  binaries?: PgBinaries;
  /** OS user for the server processes; required when running as root (see {@link resolveServerUser}). */
  user?: OsUser;
  /** Superuser name created by initdb and used for our own connections. Default `postgres`. */
  superuser?: string;
  /** Password of the superuser, if the cluster requires one. */
  password?: string;
}

export interface InitdbOptions {
  /** Extra `postgresql.conf` settings (written to pgfailover.conf). */
  parameters?: Record<string, string | number | boolean>;
  /** Lines for pg_hba.conf. Default: trust for local and 127.0.0.1/::1 incl. replication. */
  hba?: string[];
  /** Enable data checksums (pg_rewind then works without wal_log_hints). Default true. */
  dataChecksums?: boolean;
  /** Extra initdb arguments. */
  extraArgs?: string[];
  /** Refuse an existing, non-empty data directory unless this is true. */
  reuse?: boolean;
}

export interface StandbyOptions {
  /** libpq conninfo of the upstream, e.g. `host=127.0.0.1 port=5432 user=postgres`. */
  primaryConninfo: string;
  slotName?: string;
  /** application_name reported to the primary (its synchronous_standby_names uses it). */
  applicationName?: string;
}

/** Defaults every node gets: replication, hot standby, and what pg_rewind needs. */
export const BASE_PARAMETERS: Readonly<Record<string, string | number | boolean>> = {
  wal_level: 'replica',
  max_wal_senders: 10,
  max_replication_slots: 10,
  hot_standby: 'on',
  hot_standby_feedback: 'on',
  wal_log_hints: 'on',
  wal_keep_size: '128MB',
  max_connections: 100,
  shared_buffers: '32MB',
  fsync: 'on',
  logging_collector: 'off',
  log_line_prefix: "'%m [%p] '",
};

/**
 * Decides which OS user runs the server. Not root: the current user. Root: the
 * named user (option or `PGFAILOVER_RUN_AS`), else `postgres` when it exists;
 * otherwise UNSAFE_USER explaining how to create one.
 */
export function resolveServerUser(name?: string, env: NodeJS.ProcessEnv = process.env): OsUser | undefined {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return undefined;
  const wanted = name ?? env.PGFAILOVER_RUN_AS;
  const user = lookupUser(wanted ?? 'postgres');
  if (user && user.uid !== 0) {
    debug('running as root: PostgreSQL processes run as OS user %s', user.name);
    return user;
  }
  throw new ProcessError(
    'UNSAFE_USER',
    `PostgreSQL refuses to run as root, and the OS user ${JSON.stringify(wanted ?? 'postgres')} ${user ? 'is root' : 'does not exist'}. ` +
      'Create an unprivileged user (e.g. `useradd --system --create-home pgfailover`) and set PGFAILOVER_RUN_AS=pgfailover, or run as a non-root user.',
  );
}

/** One PostgreSQL server (data directory + port) under our control. */
export class PostgresServer {
  readonly dataDir: string;
  port: number;
  readonly host: string;
  readonly socketDir: string;
  readonly logFile: string;
  readonly bin: PgBinaries;
  readonly user: OsUser | undefined;
  readonly superuser: string;
  readonly password: string | undefined;
  #pid: number | undefined;

  constructor(options: PostgresServerOptions) {
    this.dataDir = options.dataDir;
    this.port = options.port;
    this.host = options.host ?? '127.0.0.1';
    this.socketDir = options.socketDir ?? `${options.dataDir}.sock`;
    this.logFile = options.logFile ?? `${options.dataDir}.log`;
    this.bin = options.binaries ?? findPgBinaries();
    this.user = options.user;
    this.superuser = options.superuser ?? 'postgres';
    this.password = options.password;
    Object.defineProperty(this, 'password', { enumerable: false });
  }

  /** `host:port`, how nodes are named in errors and events. */
  get name(): string {
    return `${this.host}:${this.port}`;
  }

  /** A libpq keyword/value conninfo for this server (no password: use PGPASSWORD or the password option). */
  conninfo(extra: Record<string, string> = {}): string {
    const kv: Record<string, string> = { host: this.host, port: String(this.port), user: this.superuser, dbname: 'postgres', ...extra };
    return Object.entries(kv)
      .map(([k, v]) => `${k}=${quoteConninfo(v)}`)
      .join(' ');
  }

  /** A postgresql:// URL for this server. */
  url(database = 'postgres'): string {
    return `postgresql://${encodeURIComponent(this.superuser)}@${this.host}:${this.port}/${encodeURIComponent(database)}`;
  }

  /** Creates the cluster with initdb; refuses a non-empty data directory unless `reuse`. */
  async initdb(options: InitdbOptions = {}): Promise<void> {
    if (existsSync(this.dataDir) && readdirSync(this.dataDir).length > 0) {
      if (options.reuse && existsSync(join(this.dataDir, 'PG_VERSION'))) return;
      throw new ProcessError(
        'DATA_DIR_EXISTS',
        `data directory ${this.dataDir} already exists and is not empty; remove it or pass reuse to start the existing cluster`,
        { node: this.name },
      );
    }
    this.#prepareDir(this.dataDir, 0o700);
    const args = ['-D', this.dataDir, '-U', this.superuser, '--auth=trust', '--encoding=UTF8', '--locale=C.UTF-8', '--no-instructions'];
    if (options.dataChecksums !== false) args.push('--data-checksums');
    if (this.password !== undefined) {
      const pwfile = `${this.dataDir}.pw`;
      writeFileSync(pwfile, this.password + '\n', { mode: 0o600 });
      this.#chown(pwfile);
      args.push(`--pwfile=${pwfile}`);
      try {
        await this.#run('initdb', [...args, ...(options.extraArgs ?? [])]);
      } finally {
        rmSync(pwfile, { force: true });
      }
    } else {
      await this.#run('initdb', [...args, ...(options.extraArgs ?? [])]);
    }
    this.writeParameters({ ...BASE_PARAMETERS, ...(options.parameters ?? {}) });
    this.writeHba(options.hba ?? defaultHba(this.password !== undefined));
  }

  /** Writes `pgfailover.conf` (included from postgresql.conf) with these settings. */
  writeParameters(parameters: Record<string, string | number | boolean>): void {
    const conf = join(this.dataDir, 'postgresql.conf');
    const include = "include_if_exists = 'pgfailover.conf'";
    const main = readFileSync(conf, 'utf8');
    if (!main.includes(include)) appendFileSync(conf, `\n${include}\ninclude_if_exists = 'pgfailover.replication.conf'\n`);
    const body = Object.entries(parametersForVersion(parameters, this.bin.major))
      .map(([k, v]) => `${k} = ${formatValue(v)}`)
      .join('\n');
    this.#writeOwned(join(this.dataDir, 'pgfailover.conf'), `# written by pg-failover\n${body}\n`);
  }

  writeHba(lines: string[]): void {
    this.#writeOwned(join(this.dataDir, 'pg_hba.conf'), `# written by pg-failover\n${lines.join('\n')}\n`);
  }

  /** Starts the server and waits until it accepts connections (primary: ready; standby: standby). */
  async start(options: { timeoutMillis?: number; extraArgs?: string[] } = {}): Promise<void> {
    if (this.isRunning()) return;
    this.#prepareDir(this.socketDir, 0o700);
    const args = [
      '-D', this.dataDir,
      '-p', String(this.port),
      '-c', `listen_addresses=${this.host}`,
      '-c', `unix_socket_directories=${this.socketDir}`,
      ...(options.extraArgs ?? []),
    ];
    const log = openSync(this.logFile, 'a');
    if (this.user) chownSync(this.logFile, this.user.uid, this.user.gid);
    const child = spawn(this.bin.path('postgres'), args, {
      cwd: this.dataDir,
      env: userEnv(this.user),
      detached: true,
      stdio: ['ignore', log, log],
      ...(this.user ? { uid: this.user.uid, gid: this.user.gid } : {}),
    });
    closeSync(log);
    let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    child.on('exit', (code, signal) => (exited = { code, signal }));
    child.on('error', () => (exited = { code: -1, signal: null }));
    child.unref();
    this.#pid = child.pid;
    debug('%s: started postgres pid %d', this.name, child.pid);
    const deadline = Date.now() + (options.timeoutMillis ?? 60_000);
    while (Date.now() < deadline) {
      if (exited) {
        this.#pid = undefined;
        throw new ProcessError(
          'SERVER_START_FAILED',
          `PostgreSQL on port ${this.port} (${this.dataDir}) exited during startup (${exited.signal ?? `code ${exited.code}`}). Log tail:\n${this.logTail()}`,
          { node: this.name, detail: { portInUse: /could not bind|Address already in use/.test(this.logTail(50)) } },
        );
      }
      const status = this.status();
      if (status === 'ready' || status === 'standby') return;
      await sleep(50);
    }
    throw new ProcessError('SERVER_START_FAILED', `PostgreSQL on port ${this.port} did not become ready in time. Log tail:\n${this.logTail()}`, {
      node: this.name,
    });
  }

  /** The postmaster PID while the server runs. */
  get pid(): number | undefined {
    return this.#readPid() ?? this.#pid;
  }

  /** True while a postmaster process for this data directory is alive. */
  isRunning(): boolean {
    const pid = this.#readPid();
    return pid !== undefined && isAlive(pid);
  }

  /** Server state from postmaster.pid (never a connection). */
  status(): ServerStatus {
    const file = join(this.dataDir, 'postmaster.pid');
    let lines: string[];
    try {
      lines = readFileSync(file, 'utf8').split('\n');
    } catch {
      return 'stopped';
    }
    const pid = Number(lines[0]);
    if (!pid || !isAlive(pid)) return 'stopped';
    const s = (lines[7] ?? '').trim();
    return s === 'ready' || s === 'standby' || s === 'stopping' ? s : 'starting';
  }

  /** Stops the server (smart / fast / immediate) and waits until its processes are gone. */
  async stop(mode: StopMode = 'fast', timeoutMillis = 60_000): Promise<void> {
    const pid = this.pid;
    if (pid === undefined || !isAlive(pid)) return;
    try {
      process.kill(pid, STOP_SIGNAL[mode]);
    } catch {
      /* already gone */
    }
    if (!(await waitGone(pid, timeoutMillis))) {
      throw new ProcessError('TIMEOUT', `PostgreSQL pid ${pid} did not stop (${mode}) within ${timeoutMillis} ms`, { node: this.name });
    }
    await this.#waitGroupGone(pid, 10_000);
    this.#pid = undefined;
  }

  /** Sends a signal to the whole node (postmaster and all backends): SIGKILL = node crash, SIGSTOP/SIGCONT = hang/resume. */
  signalNode(signal: NodeJS.Signals): void {
    const pid = this.pid;
    if (pid === undefined) throw new ProcessError('COMMAND_FAILED', `PostgreSQL on ${this.name} is not running`, { node: this.name });
    // PostgreSQL's children call setsid(): a signal to the postmaster's group reaches the postmaster only.
    signalWholeNode(pid, signal);
  }

  /** kill -9 of the whole node; resolves when every process of it is gone. */
  async kill9(): Promise<void> {
    const pid = this.pid;
    if (pid === undefined) return;
    await killWholeNode(pid, 10_000);
    await this.#waitGroupGone(pid, 10_000);
    this.#pid = undefined;
  }

  /** Promotes a standby and waits until it accepts writes. */
  async promote(timeoutMillis = 60_000): Promise<void> {
    await this.#run('pg_ctl', ['promote', '-D', this.dataDir, '-w', '-t', String(Math.ceil(timeoutMillis / 1000))], timeoutMillis + 5000);
    // The standby settings would make it follow the old primary again after a restart.
    this.clearStandbyConfig({ keepSignal: false });
    // pg_rewind (before PostgreSQL 16) reads the new timeline from the control file, which only a checkpoint updates.
    await this.query('CHECKPOINT');
  }

  /** A fresh standby: pg_basebackup from `source` with (and creating) the replication slot. */
  async basebackup(source: PostgresServer | { host: string; port: number; user: string; password?: string }, options: { slotName?: string; createSlot?: boolean; timeoutMillis?: number } = {}): Promise<void> {
    if (existsSync(this.dataDir) && readdirSync(this.dataDir).length > 0) {
      throw new ProcessError('DATA_DIR_EXISTS', `data directory ${this.dataDir} already exists and is not empty; refusing to overwrite it with a base backup`, {
        node: this.name,
      });
    }
    this.#prepareDir(this.dataDir, 0o700);
    const src = source instanceof PostgresServer ? { host: source.host, port: source.port, user: source.superuser } : source;
    const args = ['-D', this.dataDir, '-h', src.host, '-p', String(src.port), '-U', src.user, '-X', 'stream', '-c', 'fast', '--no-password'];
    if (options.slotName) {
      args.push('-S', options.slotName);
      if (options.createSlot !== false) args.push('-C');
    }
    const password = source instanceof PostgresServer ? source.password : source.password ?? this.password;
    const env = password !== undefined ? { PGPASSWORD: password } : undefined;
    await this.#run('pg_basebackup', args, options.timeoutMillis ?? 300_000, env);
  }

  /** Turns this data directory into a standby of `primaryConninfo` (standby.signal + settings). */
  writeStandbyConfig(options: StandbyOptions): void {
    const conninfo = options.applicationName ? `${options.primaryConninfo} application_name=${quoteConninfo(options.applicationName)}` : options.primaryConninfo;
    const lines = [`primary_conninfo = ${formatValue(conninfo)}`, "recovery_target_timeline = 'latest'"];
    if (options.slotName) lines.push(`primary_slot_name = ${formatValue(options.slotName)}`);
    this.#writeOwned(join(this.dataDir, 'pgfailover.replication.conf'), `# written by pg-failover\n${lines.join('\n')}\n`);
    this.#writeOwned(join(this.dataDir, 'standby.signal'), '');
  }

  /**
   * Archive recovery that ends in promotion (a restored backup): these recovery settings
   * (`restore_command`, `recovery_target_*` …) in `pgfailover.replication.conf`, and
   * recovery.signal instead of standby.signal; `signal: 'standby'` for a standby with these
   * settings (a standby cluster's leader).
   */
  writeRecoveryConfig(settings: Record<string, string | number | boolean>, signal: 'recovery' | 'standby' = 'recovery'): void {
    const lines = Object.entries(settings).map(([k, v]) => `${k} = ${formatValue(v)}`);
    this.#writeOwned(join(this.dataDir, 'pgfailover.replication.conf'), `# written by pg-failover\n${lines.join('\n')}\n`);
    rmSync(join(this.dataDir, signal === 'recovery' ? 'standby.signal' : 'recovery.signal'), { force: true });
    this.#writeOwned(join(this.dataDir, `${signal}.signal`), '');
  }

  /** Removes standby settings (after promotion). */
  clearStandbyConfig(options: { keepSignal?: boolean } = {}): void {
    const file = join(this.dataDir, 'pgfailover.replication.conf');
    if (existsSync(file)) this.#writeOwned(file, '# written by pg-failover\n');
    if (!options.keepSignal) rmSync(join(this.dataDir, 'standby.signal'), { force: true });
  }

  /** pg_rewind this (stopped) data directory against a running source; crash recovery first is done by pg_rewind itself. */
  async rewind(source: PostgresServer | string, timeoutMillis = 300_000, options: { password?: string } = {}): Promise<void> {
    const conninfo = typeof source === 'string' ? source : source.conninfo();
    // the source's user may be a dedicated rewind role with its own password (Patroni's authentication.rewind)
    const password = 'password' in options ? options.password : this.password;
    const env = password !== undefined ? { PGPASSWORD: password } : undefined;
    await this.#run('pg_rewind', [`--target-pgdata=${this.dataDir}`, `--source-server=${conninfo}`], timeoutMillis, env);
  }

  /** Runs one SQL statement as the superuser over TCP and returns its rows. */
  async query<R extends Record<string, unknown> = Record<string, unknown>>(sql: string, values?: unknown[], database = 'postgres'): Promise<R[]> {
    const client = new pg.Client({
      host: this.host,
      port: this.port,
      user: this.superuser,
      password: this.password,
      database,
      connectionTimeoutMillis: 10_000,
    });
    client.on('error', () => {});
    await client.connect();
    try {
      return (await client.query(sql, values)).rows as R[];
    } finally {
      await client.end().catch(() => {});
    }
  }

  /** The server's own view: `true` while in recovery (a standby). */
  async isInRecovery(): Promise<boolean> {
    const [row] = await this.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r');
    return row!.r;
  }

  /** The last lines of the server log (redacted). */
  logTail(lines = 20): string {
    try {
      return tail(readFileSync(this.logFile, 'utf8'), lines);
    } catch {
      return '(no log)';
    }
  }

  #readPid(): number | undefined {
    try {
      const pid = Number(readFileSync(join(this.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
      return pid > 0 ? pid : undefined;
    } catch {
      return undefined;
    }
  }

  async #waitGroupGone(pgid: number, timeoutMillis: number): Promise<void> {
    const deadline = Date.now() + timeoutMillis;
    while (Date.now() < deadline) {
      try {
        process.kill(-pgid, 0);
      } catch {
        return;
      }
      await sleep(20);
    }
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }

  #prepareDir(dir: string, mode: number): void {
    mkdirSync(dir, { recursive: true, mode });
    this.#chown(dir);
  }

  #chown(path: string): void {
    if (this.user) chownSync(path, this.user.uid, this.user.gid);
  }

  #writeOwned(path: string, body: string): void {
    writeFileSync(path, body, { mode: 0o600 });
    this.#chown(path);
  }

  #run(program: Parameters<PgBinaries['path']>[0], args: string[], timeoutMillis = 120_000, env?: NodeJS.ProcessEnv) {
    return run(this.bin.path(program), args, { user: this.user, timeoutMillis, env, cwd: '/' });
  }
}

export function defaultHba(password: boolean): string[] {
  const method = password ? 'scram-sha-256' : 'trust';
  return [
    `local all all trust`,
    `local replication all trust`,
    `host all all 127.0.0.1/32 ${method}`,
    `host all all ::1/128 ${method}`,
    `host replication all 127.0.0.1/32 ${method}`,
    `host replication all ::1/128 ${method}`,
  ];
}

/** Replication slot name for a member, as Patroni derives it: lower-case, anything but `[a-z0-9_]` → `_`, at most 63 characters. */
export function slotNameFor(member: string): string {
  return member.toLowerCase().replace(/[^a-z0-9_]/g, '_').slice(0, 63);
}

export function quoteConninfo(v: string): string {
  return /^[^\s'\\]+$/.test(v) ? v : `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

function formatValue(v: string | number | boolean): string {
  if (typeof v === 'number') return String(v);
  if (typeof v === 'boolean') return v ? 'on' : 'off';
  if (/^'.*'$/.test(v)) return v;
  return `'${v.replace(/'/g, "''")}'`;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function waitGone(pid: number, timeoutMillis: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMillis;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return true;
    await sleep(20);
  }
  return !isAlive(pid);
}
