/**
 * The SQL statement classifier: decides whether a statement may run on a hot
 * standby (`read`), needs the primary (`write`), controls a transaction, or
 * changes session state; and whether it pins the session to its node.
 *
 * It works on tokens ({@link tokenize}), not a full parse: fast (a few µs
 * for a typical statement) and conservative — anything it cannot prove to be
 * a read is a write. Results are cached by exact text (LRU).
 *
 * What no text-level classifier can see: views, rules, user-defined operators
 * and casts that call volatile functions. Such a "read" fails on a standby
 * with SQLSTATE 25006, which the pool remembers and retries on the primary.
 */
import { tokenize, Tok, type Tokens } from './lexer';
import { ADVISORY_LOCKERS, BUILTIN_READ_SAFE, BUILTIN_WRITERS, SQL_KEYWORDS } from './builtin-functions';

/** What a statement is, for routing. */
export type StatementKind = 'read' | 'write' | 'transaction' | 'session';

/** The classifier's verdict on a SQL string (possibly several statements: the worst wins). */
export interface Analysis {
  kind: StatementKind;
  /** Short human-readable reason, e.g. `SELECT … FOR UPDATE` or `calls nextval()`. */
  reason: string;
  /** For `kind: 'transaction'`: what the statement does to the transaction. */
  transaction?: 'begin' | 'begin-read-only' | 'end' | 'savepoint' | 'other';
  /** Set when the statement leaves state in the server session, which must then stay on its node. */
  pins?: 'advisory-lock' | 'temp-table' | 'listen' | 'set' | 'prepare' | 'cursor';
  /** A `/* pgfailover:primary *\/` or `/* pgfailover:standby *\/` comment. */
  hint?: 'primary' | 'standby';
  /** Called functions the classifier does not know (they make the statement a write). */
  unknownFunctions: readonly string[];
  /** Number of non-empty statements in the string. */
  statements: number;
}

/** Classifier options. Function names are matched as PostgreSQL resolves them (unquoted names lower-case), bare or `schema.name`. */
export interface ClassifierOptions {
  /** User functions known to be safe on a standby (reads only). */
  readOnlyFunctions?: readonly string[];
  /** Functions that must always go to the primary (wins over everything else). */
  writeFunctions?: readonly string[];
  /** Cached analyses (by exact text, up to 64 KiB long), least recently used evicted first. Default 2000; 0 disables the cache. */
  cacheSize?: number;
}

type Volatility = 'i' | 's' | 'v';
type Pin = NonNullable<Analysis['pins']>;
type Txn = NonNullable<Analysis['transaction']>;

/** One statement's verdict while combining. */
interface Verdict {
  kind: StatementKind;
  reason: string;
  transaction?: Txn;
  pins?: Pin;
}

const RANK: Record<StatementKind, number> = { read: 0, transaction: 1, session: 2, write: 3 };
const NO_NAMES: readonly string[] = Object.freeze([]);
const NOT_TEXT: Analysis = Object.freeze({ kind: 'write', reason: 'not a SQL text', unknownFunctions: NO_NAMES, statements: 0 });
/** Longer texts are classified but not cached (the cache would pin their memory). */
const MAX_CACHED_TEXT_LENGTH = 64 * 1024;

/**
 * Unreserved keywords that are grammar, not a call, when followed by `(` —
 * only after the given previous word or two words (`$lit` = a literal).
 * Kept narrow: users may name functions after unreserved keywords.
 */
const GRAMMAR_BEFORE_PAREN: ReadonlyMap<string, ReadonlySet<string>> = new Map([
  ['by', new Set(['order', 'group', 'partition'])],
  ['second', new Set(['to', 'interval', '$lit'])],
  ['sets', new Set(['grouping'])],
  ['materialized', new Set(['as', 'as not'])],
  ['zone', new Set(['time'])],
  ['first', new Set(['fetch'])],
  ['next', new Set(['fetch'])],
  ['cube', new Set(['group by'])],
  ['rollup', new Set(['group by'])],
]);
/** Words that end a GROUP BY list when looking back from a `CUBE(`/`ROLLUP(`. */
const CLAUSE_WORDS = new Set(['select', 'from', 'where', 'having', 'order', 'window', 'limit', 'offset', 'union', 'intersect', 'except', 'returning', 'on', 'using', 'fetch', 'for', 'into', 'values', 'with', 'as']);
/** Words after which `name(` is a type modifier or an alias column list, never a call. */
const NOT_CALL_AFTER = new Set(['as', 'ordinality', 'tablesample', 'character', 'varying', 'char', 'nchar', 'national', 'bit', 'double']);

/**
 * Classifies SQL for routing. One instance is shared by a pool; it learns the
 * volatility of user functions from the server (`learnFunctions`).
 *
 * @example
 * const c = new Classifier({ readOnlyFunctions: ['app.lookup'] });
 * c.classify('SELECT app.lookup(1)'); // 'read'
 * c.analyze('SELECT nextval(\'s\')').reason; // 'calls nextval()'
 */
export class Classifier {
  /** text → analysis and its recency stamp (insertion order = recency order, oldest first). */
  readonly #cache = new Map<string, { a: Analysis; at: number }>();
  readonly #cacheSize: number;
  /** Counts insertions and moves to the recent end; a hit within the newest #recent entries is not moved. */
  #tick = 0;
  readonly #recent: number;
  readonly #readOnly: ReadonlySet<string>;
  readonly #write: ReadonlySet<string>;
  readonly #learned = new Map<string, Volatility>();

  constructor(options: ClassifierOptions = {}) {
    this.#cacheSize = Math.max(0, Math.floor(options.cacheSize ?? 2000));
    this.#recent = Math.max(1, this.#cacheSize >> 3);
    this.#readOnly = new Set(options.readOnlyFunctions ?? []);
    this.#write = new Set(options.writeFunctions ?? []);
  }

  /** Full analysis of `sql` (cached by exact text). Never throws; a non-string (from untyped callers) is a write. */
  analyze(sql: string): Analysis {
    if (typeof sql !== 'string') return NOT_TEXT;
    const cache = this.#cache;
    const hit = cache.get(sql);
    if (hit !== undefined) {
      // LRU, but a statement already among the newest eighth is not moved again (no Map churn for hot statements).
      if (hit.at <= this.#tick - this.#recent) {
        cache.delete(sql);
        hit.at = ++this.#tick;
        cache.set(sql, hit);
      }
      return hit.a;
    }
    const a = this.#analyzeUncached(sql);
    if (this.#cacheSize > 0 && sql.length <= MAX_CACHED_TEXT_LENGTH) {
      cache.set(sql, { a, at: ++this.#tick });
      if (cache.size > this.#cacheSize) cache.delete(cache.keys().next().value as string);
    }
    return a;
  }

  /** Just the kind of `sql`. */
  classify(sql: string): StatementKind {
    return this.analyze(sql).kind;
  }

  /**
   * Teaches the classifier user functions' volatility (`name` or
   * `schema.name` → `i`mmutable, `s`table, `v`olatile), as read from the
   * server's pg_proc. Immutable and stable functions become reads; volatile
   * ones stay writes. Clears the cache.
   */
  learnFunctions(volatility: ReadonlyMap<string, Volatility>): void {
    for (const [name, v] of volatility) this.#learned.set(name, v);
    this.#cache.clear();
  }

  #analyzeUncached(sql: string): Analysis {
    const t = tokenize(sql);
    const a = new Analyzer(t, this.#readOnly, this.#write, this.#learned).run();
    if (!t.backslashInString || a.kind === 'write') return a;
    // A server with standard_conforming_strings=off reads '\'' differently: the worse reading wins.
    // (If that reading does not even tokenize, such a server rejects the whole string and nothing runs.)
    const alt = tokenize(sql, { backslashEscapes: true });
    if (alt.error) return a;
    const b = new Analyzer(alt, this.#readOnly, this.#write, this.#learned).run();
    return RANK[b.kind] > RANK[a.kind] ? b : a;
  }
}

/** Single-use: classifies one tokenized string. */
class Analyzer {
  readonly #k: Tok[];
  readonly #x: string[];
  readonly #n: number;
  /** For each `(` and `)`, the index of its partner (-1 elsewhere). */
  #match: Int32Array | undefined;
  #unknown: string[] | undefined;

  constructor(
    readonly t: Tokens,
    readonly readOnly: ReadonlySet<string>,
    readonly write: ReadonlySet<string>,
    readonly learned: ReadonlyMap<string, Volatility>,
  ) {
    this.#k = t.kinds;
    this.#x = t.texts;
    this.#n = t.length;
  }

  run(): Analysis {
    const { t } = this;
    const starts: number[] = [];
    const ends: number[] = [];
    const balanced = this.#split(starts, ends);
    const statements = starts.length;
    if (t.error) return this.#result({ kind: 'write', reason: t.error }, Math.max(1, statements));
    if (!balanced) return this.#result({ kind: 'write', reason: 'unbalanced parentheses' }, Math.max(1, statements));
    if (statements === 0) return this.#result({ kind: 'write', reason: 'empty statement' }, 0);
    if (statements === 1) return this.#result(this.#statement(starts[0], ends[0]), 1);
    let worst: Verdict | undefined;
    let pins: Pin | undefined;
    let sawTxn = false;
    let allReadOnlyTxn = true;
    let firstTxn: Txn | undefined;
    for (let s = 0; s < statements; s++) {
      const v = this.#statement(starts[s], ends[s]);
      if (!worst || RANK[v.kind] > RANK[worst.kind]) worst = v;
      pins ??= v.pins;
      if (v.kind === 'transaction') {
        sawTxn = true;
        firstTxn ??= v.transaction;
        if (v.transaction === 'begin' || v.transaction === 'other') allReadOnlyTxn = false;
      }
    }
    const v: Verdict = { kind: worst!.kind, reason: worst!.reason, pins };
    if (v.kind === 'transaction' && sawTxn) {
      v.transaction = allReadOnlyTxn && firstTxn === 'begin-read-only' ? 'begin-read-only' : firstTxn === 'begin-read-only' ? 'begin' : firstTxn;
    }
    return this.#result(v, statements);
  }

  #result(v: Verdict, statements: number): Analysis {
    const a: Analysis = {
      kind: v.kind,
      reason: v.reason,
      unknownFunctions: this.#unknown ? Object.freeze(this.#unknown) : NO_NAMES,
      statements,
    };
    if (v.transaction) a.transaction = v.transaction;
    if (v.pins) a.pins = v.pins;
    if (this.t.hint) a.hint = this.t.hint;
    return Object.freeze(a);
  }

  /**
   * Splits into statements at top-level `;` (not inside parentheses or a
   * `BEGIN ATOMIC … END` body) and matches parentheses. False when unbalanced.
   */
  #split(starts: number[], ends: number[]): boolean {
    const k = this.#k;
    const x = this.#x;
    const n = this.#n;
    const match = new Int32Array(n);
    this.#match = match;
    const stack: number[] = [];
    let balanced = true;
    let start = 0;
    let atomic = 0;
    let cases = 0;
    // BEGIN ATOMIC … END bodies only exist in CREATE FUNCTION/PROCEDURE: elsewhere "begin atomic" is just two names.
    let create = k[0] === Tok.Word && x[0] === 'create';
    for (let i = 0; i < n; i++) {
      const kind = k[i];
      match[i] = -1;
      if (kind === Tok.Open) stack.push(i);
      else if (kind === Tok.Close) {
        const o = stack.pop();
        if (o === undefined) balanced = false;
        else {
          match[o] = i;
          match[i] = o;
        }
      } else if (create && kind === Tok.Word && x[i].length <= 6) {
        const w = x[i];
        if (w === 'atomic' && i > 0 && x[i - 1] === 'begin') atomic++;
        else if (atomic > 0 && w === 'case') cases++;
        else if (atomic > 0 && w === 'end') {
          if (cases > 0) cases--;
          else atomic--;
        }
      } else if (kind === Tok.Semi && stack.length === 0 && atomic === 0) {
        if (i > start) {
          starts.push(start);
          ends.push(i);
        }
        start = i + 1;
        create = k[start] === Tok.Word && x[start] === 'create';
      }
    }
    if (n > start) {
      starts.push(start);
      ends.push(n);
    }
    if (stack.length) balanced = false;
    return balanced;
  }

  #word(i: number, end: number): string {
    return i < end && this.#k[i] === Tok.Word ? this.#x[i] : '';
  }

  /** Classifies tokens [s, e). */
  #statement(s: number, e: number): Verdict {
    const k = this.#k;
    if (k[s] === Tok.Open) return this.#query(s, e, 'SELECT');
    const w = this.#word(s, e);
    const w1 = this.#word(s + 1, e);
    switch (w) {
      case 'select':
        return this.#query(s, e, 'SELECT');
      case 'with':
        return this.#query(s, e, 'WITH');
      case 'values':
        return this.#query(s, e, 'VALUES');
      case 'table':
        return this.#query(s, e, 'TABLE');
      case 'show':
        return { kind: 'read', reason: 'SHOW' };
      case 'explain':
        return this.#explain(s, e);
      case 'insert':
      case 'update':
      case 'delete':
      case 'merge': {
        const v: Verdict = { kind: 'write', reason: w.toUpperCase() };
        const scan = this.#scanQuery(s, e, false, true);
        if (scan.pins) v.pins = scan.pins;
        return v;
      }
      case 'begin':
        return { kind: 'transaction', reason: 'BEGIN', transaction: this.#readOnlyModes(s + 1, e) ? 'begin-read-only' : 'begin' };
      case 'start':
        if (w1 !== 'transaction') break;
        return { kind: 'transaction', reason: 'START TRANSACTION', transaction: this.#readOnlyModes(s + 2, e) ? 'begin-read-only' : 'begin' };
      case 'commit':
      case 'end':
        if (w1 === 'prepared') return { kind: 'transaction', reason: 'COMMIT PREPARED', transaction: 'other' };
        return { kind: 'transaction', reason: w.toUpperCase(), transaction: 'end' };
      case 'abort':
        return { kind: 'transaction', reason: 'ABORT', transaction: 'end' };
      case 'rollback': {
        if (w1 === 'prepared') return { kind: 'transaction', reason: 'ROLLBACK PREPARED', transaction: 'other' };
        const to = w1 === 'work' || w1 === 'transaction' ? this.#word(s + 2, e) : w1;
        if (to === 'to') return { kind: 'transaction', reason: 'ROLLBACK TO SAVEPOINT', transaction: 'savepoint' };
        return { kind: 'transaction', reason: 'ROLLBACK', transaction: 'end' };
      }
      case 'savepoint':
        return { kind: 'transaction', reason: 'SAVEPOINT', transaction: 'savepoint' };
      case 'release':
        return { kind: 'transaction', reason: 'RELEASE SAVEPOINT', transaction: 'savepoint' };
      case 'prepare':
        if (w1 === 'transaction') return { kind: 'transaction', reason: 'PREPARE TRANSACTION', transaction: 'other' };
        return { kind: 'session', reason: 'PREPARE', pins: 'prepare' };
      case 'execute':
        return { kind: 'session', reason: 'EXECUTE', pins: 'prepare' };
      case 'deallocate':
        return { kind: 'session', reason: 'DEALLOCATE' };
      case 'set':
        return this.#set(s, e, w1);
      case 'reset':
        return { kind: 'session', reason: 'RESET' };
      case 'discard':
        return { kind: 'session', reason: 'DISCARD' };
      case 'listen':
        return { kind: 'session', reason: 'LISTEN', pins: 'listen' };
      case 'unlisten':
        return { kind: 'session', reason: 'UNLISTEN' };
      case 'load':
        return { kind: 'session', reason: 'LOAD', pins: 'set' };
      case 'declare':
        return { kind: 'session', reason: 'DECLARE CURSOR', pins: 'cursor' };
      case 'fetch':
      case 'move':
        return { kind: 'session', reason: w.toUpperCase(), pins: 'cursor' };
      case 'close':
        return { kind: 'session', reason: 'CLOSE' };
      case 'create':
        return this.#create(s, e);
      case 'copy':
        return { kind: 'write', reason: this.#copyFrom(s, e) ? 'COPY … FROM' : 'COPY … TO (strict: runs on the primary)' };
      case 'lock':
        return { kind: 'write', reason: 'LOCK' };
      case 'call':
        return { kind: 'write', reason: 'CALL' };
      case 'do':
        return { kind: 'write', reason: 'DO' };
      case '':
        break;
      default:
        if (SQL_KEYWORDS.has(w)) return { kind: 'write', reason: w.toUpperCase() };
    }
    return { kind: 'write', reason: 'unrecognized statement' };
  }

  /** `READ ONLY` / `READ WRITE` in transaction modes: the last one wins. */
  #readOnlyModes(i: number, e: number): boolean {
    let ro = false;
    for (; i < e; i++) {
      if (this.#k[i] === Tok.Word && this.#x[i] === 'read') {
        const nx = this.#word(i + 1, e);
        if (nx === 'only') ro = true;
        else if (nx === 'write') ro = false;
      }
    }
    return ro;
  }

  #set(s: number, e: number, w1: string): Verdict {
    if (w1 === 'local') return { kind: 'session', reason: 'SET LOCAL' };
    if (w1 === 'transaction') return { kind: 'session', reason: 'SET TRANSACTION' };
    if (w1 === 'constraints') return { kind: 'write', reason: 'SET CONSTRAINTS' };
    if (w1 === 'session' && this.#word(s + 2, e) === 'characteristics') return { kind: 'session', reason: 'SET SESSION CHARACTERISTICS', pins: 'set' };
    return { kind: 'session', reason: 'SET', pins: 'set' };
  }

  #create(s: number, e: number): Verdict {
    let i = s + 1;
    if (this.#word(i, e) === 'or' && this.#word(i + 1, e) === 'replace') i += 2;
    const scope = this.#word(i, e);
    if (scope === 'global' || scope === 'local') i++;
    const temp = this.#word(i, e);
    if (temp === 'temp' || temp === 'temporary') return { kind: 'write', reason: 'CREATE TEMP', pins: 'temp-table' };
    return { kind: 'write', reason: 'CREATE' };
  }

  /** True for COPY … FROM (and anything unclear); false for COPY … TO. */
  #copyFrom(s: number, e: number): boolean {
    const k = this.#k;
    const match = this.#match!;
    let i = s + 1;
    if (k[i] === Tok.Open) i = match[i] + 1;
    for (; i < e; i++) {
      if (k[i] === Tok.Open) i = match[i];
      else if (k[i] === Tok.Word) {
        if (this.#x[i] === 'to') return false;
        if (this.#x[i] === 'from') return true;
      }
    }
    return true;
  }

  #explain(s: number, e: number): Verdict {
    const k = this.#k;
    let i = s + 1;
    let analyze = false;
    if (k[i] === Tok.Open) {
      const close = this.#match![i];
      for (let j = i + 1; j < close; j++) {
        if (k[j] === Tok.Word && (this.#x[j] === 'analyze' || this.#x[j] === 'analyse')) {
          const v = this.#word(j + 1, close);
          analyze = !(v === 'false' || v === 'off');
        }
      }
      i = close + 1;
    } else {
      for (;;) {
        const w = this.#word(i, e);
        if (w === 'analyze' || w === 'analyse') analyze = true;
        else if (w !== 'verbose') break;
        i++;
      }
    }
    if (i >= e) return { kind: 'write', reason: 'EXPLAIN without a statement' };
    if (this.#word(i, e) === 'explain') return { kind: 'write', reason: 'nested EXPLAIN' };
    const inner = this.#statement(i, e);
    if (inner.kind === 'read') {
      if (analyze) return { kind: 'write', reason: 'EXPLAIN ANALYZE executes the statement (strict: runs on the primary)', pins: inner.pins };
      return { kind: 'read', reason: `EXPLAIN ${inner.reason}` };
    }
    return { kind: 'write', reason: `EXPLAIN ${analyze ? 'ANALYZE ' : ''}of ${inner.kind}: ${inner.reason}`, pins: inner.pins };
  }

  /** A query (SELECT/VALUES/TABLE/WITH): a read unless something in it writes. */
  #query(s: number, e: number, what: string): Verdict {
    const scan = this.#scanQuery(s, e, what === 'WITH');
    if (scan.write) return { kind: 'write', reason: scan.write, pins: scan.pins };
    return { kind: 'read', reason: what, pins: scan.pins };
  }

  /**
   * Looks through a query for anything that writes: locking clauses, INTO,
   * data-modifying WITH, and calls to functions that are not known reads.
   */
  #scanQuery(s: number, e: number, withQuery: boolean, pinsOnly = false): { write?: string; pins?: Pin } {
    const k = this.#k;
    const x = this.#x;
    const match = this.#match!;
    let write: string | undefined;
    let pins: Pin | undefined;
    let depth = 0;
    for (let i = s; i < e; i++) {
      const kind = k[i];
      if (kind === Tok.Open) {
        depth++;
        continue;
      }
      if (kind === Tok.Close) {
        depth--;
        continue;
      }
      if (kind !== Tok.Word && kind !== Tok.QuotedIdent) continue;
      const next = i + 1 < e ? k[i + 1] : 0;
      if (kind === Tok.Word && !pinsOnly) {
        const w = x[i];
        switch (w) {
          case 'into':
            if (!write) {
              const t1 = this.#word(i + 1, e);
              if (t1 === 'temp' || t1 === 'temporary') pins ??= 'temp-table';
              write = 'SELECT INTO';
            }
            continue;
          case 'for': {
            const t1 = this.#word(i + 1, e);
            if (t1 === 'update' || t1 === 'share' || t1 === 'no' || t1 === 'key') {
              write ??= `SELECT … FOR ${t1 === 'no' ? 'NO KEY UPDATE' : t1 === 'key' ? 'KEY SHARE' : t1.toUpperCase()}`;
            }
            continue;
          }
          case 'insert':
          case 'update':
          case 'delete':
          case 'merge': {
            const p = i > s ? k[i - 1] : 0;
            if (p === Tok.Open || p === Tok.Close || (withQuery && depth === 0)) write ??= `data-modifying WITH (${w.toUpperCase()})`;
            continue;
          }
        }
      }
      if (next !== Tok.Open) continue;
      // A name followed by "(": a function call, unless grammar, a type modifier, an alias column list or a CTE.
      const name = x[i];
      if (kind === Tok.Word) {
        const cat = SQL_KEYWORDS.get(name);
        if (cat !== undefined && cat !== 'U') continue;
        if (cat === 'U' && this.#grammar(name, i - 1, s)) continue;
        if ((name === 'cube' || name === 'rollup') && i - 1 >= s && this.#inGroupingList(i - 1, s)) continue;
        // OPERATOR(schema.+) is grammar; operator(1) is a call
        if (name === 'operator' && k[match[i + 1] - 1] === Tok.Op) continue;
      }
      let schema: string | undefined;
      let q = i - 1;
      if (q >= s && k[q] === Tok.Dot && q - 1 >= s && (k[q - 1] === Tok.Word || k[q - 1] === Tok.QuotedIdent)) {
        schema = x[q - 1];
        q -= 2;
        // catalog.schema.name
        if (q >= s && k[q] === Tok.Dot && q - 1 >= s && (k[q - 1] === Tok.Word || k[q - 1] === Tok.QuotedIdent)) q -= 2;
      }
      if (!this.#callContext(q, s)) continue;
      const close = match[i + 1];
      // WITH name(cols) AS [NOT] [MATERIALIZED] ( query ) — but "f(x) AS (a int, b text)" is a call with a column definition list
      if (this.#word(close + 1, e) === 'as' && this.#isCteBody(close + 2, e)) continue;
      if (pinsOnly && name !== 'set_config' && !ADVISORY_LOCKERS.has(name)) continue;
      const verdict = pinsOnly ? 'write' : this.#function(schema, name);
      if (verdict === 'read') continue;
      if (name === 'set_config' && pins === undefined) {
        // set_config(name, value, is_local): session-wide unless is_local is literally true
        if (!(k[close - 1] === Tok.Word && x[close - 1] === 'true')) pins = 'set';
      } else if (ADVISORY_LOCKERS.has(name) && (schema === undefined || schema === 'pg_catalog')) pins ??= 'advisory-lock';
      write ??= verdict === 'unknown' ? `unknown function ${schema ? `${schema}.` : ''}${name}() may write` : `calls ${name}()`;
    }
    return { write, pins };
  }

  /** Whether an unreserved keyword followed by `(` at this place is grammar rather than a call. */
  #grammar(name: string, p: number, s: number): boolean {
    const ctx = GRAMMAR_BEFORE_PAREN.get(name);
    if (ctx === undefined || p < s) return false;
    const kind = this.#k[p];
    if (kind === Tok.Literal) return ctx.has('$lit');
    if (kind !== Tok.Word) return false;
    const w = this.#x[p];
    if (ctx.has(w)) return true;
    return p - 1 >= s && this.#k[p - 1] === Tok.Word && ctx.has(`${this.#x[p - 1]} ${w}`);
  }

  /** For CUBE(/ROLLUP(: whether they stand in a GROUP BY [ALL|DISTINCT] list or in GROUPING SETS (then they are grammar). */
  #inGroupingList(p: number, s: number): boolean {
    const k = this.#k;
    const x = this.#x;
    const match = this.#match!;
    for (let j = p; j >= s; j--) {
      const kind = k[j];
      if (kind === Tok.Close) j = match[j];
      else if (kind === Tok.Open) return j - 1 >= s && k[j - 1] === Tok.Word && x[j - 1] === 'sets';
      else if (kind === Tok.Word) {
        if (x[j] === 'by') return j - 1 >= s && k[j - 1] === Tok.Word && x[j - 1] === 'group';
        if (CLAUSE_WORDS.has(x[j])) return false;
      }
    }
    return false;
  }

  /** Whether tokens from i look like `[NOT] [MATERIALIZED] ( query` — the body of a WITH entry. */
  #isCteBody(i: number, e: number): boolean {
    if (this.#word(i, e) === 'not') i++;
    if (this.#word(i, e) === 'materialized') i++;
    if (i >= e || this.#k[i] !== Tok.Open) return false;
    if (this.#k[i + 1] === Tok.Open) return true;
    switch (this.#word(i + 1, e)) {
      case 'select':
      case 'values':
      case 'with':
      case 'table':
      case 'insert':
      case 'update':
      case 'delete':
      case 'merge':
        return true;
      default:
        return false;
    }
  }

  /** Whether the token at q (just before a name followed by "(") makes that name a call. */
  #callContext(q: number, s: number): boolean {
    if (q < s) return true;
    const kind = this.#k[q];
    switch (kind) {
      case Tok.Word: {
        const w = this.#x[q];
        if (NOT_CALL_AFTER.has(w)) return false;
        // after a plain identifier: an alias with a column list ("FROM t x(a, b)")
        return SQL_KEYWORDS.has(w);
      }
      case Tok.QuotedIdent:
      case Tok.Cast:
        return false;
      case Tok.Close: {
        // "FROM f() g(a)" / "(VALUES …) v(a)" are aliases; "DISTINCT ON (a) f(x)" is a call.
        const o = this.#match![q];
        if (o >= 1 && this.#k[o - 1] === Tok.Word && this.#x[o - 1] === 'operator') return true;
        return o >= 2 && this.#k[o - 1] === Tok.Word && this.#x[o - 1] === 'on' && this.#x[o - 2] === 'distinct';
      }
      default:
        return true;
    }
  }

  /** 'read' when the function is known not to write, 'write' for known writers, 'unknown' otherwise (also a write). */
  #function(schema: string | undefined, name: string): 'read' | 'write' | 'unknown' {
    const full = schema === undefined ? name : `${schema}.${name}`;
    if (this.write.has(full) || (schema !== undefined && this.write.has(name))) return 'write';
    if (this.readOnly.has(full) || (schema !== undefined && this.readOnly.has(name))) return 'read';
    const builtin = schema === undefined || schema === 'pg_catalog' || schema === 'information_schema';
    if (builtin && BUILTIN_WRITERS.has(name)) return 'write';
    // A volatile user function of the same name may be what an unqualified call resolves to.
    const v = schema === 'pg_catalog' ? undefined : this.learned.get(full);
    if (v === 'v') return 'write';
    if (builtin && BUILTIN_READ_SAFE.has(name)) return 'read';
    if (v === 'i' || v === 's') return 'read';
    const unknown = (this.#unknown ??= []);
    if (!unknown.includes(full)) unknown.push(full);
    return 'unknown';
  }
}

const shared = new Classifier();

/** {@link Classifier.classify} on a shared default classifier. */
export const classify = (sql: string): StatementKind => shared.classify(sql);

/** {@link Classifier.analyze} on a shared default classifier. */
export const analyze = (sql: string): Analysis => shared.analyze(sql);
