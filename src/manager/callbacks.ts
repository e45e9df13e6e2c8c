/**
 * Patroni's `postgresql.callbacks`: user commands run on life-cycle events,
 * e.g. to re-point PgBouncer or a backup tool at the new primary.
 *
 * The contract is Patroni's: the configured command line is split like a
 * POSIX shell would split it (quotes and backslashes, no expansion) and run
 * as `<cmd…> <action> <role> <scope>`, without waiting for it; one runs at a
 * time, and a new callback ends the one still running (its whole process
 * group) — only the latest state matters. Failures are logged, never fatal.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import createDebug from 'debug';

const debug = createDebug('pg-failover:manager');

export const CALLBACK_ACTIONS = ['on_start', 'on_stop', 'on_restart', 'on_reload', 'on_role_change'] as const;
export type CallbackAction = (typeof CALLBACK_ACTIONS)[number];

/** Splits a command line like a POSIX shell (single/double quotes, backslash escapes); no variables, globs or pipes. */
export function splitCommandLine(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let inWord = false;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (quote === "'") {
      if (ch === "'") quote = undefined;
      else cur += ch;
      continue;
    }
    if (quote === '"') {
      if (ch === '"') quote = undefined;
      else if (ch === '\\' && i + 1 < line.length && '"\\$`\n'.includes(line[i + 1]!)) cur += line[++i];
      else cur += ch;
      continue;
    }
    if (ch === "'" || ch === '"') {
      quote = ch;
      inWord = true;
    } else if (ch === '\\' && i + 1 < line.length) {
      cur += line[++i];
      inWord = true;
    } else if (/\s/.test(ch)) {
      if (inWord) out.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += ch;
      inWord = true;
    }
  }
  if (quote) throw new Error(`unterminated ${quote} quote in callback command: ${line}`);
  if (inWord) out.push(cur);
  return out;
}

export interface CallbackRunnerOptions {
  scope: string;
  commands: Partial<Record<CallbackAction, string>>;
  log: (line: string) => void;
}

export class CallbackRunner {
  readonly #options: CallbackRunnerOptions;
  #running: ChildProcess | undefined;

  constructor(options: CallbackRunnerOptions) {
    this.#options = options;
  }

  /** Runs the command configured for `action` (if any) with `action role scope` appended. Never throws. */
  fire(action: CallbackAction, role: string): void {
    const line = this.#options.commands[action];
    if (!line) return;
    let argv: string[];
    try {
      argv = [...splitCommandLine(line), action, role, this.#options.scope];
    } catch (e) {
      this.#options.log(`callback ${action}: ${(e as Error).message}`);
      return;
    }
    this.#stopRunning();
    debug('callback %s: %o', action, argv);
    try {
      const child = spawn(argv[0]!, argv.slice(1), { stdio: 'ignore', detached: true });
      this.#running = child;
      child.on('error', (e) => this.#options.log(`callback ${action} (${argv[0]}) could not start: ${e.message}`));
      child.on('exit', (code, signal) => {
        if (this.#running === child) this.#running = undefined;
        if (code !== 0 && signal !== 'SIGKILL') this.#options.log(`callback ${action} ${role} exited with ${code ?? signal}`);
      });
      child.unref();
    } catch (e) {
      this.#options.log(`callback ${action} (${argv[0]}) could not start: ${(e as Error).message}`);
    }
  }

  /** Forgets the running callback; it is left to finish on its own (an on_stop must not be cut short). */
  close(): void {
    this.#running = undefined;
  }

  #stopRunning(): void {
    const child = this.#running;
    this.#running = undefined;
    if (!child?.pid || child.exitCode !== null || child.signalCode !== null) return;
    try {
      process.kill(-child.pid, 'SIGKILL'); // its own process group: children too
    } catch {
      // already gone
    }
  }
}
