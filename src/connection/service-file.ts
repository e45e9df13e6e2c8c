/**
 * Connection service files (pg_service.conf), read the way libpq's
 * `parseServiceInfo` / `parseServiceFile` do: `PGSERVICEFILE`, else
 * `~/.pg_service.conf` if it exists; then, if the service was not found there,
 * `$PGSYSCONFDIR/pg_service.conf` (or the compiled-in sysconfdir). Values from
 * the service never override settings given explicitly.
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ConnectionStringError } from '../errors';

/** libpq reads service files with a 1024-byte line buffer; longer lines are an error. */
const MAX_LINE = 1023;

export interface ServiceLookup {
  /** The service name. */
  readonly service: string;
  /** The environment (PGSERVICEFILE, PGSYSCONFDIR). */
  readonly env: NodeJS.ProcessEnv;
  /** The user's home directory, if known. */
  readonly home: string | undefined;
  /** Used when PGSYSCONFDIR is unset (Debian's libpq: /etc/postgresql-common). */
  readonly sysconfdir: string;
  /** The keywords a service file may set. */
  readonly keywords: ReadonlySet<string>;
}

/**
 * Fills `values` (keyword → value) from the named service, without replacing
 * keywords already present.
 *
 * @throws {ConnectionStringError} `CONNINFO_SERVICE` when the service is not
 *   defined, PGSERVICEFILE cannot be read, or a file has a syntax error.
 */
export function applyService(values: Map<string, string>, lookup: ServiceLookup): void {
  const { service, env } = lookup;
  let firstFile: string | undefined;
  if (env.PGSERVICEFILE !== undefined) {
    firstFile = env.PGSERVICEFILE;
  } else if (lookup.home) {
    const candidate = join(lookup.home, '.pg_service.conf');
    if (exists(candidate)) firstFile = candidate;
  }
  if (firstFile !== undefined && readServiceFile(firstFile, values, lookup)) return;

  const sysFile = join(env.PGSYSCONFDIR ?? lookup.sysconfdir, 'pg_service.conf');
  if (exists(sysFile) && readServiceFile(sysFile, values, lookup)) return;

  throw new ConnectionStringError('CONNINFO_SERVICE', `definition of service ${JSON.stringify(service)} not found`, {
    fragment: `service=${service}`,
  });
}

function exists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Returns whether the service's group was found in `file`. */
function readServiceFile(file: string, values: Map<string, string>, lookup: ServiceLookup): boolean {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new ConnectionStringError('CONNINFO_SERVICE', `service file ${JSON.stringify(file)} not found`, { fragment: file });
  }
  const lines = text.split('\n');
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  let found = false;
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!;
    const lineno = i + 1;
    if (Buffer.byteLength(raw, 'utf8') + 1 >= MAX_LINE) {
      throw new ConnectionStringError('CONNINFO_SERVICE', `line ${lineno} too long in service file ${JSON.stringify(file)}`, {
        fragment: `${file}:${lineno}`,
      });
    }
    const line = raw.replace(/^[ \t\n\r\v\f]+/, '').replace(/[ \t\n\r\v\f]+$/, '');
    if (line === '' || line.startsWith('#')) continue;
    if (line.startsWith('[')) {
      if (found) return true; // end of our group
      found = line.startsWith(lookup.service, 1) && line[lookup.service.length + 1] === ']';
      continue;
    }
    if (!found) continue;
    const eq = line.indexOf('=');
    const syntax = (what: string) =>
      new ConnectionStringError('CONNINFO_SERVICE', `${what} in service file ${JSON.stringify(file)}, line ${lineno}`, {
        fragment: `${file}:${lineno}`,
      });
    if (eq < 0) throw syntax('syntax error');
    const key = line.slice(0, eq);
    const val = line.slice(eq + 1);
    if (key === 'service') throw syntax('nested service specifications not supported');
    if (!lookup.keywords.has(key)) throw syntax('syntax error');
    if (!values.has(key)) values.set(key, val);
  }
  return found;
}
