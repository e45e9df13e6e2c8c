/**
 * Falling back to probing when the configured source goes silent: an etcd or
 * Patroni REST source that has been unreachable (`stale`) for
 * `silentAfterMillis` is replaced by probing the connection string's hosts
 * (a node is primary only when it says it is not in recovery), with an
 * `error` event that says so; as soon as the source answers again, its view
 * is used and probing stops.
 */
import { EventEmitter } from 'node:events';
import createDebug from 'debug';
import { FailoverError } from '../errors';
import type { Topology, TopologyEvents, TopologySource } from './topology';

const debug = createDebug('pg-failover:topology');

export interface FallbackOptions {
  /** Builds the probing source (started on demand, closed when the main source is back). */
  probe: () => TopologySource;
  /** How long the main source must have been unreachable before probing takes over. Default 3000 ms. */
  silentAfterMillis?: number;
  /** How often the main source's health is looked at. Default 250 ms. */
  checkIntervalMillis?: number;
}

export class FallbackTopology extends EventEmitter implements TopologySource {
  readonly name: string;
  readonly #inner: TopologySource;
  readonly #options: FallbackOptions;
  #probe: TopologySource | undefined;
  #current: Topology | undefined;
  #silentSince: number | undefined;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(inner: TopologySource, options: FallbackOptions) {
    super();
    this.#inner = inner;
    this.#options = options;
    this.name = inner.name;
    inner.on('change', (next) => {
      if (!this.#probe) this.#set(next);
    });
    inner.on('error', (err) => this.emit('error', err));
  }

  /** True while probing stands in for the configured source. */
  get fallingBack(): boolean {
    return this.#probe !== undefined;
  }

  async start(): Promise<Topology> {
    this.#timer = setInterval(() => this.#check(), this.#options.checkIntervalMillis ?? 250);
    this.#timer.unref();
    try {
      this.#current = await this.#inner.start();
      return this.#current;
    } catch (err) {
      // Unreachable from the start: probe at once rather than wait with no topology at all.
      this.emit('error', err as Error);
      const t = await this.#activate(`${this.#inner.name} did not answer at start`);
      if (!t) throw err;
      return t;
    }
  }

  current(): Topology | undefined {
    return this.#current;
  }

  refresh(reason: string): void {
    this.#inner.refresh(reason);
    this.#probe?.refresh(reason);
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    const probe = this.#probe;
    this.#probe = undefined;
    await Promise.all([probe?.close(), this.#inner.close()]);
  }

  override on<E extends keyof TopologyEvents>(event: E, listener: TopologyEvents[E]): this {
    return super.on(event, listener);
  }

  #stale(): boolean {
    return (this.#inner as { stale?: boolean }).stale === true;
  }

  #check(): void {
    if (this.#closed) return;
    if (!this.#stale()) {
      this.#silentSince = undefined;
      if (this.#probe) this.#deactivate();
      return;
    }
    const now = Date.now();
    this.#silentSince ??= now;
    const silent = now - this.#silentSince;
    if (!this.#probe && silent >= (this.#options.silentAfterMillis ?? 3000)) void this.#activate(`${this.#inner.name} has been unreachable for ${silent} ms`);
  }

  async #activate(why: string): Promise<Topology | undefined> {
    if (this.#probe || this.#closed) return this.#current;
    const probe = this.#options.probe();
    this.#probe = probe;
    this.emit('error', new FailoverError('TOPOLOGY_SOURCE', `${why}: probing the connection string's hosts until it answers again`, { detail: { source: this.#inner.name } }));
    probe.on('change', (next) => {
      if (this.#probe === probe) this.#set(next);
    });
    probe.on('error', (err) => this.emit('error', err));
    try {
      const t = await probe.start();
      if (this.#probe === probe) this.#set(t);
      return t;
    } catch (err) {
      this.emit('error', err as Error);
      return undefined;
    }
  }

  #deactivate(): void {
    const probe = this.#probe;
    this.#probe = undefined;
    debug('%s answers again: probing stops', this.#inner.name);
    void probe?.close().catch(() => {});
    const t = this.#inner.current();
    if (t) this.#set(t);
  }

  #set(next: Topology): void {
    const previous = this.#current;
    this.#current = next;
    this.emit('change', next, previous);
  }
}
