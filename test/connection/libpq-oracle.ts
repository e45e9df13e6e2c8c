/**
 * Runs connection strings through the real libpq's PQconninfoParse, via the
 * small C program in test/support/libpq-parse.c, compiled on first use.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export type LibpqResult =
  | { ok: true; values: Map<string, Buffer> }
  | { ok: false; message: string };

export interface LibpqOracle {
  readonly version: number;
  /** libpq's own keyword table, in its order. */
  readonly keywords: string[];
  parse(inputs: readonly string[]): LibpqResult[];
  /**
   * PQconnectStart on each input (which must end in an invalid
   * channel_binding, so libpq stops before connecting) under exactly `env`:
   * the error message, PQuser/PQdb/PQhost/PQport/PQpass, and PQconninfo.
   */
  resolve(inputs: readonly string[], env: NodeJS.ProcessEnv): Map<string, string>[];
  dispose(): void;
}

const SOURCE = resolve(__dirname, '..', 'support', 'libpq-parse.c');

function run(cmd: string, args: string[]): string | undefined {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return undefined;
  }
}

/** Why the oracle cannot be built here, or undefined when it can. */
export function oracleUnavailableReason(): string | undefined {
  if (run('gcc', ['--version']) === undefined) return 'gcc is not installed';
  const includedir = run('pg_config', ['--includedir']) ?? '/usr/include/postgresql';
  if (!existsSync(join(includedir, 'libpq-fe.h'))) return `libpq-fe.h not found in ${includedir} (install libpq-dev)`;
  return undefined;
}

export function buildOracle(): LibpqOracle {
  const includedir = run('pg_config', ['--includedir']) ?? '/usr/include/postgresql';
  const libdir = run('pg_config', ['--libdir']);
  const dir = mkdtempSync(join(tmpdir(), 'pgfo-libpq-parse-'));
  const bin = join(dir, 'libpq-parse');
  const args = ['-O1', '-o', bin, SOURCE, `-I${includedir}`];
  if (libdir) args.push(`-L${libdir}`);
  args.push('-lpq');
  execFileSync('gcc', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const version = Number(execFileSync(bin, ['--version'], { encoding: 'utf8' }).trim());
  const keywords = execFileSync(bin, ['--keywords'], { encoding: 'utf8' }).split('\n').filter(Boolean);
  return {
    version,
    keywords,
    parse(inputs) {
      const input = inputs.map((s) => Buffer.from(s, 'utf8').toString('hex')).join('\n') + '\n';
      const out = execFileSync(bin, [], { input, maxBuffer: 1 << 28 }).toString('utf8').split('\n');
      out.pop();
      if (out.length !== inputs.length) throw new Error(`libpq-parse answered ${out.length} of ${inputs.length} inputs`);
      return out.map((line): LibpqResult => {
        if (line.startsWith('ERR ')) return { ok: false, message: Buffer.from(line.slice(4), 'hex').toString('utf8') };
        const values = new Map<string, Buffer>();
        for (const pair of line.split(' ').slice(1)) {
          const eq = pair.indexOf('=');
          values.set(pair.slice(0, eq), Buffer.from(pair.slice(eq + 1), 'hex'));
        }
        return { ok: true, values };
      });
    },
    resolve(inputs, env) {
      const input = inputs.map((s) => Buffer.from(s, 'utf8').toString('hex')).join('\n') + '\n';
      const out = execFileSync(bin, ['--resolve'], { input, env, maxBuffer: 1 << 28 }).toString('utf8').split('\n');
      out.pop();
      if (out.length !== inputs.length) throw new Error(`libpq-parse answered ${out.length} of ${inputs.length} inputs`);
      return out.map((line) => {
        const fields = new Map<string, string>();
        for (const pair of line.split(' ').slice(1)) {
          const eq = pair.indexOf('=');
          fields.set(pair.slice(0, eq), Buffer.from(pair.slice(eq + 1), 'hex').toString('utf8'));
        }
        return fields;
      });
    },
    dispose() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
