/**
 * plain register: the register workload's job (same workers, same pause,
 * unique-id inserts, the same checks) done the way a typical app without
 * pg-failover does it — one plain `pg.Client` per worker on the hosts of a
 * libpq multi-host string with `target_session_attrs=read-write`
 * (read-write-session.ts, since node-postgres takes neither), a client-side
 * query timeout, a new session after any error (found again every ~50 ms),
 * and a failed insert never retried. Its sockets come from the campaign's
 * client address, so a fault that cuts "the client" cuts it as it cuts the
 * Pool. Its write outages are the "other client" the Pool is measured
 * against; an acknowledged id lost is a late acknowledgement on a demoted node.
 */
import type pg from 'pg';
import { setTimeout as sleep } from 'node:timers/promises';
import { classify, errorLabel, type Invariant, type Op } from '../outcome';
import { invariant, Loops, type CheckContext, type Workload } from './common';
import { connectReadWrite, discard, parseMultiHostUrl, type HostPort } from './read-write-session';

export interface PlainRegisterOptions {
  /** Source address of every socket (the campaign's client address). */
  localAddress?: string;
  workers?: number;
  pauseMillis?: number;
  /** Per host when looking for the primary (default 1000). */
  connectTimeoutMillis?: number;
  /** pg's `query_timeout` on each insert (default 2000; 0 = none, pg's default): an app's bound on a hung server. */
  queryTimeoutMillis?: number;
  /** Pause between passes over the hosts when none was read-write (default 50). */
  retryMillis?: number;
}

export class PlainRegisterWorkload implements Workload {
  readonly name = 'plain register';
  readonly ops: Op[] = [];
  readonly hosts: HostPort[];
  readonly #o: Required<Omit<PlainRegisterOptions, 'localAddress'>> & { localAddress?: string };
  readonly #loops = new Loops();
  readonly #sessions: Array<pg.Client | undefined>;
  readonly #acked = new Set<number>();
  readonly #failed = new Set<number>();
  readonly #unknown = new Set<number>();
  readonly #pending = new Set<number>();
  readonly #errors = new Map<string, number>();
  #nextId = 1;
  #sessionsOpened = 0;
  #resolved = { committed: 0, absent: 0 };

  /** `connectionString`: a libpq multi-host URL, e.g. `postgresql://postgres@h1:5432,h2:5432/postgres?target_session_attrs=read-write`. */
  constructor(connectionString: string, o: PlainRegisterOptions = {}) {
    const { hosts, targetSessionAttrs } = parseMultiHostUrl(connectionString);
    if (targetSessionAttrs !== 'read-write') throw new Error(`plain register needs target_session_attrs=read-write, got ${targetSessionAttrs}`);
    this.hosts = hosts;
    this.#o = { workers: o.workers ?? 2, pauseMillis: o.pauseMillis ?? 20, connectTimeoutMillis: o.connectTimeoutMillis ?? 1000, queryTimeoutMillis: o.queryTimeoutMillis ?? 2000, retryMillis: o.retryMillis ?? 50, ...(o.localAddress ? { localAddress: o.localAddress } : {}) };
    this.#sessions = Array.from({ length: this.#o.workers }, () => undefined);
  }

  async setup(primary: pg.Client): Promise<void> {
    // The register's schema; no unique constraint: a duplicate must be visible, not refused.
    await primary.query('CREATE TABLE IF NOT EXISTS plain_register (id bigint NOT NULL, worker int NOT NULL, at timestamptz NOT NULL DEFAULT now())');
  }

  start(): void {
    this.#loops.start(this.#o.workers, (w) => this.#step(w), this.#o.pauseMillis);
  }

  /** A read-write session for `worker`, looked for until found or stopped. */
  async #session(worker: number): Promise<pg.Client | undefined> {
    while (!this.#sessions[worker] && !this.#loops.stopped) {
      const s = await connectReadWrite(this.hosts, { localAddress: this.#o.localAddress, connectTimeoutMillis: this.#o.connectTimeoutMillis, ...(this.#o.queryTimeoutMillis > 0 ? { queryTimeoutMillis: this.#o.queryTimeoutMillis } : {}) });
      if (s) {
        this.#sessions[worker] = s;
        this.#sessionsOpened++;
      } else await sleep(this.#o.retryMillis);
    }
    return this.#sessions[worker];
  }

  async #step(worker: number): Promise<void> {
    const session = await this.#session(worker);
    if (!session || this.#loops.stopped) return;
    const id = this.#nextId++;
    this.#pending.add(id);
    const start = Date.now();
    try {
      await session.query('INSERT INTO plain_register (id, worker) VALUES ($1, $2)', [id, worker]);
      this.#acked.add(id);
      this.ops.push({ workload: this.name, kind: 'write', start, end: Date.now(), outcome: 'ok' });
    } catch (e) {
      const outcome = classify(e);
      (outcome === 'failed' ? this.#failed : this.#unknown).add(id);
      const label = errorLabel(e);
      this.#errors.set(label, (this.#errors.get(label) ?? 0) + 1);
      this.ops.push({ workload: this.name, kind: 'write', start, end: Date.now(), outcome, error: label });
      // After any error, a new session (it may be a demoted, cut or frozen node's).
      this.#sessions[worker] = undefined;
      discard(session);
    } finally {
      this.#pending.delete(id);
    }
  }

  async stop(graceMillis: number): Promise<void> {
    await this.#loops.stop(graceMillis);
    for (const id of this.#pending) this.#unknown.add(id); // still in flight: in doubt
    for (const s of this.#sessions) discard(s);
  }

  async check({ primary }: CheckContext): Promise<Invariant[]> {
    const { rows } = await primary.query<{ id: string; n: number }>('SELECT id::text, count(*)::int AS n FROM plain_register GROUP BY id');
    const count = new Map(rows.map((r) => [Number(r.id), r.n]));
    const lost = [...this.#acked].filter((id) => !count.has(id)).map((id) => `id ${id}`);
    const dup = rows.filter((r) => r.n > 1).map((r) => `id ${r.id} ×${r.n}`);
    const failedPresent = [...this.#failed].filter((id) => count.has(id)).map((id) => `id ${id}`);
    const attempted = (id: number) => this.#acked.has(id) || this.#failed.has(id) || this.#unknown.has(id);
    const phantom = rows.filter((r) => !attempted(Number(r.id))).map((r) => `id ${r.id}`);
    for (const id of this.#unknown) {
      if (count.has(id)) this.#resolved.committed++;
      else this.#resolved.absent++;
    }
    return [
      invariant('plain register: acknowledged insert lost', this.#acked.size, lost),
      invariant('plain register: duplicate id', rows.length, dup),
      invariant('plain register: insert reported failed is present', this.#failed.size, failedPresent),
      invariant('plain register: row never inserted (phantom)', rows.length, phantom),
    ];
  }

  stats(): Record<string, number> {
    const errors = Object.fromEntries([...this.#errors].map(([k, v]) => [`error ${k}`, v]));
    return {
      acknowledged: this.#acked.size,
      failed: this.#failed.size,
      'in doubt': this.#unknown.size,
      'in doubt → committed (read)': this.#resolved.committed,
      'in doubt → absent (read)': this.#resolved.absent,
      'sessions opened': this.#sessionsOpened,
      'query timeout ms (0: none)': this.#o.queryTimeoutMillis,
      ...errors,
    };
  }
}
