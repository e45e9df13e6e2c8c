/**
 * A managed cluster on nodes with their own network: etcd member(s) and
 * PostgreSQL nodes, each in its own namespace on the campaign bridge, run by
 * our manager (`pg-failover manager`) or by real Patroni from the same YAML
 * (src/local/patroni-cluster.ts). stop() ends every process by PID, then
 * removes the network, even after a failed start.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EtcdCluster } from '../../src/local/etcd-server';
import { PatroniCluster } from '../../src/local/patroni-cluster';
import { CampaignNetwork } from './netns';
import { NODE_DISK_MIB, tmpfsNodeDirs } from './node-disks';

export interface NamespacedClusterOptions {
  /** `pg-failover` (our manager, default) or `patroni` (real Patroni 3.0.2). */
  daemon?: 'pg-failover' | 'patroni';
  nodes?: number;
  etcdMembers?: number;
  synchronousMode?: boolean;
  ttl?: number;
  loopWait?: number;
  retryTimeout?: number;
  scope?: string;
  /** Keep the data/log directories after stop() (post-mortems): their paths are logged. */
  keepDirs?: boolean;
  /** Each node's directory on its own size-limited tmpfs (for the disk-full fault; not with keepDirs). */
  nodeDisks?: boolean;
  log?: (line: string) => void;
}

export class NamespacedCluster {
  private constructor(
    readonly net: CampaignNetwork,
    readonly etcd: EtcdCluster,
    readonly cluster: PatroniCluster,
    readonly etcdNames: string[],
    readonly nodeNames: string[],
    readonly dir: string,
    readonly keepDirs = false,
    readonly nodeDisks = false,
  ) {}

  static async start(o: NamespacedClusterOptions = {}): Promise<NamespacedCluster> {
    const nodes = o.nodes ?? 3;
    const etcdMembers = o.etcdMembers ?? 1;
    const nodeNames = Array.from({ length: nodes }, (_, i) => `n${i}`);
    const etcdNames = Array.from({ length: etcdMembers }, (_, i) => `etcd${i}`);
    const net = await CampaignNetwork.create({ members: [...etcdNames, ...nodeNames] });
    const dir = mkdtempSync(join(tmpdir(), `${net.prefix}-`));
    let etcd: EtcdCluster | undefined;
    let cluster: PatroniCluster | undefined;
    try {
      const placement = (name: string) => ({ host: net.member(name).address, prefix: net.prefixFor(name) });
      o.log?.(`network ${net.prefix}: ${net.cidr}, client ${net.clientAddress}, ${[...net.members.values()].map((m) => `${m.name} ${m.address}`).join(', ')}${net.netem ? '' : ' (no netem on this kernel)'}`);
      etcd = await EtcdCluster.start({ baseDir: join(dir, 'etcd'), members: etcdMembers, placement });
      o.log?.(`etcd ${etcd.endpoints.join(',')}`);
      const ttl = o.ttl ?? 10;
      cluster = await PatroniCluster.start({
        daemon: o.daemon ?? 'pg-failover',
        nodes,
        ttl,
        loopWait: o.loopWait ?? 1,
        retryTimeout: o.retryTimeout ?? Math.max(1, Math.floor((ttl - 1) / 2)),
        scope: o.scope ?? 'campaign',
        synchronousMode: o.synchronousMode ?? true,
        etcd,
        placement,
        clientCidrs: [net.cidr],
        keepDir: o.keepDirs ?? false,
        ...(o.nodeDisks && !o.keepDirs ? { prepareNodeDir: tmpfsNodeDirs(NODE_DISK_MIB, o.log) } : {}),
      });
      if (o.keepDirs) o.log?.(`keeping ${cluster.dir} and ${dir} after the run`);
      o.log?.(`cluster up: ${cluster.members.map((m) => `${m.name} ${m.host}:${m.pgPort}`).join(', ')}`);
      return new NamespacedCluster(net, etcd, cluster, etcdNames, nodeNames, dir, o.keepDirs ?? false, !!o.nodeDisks && !o.keepDirs);
    } catch (e) {
      await cluster?.stop().catch(() => {});
      await etcd?.stop().catch(() => {});
      await net.destroy();
      rmSync(dir, { recursive: true, force: true });
      throw e;
    }
  }

  /** etcd hosts as `host:port`. */
  get etcdHosts(): string[] {
    return this.etcd.endpoints.map((u) => u.replace(/^\w+:\/\//, ''));
  }

  /** Our Pool's connection string: every node, topology from etcd. */
  poolConnectionString(): string {
    return this.cluster.connectionString({ params: { 'pgfailover.etcd': this.etcdHosts.join(','), 'pgfailover.scope': this.cluster.scope } });
  }

  /** Stops every daemon and PostgreSQL (by PID), etcd, then the network and the directory. Safe to call twice. */
  async stop(): Promise<void> {
    await this.net.healAll().catch(() => {});
    await this.cluster.stop().catch(() => {});
    for (let i = 0; i < this.etcd.members.length; i++) {
      try {
        this.etcd.kill(i, 'SIGCONT');
      } catch {
        /* not running */
      }
    }
    await this.etcd.stop().catch(() => {});
    await this.net.destroy();
    if (!this.keepDirs) rmSync(this.dir, { recursive: true, force: true });
  }
}
