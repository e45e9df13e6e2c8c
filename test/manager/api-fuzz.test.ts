/**
 * REST fuzzer against a real `pg-failover manager` process (one node, its own
 * PostgreSQL and etcd, restapi.authentication set): random methods, known and
 * garbage paths (very long, percent-encoded junk), query strings, headers
 * (huge, duplicate, bad Content-Length, chunked garbage, junk Authorization),
 * bodies (invalid JSON, deep nesting, huge), delivered whole, pipelined,
 * byte-at-a-time, half-closed or cut off mid-request, over raw TCP sockets.
 *
 * Asserts: the manager process never exits, its log (stdout + stderr) shows no
 * unhandled rejection, uncaught exception or failed handler; every request
 * gets an answer or a clean close within a bound; authenticated writes with an
 * unacceptable body (not a JSON object, too big) are refused 400/413; no write request acts
 * without credentials (no 2xx to a non-GET/HEAD/OPTIONS; postmaster PID,
 * leader, timeline, history and /config unchanged); GET /health still answers
 * 200 afterwards. A few stalled clients (headers never finished) are closed by
 * the server's own timeout.
 *
 * Seeded: PGF_API_FUZZ_SEED replays, PGF_API_FUZZ_REQUESTS sets the count
 * (default 5,000; `npm run fuzz:api` sends 100,000). The failing request is printed;
 * PGF_API_FUZZ_SHOW=<status> prints the first requests answered with that status.
 */
import { connect, type Socket } from 'node:net';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PatroniCluster } from '../../src/local/patroni-cluster';
import { pick, prng } from '../connection/corpus';

const AUTH = { username: 'admin', password: 'Fuzz-Api-S3cret-77' };
const REQUESTS = Number(process.env.PGF_API_FUZZ_REQUESTS ?? 5_000);
const SEED = Number(process.env.PGF_API_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const CONCURRENCY = 16;
/** A complete (or half-closed) request must be answered or closed within this. */
const ANSWER_BOUND_MILLIS = 15_000;

let c: PatroniCluster;
let port: number;

beforeAll(async () => {
  c = await PatroniCluster.start({ daemon: 'pg-failover', nodes: 1, ttl: 10, loopWait: 1, retryTimeout: 2, restApiAuth: AUTH, parentDir: process.env.PGFAILOVER_TEST_ROOT, startTimeoutMillis: 90_000 });
  port = c.member('n0').apiPort;
}, 120_000);
afterAll(async () => {
  await c?.stop();
}, 60_000);

// ───────────────────────── request generator ─────────────────────────

type Delivery = 'whole' | 'pipelined' | 'slow' | 'half-closed' | 'cut';

interface FuzzRequest {
  index: number;
  method: string;
  target: string;
  headers: Array<[string, string]>;
  body: Buffer;
  /** Replace the framing with this raw text (request smuggling / garbage lines). */
  raw?: Buffer;
  delivery: Delivery;
  /** Carries the right credentials (with a body that must be refused). */
  authenticated?: boolean;
}

const KNOWN = [
  '/', '/primary', '/master', '/leader', '/replica', '/read-only', '/read-write', '/standby-leader', '/standby_leader', '/synchronous', '/sync',
  '/async', '/asynchronous', '/quorum', '/read-only-sync', '/health', '/liveness', '/readiness', '/patroni', '/cluster', '/history', '/config',
  '/metrics', '/failsafe', '/switchover', '/failover', '/restart', '/reload', '/reinitialize', '/mpp', '/citus',
];
const VALID_METHODS = ['GET', 'GET', 'GET', 'GET', 'HEAD', 'OPTIONS', 'POST', 'POST', 'POST', 'PUT', 'PATCH', 'PATCH', 'DELETE', 'DELETE', 'TRACE', 'PROPFIND'];
const METHODS = [...VALID_METHODS, ...VALID_METHODS, 'get', 'G ET', 'FOO', '', 'X'.repeat(300), 'PRI', 'CONNECT'];
const WRITE_PATHS = ['/switchover', '/failover', '/restart', '/reload', '/reinitialize', '/config', '/switchover?x=1', '/failover/', '/restart/now'];
const QUERY_KEYS = ['lag', 'tag_key', 'tag_value', 'replication_state', 'lagging', 'role', 'x', '', '%00', 'lag[]'];
const QUERY_VALUES = ['1MB', '10', '-1', '0', '1e400', 'NaN', '99999999999999999999999', 'abc', '%zz', '%ff%fe', '', 'true', '1 KB', '\u00e9', 'x'.repeat(2000)];

function junk(r: () => number, n: number, alphabet = 'abc%/.?&=#;:@[]{}\\"\'<> \t\u00e9\u0000\r\n'): string {
  let s = '';
  for (let i = 0; i < n; i++) s += alphabet[Math.floor(r() * alphabet.length)]!;
  return s;
}

function target(r: () => number): string {
  const roll = r();
  let path: string;
  if (roll < 0.55) path = pick(r, KNOWN);
  else if (roll < 0.65) path = `${pick(r, KNOWN)}/${junk(r, Math.floor(r() * 20), 'abc/.%')}`;
  else if (roll < 0.72) path = `/${Array.from({ length: 1 + Math.floor(r() * 10) }, () => `%${pick(r, ['zz', '00', 'ff', 'fe', 'C3', 'e2%82', '2F', '5C', ''])}`).join('')}`;
  else if (roll < 0.76) path = `/${'a'.repeat(1 + Math.floor(r() * 20_000))}`;
  else if (roll < 0.8) path = pick(r, ['*', '//', '/../../etc/passwd', 'http://evil.invalid/primary', 'primary', '/primary#frag', '/\u00e9', '/%', '?', '/?&&&==']);
  else path = `/${junk(r, Math.floor(r() * 40))}`;
  if (r() < 0.35) {
    const n = 1 + Math.floor(r() * 4);
    const q = Array.from({ length: n }, () => `${pick(r, QUERY_KEYS)}=${pick(r, QUERY_VALUES)}`).join('&');
    path += `${path.includes('?') ? '&' : '?'}${q}`;
  }
  // raw bytes that are not allowed in a request target are only sometimes left in (they make a 400)
  return r() < 0.8 ? path.replace(/[\s\u0000-\u001f]/g, (ch) => encodeURIComponent(ch)) : path;
}

function deepJson(depth: number, open = '[', close = ']'): string {
  return open.repeat(depth) + close.repeat(depth);
}

function body(r: () => number): Buffer {
  const roll = r();
  if (roll < 0.3) return Buffer.alloc(0);
  if (roll < 0.45) return Buffer.from(pick(r, ['{', 'null', '[]', '{}', '"x"', '1', 'true', '{"leader":', '\u0000\u0001', '{"a":1}garbage', "{'leader':'n0'}"]));
  if (roll < 0.6)
    return Buffer.from(
      JSON.stringify(
        pick(r, [
          { leader: 'n0' },
          { leader: 'n0', candidate: 'n0' },
          { leader: 'n1', candidate: 'n0' },
          { candidate: 'n0' },
          { leader: 5, candidate: [] },
          { leader: 'n0', scheduled_at: 'yesterday' },
          { leader: 'n0', scheduled_at: '2999-01-01T00:00:00Z' },
          { force: true, from_leader: 'yes' },
          { postgresql: { parameters: { max_connections: 1 } } },
          { ttl: -1, loop_wait: 'x' },
          { restart_pending: true, role: 'master', timeout: 1 },
        ]),
      ),
    );
  if (roll < 0.7) return Buffer.from(deepJson(1 + Math.floor(r() * 60_000), pick(r, ['[', '{"a":']), pick(r, [']', '}'])));
  if (roll < 0.75) return Buffer.alloc(64 * 1024 + Math.floor(r() * 256 * 1024), 'x'); // over the 64 KiB limit
  if (roll < 0.85) return Buffer.from(junk(r, Math.floor(r() * 2000)));
  return Buffer.from(Array.from({ length: Math.floor(r() * 500) }, () => Math.floor(r() * 256)));
}

function authHeader(r: () => number): string | undefined {
  const roll = r();
  if (roll < 0.5) return undefined;
  const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64');
  return pick(r, [
    `Basic ${b64(`${AUTH.username}:wrong`)}`,
    `Basic ${b64(`${AUTH.username}:${AUTH.password}x`)}`,
    `Basic ${b64(`${AUTH.username}:${AUTH.password.slice(0, -1)}`)}`,
    `Basic ${b64(`x${AUTH.username}:${AUTH.password}`)}`,
    `Basic ${b64(`${AUTH.password}:${AUTH.username}`)}`,
    `Basic ${b64(':')}`,
    'Basic',
    'Basic ',
    'Basic !!!not-base64!!!',
    `Basic ${b64(Buffer.from(Array.from({ length: 40 }, () => Math.floor(r() * 256))))}`,
    `Basic ${'A'.repeat(20_000)}`,
    `Bearer ${AUTH.password}`,
    `basic ${b64(`${AUTH.username}:`)}`,
    `Basic ${b64(AUTH.username)}`,
  ]);
}

/**
 * With the right credentials, a write request whose body is never acceptable (not JSON, not an object,
 * nested lists, over the size limit): it gets past authentication into the body handling and must be
 * refused (400/413) without acting. (Routes without a body, like POST /reload, are left out: they act.)
 */
function authenticatedGarbage(r: () => number, index: number): FuzzRequest {
  const [method, path] = pick(r, [['POST', '/switchover'], ['POST', '/failover'], ['POST', '/restart'], ['POST', '/reinitialize'], ['PATCH', '/config'], ['PUT', '/config']] as const);
  const b = Buffer.from(
    pick(r, ['{', 'not json', '[]', '"x"', '1', 'null', 'true', '{"a":1}garbage', "{'leader':'n0'}", deepJson(1 + Math.floor(r() * 60_000)), 'x'.repeat(64 * 1024 + 1), '\u0000', '[{"leader":"n0"}]']),
  );
  const auth = `Basic ${Buffer.from(`${AUTH.username}:${AUTH.password}`).toString('base64')}`;
  const headers: Array<[string, string]> = [['Host', '127.0.0.1'], ['Authorization', auth], ['Content-Type', 'application/json'], ['Content-Length', String(b.length)]];
  return { index, method, target: path, headers, body: b, delivery: r() < 0.8 ? 'whole' : 'slow', authenticated: true };
}

function generate(r: () => number, index: number): FuzzRequest {
  if (r() < 0.05) return authenticatedGarbage(r, index);
  const method = pick(r, METHODS);
  const t = ['POST', 'PUT', 'PATCH', 'DELETE'].includes(method) && r() < 0.6 ? pick(r, WRITE_PATHS) : target(r);
  const b = r() < (['POST', 'PUT', 'PATCH', 'DELETE'].includes(method) ? 0.85 : 0.2) ? body(r) : Buffer.alloc(0);
  const headers: Array<[string, string]> = [['Host', r() < 0.95 ? '127.0.0.1' : junk(r, 10)]];
  const auth = authHeader(r);
  if (auth !== undefined) headers.push(['Authorization', auth]);
  if (r() < 0.3) headers.push(['Content-Type', pick(r, ['application/json', 'text/plain', 'multipart/form-data; boundary=x', '', junk(r, 30)])]);
  const framing = r();
  let chunked = false;
  if (framing < 0.7) headers.push(['Content-Length', String(b.length)]);
  else if (framing < 0.73) headers.push(['Content-Length', pick(r, ['abc', '-1', '1e3', '99999999999999999999', ' 5', '0x10', String(b.length + 10), String(Math.max(0, b.length - 1))])]);
  else if (framing < 0.75) headers.push(['Content-Length', String(b.length)], ['Content-Length', String(b.length + 1)]);
  else if (framing < 0.85) {
    headers.push(['Transfer-Encoding', pick(r, ['chunked', 'chunked', 'gzip, chunked', 'chunked, identity', 'xchunked'])]);
    chunked = true;
  } else if (framing < 0.87) headers.push(['Transfer-Encoding', 'chunked'], ['Content-Length', String(b.length)]);
  if (r() < 0.05) headers.push(['X-Huge', 'h'.repeat(1 + Math.floor(r() * 100_000))]);
  if (r() < 0.05) for (let i = 0; i < 1 + r() * 3000; i++) headers.push([`X-H${i}`, 'v']);
  if (r() < 0.05) headers.push(['Expect', '100-continue']);
  if (r() < 0.05) headers.push(['Connection', 'Upgrade'], ['Upgrade', pick(r, ['websocket', 'h2c', junk(r, 8)])]);
  if (r() < 0.02) headers.push([junk(r, 8, 'abc :\u0000()'), junk(r, 8)]);
  if (r() < 0.1) headers.push(['Connection', pick(r, ['close', 'keep-alive', junk(r, 5)])]);
  let payload = b;
  if (chunked) {
    const roll = r();
    if (roll < 0.7) payload = Buffer.concat([Buffer.from(`${b.length.toString(16)}\r\n`), b, Buffer.from('\r\n0\r\n\r\n')]);
    else payload = Buffer.from(pick(r, ['zz\r\nabc\r\n0\r\n\r\n', '5\r\nabc\r\n0\r\n\r\n', 'fffffffffffffffff\r\n', '3;ext=1\r\nabc\r\n0\r\n\r\n', '0\r\n', '-1\r\n\r\n', `${junk(r, 30)}\r\n\r\n`]));
  }
  const roll = r();
  const delivery: Delivery = roll < 0.75 ? 'whole' : roll < 0.83 ? 'pipelined' : roll < 0.86 ? 'slow' : roll < 0.94 ? 'half-closed' : 'cut';
  const req: FuzzRequest = { index, method, target: t, headers, body: payload, delivery };
  if (r() < 0.04) {
    // raw framing may be an unfinished request (leading empty lines are skipped by HTTP parsers): end it with EOF
    req.delivery = 'half-closed';
    req.raw = Buffer.from(
      pick(r, [
        `GET /health HTTP/1.1\r\nHost: x\r\n\r\nGET /primary HTTP/1.1\r\nHost: x\r\n\r\n`,
        `GET /health HTTP/9.9\r\n\r\n`,
        `GET /health\r\n\r\n`,
        `\r\n\r\n\r\n`,
        `${junk(r, 200)}\r\n\r\n`,
        `POST /switchover HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nPOST /switchover HTTP/1.1\r\nHost: x\r\n\r\n`,
        `GET /health HTTP/1.1\r\nHost: x\r\n Folded: header\r\n\r\n`,
        `GET /health HTTP/1.1\nHost: x\n\n`,
        `GET /health HTTP/1.0\r\n\r\n`,
        `PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n`,
        `\u0016\u0003\u0001\u0002\u0000\u0001\u0000\u0001\u00fc\u0003\u0003`,
      ]),
    );
  }
  return req;
}

function encode(q: FuzzRequest): Buffer {
  if (q.raw) return q.raw;
  const head = `${q.method} ${q.target} HTTP/1.1\r\n${q.headers.map(([k, v]) => `${k}: ${v}`).join('\r\n')}\r\n\r\n`;
  return Buffer.concat([Buffer.from(head, 'latin1'), q.body]);
}

function describeRequest(q: FuzzRequest): string {
  const text = encode(q).toString('latin1');
  const shown = text.length > 1500 ? `${text.slice(0, 1500)}… (${text.length} bytes)` : text;
  return `request #${q.index} (seed ${SEED}, delivery ${q.delivery}):\n${JSON.stringify(shown)}`;
}

// ───────────────────────── client ─────────────────────────

interface Outcome {
  kind: 'answered' | 'closed' | 'reset' | 'abandoned';
  status?: number;
  body?: string;
  millis: number;
}

/** Reads one response: status line, headers, Content-Length body; skips 1xx interim answers. */
function parseResponse(buf: Buffer, headOnly: boolean): { status: number; body: string } | undefined {
  let at = 0;
  for (;;) {
    const end = buf.indexOf('\r\n\r\n', at);
    if (end < 0) return undefined;
    const head = buf.subarray(at, end).toString('latin1');
    const m = /^HTTP\/1\.[01] (\d{3})/.exec(head);
    if (!m) return { status: -1, body: head };
    const status = Number(m[1]);
    if (status >= 100 && status < 200) {
      at = end + 4;
      continue;
    }
    const len = /\r\ncontent-length:\s*(\d+)/i.exec(head);
    const bodyLen = headOnly || status === 204 || status === 304 ? 0 : len ? Number(len[1]) : undefined;
    if (bodyLen === undefined) return undefined; // read to close
    if (buf.length < end + 4 + bodyLen) return undefined;
    return { status, body: buf.subarray(end + 4, end + 4 + bodyLen).toString('utf8') };
  }
}

function send(q: FuzzRequest): Promise<Outcome> {
  const started = Date.now();
  const bytes = q.delivery === 'pipelined' ? Buffer.concat([encode(q), Buffer.from('GET /health HTTP/1.1\r\nHost: x\r\n\r\n')]) : encode(q);
  return new Promise((resolve) => {
    const socket: Socket = connect({ host: '127.0.0.1', port });
    let got = Buffer.alloc(0);
    let settled = false;
    const done = (o: Omit<Outcome, 'millis'>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ ...o, millis: Date.now() - started });
    };
    // the bound runs from the last byte written (a slow client's own pace is not the server's delay)
    let timer = setTimeout(() => done({ kind: 'abandoned' }), ANSWER_BOUND_MILLIS + 60_000);
    const written = () => {
      if (settled) return;
      clearTimeout(timer);
      timer = setTimeout(() => done({ kind: 'abandoned' }), ANSWER_BOUND_MILLIS);
    };
    socket.on('data', (d: Buffer) => {
      if (got.length < 1 << 20) got = Buffer.concat([got, d]);
      const r = parseResponse(got, q.method === 'HEAD');
      if (r) done({ kind: 'answered', ...r });
    });
    socket.on('end', () => {
      const r = parseResponse(Buffer.concat([got, Buffer.from('\r\n\r\n')]), true);
      done(got.length && r ? { kind: 'answered', status: r.status, body: got.toString('utf8') } : { kind: 'closed' });
    });
    socket.on('error', () => done({ kind: 'reset' }));
    socket.on('close', () => done({ kind: got.length ? 'answered' : 'closed' }));
    socket.once('connect', async () => {
      try {
        if (q.delivery === 'slow') {
          // byte at a time (the head, at most 300 bytes of it, then the rest), as a slow client would
          const slow = Math.min(bytes.length, 300);
          for (let i = 0; i < slow && !settled; i++) {
            socket.write(bytes.subarray(i, i + 1));
            await sleep(1);
          }
          if (!settled) socket.write(bytes.subarray(slow), written);
        } else if (q.delivery === 'cut') {
          socket.write(bytes.subarray(0, Math.floor(bytes.length / 2)), written);
          socket.end(); // half-close after half a request: the server must answer 400 or close
        } else {
          socket.write(bytes, written);
          if (q.delivery === 'half-closed') socket.end();
        }
      } catch {
        /* the server closed first */
      }
    });
  });
}

/**
 * A client that sends part of a header block and then nothing (slowloris): the server must close it by
 * itself (headersTimeout 10 s, checked every 30 s by Node). Resolves with the milliseconds from the last
 * byte sent to the close, and what the server said.
 */
function stall(): Promise<{ millis: number; said: string }> {
  let sentAt = Date.now();
  let said = '';
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port }, () => socket.write('GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ', () => (sentAt = Date.now())));
    socket.on('error', () => {});
    socket.on('data', (d: Buffer) => (said += d.toString('latin1')));
    socket.on('close', () => resolve({ millis: Date.now() - sentAt, said: said.split('\r\n')[0] ?? '' }));
    setTimeout(() => socket.destroy(), 120_000).unref();
  });
}

// ───────────────────────── the run ─────────────────────────

async function getJson(path: string): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(10_000) });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: res.status, body };
}

const BAD_LOG = /unhandled|uncaught|TypeError|RangeError|ReferenceError|SyntaxError|api: request failed|ERR_|\n\s+at .*\.js:\d+/i;

describe(`REST API fuzz against a running manager (${REQUESTS} requests, seed ${SEED})`, () => {
  it('never crashes, answers or closes every request in time, never acts without credentials', async () => {
    console.log(`api fuzz: seed ${SEED} (replay: PGF_API_FUZZ_SEED=${SEED}), ${REQUESTS} requests, ${CONCURRENCY} at a time`);
    const managerPid = c.member('n0').pid!;
    const pgPid = c.postmasterPid('n0');
    const before = { patroni: await getJson('/patroni'), config: await getJson('/config'), history: await getJson('/history'), leader: await c.leaderFromEtcd() };
    expect(before.patroni.status).toBe(200);
    const logBefore = readFileSync(c.member('n0').logFile, 'utf8').length;

    const stalls = [stall(), stall(), stall()];
    const r = prng(SEED);
    const counts: Record<string, number> = {};
    const statuses: Record<string, number> = {};
    let slowest = 0;
    const failures: string[] = [];
    const started = Date.now();
    let next = 0;
    let completed = 0;
    let r400 = 0;
    const worker = async () => {
      while (next < REQUESTS && failures.length === 0) {
        const q = generate(r, next++); // generated in index order, so a seed replays the same requests
        const o = await send(q);
        counts[o.kind] = (counts[o.kind] ?? 0) + 1;
        if (o.status !== undefined) statuses[o.status] = (statuses[o.status] ?? 0) + 1;
        if (process.env.PGF_API_FUZZ_SHOW === String(o.status) && r400++ < 15) console.log(`${o.status} ${JSON.stringify(o.body?.slice(0, 80))} ← ${describeRequest(q).slice(0, 400)}`);
        slowest = Math.max(slowest, o.millis);
        const isWrite = q.raw === undefined && !['GET', 'HEAD', 'OPTIONS'].includes(q.method);
        if (o.kind === 'abandoned') failures.push(`no answer and no close within ${ANSWER_BOUND_MILLIS} ms\n${describeRequest(q)}`);
        else if (isWrite && o.status !== undefined && o.status >= 200 && o.status < 300) failures.push(`a write request ${q.authenticated ? 'with an unacceptable body' : 'without credentials'} got ${o.status} ${o.body}\n${describeRequest(q)}`);
        else if (q.authenticated && o.kind === 'answered' && o.status !== 400 && o.status !== 413) failures.push(`an authenticated write with an unacceptable body got ${o.status} ${o.body}, not 400/413\n${describeRequest(q)}`);
        else if (o.body?.includes('"code":"INTERNAL"')) failures.push(`a handler threw: ${o.body}\n${describeRequest(q)}`);
        if (++completed % 10_000 === 0) console.log(`api fuzz: ${completed} answered or closed, ${Math.round((Date.now() - started) / 1000)} s`);
        if (!isAlive(managerPid)) failures.push(`the manager exited\n${describeRequest(q)}\n${c.logTail('n0', 40)}`);
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    const took = Date.now() - started;
    console.log(`api fuzz: ${next} sent in ${took} ms (${Math.round((next * 1000) / took)}/s); outcomes ${JSON.stringify(counts)}; statuses ${JSON.stringify(statuses)}; slowest ${slowest} ms`);
    expect(failures, failures.join('\n\n')).toEqual([]);

    const stalled = await Promise.all(stalls);
    console.log(`api fuzz: stalled clients closed by the server ${stalled.map((x) => `after ${x.millis} ms (${x.said || 'no answer'})`).join(', ')}`);
    for (const x of stalled) {
      expect(x.millis).toBeLessThan(60_000); // headersTimeout (10 s) + Node's 30 s check interval + slack, not forever
      expect(x.said).toBe('HTTP/1.1 408 Request Timeout');
    }

    // still healthy, nothing acted
    expect(isAlive(managerPid)).toBe(true);
    const health = await getJson('/health');
    expect(health.status).toBe(200);
    expect((health.body as { state?: string }).state).toBe('running');
    const after = { patroni: await getJson('/patroni'), config: await getJson('/config'), history: await getJson('/history'), leader: await c.leaderFromEtcd() };
    expect(after.leader).toBe(before.leader);
    expect(c.postmasterPid('n0')).toBe(pgPid); // no restart, no reinitialize
    expect(after.config).toEqual(before.config); // no PATCH/PUT /config took
    expect(after.history).toEqual(before.history); // no switchover/failover
    const bp = before.patroni.body as Record<string, unknown>;
    const ap = after.patroni.body as Record<string, unknown>;
    expect(ap.timeline).toBe(bp.timeline);
    expect(ap.postmaster_start_time).toBe(bp.postmaster_start_time);
    expect(ap.pending_restart).toBe(bp.pending_restart);
    expect(ap.pause).toBe(bp.pause);

    const log = readFileSync(c.member('n0').logFile, 'utf8').slice(logBefore);
    const bad = log.split('\n').filter((l) => BAD_LOG.test(l));
    expect(bad, `manager log lines after the fuzz:\n${bad.slice(0, 20).join('\n')}`).toEqual([]);
    expect(log).not.toContain(AUTH.password);
  }, 120_000 + REQUESTS * 25); // 25 ms a request: a loaded 2-core machine manages ~100–300/s
});

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
