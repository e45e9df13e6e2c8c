/**
 * pinned plain session: one plain `pg.Client` straight to the node that led
 * at the start, never following a failover (after an error it connects to
 * that same node again), inserting a unique id every ~50 ms, with no query
 * timeout (like test/manager/frozen-leader.test.ts's prober). At the end it
 * counts the ids acknowledged and then lost: acknowledgements by that node
 * after another had taken over (a frozen-then-thawed old primary). A
 * measurement of what a client that does not follow the cluster sees — only
 * synchronous replication prevents it — reported, never a violation.
 * Duplicates and failed-but-present ids are still violations.
 */
import type pg from 'pg';
import { classify, errorLabel, type Invariant, type Measurement, type Op } from '../outcome';
import { invariant, Loops, plainClient, type CheckContext, type Workload } from './common';
import { discard, type HostPort } from './read-write-session';

interface Ack {
  id: number;
  start: number;
  end: number;
}

export class PinnedPlainSession implements Workload {
  readonly name = 'plain pinned session';
  readonly ops: Op[] = [];
  readonly acks: Ack[] = [];
  readonly #loops = new Loops();
  readonly #failed = new Set<number>();
  readonly #unknown = new Set<number>();
  readonly #pending = new Set<number>();
  readonly #errors = new Map<string, number>();
  #session: pg.Client | undefined;
  #nextId = 1;
  #connects = 0;
  #lost: Ack[] = [];

  /** `node`: the name of the node at `target` (the leader at the start). */
  constructor(readonly node: string, readonly target: HostPort, readonly localAddress?: string, readonly intervalMillis = 50, readonly connectTimeoutMillis = 1000) {}

  async setup(primary: pg.Client): Promise<void> {
    await primary.query('CREATE TABLE IF NOT EXISTS plain_pinned (id bigint NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp())');
  }

  start(): void {
    this.#loops.start(1, () => this.#step(), this.intervalMillis);
  }

  async #step(): Promise<void> {
    if (!this.#session) {
      const c = plainClient(this.target.host, this.target.port, this.localAddress, this.connectTimeoutMillis);
      try {
        await c.connect();
        this.#session = c;
        this.#connects++;
      } catch (e) {
        this.#count(`connect ${errorLabel(e)}`);
        discard(c);
        return;
      }
    }
    const session = this.#session;
    const id = this.#nextId++;
    this.#pending.add(id);
    const start = Date.now();
    try {
      await session.query('INSERT INTO plain_pinned (id) VALUES ($1)', [id]);
      this.acks.push({ id, start, end: Date.now() });
      this.ops.push({ workload: this.name, kind: 'write', start, end: Date.now(), outcome: 'ok' });
    } catch (e) {
      const outcome = classify(e);
      (outcome === 'failed' ? this.#failed : this.#unknown).add(id);
      const label = errorLabel(e);
      this.#count(label);
      this.ops.push({ workload: this.name, kind: 'write', start, end: Date.now(), outcome, error: label });
      // A server's ERROR (read-only standby, disk full) leaves the session usable; anything else: connect again.
      if (outcome !== 'failed') {
        this.#session = undefined;
        discard(session);
      }
    } finally {
      this.#pending.delete(id);
    }
  }

  #count(label: string): void {
    this.#errors.set(label, (this.#errors.get(label) ?? 0) + 1);
  }

  async stop(graceMillis: number): Promise<void> {
    await this.#loops.stop(graceMillis);
    for (const id of this.#pending) this.#unknown.add(id);
    discard(this.#session);
  }

  async check({ primary }: CheckContext): Promise<Invariant[]> {
    const { rows } = await primary.query<{ id: string; n: number }>('SELECT id::text, count(*)::int AS n FROM plain_pinned GROUP BY id');
    const count = new Map(rows.map((r) => [Number(r.id), r.n]));
    this.#lost = this.acks.filter((a) => !count.has(a.id));
    const dup = rows.filter((r) => r.n > 1).map((r) => `id ${r.id} ×${r.n}`);
    const failedPresent = [...this.#failed].filter((id) => count.has(id)).map((id) => `id ${id}`);
    return [invariant('plain pinned session: duplicate id', rows.length, dup), invariant('plain pinned session: insert reported failed is present', this.#failed.size, failedPresent)];
  }

  /** Acknowledged-then-lost ids (after check()). */
  measurements(): Measurement[] {
    return [
      {
        name: `plain pinned session on ${this.node}: acknowledged write lost (late acknowledgement on a demoted node)`,
        checked: this.acks.length,
        count: this.#lost.length,
        examples: this.#lost.slice(0, 10).map((a) => `id ${a.id} acknowledged at ${new Date(a.end).toISOString()} after ${a.end - a.start} ms`),
      },
    ];
  }

  stats(): Record<string, number> {
    const errors = Object.fromEntries([...this.#errors].map(([k, v]) => [`error ${k}`, v]));
    return { acknowledged: this.acks.length, 'acknowledged then lost': this.#lost.length, failed: this.#failed.size, 'in doubt': this.#unknown.size, sessions: this.#connects, ...errors };
  }
}
