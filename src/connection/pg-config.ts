/**
 * A resolved {@link ConnectionConfig} → the `pg.ClientConfig` node-postgres
 * needs to connect to one of its hosts.
 *
 * TLS follows libpq's sslmode meanings as far as node-postgres can express
 * them (it cannot fall back from TLS to plain text within one attempt):
 * - `disable`, `allow`, `prefer`, and any unix-socket host: no TLS. (libpq's
 *   prefer would try TLS first; node-postgres cannot, so we do not.)
 * - `require`: TLS without certificate checks, except that, as in libpq, a
 *   root certificate (explicit `sslrootcert`, or an existing
 *   ~/.postgresql/root.crt) turns it into `verify-ca`.
 * - `verify-ca`: the chain must verify against the root certificate; the host
 *   name is not checked.
 * - `verify-full`: chain and host name verified.
 * `sslrootcert=system` uses Node's default trust store. Without a root
 * certificate file, verify-ca/verify-full also use Node's trust store (libpq
 * would refuse to connect). `sslcert`/`sslkey` (default
 * ~/.postgresql/postgresql.crt / .key when they exist), `sslpassword`,
 * `sslcrl`, `ssl_min/max_protocol_version` and `sslsni` map to Node's TLS
 * options.
 */
import { readFileSync, statSync } from 'node:fs';
import { isIP } from 'node:net';
import { homedir as osHomedir } from 'node:os';
import { join } from 'node:path';
import { checkServerIdentity, type ConnectionOptions } from 'node:tls';
import type pg from 'pg';
import { ConnectionStringError } from '../errors';
import type { ConnectionConfig } from './options';

export interface ToPgConfigOptions {
  /** Where ~/.postgresql/ lives. Default: $HOME, else the OS user's home. */
  readonly home?: string;
}

/** `pg.ClientConfig` plus the fields node-postgres accepts but its types omit. */
export type PgClientConfig = pg.ClientConfig & { replication?: string | boolean };

/**
 * Builds the node-postgres client configuration for `parsed.hosts[hostIndex]`.
 *
 * @throws {ConnectionStringError} `INVALID_OPTION` for a host index out of
 *   range; `CONNINFO_INVALID_VALUE` when an SSL file named by the settings
 *   cannot be read.
 *
 * @example
 * const parsed = parseConnectionString('host=db1,db2 dbname=shop user=app', { env: {} });
 * const client = new pg.Client(toPgConfig(parsed, 1)); // connects to db2
 */
export function toPgConfig(parsed: ConnectionConfig, hostIndex = 0, options: ToPgConfigOptions = {}): PgClientConfig {
  const h = parsed.hosts[hostIndex];
  if (h === undefined) {
    throw new ConnectionStringError('INVALID_OPTION', `host index ${hostIndex} out of range (${parsed.hosts.length} hosts)`);
  }
  const cfg: PgClientConfig = {
    host: h.hostaddr ?? h.host,
    port: h.port,
    user: parsed.user,
    database: parsed.database,
    connectionTimeoutMillis: parsed.connect_timeout * 1000,
    keepAlive: parsed.keepalives !== '0',
  };
  const password = h.password ?? parsed.password;
  if (password !== undefined) cfg.password = password;
  if (parsed.application_name) cfg.application_name = parsed.application_name;
  if (parsed.fallback_application_name) cfg.fallback_application_name = parsed.fallback_application_name;
  if (parsed.options) cfg.options = parsed.options;
  if (parsed.client_encoding) cfg.client_encoding = parsed.client_encoding;
  const idle = parsed.keepalives_idle ? Number.parseInt(parsed.keepalives_idle, 10) : 0;
  if (cfg.keepAlive && idle > 0) cfg.keepAliveInitialDelayMillis = idle * 1000;
  if (parsed.channel_binding === 'require' || parsed.channel_binding === 'prefer') cfg.enableChannelBinding = true;
  if (parsed.replication) cfg.replication = parsed.replication === 'database' ? 'database' : isTrue(parsed.replication);
  const ssl = sslFor(parsed, h, options.home ?? (process.env.HOME || osHomedir()));
  cfg.ssl = ssl;
  if (ssl !== false && parsed.sslnegotiation === 'direct') cfg.sslnegotiation = 'direct';
  return cfg;
}

function isTrue(v: string): boolean {
  return ['on', 'true', 'yes', '1'].includes(v.toLowerCase());
}

function exists(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function readSslFile(keyword: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (cause) {
    throw new ConnectionStringError('CONNINFO_INVALID_VALUE', `could not read ${keyword} file ${JSON.stringify(path)}`, {
      fragment: `${keyword}=${path}`,
      cause,
    });
  }
}

function sslFor(parsed: ConnectionConfig, h: ConnectionConfig['hosts'][number], home: string): false | ConnectionOptions {
  let mode = parsed.sslmode;
  if (h.type === 'unix' || mode === 'disable' || mode === 'allow' || mode === 'prefer') return false;
  const pgdir = join(home, '.postgresql');
  const tls: ConnectionOptions = {};

  let rootcert = parsed.sslrootcert;
  if (rootcert === undefined || rootcert === '') {
    const dflt = join(pgdir, 'root.crt');
    rootcert = exists(dflt) ? dflt : undefined;
  }
  if (rootcert !== undefined && rootcert !== 'system') tls.ca = readSslFile('sslrootcert', rootcert);
  // libpq: with a root certificate available, require behaves like verify-ca.
  if (mode === 'require' && rootcert !== undefined) mode = 'verify-ca';

  const cert = parsed.sslcert || (exists(join(pgdir, 'postgresql.crt')) ? join(pgdir, 'postgresql.crt') : undefined);
  const key = parsed.sslkey || (exists(join(pgdir, 'postgresql.key')) ? join(pgdir, 'postgresql.key') : undefined);
  if (cert && key) {
    tls.cert = readSslFile('sslcert', cert);
    tls.key = readSslFile('sslkey', key);
    if (parsed.sslpassword) tls.passphrase = parsed.sslpassword;
  }
  if (parsed.sslcrl) tls.crl = readSslFile('sslcrl', parsed.sslcrl);
  if (parsed.ssl_min_protocol_version) tls.minVersion = tlsVersion(parsed.ssl_min_protocol_version);
  if (parsed.ssl_max_protocol_version) tls.maxVersion = tlsVersion(parsed.ssl_max_protocol_version);

  const name = h.host;
  if (parsed.sslsni !== '0' && isIP(name) === 0) tls.servername = name;

  if (mode === 'require') {
    tls.rejectUnauthorized = false;
  } else if (mode === 'verify-ca') {
    tls.rejectUnauthorized = true;
    tls.checkServerIdentity = () => undefined;
  } else {
    tls.rejectUnauthorized = true;
    if (h.hostaddr !== undefined && name !== h.hostaddr) {
      // Verify the certificate against the host name even though we dial the address.
      tls.checkServerIdentity = (_host, certificate) => checkServerIdentity(name, certificate);
    }
  }
  return tls;
}

function tlsVersion(v: string): ConnectionOptions['minVersion'] {
  const map: Record<string, ConnectionOptions['minVersion']> = {
    tlsv1: 'TLSv1',
    'tlsv1.1': 'TLSv1.1',
    'tlsv1.2': 'TLSv1.2',
    'tlsv1.3': 'TLSv1.3',
  };
  return map[v.toLowerCase()];
}
