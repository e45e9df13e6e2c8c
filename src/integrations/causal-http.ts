/**
 * Read-your-writes across HTTP requests: each request runs in its own
 * `pool.causalScope()`, starting from the causal token the client sent back
 * (a header or a cookie), and every response carries the token covering what
 * this process has written so far. A browser that posts a write and then loads
 * the page sees its write even when that read lands on a standby, and requests
 * that wrote nothing keep reading from standbys while others write.
 *
 * Framework-neutral (Node's `IncomingMessage` / `ServerResponse`); the Express
 * middleware (`pg-failover/express`) is a thin face on it.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { FailoverError } from '../errors';
import { parseCausalToken } from '../pool/causal';

/** What the middleware needs of a pool: pg-failover's `Pool` has both. */
export interface CausalPool {
  causalScope<T>(fn: () => T, options?: { after?: string }): T;
  causalToken(): Promise<string>;
}

export interface CausalHttpOptions {
  /** Request and response header carrying the token. Default `x-pgfailover-causal`. `false`: none. */
  header?: string | false;
  /** Cookie carrying the token. Default `pgfailover_causal`. `false`: none. */
  cookie?: string | false;
  /** Attributes appended to the Set-Cookie. Default `Path=/; HttpOnly; SameSite=Lax`. */
  cookieAttributes?: string;
  /**
   * Called when the token could not be read at the end of a request (e.g. the
   * primary is gone): the response goes out without a fresh token (the client
   * keeps its old one). Default: ignore.
   */
  onTokenError?: (err: unknown) => void;
}

const DEFAULT_HEADER = 'x-pgfailover-causal';
const DEFAULT_COOKIE = 'pgfailover_causal';
const TOKEN_SHAPE = /^pgfo1:[0-9A-Fa-f]{1,8}\/[0-9A-Fa-f]{1,8}$/;

/** Validates options once, at startup: a misspelt name should fail loudly, not silently never match. */
export function checkCausalHttpOptions(pool: unknown, options: CausalHttpOptions): void {
  const p = pool as Partial<CausalPool> | undefined;
  if (!p || typeof p.causalScope !== 'function' || typeof p.causalToken !== 'function') {
    throw new FailoverError(
      'INVALID_OPTION',
      'the causal middleware needs a pg-failover Pool (with causalScope and causalToken); got ' +
        (p && typeof p === 'object' ? `a ${p.constructor?.name ?? 'object'} — is it pg's own Pool?` : String(p)),
    );
  }
  for (const [name, v] of [['header', options.header], ['cookie', options.cookie]] as const) {
    if (v === undefined || v === false) continue;
    if (typeof v !== 'string' || !/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(v)) {
      throw new FailoverError('INVALID_OPTION', `causal middleware: ${name} must be a valid HTTP token name or false, got ${JSON.stringify(v)}`);
    }
  }
  if (options.header === false && options.cookie === false) {
    throw new FailoverError('INVALID_OPTION', 'causal middleware: header and cookie are both false: the token could not travel');
  }
}

/** The token the client sent (header first, then cookie), or undefined when none or malformed (client input is never trusted). */
export function incomingToken(req: IncomingMessage, options: CausalHttpOptions): string | undefined {
  const header = options.header === false ? undefined : (options.header ?? DEFAULT_HEADER).toLowerCase();
  const cookie = options.cookie === false ? undefined : options.cookie ?? DEFAULT_COOKIE;
  const candidates: string[] = [];
  if (header) {
    const v = req.headers[header];
    if (typeof v === 'string') candidates.push(v.trim());
  }
  if (cookie && typeof req.headers.cookie === 'string') {
    for (const part of req.headers.cookie.split(';')) {
      const eq = part.indexOf('=');
      if (eq > 0 && part.slice(0, eq).trim() === cookie) {
        try {
          candidates.push(decodeURIComponent(part.slice(eq + 1).trim()));
        } catch {
          /* not percent-encoded: ignore */
        }
      }
    }
  }
  let best: string | undefined;
  let bestPos = -1n;
  for (const c of candidates) {
    if (!TOKEN_SHAPE.test(c)) continue;
    const pos = parseCausalToken(c);
    if (pos > bestPos) {
      best = c;
      bestPos = pos;
    }
  }
  return best;
}

/**
 * Runs `next` in a causal scope seeded with the request's token, and makes the
 * response carry the token covering this process's writes (the larger of it and
 * the incoming one) before its headers go out. Responses whose headers were
 * already flushed (streaming) go without a fresh token.
 */
export function runCausalRequest(pool: CausalPool, req: IncomingMessage, res: ServerResponse, next: () => void, options: CausalHttpOptions = {}): void {
  const after = incomingToken(req, options);
  const header = options.header === false ? undefined : options.header ?? DEFAULT_HEADER;
  const cookie = options.cookie === false ? undefined : options.cookie ?? DEFAULT_COOKIE;
  const attributes = options.cookieAttributes ?? 'Path=/; HttpOnly; SameSite=Lax';
  const end = res.end as (...args: unknown[]) => ServerResponse;
  let ending = false;
  // Patch end(): the token is async (it may wait for the WAL position of a write just made).
  res.end = function patchedEnd(this: ServerResponse, ...args: unknown[]) {
    if (ending || res.headersSent) return end.apply(res, args);
    ending = true;
    pool.causalToken().then(
      (token) => {
        const out = after && parseCausalToken(after) > parseCausalToken(token) ? after : token;
        if (!res.headersSent) {
          if (header) res.setHeader(header, out);
          if (cookie) appendCookie(res, `${cookie}=${encodeURIComponent(out)}; ${attributes}`);
        }
        end.apply(res, args);
      },
      (err: unknown) => {
        options.onTokenError?.(err);
        end.apply(res, args);
      },
    );
    return res;
  } as typeof res.end;
  pool.causalScope(next, after !== undefined ? { after } : undefined);
}

/** The header name, cookie name and cookie attributes in effect (undefined: that carrier is off). */
export function carriers(options: CausalHttpOptions): { header?: string; cookie?: string; attributes: string } {
  return {
    header: options.header === false ? undefined : options.header ?? DEFAULT_HEADER,
    cookie: options.cookie === false ? undefined : options.cookie ?? DEFAULT_COOKIE,
    attributes: options.cookieAttributes ?? 'Path=/; HttpOnly; SameSite=Lax',
  };
}

/** The token a response should carry: this process's, or the incoming one if that is further ahead. */
export async function outgoingToken(pool: CausalPool, after: string | undefined): Promise<string> {
  const token = await pool.causalToken();
  return after && parseCausalToken(after) > parseCausalToken(token) ? after : token;
}

function appendCookie(res: ServerResponse, value: string): void {
  const prev = res.getHeader('set-cookie');
  if (prev === undefined) res.setHeader('set-cookie', value);
  else res.setHeader('set-cookie', [...(Array.isArray(prev) ? prev : [String(prev)]), value]);
}
