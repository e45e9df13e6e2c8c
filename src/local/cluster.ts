/**
 * A whole PostgreSQL cluster on loopback — a primary, N streaming standbys
 * with replication slots, and optionally etcd — in one temp directory. This is
 * the launcher behind `pg-failover up`, the test cluster and the benchmarks.
 */
import { mkdtempSync, chmodSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { FailoverError, ProcessError } from '../errors';
import { findPgBinaries, type PgBinaries } from '../manager/pg-binaries';
import { PostgresServer, resolveServerUser, slotNameFor } from '../manager/postgres';
import type { OsUser } from '../manager/run';
import { EtcdCluster } from './etcd-server';
import { freePort } from './ports';

export interface LocalClusterOptions {
  /** Number of streaming standbys. Default 2. */
  standbys?: number;
  /** Start etcd too: `true`/1 for one member, 3 for three. Default false. */
  etcd?: boolean | number;
  /** Parent directory; a fresh temp dir is made inside it. Default os.tmpdir(). */
  parentDir?: string;
  /** OS user for the servers when running as root (default `postgres`, or PGFAILOVER_RUN_AS). */
  runAs?: string;
  /** Extra postgresql.conf settings for every node. */
  parameters?: Record<string, string | number | boolean>;
  binaries?: PgBinaries;
  /** Progress lines (for `up`). */
  log?: (line: string) => void;
  /** Keep the directory after stop() (for post-mortems). Default false. */
  keepDir?: boolean;
}

/** One node of a local cluster: a name and its server. */
export interface LocalNode {
  name: string;
  server: PostgresServer;
}

export class LocalCluster {
  readonly dir: string;
  readonly nodes: LocalNode[] = [];
  etcd: EtcdCluster | undefined;
  readonly user: OsUser | undefined;
  readonly binaries: PgBinaries;
  readonly #options: LocalClusterOptions;
  #primary: LocalNode | undefined;
  #stopped = false;

  private constructor(options: LocalClusterOptions) {
    this.#options = options;
    this.binaries = options.binaries ?? findPgBinaries();
    this.user = resolveServerUser(options.runAs);
    this.dir = mkdtempSync(join(options.parentDir ?? tmpdir(), 'pgfo-'));
    chmodSync(this.dir, 0o711); // the server user must reach its data directory inside
  }

  /** Starts etcd (if asked), the primary, and the standbys; stops everything again if any step fails. */
  static async start(options: LocalClusterOptions = {}): Promise<LocalCluster> {
    const cluster = new LocalCluster(options);
    try {
      if (options.etcd) {
        const members = options.etcd === true ? 1 : options.etcd;
        const t = Date.now();
        cluster.#log(`etcd: starting ${members} member${members > 1 ? 's' : ''} …`);
        cluster.etcd = await EtcdCluster.start({ baseDir: join(cluster.dir, 'etcd'), members });
        cluster.#log(`etcd: ${cluster.etcd.endpoints.join(',')} … up in ${seconds(t)}`);
      }
      const primary = await cluster.#newNode('n0');
      const t = Date.now();
      cluster.#log(`${primary.name}: initdb …`);
      await primary.server.initdb({ parameters: options.parameters });
      await cluster.#startWithFreePort(primary);
      cluster.#primary = primary;
      cluster.#log(`${primary.name}: initdb and start … done in ${seconds(t)}: primary on ${primary.server.name}`);
      for (let i = 1; i <= (options.standbys ?? 2); i++) await cluster.addStandby(`n${i}`);
      return cluster;
    } catch (e) {
      await cluster.stop();
      throw e;
    }
  }

  /** The node that currently accepts writes (as far as this launcher knows). */
  get primary(): LocalNode {
    if (!this.#primary) throw new FailoverError('NO_PRIMARY', 'the local cluster has no primary');
    return this.#primary;
  }

  get standbys(): LocalNode[] {
    return this.nodes.filter((n) => n !== this.#primary);
  }

  node(name: string): LocalNode {
    const n = this.nodes.find((x) => x.name === name);
    if (!n) throw new FailoverError('INVALID_OPTION', `no node named ${name} in this cluster`);
    return n;
  }

  /** A libpq multi-host URL over every node, primary first. */
  connectionString(options: { database?: string; params?: Record<string, string> } = {}): string {
    const hosts = [this.primary, ...this.standbys].map((n) => `${n.server.host}:${n.server.port}`).join(',');
    const q = new URLSearchParams(options.params ?? {}).toString();
    return `postgresql://postgres@${hosts}/${options.database ?? 'postgres'}${q ? `?${q}` : ''}`;
  }

  /** Clones a new streaming standby from the primary with its own replication slot, and starts it. */
  async addStandby(name: string): Promise<LocalNode> {
    const node = await this.#newNode(name);
    const slot = slotNameFor(name);
    const t = Date.now();
    this.#log(`${name}: base backup from ${this.primary.name} (slot ${slot}) …`);
    await node.server.basebackup(this.primary.server, { slotName: slot });
    node.server.writeStandbyConfig({ primaryConninfo: this.primary.server.conninfo(), slotName: slot, applicationName: name });
    await this.#startWithFreePort(node);
    this.#log(`${name}: base backup from ${this.primary.name} … done in ${seconds(t)}: standby on ${node.server.name}`);
    return node;
  }

  /**
   * Promotes `name` and re-points the other running standbys at it (each
   * needs a slot there, created here). Does not touch the old primary.
   */
  async promote(name: string): Promise<void> {
    const next = this.node(name);
    await next.server.promote();
    const old = this.#primary;
    this.#primary = next;
    for (const n of this.nodes) {
      if (n === next || n === old) continue;
      await this.repoint(n);
    }
  }

  /** Makes `node` follow the current primary (slot created on demand) and restarts it. */
  async repoint(node: LocalNode): Promise<void> {
    const slot = slotNameFor(node.name);
    await this.primary.server.query(
      'SELECT pg_create_physical_replication_slot($1, true) WHERE NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1)',
      [slot],
    );
    node.server.writeStandbyConfig({ primaryConninfo: this.primary.server.conninfo(), slotName: slot, applicationName: node.name });
    if (node.server.isRunning()) await node.server.stop('fast');
    await node.server.start();
  }

  /** Rewinds a stopped (or crashed) old primary against the current primary and starts it as a standby. */
  async rejoin(name: string): Promise<void> {
    const node = this.node(name);
    if (node.server.isRunning()) await node.server.stop('fast');
    await node.server.rewind(this.primary.server);
    await this.repoint(node);
  }

  /** The primary's current WAL insert position. */
  async primaryLsn(): Promise<string> {
    const [row] = await this.primary.server.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn');
    return row!.lsn;
  }

  /** Waits until `node` has replayed at least `lsn` (default: the primary's current position). */
  async waitForReplay(name: string, lsn?: string, timeoutMillis = 30_000): Promise<void> {
    const target = lsn ?? (await this.primaryLsn());
    const node = this.node(name);
    const deadline = Date.now() + timeoutMillis;
    while (Date.now() < deadline) {
      const [row] = await node.server
        .query<{ ok: boolean }>('SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS ok', [target])
        .catch(() => [{ ok: false }]);
      if (row?.ok) return;
      await sleep(25);
    }
    throw new ProcessError('TIMEOUT', `${name} did not replay up to ${target} within ${timeoutMillis} ms`, { node: node.server.name });
  }

  /** Stops every server and etcd member by PID and removes the directory. Safe to call twice. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    const errors: unknown[] = [];
    for (const n of this.nodes) {
      try {
        n.server.signalNode('SIGCONT'); // a frozen node cannot stop
      } catch {
        /* not running */
      }
      await n.server.stop('immediate').catch(async (e) => {
        errors.push(e);
        await n.server.kill9();
      });
    }
    await this.etcd?.stop().catch((e) => errors.push(e));
    if (!this.#options.keepDir) rmSync(this.dir, { recursive: true, force: true });
    if (errors.length) throw errors[0];
  }

  async #newNode(name: string): Promise<LocalNode> {
    mkdirSync(join(this.dir, name), { recursive: true });
    chmodSync(join(this.dir, name), 0o711);
    const server = new PostgresServer({
      dataDir: join(this.dir, name, 'data'),
      port: await freePort(),
      binaries: this.binaries,
      user: this.user,
    });
    const node = { name, server };
    this.nodes.push(node);
    return node;
  }

  /** Starts the node; if its port was taken meanwhile, moves to another free port. */
  async #startWithFreePort(node: LocalNode): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await node.server.start();
        return;
      } catch (e) {
        const inUse = e instanceof ProcessError && e.detail?.portInUse === true;
        if (!inUse || attempt >= 5) throw e;
        node.server.port = await freePort();
      }
    }
  }

  #log(line: string): void {
    this.#options.log?.(line);
  }
}

/** Seconds since `t`, as progress lines print them (`1.2 s`). */
function seconds(t: number): string {
  return `${((Date.now() - t) / 1000).toFixed(1)} s`;
}
