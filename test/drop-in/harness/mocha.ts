/**
 * mocha's test API (describe/it/before/after/beforeEach/afterEach, done
 * callbacks, promises, `this.timeout()` as a no-op) and pg's own runner
 * (`new Suite().test(name, fn)`) mapped onto vitest. Like mocha, an uncaught
 * exception or unhandled rejection while a test runs fails that test.
 * Tests named in the skip list are registered as skipped, with their reason.
 */
import { describe as vdescribe, it as vit, beforeAll, afterAll, beforeEach, afterEach } from 'vitest';

type MochaFn = ((this: unknown, done: (err?: unknown) => void) => unknown) | ((this: unknown) => unknown);

export interface AdapterOptions {
  /** Full test title (describe path + name, space-joined, as mocha's fullTitle) → reason. */
  skips: Readonly<Record<string, string>>;
  /** Per-test timeout. */
  timeoutMillis: number;
  /** Awaited after a test whose body returned without a promise or done callback (fire-and-forget style). */
  settle?: () => Promise<void>;
}

/** Counts shown at the end of a run: what ran, what the skip list skipped, what upstream marks pending. */
export const tally = { registered: 0, skipped: 0, pendingUpstream: 0, skippedNames: [] as string[] };

export class MochaAdapter {
  readonly #path: string[] = [];
  readonly #usedSkips = new Set<string>();
  #running = false;
  readonly #nested: Array<{ name: string; fn: MochaFn }> = [];
  constructor(private readonly options: AdapterOptions) {}

  /** The object `require('mocha')` returns (and the globals mocha provides). */
  get api() {
    const describe = (name: string, fn: () => void) =>
      vdescribe(name, () => {
        this.#path.push(name);
        try {
          fn.call({ timeout() {}, slow() {}, retries() {} });
        } finally {
          this.#path.pop();
        }
      });
    describe.skip = (name: string, fn: () => void) => vdescribe.skip(name, fn);
    // Like mocha: it(title, fn); anything but a function as fn (e.g. `false`) makes the test pending.
    const it = (name: string, fn?: unknown) => this.test(name, typeof fn === 'function' ? (fn as MochaFn) : undefined);
    it.skip = (name: string) => this.test(name, undefined);
    const hook = (register: (f: () => Promise<void>, timeout?: number) => void) => (fn: MochaFn) => register(async () => void (await runMocha(fn, mochaContext())), this.options.timeoutMillis);
    return {
      describe,
      context: describe,
      it,
      specify: it,
      before: hook(beforeAll),
      after: hook(afterAll),
      beforeEach: hook(beforeEach),
      afterEach: hook(afterEach),
    };
  }

  /** pg's `Suite` class (test/suite.js), with the same `test(name, action)` contract. */
  get Suite() {
    const adapter = this;
    return class Suite {
      constructor(_name?: string) {}
      test(name: string, action?: MochaFn) {
        adapter.test(name, action);
      }
    };
  }

  /** Runs `collect` with `prefix` leading every full title registered in it (pg's files have no describe). */
  within(prefix: string, collect: () => void): void {
    this.#path.push(prefix);
    try {
      collect();
    } finally {
      this.#path.pop();
    }
  }

  /** Registers one test (skipped when listed, pending when upstream gave no function). */
  test(name: string, fn: MochaFn | undefined): void {
    const full = [...this.#path, name].join(' ');
    tally.registered++;
    if (!fn) {
      tally.pendingUpstream++;
      vit.skip(`${name} (pending upstream)`, () => {});
      return;
    }
    const reason = this.options.skips[full];
    if (reason !== undefined) {
      this.#usedSkips.add(full);
      tally.skipped++;
      tally.skippedNames.push(`${full} — ${reason}`);
      vit.skip(`${name} [SKIP: ${reason}]`, () => {});
      return;
    }
    if (this.#running) {
      // pg's runner accepts tests added while one runs (they run next): run them inside the current vitest test.
      this.#nested.push({ name: full, fn });
      return;
    }
    vit(
      name,
      async (ctx) => {
        this.#running = true;
        try {
          await runMocha(fn, { ...mochaContext(), skip: () => ctx.skip() }, this.options.settle);
          while (this.#nested.length) {
            const next = this.#nested.shift()!;
            const why = this.options.skips[next.name];
            if (why !== undefined) continue;
            await runMocha(next.fn, mochaContext(), this.options.settle);
          }
        } finally {
          this.#running = false;
          this.#nested.length = 0;
        }
      },
      this.options.timeoutMillis,
    );
  }

  /** Skip-list entries that matched no test (typos or tests that no longer exist). */
  unusedSkips(prefixes: readonly string[]): string[] {
    return Object.keys(this.options.skips).filter((k) => prefixes.some((p) => k.startsWith(p)) && !this.#usedSkips.has(k));
  }
}

function mochaContext() {
  return { timeout() {}, slow() {}, retries() {}, skip() {} };
}

/**
 * Runs a mocha-style function: with a `done` parameter, waits for it; else
 * awaits a returned promise. Uncaught errors during the run fail it (the
 * runner's own handlers are set aside meanwhile and restored after).
 */
export function runMocha(fn: MochaFn, ctx: object, settle?: () => Promise<void>): Promise<'done' | 'promise' | 'sync'> {
  const events = ['uncaughtException', 'unhandledRejection'] as const;
  const saved = events.map((e) => process.listeners(e as 'uncaughtException'));
  for (const e of events) process.removeAllListeners(e);
  let fail: (err: unknown) => void = () => {};
  const onError = (err: unknown) => fail(err);
  for (const e of events) process.on(e as 'uncaughtException', onError);
  const restore = () => {
    for (const e of events) process.removeListener(e as 'uncaughtException', onError);
    events.forEach((e, i) => saved[i].forEach((l) => process.on(e as 'uncaughtException', l as never)));
  };
  const p = new Promise<'done' | 'promise' | 'sync'>((resolve, reject) => {
    fail = (err) => reject(err instanceof Error ? err : new Error(`non-Error thrown: ${String(err)}`));
    try {
      if (fn.length >= 1) {
        let called = false;
        (fn as (this: unknown, d: (e?: unknown) => void) => unknown).call(ctx, (err?: unknown) => {
          if (called) return;
          called = true;
          if (err) fail(err);
          else resolve('done');
        });
      } else {
        const r = (fn as (this: unknown) => unknown).call(ctx) as { then?: unknown } | undefined;
        if (r && typeof r.then === 'function') (r as Promise<unknown>).then(() => resolve('promise'), fail);
        else if (settle) settle().then(() => resolve('sync'), fail);
        else resolve('sync');
      }
    } catch (e) {
      fail(e);
    }
  });
  return p.finally(restore);
}
