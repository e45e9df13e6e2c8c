/**
 * The import substitution for the vendored node-postgres tests: which module
 * each `require()` in them gets. pg → pg-failover (with instance tracking so
 * fire-and-forget tests can be awaited), pg-pool's `require('../')` →
 * pg-failover's Pool, mocha/suite → the vitest adapter, expect.js/co/lodash →
 * local shims. Everything else is Node's require.
 */
import path from 'node:path';
import { it as vit, beforeAll as vbeforeAll, afterAll as vafterAll } from 'vitest';
import { createRequire } from 'node:module';
import * as failover from '../../../src/index';
import { VendoredLoader, NOT_SUBSTITUTED } from './loader';
import { MochaAdapter, type AdapterOptions } from './mocha';
import { expectJs, co, lodash } from './shims';

export const VENDOR_DIR = path.resolve(__dirname, '../../vendor/node-postgres');
const PG_LIB = path.join(VENDOR_DIR, 'pg/lib');
const POOL_ROOT = path.join(VENDOR_DIR, 'pg-pool');
const nodeRequire = createRequire(__filename);

/** Clients and pools the vendored tests create, so a test that does not signal completion can be awaited. */
export class Tracker {
  readonly open = new Set<{ settled(): boolean }>();

  /** Resolves when every tracked client/pool was ended (or never used), or after `maxMillis`. */
  async settle(maxMillis = 5000): Promise<void> {
    const deadline = Date.now() + maxMillis;
    while (Date.now() < deadline) {
      for (const o of this.open) if (o.settled()) this.open.delete(o);
      if (this.open.size === 0) return;
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** pg-failover's module as the tests see it (`require('pg')`), with tracked Client and Pool. */
  module(): Record<string, unknown> {
    const tracker = this;
    class Client extends failover.Client {
      #state: 'new' | 'open' | 'closed' = 'new';
      constructor(...args: ConstructorParameters<typeof failover.Client>) {
        super(...args);
        tracker.open.add({ settled: () => this.#state !== 'open' });
        this.once('end', () => (this.#state = 'closed'));
      }
      override connect(...args: unknown[]): any {
        this.#state = 'open';
        const p = (super.connect as unknown as () => Promise<unknown>).call(this);
        p.catch(() => (this.#state = 'closed'));
        const cb = args[0] as ((e: Error | null) => void) | undefined;
        if (typeof cb !== 'function') return p;
        p.then(() => cb(null), (e) => cb(e));
      }
    }
    class Pool extends failover.Pool {
      constructor(...args: ConstructorParameters<typeof failover.Pool>) {
        super(...args);
        tracker.open.add({ settled: () => this.ended || (this.totalCount === 0 && this.waitingCount === 0) });
      }
    }
    return { ...failover, Client, Pool };
  }
}

/**
 * Upstream runs every file in its own process. So each file gets the
 * process.env / pg.defaults it left behind while loading (module-level code
 * like configuration-tests clears PG* vars) only while its own tests run;
 * before and after, everyone else's are restored.
 */
export function isolatedLoad(load: () => void): void {
  const live = nodeRequire('pg').defaults as Record<string, unknown>;
  const snap = () => ({ env: { ...process.env }, defaults: { ...live } });
  const apply = (s: { env: NodeJS.ProcessEnv; defaults: Record<string, unknown> }) => {
    for (const k of Object.keys(process.env)) if (!(k in s.env)) delete process.env[k];
    Object.assign(process.env, s.env);
    for (const k of Object.keys(live)) if (!(k in s.defaults)) delete live[k];
    Object.assign(live, s.defaults);
  };
  const before = snap();
  try {
    load();
  } finally {
    const after = snap();
    apply(before);
    let outside = before;
    vbeforeAll(() => {
      outside = snap();
      apply(after);
    });
    vafterAll(() => apply(outside));
  }
}

export interface VendoredEnv {
  adapter: MochaAdapter;
  tracker: Tracker;
  /** Loads a vendored file (path relative to test/vendor/node-postgres). */
  load(relative: string): unknown;
  /** Loads a vendored file while tests are being collected; a load error becomes a failing test. */
  loadSuite(relative: string, titlePrefix?: string): void;
}

/** Makes the loader, adapter and substitutions for one vitest file. */
export function vendoredEnv(options: Omit<AdapterOptions, 'settle'> & { settleMillis?: number }): VendoredEnv {
  const tracker = new Tracker();
  // DROPIN_CONTROL=1: run the same files against the real pg / pg-pool (to tell our bugs from the machine's timing).
  const pg = process.env.DROPIN_CONTROL === '1' ? (nodeRequire('pg') as Record<string, unknown>) : tracker.module();
  const adapter = new MochaAdapter({ ...options, settle: () => tracker.settle(options.settleMillis ?? 5000) });
  const mocha = adapter.api;
  const quietProcess = new Proxy(process, {
    get(target, key) {
      if (key === 'on' || key === 'once') {
        return (event: string, listener: (...a: unknown[]) => void) => {
          // test-helper's uncaughtException → process.exit and its 'exit' printer would end the worker.
          if (event === 'uncaughtException' || event === 'exit') return quietProcess;
          target[key](event as never, listener as never);
          return quietProcess;
        };
      }
      if (key === 'stdout') return { write: () => true };
      const v = Reflect.get(target, key);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
  const loader = new VendoredLoader({
    globals: { ...mocha, test: mocha.it },
    process: quietProcess,
    substitute(id, from) {
      switch (id) {
        case 'mocha':
          return mocha;
        case 'expect.js':
          return expectJs;
        case 'co':
          return co;
        case 'lodash':
          return lodash;
        case 'pg':
          return pg;
        case 'pg-cursor':
          return nodeRequire('pg-cursor');
      }
      if (!id.startsWith('.')) return NOT_SUBSTITUTED;
      const target = path.resolve(path.dirname(from), id).replace(/\/(index)?(\.js)?$/, '');
      if (target === POOL_ROOT) return pg.Pool; // pg-pool's tests: require('../')
      if (target === path.join(VENDOR_DIR, 'pg/test/suite')) return adapter.Suite;
      if (target === PG_LIB) return pg;
      if (target.startsWith(`${PG_LIB}/`)) return nodeRequire(`pg/lib/${path.relative(PG_LIB, target)}`);
      return NOT_SUBSTITUTED;
    },
  });
  return {
    adapter,
    tracker,
    load: (relative) => loader.load(path.join(VENDOR_DIR, relative)),
    loadSuite: (relative, titlePrefix) => {
      // Upstream runs every file in its own process: give each file a fresh process.env and pg.defaults.
      try {
        const load = () => void loader.load(path.join(VENDOR_DIR, relative));
        isolatedLoad(titlePrefix ? () => adapter.within(titlePrefix, load) : load);
      } catch (err) {
        // A file that fails while being collected is one failing test, not a lost run (and a leaked cluster).
        vit(`${relative} (loading the file)`, () => {
          throw err;
        });
      }
    },
  };
}
