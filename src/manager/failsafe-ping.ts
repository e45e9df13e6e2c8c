/**
 * The primary's side of `POST /failsafe`: asks every other member of the `failsafe` key, in
 * parallel, to accept it as the leader (Patroni's `call_failsafe_member`). A member accepts with
 * `200` and the text `Accepted`, and may send its WAL position in an `lsn` header; anything
 * else — another status, another text, a refused connection, no answer in time — is "not
 * accepted". Built on node:http/https (the manager does not import the client's layers).
 *
 * The timeout is a parameter, not Patroni's hard-coded 2 s: on slow links that constant made
 * healthy members look absent and demoted the primary (patroni/patroni#3550).
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';

/** One member's answer. */
export interface FailsafeAnswer {
  name: string;
  accepted: boolean;
  /** The member's received/replayed WAL position (bytes), from its `lsn` header. */
  lsn?: number;
  /** Status and text, or the error: for the log line. */
  detail: string;
}

/** How to reach the members' REST APIs. */
export interface FailsafePingOptions {
  /** Bound on each request (connect + answer). */
  timeoutMillis: number;
  /** `restapi.authentication`: the members' write endpoints want it. */
  auth?: { username: string; password: string };
  /** TLS for `https://` api_urls (CA, client certificate, verification). */
  tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer; passphrase?: string; rejectUnauthorized: boolean };
}

/** `http://h:p/patroni` → `http://h:p/failsafe` (Patroni's `get_endpoint_url`). */
export function failsafeEndpoint(apiUrl: string): string {
  const u = new URL(apiUrl);
  u.pathname = '/failsafe';
  u.search = '';
  return u.toString();
}

/** Posts `body` to every member (in parallel); one answer per member, never a rejection. */
export async function askMembers(members: ReadonlyArray<{ name: string; apiUrl: string }>, body: unknown, opts: FailsafePingOptions): Promise<FailsafeAnswer[]> {
  const text = JSON.stringify(body);
  return Promise.all(members.map((m) => askOne(m, text, opts)));
}

async function askOne(member: { name: string; apiUrl: string }, body: string, opts: FailsafePingOptions): Promise<FailsafeAnswer> {
  const started = Date.now();
  let lastError = '';
  // Like Patroni's retries=1: one more try after a connection-level failure, within the same bound.
  for (let attempt = 0; attempt < 2; attempt++) {
    const left = opts.timeoutMillis - (Date.now() - started);
    if (left <= 0) break;
    try {
      const reply = await send('POST', failsafeEndpoint(member.apiUrl), body, left, opts);
      const lsn = Number(reply.lsn);
      const accepted = reply.status === 200 && reply.text === 'Accepted';
      return { name: member.name, accepted, ...(reply.lsn !== undefined && Number.isFinite(lsn) ? { lsn } : {}), detail: `${reply.status} ${reply.text.slice(0, 200)}` };
    } catch (e) {
      lastError = e instanceof Error ? e.message : String(e);
      if (/timed out/.test(lastError)) break;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return { name: member.name, accepted: false, detail: lastError || 'no answer in time' };
}

/**
 * `GET api_url` (a member's `/patroni`) within the bound: true when it answers that it runs as a
 * primary (`role` primary/master, `state` running). Used before racing in failsafe mode, for
 * members of the failsafe key without a member key (Patroni asks them too).
 */
export async function runsAsPrimary(apiUrl: string, opts: FailsafePingOptions): Promise<boolean> {
  try {
    const reply = await send('GET', apiUrl, undefined, opts.timeoutMillis, opts);
    const doc = JSON.parse(reply.text) as { role?: unknown; state?: unknown };
    return (doc.role === 'primary' || doc.role === 'master') && doc.state === 'running';
  } catch {
    return false;
  }
}

function send(method: 'GET' | 'POST', url: string, body: string | undefined, timeoutMillis: number, opts: FailsafePingOptions): Promise<{ status: number; text: string; lsn: string | undefined }> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const headers: Record<string, string> = body === undefined ? {} : { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(body)) };
    if (opts.auth && method === 'POST') headers.Authorization = `Basic ${Buffer.from(`${opts.auth.username}:${opts.auth.password}`).toString('base64')}`;
    const common = { method, headers, agent: false as const, signal: AbortSignal.timeout(timeoutMillis) };
    const onResponse = (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => {
        if (chunks.length < 256) chunks.push(c);
      });
      res.on('end', () => {
        const lsn = res.headers.lsn;
        resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8'), lsn: Array.isArray(lsn) ? lsn[0] : lsn });
      });
      res.on('error', reject);
    };
    const tls = opts.tls;
    const req =
      u.protocol === 'https:'
        ? httpsRequest(u, { ...common, ...(tls?.ca ? { ca: tls.ca } : {}), ...(tls?.cert ? { cert: tls.cert, key: tls.key ?? tls.cert } : {}), ...(tls?.passphrase !== undefined ? { passphrase: tls.passphrase } : {}), rejectUnauthorized: tls?.rejectUnauthorized ?? true }, onResponse)
        : httpRequest(u, common, onResponse);
    req.on('error', (e: Error) => reject(e.name === 'AbortError' || e.name === 'TimeoutError' ? new Error(`timed out after ${timeoutMillis} ms`) : e));
    req.end(body);
  });
}
