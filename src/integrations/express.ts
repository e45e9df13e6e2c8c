/**
 * `pg-failover/express`: read-your-writes per request for Express (4 and 5)
 * and anything with the same `(req, res, next)` middleware shape (Connect,
 * Node's http with a tiny adapter).
 *
 * ```ts
 * import express from 'express';
 * import { Pool } from 'pg-failover';
 * import { causalScope } from 'pg-failover/express';
 *
 * const pool = new Pool({ connectionString: process.env.DATABASE_URL });
 * const app = express();
 * app.use(causalScope(pool));          // token in the x-pgfailover-causal header and a cookie
 * app.post('/items', async (req, res) => { await pool.query('INSERT …'); res.json({ ok: true }); });
 * app.get('/items', async (req, res) => res.json((await pool.query('SELECT …')).rows)); // sees the POST
 * ```
 *
 * Does not import Express: it only needs Node's request and response objects.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { checkCausalHttpOptions, runCausalRequest, type CausalHttpOptions, type CausalPool } from './causal-http';

export type { CausalHttpOptions, CausalPool } from './causal-http';
export { incomingToken } from './causal-http';

/**
 * Express middleware: every request runs in `pool.causalScope()`, seeded with the
 * causal token the client sent (header `x-pgfailover-causal` or cookie
 * `pgfailover_causal`; names configurable), and its response carries the new token
 * in both. INVALID_OPTION at once when `pool` is not a pg-failover Pool or a name is invalid.
 */
export function causalScope(pool: CausalPool, options: CausalHttpOptions = {}): (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void {
  checkCausalHttpOptions(pool, options);
  return (req, res, next) => runCausalRequest(pool, req, res, () => next(), options);
}
