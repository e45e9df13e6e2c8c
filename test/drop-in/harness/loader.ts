/**
 * A tiny CommonJS loader for the vendored node-postgres tests: evaluates a
 * file with a `require` that first asks `substitute` (the import
 * substitution: pg → pg-failover, mocha → the vitest adapter …), then loads
 * sibling vendored files the same way, and falls back to Node's require.
 * The files themselves are not modified.
 */
import { readFileSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

export const NOT_SUBSTITUTED = Symbol('not substituted');

export interface LoaderOptions {
  /** Return a module for `id` as required from `fromFile`, or NOT_SUBSTITUTED. */
  substitute(id: string, fromFile: string): unknown;
  /** Identifiers visible to the file as globals (mocha's describe/it, pg's test …). */
  globals?: Record<string, unknown>;
  /** What the file sees as `process`. */
  process?: unknown;
}

export class VendoredLoader {
  readonly #cache = new Map<string, { exports: unknown }>();
  constructor(private readonly options: LoaderOptions) {}

  /** Evaluates (once) and returns module.exports of a vendored file. */
  load(file: string): unknown {
    const cached = this.#cache.get(file);
    if (cached) return cached.exports;
    const module = { exports: {} as unknown };
    this.#cache.set(file, module);
    const src = readFileSync(file, 'utf8');
    const globals = this.options.globals ?? {};
    const names = ['require', 'module', 'exports', '__filename', '__dirname', 'process', ...Object.keys(globals)];
    // The outer function carries the globals; the inner one is the module body, so a file may
    // still declare `const describe = require('mocha').describe` without a redeclaration error.
    const outer = new Function(...names, `return function () {${src}\n}`) as (...a: unknown[]) => () => void;
    const nodeRequire = createRequire(file);
    const req = (id: string): unknown => {
      const sub = this.options.substitute(id, file);
      if (sub !== NOT_SUBSTITUTED) return sub;
      if (id.startsWith('.')) {
        const base = path.resolve(path.dirname(file), id);
        for (const candidate of [base, `${base}.js`, path.join(base, 'index.js')]) {
          if (candidate.endsWith('.js') && existsSync(candidate)) return this.load(candidate);
        }
      }
      return nodeRequire(id);
    };
    const body = outer(req, module, module.exports, file, path.dirname(file), this.options.process ?? process, ...Object.values(globals));
    body.call(module.exports);
    return module.exports;
  }
}
