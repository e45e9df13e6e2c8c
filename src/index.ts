/**
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
 * escapeLiteral, DatabaseError, Query, Result …) is re-exported unchanged, so
 * `import pg from 'pg-failover'` works where `import pg from 'pg'` did.
 */
import pg from 'pg';

export const { types, defaults, Query, Connection, DatabaseError, TypeOverrides, escapeIdentifier, escapeLiteral, Result } = pg;

/** pg's native bindings: pg-failover has none (pg's own value when pg-native is not installed). */
export const native = null;
/** pg's `utils` (prepareValue, normalizeQueryConfig …), unchanged. */
export const utils: unknown = (pg as unknown as { utils: unknown }).utils;

export * from './errors';
export type { Topology, Member, MemberRole, TopologySource, TopologyEvents } from './topology/topology';

export { Client } from './client/client';
export type { ClientOptions } from './client/plan';
export type { TargetSessionAttrs } from './client/session-attrs';
export {
  libpqKeywords,
  parseConnectionString,
  toPgConfig,
  type ConnectionConfig,
  type HostSpec,
  type ParseConnectionStringOptions,
} from './connection';

export { Pool, type PoolEvents, type RoutedQueryConfig } from './pool/pool';
export type { PoolOptions, TopologyConfig } from './pool/options';
export type { BoundClient } from './pool/bound-client';
export type { ReadYourWrites } from './pool/causal';
export { Classifier, classify, analyze, type Analysis, type StatementKind, type ClassifierOptions } from './routing/classify';
export type { ReadFrom, ReadBalance, RouteOverride } from './routing/router';
export { ProbeTopology, type ProbeTopologyOptions } from './topology/probe';
