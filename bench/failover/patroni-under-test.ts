/**
 * `patroni`: a real Patroni cluster (Debian's package) on a one-member etcd,
 * with the same ttl / loop_wait the other managers get. Faults go to every
 * process of the node: PostgreSQL's children setsid(), so the postmaster's
 * process group alone would leave backends serving (see node-signals.ts).
 */
import { PatroniCluster } from '../../src/local/patroni-cluster';
import type { ApiNode, ClusterUnderTest, FaultKind } from './cluster-under-test';
import { childrenOf, signalWholeNode } from '../../src/manager/node-signals';
import type { Endpoint } from './peers';

export interface PatroniUnderTestOptions {
  nodes?: number;
  /** Seconds (Patroni's `ttl`). */
  ttl: number;
  /** Seconds (Patroni's `loop_wait`). Default max(1, ttl/3). */
  loopWait?: number;
  parentDir?: string;
  log?: (line: string) => void;
  /** `patroni` (default) or `pg-failover`: our manager, run from the same Patroni YAML. */
  daemon?: 'patroni' | 'pg-failover';
}

export class PatroniUnderTest implements ClusterUnderTest {
  readonly manager: string;
  readonly hosts: Endpoint[];
  readonly etcdHosts: string[];
  readonly scope: string;
  readonly apiUrls: string[];
  readonly apiNodes: ApiNode[];
  #killed = new Set<string>();
  #frozen = new Set<string>();

  private constructor(readonly patroni: PatroniCluster, daemon: 'patroni' | 'pg-failover') {
    this.manager = daemon === 'pg-failover' ? 'ours' : 'patroni';
    this.hosts = patroni.members.map((m) => ({ host: '127.0.0.1', port: m.pgPort }));
    this.etcdHosts = patroni.etcdHosts;
    this.scope = patroni.scope;
    this.apiUrls = patroni.members.map((m) => m.apiUrl);
    this.apiNodes = patroni.members.map((m) => ({ name: m.name, host: '127.0.0.1', port: m.pgPort, apiPort: m.apiPort }));
  }

  static async start(options: PatroniUnderTestOptions): Promise<PatroniUnderTest> {
    const loopWait = options.loopWait ?? Math.max(1, Math.floor(options.ttl / 3));
    // Patroni wants loop_wait + 2 * retry_timeout <= ttl.
    const retryTimeout = Math.max(1, Math.floor((options.ttl - loopWait) / 2));
    options.log?.(`${options.daemon ?? 'patroni'}: ttl ${options.ttl} s, loop_wait ${loopWait} s, retry_timeout ${retryTimeout} s`);
    const patroni = await PatroniCluster.start({ nodes: options.nodes ?? 3, ttl: options.ttl, loopWait, retryTimeout, parentDir: options.parentDir, scope: 'bench', daemon: options.daemon ?? 'patroni' });
    return new PatroniUnderTest(patroni, options.daemon ?? 'patroni');
  }

  connectionString(): string {
    return this.patroni.connectionString();
  }

  async primaryName(): Promise<string> {
    return this.patroni.waitForLeader(30_000);
  }

  endpoint(node: string): Endpoint {
    return { host: '127.0.0.1', port: this.patroni.member(node).pgPort };
  }

  async fault(kind: FaultKind, node: string): Promise<void> {
    const pg = this.patroni.postmasterPid(node);
    switch (kind) {
      case 'kill': {
        const children = pg ? childrenOf(pg) : [];
        const done = this.patroni.killNode(node); // patroni + postmaster, signalled synchronously
        for (const pid of children) kill(pid, 'SIGKILL');
        this.#killed.add(node);
        await done;
        return;
      }
      case 'crash': {
        const children = pg ? childrenOf(pg) : [];
        const done = this.patroni.killPostgres(node);
        for (const pid of children) kill(pid, 'SIGKILL');
        await done;
        return;
      }
      case 'hang':
        this.patroni.freezeNode(node); // patroni's group + the postmaster
        if (pg) signalWholeNode(pg, 'SIGSTOP');
        this.#frozen.add(node);
        return;
      case 'switchover':
        await this.patroni.switchover();
        return;
    }
  }

  async waitHealthy(timeoutMillis: number): Promise<void> {
    for (const node of this.#frozen) {
      const pg = this.patroni.postmasterPid(node);
      if (pg) signalWholeNode(pg, 'SIGCONT');
      this.patroni.thawNode(node);
    }
    this.#frozen.clear();
    // A new leader first: a restarted old primary is ahead in WAL, and replicas refuse to promote past it.
    const killed = [...this.#killed];
    if (killed.length) await this.patroni.waitForLeader(timeoutMillis, { except: killed[0] });
    for (const node of killed) this.patroni.startNode(node); // rejoins (pg_rewind) by itself
    this.#killed.clear();
    await this.patroni.waitForLeader(timeoutMillis);
    await this.patroni.waitForReplicasStreaming(timeoutMillis);
  }

  async stop(): Promise<void> {
    for (const node of this.#frozen) {
      const pg = this.patroni.postmasterPid(node);
      if (pg) signalWholeNode(pg, 'SIGCONT');
      this.patroni.thawNode(node);
    }
    await this.patroni.stop();
  }
}

function kill(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    /* gone */
  }
}
