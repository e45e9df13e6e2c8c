/**
 * Signals to a whole PostgreSQL node. PostgreSQL's children call setsid(), so
 * a signal to the postmaster's process group reaches the postmaster only:
 * SIGSTOP there leaves every backend serving, and SIGKILL leaves them to exit
 * on postmaster death. A real node death or hang hits every process, so this
 * signals the postmaster and each of its children by PID (from /proc).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

/** The parent PID in a `/proc/<pid>/stat` line: pid (comm) state ppid …; comm may contain spaces and parentheses. */
function parentIn(stat: string): number {
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}

/** The postmaster's direct children (every PostgreSQL process of the node). */
export function childrenOf(ppid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (parentIn(readFileSync(`/proc/${entry}/stat`, 'utf8')) === ppid) out.push(Number(entry));
    } catch {
      /* exited meanwhile */
    }
  }
  return out;
}

/**
 * {@link childrenOf} without blocking the event loop: /proc is read through libuv's thread pool.
 * On a loaded 2-core host the synchronous scan took up to ~230 ms, during which nothing else in
 * the process ran (the fault campaign's clients, whose answers then got stamped after the kill).
 */
export async function childrenOfAsync(ppid: number): Promise<number[]> {
  const entries = (await readdir('/proc')).filter((e) => /^\d+$/.test(e));
  const found = await Promise.all(
    entries.map(async (entry) => {
      try {
        return parentIn(await readFile(`/proc/${entry}/stat`, 'utf8')) === ppid ? Number(entry) : undefined;
      } catch {
        return undefined; // exited meanwhile
      }
    }),
  );
  return found.filter((p): p is number => p !== undefined);
}

/** Sends `signal` to the postmaster, then to each of `children` (found beforehand): all in one go, no I/O. */
export function signalNodeNow(postmasterPid: number, children: readonly number[], signal: NodeJS.Signals): void {
  send(postmasterPid, signal);
  for (const pid of children) send(pid, signal);
}

function send(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    /* gone */
  }
}

/** Sends `signal` to the postmaster first (so it forks nothing new), then to each child. */
export function signalWholeNode(postmasterPid: number, signal: NodeJS.Signals): void {
  const children = childrenOf(postmasterPid);
  send(postmasterPid, signal);
  for (const pid of children) send(pid, signal);
}

/** kill -9 of the postmaster and every child at once; resolves when all are gone (bounded). */
export async function killWholeNode(postmasterPid: number, timeoutMillis = 10_000): Promise<void> {
  const pids = [postmasterPid, ...childrenOf(postmasterPid)];
  for (const pid of pids) send(pid, 'SIGKILL');
  const deadline = Date.now() + timeoutMillis;
  while (Date.now() < deadline && pids.some(alive)) await sleep(10);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
