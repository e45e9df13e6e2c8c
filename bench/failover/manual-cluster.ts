/**
 * `manual`: a LocalCluster (primary + standbys + etcd) where the benchmark
 * itself plays a Patroni-like manager. Each node's "manager" holds an etcd
 * lease (TTL = ttl) carrying `members/<name>`; the leader's also carries
 * `leader`. A dead or hung node's manager stops renewing its lease, so the
 * leader key expires after ttl like Patroni's; the manager then promotes the
 * most advanced standby, takes the key and re-points the others (reload, no
 * restart). Each node also answers a Patroni-shaped REST API (`/primary`,
 * `/replica`, `/cluster`, `/patroni`) from this state, so HAProxy and the REST
 * topology can run too. Timing is Patroni's shape, not its code: use the
 * `patroni` cluster for the real thing.
 */
import { createServer, type Server } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { Etcd3, type Lease } from 'etcd3';
import { LocalCluster, type LocalNode } from '../../src/local/cluster';
import { freePort } from '../../src/local/ports';
import { slotNameFor } from '../../src/manager/postgres';
import type { ApiNode, ClusterUnderTest, FaultKind } from './cluster-under-test';
import type { Endpoint } from './peers';
import { killWholeNode, signalWholeNode } from '../../src/manager/node-signals';

export interface ManualClusterOptions {
  standbys?: number;
  /** Leader lease TTL in seconds (Patroni's `ttl`). */
  ttl: number;
  /** Patroni's `loop_wait` in seconds (crash → restart delay). Default ttl/3. */
  loopWait?: number;
  scope?: string;
  parentDir?: string;
  log?: (line: string) => void;
}

interface NodeState {
  node: LocalNode;
  lease: Lease | undefined;
  api: Server | undefined;
  apiPort: number;
  /** Its manager is dead or stuck (lease not renewed, REST closed). */
  managerDown: boolean;
  frozen: boolean;
}

const NAMESPACE = '/service';

export class ManualCluster implements ClusterUnderTest {
  readonly manager = 'manual';
  readonly scope: string;
  readonly hosts: Endpoint[];
  readonly etcdHosts: string[];
  readonly apiUrls: string[];
  readonly apiNodes: ApiNode[];
  #leader: string;
  #etcd: Etcd3;
  #states = new Map<string, NodeState>();
  #pending: Promise<void> = Promise.resolve();
  #actionError: unknown;
  #stopped = false;

  private constructor(
    readonly local: LocalCluster,
    readonly options: ManualClusterOptions,
    states: NodeState[],
  ) {
    this.scope = options.scope ?? 'bench';
    for (const s of states) this.#states.set(s.node.name, s);
    this.hosts = states.map((s) => ({ host: s.node.server.host, port: s.node.server.port }));
    this.etcdHosts = local.etcd!.endpoints;
    this.apiUrls = states.map((s) => `http://127.0.0.1:${s.apiPort}`);
    this.apiNodes = states.map((s) => ({ name: s.node.name, host: s.node.server.host, port: s.node.server.port, apiPort: s.apiPort }));
    this.#leader = local.primary.name;
    this.#etcd = new Etcd3({ hosts: this.etcdHosts, defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + 2000 }) });
  }

  static async start(options: ManualClusterOptions): Promise<ManualCluster> {
    const local = await LocalCluster.start({ standbys: options.standbys ?? 2, etcd: true, parentDir: options.parentDir, log: options.log });
    const states: NodeState[] = [];
    for (const node of local.nodes) states.push({ node, lease: undefined, api: undefined, apiPort: await freePort(), managerDown: false, frozen: false });
    const c = new ManualCluster(local, options, states);
    try {
      for (const s of states) await c.#startManager(s);
      await c.#etcd.put(c.#key('leader')).value(c.#leader).lease(await c.#state(c.#leader).lease!.grant());
      await c.#etcd.put(c.#key('config')).value(JSON.stringify({ ttl: options.ttl, loop_wait: c.#loopWait() / 1000 }));
      return c;
    } catch (e) {
      await c.stop();
      throw e;
    }
  }

  connectionString(): string {
    return `postgresql://postgres@${this.hosts.map((h) => `${h.host}:${h.port}`).join(',')}/postgres`;
  }

  async primaryName(): Promise<string> {
    return this.#leader;
  }

  endpoint(node: string): Endpoint {
    const s = this.#state(node).node.server;
    return { host: s.host, port: s.port };
  }

  async fault(kind: FaultKind, node: string): Promise<void> {
    const s = this.#state(node);
    switch (kind) {
      case 'kill':
        await this.#kill9(s);
        this.#managerDies(s);
        this.#act(this.#failoverAfterExpiry(node));
        return;
      case 'hang':
        signalWholeNode(s.node.server.pid!, 'SIGSTOP');
        s.frozen = true;
        this.#managerDies(s); // its manager blocks on the frozen server: no renewal
        this.#act(this.#failoverAfterExpiry(node));
        return;
      case 'crash':
        await this.#kill9(s);
        // The manager still holds the key and restarts PostgreSQL in place on its next loop (Patroni's `recover`).
        this.#act(
          (async () => {
            await sleep(this.#loopWait());
            await s.node.server.start();
            await this.#putMember(s);
          })(),
        );
        return;
      case 'switchover':
        this.#act(this.#switchover(node));
        await this.#pending;
        return;
    }
  }

  async waitHealthy(timeoutMillis: number): Promise<void> {
    const deadline = Date.now() + timeoutMillis;
    await withDeadline(this.#pending, deadline, 'the manager action');
    if (this.#actionError) {
      const e = this.#actionError;
      this.#actionError = undefined;
      throw e;
    }
    const leader = this.#state(this.#leader);
    for (const s of this.#states.values()) {
      if (s === leader) continue;
      if (s.frozen) {
        signalWholeNode(s.node.server.pid!, 'SIGCONT');
        s.frozen = false;
      }
      const standby = s.node.server.isRunning() && (await s.node.server.isInRecovery().catch(() => false));
      if (!standby) {
        // An old primary (dead, thawed or cleanly stopped): rewind and follow the new one.
        if (s.node.server.isRunning()) await this.#kill9(s);
        await withDeadline(s.node.server.rewind(leader.node.server), deadline, `pg_rewind ${s.node.name}`);
        await this.#follow(s, false);
      }
      if (s.managerDown) await this.#startManager(s);
    }
    // Every standby streams from the leader.
    while (Date.now() < deadline) {
      const rows = await leader.node.server.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_stat_replication WHERE state = 'streaming'").catch(() => [{ n: 0 }]);
      if (rows[0]!.n >= this.#states.size - 1) return;
      await sleep(100);
    }
    throw new Error(`cluster not healthy within ${timeoutMillis} ms`);
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    await this.#pending.catch(() => {});
    for (const s of this.#states.values()) {
      if (s.frozen && s.node.server.pid) signalWholeNode(s.node.server.pid, 'SIGCONT');
      s.lease?.release();
      s.api?.close();
      s.api?.closeAllConnections();
    }
    this.#etcd.close();
    await this.local.stop();
  }

  /** A node death: every PostgreSQL process at once (see node-signals.ts), then the toolkit's bookkeeping. */
  async #kill9(s: NodeState): Promise<void> {
    const pid = s.node.server.pid;
    if (pid) await killWholeNode(pid);
    await s.node.server.kill9();
  }

  /** Runs a manager action in the background; its failure surfaces in waitHealthy. */
  #act(p: Promise<void>): void {
    this.#pending = p.catch((e) => {
      this.#actionError = e;
      this.options.log?.(`manager action failed: ${(e as Error).message}`);
    });
  }

  #state(name: string): NodeState {
    const s = this.#states.get(name);
    if (!s) throw new Error(`no node ${name}`);
    return s;
  }

  #key(k: string): string {
    return `${NAMESPACE}/${this.scope}/${k}`;
  }

  #loopWait(): number {
    return (this.options.loopWait ?? this.options.ttl / 3) * 1000;
  }

  /** A node's manager: lease + member key + REST API. */
  async #startManager(s: NodeState): Promise<void> {
    s.lease = this.#etcd.lease(this.options.ttl);
    s.lease.on('lost', () => {});
    await s.lease.grant();
    await this.#putMember(s);
    s.api = createServer((req, res) => this.#rest(s, req.method ?? 'GET', req.url ?? '/', res));
    await new Promise<void>((resolve, reject) => s.api!.once('error', reject).listen(s.apiPort, '127.0.0.1', () => resolve()));
    s.managerDown = false;
  }

  #managerDies(s: NodeState): void {
    s.lease?.release(); // no more keepalives: the lease (and the leader key on it) expires after ttl
    s.lease = undefined;
    s.api?.close();
    s.api?.closeAllConnections();
    s.api = undefined;
    s.managerDown = true;
  }

  async #putMember(s: NodeState, extra: Record<string, unknown> = {}): Promise<void> {
    if (!s.lease) return;
    const srv = s.node.server;
    const role = s.node.name === this.#leader ? 'master' : 'replica';
    await s.lease.put(this.#key(`members/${s.node.name}`)).value(
      JSON.stringify({
        conn_url: `postgres://${srv.host}:${srv.port}/postgres`,
        api_url: `http://127.0.0.1:${s.apiPort}/patroni`,
        state: 'running',
        role,
        version: '3.0.2',
        xlog_location: 0,
        timeline: 1,
        ...extra,
      }),
    );
  }

  /** Waits for the old leader's key to expire, then promotes the most advanced live standby. */
  async #failoverAfterExpiry(old: string): Promise<void> {
    const deadline = Date.now() + (this.options.ttl + 10) * 1000;
    while ((await this.#etcd.get(this.#key('leader')).string().catch(() => old)) === old) {
      if (Date.now() > deadline) throw new Error('leader key did not expire');
      await sleep(50);
    }
    const candidates = [...this.#states.values()].filter((s) => s.node.name !== old && !s.managerDown);
    let best: NodeState | undefined;
    let bestLsn = -1n;
    for (const s of candidates) {
      const [row] = await s.node.server.query<{ lsn: string }>("SELECT (pg_last_wal_receive_lsn() - '0/0')::text AS lsn").catch(() => [{ lsn: '-1' }]);
      const lsn = BigInt(row?.lsn ?? '-1');
      if (lsn > bestLsn) [best, bestLsn] = [s, lsn];
    }
    if (!best) throw new Error('no standby to promote');
    await this.#takeOver(best);
  }

  /** Takes the leader key, promotes, publishes the member as master, re-points the other live standbys. */
  async #takeOver(next: NodeState): Promise<void> {
    const won = await this.#etcd.if(this.#key('leader'), 'Create', '==', 0).then(this.#etcd.put(this.#key('leader')).value(next.node.name).lease(await next.lease!.grant())).commit();
    if (!won.succeeded) throw new Error('leader key taken');
    const previous = this.#leader;
    this.#leader = next.node.name;
    // pg_promote() returns once the server accepts writes (pg_ctl's -w polls at 100 ms); publish, then checkpoint for pg_rewind.
    await next.node.server.query('SELECT pg_promote(true, 60)');
    next.node.server.clearStandbyConfig();
    await this.#putMember(next, { timeline: 2 });
    await next.node.server.query('CHECKPOINT');
    for (const s of this.#states.values()) {
      if (s === next || s.node.name === previous || !s.node.server.isRunning()) continue;
      await this.#follow(s, true);
      await this.#putMember(s);
    }
  }

  /** Makes `s` a standby of the current leader: by reload when it runs, else by starting it. */
  async #follow(s: NodeState, reload: boolean): Promise<void> {
    const leader = this.#state(this.#leader).node.server;
    const slot = slotNameFor(s.node.name);
    await leader.query('SELECT pg_create_physical_replication_slot($1, true) WHERE NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1)', [slot]);
    s.node.server.writeStandbyConfig({ primaryConninfo: leader.conninfo(), slotName: slot, applicationName: s.node.name });
    if (reload && s.node.server.isRunning()) await s.node.server.query('SELECT pg_reload_conf()');
    else await s.node.server.start();
  }

  /** Patroni's switchover: shutdown checkpoint, wait until the candidate has it, release the key, candidate takes over. */
  async #switchover(old: string): Promise<void> {
    const o = this.#state(old);
    const candidate = [...this.#states.values()].find((s) => s !== o && !s.managerDown)!;
    await o.node.server.stop('fast');
    const [ctl] = await candidate.node.server.query<{ ok: boolean }>('SELECT 1 AS ok'); // candidate alive
    if (!ctl) throw new Error('candidate unreachable');
    await sleep(50); // the walsender sends the shutdown checkpoint before exiting; give the receiver its flush
    await this.#etcd.if(this.#key('leader'), 'Value', '==', old).then(this.#etcd.delete().key(this.#key('leader'))).commit();
    await this.#putMember(o, { state: 'stopped' });
    await this.#takeOver(candidate);
    // The old primary stopped cleanly and the candidate had all its WAL: it can follow without rewind.
    await this.#follow(o, false);
    await this.#putMember(o);
  }

  #rest(s: NodeState, method: string, url: string, res: import('node:http').ServerResponse): void {
    const path = url.split('?')[0]!;
    const isLeader = s.node.name === this.#leader && !s.frozen;
    const role = s.node.name === this.#leader ? 'master' : 'replica';
    let ok = true;
    if (['/', '/primary', '/master', '/leader', '/read-write'].includes(path)) ok = isLeader;
    else if (path === '/replica') ok = !isLeader && s.node.server.isRunning();
    const body =
      path === '/cluster'
        ? {
            scope: this.scope,
            members: [...this.#states.values()]
              .filter((m) => !m.managerDown)
              .map((m) => ({
                name: m.node.name,
                role: m.node.name === this.#leader ? 'leader' : 'replica',
                state: m.node.server.isRunning() ? (m.node.name === this.#leader ? 'running' : 'streaming') : 'stopped',
                api_url: `http://127.0.0.1:${m.apiPort}/patroni`,
                host: m.node.server.host,
                port: m.node.server.port,
                timeline: 1,
                lag: 0,
              }))
              .sort((a, b) => a.name.localeCompare(b.name)),
          }
        : { state: 'running', role, patroni: { version: '3.0.2', scope: this.scope, name: s.node.name } };
    res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' });
    res.end(method === 'GET' ? JSON.stringify(body) : undefined);
  }
}

async function withDeadline<T>(p: Promise<T>, deadline: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<T>((_, reject) => {
        t = setTimeout(() => reject(new Error(`${what} did not finish in time`)), Math.max(0, deadline - Date.now()));
      }),
    ]);
  } finally {
    clearTimeout(t);
  }
}
