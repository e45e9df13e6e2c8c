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
  synchronousMode: boolean;
  /** `maximum_lag_on_syncnode` in bytes; ≤ 0: no bound (Patroni's default -1). */
  maxLagOnSyncnode: number;
  /** `synchronous_node_count`: how many synchronous standbys (default 1). */
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
    synchronousMode: dcsCfg.synchronousMode,
    maxLagOnSyncnode: Number(dcsCfg.raw.maximum_lag_on_syncnode ?? -1) || -1,
    syncNodeCount: Number(dcsCfg.raw.synchronous_node_count ?? 1) || 1,
  };
}

/**
 * The settings from a `config` key value, `prev` for what it leaves unset. `quorum` is true when it
 * asks for `synchronous_mode: quorum`, which this manager does not implement (runs without
 * synchronous replication; the caller warns once).
 */
export function dynamicFrom(config: Record<string, unknown>, prev: Dynamic): { dyn: Dynamic; quorum: boolean } {
  const num = numberSetting;
  const mode = synchronousModeOf(config);
  const pgc = (config.postgresql ?? {}) as Record<string, unknown>;
  return {
    quorum: mode === 'quorum',
    dyn: {
      ttl: num(config.ttl, prev.ttl),
      loopWait: num(config.loop_wait, prev.loopWait),
      retryTimeout: num(config.retry_timeout, prev.retryTimeout),
      maxLag: num(config.maximum_lag_on_failover, prev.maxLag),
      useSlots: parseBool(pgc.use_slots) ?? prev.useSlots,
      usePgRewind: parseBool(pgc.use_pg_rewind) ?? prev.usePgRewind,
      synchronousMode: mode === undefined ? prev.synchronousMode : mode === 'on',
      maxLagOnSyncnode: num(config.maximum_lag_on_syncnode, -1),
      syncNodeCount: Math.max(1, num(config.synchronous_node_count, 1)),
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
    ...(dyn.synchronousMode ? { synchronous_mode: true } : {}),
    postgresql: { ...rawPg, use_slots: dyn.useSlots, use_pg_rewind: dyn.usePgRewind },
  };
}
