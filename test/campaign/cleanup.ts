/**
 * Runs cleanup steps on every way out: normal return, a thrown error, and
 * SIGINT/SIGTERM (then exits 130/143). Steps run once, last registered first.
 */
type Step = () => Promise<void> | void;

export class Cleanup {
  readonly #steps: Array<{ what: string; step: Step }> = [];
  #running: Promise<void> | undefined;
  readonly #onSignal = (signal: NodeJS.Signals) => {
    process.stderr.write(`[campaign] ${signal}: cleaning up\n`);
    void this.run().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };

  constructor() {
    process.once('SIGINT', this.#onSignal);
    process.once('SIGTERM', this.#onSignal);
  }

  /** Adds a step (run before the ones added earlier). */
  add(what: string, step: Step): void {
    this.#steps.push({ what, step });
  }

  /** Runs every step once (errors are reported, never stop the others) and removes the signal handlers. */
  run(): Promise<void> {
    this.#running ??= (async () => {
      process.off('SIGINT', this.#onSignal);
      process.off('SIGTERM', this.#onSignal);
      for (const { what, step } of this.#steps.reverse()) {
        try {
          await step();
        } catch (e) {
          process.stderr.write(`[campaign] cleanup step "${what}" failed: ${(e as Error).message}\n`);
        }
      }
    })();
    return this.#running;
  }
}
