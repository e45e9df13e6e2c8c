/**
 * A browser-like HTTP client for the Express example: it keeps the causal
 * token the server sends back and returns it on the next request, as a
 * browser would with the cookie. Exposed as an ExampleApp so the same test
 * drives it through a switchover and a leader kill.
 */
import { start as startExpress } from './app';
import { num, type ExampleApp } from '../shared/app';

const HEADER = 'x-pgfailover-causal';

export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string | undefined, message: string) {
    super(message);
  }
}

export type HttpServer = { url: string; close(): Promise<void> };

/** An ExampleApp that drives an HTTP app (started by `start`) like a browser, carrying the token. */
export function httpApp(name: string, start: (connectionString: string) => Promise<HttpServer>, connectionString: string): ExampleApp & { get(path: string): Promise<any>; post(path: string, body: unknown): Promise<any>; token(): string | undefined } {
  let server: HttpServer | undefined;
  let token: string | undefined;
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${server!.url}${path}`, {
      method,
      headers: { 'content-type': 'application/json', ...(token ? { [HEADER]: token } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const t = res.headers.get(HEADER);
    if (t) token = t;
    const json = (await res.json()) as any;
    if (!res.ok) throw new ApiError(res.status, json.code, `${method} ${path}: ${res.status} ${json.code}: ${json.message}`);
    return json;
  };
  return {
    name,
    async setup() {
      server = await start(connectionString);
    },
    async write(id) {
      const r = await call('POST', '/items', { id, note: 'w' });
      return { port: num(r.port), standby: r.standby };
    },
    async read() {
      const r = await call('GET', '/items');
      return { count: num(r.count), port: num(r.port), standby: r.standby };
    },
    async transaction(id) {
      const r = await call('POST', '/transfer', { id });
      return { ports: r.ports.map(num), pids: r.pids.map(num) };
    },
    get: (path) => call('GET', path),
    post: (path, body) => call('POST', path, body),
    token: () => token,
    async close() {
      await server?.close();
    },
  };
}

export const createApp = (connectionString: string) => httpApp('express', startExpress, connectionString);
