/**
 * The manager's REST API, speaking Patroni's: health checks that answer by
 * status code (`/primary`, `/replica?lag=…`, `/sync` … — what HAProxy and
 * Patroni-aware clients poll), the info documents (`/patroni`, `/cluster`,
 * `/history`, `/config`, `/metrics`) and the two write requests
 * (`POST /switchover`, `POST /failover`). Built on node:http only; it reads
 * everything through an {@link AgentView} and never crashes on a bad request
 * or a failing view: every view call is bounded in time and every exception
 * becomes a 503 with a JSON error.
 */
import { createServer, type IncomingMessage, type ServerResponse, type Server } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { timingSafeEqual } from 'node:crypto';
import type { AgentView, DcsSnapshot, FailoverRequest, NodeStatus, WriteOutcome } from './agent-view';
import { FailoverError } from '../errors';
import type { ApiTlsMaterial } from './api-tls';
import type { ApiAccess } from './api-access';
import { clusterJson, healthStatusCode, INFO_PATHS, metricsText, needsSnapshot, readinessCode, type HealthInput } from './api-views';
import { livenessStatusCode } from './liveness';

export interface ApiOptions {
  /** The agent, seen read-only plus its switchover/failover entry. */
  view: AgentView;
  /** Address to listen on (Patroni's `restapi.listen` host). */
  host: string;
  /** Port to listen on; 0 picks a free one (read it back from `url`). */
  port: number;
  /** Basic auth for the write endpoints (Patroni's `restapi.authentication`). Reads stay open, as in Patroni. */
  auth?: { username: string; password: string };
  /** Serve HTTPS with this material (api-tls.ts loadApiTls); plain HTTP without it. */
  tls?: ApiTlsMaterial;
  /** Allowlist and client-certificate rule for the write requests, checked before `auth` (api-access.ts). */
  access?: ApiAccess;
  /** One line per failed request or handler error (never a password). */
  log?: (line: string) => void;
  /** Bound on every view call (status/cluster). Default 2500 ms. */
  viewTimeoutMillis?: number;
  /** Bound on `requestFailover` (Patroni polls up to ~20 s for the outcome). Default 30000 ms. */
  failoverTimeoutMillis?: number;
  /** Largest request body accepted; larger answers 413. Default 64 KiB. */
  maxBodyBytes?: number;
  /** Headers added to every response (Patroni's `restapi.http_extra_headers`, plus `https_extra_headers` over HTTPS). */
  extraHeaders?: Readonly<Record<string, string>>;
}

/** A listening API. */
export interface RunningApi {
  /** `http://host:port` (`https://` with `tls`) it listens on. */
  readonly url: string;
  /** Stops listening and closes open connections. */
  close(): Promise<void>;
  /**
   * Applies re-read security settings (POST /reload) without a restart: new certificate, key,
   * CA or ciphers for new connections, and the new access rule. Switching HTTPS on or off, or changing
   * `verify_client`, needs a restart: throws `MANAGER_CONFIG` and keeps the running settings.
   */
  updateSecurity(security: { tls?: ApiTlsMaterial; access?: ApiAccess }): void;
}

const HEALTH_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Starts the REST API and resolves once it listens.
 *
 * @example
 * const api = await startApi({ view: agent, host: '127.0.0.1', port: 8008 });
 * // curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:8008/primary
 * await api.close();
 */
export async function startApi(options: ApiOptions): Promise<RunningApi> {
  const handler = new ApiHandler(options);
  const extra = Object.entries(options.extraHeaders ?? {});
  const listener = (req: IncomingMessage, res: ServerResponse) => {
    for (const [name, value] of extra) res.setHeader(name, value);
    handler.handle(req, res).catch((e: unknown) => handler.fail(res, e));
  };
  const server: Server = options.tls ? createHttpsServer(options.tls.server, listener) : createServer(listener);
  if (options.tls?.verifyClient === 'optional') {
    // Python's CERT_OPTIONAL (Patroni): a client certificate is optional, but one that is sent must verify
    server.on('secureConnection', (socket: TLSSocket) => {
      if (!socket.authorized && Object.keys(socket.getPeerCertificate() ?? {}).length > 0) socket.destroy();
    });
  }
  server.keepAliveTimeout = 5_000;
  server.headersTimeout = 10_000;
  server.requestTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    // Node's own mapping: a header block over the limit is 431, one never finished in time 408, the rest 400
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : '400 Bad Request';
    if (socket.writable) socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\n\r\n`);
    else socket.destroy();
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return {
    url: `${options.tls ? 'https' : 'http'}://${host}:${addr.port}`,
    updateSecurity: (security) => {
      const running = options.tls;
      if (!!running !== !!security.tls || (running && security.tls && running.verifyClient !== security.tls.verifyClient)) {
        throw new FailoverError('MANAGER_CONFIG', 'restapi: turning HTTPS on or off, or changing verify_client, takes effect after a restart of the manager; the REST API keeps its running settings');
      }
      if (security.tls) (server as HttpsServer).setSecureContext(security.tls.server);
      handler.access = security.access;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

type WriteMethod = 'patchConfig' | 'reload' | 'restart' | 'reinitialize' | 'cancelSwitchover' | 'cancelRestart';
interface WriteRoute {
  method: WriteMethod;
  path: string;
  body: 'required' | 'optional' | 'none';
  replace?: boolean;
}
/** `METHOD first-path-segment` → the view method answering it (Patroni's api.py do_<METHOD>_<path>). */
const WRITES: Record<string, WriteRoute> = {
  'PATCH config': { method: 'patchConfig', path: 'config', body: 'required' },
  'PUT config': { method: 'patchConfig', path: 'config', body: 'required', replace: true },
  'POST reload': { method: 'reload', path: 'reload', body: 'none' },
  'POST restart': { method: 'restart', path: 'restart', body: 'optional' },
  'POST reinitialize': { method: 'reinitialize', path: 'reinitialize', body: 'optional' },
  'DELETE switchover': { method: 'cancelSwitchover', path: 'switchover', body: 'none' },
  'DELETE restart': { method: 'cancelRestart', path: 'restart', body: 'none' },
};

/** What Python's BaseHTTPRequestHandler.send_error(502) sends, which Patroni uses for GET /failsafe. */
const ERROR_502 = '<!DOCTYPE HTML>\n<html lang="en">\n    <head>\n        <meta charset="utf-8">\n        <title>Error response</title>\n    </head>\n    <body>\n        <h1>Error response</h1>\n        <p>Error code: 502</p>\n        <p>Message: Bad Gateway.</p>\n        <p>Error code explanation: 502 - Invalid responses from another server/proxy.</p>\n    </body>\n</html>\n';

/** Patroni's parse_bool: true/yes/on/1 (any case) or a JSON true. */
function parseBool(v: unknown): boolean {
  return v === true || (typeof v === 'string' && /^(true|yes|on|1)$/i.test(v)) || v === 1;
}

/** A request the API refuses with a given status and text (bad body, auth, size). */
class HttpRefusal extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

class ApiHandler {
  readonly #o: ApiOptions;
  readonly #viewTimeout: number;
  /** The allowlist / client-certificate rule; replaced by RunningApi.updateSecurity. */
  access: ApiAccess | undefined;

  constructor(options: ApiOptions) {
    this.#o = options;
    this.access = options.access;
    this.#viewTimeout = options.viewTimeoutMillis ?? 2_500;
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://api.invalid');
    } catch {
      return this.#text(res, 400, 'Bad request path');
    }
    const path = url.pathname;
    const first = path.split('/')[1] ?? '';

    if (method === 'POST' && (first === 'switchover' || first === 'failover')) return this.#postFailover(req, res, first);
    const write = WRITES[`${method} ${first}`];
    if (write) return this.#write(req, res, write);
    if (method === 'POST' && first === 'failsafe') return this.#postFailsafe(req, res);
    if (method === 'GET' && first === 'failsafe') {
      req.resume();
      const topology = this.#o.view.failsafeTopology?.();
      // Patroni answers send_error(502) (an HTML error page) while failsafe_mode is off
      return topology ? this.#json(res, 200, topology) : this.#text(res, 502, ERROR_502);
    }
    if (!HEALTH_METHODS.has(method)) {
      req.resume();
      return this.#text(res, 501, `Unsupported method (${method} ${path})`);
    }
    const statusOnly = method !== 'GET';
    // GET with a body is odd but harmless: drain it so keep-alive works.
    req.resume();

    if (first === 'liveness') {
      const v = this.#o.view;
      const code = livenessStatusCode({ lastCycleAt: v.lastCycleAt(), now: Date.now(), ttlSeconds: v.ttlSeconds(), leader: v.isLeader(), paused: v.isPaused?.() ?? false });
      return this.#statusOnly(res, code);
    }
    if (first === 'readiness') {
      const input = await this.#healthInput(true);
      return this.#statusOnly(res, readinessCode(url.searchParams, input));
    }
    if (INFO_PATHS.has(`/${first}`)) {
      if (statusOnly) return this.#statusOnly(res, 200);
      return this.#info(res, first);
    }
    const input = await this.#healthInput(needsSnapshot(path));
    const code = healthStatusCode(path, url.searchParams, input);
    if (statusOnly) return this.#statusOnly(res, code);
    return this.#json(res, code, input.status);
  }

  /** Answers a handler failure: 503 with a JSON error (never throws). */
  fail(res: ServerResponse, e: unknown): void {
    const message = e instanceof Error ? e.message : String(e);
    const code = e instanceof FailoverError ? e.code : 'INTERNAL';
    this.#o.log?.(`api: request failed: ${message}`);
    if (res.headersSent) {
      res.destroy();
      return;
    }
    this.#json(res, 503, { error: message, code });
  }

  async #info(res: ServerResponse, first: string): Promise<void> {
    const view = this.#o.view;
    switch (first) {
      case 'patroni':
        return this.#json(res, 200, await this.#bounded(() => view.status(), 'status'));
      case 'cluster':
        return this.#json(res, 200, clusterJson(await this.#bounded(() => view.cluster(), 'cluster'), view.scope));
      case 'history':
        return this.#json(res, 200, (await this.#bounded(() => view.cluster(), 'cluster')).history ?? []);
      case 'config': {
        const snap = await this.#bounded(() => view.cluster(), 'cluster');
        // Patroni answers 502 without a body when the DCS holds no config.
        if (!snap.config || Object.keys(snap.config).length === 0) return this.#statusOnly(res, 502);
        return this.#json(res, 200, snap.config);
      }
      case 'metrics': {
        const [status, snapshot] = await Promise.all([this.#bounded(() => view.status(), 'status'), this.#optional(() => view.cluster(), 'cluster')]);
        const body = metricsText({ status, isLeader: view.isLeader(), name: view.name, scope: view.scope, ...(snapshot ? { snapshot } : {}) });
        res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4', 'Content-Length': Buffer.byteLength(body) });
        res.end(body);
        return;
      }
    }
  }

  async #healthInput(withSnapshot: boolean): Promise<HealthInput> {
    const view = this.#o.view;
    const [status, snapshot] = await Promise.all([
      this.#bounded(() => view.status(), 'status'),
      withSnapshot ? this.#optional(() => view.cluster(), 'cluster') : Promise.resolve(undefined),
    ]);
    return { status, isLeader: view.isLeader(), name: view.name, ...(snapshot ? { snapshot } : {}) };
  }

  async #postFailover(req: IncomingMessage, res: ServerResponse, kind: 'switchover' | 'failover'): Promise<void> {
    try {
      await this.#checkAccess(req);
      const body = await this.#readJson(req);
      const request = toFailoverRequest(body, kind);
      const outcome = await this.#bounded(() => this.#o.view.requestFailover(kind, request), 'requestFailover', this.#o.failoverTimeoutMillis ?? 30_000);
      this.#text(res, outcome.status, outcome.message);
    } catch (e) {
      if (!(e instanceof HttpRefusal)) throw e;
      if (!req.complete) req.resume();
      this.#text(res, e.status, e.message, e.headers);
    }
  }

  /**
   * POST /failsafe (DCS failsafe mode): a leader cut off from etcd asks this member to accept it.
   * Patroni's check_access without the members' hosts (`allowlist_check_members=False`), then basic
   * auth; 502 (Patroni's error page) while failsafe mode is off, else the view's answer with its `lsn` header.
   */
  async #postFailsafe(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const refusal = await this.access?.check(req.socket, { members: false });
      if (refusal) throw new HttpRefusal(refusal.status, refusal.message);
      this.#checkAuth(req);
      const body = await this.#readJson(req);
      const answer = this.#o.view.acceptFailsafe?.(body);
      if (!answer || answer.status === 502) return this.#text(res, 502, ERROR_502);
      this.#text(res, answer.status, answer.text, answer.headers);
    } catch (e) {
      if (!(e instanceof HttpRefusal)) throw e;
      if (!req.complete) req.resume();
      this.#text(res, e.status, e.message, e.headers);
    }
  }

  /** The other authenticated write requests, each answered by the view's method (501 when it has none). */
  async #write(req: IncomingMessage, res: ServerResponse, w: WriteRoute): Promise<void> {
    try {
      await this.#checkAccess(req);
      const fn = this.#o.view[w.method]?.bind(this.#o.view) as ((arg: never, extra?: boolean) => Promise<WriteOutcome>) | undefined;
      if (!fn) {
        req.resume();
        return this.#text(res, 501, `Unsupported method (${req.method} /${w.path})`);
      }
      const body = w.body === 'none' ? {} : await this.#readJson(req, w.body === 'optional');
      if (w.body !== 'none' && (typeof body !== 'object' || body === null || Array.isArray(body))) throw new HttpRefusal(400, 'request body must be a JSON object');
      const arg = (w.method === 'reinitialize' ? { force: parseBool((body as Record<string, unknown>).force), fromLeader: parseBool((body as Record<string, unknown>).from_leader) } : body) as never;
      const outcome = await this.#bounded(() => fn(arg, w.replace), w.method, this.#o.failoverTimeoutMillis ?? 30_000);
      if (typeof outcome.body === 'string') this.#text(res, outcome.status, outcome.body);
      else this.#json(res, outcome.status, outcome.body);
    } catch (e) {
      if (!(e instanceof HttpRefusal)) throw e;
      if (!req.complete) req.resume();
      this.#text(res, e.status, e.message, e.headers);
    }
  }

  /** Patroni's check_access: allowlist, then client certificate (api-access.ts), then basic auth. */
  async #checkAccess(req: IncomingMessage): Promise<void> {
    const refusal = await this.access?.check(req.socket);
    if (refusal) throw new HttpRefusal(refusal.status, refusal.message);
    this.#checkAuth(req);
  }

  #checkAuth(req: IncomingMessage): void {
    const auth = this.#o.auth;
    if (!auth) return;
    const header = req.headers.authorization;
    const challenge = { 'WWW-Authenticate': 'Basic realm="Patroni"' };
    if (!header) throw new HttpRefusal(401, 'no auth header received', challenge);
    const m = /^Basic\s+(\S+)$/i.exec(header);
    const given = Buffer.from(m ? Buffer.from(m[1]!, 'base64').toString('utf8') : '');
    const wanted = Buffer.from(`${auth.username}:${auth.password}`);
    if (given.length !== wanted.length || !timingSafeEqual(given, wanted)) throw new HttpRefusal(401, 'not authenticated', challenge);
  }

  async #readJson(req: IncomingMessage, optional = false): Promise<unknown> {
    const limit = this.#o.maxBodyBytes ?? 64 * 1024;
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) throw new HttpRefusal(413, `request body larger than ${limit} bytes`, { Connection: 'close' });
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > limit) throw new HttpRefusal(413, `request body larger than ${limit} bytes`, { Connection: 'close' });
      chunks.push(chunk);
    }
    const text = Buffer.concat(chunks).toString('utf8');
    if (text.trim() === '') {
      if (optional) return {};
      throw new HttpRefusal(400, 'request body is empty: expected a JSON object');
    }
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw new HttpRefusal(400, 'request body is not valid JSON');
    }
  }

  /**
   * Calls `fn` (a synchronous throw becomes a rejection) and resolves its result,
   * or rejects with a TIMEOUT FailoverError after the bound. A late rejection is swallowed.
   */
  #bounded<T>(fn: () => Promise<T>, what: string, millis = this.#viewTimeout): Promise<T> {
    const p = new Promise<T>((resolve) => resolve(fn()));
    p.catch(() => {}); // lost the race: do not surface as unhandled
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new FailoverError('TIMEOUT', `${what}() did not answer within ${millis} ms`)), millis);
      timer.unref();
    });
    return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
  }

  /** Like #bounded, but a failure yields undefined (for the DCS snapshot: "elif cluster" in Patroni). */
  async #optional(fn: () => Promise<DcsSnapshot>, what: string): Promise<DcsSnapshot | undefined> {
    try {
      return await this.#bounded(fn, what);
    } catch (e) {
      this.#o.log?.(`api: ${what} unavailable: ${e instanceof Error ? e.message : String(e)}`);
      return undefined;
    }
  }

  #statusOnly(res: ServerResponse, status: number): void {
    res.writeHead(status, { 'Content-Length': 0 });
    res.end();
  }

  #json(res: ServerResponse, status: number, body: NodeStatus | unknown): void {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
    res.end(text);
  }

  #text(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
    res.writeHead(status, { 'Content-Type': 'text/html', 'Content-Length': Buffer.byteLength(text), ...headers });
    res.end(text);
  }
}

/** Validates a POST body into a FailoverRequest, with Patroni's messages for what is missing. */
function toFailoverRequest(body: unknown, kind: 'switchover' | 'failover'): FailoverRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body) || Object.keys(body).length === 0) {
    throw new HttpRefusal(400, 'request body must be a non-empty JSON object');
  }
  const b = body as Record<string, unknown>;
  const field = (k: string): string | undefined => {
    const v = b[k];
    if (v === undefined || v === null || v === '') return undefined;
    if (typeof v !== 'string') throw new HttpRefusal(400, `"${k}" must be a string`);
    return v;
  };
  const leader = field('leader');
  const candidate = field('candidate') ?? field('member');
  const scheduledAt = field('scheduled_at');
  if (kind === 'failover' && !candidate) throw new HttpRefusal(400, 'Failover could be performed only to a specific candidate');
  if (kind === 'switchover' && !leader) throw new HttpRefusal(400, 'Switchover could be performed only from a specific leader');
  if (scheduledAt !== undefined && Number.isNaN(Date.parse(scheduledAt))) throw new HttpRefusal(400, 'Unable to parse scheduled timestamp. It should be in an unambiguous format, e.g. ISO 8601');
  return { ...(leader ? { leader } : {}), ...(candidate ? { candidate } : {}), ...(scheduledAt ? { scheduled_at: scheduledAt } : {}) };
}
