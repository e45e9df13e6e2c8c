/** What the workloads share: a loop runner with a bounded stop, and plain pg clients bound to a source address. */
import { Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import type { Invariant, Measurement, Op } from '../outcome';

/** Where the final checks read: the leader, and the standbys that answer. */
export interface CheckContext {
  primary: pg.Client;
  standbys: pg.Client[];
}

/** One workload of the campaign: its own client(s), loops, a checker. */
export interface Workload {
  readonly name: string;
  /** Timed operations (for outages). */
  readonly ops: Op[];
  /** Creates its tables through a plain session to the primary. */
  setup(primary: pg.Client): Promise<void>;
  start(): void;
  /** Stops the loops; waits for in-flight operations at most `graceMillis` (those left count as in doubt). */
  stop(graceMillis: number): Promise<void>;
  /** Reads the final state and returns each invariant with its violations. */
  check(ctx: CheckContext): Promise<Invariant[]>;
  /** Counters for the report (operations by outcome, in-doubt resolution …). */
  stats(): Record<string, number>;
  /** Counted, never violations (after check()). */
  measurements?(): Measurement[];
}

/** Runs `workers` copies of `body` until stop() is called; stop() waits for them at most graceMillis. */
export class Loops {
  #stopped = false;
  #running: Promise<void>[] = [];

  get stopped(): boolean {
    return this.#stopped;
  }

  start(workers: number, body: (worker: number) => Promise<void>, pauseMillis: number): void {
    for (let w = 0; w < workers; w++) {
      this.#running.push(
        (async () => {
          while (!this.#stopped) {
            await body(w);
            await sleep(pauseMillis);
          }
        })(),
      );
    }
  }

  async stop(graceMillis: number): Promise<void> {
    this.#stopped = true;
    await Promise.race([Promise.allSettled(this.#running), sleep(graceMillis)]);
  }
}

/**
 * A plain pg.Client to host:port whose socket is bound to `localAddress` (so
 * network rules can tell it apart); `queryTimeoutMillis` is pg's client-side
 * `query_timeout` (none by default).
 */
export function plainClient(host: string, port: number, localAddress?: string, connectionTimeoutMillis = 2000, queryTimeoutMillis?: number): pg.Client {
  const client = new pg.Client({
    host,
    port,
    user: 'postgres',
    database: 'postgres',
    connectionTimeoutMillis,
    keepAlive: true,
    ...(queryTimeoutMillis !== undefined ? { query_timeout: queryTimeoutMillis } : {}),
    ...(localAddress
      ? {
          stream: () => {
            const s = new Socket();
            const connect = s.connect.bind(s) as (o: { port: number; host: string; localAddress: string }) => Socket;
            (s as unknown as { connect: (port: number, host: string) => Socket }).connect = (p: number, h: string) => connect({ port: p, host: h, localAddress });
            return s;
          },
        }
      : {}),
  });
  client.on('error', () => {});
  return client;
}

/** An invariant from a list of violating examples. */
export function invariant(name: string, checked: number, violations: string[]): Invariant {
  return { name, checked, violations: violations.length, examples: violations.slice(0, 10) };
}
