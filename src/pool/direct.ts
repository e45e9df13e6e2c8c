/**
 * Single-host pass-through. With one host and nothing to route (no topology
 * source, no pgfailover.* extensions, no session-attribute demands), there is
 * no standby to read from and no failover to manage, so `Pool` is exactly a
 * pg.Pool: same options (connectionString included, read by pg itself), same
 * clients from connect(), same events and counters. Only difference, by
 * design: an idle session's 'error' is never thrown when nobody listens.
 */
import pg from 'pg';
import { OWN_KEYS, type PoolOptions } from './options';
import { hasPassword, hide, sslForPg } from '../secrets';

/** Options pg.Pool itself understands, from ours (our routing keys dropped; password kept). */
export function pgPoolConfig(o: PoolOptions): pg.PoolConfig {
  const keep = new Set(['connectionString', 'connect_timeout']);
  const cfg: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (keep.has(k) || !(OWN_KEYS as readonly string[]).includes(k)) cfg[k] = v;
  if (o.password !== undefined) cfg.password = o.password; // pg.Pool hides it again (non-enumerable)
  if (o.connectionString !== undefined) cfg.connectionString = o.connectionString; // non-enumerable in ours when it has a password
  if (o.ssl !== undefined) cfg.ssl = sslForPg(o.ssl);
  return cfg as pg.PoolConfig;
}

/**
 * A pg.Pool when these options describe a single, plain host (see above),
 * else undefined (the routing pool applies).
 */
export function directPoolFor(
  o: PoolOptions,
  hostCount: number,
  parsed: { extensions: Readonly<Record<string, string>>; target_session_attrs?: string },
): pg.Pool | undefined {
  if (hostCount !== 1 || o.topology !== undefined || o.env !== undefined || o.readFrom !== undefined) return undefined;
  if (Object.keys(parsed.extensions).length > 0) return undefined;
  const tsa = o.target_session_attrs ?? parsed.target_session_attrs;
  if (tsa !== undefined && tsa !== 'any') return undefined;
  const pool = new pg.Pool(pgPoolConfig(o));
  // pg.Pool hides `password` but not a password inside `connectionString`; pg still reads it by name.
  if (hasPassword(pool.options.connectionString)) hide(pool.options, 'connectionString');
  return pool;
}
