/**
 * `patroni.dynamic.json` in the data directory: Patroni's cache of the dynamic configuration
 * (the `config` key), rewritten when it changes. Tools and Patroni's own acceptance suite expect
 * the file there (the suite deletes it to make an existing data directory bootstrap a new
 * standby cluster). Written only while the data directory exists; never read back here.
 */
import { chownSync, existsSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const written = new Map<string, string>();

/** Writes `config` as `<dataDir>/patroni.dynamic.json` when its content changed since the last write; an empty config is not written. */
export function writeDynamicJson(dataDir: string, config: Readonly<Record<string, unknown>>): void {
  if (Object.keys(config).length === 0 || !existsSync(join(dataDir, 'PG_VERSION'))) return;
  const file = join(dataDir, 'patroni.dynamic.json');
  const text = JSON.stringify(config);
  if (written.get(file) === text && existsSync(file)) return;
  try {
    writeFileSync(file, text, { mode: 0o600 });
    // owned like the data directory (the manager may run as root; pg_rewind and pg_basebackup run as its owner)
    const owner = statSync(dataDir);
    if (process.getuid?.() === 0) chownSync(file, owner.uid, owner.gid);
    written.set(file, text);
  } catch {
    // a cache only: a data directory we cannot write to shows up elsewhere
  }
}
