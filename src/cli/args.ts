/** Small helpers for the CLI's flags (node:util parseArgs underneath). */
import { FailoverError } from '../errors';

export function intFlag(value: string | undefined, name: string, fallback: number, min = 0): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) {
    throw new FailoverError('INVALID_OPTION', `--${name} must be an integer ≥ ${min} (got ${JSON.stringify(value)})`);
  }
  return n;
}

/** Resolves on SIGINT/SIGTERM (Ctrl-C), or after `millis` when given. */
export function untilSignal(millis?: number): Promise<string> {
  return new Promise((resolve) => {
    const done = (why: string) => {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      if (timer) clearTimeout(timer);
      clearInterval(keepAlive);
      resolve(why);
    };
    const onInt = () => done('SIGINT');
    const onTerm = () => done('SIGTERM');
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
    const keepAlive = setInterval(() => {}, 1 << 30); // signal handlers alone do not keep Node running
    const timer = millis !== undefined ? setTimeout(() => done('duration elapsed'), millis) : undefined;
  });
}
