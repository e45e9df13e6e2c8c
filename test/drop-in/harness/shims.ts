/**
 * Minimal stand-ins for the three helper libraries the vendored tests use
 * (expect.js, co, lodash), covering exactly what those tests call, so that
 * no test-only dependency is added to the project.
 */
import assert, { AssertionError } from 'node:assert';
import { inspect } from 'node:util';

/** expect.js's chainable API: to.be / equal / eql / be.a(n) / be.ok / have.length / contain / greaterThan, and .not. */
export function expectJs(actual: unknown): any {
  return assertion(actual, false);
}

function assertion(actual: any, negate: boolean): any {
  const check = (ok: boolean, what: string) => {
    if (ok === negate) throw new AssertionError({ message: `expected ${inspect(actual, { depth: 2 })} ${negate ? 'not ' : ''}${what}` });
  };
  const be: any = (expected: unknown) => check(actual === expected, `to be ${inspect(expected)}`);
  be.ok = () => check(Boolean(actual), 'to be truthy');
  be.a = be.an = (type: unknown) =>
    check(
      typeof type === 'function' ? actual instanceof type : type === 'array' ? Array.isArray(actual) : type === 'object' ? typeof actual === 'object' && actual !== null : typeof actual === type,
      `to be a ${typeof type === 'function' ? (type as { name: string }).name : String(type)}`,
    );
  be.greaterThan = be.above = (n: number) => check(actual > n, `to be above ${n}`);
  be.lessThan = be.below = (n: number) => check(actual < n, `to be below ${n}`);
  be.empty = () => check((actual?.length ?? Object.keys(actual).length) === 0, 'to be empty');
  const to: any = {
    be,
    equal: be,
    eql: (expected: unknown) => {
      let ok = true;
      try {
        assert.deepEqual(actual, expected);
      } catch {
        ok = false;
      }
      check(ok, `to sort of equal ${inspect(expected, { depth: 2 })}`);
    },
    contain: (item: unknown) => check(actual.indexOf(item) !== -1, `to contain ${inspect(item)}`),
    have: {
      length: (n: number) => check(actual.length === n, `to have a length of ${n} (got ${actual?.length})`),
      property: (name: string, value?: unknown) => check(actual != null && name in Object(actual) && (value === undefined || actual[name] === value), `to have property ${name}`),
    },
    throwException: (matcher?: unknown) => {
      let threw = false;
      try {
        actual();
      } catch (e) {
        threw = true;
        if (typeof matcher === 'function') (matcher as (e: unknown) => void)(e);
      }
      check(threw, 'to throw an exception');
    },
  };
  to.throwError = to.throwException;
  Object.defineProperty(to, 'not', { get: () => assertion(actual, !negate).to });
  const self: any = { to, be, equal: be, eql: to.eql };
  Object.defineProperty(self, 'not', { get: () => assertion(actual, !negate) });
  return self;
}

/** co: runs a generator, resolving yielded promises (and arrays of them). */
export function co(gen: (...a: unknown[]) => Generator<unknown, unknown, unknown>, ...args: unknown[]): Promise<unknown> {
  const it = gen(...args);
  const toPromise = (v: unknown): Promise<unknown> => {
    if (Array.isArray(v)) return Promise.all(v.map(toPromise));
    if (typeof v === 'function') return new Promise((res, rej) => (v as (cb: (e: unknown, r?: unknown) => void) => void)((e, r) => (e ? rej(e) : res(r))));
    return Promise.resolve(v);
  };
  return new Promise((resolve, reject) => {
    const step = (kind: 'next' | 'throw', value?: unknown) => {
      let r: IteratorResult<unknown>;
      try {
        r = kind === 'next' ? it.next(value) : it.throw(value);
      } catch (e) {
        return reject(e);
      }
      if (r.done) return resolve(r.value);
      toPromise(r.value).then(
        (v) => step('next', v),
        (e) => step('throw', e),
      );
    };
    step('next');
  });
}
co.wrap = (gen: (...a: unknown[]) => Generator<unknown, unknown, unknown>) =>
  function (this: unknown, ...args: unknown[]) {
    return co(gen.bind(this), ...args);
  };

/** lodash: only `times`. */
export const lodash = {
  times<T>(n: number, f: (i: number) => T): T[] {
    return Array.from({ length: n }, (_, i) => f(i));
  },
};
