/**
 * The lease keeper: the one owner of this manager's etcd lease. It alone sends keepalives
 * (the HA cycle's renewal when due, the heartbeat under long actions, the bootstrap's), adds
 * the renewal jitter, and runs the fencing watchdog that stops a primary on its own clock
 * before its lease can expire (no two writable primaries).
 *
 * Timing is read on each use from {@link LeaseKeeperOptions.timing} (the dynamic
 * configuration may change `ttl`/`loop_wait` between cycles); the clock and the random
 * source are injectable, so every rule here is unit-tested without a server.
 */

/** What the keeper needs of the DCS: the keepalive and what it last achieved. */
export interface LeaseStore {
  /** Renews (or re-grants) the lease; true when it is alive now. */
  keepalive(): Promise<boolean>;
  /** Clock time the last successful keepalive was sent (0 before the first). */
  readonly lastKeepaliveOkAt: number;
  /** TTL in seconds of the live lease (undefined before the first grant). */
  readonly leaseTtlSeconds: number | undefined;
}

/** The dynamic settings the keeper's rules use, in seconds. */
export interface LeaseTiming {
  ttl: number;
  loopWait: number;
  retryTimeout: number;
}

/** What the fencing watchdog must know of the node at each tick. */
export interface FenceGuard {
  /** This node runs as a primary (and the agent is running): the only case that can need fencing. */
  primary: boolean;
  /** This node holds the leader key (then an overdue renewal is sent from the watchdog too). */
  holdsLock: boolean;
  /**
   * DCS failsafe mode: when the last round in which every member accepted this primary started
   * (ms). The members honour it for `ttl` from then, as etcd honours a renewal: the fence counts
   * from the later of the two.
   */
  failsafeConfirmedAt?: number | undefined;
}

/** Options of {@link LeaseKeeper}. */
export interface LeaseKeeperOptions {
  store: LeaseStore;
  timing: () => LeaseTiming;
  /** The node as the watchdog sees it at each tick. */
  guard: () => FenceGuard;
  /** The watchdog decided to fence: the agent stops PostgreSQL at once. Called once per decision. */
  onFence: (info: { leaseAgeMillis: number; limitMillis: number }) => void;
  /** Clock (default Date.now); must be the clock the store stamps lastKeepaliveOkAt with. */
  now?: () => number;
  /** Random source in [0, 1) for the jitter (default Math.random). */
  random?: () => number;
}

/** A renewal is due when the last one is at least loop_wait minus this old (timer jitter). */
export const LEASE_RENEW_SLACK_MILLIS = 250;
/**
 * Plus a random 0…this after each renewal: etcd checks lease expiry on a 500 ms tick, and a
 * renewal period that is a whole multiple of it would keep one phase against that tick all
 * along (a dead leader's key then goes a constant 0–500 ms after its lease ends, for the whole
 * life of the leader); the jitter spreads it, as a drifting loop does.
 */
export const LEASE_RENEW_JITTER_MILLIS = 400;

/** The owner of the lease: keepalive, jitter, heartbeat and the fencing watchdog. */
export class LeaseKeeper {
  readonly #o: LeaseKeeperOptions;
  readonly #now: () => number;
  readonly #random: () => number;
  #renewing: Promise<boolean> | undefined;
  #jitterMillis = 0;
  #watchdog: NodeJS.Timeout | undefined;

  constructor(options: LeaseKeeperOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
    this.#random = options.random ?? Math.random;
  }

  /** This renewal period's random part, in [0, LEASE_RENEW_JITTER_MILLIS). */
  get jitterMillis(): number {
    return this.#jitterMillis;
  }

  /** True while a keepalive is in flight. */
  get renewing(): boolean {
    return this.#renewing !== undefined;
  }

  /** Milliseconds since the last successful keepalive was sent. */
  leaseAgeMillis(): number {
    return this.#now() - this.#o.store.lastKeepaliveOkAt;
  }

  /** One keepalive at a time: a caller while one is in flight shares its answer. Re-rolls the jitter after each. */
  renew(): Promise<boolean> {
    this.#renewing ??= this.#o.store.keepalive().finally(() => {
      this.#renewing = undefined;
      this.#jitterMillis = this.#random() * LEASE_RENEW_JITTER_MILLIS;
    });
    return this.#renewing;
  }

  /**
   * True when the last successful renewal is (almost) loop_wait old, or there is no lease yet.
   * The HA cycle renews only when due, like Patroni (once per loop_wait): cycles woken early by
   * watch events do not refresh it, so a dead leader's key expires as soon as Patroni's would.
   */
  due(): boolean {
    const last = this.#o.store.lastKeepaliveOkAt;
    return !(last > 0) || this.#now() - last >= this.#o.timing().loopWait * 1000 - LEASE_RENEW_SLACK_MILLIS + this.#jitterMillis;
  }

  /**
   * How long after the last renewal a primary fences itself: `ttl - retry_timeout`
   * (≥ `loop_wait + retry_timeout` when Patroni's rule holds), with `ttl` the smaller of the
   * configured one and the live lease's (a `ttl` change applies to the next lease only).
   */
  fenceAfterMillis(): number {
    const { ttl: configured, retryTimeout, loopWait } = this.#o.timing();
    const ttl = Math.min(configured, this.#o.store.leaseTtlSeconds ?? configured);
    return Math.max(Math.min(ttl - retryTimeout, ttl - loopWait - 0.5), 1) * 1000;
  }

  /**
   * One watchdog tick. A leader renews when due even while its HA cycle is busy (a promotion, a
   * slow etcd read): the lease must not age towards the fence limit just because the next cycle
   * is a loop_wait away. A primary whose lease — or failsafe confirmation, whichever is later —
   * is older than {@link fenceAfterMillis} is fenced. Returns true when it fenced.
   */
  check(): boolean {
    const g = this.#o.guard();
    if (!g.primary) return false;
    if (g.holdsLock && this.due() && !this.#renewing) void this.renew().catch(() => false);
    const age = this.#now() - Math.max(this.#o.store.lastKeepaliveOkAt, g.failsafeConfirmedAt ?? 0);
    const limit = this.fenceAfterMillis();
    if (age <= limit) return false;
    this.#o.onFence({ leaseAgeMillis: age, limitMillis: limit });
    return true;
  }

  /** Starts the fencing watchdog (every `intervalMillis`, unref'd). */
  startWatchdog(intervalMillis: number): void {
    this.stopWatchdog();
    this.#watchdog = setInterval(() => this.check(), intervalMillis);
    this.#watchdog.unref();
  }

  /** Stops the fencing watchdog. */
  stopWatchdog(): void {
    if (this.#watchdog) clearInterval(this.#watchdog);
    this.#watchdog = undefined;
  }

  /**
   * Keeps the lease alive every `loop_wait` while a long action (initdb, pg_basebackup,
   * pg_rewind, promote) blocks the loop, so our keys do not expire under it.
   */
  async withHeartbeat<T>(fn: () => Promise<T>): Promise<T> {
    const timer = setInterval(() => void this.renew().catch(() => false), Math.max(200, this.#o.timing().loopWait * 1000));
    timer.unref();
    try {
      return await fn();
    } finally {
      clearInterval(timer);
    }
  }
}
