/**
 * Launches real etcd members on loopback (one, or a cluster of three) for
 * `pg-failover up`, the tests and the benchmarks. Each member runs in its own
 * process group with its own data directory; stop() ends them by PID.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, openSync, closeSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import createDebug from 'debug';
import { ProcessError } from '../errors';
import { findEtcd } from '../manager/pg-binaries';
import { isAlive } from '../manager/postgres';
import { tail } from '../manager/run';
import { freePort } from './ports';
import { placedCommand, type Placement } from './placement';

const debug = createDebug('pg-failover:etcd');

export interface EtcdMember {
  name: string;
  clientUrl: string;
  peerUrl: string;
  dataDir: string;
  logFile: string;
  pid: number | undefined;
}

export interface EtcdClusterOptions {
  /** Parent directory for data and logs. */
  baseDir: string;
  /** 1 or 3 (any odd number works). Default 1. */
  members?: number;
  etcdBinary?: string;
  startTimeoutMillis?: number;
  /** Per member (`etcd0`, `etcd1` …): its address and command prefix (e.g. its own network namespace). Default 127.0.0.1. */
  placement?: (member: string) => Placement;
}

/** A running etcd cluster on 127.0.0.1. */
export class EtcdCluster {
  readonly members: EtcdMember[] = [];
  readonly #binary: string;
  readonly #options: EtcdClusterOptions;
  #initialCluster = '';
  #token = '';

  private constructor(options: EtcdClusterOptions) {
    this.#options = options;
    this.#binary = options.etcdBinary ?? findEtcd();
  }

  /** Starts the members and resolves once every one reports healthy. */
  static async start(options: EtcdClusterOptions): Promise<EtcdCluster> {
    const cluster = new EtcdCluster(options);
    try {
      await cluster.#startAll();
    } catch (e) {
      await cluster.stop();
      throw e;
    }
    return cluster;
  }

  /** Client URLs, e.g. for the etcd3 package's `hosts`. */
  get endpoints(): string[] {
    return this.members.map((m) => m.clientUrl);
  }

  async #startAll(): Promise<void> {
    const n = this.#options.members ?? 1;
    const token = `pgfo-${process.pid}-${Date.now()}`;
    for (let i = 0; i < n; i++) {
      const name = `etcd${i}`;
      const dataDir = join(this.#options.baseDir, name);
      mkdirSync(dataDir, { recursive: true, mode: 0o700 });
      const host = this.#options.placement?.(name).host ?? '127.0.0.1';
      this.members.push({
        name,
        clientUrl: `http://${host}:${await freePort()}`,
        peerUrl: `http://${host}:${await freePort()}`,
        dataDir,
        logFile: `${dataDir}.log`,
        pid: undefined,
      });
    }
    const initialCluster = this.members.map((m) => `${m.name}=${m.peerUrl}`).join(',');
    this.#initialCluster = initialCluster;
    this.#token = token;
    for (const m of this.members) this.#spawn(m, initialCluster, token);
    for (const m of this.members) await this.#waitHealthy(m);
  }

  async #waitHealthy(m: EtcdMember): Promise<void> {
    const deadline = Date.now() + (this.#options.startTimeoutMillis ?? 30_000);
    while (!(await healthy(m.clientUrl))) {
      if (m.pid === undefined || !isAlive(m.pid)) {
        throw new ProcessError('SERVER_START_FAILED', `etcd member ${m.name} exited during startup. Log tail:\n${logTail(m)}`);
      }
      if (Date.now() > deadline) throw new ProcessError('SERVER_START_FAILED', `etcd member ${m.name} not healthy in time. Log tail:\n${logTail(m)}`);
      await sleep(50);
    }
  }

  #spawn(m: EtcdMember, initialCluster: string, token: string): void {
    const log = openSync(m.logFile, 'a');
    const [command, args] = placedCommand(this.#options.placement?.(m.name), this.#binary, [
        '--name', m.name,
        '--data-dir', m.dataDir,
        '--listen-client-urls', m.clientUrl,
        '--advertise-client-urls', m.clientUrl,
        '--listen-peer-urls', m.peerUrl,
        '--initial-advertise-peer-urls', m.peerUrl,
        '--initial-cluster', initialCluster,
        '--initial-cluster-state', 'new',
        '--initial-cluster-token', token,
        '--heartbeat-interval', '50',
        '--election-timeout', '500',
      ]);
    const child = spawn(
      command,
      args,
      { cwd: m.dataDir, detached: true, stdio: ['ignore', log, log], env: { ...process.env, ETCD_UNSUPPORTED_ARCH: process.env.ETCD_UNSUPPORTED_ARCH ?? '' } },
    );
    closeSync(log);
    child.unref();
    m.pid = child.pid;
    debug('started %s pid %d at %s', m.name, child.pid, m.clientUrl);
  }

  /** SIGKILLs one member (fault injection). */
  kill(index: number, signal: NodeJS.Signals = 'SIGKILL'): void {
    const m = this.members[index];
    if (m?.pid !== undefined) process.kill(-m.pid, signal);
  }

  /** Stops one member by PID (SIGTERM, then SIGKILL after 5 s) and waits until it is gone; its data dir and ports stay. */
  async stopMember(index: number): Promise<void> {
    const m = this.members[index];
    if (m?.pid === undefined) return;
    await stopPid(m.pid);
    m.pid = undefined;
  }

  /** Starts a stopped member again on the same ports and data dir, and waits until it is healthy. */
  async startMember(index: number): Promise<void> {
    const m = this.members[index];
    if (!m) throw new ProcessError('SERVER_START_FAILED', `no etcd member ${index}`);
    if (m.pid !== undefined && isAlive(m.pid)) return;
    this.#spawn(m, this.#initialCluster, this.#token);
    await this.#waitHealthy(m);
  }

  /** Stops every member by PID and waits until the processes are gone. */
  async stop(): Promise<void> {
    for (const m of this.members) {
      if (m.pid === undefined) continue;
      try {
        process.kill(-m.pid, 'SIGTERM');
      } catch {
        /* gone */
      }
    }
    for (const m of this.members) {
      if (m.pid === undefined) continue;
      const deadline = Date.now() + 5000;
      while (isAlive(m.pid) && Date.now() < deadline) await sleep(20);
      if (isAlive(m.pid)) {
        try {
          process.kill(-m.pid, 'SIGKILL');
        } catch {
          /* gone */
        }
        while (isAlive(m.pid)) await sleep(20);
      }
      m.pid = undefined;
    }
  }
}

async function stopPid(pid: number): Promise<void> {
  try {
    process.kill(-pid, 'SIGTERM');
  } catch {
    /* gone */
  }
  const deadline = Date.now() + 5000;
  while (isAlive(pid) && Date.now() < deadline) await sleep(20);
  if (isAlive(pid)) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      /* gone */
    }
    while (isAlive(pid)) await sleep(20);
  }
}

async function healthy(clientUrl: string): Promise<boolean> {
  try {
    const res = await fetch(`${clientUrl}/health`, { signal: AbortSignal.timeout(1000) });
    const body = (await res.json()) as { health?: string };
    return body.health === 'true';
  } catch {
    return false;
  }
}

function logTail(m: EtcdMember): string {
  try {
    return tail(readFileSync(m.logFile, 'utf8'));
  } catch {
    return '(no log)';
  }
}
