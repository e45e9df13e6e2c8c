/**
 * Running external programs (initdb, pg_basebackup, pg_rewind …) with a
 * deadline, optionally as another OS user, and turning failures into
 * {@link ProcessError}s that carry the program's own output.
 */
import { spawn, execFileSync } from 'node:child_process';
import { ProcessError, redact } from '../errors';

/** An OS user the PostgreSQL processes run as (PostgreSQL refuses to run as root). */
export interface OsUser {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

export interface RunOptions {
  /** Run as this user instead of the current one (requires root). */
  user?: OsUser;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  timeoutMillis?: number;
  /** Written to the program's standard input. */
  input?: string;
}

export interface RunResult {
  stdout: string;
  stderr: string;
}

/** Runs a program to completion; rejects with COMMAND_FAILED (exit != 0) or TIMEOUT. */
export function run(file: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const timeout = options.timeoutMillis ?? 120_000;
  return new Promise((resolve, reject) => {
    const child = spawn(file, args as string[], {
      cwd: options.cwd ?? '/',
      env: userEnv(options.user, options.env),
      stdio: ['pipe', 'pipe', 'pipe'],
      ...(options.user ? { uid: options.user.uid, gid: options.user.gid } : {}),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new ProcessError('TIMEOUT', `${describe(file, args)} did not finish within ${timeout} ms`, {
          detail: { stderr: tail(stderr) },
        }),
      );
    }, timeout);
    timer.unref();
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new ProcessError('COMMAND_FAILED', `could not run ${describe(file, args)}: ${err.message}`, { cause: err }));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) return resolve({ stdout, stderr });
      reject(
        new ProcessError(
          'COMMAND_FAILED',
          `${describe(file, args)} failed (${signal ? `signal ${signal}` : `exit code ${code}`}): ${tail(stderr || stdout)}`,
          { detail: { exitCode: code, signal, stderr: tail(stderr), stdout: tail(stdout) } },
        ),
      );
    });
    if (options.input !== undefined) child.stdin.end(options.input);
    else child.stdin.end();
  });
}

/** The environment for a child running as `user`: its HOME and USER, without our PG* connection variables. */
export function userEnv(user: OsUser | undefined, extra?: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, LC_ALL: 'C.UTF-8', LANG: 'C.UTF-8' };
  for (const k of Object.keys(env)) if (/^PG[A-Z]/.test(k)) delete env[k];
  if (user) {
    env.HOME = user.home;
    env.USER = user.name;
    env.LOGNAME = user.name;
  }
  return { ...env, ...extra };
}

/** Looks up an OS user by name; undefined when absent. */
export function lookupUser(name: string): OsUser | undefined {
  try {
    const line = execFileSync('getent', ['passwd', name], { encoding: 'utf8' }).trim();
    const [, , uid, gid, , home] = line.split(':');
    return { name, uid: Number(uid), gid: Number(gid), home: home || '/' };
  } catch {
    return undefined;
  }
}

/** The last lines of a program's output, redacted, for error messages. */
export function tail(text: string, lines = 15): string {
  return redact(text.trim().split('\n').slice(-lines).join('\n'));
}

function describe(file: string, args: readonly string[]): string {
  const name = file.split('/').pop() ?? file;
  return redact([name, ...args].join(' '));
}
