/**
 * Texts a standby refused as writes (SQLSTATE 25006): the classifier took them for reads, so
 * they go to the primary from then on (a misclassified statement costs one round trip, never
 * correctness). Bounded: cleared when full.
 */
import createDebug from 'debug';

const debugRouter = createDebug('pg-failover:router');

const MAX_LEARNED = 10_000;

export class LearnedWrites {
  readonly #texts = new Set<string>();

  /** Whether a standby refused `text` as a write (no lookup while none has). */
  has(text: string): boolean {
    return this.#texts.size > 0 && this.#texts.has(text);
  }

  remember(text: string, key: string): void {
    if (this.#texts.size >= MAX_LEARNED) this.#texts.clear();
    this.#texts.add(text);
    debugRouter('standby %s refused a write; will send this text to the primary from now on: %s', key, shorten(text));
  }
}

/** A statement's text for a log line: whitespace collapsed, at most 80 characters. */
export function shorten(text: string): string {
  const t = text.replace(/\s+/g, ' ').trim();
  return t.length > 80 ? `${t.slice(0, 77)}...` : t;
}
