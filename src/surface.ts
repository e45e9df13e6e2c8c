/**
 * The public surface (src/index.ts re-exports it, and exports it as the default too).
 *
 * pg-failover: a drop-in for node-postgres (`pg`) that makes a PostgreSQL
 * primary/standby cluster feel like one database.
 *
 * ```ts
 * import { Pool } from 'pg-failover';
 * const pool = new Pool({ connectionString: 'postgresql://app@db1,db2,db3/app' });
 * await pool.query('SELECT 1'); // a read: goes to a standby
 * ```
 *
 * Everything `pg` exports that is not about connecting (types, defaults,
 * escapeLiteral, DatabaseError, Query, Result …) is re-exported unchanged, and
 * so is every type name of `@types/pg` (PoolClient, QueryResult, …), so
 * `import pg from 'pg-failover'` and `require('pg-failover')` work where `pg` did.
 */
import pg from 'pg';

/** pg's own values, unchanged (the classes are types too, as in @types/pg). */
export { types, defaults, Query, Connection, DatabaseError, TypeOverrides, escapeIdentifier, escapeLiteral, Result } from 'pg';

/**
 * pg's native bindings, read lazily like pg's own `native`: `null` when pg-native is
 * not installed; otherwise pg's native namespace itself (pg.native.Pool is pg's, without routing).
 */
export declare const native: typeof pg.native;
// Not enumerable, as in pg (gh-issue 1992: Object.keys(pg) must not load pg-native).
Object.defineProperty(exports, 'native', { enumerable: false, configurable: true, get: () => pg.native });
/** pg's `utils` (prepareValue, normalizeQueryConfig …), unchanged. */
export const utils: unknown = (pg as unknown as { utils: unknown }).utils;

/**
 * Every type name `@types/pg` exports, with the same shape (a test compares them one
 * by one). `Pool` and `Client` are pg-failover's own classes (below); their configs
 * are pg's `PoolConfig` / `ClientConfig` plus pg-failover's settings
 * ({@link FailoverPoolOptions}, {@link ClientOptions}).
 */
export type {
  QueryConfigValues,
  ClientConfig,
  ConnectionConfig,
  Defaults,
  PoolConfig,
  QueryConfig,
  CustomTypesConfig,
  Submittable,
  QueryArrayConfig,
  FieldDef,
  QueryResultBase,
  QueryResultRow,
  QueryResult,
  QueryArrayResult,
  Notification,
  ResultBuilder,
  QueryParse,
  TransactionStatus,
  BindConfig,
  ExecuteConfig,
  MessageConfig,
  PoolOptions,
  PoolClient,
  // Classes in @types/pg that pg does not export at runtime: types only here, so using them as values fails to compile.
  ClientBase,
  Events,
} from 'pg';

export * from './errors';
export type { Topology, Member, MemberRole, TopologySource, TopologyEvents } from './topology/topology';

export { Client } from './client/client';
export type { ClientOptions } from './client/plan';
export type { TargetSessionAttrs } from './client/session-attrs';
export {
  libpqKeywords,
  parseConnectionString,
  toPgConfig,
  type ConnectionConfig as ParsedConnectionString,
  type HostSpec,
  type ParseConnectionStringOptions,
} from './connection';

export { Pool, type PoolEvents, type RoutedQueryConfig } from './pool/pool';
export type { PoolOptions as FailoverPoolOptions, TopologyConfig } from './pool/options';
export type { BoundClient } from './pool/bound-client';
export type { ReadYourWrites } from './pool/causal';
export { Classifier, classify, analyze, type Analysis, type StatementKind, type ClassifierOptions } from './routing/classify';
export type { ReadFrom, ReadBalance, RouteOverride } from './routing/router';
export { ProbeTopology, type ProbeTopologyOptions } from './topology/probe';
