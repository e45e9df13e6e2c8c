/**
 * Finding PostgreSQL's server programs (initdb, pg_ctl, postgres, pg_basebackup,
 * pg_rewind …). Debian keeps them out of PATH, in /usr/lib/postgresql/<ver>/bin.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, accessSync, constants } from 'node:fs';
import { join, delimiter } from 'node:path';
import { ProcessError } from '../errors';

export const REQUIRED_PROGRAMS = ['initdb', 'postgres', 'pg_ctl', 'pg_basebackup', 'pg_rewind', 'pg_controldata'] as const;
export type PgProgram = (typeof REQUIRED_PROGRAMS)[number] | 'psql' | 'pg_isready';

export interface PgBinaries {
  /** Directory holding the programs. */
  bindir: string;
  /** Major version, e.g. 15. */
  major: number;
  /** Absolute path of a program in `bindir`. */
  path(program: PgProgram): string;
}

export interface FindBinariesOptions {
  /** Explicit directory; wins over everything else. Also `PGFAILOVER_PG_BINDIR`. */
  bindir?: string;
  env?: NodeJS.ProcessEnv;
}

/**
 * Looks, in order, at: the explicit `bindir` option, `$PGFAILOVER_PG_BINDIR`,
 * `PATH`, `pg_config --bindir`, and `/usr/lib/postgresql/<ver>/bin` (newest
 * first). Throws BINARY_NOT_FOUND naming the missing programs and the package
 * that provides them.
 */
export function findPgBinaries(options: FindBinariesOptions = {}): PgBinaries {
  const env = options.env ?? process.env;
  const explicit = options.bindir ?? env.PGFAILOVER_PG_BINDIR;
  const tried: string[] = [];
  const candidates: string[] = [];
  if (explicit) candidates.push(explicit);
  else {
    for (const dir of (env.PATH ?? '').split(delimiter)) if (dir) candidates.push(dir);
    const fromPgConfig = pgConfigBindir();
    if (fromPgConfig) candidates.push(fromPgConfig);
    candidates.push(...debianBindirs());
  }
  for (const dir of candidates) {
    tried.push(dir);
    if (REQUIRED_PROGRAMS.every((p) => isExecutable(join(dir, p)))) return make(dir);
  }
  const missing = explicit ? REQUIRED_PROGRAMS.filter((p) => !isExecutable(join(explicit, p))) : [...REQUIRED_PROGRAMS];
  throw new ProcessError(
    'BINARY_NOT_FOUND',
    `PostgreSQL server programs not found (${missing.join(', ')}) in ${explicit ? explicit : 'PATH, pg_config --bindir or /usr/lib/postgresql/*/bin'}. ` +
      'Install them (Debian/Ubuntu: `apt-get install postgresql-15`, or any postgresql-13+ server package) ' +
      'or point PGFAILOVER_PG_BINDIR / the bindir option at the directory that holds initdb and postgres.',
    { detail: { tried, missing } },
  );
}

function make(bindir: string): PgBinaries {
  const major = detectMajor(join(bindir, 'postgres'));
  return { bindir, major, path: (program) => join(bindir, program) };
}

function detectMajor(postgres: string): number {
  const out = execFileSync(postgres, ['--version'], { encoding: 'utf8' });
  const m = /(\d+)(?:\.(\d+))?/.exec(out);
  if (!m) throw new ProcessError('BINARY_NOT_FOUND', `could not read the version of ${postgres}: ${out.trim()}`);
  return Number(m[1]);
}

function pgConfigBindir(): string | undefined {
  try {
    return execFileSync('pg_config', ['--bindir'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() || undefined;
  } catch {
    return undefined;
  }
}

function debianBindirs(): string[] {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .filter((v) => /^\d+$/.test(v))
    .sort((a, b) => Number(b) - Number(a))
    .map((v) => join(root, v, 'bin'));
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Finds etcd (and etcdctl) on PATH or `$PGFAILOVER_ETCD`; BINARY_NOT_FOUND names the Debian package. */
export function findEtcd(env: NodeJS.ProcessEnv = process.env): string {
  const explicit = env.PGFAILOVER_ETCD;
  if (explicit) {
    if (isExecutable(explicit)) return explicit;
    throw new ProcessError('BINARY_NOT_FOUND', `PGFAILOVER_ETCD=${explicit} is not an executable file.`);
  }
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir && isExecutable(join(dir, 'etcd'))) return join(dir, 'etcd');
  }
  throw new ProcessError(
    'BINARY_NOT_FOUND',
    'etcd not found on PATH. Install it (Debian/Ubuntu: `apt-get install etcd-server`) or set PGFAILOVER_ETCD to the etcd binary.',
  );
}
