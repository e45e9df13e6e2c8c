/**
 * The classifier against the shared routing corpus (34k real statements
 * labelled by the real parser, see /work/shared/corpus/README.md):
 * no write may ever be classified as a read (UNSAFE = 0, ambiguous rows
 * included), agreement ≥ 99% on every row the parser accepts, no throw on
 * 20k random mutations (and no mutation the parser proves a write comes out
 * as a read), and the speed of cached and uncached classification.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadModule, scanSync } from 'libpg-query';
import { Classifier, type StatementKind } from '../../src/routing/classify';
import { oracle } from './oracle';

/** The corpus lives next to the repository: `<repo>/../shared/corpus/`. */
const CORPUS = resolve(__dirname, '../../../shared/corpus/sql-routing.jsonl');
const present = existsSync(CORPUS);
if (!present) console.warn(`corpus.test.ts: SKIPPED — routing corpus not found at ${CORPUS} (expected at <repo>/../shared/corpus/sql-routing.jsonl)`);

interface Row {
  sql: string;
  label: 'read' | 'write' | 'txn' | 'session' | 'unknown';
  why: string;
  ambiguous?: boolean;
}

const KIND_OF: Record<Exclude<Row['label'], 'unknown'>, StatementKind> = { read: 'read', write: 'write', txn: 'transaction', session: 'session' };

/** Small deterministic PRNG (mulberry32) so a fuzz failure can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const NASTY = ["'", '"', '$', '$$', '$x$', ';', '(', ')', '/*', '*/', '--', '\n', '\\', "E'", 'U&', '::', ' FOR UPDATE', ' INTO x', ' nextval(1)', ' DELETE ', 'WITH x AS (', '\u0000', '☃'];

function mutate(sql: string, other: string, rnd: () => number): string {
  const at = Math.floor(rnd() * (sql.length + 1));
  switch (Math.floor(rnd() * 7)) {
    case 0:
      return sql.slice(0, at); // truncate
    case 1:
      return sql.slice(0, at) + NASTY[Math.floor(rnd() * NASTY.length)] + sql.slice(at); // insert a hostile token
    case 2:
      return sql.slice(0, at) + sql.slice(at + 1 + Math.floor(rnd() * 5)); // delete a few chars
    case 3:
      return sql.slice(0, at) + ';' + other; // append another statement
    case 4:
      return other.slice(0, Math.floor(rnd() * other.length)) + sql.slice(at); // splice two statements
    case 5:
      return sql.slice(0, at) + sql.slice(at).toUpperCase();
    default:
      return sql.slice(0, at) + sql.slice(Math.max(0, at - 10), at) + sql.slice(at); // duplicate a slice
  }
}

describe.skipIf(!present)('classifier vs the routing corpus', () => {
  let rows: Row[] = [];
  beforeAll(async () => {
    await loadModule();
    rows = readFileSync(CORPUS, 'utf8')
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => JSON.parse(l) as Row);
  });

  it('reads the whole corpus', () => {
    expect(rows.length).toBeGreaterThan(30_000);
  });

  it('UNSAFE = 0: no statement labelled write (ambiguous ones included) is classified as a read', () => {
    const c = new Classifier({ cacheSize: 0 });
    const unsafe = rows.filter((r) => r.label === 'write' && c.classify(r.sql) === 'read');
    expect(unsafe.map((r) => `${r.sql.slice(0, 120)}  [${r.why}]`)).toEqual([]);
  });

  it('agrees with the labels on at least 99% of the rows the parser accepts', () => {
    const c = new Classifier({ cacheSize: 0 });
    let total = 0;
    let agree = 0;
    const misses: string[] = [];
    for (const r of rows) {
      if (r.label === 'unknown') continue;
      total++;
      const kind = c.classify(r.sql);
      if (kind === KIND_OF[r.label]) agree++;
      else if (misses.length < 20) misses.push(`${r.label} → ${kind}: ${r.sql.slice(0, 100)}`);
    }
    const pct = (100 * agree) / total;
    console.log(`corpus agreement: ${agree}/${total} = ${pct.toFixed(3)}%${misses.length ? `; first misses:\n  ${misses.join('\n  ')}` : ''}`);
    expect(pct).toBeGreaterThanOrEqual(99);
  });

  it('rows the parser rejects (label unknown) are classified without throwing', () => {
    const c = new Classifier({ cacheSize: 0 });
    const unknown = rows.filter((r) => r.label === 'unknown');
    expect(unknown.length).toBeGreaterThan(0);
    for (const r of unknown) expect(['read', 'write', 'transaction', 'session']).toContain(c.classify(r.sql));
  });

  it('20k random mutations never throw, and none the parser proves a write comes out as a read', () => {
    const rnd = prng(0x5eed);
    const c = new Classifier({ cacheSize: 0 });
    const unsafe: string[] = [];
    let parsed = 0;
    for (let n = 0; n < 20_000; n++) {
      const base = rows[Math.floor(rnd() * rows.length)].sql;
      const other = rows[Math.floor(rnd() * rows.length)].sql;
      const sql = mutate(base, other, rnd);
      let kind: StatementKind;
      try {
        const a = c.analyze(sql);
        kind = a.kind;
        expect(a.statements).toBeGreaterThanOrEqual(0);
      } catch (err) {
        throw new Error(`classifier threw on mutation #${n}: ${JSON.stringify(sql.slice(0, 300))}: ${String(err)}`);
      }
      if (kind !== 'read') continue;
      const o = oracle(sql);
      if (o === 'error' || o === 'empty') continue;
      parsed++;
      if (o === 'write' && unsafe.length < 20) unsafe.push(sql.slice(0, 200));
    }
    console.log(`fuzz: 20000 mutations, ${parsed} classified read and accepted by the parser`);
    expect(unsafe).toEqual([]);
  });

  it('metamorphic: comments between the parser\'s tokens and upper-cased words never change the verdict', () => {
    const rnd = prng(0xc0ffee);
    const c = new Classifier({ cacheSize: 0 });
    const COMMENTS = [" /* ; DELETE FROM t; ' \" $$ */ ", '\n-- ; INSERT INTO t VALUES (1)\n', '/**/', ' /* nested /* FOR UPDATE */ */ '];
    const changed: string[] = [];
    let checked = 0;
    for (let n = 0; n < 5_000; n++) {
      const r = rows[Math.floor(rnd() * rows.length)];
      if (r.label === 'unknown') continue;
      let tokens: { start: number; end: number; tokenName: string }[];
      try {
        tokens = scanSync(r.sql).tokens.filter((t) => t.tokenName !== 'SQL_COMMENT' && t.tokenName !== 'C_COMMENT');
      } catch {
        continue;
      }
      if (!tokens.length) continue;
      const at = tokens[Math.floor(rnd() * tokens.length)].end;
      const commented = r.sql.slice(0, at) + COMMENTS[Math.floor(rnd() * COMMENTS.length)] + r.sql.slice(at);
      let upper = '';
      let last = 0;
      for (const t of tokens) {
        upper += r.sql.slice(last, t.start);
        const text = r.sql.slice(t.start, t.end);
        upper += t.tokenName === 'IDENT' || /^[a-z_]+$/.test(text) ? text.toUpperCase() : text;
        last = t.end;
      }
      upper += r.sql.slice(last);
      const base = c.analyze(r.sql);
      for (const variant of [commented, upper]) {
        const v = c.analyze(variant);
        checked++;
        if (v.kind !== base.kind || v.pins !== base.pins || v.transaction !== base.transaction) {
          if (changed.length < 10) changed.push(`${base.kind} → ${v.kind}: ${JSON.stringify(variant.slice(0, 160))}`);
        }
      }
    }
    expect(checked).toBeGreaterThan(5_000);
    expect(changed).toEqual([]);
  });

  it('speed: cached lookups well under 5 µs; uncached ns/statement reported', () => {
    const sqls = rows.map((r) => r.sql);
    const cold = new Classifier({ cacheSize: 0 });
    let uncached = Infinity;
    for (let rep = 0; rep < 3; rep++) {
      const t0 = process.hrtime.bigint();
      for (const s of sqls) cold.analyze(s);
      uncached = Math.min(uncached, Number(process.hrtime.bigint() - t0) / sqls.length);
    }
    const hot = sqls.slice(0, 2000);
    const warm = new Classifier();
    for (const s of hot) warm.analyze(s);
    let cached = Infinity;
    for (let rep = 0; rep < 10; rep++) {
      const t0 = process.hrtime.bigint();
      for (const s of hot) warm.analyze(s);
      cached = Math.min(cached, Number(process.hrtime.bigint() - t0) / hot.length);
    }
    const avgChars = sqls.reduce((n, s) => n + s.length, 0) / sqls.length;
    console.log(`speed: uncached ${Math.round(uncached)} ns/statement (avg ${Math.round(avgChars)} chars), cached ${Math.round(cached)} ns/statement`);
    expect(cached).toBeLessThan(5_000);
    expect(uncached).toBeLessThan(100_000);
  });
});
