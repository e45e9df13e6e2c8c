/**
 * The dynamic settings the HA cycle runs on (`ttl`, `loop_wait`, `retry_timeout`, lag bounds,
 * slots, pg_rewind, synchronous mode), pure: their first values from the node's `bootstrap.dcs`,
 * each cycle's values from the `config` key (read through dynamic-config.ts, Patroni's way; an
 * unset or unreadable setting keeps its previous value), and the `config` key the bootstrap
 * winner writes.
 */
import type { PatroniNodeConfig } from './config';
import { numberSetting, parseBool, synchronousModeOf } from './dynamic-config';

/** Dynamic settings as the cycle uses them (from the `config` key, falling back to bootstrap.dcs). */
export interface Dynamic {
  ttl: number;
  loopWait: number;
  retryTimeout: number;
  maxLag: number;
  useSlots: boolean;
  usePgRewind: boolean;
  /** `synchronous_mode` true or quorum (Patroni's is_synchronous_mode). */
  synchronousMode: boolean;
  /** `synchronous_mode: quorum` (quorum commit, Patroni ≥ 4). */
  quorumCommit: boolean;
  /** `synchronous_mode_strict`: never let writes go on without a synchronous standby. */
  synchronousModeStrict: boolean;
  /** `maximum_lag_on_syncnode` in bytes; ≤ 0: no bound (Patroni's default -1). */
  maxLagOnSyncnode: number;
  /** `synchronous_node_count`: how many synchronous standbys (default 1, at least 1). */
  syncNodeCount: number;
}

/** The settings before the first `config` key is read: the node's bootstrap.dcs (and its own use_pg_rewind). */
export function initialDynamic(config: PatroniNodeConfig): Dynamic {
  const dcsCfg = config.bootstrap.dcs;
  return {
    ttl: dcsCfg.ttlSeconds,
    loopWait: dcsCfg.loopWaitSeconds,
    retryTimeout: dcsCfg.retryTimeoutSeconds,
    maxLag: dcsCfg.maximumLagOnFailoverBytes,
    useSlots: dcsCfg.postgresql.useSlots,
    usePgRewind: config.postgresql.usePgRewind ?? dcsCfg.postgresql.usePgRewind,
    synchronousMode: dcsCfg.synchronousMode || synchronousModeOf(dcsCfg.raw) === 'quorum',
    quorumCommit: synchronousModeOf(dcsCfg.raw) === 'quorum',
    synchronousModeStrict: dcsCfg.synchronousModeStrict,
    maxLagOnSyncnode: Number(dcsCfg.raw.maximum_lag_on_syncnode ?? -1) || -1,
    syncNodeCount: Math.max(integerSetting(dcsCfg.raw.synchronous_node_count) ?? 1, 1),
  };
}

/** An integer setting as Patroni's parse_int reads it (integer, or a numeric string; a fraction rounds), else undefined. */
export function integerSetting(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? Math.round(v) : undefined;
  if (typeof v === 'string' && /^\s*[+-]?\d+(\.\d+)?\s*$/.test(v)) return Math.round(Number(v));
  return undefined;
}

/**
 * The settings from a `config` key value, `prev` for what it leaves unset, and a warning for
 * each value of the wrong type (named with its key and value; the setting then falls back the
 * way Patroni's does). The caller logs each warning once.
 */
export function dynamicFrom(config: Record<string, unknown>, prev: Dynamic): { dyn: Dynamic; warnings: string[] } {
  const num = numberSetting;
  const mode = synchronousModeOf(config);
  const pgc = (config.postgresql ?? {}) as Record<string, unknown>;
  const warnings: string[] = [];
  const shown = (v: unknown) => JSON.stringify(v);
  if (config.synchronous_mode !== undefined && config.synchronous_mode !== null && mode === undefined) {
    warnings.push(`synchronous_mode: ${shown(config.synchronous_mode)} is neither a boolean nor "quorum"; keeping synchronous_mode ${prev.quorumCommit ? 'quorum' : prev.synchronousMode}`);
  }
  const strictRaw = config.synchronous_mode_strict;
  const strictParsed = strictRaw === undefined || strictRaw === null ? false : parseBool(strictRaw);
  if (strictParsed === undefined) warnings.push(`synchronous_mode_strict: ${shown(strictRaw)} is not a boolean; using false`);
  const strict = strictParsed ?? false;
  const countRaw = config.synchronous_node_count;
  let count = integerSetting(countRaw);
  if (countRaw !== undefined && countRaw !== null && count === undefined) warnings.push(`synchronous_node_count: ${shown(countRaw)} is not an integer; using 1`);
  if (count !== undefined && count < 1) {
    // Patroni's configuration validator requires at least 1 (a quorum of 0 standbys has no meaning)
    warnings.push(`synchronous_node_count: ${count} is less than 1; using 1`);
    count = 1;
  }
  const lagRaw = config.maximum_lag_on_syncnode;
  if (lagRaw !== undefined && lagRaw !== null && integerSetting(lagRaw) === undefined) warnings.push(`maximum_lag_on_syncnode: ${shown(lagRaw)} is not an integer (bytes); using -1 (no bound)`);
  return {
    warnings,
    dyn: {
      ttl: num(config.ttl, prev.ttl),
      loopWait: num(config.loop_wait, prev.loopWait),
      retryTimeout: num(config.retry_timeout, prev.retryTimeout),
      maxLag: num(config.maximum_lag_on_failover, prev.maxLag),
      useSlots: parseBool(pgc.use_slots) ?? prev.useSlots,
      usePgRewind: parseBool(pgc.use_pg_rewind) ?? prev.usePgRewind,
      synchronousMode: mode === undefined ? prev.synchronousMode : mode !== 'off',
      quorumCommit: mode === undefined ? prev.quorumCommit : mode === 'quorum',
      synchronousModeStrict: strict,
      maxLagOnSyncnode: integerSetting(lagRaw) ?? -1,
      // more than the eligible standbys is capped where it is used (the sync processes log it)
      syncNodeCount: count ?? 1,
    },
  };
}

/** The `config` key the bootstrap winner writes: bootstrap.dcs as given, with the numbers and switches the cycle uses typed. */
export function configJson(raw: Record<string, unknown>, dyn: Dynamic): Record<string, unknown> {
  const rawPg = (raw.postgresql && typeof raw.postgresql === 'object' ? raw.postgresql : {}) as Record<string, unknown>;
  return {
    ...raw,
    ttl: dyn.ttl,
    loop_wait: dyn.loopWait,
    retry_timeout: dyn.retryTimeout,
    maximum_lag_on_failover: dyn.maxLag,
    ...(dyn.synchronousMode ? { synchronous_mode: dyn.quorumCommit ? 'quorum' : true } : {}),
    postgresql: { ...rawPg, use_slots: dyn.useSlots, use_pg_rewind: dyn.usePgRewind },
  };
}
