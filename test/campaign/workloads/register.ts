/**
 * register: inserts with unique ids through our Pool. At the end every
 * acknowledged id is present exactly once, an insert reported failed is
 * absent, and one in doubt is resolved by reading (committed or not).
 */
import type pg from 'pg';
import type { Pool } from '../../../src';
import { classify, errorLabel, type Invariant, type Measurement, type Op } from '../outcome';
import { invariant, Loops, type CheckContext, type Workload } from './common';

export class RegisterWorkload implements Workload {
  readonly name = 'register';
  readonly ops: Op[] = [];
  readonly #loops = new Loops();
  readonly #acked = new Set<number>();
  readonly #failed = new Set<number>();
  readonly #unknown = new Set<number>();
  readonly #pending = new Set<number>();
  readonly #errors = new Map<string, number>();
  #nextId = 1;
  #resolved = { committed: 0, absent: 0 };
  #claimedCommitted = 0;
  /** Writes whose outcome the Pool itself could not tell (it resolves the rest with resolveWriteOutcome). */
  readonly #leftInDoubt: string[] = [];

  constructor(readonly pool: Pool, readonly workers = 2, readonly pauseMillis = 20, readonly resolvesWrites = true) {}

  async setup(primary: pg.Client): Promise<void> {
    // No unique constraint: a duplicate must be visible, not refused.
    await primary.query('CREATE TABLE IF NOT EXISTS register (id bigint NOT NULL, worker int NOT NULL, at timestamptz NOT NULL DEFAULT now())');
  }

  start(): void {
    this.#loops.start(this.workers, (w) => this.#insert(w), this.pauseMillis);
  }

  async #insert(worker: number): Promise<void> {
    const id = this.#nextId++;
    this.#pending.add(id);
    const start = Date.now();
    try {
      await this.pool.query('INSERT INTO register (id, worker) VALUES ($1, $2)', [id, worker]);
      this.#acked.add(id);
      this.ops.push({ workload: this.name, kind: 'write', start, end: Date.now(), outcome: 'ok' });
    } catch (e) {
      const label = errorLabel(e);
      this.#errors.set(label, (this.#errors.get(label) ?? 0) + 1);
      if (label === 'TRANSACTION_COMMITTED') {
        // The Pool resolved it as committed (its result was lost): held to that claim like an acknowledgement.
        this.#acked.add(id);
        this.#claimedCommitted++;
        this.ops.push({ workload: this.name, kind: 'write', start, end: Date.now(), outcome: 'ok', error: label });
        return;
      }
      const outcome = classify(e);
      (outcome === 'failed' ? this.#failed : this.#unknown).add(id);
      const why = (e as { detail?: { why?: unknown } }).detail?.why;
      if (outcome === 'unknown') this.#leftInDoubt.push(`id ${id} at ${new Date(start).toISOString()}: ${label}${typeof why === 'string' ? ` (${why})` : ''}`);
      this.ops.push({ workload: this.name, kind: 'write', start, end: Date.now(), outcome, error: label });
    } finally {
      this.#pending.delete(id);
    }
  }

  async stop(graceMillis: number): Promise<void> {
    await this.#loops.stop(graceMillis);
    for (const id of this.#pending) this.#unknown.add(id); // still in flight: in doubt
  }

  async check({ primary }: CheckContext): Promise<Invariant[]> {
    const { rows } = await primary.query<{ id: string; n: number }>('SELECT id::text, count(*)::int AS n FROM register GROUP BY id');
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
      invariant('register: acknowledged insert lost', this.#acked.size, lost),
      invariant('register: duplicate id', rows.length, dup),
      invariant('register: insert reported failed is present', this.#failed.size, failedPresent),
      invariant('register: row never inserted (phantom)', rows.length, phantom),
    ];
  }

  /** What the Pool left in doubt, with `resolveWriteOutcome` on (issue 19's target: 0 in synchronous mode). */
  measurements(): Measurement[] {
    const attempts = this.ops.filter((o) => o.kind === 'write').length;
    return [{ name: `register: writes the Pool left in doubt (resolveWriteOutcome ${this.resolvesWrites ? 'on' : 'off'})`, checked: attempts, count: this.#leftInDoubt.length, examples: this.#leftInDoubt.slice(0, 10) }];
  }

  stats(): Record<string, number> {
    const errors = Object.fromEntries([...this.#errors].map(([k, v]) => [`error ${k}`, v]));
    return {
      acknowledged: this.#acked.size,
      'resolved by the Pool as committed (result lost)': this.#claimedCommitted,
      failed: this.#failed.size,
      'in doubt': this.#unknown.size,
      'in doubt → committed (read)': this.#resolved.committed,
      'in doubt → absent (read)': this.#resolved.absent,
      ...errors,
    };
  }
}
