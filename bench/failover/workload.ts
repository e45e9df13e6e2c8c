/**
 * The steady workload every strategy runs during a trial: a write every
 * `writeEveryMillis` with a unique op id, and a read every `readEveryMillis`.
 * Each operation is recorded (start, end, ok, error code) for the metrics.
 */
export interface Op {
  kind: 'w' | 'r';
  id: number;
  start: number;
  end: number;
  ok: boolean;
  code?: string;
}

/** What a strategy must do: one write of a unique id, one read. */
export interface StrategyClient {
  write(id: number): Promise<void>;
  read(): Promise<void>;
  close(): Promise<void>;
  /** When the strategy itself learned of the fault (pg-failover's events), if it can tell. */
  detectedAt?: () => number | undefined;
}

export interface WorkloadOptions {
  writeEveryMillis?: number;
  readEveryMillis?: number;
  /** A single operation longer than this is counted as failed (and abandoned). */
  opTimeoutMillis?: number;
  /** Op ids start here (so strategies sharing a table never collide). */
  idBase: number;
}

/** Runs the workload until stop() is called; ops are recorded in order of completion. */
export class Workload {
  readonly ops: Op[] = [];
  #running = true;
  #loops: Promise<void>[] = [];
  #nextId: number;

  constructor(readonly client: StrategyClient, readonly options: WorkloadOptions) {
    this.#nextId = options.idBase;
  }

  start(): void {
    this.#loops.push(this.#loop('w', this.options.writeEveryMillis ?? 5));
    this.#loops.push(this.#loop('r', this.options.readEveryMillis ?? 5));
  }

  async stop(): Promise<void> {
    this.#running = false;
    await Promise.all(this.#loops);
  }

  /** Ids of writes the client acknowledged. */
  acknowledged(): number[] {
    return this.ops.filter((o) => o.kind === 'w' && o.ok).map((o) => o.id);
  }

  async #loop(kind: 'w' | 'r', every: number): Promise<void> {
    while (this.#running) {
      const id = kind === 'w' ? this.#nextId++ : 0;
      const start = Date.now();
      let ok = true;
      let code: string | undefined;
      try {
        const op = kind === 'w' ? this.client.write(id) : this.client.read();
        await withTimeout(op, this.options.opTimeoutMillis ?? 30_000);
      } catch (e) {
        ok = false;
        code = (e as { code?: string }).code ?? 'ERROR';
      }
      const end = Date.now();
      this.ops.push({ kind, id, start, end, ok, code });
      const wait = every - (end - start);
      await new Promise((r) => setTimeout(r, ok ? Math.max(0, wait) : Math.max(every, 20)));
    }
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let t: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(t)),
    new Promise<T>((_, reject) => {
      t = setTimeout(() => reject(Object.assign(new Error('operation timed out'), { code: 'OP_TIMEOUT' })), ms);
    }),
  ]);
}
