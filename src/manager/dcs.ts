/**
 * The manager's view of etcd, in Patroni's key layout under
 * `/<namespace>/<scope>/` (see PATRONI-CONTRACT.md):
 *
 * - one lease per manager (TTL = `ttl`), kept alive explicitly once per HA
 *   cycle ({@link Dcs.keepalive}); `leader` and `members/<name>` ride on it;
 * - `leader` is taken only with a transaction `create_revision == 0 → put`
 *   (never etcd3's Election helper), renewed and released only while its value
 *   is our name (compare-and-set on the value);
 * - `initialize`, `config`, `status`, `history`, `failover` carry no lease.
 *
 * Every unary call has a deadline. The time at which the last successful
 * keepalive was *sent* is tracked ({@link Dcs.lastKeepaliveOkAt}): etcd
 * received it no earlier, so the lease lives at least until that time + ttl.
 * The leader fences itself on its own clock from it, never on etcd3's late
 * `lost` event.
 */
import { hide } from '../secrets';
import { Etcd3, type Lease, type Watcher, type IOptions } from 'etcd3';
import createDebug from 'debug';
import { FailoverError } from '../errors';
import type { DcsSnapshot, MemberData } from './agent-view';
import { etcdFaultHandling } from '../etcd-fault-handling';
import type { DcsStore, SyncKeyValue } from './dcs-store';
import { parseFailsafeKey } from './failsafe';
import { DEFAULT_NAMESPACE, PATRONI_KEYS, memberNameOfKey, patroniPrefix } from '../patroni-contract';

const debug = createDebug('pg-failover:manager:dcs');

/** How to reach etcd and where the cluster lives in it. */
export interface DcsOptions {
  /** etcd endpoints, `host:port` or full URLs. */
  hosts: string[];
  protocol?: 'http' | 'https';
  /** Patroni namespace with leading slash, no trailing slash. Default `/service`. */
  namespace?: string;
  scope: string;
  /** This member's name. */
  name: string;
  /** Lease TTL in seconds (Patroni's `ttl`). */
  ttlSeconds: number;
  /** Deadline of each unary etcd call. Default 2000 ms. */
  callTimeoutMillis?: number;
  auth?: { username: string; password: string };
  /** Extra etcd3 client options (TLS …). */
  clientOptions?: Partial<IOptions>;
}

/** Keys relative to the cluster prefix (Patroni's names, from the shared contract). */
export const KEYS = PATRONI_KEYS;

/** etcd as the HA agent uses it. All methods throw {@link FailoverError} `DCS_ERROR` when etcd cannot be reached. */
export class Dcs implements DcsStore {
  readonly prefix: string;
  readonly name: string;
  readonly client: Etcd3;
  #ttlSeconds: number;
  #callTimeoutMillis: number;
  #hostCount = 1;
  #lease: Lease | undefined;
  #leaseId: string | undefined;
  #leaseTtlSeconds: number | undefined;
  #lastKeepaliveOkAt = 0;
  #lastContactAt = 0;
  #memberJson: string | undefined;
  #memberLease: string | undefined;
  #watcher: Watcher | undefined;
  #watchClosed = false;
  #closed = false;

  constructor(options: DcsOptions) {
    this.prefix = patroniPrefix(options.namespace ?? DEFAULT_NAMESPACE, options.scope);
    this.name = options.name;
    this.#ttlSeconds = options.ttlSeconds;
    this.#callTimeoutMillis = options.callTimeoutMillis ?? 2000;
    const protocol = options.protocol ?? 'http';
    const hosts = options.hosts.map((h) => (/^[a-z]+:\/\//.test(h) ? h : `${protocol}://${h}`));
    this.#hostCount = hosts.length;
    const timeout = this.#callTimeoutMillis;
    this.client = new Etcd3({
      hosts,
      ...(options.auth ? { auth: options.auth } : {}),
      dialTimeout: timeout,
      // One attempt's share of the bound: etcd3's retry moves on to the next member within it.
      defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + this.#plan().millis }),
      faultHandling: etcdFaultHandling({ skipAfterFailures: hosts.length > 1 ? 1 : 3 }),
      ...options.clientOptions,
    });
    // the etcd3 client keeps its options (auth password, TLS key): never shown by util.inspect / JSON.stringify of a Dcs or an Agent
    hide(this, 'client');
  }

  /** Lease TTL in seconds. */
  get ttlSeconds(): number {
    return this.#ttlSeconds;
  }

  /** Date.now() when the last successful keepalive (or grant) was sent; 0 before the first. */
  get lastKeepaliveOkAt(): number {
    return this.#lastKeepaliveOkAt;
  }

  /** Date.now() of the last successful etcd call of any kind (Patroni's `dcs_last_seen`). */
  get lastContactAt(): number {
    return this.#lastContactAt;
  }

  /** The current lease ID, once granted. */
  get leaseId(): string | undefined {
    return this.#leaseId;
  }

  /**
   * Renews this manager's lease, granting a new one when there is none or etcd
   * says it expired (then the member key is re-published by the next
   * {@link touchMember}). Returns true when the lease is alive now.
   */
  async keepalive(): Promise<boolean> {
    const sentAt = Date.now();
    try {
      if (!this.#lease || this.#lease.revoked()) {
        await this.#grant();
        this.#lastKeepaliveOkAt = sentAt;
        return true;
      }
      const res = await this.#keepaliveOnce(this.#lease);
      if (res.TTL === '0') throw new Error('lease expired');
      this.#lastKeepaliveOkAt = sentAt;
      this.#lastContactAt = Date.now();
      return true;
    } catch (e) {
      if (isLeaseGone(e)) {
        debug('%s: lease %s is gone; granting a new one', this.name, this.#leaseId);
        this.#dropLease();
        try {
          await this.#grant();
          this.#lastKeepaliveOkAt = sentAt;
          return true;
        } catch (e2) {
          debug('%s: lease grant failed: %s', this.name, errorText(e2));
          return false;
        }
      }
      debug('%s: keepalive failed: %s', this.name, errorText(e));
      return false;
    }
  }

  /**
   * One keepalive, on one member per attempt (each picked at random; a member that just failed is
   * skipped): a silent member costs one attempt's share of the bound, not the whole bound.
   */
  async #keepaliveOnce(lease: Lease): Promise<{ TTL: string }> {
    const { attempts, millis } = this.#plan();
    const deadline = Date.now() + this.#callTimeoutMillis;
    for (let i = 1; ; i++) {
      try {
        return await this.#call(lease.keepaliveOnce({ deadline: Date.now() + Math.min(millis, Math.max(1, deadline - Date.now())) }));
      } catch (e) {
        if (i >= attempts || isLeaseGone(e) || Date.now() >= deadline) throw e;
        debug('%s: keepalive attempt %d failed, trying another member: %s', this.name, i, errorText(e));
      }
    }
  }

  #plan(): { attempts: number; millis: number } {
    return attemptPlan(this.#callTimeoutMillis, this.#hostCount);
  }

  /**
   * Changes the deadline of each unary call (the dynamic configuration changed `retry_timeout`):
   * a primary must find etcd unreachable within the new bound, not the one it started with.
   */
  setCallTimeout(millis: number): void {
    this.#callTimeoutMillis = millis;
  }

  /** TTL in seconds of the lease in use; undefined before the first grant. */
  get leaseTtlSeconds(): number | undefined {
    return this.#leaseTtlSeconds;
  }

  /**
   * Changes the lease TTL (after `config` changed `ttl`). Like Patroni's etcd3 `set_ttl`, the current
   * lease is dropped (not revoked: its keys stay until moved), so the next keepalive grants one with
   * the new TTL and the leader and member keys are re-put on it in the same cycle: a dead leader is
   * then replaced after the new ttl, not the old one.
   */
  setTtl(ttlSeconds: number): void {
    if (ttlSeconds === this.#ttlSeconds) return;
    this.#ttlSeconds = ttlSeconds;
    if (this.#lease) {
      debug('%s: ttl changed to %d s: a new lease replaces %s', this.name, ttlSeconds, this.#leaseId);
      this.#dropLease();
    }
  }

  async #grant(): Promise<void> {
    const lease = this.client.lease(this.#ttlSeconds, { autoKeepAlive: false });
    lease.on('lost', () => {}); // we track expiry ourselves
    try {
      this.#leaseId = await this.#call(lease.grant());
    } catch (e) {
      lease.release();
      throw e;
    }
    this.#lease = lease;
    this.#leaseTtlSeconds = this.#ttlSeconds;
    this.#memberLease = undefined;
    this.#lastContactAt = Date.now();
    debug('%s: granted lease %s ttl %d', this.name, this.#leaseId, this.#ttlSeconds);
  }

  #dropLease(): void {
    this.#lease?.release();
    this.#lease = undefined;
    this.#leaseId = undefined;
    this.#memberLease = undefined;
  }

  /** Reads every key under the prefix in one range request. */
  async snapshot(): Promise<DcsSnapshot> {
    const res = await this.#call(this.client.getAll().prefix(this.prefix).exec());
    this.#lastContactAt = Date.now();
    const kv = new Map(res.kvs.map((x) => [x.key.toString().slice(this.prefix.length), x.value.toString()]));
    const mod = new Map(res.kvs.map((x) => [x.key.toString().slice(this.prefix.length), String(x.mod_revision)]));
    const rev = (k: string) => mod.get(k) ?? '0';
    const members: DcsSnapshot['members'] = [];
    for (const [k, v] of kv) {
      const name = memberNameOfKey(k);
      if (name === undefined) continue;
      const data = parseJson<MemberData>(v);
      if (data && typeof data === 'object') members.push({ name, data });
    }
    members.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const failover = parseJson<DcsSnapshot['failover']>(kv.get(KEYS.failover));
    return {
      leader: kv.get(KEYS.leader) || undefined,
      members,
      config: parseJson<Record<string, unknown>>(kv.get(KEYS.config)) ?? {},
      initialize: kv.get(KEYS.initialize),
      sync: parseJson(kv.get(KEYS.sync)),
      failover: failover && (failover.leader || failover.member) ? failover : undefined,
      history: parseJson<unknown[]>(kv.get(KEYS.history)) ?? [],
      status: parseJson(kv.get(KEYS.status)),
      failsafe: parseFailsafeKey(kv.get(KEYS.failsafe)),
      revision: res.header.revision,
      revisions: { config: rev(KEYS.config), failover: rev(KEYS.failover), sync: rev(KEYS.sync), history: rev(KEYS.history), initialize: rev(KEYS.initialize), failsafe: rev(KEYS.failsafe) },
    };
  }

  /** Takes the `leader` key if nobody holds it: txn `create_revision == 0 → put(name, lease)`. */
  async attemptToAcquireLeader(): Promise<boolean> {
    const lease = await this.#requireLease();
    const key = this.prefix + KEYS.leader;
    const res = await this.#call(this.client.if(key, 'Create', '==', 0).then(this.client.put(key).value(this.name).lease(lease)).commit());
    this.#lastContactAt = Date.now();
    debug('%s: acquire leader → %s', this.name, res.succeeded);
    return res.succeeded;
  }

  /**
   * Renews the `leader` key: re-puts it on our current lease only while its
   * value is our name. False when someone else holds it or it is gone.
   */
  async updateLeader(): Promise<boolean> {
    // The key is kept only on a lease just renewed (Patroni's _update_leader forces the refresh):
    // a key found on a lease that etcd expires a moment later is not kept. Without this, a leader
    // back from an etcd cut found its key still there, started PostgreSQL as primary, and lost the
    // key to the lease's expiry 0.5 s later — a writable primary with no leader key, open to a race.
    // etcd not answering the renewal is an unreachable DCS (the agent's failsafe / fence path),
    // never "the key is lost": that would demote by another path (Patroni's #3572/#3687 pitfalls).
    if (!(await this.keepalive())) throw new FailoverError('DCS_ERROR', `etcd: the lease of ${this.name} could not be renewed`);
    const lease = await this.#requireLease();
    const key = this.prefix + KEYS.leader;
    // Ours and on our current lease: the lease keepalive is the renewal, nothing to write (like
    // Patroni). Rewriting it every cycle would wake every watcher — our own loop included.
    const same = await this.#call(this.client.if(key, 'Value', '==', this.name).and(key, 'Lease', '==', lease).commit());
    this.#lastContactAt = Date.now();
    if (same.succeeded) return true;
    // Ours on an older lease (re-granted after an etcd hiccup): move it to the current one.
    const res = await this.#call(this.client.if(key, 'Value', '==', this.name).then(this.client.put(key).value(this.name).lease(lease)).commit());
    this.#lastContactAt = Date.now();
    return res.succeeded;
  }

  /** Deletes the `leader` key if (and only if) its value is our name. */
  async releaseLeader(): Promise<boolean> {
    const key = this.prefix + KEYS.leader;
    const res = await this.#call(this.client.if(key, 'Value', '==', this.name).then(this.client.delete().key(key)).commit());
    this.#lastContactAt = Date.now();
    debug('%s: release leader → %s', this.name, res.succeeded);
    return res.succeeded;
  }

  /** Publishes `members/<name>` on our lease when its content or the lease changed. */
  async touchMember(data: MemberData): Promise<void> {
    const json = JSON.stringify(data);
    const lease = await this.#requireLease();
    if (json === this.#memberJson && this.#memberLease === lease) return;
    await this.#call(this.client.put(this.prefix + KEYS.member(this.name)).value(json).lease(lease).exec());
    this.#lastContactAt = Date.now();
    this.#memberJson = json;
    this.#memberLease = lease;
  }

  /** Deletes our member key (clean shutdown). */
  async deleteMember(): Promise<void> {
    await this.#call(this.client.delete().key(this.prefix + KEYS.member(this.name)).exec());
    this.#memberJson = undefined;
  }

  /** The bootstrap race: creates `initialize` with `value` if absent. True for the winner. */
  async raceInitialize(value = ''): Promise<boolean> {
    return this.#createIfAbsent(KEYS.initialize, value);
  }

  /** Sets `initialize` to the system identifier (after initdb), only if it is still empty. */
  async setInitialize(systemIdentifier: string): Promise<boolean> {
    const key = this.prefix + KEYS.initialize;
    const res = await this.#call(this.client.if(key, 'Value', '==', '').then(this.client.put(key).value(systemIdentifier)).commit());
    return res.succeeded;
  }

  /** Deletes `initialize` if its value is still `expected` (a failed bootstrap gives the race back). */
  async cancelInitialize(expected = ''): Promise<boolean> {
    const key = this.prefix + KEYS.initialize;
    const res = await this.#call(this.client.if(key, 'Value', '==', expected).then(this.client.delete().key(key)).commit());
    return res.succeeded;
  }

  /** Writes the dynamic configuration if there is none yet. */
  async initializeConfig(config: Record<string, unknown>): Promise<boolean> {
    return this.#createIfAbsent(KEYS.config, JSON.stringify(config));
  }

  /**
   * Writes `status` (`{optime, …}`) only while `leader` holds our name (txn `value(leader) == me → put`):
   * a demoted leader's late write cannot overwrite its successor's optime. Returns false when not leader.
   */
  async setStatus(status: { optime: number; [k: string]: unknown }): Promise<boolean> {
    const leader = this.prefix + KEYS.leader;
    const res = await this.#call(this.client.if(leader, 'Value', '==', this.name).then(this.client.put(this.prefix + KEYS.status).value(JSON.stringify(status))).commit());
    this.#lastContactAt = Date.now();
    return res.succeeded;
  }

  /**
   * Writes `failsafe` (`{member: api_url}`, failsafe mode) only while `leader` holds our name and the key
   * is unchanged since `expected` (its mod_revision; '0' = absent): a demoted leader cannot overwrite
   * its successor's topology, nor a stale cycle a newer one.
   */
  async setFailsafe(topology: Record<string, string>, expected: string): Promise<boolean> {
    const leader = this.prefix + KEYS.leader;
    const key = this.prefix + KEYS.failsafe;
    const txn = this.client.if(leader, 'Value', '==', this.name);
    const cmp = expected === '0' ? txn.and(key, 'Create', '==', 0) : txn.and(key, 'Mod', '==', expected);
    const res = await this.#call(cmp.then(this.client.put(key).value(JSON.stringify(topology))).commit());
    this.#lastContactAt = Date.now();
    if (!res.succeeded) debug('%s: failsafe key not written: not the leader, or the key changed since revision %s', this.name, expected);
    return res.succeeded;
  }

  /** Writes `history` (the whole list) if it is unchanged since `expected` (its mod_revision; '0' = absent). */
  async setHistory(history: unknown[], expected: string): Promise<boolean> {
    return this.compareAndSet(KEYS.history, JSON.stringify(history), expected);
  }

  /** Writes a switchover/failover request into `failover` if unchanged since `expected`. */
  async setFailover(req: { leader?: string; member?: string; scheduled_at?: string }, expected: string): Promise<boolean> {
    return this.compareAndSet(KEYS.failover, JSON.stringify(req), expected);
  }

  /** Writes `sync` as Patroni 4 does (`{leader, quorum, sync_standby}`), synchronous mode, if unchanged since `expected`. */
  async setSync(value: SyncKeyValue, expected: string): Promise<boolean> {
    return this.compareAndSet(KEYS.sync, JSON.stringify({ leader: value.leader, quorum: value.quorum ?? 0, sync_standby: value.sync_standby }), expected);
  }

  /** Writes the dynamic configuration if unchanged since `expected` (PATCH/PUT /config, patronictl edit-config). */
  async setConfig(config: Record<string, unknown>, expected: string): Promise<boolean> {
    return this.compareAndSet(KEYS.config, JSON.stringify(config), expected);
  }

  /** Deletes `sync` (synchronous mode switched off), if unchanged since `expected`. */
  async deleteSync(expected: string): Promise<boolean> {
    const key = this.prefix + KEYS.sync;
    const res = await this.#call(this.client.if(key, 'Mod', '==', expected).then(this.client.delete().key(key)).commit());
    this.#lastContactAt = Date.now();
    return res.succeeded;
  }

  /**
   * Clears `failover` the way Patroni 3 leaves it (`{}`), only if it is still the request read at
   * `expected`: a stale clear cannot erase a newer request.
   */
  async clearFailover(expected: string): Promise<boolean> {
    return this.compareAndSet(KEYS.failover, '{}', expected);
  }

  /**
   * The one compare-and-set primitive: txn `mod_revision(key) == expected → put`, or
   * `create_revision(key) == 0 → put` when `expected` is '0'. Returns whether it was written.
   */
  async compareAndSet(rel: string, value: string, expected: string): Promise<boolean> {
    const key = this.prefix + rel;
    const cmp = expected === '0' ? this.client.if(key, 'Create', '==', 0) : this.client.if(key, 'Mod', '==', expected);
    const res = await this.#call(cmp.then(this.client.put(key).value(value)).commit());
    this.#lastContactAt = Date.now();
    if (!res.succeeded) debug('compare-and-set of %s at revision %s lost: the key changed', rel, expected);
    return res.succeeded;
  }

  /**
   * Watches the whole prefix and calls `onChange` on every put/delete. A
   * server-side cancel (compaction …) or stream error re-creates the watch
   * after a short delay; the caller re-reads a snapshot on each call anyway.
   */
  async watch(onChange: (key: string, kind: 'put' | 'delete', value: string) => void): Promise<void> {
    this.#watchClosed = false;
    const start = async (): Promise<void> => {
      if (this.#watchClosed || this.#closed) return;
      try {
        const watcher = await this.client.watch().prefix(this.prefix).create();
        if (this.#watchClosed || this.#closed) {
          watcher.removeAllListeners();
          watcher.on('error', () => {});
          await watcher.cancel().catch(() => {});
          return;
        }
        this.#watcher = watcher;
        watcher.on('put', (kv) => onChange(kv.key.toString().slice(this.prefix.length), 'put', kv.value.toString()));
        watcher.on('delete', (kv) => onChange(kv.key.toString().slice(this.prefix.length), 'delete', ''));
        watcher.on('error', (e) => {
          debug('%s: watch error %s; re-watching', this.name, errorText(e));
          this.#watcher = undefined;
          watcher.removeAllListeners();
          watcher.on('error', () => {}); // a dropped watcher must not crash the process with a late 'error'
          void watcher.cancel().catch(() => {});
          setTimeout(() => void start(), 500).unref();
        });
      } catch (e) {
        debug('%s: watch failed %s; retrying', this.name, errorText(e));
        setTimeout(() => void start(), 1000).unref();
      }
    };
    await start();
  }

  /**
   * Ends everything. `release: true` revokes the lease (our `leader` and member
   * keys vanish at once, like a clean Patroni shutdown); `false` just stops
   * talking, so the keys expire with the TTL (like a crashed manager).
   */
  async close(options: { release?: boolean } = {}): Promise<void> {
    if (this.#closed) return;
    this.#watchClosed = true;
    const watcher = this.#watcher;
    this.#watcher = undefined;
    if (watcher) await withTimeout(watcher.cancel(), 1000).catch(() => {});
    if (options.release && this.#lease) await withTimeout(this.#lease.revoke({ deadline: Date.now() + this.#callTimeoutMillis }), this.#callTimeoutMillis).catch(() => {});
    else this.#lease?.release();
    this.#closed = true;
    this.client.close();
  }

  async #requireLease(): Promise<string> {
    if (!this.#leaseId) {
      if (!(await this.keepalive()) || !this.#leaseId) throw new FailoverError('DCS_ERROR', `etcd: no lease for member ${this.name}`);
    }
    return this.#leaseId;
  }

  async #createIfAbsent(rel: string, value: string): Promise<boolean> {
    const key = this.prefix + rel;
    const res = await this.#call(this.client.if(key, 'Create', '==', 0).then(this.client.put(key).value(value)).commit());
    this.#lastContactAt = Date.now();
    return res.succeeded;
  }

  /** Bounds a call by the deadline (streams and dial retries included) and types its failure. */
  async #call<T>(p: Promise<T>): Promise<T> {
    try {
      return await withTimeout(p, this.#callTimeoutMillis + 250);
    } catch (e) {
      if (e instanceof FailoverError) throw e;
      if (isLeaseGone(e)) this.#dropLease();
      throw new FailoverError('DCS_ERROR', `etcd request failed: ${errorText(e)}`, { cause: e });
    }
  }
}

/**
 * How a call's bound is shared among etcd members, as Patroni's etcd client does
 * (`_calculate_timeouts`): up to one attempt per member, each at least 1 s; a single member
 * (or a bound under 2 s) gets one attempt with the whole bound.
 */
export function attemptPlan(callTimeoutMillis: number, members: number): { attempts: number; millis: number } {
  let n = Math.max(1, Math.floor(members));
  while (n > 1 && callTimeoutMillis / n < 1000) n--;
  return { attempts: n, millis: Math.floor(callTimeoutMillis / n) };
}

function isLeaseGone(e: unknown): boolean {
  const cause = e instanceof FailoverError ? e.cause : e;
  const text = errorText(cause);
  return /lease expired|requested lease not found|EtcdLeaseInvalidError/i.test(text) || (cause as { name?: string } | undefined)?.name === 'EtcdLeaseInvalidError';
}

function errorText(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}

function parseJson<T>(v: string | undefined): T | undefined {
  if (v === undefined || v === '') return undefined;
  try {
    return JSON.parse(v) as T;
  } catch {
    return undefined;
  }
}

function withTimeout<T>(p: Promise<T>, millis: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new FailoverError('DCS_ERROR', `etcd request timed out after ${millis} ms`)), millis);
    t.unref();
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e) => {
        clearTimeout(t);
        reject(e);
      },
    );
  });
}
