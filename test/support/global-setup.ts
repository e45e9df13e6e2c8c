/**
 * Runs once around the whole suite: makes one temp root that every test
 * cluster lives in, makes sure an unprivileged OS user exists for PostgreSQL
 * when we are root, and at the end asserts that no process and no directory
 * was leaked (anything left is killed by PID and reported as a failure).
 */
import { mkdtempSync, chmodSync, readdirSync, readlinkSync, rmSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function setup(): () => void {
  if (process.getuid?.() === 0 && !process.env.PGFAILOVER_RUN_AS) {
    const hasPostgres = (() => {
      try {
        execFileSync('getent', ['passwd', 'postgres'], { stdio: 'ignore' });
        return true;
      } catch {
        return false;
      }
    })();
    if (!hasPostgres) {
      try {
        execFileSync('getent', ['passwd', 'pgfailover'], { stdio: 'ignore' });
      } catch {
        execFileSync('useradd', ['--system', '--create-home', '--shell', '/usr/sbin/nologin', 'pgfailover']);
      }
      process.env.PGFAILOVER_RUN_AS = 'pgfailover';
    }
  }
  const root = mkdtempSync(join(tmpdir(), 'pgfo-test-'));
  chmodSync(root, 0o711);
  process.env.PGFAILOVER_TEST_ROOT = root;

  return () => {
    const leaked = processesUnder(root);
    for (const p of leaked) {
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    const leftovers = readdirSync(root);
    rmSync(root, { recursive: true, force: true });
    if (leaked.length || leftovers.length) {
      throw new Error(
        `test suite leaked ${leaked.length} process(es) [${leaked.map((p) => `${p.pid} ${p.cmd}`).join('; ')}] ` +
          `and ${leftovers.length} directory entr(ies) [${leftovers.join(', ')}] under ${root}`,
      );
    }
  };
}

/** Processes whose working directory is inside `root` (postgres and etcd run with cwd = their data dir). */
export function processesUnder(root: string): Array<{ pid: number; cmd: string }> {
  const found: Array<{ pid: number; cmd: string }> = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cwd = readlinkSync(`/proc/${entry}/cwd`);
      if (cwd === root || cwd.startsWith(root + '/')) {
        const cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
        found.push({ pid: Number(entry), cmd });
      }
    } catch {
      /* gone or not ours */
    }
  }
  return found;
}
