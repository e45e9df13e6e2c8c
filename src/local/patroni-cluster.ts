/**
 * Launches a REAL Patroni cluster (the Debian `patroni` package) on loopback,
 * against etcd's v3 API, so tests and benchmarks can compare our client and
 * manager with the standard. Each node is one `patroni` process (run as the
 * unprivileged PostgreSQL OS user) with its own YAML, REST API port,
 * PostgreSQL port, data directory and log file; everything is torn down by
 * PID. Patroni starts each postmaster in its own session (setsid), so the
 * postmaster is found through `postmaster.pid` and signalled separately.
 */
import { childrenOfAsync, signalNodeNow, signalWholeNode } from '../manager/node-signals';
import { spawn, execFileSync } from 'node:child_process';
import { chmodSync, chownSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import createDebug from 'debug';
import { Etcd3 } from 'etcd3';
import { stringify } from 'yaml';
import { FailoverError, ProcessError } from '../errors';
import { findPgBinaries } from '../manager/pg-binaries';
import { isAlive, resolveServerUser } from '../manager/postgres';
import { tail, userEnv, type OsUser } from '../manager/run';
import { EtcdCluster } from './etcd-server';
import { freePort } from './ports';
import { placedCommand, type Placement } from './placement';

const debug = createDebug('pg-failover:patroni');

/** Options of {@link PatroniCluster.start}. Times are Patroni's own settings, in seconds as Patroni takes them. */
export interface PatroniClusterOptions {
  /** Number of Patroni nodes. Default 3. */
  nodes?: number;
  /** Patroni `scope` (cluster name). Default `pgf`. */
  scope?: string;
  /** Patroni `namespace`. Default `/service`. */
  namespace?: string;
  /** Leader key TTL in seconds. Default 30. */
  ttl?: number;
  /** HA loop interval in seconds. Default 10. */
  loopWait?: number;
  /** DCS/PostgreSQL retry timeout in seconds. Default 10. Patroni wants `loopWait + 2 * retryTimeout <= ttl`. */
  retryTimeout?: number;
  /** `maximum_lag_on_failover` in bytes. Default 1 MiB. */
  maximumLagOnFailoverBytes?: number;
  /** Parent directory; a fresh temp dir is made inside it. Default os.tmpdir(). */
  parentDir?: string;
  /** Use this etcd instead of starting a one-member etcd (which is then stopped by stop()). */
  etcd?: EtcdCluster;
  /** Patroni `synchronous_mode`. Default false. */
  synchronousMode?: boolean;
  /** Client authentication on 127.0.0.1 for normal connections. Default `trust` (replication always uses md5). */
  clientAuth?: 'trust' | 'md5';
  /** Protect the REST API's write endpoints with basic auth. */
  restApiAuth?: { username: string; password: string };
  /** OS user for Patroni and PostgreSQL when running as root (default `postgres`, or PGFAILOVER_RUN_AS). */
  runAs?: string;
  /** `patroni` executable. Default `PGFAILOVER_PATRONI`, else `patroni` from PATH or /usr/bin/patroni. */
  patroniBinary?: string;
  /**
   * Which daemon runs each node from the same Patroni YAML: `patroni` (the real one, default) or
   * `pg-failover` (our manager: `pg-failover manager --config <yaml>`, from this package's bin/ — build first).
   */
  daemon?: 'patroni' | 'pg-failover';
  /** PostgreSQL bin_dir. Default: the toolkit's usual search (e.g. /usr/lib/postgresql/15/bin). */
  binDir?: string;
  /** How long start() waits for a leader and streaming replicas. Default 120 000. */
  startTimeoutMillis?: number;
  /** Patroni `log.level` of every node. Default `INFO`. */
  logLevel?: 'DEBUG' | 'INFO' | 'WARNING' | 'ERROR';
  /** Patroni `postgresql.authentication.rewind`. Default: the superuser and its password. */
  rewindUser?: { username: string; password: string };
  /** Keep the directory after stop() (for post-mortems). Default false. */
  keepDir?: boolean;
  /**
   * Called once per node right after its directory is created (before anything is written in
   * it), e.g. to mount a size-limited tmpfs there for disk-full faults; the returned function, if
   * any, runs in stop() once the node's processes are gone (e.g. the unmount).
   */
  prepareNodeDir?: (name: string, nodeDir: string) => (() => void) | void;
  /**
   * Progress of start()'s slow steps, one line each, with durations (`pg-failover up` prints
   * them on stderr): etcd, the first node's initdb + bootstrap, each replica's base backup.
   */
  progress?: (line: string) => void;
  /**
   * Per node (`n0`, `n1` …): its address and a command prefix that runs its daemon there, e.g. in
   * its own network namespace (`ip netns exec`; the daemon then drops to the server user with
   * setpriv). Default 127.0.0.1, no prefix.
   */
  placement?: (name: string) => Placement;
  /** Extra networks allowed in pg_hba (client and replication), e.g. `10.77.0.0/24` for namespaced nodes. */
  clientCidrs?: readonly string[];
}

/** One Patroni node. `pid` is the patroni process (undefined while killed/stopped). */
export interface PatroniMember {
  name: string;
  /** Listen/connect address of PostgreSQL and the REST API (127.0.0.1 unless placed elsewhere). */
  host: string;
  pgPort: number;
  apiPort: number;
  /** `http://<host>:<apiPort>` */
  apiUrl: string;
  dataDir: string;
  configFile: string;
  logFile: string;
  pid: number | undefined;
}

/** A member as Patroni's `GET /cluster` reports it. */
export interface PatroniClusterMember {
  name: string;
  role: string;
  state: string;
  api_url?: string;
  host?: string;
  port?: number;
  timeline?: number;
  lag?: number | string;
}

/** A real Patroni cluster on 127.0.0.1. */
export class PatroniCluster {
  /** The temp directory holding every node. */
  readonly dir: string;
  readonly members: PatroniMember[] = [];
  readonly scope: string;
  readonly namespace: string;
  /** Superuser name for SQL connections (`postgres`). */
  readonly superuser = 'postgres';
  etcd: EtcdCluster | undefined;
  readonly user: OsUser | undefined;
  readonly #options: PatroniClusterOptions;
  readonly #binary: string;
  readonly #superuserPassword = randomBytes(12).toString('hex');
  readonly #replicationPassword = randomBytes(12).toString('hex');
  #ownsEtcd = false;
  readonly #undoNodeDirs: Array<() => void> = [];
  #stopped = false;
  /** Per daemon PID: settles when Node has reaped it (no zombie left behind). */
  readonly #reaped = new Map<number, Promise<void>>();

  private constructor(options: PatroniClusterOptions) {
    this.#options = options;
    this.scope = options.scope ?? 'pgf';
    this.namespace = options.namespace ?? '/service';
    this.#binary = options.daemon === 'pg-failover' ? managerEntry() : findPatroni(options.patroniBinary);
    this.user = resolveServerUser(options.runAs);
    const parent = options.parentDir ?? tmpdir();
    if (this.user) assertReachable(parent, this.user);
    // Our managers run as the server user: it must reach node and this package's files (root's home, a 0700 dir do not).
    if (this.user && options.daemon === 'pg-failover') {
      for (const [what, path] of [['node', process.execPath], ['pg-failover', this.#binary]] as const) assertRunnableBy(what, path, this.user);
    }
    this.dir = mkdtempSync(join(parent, 'patroni-'));
    chmodSync(this.dir, 0o711); // the server user must reach its node directory inside
  }

  /**
   * Starts etcd (unless given), writes every node's YAML and starts the
   * patronis; resolves once there is a leader and every replica streams.
   * Stops everything again if any step fails; the error carries log tails.
   *
   * @example
   * const c = await PatroniCluster.start({ nodes: 2, ttl: 10, loopWait: 2, retryTimeout: 4 });
   * try { console.log(await c.waitForLeader(30_000)); } finally { await c.stop(); }
   */
  static async start(options: PatroniClusterOptions = {}): Promise<PatroniCluster> {
    const nodes = options.nodes ?? 3;
    if (!Number.isInteger(nodes) || nodes < 1) throw new FailoverError('INVALID_OPTION', `nodes must be a positive integer, got ${nodes}`);
    const ttl = options.ttl ?? 30;
    const loopWait = options.loopWait ?? 10;
    const retryTimeout = options.retryTimeout ?? 10;
    if (!(ttl > 0 && loopWait > 0 && retryTimeout > 0)) throw new FailoverError('INVALID_OPTION', 'ttl, loopWait and retryTimeout must be positive');
    const cluster = new PatroniCluster(options);
    const progress = options.progress ?? (() => {});
    const seconds = (t: number) => `${((Date.now() - t) / 1000).toFixed(1)} s`;
    try {
      if (options.etcd) cluster.etcd = options.etcd;
      else {
        const t = Date.now();
        progress('etcd: starting 1 member …');
        cluster.etcd = await EtcdCluster.start({ baseDir: join(cluster.dir, 'etcd') });
        cluster.#ownsEtcd = true;
        progress(`etcd: ${cluster.etcd.endpoints.join(',')} … up in ${seconds(t)}`);
      }
      for (let i = 0; i < nodes; i++) cluster.members.push(await cluster.#prepareNode(`n${i}`, { ttl, loopWait, retryTimeout }));
      // The first node bootstraps alone, so the initial leader is predictable; the others then clone it.
      const first = cluster.members[0]!;
      let t = Date.now();
      progress(`${first.name}: initdb and bootstrap …`);
      cluster.#spawn(first);
      const timeout = options.startTimeoutMillis ?? 120_000;
      await cluster.waitForLeader(timeout);
      progress(`${first.name}: initdb and bootstrap … done in ${seconds(t)}: leader on 127.0.0.1:${first.pgPort}`);
      t = Date.now();
      for (const m of cluster.members.slice(1)) {
        progress(`${m.name}: base backup from ${first.name} …`);
        cluster.#spawn(m);
      }
      await cluster.waitForReplicasStreaming(timeout, (name) => progress(`${name}: base backup from ${first.name} … done in ${seconds(t)}: streaming on 127.0.0.1:${cluster.member(name).pgPort}`));
      return cluster;
    } catch (e) {
      const logs = cluster.members.map((m) => `--- ${m.name} ---\n${cluster.logTail(m.name)}`).join('\n');
      await cluster.stop().catch(() => {});
      if (e instanceof FailoverError && e.code === 'TIMEOUT') {
        throw new ProcessError('SERVER_START_FAILED', `Patroni cluster did not come up: ${e.message}\n${logs}`, { cause: e });
      }
      throw e;
    }
  }

  /** etcd hosts as `host:port`, as Patroni's `etcd3.hosts` takes them. */
  get etcdHosts(): string[] {
    return (this.etcd?.endpoints ?? []).map((u) => u.replace(/^\w+:\/\//, ''));
  }

  /** The member called `name`; INVALID_OPTION when there is none. */
  member(name: string): PatroniMember {
    const m = this.members.find((x) => x.name === name);
    if (!m) throw new FailoverError('INVALID_OPTION', `no Patroni node named ${JSON.stringify(name)} in this cluster`);
    return m;
  }

  /** A libpq multi-host URL over every node (no password: use {@link password} or trust auth). */
  connectionString(options: { database?: string; params?: Record<string, string> } = {}): string {
    const hosts = this.members.map((m) => `${m.host}:${m.pgPort}`).join(',');
    const q = new URLSearchParams(options.params ?? {}).toString();
    return `postgresql://${this.superuser}@${hosts}/${options.database ?? 'postgres'}${q ? `?${q}` : ''}`;
  }

  /** The superuser's password (needed when `clientAuth` is `md5`). */
  get password(): string {
    return this.#superuserPassword;
  }

  /**
   * `GET /cluster` asked of every running member at once; the first valid
   * answer wins (a frozen member cannot stall it). Undefined when none answers.
   * Patroni 3.0.2 sends no `scope`.
   */
  async clusterView(): Promise<{ scope?: string; members: PatroniClusterMember[] } | undefined> {
    const asks = this.members
      .filter((m) => m.pid !== undefined)
      .map(async (m) => {
        const body = await getJson(`${m.apiUrl}/cluster`);
        if (body && Array.isArray((body as { members?: unknown }).members)) return body as { scope?: string; members: PatroniClusterMember[] };
        throw new Error('no view');
      });
    return Promise.any(asks).catch(() => undefined);
  }

  /** The `leader` key's value in etcd (`/<namespace>/<scope>/leader`), or undefined when unlocked. */
  async leaderFromEtcd(): Promise<string | undefined> {
    if (!this.etcd) return undefined;
    const client = new Etcd3({ hosts: this.etcd.endpoints, defaultCallOptions: () => ({ deadline: Date.now() + 3000 }) } as never);
    try {
      return (await client.get(`${this.namespace.replace(/\/+$/, '')}/${this.scope}/leader`).string()) ?? undefined;
    } finally {
      client.close();
    }
  }

  /**
   * Waits until some member holds the leader lock, runs, and is out of
   * recovery (its `GET /patroni` role is `master`/`primary`); resolves with its name. `except` skips a member (e.g. the
   * one just killed, whose key may outlive it until the TTL expires).
   */
  async waitForLeader(timeoutMillis: number, options: { except?: string } = {}): Promise<string> {
    const deadline = Date.now() + timeoutMillis;
    let seen = 'no answer';
    while (Date.now() < deadline) {
      this.#failIfDead();
      const view = await this.clusterView();
      if (view) {
        seen = view.members.map((m) => `${m.name}:${m.role}/${m.state}`).join(', ');
        const leader = view.members.find((m) => m.role === 'leader' && m.state === 'running' && m.name !== options.except);
        if (leader && this.members.some((m) => m.name === leader.name)) {
          // /primary answers 200 as soon as the lock is held, before promotion ends; /patroni's role comes from pg_is_in_recovery().
          const info = (await getJson(`${this.member(leader.name).apiUrl}/patroni`)) as { role?: string; state?: string } | undefined;
          if ((info?.role === 'master' || info?.role === 'primary') && info.state === 'running') return leader.name;
        }
      }
      await sleep(100);
    }
    throw new ProcessError('TIMEOUT', `no Patroni leader within ${timeoutMillis} ms (last seen: ${seen})`);
  }

  /**
   * Waits until every running non-leader member streams from the leader (the leader's `GET /patroni`
   * replication list). `onStreaming` hears each member's name once, when it is first seen streaming.
   */
  async waitForReplicasStreaming(timeoutMillis: number, onStreaming?: (name: string) => void): Promise<void> {
    const deadline = Date.now() + timeoutMillis;
    const heard = new Set<string>();
    let seen = 'no leader';
    while (Date.now() < deadline) {
      this.#failIfDead();
      const view = await this.clusterView();
      const leader = view?.members.find((m) => m.role === 'leader' && m.state === 'running');
      if (leader && this.members.some((m) => m.name === leader.name)) {
        const info = (await getJson(`${this.member(leader.name).apiUrl}/patroni`)) as { replication?: Array<{ application_name: string; state: string }> } | undefined;
        const streaming = new Set((info?.replication ?? []).filter((r) => r.state === 'streaming').map((r) => r.application_name));
        const wanted = this.members.filter((m) => m.pid !== undefined && m.name !== leader.name).map((m) => m.name);
        for (const n of wanted) {
          if (streaming.has(n) && !heard.has(n)) {
            heard.add(n);
            onStreaming?.(n);
          }
        }
        seen = `leader ${leader.name}, streaming [${[...streaming].join(', ')}], wanted [${wanted.join(', ')}]`;
        if (wanted.every((n) => streaming.has(n))) return;
      }
      await sleep(100);
    }
    throw new ProcessError('TIMEOUT', `replicas not streaming within ${timeoutMillis} ms (${seen})`);
  }

  /**
   * kill -9 of the node's patroni and its postmaster (with all backends). The postmaster's
   * children are looked up first without blocking the event loop; then every signal goes out in
   * one synchronous step (the node dies at once, and nothing else in this process was held up by
   * the lookup). Resolves once the processes are gone.
   */
  async killNode(name: string): Promise<void> {
    const m = this.member(name);
    const postmaster = this.postmasterPid(name);
    const children = postmaster !== undefined ? await childrenOfAsync(postmaster) : [];
    const pid = m.pid;
    if (pid !== undefined) signalGroup(pid, 'SIGKILL');
    m.pid = undefined;
    if (postmaster !== undefined) signalNodeNow(postmaster, children, 'SIGKILL'); // children setsid(): the group alone is the postmaster only
    if (postmaster !== undefined) await waitGone(postmaster, 5000);
    if (pid !== undefined) await waitGone(pid, 5000);
  }

  /**
   * kill -9 of the node's postmaster and backends only; Patroni notices and
   * restarts it or fails over. The children are looked up first without blocking the event
   * loop, then signalled in one step; resolves once the postmaster is gone.
   */
  async killPostgres(name: string): Promise<void> {
    const pid = this.postmasterPid(name);
    if (pid === undefined) return;
    signalNodeNow(pid, await childrenOfAsync(pid), 'SIGKILL'); // children setsid(): the group alone is the postmaster only
    await waitGone(pid, 5000);
  }

  /** SIGSTOP of patroni and PostgreSQL: the node hangs with its sockets open. */
  freezeNode(name: string): void {
    this.#signalNode(name, 'SIGSTOP');
  }

  /** SIGCONT after {@link freezeNode}. */
  thawNode(name: string): void {
    this.#signalNode(name, 'SIGCONT');
  }

  /** Starts patroni again for a killed node (it rejoins, rewinding when needed). */
  startNode(name: string): void {
    const m = this.member(name);
    if (m.pid !== undefined && running(m.pid)) throw new FailoverError('INVALID_OPTION', `Patroni node ${name} is still running (pid ${m.pid})`);
    this.#spawn(m);
  }

  /**
   * `POST /switchover` to the leader's REST API (basic auth when configured).
   * Resolves with Patroni's answer; rejects COMMAND_FAILED on a non-2xx status.
   */
  async switchover(candidate?: string): Promise<{ status: number; body: string }> {
    return this.#postToLeader('switchover', candidate);
  }

  /**
   * `POST /failover` naming `candidate` (Patroni's manual failover: no leader check, the candidate is
   * promoted even if the leader is healthy). Rejects COMMAND_FAILED on a non-2xx status.
   */
  async failover(candidate: string): Promise<{ status: number; body: string }> {
    return this.#postToLeader('failover', candidate);
  }

  async #postToLeader(op: 'switchover' | 'failover', candidate?: string): Promise<{ status: number; body: string }> {
    const leader = await this.waitForLeader(10_000);
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    const auth = this.#options.restApiAuth;
    if (auth) headers.authorization = `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`;
    const res = await fetch(`${this.member(leader).apiUrl}/${op}`, {
      method: 'POST',
      headers,
      body: JSON.stringify(op === 'switchover' ? { leader, ...(candidate ? { candidate } : {}) } : { candidate }),
      signal: AbortSignal.timeout(60_000),
    });
    const body = await res.text();
    if (!res.ok) throw new ProcessError('COMMAND_FAILED', `${op} ${leader} → ${candidate ?? 'any'} refused: ${res.status} ${body}`, { detail: { status: res.status } });
    return { status: res.status, body };
  }

  /** The live postmaster's PID from the node's `postmaster.pid`, if it runs. */
  postmasterPid(name: string): number | undefined {
    const m = this.member(name);
    try {
      const pid = Number(readFileSync(join(m.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
      if (!(pid > 0) || !running(pid)) return undefined;
      // A stale file after kill -9 may name a PID since reused by someone else.
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      return cmd.includes('postgres') ? pid : undefined;
    } catch {
      return undefined;
    }
  }

  /** The last lines of a node's Patroni log (which also holds PostgreSQL's output). */
  logTail(name: string, lines = 30): string {
    try {
      return tail(readFileSync(this.member(name).logFile, 'utf8'), lines);
    } catch {
      return '(no log)';
    }
  }

  /**
   * Stops every patroni by PID (SIGTERM, SIGKILL after 20 s), then makes sure
   * every postmaster is gone, stops etcd if it was started here, and removes
   * the directory. Safe to call twice.
   */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    for (const m of this.members) {
      for (const pid of [m.pid, this.postmasterPid(m.name)]) if (pid !== undefined) signalGroup(pid, 'SIGCONT');
      if (m.pid !== undefined) signalGroup(m.pid, 'SIGTERM');
    }
    for (const m of this.members) {
      if (m.pid === undefined) continue;
      if (!(await waitGone(m.pid, 20_000))) {
        signalGroup(m.pid, 'SIGKILL');
        await waitGone(m.pid, 5000);
      }
      // Gone is not reaped: wait for Node to collect the exit status so no zombie outlives stop().
      await Promise.race([this.#reaped.get(m.pid), sleep(5000)]);
      this.#reaped.delete(m.pid);
      m.pid = undefined;
    }
    for (const m of this.members) {
      const pid = this.postmasterPid(m.name);
      if (pid === undefined) continue;
      signalGroup(pid, 'SIGQUIT');
      if (!(await waitGone(pid, 5000))) signalGroup(pid, 'SIGKILL');
      await waitGone(pid, 5000);
      await waitGroupGone(pid, 5000);
    }
    if (this.#ownsEtcd) await this.etcd?.stop();
    for (const undo of this.#undoNodeDirs.splice(0)) {
      try {
        undo();
      } catch {
        /* best effort: the caller's own cleanup reports what is left */
      }
    }
    if (!this.#options.keepDir) rmSync(this.dir, { recursive: true, force: true });
  }

  /** SERVER_START_FAILED (with the log tail) when a patroni we started and did not kill has exited. */
  #failIfDead(): void {
    for (const m of this.members) {
      if (m.pid === undefined || running(m.pid)) continue;
      m.pid = undefined;
      throw new ProcessError('SERVER_START_FAILED', `patroni ${m.name} exited. Log tail:\n${this.logTail(m.name)}`, { node: `${m.host}:${m.pgPort}` });
    }
  }

  #signalNode(name: string, signal: NodeJS.Signals): void {
    const m = this.member(name);
    const pg = this.postmasterPid(name);
    if (m.pid !== undefined) signalGroup(m.pid, signal);
    if (pg !== undefined) signalWholeNode(pg, signal);
  }

  async #prepareNode(name: string, timing: { ttl: number; loopWait: number; retryTimeout: number }): Promise<PatroniMember> {
    const nodeDir = join(this.dir, name);
    mkdirSync(nodeDir, { recursive: true, mode: 0o700 });
    const undo = this.#options.prepareNodeDir?.(name, nodeDir);
    if (undo) this.#undoNodeDirs.push(undo);
    this.#chown(nodeDir);
    const pgPort = await freePort();
    const apiPort = await freePort();
    const host = this.#options.placement?.(name).host ?? '127.0.0.1';
    const member: PatroniMember = {
      name,
      host,
      pgPort,
      apiPort,
      apiUrl: `http://${host}:${apiPort}`,
      dataDir: join(nodeDir, 'data'),
      configFile: join(nodeDir, 'patroni.yml'),
      logFile: join(nodeDir, 'patroni.log'),
      pid: undefined,
    };
    writeFileSync(member.configFile, stringify(this.#config(member, nodeDir, timing)), { mode: 0o600 });
    this.#chown(member.configFile);
    return member;
  }

  /** The node's Patroni YAML, as an object. */
  #config(m: PatroniMember, nodeDir: string, timing: { ttl: number; loopWait: number; retryTimeout: number }): Record<string, unknown> {
    const o = this.#options;
    const clientAuth = o.clientAuth ?? 'trust';
    return {
      scope: this.scope,
      namespace: this.namespace,
      name: m.name,
      log: { level: o.logLevel ?? 'INFO' },
      restapi: {
        listen: `${m.host}:${m.apiPort}`,
        connect_address: `${m.host}:${m.apiPort}`,
        ...(o.restApiAuth ? { authentication: { username: o.restApiAuth.username, password: o.restApiAuth.password } } : {}),
      },
      etcd3: { hosts: this.etcdHosts, protocol: 'http' },
      bootstrap: {
        dcs: {
          ttl: timing.ttl,
          loop_wait: timing.loopWait,
          retry_timeout: timing.retryTimeout,
          maximum_lag_on_failover: o.maximumLagOnFailoverBytes ?? 1_048_576,
          synchronous_mode: o.synchronousMode ?? false,
          postgresql: {
            use_pg_rewind: true,
            use_slots: true,
            parameters: {
              wal_level: 'replica',
              hot_standby: 'on',
              wal_log_hints: 'on',
              max_wal_senders: 10,
              max_replication_slots: 10,
              wal_keep_size: '128MB',
            },
          },
        },
        initdb: [{ encoding: 'UTF8' }, 'data-checksums', { locale: 'C.UTF-8' }],
      },
      postgresql: {
        listen: `${m.host}:${m.pgPort}`,
        connect_address: `${m.host}:${m.pgPort}`,
        data_dir: m.dataDir,
        bin_dir: o.binDir ?? findPgBinaries().bindir,
        pgpass: join(nodeDir, 'pgpass'),
        authentication: {
          superuser: { username: this.superuser, password: this.#superuserPassword },
          replication: { username: 'replicator', password: this.#replicationPassword },
          rewind: o.rewindUser ?? { username: this.superuser, password: this.#superuserPassword },
        },
        parameters: { unix_socket_directories: nodeDir, shared_buffers: '32MB', max_connections: 100 },
        pg_hba: [
          'local all all trust',
          'local replication all trust',
          'host replication replicator 127.0.0.1/32 md5',
          `host all all 127.0.0.1/32 ${clientAuth}`,
          ...(o.clientCidrs ?? []).flatMap((cidr) => [`host replication replicator ${cidr} md5`, `host all all ${cidr} ${clientAuth}`]),
        ],
      },
      tags: { nofailover: false, noloadbalance: false, clonefrom: false, nosync: false },
    };
  }

  #spawn(m: PatroniMember): void {
    const log = openSync(m.logFile, 'a');
    if (this.user) chownSync(m.logFile, this.user.uid, this.user.gid);
    const [program, programArgs] =
      this.#options.daemon === 'pg-failover' ? [process.execPath, [this.#binary, 'manager', '--config', m.configFile]] : [this.#binary, [m.configFile]];
    const placement = this.#options.placement?.(m.name);
    // A prefix (ip netns exec) needs root: it runs as root and setpriv drops to the server user before the daemon.
    const prefixed = (placement?.prefix?.length ?? 0) > 0;
    const dropTo = prefixed && this.user ? ['setpriv', `--reuid=${this.user.uid}`, `--regid=${this.user.gid}`, '--init-groups', program] : [program];
    const [command, args] = placedCommand(placement, dropTo[0]!, [...dropTo.slice(1), ...programArgs]);
    const child = spawn(command, args, {
      cwd: join(this.dir, m.name),
      detached: true,
      stdio: ['ignore', log, log],
      env: userEnv(this.user, { PYTHONUNBUFFERED: '1' }),
      ...(this.user && !prefixed ? { uid: this.user.uid, gid: this.user.gid } : {}),
    });
    closeSync(log);
    child.on('error', () => {}); // a failed exec shows up as a dead pid + log tail
    if (child.pid !== undefined) this.#reaped.set(child.pid, new Promise((resolve) => child.once('exit', () => resolve())));
    child.unref();
    m.pid = child.pid;
    debug('started patroni %s pid %d (pg %d, api %d)', m.name, child.pid, m.pgPort, m.apiPort);
  }

  #chown(path: string): void {
    if (this.user) chownSync(path, this.user.uid, this.user.gid);
  }
}

/** This package's CLI entry (bin/pg-failover.js), which runs the built manager. */
function managerEntry(): string {
  const entry = join(__dirname, '..', '..', 'bin', 'pg-failover.js');
  if (!existsSync(entry)) throw new ProcessError('BINARY_NOT_FOUND', `pg-failover CLI not found at ${entry}`);
  if (!existsSync(join(__dirname, '..', '..', 'dist', 'cli', 'main.js'))) {
    throw new ProcessError('BINARY_NOT_FOUND', 'the manager is not built: run `npm run build` first (bin/pg-failover.js runs dist/)');
  }
  return entry;
}

/** Finds the `patroni` executable; BINARY_NOT_FOUND (with the package to install) when absent. */
export function findPatroni(explicit?: string, env: NodeJS.ProcessEnv = process.env): string {
  const wanted = explicit ?? env.PGFAILOVER_PATRONI;
  if (wanted) {
    if (existsSync(wanted)) return wanted;
    throw new ProcessError('BINARY_NOT_FOUND', `patroni not found at ${wanted}`);
  }
  try {
    const p = execFileSync('sh', ['-c', 'command -v patroni'], { encoding: 'utf8' }).trim();
    if (p) return p;
  } catch {
    /* not in PATH */
  }
  if (existsSync('/usr/bin/patroni')) return '/usr/bin/patroni';
  throw new ProcessError('BINARY_NOT_FOUND', 'patroni is not installed: run scripts/install-deps.sh (Debian package `patroni`) or set PGFAILOVER_PATRONI');
}

/** INVALID_OPTION unless `user` may traverse every directory down to `dir` (else Patroni cannot even read its YAML). */
function assertReachable(dir: string, user: OsUser): void {
  const parts = resolve(dir).split('/').filter(Boolean);
  for (let i = 0; i <= parts.length; i++) {
    const path = '/' + parts.slice(0, i).join('/');
    const st = statSync(path);
    const x = st.uid === user.uid ? st.mode & 0o100 : st.gid === user.gid ? st.mode & 0o010 : st.mode & 0o001;
    if (!x) throw new FailoverError('INVALID_OPTION', `OS user ${user.name} cannot enter ${path} (mode ${(st.mode & 0o777).toString(8)}): make parentDir reachable (e.g. chmod 711)`);
  }
}

/** INVALID_OPTION naming the directory when `user` cannot enter every directory above `file` (it would fail as "Cannot find module"). */
function assertRunnableBy(what: string, file: string, user: OsUser): void {
  const parts = resolve(file).split('/').filter(Boolean);
  for (let i = 0; i < parts.length; i++) {
    const path = '/' + parts.slice(0, i).join('/');
    const st = statSync(path);
    const x = st.uid === user.uid ? st.mode & 0o100 : st.gid === user.gid ? st.mode & 0o010 : st.mode & 0o001;
    if (!x) {
      throw new FailoverError(
        'INVALID_OPTION',
        `the managers run as OS user ${user.name} (PostgreSQL refuses root), who cannot enter ${path} (mode ${(st.mode & 0o777).toString(8)}) to run ${what} at ${file}: ` +
          `install it where ${user.name} can read it (not under /root or a 0700 directory), chmod o+x ${path}, or run as a non-root user`,
      );
    }
  }
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      /* gone */
    }
  }
}

/** True while `pid` exists and is not a zombie (orphans of a killed patroni may linger unreaped). */
function running(pid: number): boolean {
  if (!isAlive(pid)) return false;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** Live (non-zombie) members of process group `pgid`. */
function groupMembers(pgid: number): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (fields[0] !== 'Z' && Number(fields[2]) === pgid) found.push(Number(entry));
    } catch {
      /* gone */
    }
  }
  return found;
}

async function waitGone(pid: number, timeoutMillis: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMillis;
  while (Date.now() < deadline) {
    if (!running(pid)) return true;
    await sleep(20);
  }
  return !running(pid);
}

async function waitGroupGone(pgid: number, timeoutMillis: number): Promise<void> {
  const deadline = Date.now() + timeoutMillis;
  while (Date.now() < deadline) {
    if (groupMembers(pgid).length === 0) return;
    await sleep(50);
  }
  signalGroup(pgid, 'SIGKILL');
}

async function getJson(url: string): Promise<unknown> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
    return await res.json();
  } catch {
    return undefined;
  }
}
