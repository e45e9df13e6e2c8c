/**
 * Promotion confirmation: a manager takes the leader key first and promotes
 * afterwards, and Patroni rewrites its member key (role → master) only at its
 * next HA loop, up to `loop_wait` seconds after the node already accepts
 * writes. While a source reports `promoting` (the leader key's holder, not
 * yet primary), this decorator asks that node itself every `intervalMillis`
 * whether it is still in recovery; as soon as it says no, the node is
 * reported as the primary. Never a node in recovery: the node's own answer
 * and the leader key must agree.
 */
import { EventEmitter } from 'node:events';
import createDebug from 'debug';
import { nodeKey, type Member, type Topology, type TopologyEvents, type TopologySource } from './topology';

const debug = createDebug('pg-failover:topology');

export interface PromotionWatchOptions {
  /** Resolves true when the node accepts writes (`pg_is_in_recovery()` is false). Rejections count as "not yet". */
  isWritable: (member: Member) => Promise<boolean>;
  /** Time between checks while a promotion is pending. Default 20 ms (only while one is pending). */
  intervalMillis?: number;
  /** Stop asking after this long for one promotion (the source's own update will come). Default 60 000 ms. */
  maxMillis?: number;
}

export class PromotionWatch extends EventEmitter implements TopologySource {
  readonly name: string;
  readonly #inner: TopologySource;
  readonly #options: PromotionWatchOptions;
  #current: Topology | undefined;
  /** `host:port` of the holder we are asking about, and when we started. */
  #pending: { key: string; since: number } | undefined;
  #confirmed: string | undefined;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(inner: TopologySource, options: PromotionWatchOptions) {
    super();
    this.#inner = inner;
    this.#options = options;
    this.name = inner.name;
    inner.on('change', (next) => this.#publish(next));
    inner.on('error', (err) => this.emit('error', err));
  }

  async start(): Promise<Topology> {
    const first = await this.#inner.start();
    this.#current = this.#derive(first);
    return this.#current;
  }

  current(): Topology | undefined {
    return this.#current;
  }

  refresh(reason: string): void {
    this.#inner.refresh(reason);
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#stop();
    await this.#inner.close();
  }

  override on<E extends keyof TopologyEvents>(event: E, listener: TopologyEvents[E]): this {
    return super.on(event, listener);
  }

  #publish(next: Topology): void {
    const previous = this.#current;
    this.#current = this.#derive(next);
    this.emit('change', this.#current, previous);
  }

  /** The source's value, with the promoting member as primary once it confirmed it accepts writes. */
  #derive(t: Topology): Topology {
    const holder = t.primary ? undefined : t.promoting;
    if (!holder) {
      this.#stop();
      this.#confirmed = undefined;
      return t;
    }
    const key = nodeKey(holder);
    if (this.#confirmed === key) {
      const primary: Member = { ...holder, role: 'primary' };
      return { ...t, primary, promoting: undefined, members: t.members.map((m) => (nodeKey(m) === key ? primary : m)) };
    }
    this.#confirmed = undefined;
    if (this.#pending?.key !== key) {
      debug('%s holds the leader key but is not primary yet (role %s, state %s): asking it', key, holder.role, holder.state);
      this.#stop();
      this.#pending = { key, since: Date.now() };
      this.#schedule(0);
    }
    return t;
  }

  #schedule(delay: number): void {
    if (this.#closed) return;
    this.#timer = setTimeout(() => void this.#check(), delay);
    this.#timer.unref();
  }

  async #check(): Promise<void> {
    this.#timer = undefined;
    const pending = this.#pending;
    const t = this.#inner.current();
    const holder = t && !t.primary ? t.promoting : undefined;
    if (!pending || !holder || nodeKey(holder) !== pending.key || this.#closed) return;
    let writable = false;
    const t0 = Date.now();
    try {
      writable = await this.#options.isWritable(holder);
    } catch (err) {
      writable = false;
      debug('%s: promotion check failed after %d ms: %s', pending.key, Date.now() - t0, (err as Error).message);
    }
    if (debug.enabled && !writable) debug('%s holds the leader key, still in recovery (%d ms check)', pending.key, Date.now() - t0);
    if (this.#pending !== pending || this.#closed) return;
    if (writable) {
      debug('%s holds the leader key and accepts writes: primary before its member key says so', pending.key);
      this.#pending = undefined;
      this.#confirmed = pending.key;
      const now = this.#inner.current();
      if (now) this.#publish(now);
      return;
    }
    if (Date.now() - pending.since < (this.#options.maxMillis ?? 60_000)) this.#schedule(this.#options.intervalMillis ?? 20);
  }

  #stop(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#pending = undefined;
  }
}
