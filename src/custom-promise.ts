/**
 * pg's `Promise` option (`new Client({ Promise: Bluebird })`, also on Pool):
 * every promise the API returns is made by that constructor, as pg does with
 * `new this._Promise(...)` (Client) and `new this.Promise(...)` (pg-pool).
 * Deprecated in pg 8 (removed in pg 9); pg prints its deprecation notice once
 * when it builds a session with it.
 */

/** What pg accepts as `Promise`: a constructor taking an executor. */
export type PromiseConstructorLikeOption = PromiseConstructorLike;

/** The promise constructor an options object asks for; pg's rule: `options.Promise || global.Promise`. */
export function promiseClassOf(options: { Promise?: unknown } | undefined): PromiseConstructorLike {
  const P = options?.Promise;
  return typeof P === 'function' ? (P as PromiseConstructorLike) : global.Promise;
}

/** `p`, settled the same way, as an instance of `P` (`p` itself when P is the built-in Promise). */
export function asPromiseOf<T>(P: PromiseConstructorLike, p: Promise<T>): Promise<T> {
  if (P === global.Promise) return p;
  return new P<T>((resolve, reject) => {
    p.then(resolve, reject);
  }) as Promise<T>;
}

/** A promise of `P` rejected with `err` (pg: `this.Promise.reject(err)`). */
export function rejectedOf(P: PromiseConstructorLike, err: unknown): Promise<never> {
  return asPromiseOf(P, Promise.reject(err));
}
