/**
 * A real AgentView for the API tests, without the HA agent: status from a
 * real PostgreSQL node (readNodeStatus), the cluster from a real etcd holding
 * Patroni-shaped keys that the test writes. Leadership is whatever the
 * `leader` key says at the last cluster() read.
 */
import { Etcd3 } from 'etcd3';
import pg from 'pg';
import type { AgentView, DcsSnapshot, FailoverOutcome, FailoverRequest, MemberData, NodeStatus } from '../../src/manager/agent-view';
import { readNodeStatus } from '../../src/manager/node-status';
import type { LocalNode } from '../support/cluster';

export class EtcdAgentView implements AgentView {
  readonly namespace = '/service';
  lastCycle = Date.now();
  ttl = 30;
  tags: Record<string, unknown> = {};
  readonly requests: Array<{ kind: string; req: FailoverRequest }> = [];
  #leader: string | undefined;
  #pool: pg.Pool | undefined;

  constructor(
    readonly name: string,
    readonly scope: string,
    readonly etcd: Etcd3,
    readonly node: LocalNode,
  ) {}

  get prefix(): string {
    return `${this.namespace}/${this.scope}/`;
  }

  isLeader(): boolean {
    return this.#leader === this.name;
  }
  lastCycleAt(): number {
    return this.lastCycle;
  }
  ttlSeconds(): number {
    return this.ttl;
  }

  async status(): Promise<NodeStatus> {
    if (!this.#pool) {
      this.#pool = new pg.Pool({ host: this.node.server.host, port: this.node.server.port, user: 'postgres', database: 'postgres', max: 2 });
      this.#pool.on('error', () => {});
    }
    return readNodeStatus(this.#pool, { name: this.name, scope: this.scope, tags: this.tags, dcsLastSeen: Math.floor(Date.now() / 1000) });
  }

  async cluster(): Promise<DcsSnapshot> {
    const res = await this.etcd.getAll().prefix(this.prefix).exec();
    const kv = new Map(res.kvs.map((x) => [x.key.toString().slice(this.prefix.length), x.value.toString()]));
    const mod = new Map(res.kvs.map((x) => [x.key.toString().slice(this.prefix.length), String(x.mod_revision)]));
    const rev = (k: string) => mod.get(k) ?? '0';
    const json = <T>(k: string): T | undefined => {
      const v = kv.get(k);
      if (v === undefined) return undefined;
      try {
        return JSON.parse(v) as T;
      } catch {
        return undefined;
      }
    };
    const members: Array<{ name: string; data: MemberData }> = [];
    for (const [k] of kv) {
      if (!k.startsWith('members/')) continue;
      const data = json<MemberData>(k);
      if (data) members.push({ name: k.slice('members/'.length), data });
    }
    this.#leader = kv.get('leader');
    return {
      leader: this.#leader,
      members,
      config: json<Record<string, unknown>>('config') ?? {},
      initialize: kv.get('initialize'),
      sync: json('sync'),
      failover: json('failover'),
      history: json<unknown[]>('history') ?? [],
      status: json('status'),
      revision: res.header.revision,
      revisions: { config: rev('config'), failover: rev('failover'), sync: rev('sync'), history: rev('history'), initialize: rev('initialize') },
    };
  }

  /** Validates like Patroni's is_failover_possible and writes the `failover` key. */
  async requestFailover(kind: 'switchover' | 'failover', req: FailoverRequest): Promise<FailoverOutcome> {
    this.requests.push({ kind, req });
    const snap = await this.cluster();
    if (req.leader && req.leader !== snap.leader) return { status: 412, message: 'leader name does not match' };
    if (req.candidate && !snap.members.some((m) => m.name === req.candidate)) return { status: 412, message: 'candidate does not exists' };
    await this.etcd.put(`${this.prefix}failover`).value(JSON.stringify({ leader: req.leader, member: req.candidate, ...(req.scheduled_at ? { scheduled_at: req.scheduled_at } : {}) }));
    if (req.scheduled_at) return { status: 202, message: `${kind[0]!.toUpperCase()}${kind.slice(1)} scheduled` };
    return { status: 200, message: `Successfully ${kind === 'switchover' ? 'switched' : 'failed'} over to "${req.candidate ?? '?'}"` };
  }

  async close(): Promise<void> {
    await this.#pool?.end().catch(() => {});
    this.#pool = undefined;
  }
}
