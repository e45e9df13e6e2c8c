/**
 * How the dynamic configuration (the `config` key) is read, in one place for the HA agent,
 * the REST API and the YAML validator, the way Patroni reads it: flags through Patroni's
 * parse_bool (true/false, on/off, yes/no, 1/0, any case), numbers from numbers or numeric strings.
 *
 * `synchronous_mode: quorum` (Patroni ≥ 4.0 quorum commit) reads as `quorum`: synchronous mode
 * with quorum commit (quorum.ts).
 */

export type SyncModeSetting = 'off' | 'on' | 'quorum';

/** Patroni's parse_bool; undefined for anything else. */
export function parseBool(v: unknown): boolean | undefined {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v === 1 ? true : v === 0 ? false : undefined;
  if (typeof v !== 'string') return undefined;
  if (/^(true|on|yes|1)$/i.test(v.trim())) return true;
  if (/^(false|off|no|0)$/i.test(v.trim())) return false;
  return undefined;
}

/** The `synchronous_mode` setting; undefined when unset or unreadable. */
export function synchronousModeOf(config: Record<string, unknown> | undefined): SyncModeSetting | undefined {
  const v = config?.synchronous_mode;
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string' && v.trim().toLowerCase() === 'quorum') return 'quorum';
  const b = parseBool(v);
  return b === undefined ? undefined : b ? 'on' : 'off';
}

/** Is synchronous replication on (`synchronous_mode: true` or `quorum`, Patroni's is_synchronous_mode)? */
export function isSynchronousMode(config: Record<string, unknown> | undefined): boolean {
  const mode = synchronousModeOf(config);
  return mode === 'on' || mode === 'quorum';
}

/** Is quorum commit on (`synchronous_mode: quorum`)? */
export function isQuorumCommitMode(config: Record<string, unknown> | undefined): boolean {
  return synchronousModeOf(config) === 'quorum';
}

/** A number setting (number or numeric string), else `fallback`. */
export function numberSetting(v: unknown, fallback: number): number {
  if (v === undefined || v === null || v === '' || typeof v === 'boolean') return fallback;
  const n = Number(v);
  return Number.isFinite(n) ? n : fallback;
}
