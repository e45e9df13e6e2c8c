/**
 * Free TCP ports on loopback, for local clusters, tests and benchmarks.
 *
 * Ports come from below the kernel's ephemeral range: a port the kernel hands
 * out for `listen(0)` is also one it may hand to any outgoing connection as
 * its local port while our server is still starting (pg_basebackup, initdb),
 * and the server then fails with "Address already in use". Processes on the
 * same machine (parallel test workers, several benches) coordinate through
 * reservation files in `<tmpdir>/pg-failover-ports/<port>` holding the owner's
 * PID; a reservation whose owner is dead is taken over, and a process removes
 * its own reservations when it exits.
 */
import { createServer, Socket } from 'node:net';
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const handedOut = new Set<number>();
const reservationDir = join(tmpdir(), 'pg-failover-ports');
let exitHookInstalled = false;

/** The range we pick from: the 12,000 ports just below the ephemeral range (or 20000–32767). */
export function portRange(): { low: number; high: number } {
  let ephemeralLow = 32768;
  try {
    const [low] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (low !== undefined && low > 2048) ephemeralLow = low;
  } catch {
    // not Linux: keep the IANA default
  }
  const high = ephemeralLow - 1;
  return { low: Math.max(1024, high - 12_000), high };
}

/** A port nobody listens on right now on `host`, not reserved by another live process, and not handed out before by this one. */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const { low, high } = portRange();
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = low + Math.floor(Math.random() * (high - low + 1));
    if (handedOut.has(port)) continue;
    if (!reserve(port)) continue;
    if (await canListen(port, host)) {
      handedOut.add(port);
      return port;
    }
    release(port);
  }
  throw new Error(`could not find a free port in ${low}-${high} on ${host}`);
}

/** True when something accepts TCP connections on host:port. */
export function isListening(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const s = new Socket();
    s.setTimeout(500);
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('timeout', () => { s.destroy(); resolve(false); });
    s.once('error', () => resolve(false));
    s.connect(port, host);
  });
}

function canListen(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen({ port, host, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

/** Creates the reservation file for `port`; false when a live process holds it. */
function reserve(port: number): boolean {
  const file = join(reservationDir, String(port));
  try {
    mkdirSync(reservationDir, { recursive: true, mode: 0o1777 });
  } catch {
    return true; // no shared directory (read-only tmp): fall back to the bind check alone
  }
  for (let tries = 0; tries < 2; tries++) {
    try {
      const fd = openSync(file, 'wx', 0o644);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      installExitHook();
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') return true;
      const owner = Number(safeRead(file));
      if (!(owner > 0) || owner === process.pid || isAlive(owner)) return false; // empty: being written
      try {
        unlinkSync(file); // its owner is dead: take it over
      } catch {
        return false;
      }
    }
  }
  return false;
}

function release(port: number): void {
  const file = join(reservationDir, String(port));
  if (Number(safeRead(file)) !== process.pid) return;
  try {
    unlinkSync(file);
  } catch {
    // already gone
  }
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  sweepStale();
  process.once('exit', () => {
    for (const port of handedOut) release(port);
  });
}

/** Removes reservations of processes that died without their exit hook running (SIGKILL, a test runner's SIGTERM). */
function sweepStale(): void {
  let entries: string[] = [];
  try {
    entries = readdirSync(reservationDir);
  } catch {
    return;
  }
  for (const name of entries) {
    const file = join(reservationDir, name);
    const owner = Number(safeRead(file));
    if (!(owner > 0) || isAlive(owner)) continue; // empty: its creator is writing its PID right now
    try {
      unlinkSync(file);
    } catch {
      // raced with another sweeper
    }
  }
}

function safeRead(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
