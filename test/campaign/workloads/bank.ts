/**
 * bank: transfers between accounts in transactions (checked-out client,
 * BEGIN/UPDATE/UPDATE/COMMIT) through our Pool, and reads of the total
 * through the same Pool (routed to standbys or the primary). Every read of
 * the total sees the same total; so does the final read on every node.
 */
import type pg from 'pg';
import type { Pool, PoolClient } from '../../../src';
import { classify, errorLabel, type Invariant, type Op } from '../outcome';
import { invariant, Loops, type CheckContext, type Workload } from './common';

const ACCOUNTS = 5;
const INITIAL = 100;
const TOTAL = ACCOUNTS * INITIAL;

export class BankWorkload implements Workload {
  readonly name = 'bank';
  readonly ops: Op[] = [];
  readonly #writers = new Loops();
  readonly #readers = new Loops();
  readonly #badReads: string[] = [];
  readonly #errors = new Map<string, number>();
  #reads = 0;
  #transfers = { ok: 0, failed: 0, unknown: 0 };
  #seq = 0;

  constructor(readonly pool: Pool, readonly workers = 2, readonly pauseMillis = 30) {}

  async setup(primary: pg.Client): Promise<void> {
    await primary.query('CREATE TABLE IF NOT EXISTS accounts (id int PRIMARY KEY, balance bigint NOT NULL)');
    await primary.query(`INSERT INTO accounts SELECT g, ${INITIAL} FROM generate_series(1, ${ACCOUNTS}) g ON CONFLICT DO NOTHING`);
  }

  start(): void {
    this.#writers.start(this.workers, () => this.#transfer(), this.pauseMillis);
    this.#readers.start(1, () => this.#read(), this.pauseMillis);
  }

  async #transfer(): Promise<void> {
    const n = this.#seq++;
    const a = 1 + (n % ACCOUNTS);
    const b = 1 + ((n * 7 + 3) % ACCOUNTS);
    if (a === b) return;
    const [lo, hi] = a < b ? [a, b] : [b, a]; // one lock order: no deadlocks between workers
    const amount = 1 + (n % 9);
    const start = Date.now();
    let client: PoolClient | undefined;
    try {
      client = await this.pool.connect();
      await client.query('BEGIN');
      await client.query('UPDATE accounts SET balance = balance + $1 WHERE id = $2', [lo === a ? -amount : amount, lo]);
      await client.query('UPDATE accounts SET balance = balance + $1 WHERE id = $2', [hi === a ? -amount : amount, hi]);
      await client.query('COMMIT');
      client.release();
      this.#transfers.ok++;
      this.ops.push({ workload: this.name, kind: 'write', start, end: Date.now(), outcome: 'ok' });
    } catch (e) {
      client?.release(e as Error);
      const outcome = classify(e);
      this.#transfers[outcome === 'failed' ? 'failed' : 'unknown']++;
      const label = errorLabel(e);
      this.#errors.set(label, (this.#errors.get(label) ?? 0) + 1);
      this.ops.push({ workload: this.name, kind: 'write', start, end: Date.now(), outcome, error: label });
    }
  }

  async #read(): Promise<void> {
    const start = Date.now();
    try {
      const { rows } = await this.pool.query<{ total: number; n: number; standby: boolean }>(
        'SELECT sum(balance)::int AS total, count(*)::int AS n, pg_is_in_recovery() AS standby FROM accounts',
      );
      this.#reads++;
      const r = rows[0]!;
      if (r.total !== TOTAL || r.n !== ACCOUNTS) this.#badReads.push(`${new Date(start).toISOString()} total ${r.total} over ${r.n} accounts on a ${r.standby ? 'standby' : 'primary'}`);
      this.ops.push({ workload: this.name, kind: 'read', start, end: Date.now(), outcome: 'ok' });
    } catch (e) {
      this.ops.push({ workload: this.name, kind: 'read', start, end: Date.now(), outcome: classify(e), error: errorLabel(e) });
    }
  }

  async stop(graceMillis: number): Promise<void> {
    await Promise.all([this.#writers.stop(graceMillis), this.#readers.stop(graceMillis)]);
  }

  async check({ primary, standbys }: CheckContext): Promise<Invariant[]> {
    const finals: string[] = [];
    let checked = 0;
    for (const [i, c] of [primary, ...standbys].entries()) {
      const { rows } = await c.query<{ total: number }>('SELECT sum(balance)::int AS total FROM accounts');
      checked++;
      if (rows[0]!.total !== TOTAL) finals.push(`${i === 0 ? 'primary' : `standby ${i}`}: total ${rows[0]!.total}`);
    }
    return [invariant('bank: a read of the total ≠ 500', this.#reads, this.#badReads), invariant('bank: final total ≠ 500 on a node', checked, finals)];
  }

  stats(): Record<string, number> {
    const errors = Object.fromEntries([...this.#errors].map(([k, v]) => [`error ${k}`, v]));
    return { 'transfers ok': this.#transfers.ok, 'transfers failed': this.#transfers.failed, 'transfers in doubt': this.#transfers.unknown, 'total reads': this.#reads, ...errors };
  }
}
