/**
 * One HTTP(S) request to a Patroni REST API, with the TLS settings a Patroni
 * client has (patronictl's `ctl.cacert/certfile/keyfile/keyfile_password/insecure`):
 * a CA file to verify the server with, an optional client certificate, and
 * an explicit opt-out of verification. Built on node:http/https because
 * `fetch` cannot be given a CA.
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { readFileSync } from 'node:fs';
import { FailoverError } from '../errors';

/** TLS for requests to Patroni REST APIs (file paths, as Patroni's `ctl` section names them). */
export interface RestTlsOptions {
  /** CA certificates (PEM file) the server's certificate must chain to. Default: Node's bundled CAs. */
  caFile?: string;
  /** Client certificate (PEM file), for an API with `verify_client`. */
  certFile?: string;
  /** Its private key (PEM file); default: read from `certFile`. */
  keyFile?: string;
  /** Password of an encrypted `keyFile`. */
  keyPassword?: string;
  /** `false` accepts any server certificate (patronictl's `--insecure`). Default true. */
  rejectUnauthorized?: boolean;
}

/** The files of {@link RestTlsOptions}, read once. */
export interface RestTls {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  passphrase?: string;
  rejectUnauthorized: boolean;
}

/** A response, body read in full. */
export interface RestReply {
  status: number;
  text: string;
}

/**
 * Reads the files named by `tls`. A file that cannot be read is an
 * `INVALID_OPTION` error naming `<where>.caFile` (…) and the path.
 */
export function loadRestTls(tls: RestTlsOptions | undefined, where = 'tls'): RestTls {
  const read = (key: keyof RestTlsOptions, path: string | undefined): Buffer | undefined => {
    if (path === undefined) return undefined;
    try {
      return readFileSync(path);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new FailoverError('INVALID_OPTION', `${where}.${key}: ${path} ${code === 'ENOENT' ? 'does not exist' : `cannot be read (${code ?? 'error'})`}`, { cause: e });
    }
  };
  const ca = read('caFile', tls?.caFile);
  const cert = read('certFile', tls?.certFile);
  const key = read('keyFile', tls?.keyFile) ?? cert;
  return {
    ...(ca ? { ca } : {}),
    ...(cert ? { cert, ...(key ? { key } : {}) } : {}),
    ...(tls?.keyPassword !== undefined ? { passphrase: tls.keyPassword } : {}),
    rejectUnauthorized: tls?.rejectUnauthorized ?? true,
  };
}

/** Keep-alive connection pools for repeated requests (a poller): one for http, one for https with `tls`. */
export interface RestAgents {
  http: HttpAgent;
  https: HttpsAgent;
  /** Closes every pooled connection. */
  destroy(): void;
}

/** Keep-alive agents carrying `tls`, for {@link restRequest}'s `agents`. */
export function restAgents(tls: RestTls): RestAgents {
  const http = new HttpAgent({ keepAlive: true, maxSockets: 4 });
  const https = new HttpsAgent({ keepAlive: true, maxSockets: 4, ...tlsOptions(tls) });
  return { http, https, destroy: () => (http.destroy(), https.destroy()) };
}

function tlsOptions(tls: RestTls | undefined) {
  return {
    ...(tls?.ca ? { ca: tls.ca } : {}),
    ...(tls?.cert ? { cert: tls.cert } : {}),
    ...(tls?.key ? { key: tls.key } : {}),
    ...(tls?.passphrase !== undefined ? { passphrase: tls.passphrase } : {}),
    rejectUnauthorized: tls?.rejectUnauthorized ?? true,
  };
}

/** Node's codes for a server certificate that did not verify (and a host name it does not cover). */
const TLS_VERIFY_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'CERT_UNTRUSTED', 'CERT_REJECTED', 'CERT_SIGNATURE_FAILURE',
  'ERR_TLS_CERT_ALTNAME_INVALID', 'HOSTNAME_MISMATCH',
]);

/** True when `err` says the server's certificate was not trusted (a CA or host-name problem, not the network). */
export function isCertificateError(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'string' && TLS_VERIFY_CODES.has(code);
}

/**
 * Sends one request and reads the whole answer (at most `maxBytes`, else rejects with
 * a `TOPOLOGY_SOURCE` error whose message says so). Network and TLS failures reject
 * with Node's error (its `code` kept; see {@link isCertificateError}).
 */
export function restRequest(
  url: string,
  opts: { method?: string; headers?: Record<string, string>; body?: string; tls?: RestTls; agents?: RestAgents; signal?: AbortSignal; maxBytes?: number } = {},
): Promise<RestReply> {
  return new Promise<RestReply>((resolve, reject) => {
    const u = new URL(url);
    const https = u.protocol === 'https:';
    const common = { method: opts.method ?? 'GET', headers: opts.headers, ...(opts.signal ? { signal: opts.signal } : {}) };
    const onResponse = (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (opts.maxBytes !== undefined && size > opts.maxBytes) {
          res.destroy();
          reject(new FailoverError('TOPOLOGY_SOURCE', `body larger than ${opts.maxBytes} bytes`));
          return;
        }
        chunks.push(c);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
      res.on('aborted', () => reject(new Error('response aborted')));
    };
    // with `agents`, the TLS settings are the https agent's (it pools connections per settings)
    const req = https
      ? httpsRequest(u, opts.agents ? { ...common, agent: opts.agents.https } : { ...common, agent: false, ...tlsOptions(opts.tls) }, onResponse)
      : httpRequest(u, { ...common, agent: opts.agents ? opts.agents.http : false }, onResponse);
    req.on('error', reject);
    req.end(opts.body);
  });
}
