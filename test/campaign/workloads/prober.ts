/**
 * one primary at a time: every ~50 ms a plain `pg` session per node (not our
 * Pool) inserts a marked row (node, round) and records which nodes accepted.
 * Two nodes acknowledging writes of the same round within the round window
 * is split-brain. Every acknowledged probe row must also survive on the final
 * primary (an acknowledged write lost by a plain client). A node whose write
 * is still waiting is skipped until it answers (a frozen node).
 */
import type pg from 'pg';
import { setTimeout as sleep } from 'node:timers/promises';
import { errorLabel, type Invariant, type Op } from '../outcome';
import { invariant, plainClient, type CheckContext, type Workload } from './common';

export interface ProbeTarget {
  name: string;
  host: string;
  port: number;
}

interface Accept {
  node: string;
  round: number;
  start: number;
  end: number;
}

interface NodeState {
  target: ProbeTarget;
  client: pg.Client | undefined;
  busy: boolean;
}

export class PrimaryProber implements Workload {
  readonly name = 'one-primary prober';
  readonly ops: Op[] = [];
  readonly accepts: Accept[] = [];
  readonly #nodes: NodeState[];
  readonly #errors = new Map<string, number>();
  #round = 0;
  #stopped = false;
  #loop: Promise<void> | undefined;
  #attempts = 0;

  /** `roundWindowMillis`: two acknowledgements of one round, each within this time of its start, are simultaneous. */
  constructor(targets: ProbeTarget[], readonly localAddress: string | undefined, readonly intervalMillis = 50, readonly roundWindowMillis = 1000) {
    this.#nodes = targets.map((target) => ({ target, client: undefined, busy: false }));
  }

  async setup(primary: pg.Client): Promise<void> {
    await primary.query('CREATE TABLE IF NOT EXISTS probe (node text NOT NULL, round bigint NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp())');
  }

  start(): void {
    this.#loop = (async () => {
      while (!this.#stopped) {
        const round = ++this.#round;
        for (const n of this.#nodes) if (!n.busy) void this.#probe(n, round);
        await sleep(this.intervalMillis);
      }
    })();
  }

  async #probe(n: NodeState, round: number): Promise<void> {
    n.busy = true;
    const start = Date.now();
    try {
      if (!n.client) {
        const c = plainClient(n.target.host, n.target.port, this.localAddress, 1000);
        n.client = c;
        await c.connect();
      }
      this.#attempts++;
      await n.client.query('INSERT INTO probe (node, round) VALUES ($1, $2)', [n.target.name, round]);
      this.accepts.push({ node: n.target.name, round, start, end: Date.now() });
    } catch (e) {
      const label = errorLabel(e);
      this.#errors.set(label, (this.#errors.get(label) ?? 0) + 1);
      if (label !== '25006') {
        // Not a standby's refusal: the session may be dead; open a new one next time.
        const c = n.client;
        n.client = undefined;
        void c?.end().catch(() => {});
      }
    } finally {
      n.busy = false;
    }
  }

  async stop(graceMillis: number): Promise<void> {
    this.#stopped = true;
    await this.#loop;
    const deadline = Date.now() + graceMillis;
    while (this.#nodes.some((n) => n.busy) && Date.now() < deadline) await sleep(50);
    for (const n of this.#nodes) void n.client?.end().catch(() => {});
  }

  /** Who accepted when, as periods `{ node, from, to }` (a change of node = a failover or switchover). */
  periods(): Array<{ node: string; from: number; to: number }> {
    const out: Array<{ node: string; from: number; to: number }> = [];
    for (const a of [...this.accepts].sort((x, y) => x.end - y.end)) {
      const last = out[out.length - 1];
      if (last && last.node === a.node) last.to = a.end;
      else out.push({ node: a.node, from: a.end, to: a.end });
    }
    return out;
  }

  async check({ primary }: CheckContext): Promise<Invariant[]> {
    const byRound = new Map<number, Accept[]>();
    for (const a of this.accepts) {
      if (a.end - a.start > this.roundWindowMillis) continue;
      const list = byRound.get(a.round) ?? [];
      list.push(a);
      byRound.set(a.round, list);
    }
    const split = [...byRound.entries()]
      .filter(([, list]) => new Set(list.map((a) => a.node)).size > 1)
      .map(([round, list]) => `round ${round} at ${new Date(list[0]!.start).toISOString()}: ${list.map((a) => `${a.node} (+${a.end - a.start} ms)`).join(', ')}`);
    const { rows } = await primary.query<{ node: string; round: string }>('SELECT node, round::text FROM probe');
    const present = new Set(rows.map((r) => `${r.node}/${r.round}`));
    const lost = this.accepts.filter((a) => !present.has(`${a.node}/${a.round}`)).map((a) => `${a.node} round ${a.round} acknowledged at ${new Date(a.end).toISOString()} after ${a.end - a.start} ms`);
    return [
      invariant('one primary: two nodes accepting writes in the same round (split-brain)', byRound.size, split),
      invariant('plain pg: acknowledged probe write lost', this.accepts.length, lost),
    ];
  }

  stats(): Record<string, number> {
    const late = this.accepts.filter((a) => a.end - a.start > this.roundWindowMillis).length;
    const errors = Object.fromEntries([...this.#errors].map(([k, v]) => [`error ${k}`, v]));
    return { rounds: this.#round, 'write attempts': this.#attempts, accepted: this.accepts.length, 'acknowledged later than the round window': late, ...errors };
  }
}
