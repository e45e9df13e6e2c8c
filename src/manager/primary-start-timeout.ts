/**
 * `primary_start_timeout` (Patroni ≥ 3; `master_start_timeout` before): how many seconds a
 * primary whose PostgreSQL crashed may spend starting again in place before the cluster fails
 * over instead. 0 means fail over at once when a replica can take over. Pure.
 */
import { numberSetting } from './dynamic-config';

/** Patroni's default: five minutes. */
export const DEFAULT_PRIMARY_START_TIMEOUT_SECONDS = 300;

/**
 * The setting from the `config` key: `primary_start_timeout` when the key has it, else
 * `master_start_timeout`, else 300 — Patroni's rule (a PATCH to null removes it: the default
 * again). A value that is not a number reads as the default; a negative one as 0.
 */
export function primaryStartTimeoutSeconds(config: Readonly<Record<string, unknown>>): number {
  const v = 'primary_start_timeout' in config ? config.primary_start_timeout : config.master_start_timeout;
  return Math.max(0, Math.trunc(numberSetting(v, DEFAULT_PRIMARY_START_TIMEOUT_SECONDS)));
}
