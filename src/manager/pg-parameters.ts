/**
 * PostgreSQL parameters as Patroni hands them to a given server version: settings renamed
 * across major versions are translated, so a configuration written for one release (Patroni's
 * own postgres0.yml and its test suite set `wal_keep_segments`) starts every supported one.
 */

type Params = Record<string, string | number | boolean>;

/** WAL segment size in MB assumed for `wal_keep_segments` → `wal_keep_size` (initdb's default). */
const WAL_SEGMENT_MB = 16;

/**
 * Translates `parameters` for PostgreSQL `major`:
 * - ≥ 13: `wal_keep_segments` (removed) becomes `wal_keep_size` = segments × 16 MB, unless
 *   `wal_keep_size` is given explicitly; < 13: `wal_keep_size` becomes `wal_keep_segments`.
 */
export function parametersForVersion(parameters: Params, major: number, explicit: ReadonlySet<string> = new Set()): Params {
  const out: Params = { ...parameters };
  if (major >= 13 && 'wal_keep_segments' in out) {
    const segments = Number(out.wal_keep_segments);
    delete out.wal_keep_segments;
    if (!explicit.has('wal_keep_size') && Number.isFinite(segments)) out.wal_keep_size = `${segments * WAL_SEGMENT_MB}MB`;
  } else if (major < 13 && 'wal_keep_size' in out) {
    const mb = parseMb(out.wal_keep_size);
    delete out.wal_keep_size;
    if (!explicit.has('wal_keep_segments') && mb !== undefined) out.wal_keep_segments = Math.ceil(mb / WAL_SEGMENT_MB);
  }
  return out;
}

function parseMb(v: string | number | boolean): number | undefined {
  if (typeof v === 'number') return v;
  const m = /^\s*(\d+)\s*(kB|MB|GB|TB)?\s*$/.exec(String(v));
  if (!m) return undefined;
  const n = Number(m[1]);
  return { kB: n / 1024, MB: n, GB: n * 1024, TB: n * 1024 * 1024 }[m[2] ?? 'MB'];
}
