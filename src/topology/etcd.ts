/**
 * Topology from Patroni's keys in etcd v3: `/<namespace>/<scope>/leader` (the
 * leader's member name) and `/<namespace>/<scope>/members/<name>` (JSON with
 * conn_url, role, state, xlog_location …), as Patroni 3.x/4.x and our manager
 * write them.
 *
 * One range read of the prefix, then a watch from that read's revision + 1,
 * so no change is missed; every watch batch recomputes the topology and emits
 * `change` within milliseconds of the key change. When etcd fails (watch
 * disconnected, read failed) the source emits `error`, keeps its last value
 * (and says so in {@link EtcdTopology.stale}), reconnects with a capped,
 * jittered backoff and, once etcd answers again, re-reads everything.
 */
import { EventEmitter } from 'node:events';
import createDebug from 'debug';
import type { Etcd3, IOptions, IKeyValue, Watcher } from 'etcd3';
import { etcd3 } from '../etcd3-lazy';
import { FailoverError } from '../errors';
import { within } from '../within';
import { parseEtcdMember, topologyFromEtcd, topologySignature, type ParsedMember } from './patroni-members';
import type { Topology, TopologySource } from './topology';
import { etcdFaultHandling } from '../etcd-fault-handling';
import { DEFAULT_NAMESPACE, PATRONI_KEYS, memberNameOfKey, patroniPrefix } from '../patroni-contract';

const debug = createDebug('pg-failover:topology');

export interface EtcdTopologyOptions {
  /** etcd endpoints, e.g. `['http://127.0.0.1:2379']`. */
  hosts: string[];
  /** Patroni's `scope` (cluster name). */
  scope: string;
  /** Patroni's `namespace`. Default `/service`. */
  namespace?: string;
  /** etcd user and password (never logged). */
  auth?: { username: string; password: string };
  /** TLS material for https endpoints. */
  tls?: { rootCertificate: Buffer; privateKey?: Buffer; certChain?: Buffer };
  /** Bound on opening a connection to an etcd host. Default 1000 ms. */
  dialTimeoutMillis?: number;
  /** Bound on one range read. Default 2000 ms. */
  requestTimeoutMillis?: number;
  /** First reconnect delay after etcd failed. Default 100 ms. */
  reconnectMinMillis?: number;
  /** Cap of the reconnect delay. Default 2000 ms. */
  reconnectMaxMillis?: number;
  /**
   * How often the watch is checked against a read of the prefix: a watch whose etcd member went
   * silent (frozen, cut off) delivers nothing until gRPC's keepalive gives up on it (up to 13 s),
   * while the other members already have a new leader. When the read names another leader than
   * the watch for {@link WATCH_CHECK_GRACE_MILLIS}, the read is taken as the source's state and the
   * watch re-opened. Default 1000 ms; 0 turns the check off.
   */
  watchCheckMillis?: number;
}

/** How long the check's read may disagree with the watch before the watch counts as silent (its event may be in flight). */
export const WATCH_CHECK_GRACE_MILLIS = 300;

/** The Patroni key prefix for a namespace and scope (kept here for existing importers). */
export { patroniPrefix };

interface Entry {
  value: string;
  modRevision: number;
}

/** Topology source watching Patroni's etcd v3 keys. */
export class EtcdTopology extends EventEmitter implements TopologySource {
  readonly name = 'etcd';
  /** The watched key prefix, e.g. `/service/demo/`. */
  readonly prefix: string;
  readonly #options: EtcdTopologyOptions;
  #client: Etcd3 | undefined;
  #watcher: Watcher | undefined;
  /** Keys relative to the prefix. */
  readonly #kvs = new Map<string, Entry>();
  /** Highest etcd revision reflected in #kvs. */
  #revision = 0;
  #current: Topology | undefined;
  #signature = '';
  #stale = true;
  #lastSyncAt: number | undefined;
  readonly #reportedBad = new Map<string, string>();
  /** Each member as last read from its key (the leader key may outlive it: see #build). */
  readonly #lastSeen = new Map<string, ParsedMember>();
  #syncing: Promise<Topology> | undefined;
  #again = false;
  #retryTimer: NodeJS.Timeout | undefined;
  #attempt = 0;
  #closed = false;
  #checkTimer: NodeJS.Timeout | undefined;
  #checking = false;
  /** The leader value a check read that the watch had not delivered yet, and since when. */
  #unseen: { value: string | undefined; since: number } | undefined;

  constructor(options: EtcdTopologyOptions) {
    super();
    if (!Array.isArray(options.hosts) || !options.hosts.length) {
      throw new FailoverError('INVALID_OPTION', 'etcd topology needs at least one endpoint, e.g. ["http://127.0.0.1:2379"]');
    }
    if (!options.scope || options.scope.includes('/')) {
      throw new FailoverError('INVALID_OPTION', 'etcd topology needs the Patroni scope (cluster name, without "/")');
    }
    this.#options = options;
    this.prefix = patroniPrefix(options.namespace ?? DEFAULT_NAMESPACE, options.scope);
  }

  /** True while the last value may be out of date (etcd unreachable, not yet re-read). */
  get stale(): boolean {
    return this.#stale;
  }

  /** Date.now() of the last successful full read of the prefix. */
  get lastSyncAt(): number | undefined {
    return this.#lastSyncAt;
  }

  current(): Topology | undefined {
    return this.#current;
  }

  /**
   * Reads the prefix and starts the watch. Resolves with the first topology;
   * rejects with a `TOPOLOGY_SOURCE` error when etcd cannot be read, and keeps
   * trying in the background (a later value arrives as a `change` event).
   */
  start(): Promise<Topology> {
    if (this.#closed) return Promise.reject(new FailoverError('POOL_ENDED', 'etcd topology is closed'));
    const every = this.#options.watchCheckMillis ?? 1000;
    if (every > 0 && !this.#checkTimer) {
      this.#checkTimer = setInterval(() => void this.#checkWatch(), every);
      this.#checkTimer.unref();
    }
    return this.#sync('start');
  }

  /** Re-reads the whole prefix now (the watch keeps running, or is re-established). */
  refresh(reason: string): void {
    if (this.#closed) return;
    debug('etcd refresh: %s', reason);
    if (this.#retryTimer) {
      // Waiting to reconnect: try now instead.
      clearTimeout(this.#retryTimer);
      this.#retryTimer = undefined;
    }
    this.#sync(reason).catch(() => {});
  }

  /** Cancels the watch and closes the etcd client. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#checkTimer) clearInterval(this.#checkTimer);
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    await this.#drop();
    await this.#syncing?.catch(() => {});
  }

  #sync(reason: string): Promise<Topology> {
    if (this.#syncing) {
      this.#again = true;
      return this.#syncing;
    }
    this.#syncing = (async () => {
      try {
        let t: Topology;
        do {
          this.#again = false;
          t = await this.#readAndWatch(reason);
        } while (this.#again && !this.#closed);
        return t;
      } finally {
        this.#syncing = undefined;
      }
    })();
    this.#syncing.catch((err: unknown) => this.#failed(err));
    return this.#syncing;
  }

  async #readAndWatch(reason: string): Promise<Topology> {
    if (this.#closed) throw new FailoverError('POOL_ENDED', 'etcd topology is closed');
    const client = (this.#client ??= this.#newClient());
    let res;
    try {
      res = await client.getAll().prefix(this.prefix).exec();
    } catch (err) {
      throw new FailoverError('TOPOLOGY_SOURCE', `etcd read of ${this.prefix} failed (${reason}): ${(err as Error).message}`, {
        cause: err,
        detail: { prefix: this.prefix, hosts: this.#options.hosts },
      });
    }
    if (this.#closed) throw new FailoverError('POOL_ENDED', 'etcd topology is closed');
    if (client !== this.#client) throw new FailoverError('TOPOLOGY_SOURCE', `etcd connection was reset during a read of ${this.prefix}`);
    const revision = Number(res.header.revision);
    // While a watch runs, a snapshot older than what it already delivered adds nothing. Without one
    // (first read, reconnect) the snapshot is the truth, even if etcd was rebuilt with lower revisions.
    if (!this.#watcher || revision >= this.#revision) this.#take(res.kvs, revision);
    this.#stale = false;
    this.#lastSyncAt = Date.now();
    this.#attempt = 0;
    if (!this.#watcher) this.#watch(client, revision + 1);
    return this.#publish();
  }

  /**
   * Reads the prefix (waiting at most the check interval, at least 500 ms) and compares its leader key
   * with the watch's. A read that fails proves nothing (the member it went to may be the silent
   * one; the next check may go elsewhere). A leader the watch has not delivered after
   * WATCH_CHECK_GRACE_MILLIS means the watch's member went silent: the read is taken as the truth
   * at once, and the client and its watch are opened again (etcd3 runs all of a client's watches
   * on one stream).
   */
  async #checkWatch(): Promise<void> {
    const client = this.#client;
    if (this.#checking || this.#closed || !client || !this.#watcher || this.#syncing) return;
    this.#checking = true;
    try {
      const bound = Math.max(500, this.#options.watchCheckMillis ?? 1000);
      // Raced, with the client's own per-attempt deadline underneath: an absolute deadline for the
      // check would also bound etcd3's retry of it on another member, which then fails at once and
      // counts against that (live) member, until every member is skipped.
      const read = client.getAll().prefix(this.prefix).exec();
      read.catch(() => {});
      const res = await within(read, bound, () => new Error(`no answer within ${bound} ms`));
      if (client !== this.#client || this.#closed || this.#syncing) return;
      const value = res.kvs.find((kv) => this.#relative(kv.key) === PATRONI_KEYS.leader)?.value.toString();
      const known = this.#kvs.get(PATRONI_KEYS.leader)?.value;
      if (value === known) {
        this.#unseen = undefined;
        return;
      }
      const now = Date.now();
      if (!this.#unseen || this.#unseen.value !== value) {
        this.#unseen = { value, since: now };
        setTimeout(() => void this.#checkWatch(), WATCH_CHECK_GRACE_MILLIS).unref(); // look again once its event had time to arrive
        return;
      }
      if (now - this.#unseen.since < WATCH_CHECK_GRACE_MILLIS) return;
      this.#unseen = undefined;
      this.#take(res.kvs, Number(res.header.revision));
      this.#publish();
      this.#emitError(new FailoverError('TOPOLOGY_SOURCE', `etcd watch on ${this.prefix} went silent: etcd names leader ${value ?? '(none)'}, the watch still ${known ?? '(none)'}; read it and watching again`));
      await this.#drop();
      if (!this.#closed) this.#sync('watch went silent').catch(() => {});
    } catch {
      // this read's member did not answer in time: the next check may reach another
    } finally {
      this.#checking = false;
    }
  }

  /** A read of the whole prefix as the source's state: its keys and its revision. */
  #take(kvs: readonly IKeyValue[], revision: number): void {
    this.#kvs.clear();
    for (const kv of kvs) this.#kvs.set(this.#relative(kv.key), { value: kv.value.toString(), modRevision: Number(kv.mod_revision) });
    this.#revision = revision;
  }

  #newClient(): Etcd3 {
    const requestTimeout = this.#options.requestTimeoutMillis ?? 2000;
    const options: IOptions = {
      hosts: this.#options.hosts,
      dialTimeout: this.#options.dialTimeoutMillis ?? 1000,
      // Unary calls get a deadline; the watch stream must not.
      defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + requestTimeout }),
      // a member that failed a call is skipped for a second: the next read (the watch check's) goes to another
      faultHandling: etcdFaultHandling({ skipAfterFailures: 1 }),
      // Notice a silent (frozen, partitioned) etcd on the watch stream.
      grpcOptions: { 'grpc.keepalive_time_ms': 10_000, 'grpc.keepalive_timeout_ms': 3000, 'grpc.keepalive_permit_without_calls': 0 },
    };
    if (this.#options.auth) options.auth = { username: this.#options.auth.username, password: this.#options.auth.password };
    if (this.#options.tls) options.credentials = this.#options.tls;
    return new (etcd3().Etcd3)(options);
  }

  #watch(client: Etcd3, fromRevision: number): void {
    const watcher = client.watch().prefix(this.prefix).startRevision(String(fromRevision)).watcher();
    this.#watcher = watcher;
    watcher.on('data', (res) => {
      if (watcher !== this.#watcher || this.#closed) return;
      try {
        this.#apply(res.events ?? [], Number(res.header?.revision ?? 0));
      } catch (err) {
        // etcd3 rethrows listener errors asynchronously (a crash): never let one out.
        this.#emitError(new FailoverError('TOPOLOGY_SOURCE', `etcd watch update could not be applied: ${(err as Error).message}`, { cause: err }));
      }
    });
    watcher.on('connected', () => debug('etcd watch on %s connected from revision %d', this.prefix, fromRevision));
    const lost = (err: Error) => {
      if (watcher !== this.#watcher || this.#closed) return;
      this.#failed(err, 'watch');
    };
    watcher.on('disconnected', lost);
    watcher.on('error', lost);
  }

  #apply(events: ReadonlyArray<{ type: string | number; kv: IKeyValue }>, headerRevision: number): void {
    let changed = false;
    for (const ev of events) {
      const rev = Number(ev.kv.mod_revision);
      if (rev <= this.#revision) continue; // already in the snapshot
      const key = this.#relative(ev.kv.key);
      if (ev.type === 'Delete' || ev.type === 1) this.#kvs.delete(key);
      else this.#kvs.set(key, { value: ev.kv.value.toString(), modRevision: rev });
      this.#revision = rev;
      changed = true;
    }
    if (headerRevision > this.#revision && !events.length) this.#revision = headerRevision;
    if (changed) this.#publish();
  }

  #relative(key: Buffer): string {
    const k = key.toString();
    return k.startsWith(this.prefix) ? k.slice(this.prefix.length) : k;
  }

  #build(): Topology {
    const parsed: ParsedMember[] = [];
    const stillBad = new Set<string>();
    for (const [key, { value }] of this.#kvs) {
      const name = memberNameOfKey(key);
      if (name === undefined) continue;
      const p = parseEtcdMember(name, value);
      if (typeof p === 'string') {
        stillBad.add(key);
        if (this.#reportedBad.get(key) !== value) {
          this.#reportedBad.set(key, value);
          this.#emitError(new FailoverError('TOPOLOGY_SOURCE', `ignoring etcd key ${this.prefix}${key}: ${p}`, { detail: { key: `${this.prefix}${key}` } }));
        }
        continue;
      }
      parsed.push(p);
    }
    for (const key of [...this.#reportedBad.keys()]) if (!stillBad.has(key)) this.#reportedBad.delete(key);
    const leader = this.#kvs.get(PATRONI_KEYS.leader)?.value;
    for (const p of parsed) this.#lastSeen.set(p.member.name, p);
    if (leader && !parsed.some((p) => p.member.name === leader)) {
      // The leader key names a member whose own key is gone: a manager restarted in place moves its
      // leader key to its new lease at once, while the member key on the old lease expires before its
      // first HA loop writes it again (campaign, kill -9 of the primary's node: ~0.9 s with no primary,
      // the node taking writes all along). The holder, at its last known address, is then asked
      // itself, like a holder still promoting (promotion.ts): writes go there only once it says it is
      // out of recovery, and only while the key is its.
      const last = this.#lastSeen.get(leader);
      if (last) parsed.push({ member: { ...last.member, role: 'unknown', state: 'member key gone' } });
    }
    const t = topologyFromEtcd(parsed, leader ? leader : undefined, this.#optime());
    const pending = this.#switchover(leader);
    if (pending && t.primary) t.switchoverPending = pending;
    return t;
  }

  /** Patroni's `failover` key, when it asks for a switchover due now (not a scheduled one still in the future). */
  #switchover(leader: string | undefined): { candidate?: string } | undefined {
    const raw = this.#kvs.get(PATRONI_KEYS.failover)?.value;
    if (!raw || !leader) return undefined;
    try {
      const v = JSON.parse(raw) as { leader?: unknown; member?: unknown; scheduled_at?: unknown };
      if (typeof v !== 'object' || v === null) return undefined;
      // Patroni clears a finished switchover by writing `{}`: nothing pending.
      if (typeof v.leader !== 'string' && typeof v.member !== 'string') return undefined;
      // Already done (or aimed at another leader): the key may linger until a manager clears it.
      if (typeof v.leader === 'string' && v.leader !== leader) return undefined;
      if (v.member === leader) return undefined;
      if (typeof v.scheduled_at === 'string' && Date.parse(v.scheduled_at) > Date.now() + 1000) return undefined;
      return typeof v.member === 'string' ? { candidate: v.member } : {};
    } catch {
      return undefined;
    }
  }

  /** The leader's last WAL position from `status` (Patroni ≥ 2.1) or the older `optime/leader`. */
  #optime(): number | undefined {
    const status = this.#kvs.get(PATRONI_KEYS.status)?.value;
    if (status) {
      try {
        const o = (JSON.parse(status) as { optime?: unknown }).optime;
        if (typeof o === 'number' && Number.isSafeInteger(o) && o > 0) return o;
      } catch {
        /* not JSON: ignore */
      }
    }
    const old = Number(this.#kvs.get(PATRONI_KEYS.optimeLeader)?.value);
    return Number.isSafeInteger(old) && old > 0 ? old : undefined;
  }

  #publish(): Topology {
    const t = this.#build();
    const previous = this.#current;
    this.#current = t;
    const signature = topologySignature(t);
    if (signature !== this.#signature) {
      this.#signature = signature;
      debug('etcd topology (rev %d): primary=%s members=%s', this.#revision, t.primary?.name ?? 'none', signature);
      this.emit('change', t, previous);
    }
    return t;
  }

  /** etcd failed (read or watch): report, drop the client, try again after a backoff. Keeps the last value. */
  #failed(err: unknown, what = 'read'): void {
    if (this.#closed) return;
    if (!(err instanceof FailoverError && err.code === 'POOL_ENDED')) {
      this.#stale = true;
      const e =
        err instanceof FailoverError
          ? err
          : new FailoverError('TOPOLOGY_SOURCE', `etcd ${what} on ${this.prefix} failed: ${(err as Error)?.message ?? String(err)}`, {
              cause: err,
              detail: { prefix: this.prefix, hosts: this.#options.hosts },
            });
      this.#emitError(e);
    }
    void this.#drop();
    this.#scheduleRetry();
  }

  #scheduleRetry(): void {
    if (this.#closed || this.#retryTimer) return;
    const min = this.#options.reconnectMinMillis ?? 100;
    const max = this.#options.reconnectMaxMillis ?? 2000;
    const base = Math.min(max, min * 2 ** Math.min(this.#attempt, 20));
    this.#attempt++;
    const wait = Math.round(base / 2 + Math.random() * (base / 2));
    debug('etcd reconnect in %d ms (attempt %d)', wait, this.#attempt);
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      this.#sync('reconnect').catch(() => {});
    }, wait);
    this.#retryTimer.unref();
  }

  /** Cancels the watcher and closes the client (a fresh client per reconnect also resets etcd3's circuit breaker). */
  async #drop(): Promise<void> {
    const watcher = this.#watcher;
    const client = this.#client;
    this.#watcher = undefined;
    this.#client = undefined;
    if (watcher) {
      watcher.removeAllListeners('data');
      watcher.on('error', () => {});
      watcher.on('disconnected', () => {});
      // A cancel on a dead stream may never be acknowledged: bound it.
      await Promise.race([watcher.cancel().catch(() => {}), new Promise((r) => setTimeout(r, 200).unref())]);
    }
    client?.close();
  }

  #emitError(err: Error): void {
    debug('etcd: %s', err.message);
    if (this.listenerCount('error')) this.emit('error', err);
  }
}
