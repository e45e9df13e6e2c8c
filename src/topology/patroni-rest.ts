/**
 * Topology from Patroni's REST API: `GET <url>/cluster` on any member (every
 * member answers for the whole cluster), polled every `intervalMillis`.
 *
 * A URL that fails (network error, timeout, HTTP status other than 200,
 * a body that is not Patroni's JSON) is reported as an `error` event with
 * code `TOPOLOGY_SOURCE` (`detail.reason` says which failure) and the next
 * URL is tried at once; the source sticks to the URL that answered last.
 * Members' own `api_url`s are learnt and tried after the configured URLs,
 * so the source survives the loss of every configured member but one it
 * has heard of. The last good value is kept while nothing answers.
 */
import { EventEmitter } from 'node:events';
import createDebug from 'debug';
import { FailoverError } from '../errors';
import { topologyFromCluster, topologySignature } from './patroni-members';
import type { Topology, TopologySource } from './topology';
import { isCertificateError, loadRestTls, restAgents, restRequest, type RestAgents, type RestTlsOptions } from './rest-request';
import { PATRONI_API_PATHS } from '../patroni-contract';

const debug = createDebug('pg-failover:topology');

/** Largest `/cluster` body accepted (a real one is a few hundred bytes per member). */
const MAX_BODY_BYTES = 1 << 20;

export interface PatroniRestTopologyOptions {
  /** Patroni REST API base URLs, e.g. `['http://10.0.0.1:8008']`. */
  urls: string[];
  /** Poll interval. Default 1000 ms. */
  intervalMillis?: number;
  /** Bound on one request, body included. Default 1000 ms. */
  timeoutMillis?: number;
  /** Also try the members' `api_url`s when the configured URLs fail. Default true. */
  discoverMembers?: boolean;
  /**
   * For `https://` URLs (Patroni's `restapi.certfile` set): the CA file to verify the API with, a client
   * certificate for `verify_client`, or `rejectUnauthorized: false` (patronictl's `--insecure`).
   */
  tls?: RestTlsOptions;
}

/** Why one `/cluster` request failed, in `FailoverError.detail.reason`. */
export type PatroniRestFailure = 'network' | 'timeout' | 'tls' | 'http-status' | 'invalid-json' | 'wrong-shape' | 'too-large';

/** `http://h:8008/patroni` or `http://h:8008/` → `http://h:8008`; undefined for non-http(s) text. */
export function apiBase(url: string): string | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return undefined;
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return undefined;
  const path = u.pathname.replace(/\/+$/, '');
  const base = path.endsWith(PATRONI_API_PATHS.patroni) ? path.slice(0, -PATRONI_API_PATHS.patroni.length) : path;
  return `${u.protocol}//${u.host}${base}`;
}

/** Topology source polling Patroni's `GET /cluster`. */
export class PatroniRestTopology extends EventEmitter implements TopologySource {
  readonly name = 'patroni-rest';
  readonly #configured: string[];
  readonly #intervalMillis: number;
  readonly #timeoutMillis: number;
  readonly #discover: boolean;
  readonly #agents: RestAgents;
  #discovered: string[] = [];
  #index = 0;
  #current: Topology | undefined;
  #signature = '';
  #stale = true;
  #lastUrl: string | undefined;
  #polling: Promise<Topology> | undefined;
  #again = false;
  #timer: NodeJS.Timeout | undefined;
  readonly #inflight = new Set<AbortController>();
  #closed = false;

  constructor(options: PatroniRestTopologyOptions) {
    super();
    const urls = Array.isArray(options.urls) ? options.urls.map((u) => ({ u, base: apiBase(u) })) : [];
    const bad = urls.find((x) => !x.base);
    if (bad) throw new FailoverError('INVALID_OPTION', `Patroni REST URL ${JSON.stringify(redact(bad.u))} is not an http(s) URL`);
    if (!urls.length) throw new FailoverError('INVALID_OPTION', 'Patroni REST topology needs at least one URL, e.g. ["http://127.0.0.1:8008"]');
    this.#configured = [...new Set(urls.map((x) => x.base!))];
    this.#intervalMillis = positive(options.intervalMillis, 1000, 'intervalMillis');
    this.#timeoutMillis = positive(options.timeoutMillis, 1000, 'timeoutMillis');
    this.#discover = options.discoverMembers ?? true;
    this.#agents = restAgents(loadRestTls(options.tls, 'topology.tls'));
  }

  /** True while the last value may be out of date (the last poll reached no URL). */
  get stale(): boolean {
    return this.#stale;
  }

  /** The base URL that answered last. */
  get lastUrl(): string | undefined {
    return this.#lastUrl;
  }

  current(): Topology | undefined {
    return this.#current;
  }

  /**
   * Polls once and starts the interval. Resolves with the first topology; when
   * no URL answers, rejects with the last `TOPOLOGY_SOURCE` error and keeps polling.
   */
  async start(): Promise<Topology> {
    if (this.#closed) throw new FailoverError('POOL_ENDED', 'Patroni REST topology is closed');
    try {
      return await this.#poll('start');
    } finally {
      this.#schedule();
    }
  }

  /** Polls now (coalesced with a poll under way). */
  refresh(reason: string): void {
    if (this.#closed) return;
    debug('patroni-rest refresh: %s', reason);
    void this.#poll(reason).then(
      () => this.#schedule(),
      () => this.#schedule(),
    );
  }

  /** Stops the timer and aborts requests under way. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const c of this.#inflight) c.abort();
    await this.#polling?.catch(() => {});
    this.#agents.destroy();
  }

  #schedule(): void {
    if (this.#closed) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.refresh('poll interval'), this.#intervalMillis);
    this.#timer.unref();
  }

  #poll(reason: string): Promise<Topology> {
    if (this.#polling) {
      this.#again = true;
      return this.#polling;
    }
    this.#polling = (async () => {
      try {
        let t: Topology;
        do {
          this.#again = false;
          t = await this.#pollOnce(reason);
        } while (this.#again && !this.#closed);
        return t;
      } finally {
        this.#polling = undefined;
      }
    })();
    return this.#polling;
  }

  /** Tries the URLs in rotation, from the one that answered last, until one gives a valid `/cluster`. */
  async #pollOnce(reason: string): Promise<Topology> {
    const urls = [...this.#configured, ...this.#discovered.filter((u) => !this.#configured.includes(u))];
    let last: FailoverError | undefined;
    for (let i = 0; i < urls.length && !this.#closed; i++) {
      const index = (this.#index + i) % urls.length;
      const base = urls[index];
      try {
        const body = await this.#get(base);
        const parsed = topologyFromCluster(body);
        if (typeof parsed === 'string') throw failure('wrong-shape', base, parsed);
        for (const s of parsed.skipped) debug('patroni-rest %s: skipped %s', base, s);
        this.#index = index;
        this.#lastUrl = base;
        this.#stale = false;
        this.#learn(body);
        return this.#publish(parsed.topology);
      } catch (err) {
        last = err instanceof FailoverError ? err : failure('network', base, (err as Error).message, err);
        if (this.#closed) break;
        this.#emitError(last);
      }
    }
    // Nobody answered: move on next time, keep the last value.
    this.#index = (this.#index + 1) % Math.max(1, urls.length);
    this.#stale = true;
    throw last ?? new FailoverError('POOL_ENDED', 'Patroni REST topology is closed');
  }

  async #get(base: string): Promise<unknown> {
    const controller = new AbortController();
    this.#inflight.add(controller);
    const timer = setTimeout(() => controller.abort(), this.#timeoutMillis);
    timer.unref();
    try {
      let res: { status: number; text: string };
      try {
        res = await restRequest(`${base}${PATRONI_API_PATHS.cluster}`, { signal: controller.signal, headers: { accept: 'application/json' }, agents: this.#agents, maxBytes: MAX_BODY_BYTES });
      } catch (err) {
        if (err instanceof FailoverError) throw failure('too-large', base, err.message);
        if (isCertificateError(err)) throw failure('tls', base, `the server's certificate is not trusted (${(err as { code?: string }).code}): give its CA in tls.caFile`, err);
        throw controller.signal.aborted && !this.#closed
          ? failure('timeout', base, `no answer within ${this.#timeoutMillis} ms`, err)
          : failure('network', base, (err as Error).message, err);
      }
      const text = res.text;
      if (res.status !== 200) throw failure('http-status', base, `HTTP ${res.status}`, undefined, { status: res.status });
      try {
        return JSON.parse(text) as unknown;
      } catch (err) {
        throw failure('invalid-json', base, `body is not JSON (${JSON.stringify(text.slice(0, 40))}…)`, err);
      }
    } finally {
      clearTimeout(timer);
      this.#inflight.delete(controller);
    }
  }

  /** Remembers the members' REST URLs (their `api_url`), to try when the configured ones fail. */
  #learn(body: unknown): void {
    if (!this.#discover) return;
    const members = (body as { members?: unknown }).members;
    if (!Array.isArray(members)) return;
    const found: string[] = [];
    for (const m of members) {
      const url = typeof m === 'object' && m !== null ? (m as { api_url?: unknown }).api_url : undefined;
      const base = typeof url === 'string' ? apiBase(url) : undefined;
      if (base && !found.includes(base)) found.push(base);
    }
    this.#discovered = found;
  }

  #publish(t: Topology): Topology {
    const previous = this.#current;
    this.#current = t;
    const signature = topologySignature(t);
    if (signature !== this.#signature) {
      this.#signature = signature;
      debug('patroni-rest topology from %s: primary=%s members=%s', this.#lastUrl, t.primary?.name ?? 'none', signature);
      this.emit('change', t, previous);
    }
    return t;
  }

  #emitError(err: Error): void {
    debug('patroni-rest: %s', err.message);
    if (this.listenerCount('error')) this.emit('error', err);
  }
}

function failure(reason: PatroniRestFailure, base: string, message: string, cause?: unknown, extra: Record<string, unknown> = {}): FailoverError {
  const url = redact(`${base}${PATRONI_API_PATHS.cluster}`);
  return new FailoverError('TOPOLOGY_SOURCE', `GET ${url} failed: ${message}`, { cause, detail: { reason, url, ...extra } });
}

/** A URL without its password, for messages. */
function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString().replace(/\/$/, '');
  } catch {
    return url.replace(/\/\/[^@/]*@/, '//***@');
  }
}

function positive(v: number | undefined, fallback: number, name: string): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new FailoverError('INVALID_OPTION', `${name} must be a positive number of milliseconds`);
  return v;
}
