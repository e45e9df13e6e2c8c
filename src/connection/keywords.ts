/**
 * The connection keywords libpq knows, in the order of its `PQconninfoOptions`
 * table (PostgreSQL 17), with the environment variable and compiled-in
 * default libpq falls back to for each. This is data, read from libpq's
 * `fe-connect.c`; the parser and the defaults logic take the set as input so
 * that the parity test can run the same logic with the table of whatever
 * libpq is installed.
 */

export interface KeywordSpec {
  /** The keyword as written in a connection string. */
  readonly keyword: LibpqKeyword;
  /** The environment variable libpq falls back to, if any. */
  readonly envvar?: string;
  /** libpq's compiled-in default (builds with SSL and GSSAPI, like Debian's). */
  readonly compiled?: string;
  /** libpq marks these "*": never shown, never logged. */
  readonly secret?: boolean;
  /** First PostgreSQL major version whose libpq knows the keyword (omitted: older than 13). */
  readonly since?: number;
}

export const LIBPQ_KEYWORD_SPECS: readonly KeywordSpec[] = [
  { keyword: 'service', envvar: 'PGSERVICE' },
  { keyword: 'user', envvar: 'PGUSER' },
  { keyword: 'password', envvar: 'PGPASSWORD', secret: true },
  { keyword: 'passfile', envvar: 'PGPASSFILE' },
  { keyword: 'channel_binding', envvar: 'PGCHANNELBINDING', compiled: 'prefer' },
  { keyword: 'connect_timeout', envvar: 'PGCONNECT_TIMEOUT' },
  { keyword: 'dbname', envvar: 'PGDATABASE' },
  { keyword: 'host', envvar: 'PGHOST' },
  { keyword: 'hostaddr', envvar: 'PGHOSTADDR' },
  { keyword: 'port', envvar: 'PGPORT', compiled: '5432' },
  { keyword: 'client_encoding', envvar: 'PGCLIENTENCODING' },
  { keyword: 'options', envvar: 'PGOPTIONS', compiled: '' },
  { keyword: 'application_name', envvar: 'PGAPPNAME' },
  { keyword: 'fallback_application_name' },
  { keyword: 'keepalives' },
  { keyword: 'keepalives_idle' },
  { keyword: 'keepalives_interval' },
  { keyword: 'keepalives_count' },
  { keyword: 'tcp_user_timeout' },
  { keyword: 'sslmode', envvar: 'PGSSLMODE', compiled: 'prefer' },
  { keyword: 'sslnegotiation', envvar: 'PGSSLNEGOTIATION', compiled: 'postgres', since: 17 },
  { keyword: 'sslcompression', envvar: 'PGSSLCOMPRESSION', compiled: '0' },
  { keyword: 'sslcert', envvar: 'PGSSLCERT' },
  { keyword: 'sslkey', envvar: 'PGSSLKEY' },
  { keyword: 'sslcertmode', envvar: 'PGSSLCERTMODE', since: 16 },
  { keyword: 'sslpassword', secret: true },
  { keyword: 'sslrootcert', envvar: 'PGSSLROOTCERT' },
  { keyword: 'sslcrl', envvar: 'PGSSLCRL' },
  { keyword: 'sslcrldir', envvar: 'PGSSLCRLDIR' },
  { keyword: 'sslsni', envvar: 'PGSSLSNI', compiled: '1' },
  { keyword: 'requirepeer', envvar: 'PGREQUIREPEER' },
  { keyword: 'require_auth', envvar: 'PGREQUIREAUTH', since: 16 },
  { keyword: 'ssl_min_protocol_version', envvar: 'PGSSLMINPROTOCOLVERSION', compiled: 'TLSv1.2' },
  { keyword: 'ssl_max_protocol_version', envvar: 'PGSSLMAXPROTOCOLVERSION' },
  { keyword: 'gssencmode', envvar: 'PGGSSENCMODE', compiled: 'prefer' },
  { keyword: 'krbsrvname', envvar: 'PGKRBSRVNAME', compiled: 'postgres' },
  { keyword: 'gsslib', envvar: 'PGGSSLIB' },
  { keyword: 'gssdelegation', envvar: 'PGGSSDELEGATION', compiled: '0', since: 16 },
  { keyword: 'replication' },
  { keyword: 'target_session_attrs', envvar: 'PGTARGETSESSIONATTRS', compiled: 'any' },
  { keyword: 'load_balance_hosts', envvar: 'PGLOADBALANCEHOSTS', compiled: 'disable', since: 16 },
];

/** Every keyword libpq 17 accepts, in libpq's table order. */
export const LIBPQ_KEYWORDS: readonly LibpqKeyword[] = LIBPQ_KEYWORD_SPECS.map((s) => s.keyword);

/** Keywords whose values are secrets: never in a message, non-enumerable in results. */
export const SECRET_KEYWORDS: ReadonlySet<string> = new Set(
  LIBPQ_KEYWORD_SPECS.filter((s) => s.secret).map((s) => s.keyword),
);

/** Prefix of our own parameters; stripped before anything reaches libpq semantics. */
export const EXTENSION_PREFIX = 'pgfailover.';

/** A keyword libpq 17 accepts. */
export type LibpqKeyword =
  | 'service'
  | 'user'
  | 'password'
  | 'passfile'
  | 'channel_binding'
  | 'connect_timeout'
  | 'dbname'
  | 'host'
  | 'hostaddr'
  | 'port'
  | 'client_encoding'
  | 'options'
  | 'application_name'
  | 'fallback_application_name'
  | 'keepalives'
  | 'keepalives_idle'
  | 'keepalives_interval'
  | 'keepalives_count'
  | 'tcp_user_timeout'
  | 'sslmode'
  | 'sslnegotiation'
  | 'sslcompression'
  | 'sslcert'
  | 'sslkey'
  | 'sslcertmode'
  | 'sslpassword'
  | 'sslrootcert'
  | 'sslcrl'
  | 'sslcrldir'
  | 'sslsni'
  | 'requirepeer'
  | 'require_auth'
  | 'ssl_min_protocol_version'
  | 'ssl_max_protocol_version'
  | 'gssencmode'
  | 'krbsrvname'
  | 'gsslib'
  | 'gssdelegation'
  | 'replication'
  | 'target_session_attrs'
  | 'load_balance_hosts';
