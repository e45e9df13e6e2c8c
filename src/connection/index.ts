/**
 * libpq connection strings → typed settings → node-postgres client configs.
 *
 * - {@link libpqKeywords}: exactly what libpq's PQconninfoParse returns.
 * - {@link parseConnectionString}: resolved like libpq before connecting
 *   (service file, PG* environment, password file, defaults, validation),
 *   plus our `pgfailover.*` extension parameters.
 * - {@link toPgConfig}: the `pg.Client` configuration for one of the hosts.
 */
export { libpqKeywords, parseConninfo, isConninfoUri, type ParsedConninfo, type ParseConninfoOptions } from './conninfo';
export {
  parseConnectionString,
  TARGET_SESSION_ATTRS,
  LOAD_BALANCE_HOSTS,
  SSL_MODES,
  type ConnectionConfig,
  type HostSpec,
  type OtherSettings,
  type ParseConnectionStringOptions,
  type TargetSessionAttrs,
  type LoadBalanceHosts,
  type SslMode,
} from './options';
export { toPgConfig, type PgClientConfig, type ToPgConfigOptions } from './pg-config';
export { LIBPQ_KEYWORDS, type LibpqKeyword } from './keywords';
