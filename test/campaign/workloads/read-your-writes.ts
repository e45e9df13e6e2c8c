/**
 * read-your-writes: each worker owns a row, sets it to an increasing value
 * through our Pool and reads it back through the same Pool (which may route
 * the read to a standby). A read older than the last acknowledged write is a
 * stale read.
 */
import type pg from 'pg';
import type { Pool } from '../../../src';
import { classify, errorLabel, type Invariant, type Op } from '../outcome';
import { invariant, Loops, type CheckContext, type Workload } from './common';

export class ReadYourWritesWorkload implements Workload {
  readonly name = 'read-your-writes';
  readonly ops: Op[] = [];
  readonly #loops = new Loops();
  readonly #stale: string[] = [];
  readonly #acked: number[];
  readonly #next: number[];
  #reads = 0;
  #onStandby = 0;
  #writes = { ok: 0, failed: 0, unknown: 0 };

  constructor(readonly pool: Pool, readonly workers = 2, readonly pauseMillis = 30) {
    this.#acked = Array.from({ length: workers }, () => 0);
    this.#next = Array.from({ length: workers }, () => 0);
  }

  async setup(primary: pg.Client): Promise<void> {
    await primary.query('CREATE TABLE IF NOT EXISTS ryw (k int PRIMARY KEY, v bigint NOT NULL)');
    await primary.query('INSERT INTO ryw SELECT g, 0 FROM generate_series(0, $1::int - 1) g ON CONFLICT DO NOTHING', [this.workers]);
  }

  start(): void {
    this.#loops.start(this.workers, (w) => this.#step(w), this.pauseMillis);
  }

  async #step(w: number): Promise<void> {
    const v = ++this.#next[w]!;
    let start = Date.now();
    try {
      await this.pool.query('UPDATE ryw SET v = $1 WHERE k = $2', [v, w]);
      this.#acked[w] = v;
      this.#writes.ok++;
      this.ops.push({ workload: this.name, kind: 'write', start, end: Date.now(), outcome: 'ok' });
    } catch (e) {
      const outcome = classify(e);
      this.#writes[outcome === 'failed' ? 'failed' : 'unknown']++;
      this.ops.push({ workload: this.name, kind: 'write', start, end: Date.now(), outcome, error: errorLabel(e) });
      return;
    }
    const expected = this.#acked[w]!;
    start = Date.now();
    try {
      const { rows } = await this.pool.query<{ v: string; standby: boolean }>('SELECT v::text, pg_is_in_recovery() AS standby FROM ryw WHERE k = $1', [w]);
      this.#reads++;
      if (rows[0]?.standby) this.#onStandby++;
      const seen = Number(rows[0]?.v ?? -1);
      if (seen < expected) this.#stale.push(`${new Date(start).toISOString()} worker ${w}: read ${seen} after acknowledged ${expected} (${rows[0]?.standby ? 'standby' : 'primary'})`);
      this.ops.push({ workload: this.name, kind: 'read', start, end: Date.now(), outcome: 'ok' });
    } catch (e) {
      this.ops.push({ workload: this.name, kind: 'read', start, end: Date.now(), outcome: classify(e), error: errorLabel(e) });
    }
  }

  async stop(graceMillis: number): Promise<void> {
    await this.#loops.stop(graceMillis);
  }

  async check(_ctx: CheckContext): Promise<Invariant[]> {
    return [invariant('read-your-writes: stale read', this.#reads, this.#stale)];
  }

  stats(): Record<string, number> {
    return { 'writes ok': this.#writes.ok, 'writes failed': this.#writes.failed, 'writes in doubt': this.#writes.unknown, reads: this.#reads, 'reads on a standby': this.#onStandby };
  }
}
