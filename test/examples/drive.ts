/**
 * Drives example apps (examples/*) against a real managed cluster: a steady
 * phase, then a load of writes, plain reads and transactions through every
 * app at once while a fault happens, recording where each operation ran and
 * how it failed.
 */
import type { ExampleApp } from '../../examples/shared/app';

export interface Op {
  app: string;
  kind: 'write' | 'read' | 'transaction';
  at: number;
  ok: boolean;
  port?: number;
  standby?: boolean;
  ports?: number[];
  pids?: number[];
  /** pg-failover's code, found on the error or on what the library wrapped. */
  code?: string;
  /** The outermost error's class (how the library surfaces ours). */
  wrapper?: string;
  message?: string;
}

/** Longer than any hold (failoverTimeoutMillis 30 s is not reached with ttl 5): an op still pending is a bug. */
const OP_TIMEOUT_MILLIS = 20_000;
const OUR_CODE = /^[A-Z][A-Z_]+[A-Z]$/;

/** pg-failover's code on `err` or anything it wraps (cause, driverError, original, parent). */
export function codeOf(err: unknown): string | undefined {
  const seen = new Set<unknown>();
  let e: unknown = err;
  const queue: unknown[] = [err];
  while (queue.length) {
    e = queue.shift();
    if (!e || typeof e !== 'object' || seen.has(e)) continue;
    seen.add(e);
    const o = e as Record<string, unknown>;
    if (typeof o.code === 'string' && OUR_CODE.test(o.code)) return o.code;
    queue.push(o.cause, o.driverError, o.original, o.parent, o.error);
  }
  return undefined;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One app's sequential stream: write, read, and every 4th round a transaction; ~15 ms apart. */
export function load(app: ExampleApp, firstId: number) {
  const ops: Op[] = [];
  let running = true;
  let id = firstId;
  const record = async (kind: Op['kind'], f: () => Promise<Partial<Op>>) => {
    const at = Date.now();
    try {
      let timer: NodeJS.Timeout | undefined;
      const hung = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(Object.assign(new Error(`${kind} did not settle within ${OP_TIMEOUT_MILLIS} ms`), { code: 'HUNG' })), OP_TIMEOUT_MILLIS);
      });
      try {
        ops.push({ app: app.name, kind, at, ok: true, ...(await Promise.race([f(), hung])) });
      } finally {
        clearTimeout(timer);
      }
    } catch (e) {
      const err = e as Error;
      ops.push({ app: app.name, kind, at, ok: false, code: codeOf(e), wrapper: err?.constructor?.name, message: String(err?.message ?? e).slice(0, 300) });
    }
  };
  const done = (async () => {
    for (let round = 0; running; round++) {
      const wid = id++;
      await record('write', () => app.write(wid));
      await sleep(15);
      await record('read', () => app.read());
      if (round % 4 === 3) {
        const tid = id++;
        await record('transaction', () => app.transaction(tid));
      }
      await sleep(15);
    }
  })();
  return {
    ops,
    async stop(): Promise<Op[]> {
      running = false;
      await done;
      return ops;
    },
  };
}

/** Waits until `ok(ops)` or the deadline; true when it held. */
export async function until(ok: () => boolean, timeoutMillis: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMillis;
  while (Date.now() < deadline) {
    if (ok()) return true;
    await sleep(50);
  }
  return ok();
}

/** A one-line summary per app. */
export function summary(ops: Op[]): string {
  const by = (k: Op['kind']) => ops.filter((o) => o.kind === k);
  const failed = ops.filter((o) => !o.ok);
  const codes = [...new Set(failed.map((f) => `${f.code ?? 'no code'} (${f.wrapper})`))].join(', ');
  const reads = by('read').filter((o) => o.ok);
  return `${by('write').length} writes, ${reads.length}/${by('read').length} reads ok (${reads.filter((r) => r.standby).length} on standbys), ${by('transaction').length} transactions, ${failed.length} failed${codes ? `: ${codes}` : ''}`;
}
