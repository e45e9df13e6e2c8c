/**
 * `pg-failover/fastify`: read-your-writes per request for Fastify (4 and 5),
 * the same contract as `pg-failover/express`: each request runs in
 * `pool.causalScope()` seeded with the causal token the client sent back
 * (header `x-pgfailover-causal` or cookie `pgfailover_causal`), and each reply
 * carries the token covering this process's writes (set in `onSend`).
 *
 * ```ts
 * import Fastify from 'fastify';
 * import { causalScopePlugin } from 'pg-failover/fastify';
 * const app = Fastify();
 * await app.register(causalScopePlugin(pool));   // applies to every route of `app`
 * ```
 *
 * Does not import Fastify at run time (the plugin is marked like fastify-plugin does, so
 * its hooks apply to the parent instance).
 */
import type { FastifyInstance } from 'fastify';
import type { IncomingMessage } from 'node:http';
import { carriers, checkCausalHttpOptions, incomingToken, outgoingToken, type CausalHttpOptions, type CausalPool } from './causal-http';

export type { CausalHttpOptions, CausalPool } from './causal-http';

const AFTER = Symbol('pg-failover causal token of this request');

type Plugin = ((fastify: FastifyInstance, opts: unknown, done: (err?: Error) => void) => void) & { [k: symbol]: unknown };

/** A Fastify plugin; INVALID_OPTION at once when `pool` is not a pg-failover Pool or a name is invalid. */
export function causalScopePlugin(pool: CausalPool, options: CausalHttpOptions = {}): Plugin {
  checkCausalHttpOptions(pool, options);
  const { header, cookie, attributes } = carriers(options);
  const plugin = ((fastify: FastifyInstance, _opts: unknown, done: (err?: Error) => void) => {
    fastify.addHook('onRequest', (req, _reply, next) => {
      const after = incomingToken(req.raw, options);
      (req.raw as IncomingMessage & { [AFTER]?: string })[AFTER] = after;
      pool.causalScope(() => next(), after !== undefined ? { after } : undefined);
    });
    fastify.addHook('onSend', async (req, reply, payload) => {
      try {
        const out = await outgoingToken(pool, (req.raw as IncomingMessage & { [AFTER]?: string })[AFTER]);
        if (header) reply.header(header, out);
        if (cookie) {
          const prev = reply.getHeader('set-cookie');
          const value = `${cookie}=${encodeURIComponent(out)}; ${attributes}`;
          reply.header('set-cookie', prev === undefined ? value : [...(Array.isArray(prev) ? prev : [String(prev)]), value]);
        }
      } catch (err) {
        options.onTokenError?.(err);
      }
      return payload;
    });
    done();
  }) as Plugin;
  plugin[Symbol.for('skip-override')] = true;
  plugin[Symbol.for('fastify.display-name')] = 'pg-failover-causal';
  return plugin;
}

export default causalScopePlugin;
