/**
 * A small, fast SQL tokenizer for routing decisions: just enough of
 * PostgreSQL's lexical rules (scan.l) to tell words, strings, comments and
 * punctuation apart. It never throws: malformed input (an unterminated string,
 * comment, quoted identifier or dollar quote) is reported in `error` and the
 * classifier treats it as a write.
 */

/** Token kinds. Numbers, strings and parameters are all "literals" for routing. */
export const enum Tok {
  /** Unquoted identifier or keyword, lower-cased. */
  Word = 1,
  /** Double-quoted identifier, case kept (never a keyword). */
  QuotedIdent = 2,
  /** Any string constant ('…', E'…', $$…$$, B'…', X'…', U&'…'), a number or a $n parameter. */
  Literal = 3,
  /** `(` */
  Open = 4,
  /** `)` */
  Close = 5,
  /** `,` */
  Comma = 6,
  /** `;` */
  Semi = 7,
  /** `.` */
  Dot = 8,
  /** `::` */
  Cast = 9,
  /** Any other operator or punctuation (`=`, `[`, `]`, `+`, `:=`, `=>` …). */
  Op = 10,
}

/** The tokens of one SQL string, in parallel arrays (cheaper than one object per token). */
export interface Tokens {
  /** Token kinds. */
  kinds: Tok[];
  /** Word text (lower-cased), quoted identifier text (unescaped), or operator text; '' for literals. */
  texts: string[];
  /** Number of tokens. */
  length: number;
  /** Routing hint found in a comment (`pgfailover:primary` / `pgfailover:standby`), the first one wins. */
  hint?: 'primary' | 'standby';
  /** Set when the input cannot be tokenized completely (the rest of the input is then ignored). */
  error?: string;
  /**
   * A standard '…' string contained a backslash: a server running with
   * standard_conforming_strings=off would read it differently (`\'` escapes the quote).
   */
  backslashInString?: boolean;
}

/** Lexing options. */
export interface TokenizeOptions {
  /** Read backslashes in standard '…' strings as escapes (standard_conforming_strings=off). Default false. */
  backslashEscapes?: boolean;
}

const enum C {
  TAB = 9,
  LF = 10,
  VT = 11,
  FF = 12,
  CR = 13,
  SPACE = 32,
  DQUOTE = 34,
  DOLLAR = 36,
  QUOTE = 39,
  OPEN = 40,
  CLOSE = 41,
  STAR = 42,
  COMMA = 44,
  MINUS = 45,
  DOT = 46,
  SLASH = 47,
  D0 = 48,
  D9 = 57,
  COLON = 58,
  SEMI = 59,
  AMP = 38,
  UA = 65,
  UZ = 90,
  BACKSLASH = 92,
  UNDERSCORE = 95,
  LA = 97,
  LZ = 122,
}

function isIdentStart(c: number): boolean {
  return (c >= C.LA && c <= C.LZ) || (c >= C.UA && c <= C.UZ) || c === C.UNDERSCORE || c >= 128;
}

function isIdentChar(c: number): boolean {
  return isIdentStart(c) || (c >= C.D0 && c <= C.D9) || c === C.DOLLAR;
}

function isSpace(c: number): boolean {
  return c === C.SPACE || c === C.TAB || c === C.LF || c === C.CR || c === C.FF || c === C.VT;
}

/** Characters PostgreSQL allows in operators. */
function isOpChar(c: number): boolean {
  // ~ ! @ # ^ & | ` ? + - * / % < > =
  switch (c) {
    case 126:
    case 33:
    case 64:
    case 35:
    case 94:
    case 38:
    case 124:
    case 96:
    case 63:
    case 43:
    case 45:
    case 42:
    case 47:
    case 37:
    case 60:
    case 62:
    case 61:
      return true;
    default:
      return false;
  }
}

const HINT = /pgfailover:\s*(primary|standby)\b/i;

/**
 * Tokenizes `sql`. Comments are dropped (a routing hint inside one is kept in
 * `hint`). Never throws.
 */
export function tokenize(sql: string, options: TokenizeOptions = {}): Tokens {
  const bs = options.backslashEscapes === true;
  // Position of the next backslash at or after a string's start (amortized linear: it only moves forward).
  let nextBackslash = bs ? -1 : sql.indexOf('\\');
  const backslashWithin = (from: number, to: number): boolean => {
    if (nextBackslash < 0) return false;
    if (nextBackslash < from) nextBackslash = sql.indexOf('\\', from);
    return nextBackslash >= 0 && nextBackslash < to;
  };
  const kinds: Tok[] = [];
  const texts: string[] = [];
  const out: Tokens = { kinds, texts, length: 0 };
  const n = sql.length;
  let i = 0;
  const push = (k: Tok, t: string) => {
    kinds.push(k);
    texts.push(t);
  };
  while (i < n) {
    const c = sql.charCodeAt(i);
    if (isSpace(c)) {
      i++;
      continue;
    }
    // -- comment
    if (c === C.MINUS && sql.charCodeAt(i + 1) === C.MINUS) {
      let j = i + 2;
      while (j < n && sql.charCodeAt(j) !== C.LF && sql.charCodeAt(j) !== C.CR) j++;
      if (out.hint === undefined) noteHint(out, sql, i + 2, j);
      i = j;
      continue;
    }
    // /* nested */ comment
    if (c === C.SLASH && sql.charCodeAt(i + 1) === C.STAR) {
      let depth = 1;
      let j = i + 2;
      while (j < n && depth > 0) {
        const d = sql.charCodeAt(j);
        if (d === C.SLASH && sql.charCodeAt(j + 1) === C.STAR) {
          depth++;
          j += 2;
        } else if (d === C.STAR && sql.charCodeAt(j + 1) === C.SLASH) {
          depth--;
          j += 2;
        } else j++;
      }
      if (depth > 0) return fail(out, 'unterminated /* comment');
      if (out.hint === undefined) noteHint(out, sql, i + 2, j - 2);
      i = j;
      continue;
    }
    if (isIdentStart(c)) {
      // String prefixes: E'…', B'…', X'…', N'…', U&'…', U&"…"
      const next = sql.charCodeAt(i + 1);
      if (next === C.QUOTE) {
        const p = c | 0x20;
        if (p === 101 /* e */) {
          const j = scanQuoted(sql, i + 2, true);
          if (j < 0) return fail(out, 'unterminated string');
          push(Tok.Literal, '');
          i = j;
          continue;
        }
        if (p === 98 /* b */ || p === 120 /* x */ || p === 110 /* n */) {
          const j = scanQuoted(sql, i + 2, bs);
          if (!bs && !out.backslashInString && backslashWithin(i, j)) out.backslashInString = true;
          if (j < 0) return fail(out, 'unterminated string');
          push(Tok.Literal, '');
          i = j;
          continue;
        }
      }
      if ((c | 0x20) === 117 /* u */ && next === C.AMP) {
        const q = sql.charCodeAt(i + 2);
        if (q === C.QUOTE) {
          const j = scanQuoted(sql, i + 3, false);
          if (j < 0) return fail(out, 'unterminated string');
          push(Tok.Literal, '');
          i = j;
          continue;
        }
        if (q === C.DQUOTE) {
          const j = scanQuotedIdent(sql, i + 3);
          if (j < 0) return fail(out, 'unterminated quoted identifier');
          push(Tok.QuotedIdent, unquoteIdent(sql, i + 3, j));
          i = j;
          continue;
        }
      }
      let j = i + 1;
      while (j < n && isIdentChar(sql.charCodeAt(j))) j++;
      push(Tok.Word, sql.slice(i, j).toLowerCase());
      i = j;
      continue;
    }
    if (c === C.QUOTE) {
      const j = scanQuoted(sql, i + 1, bs);
      if (j < 0) return fail(out, 'unterminated string');
      if (!bs && !out.backslashInString && backslashWithin(i, j)) out.backslashInString = true;
      push(Tok.Literal, '');
      i = j;
      continue;
    }
    if (c === C.DQUOTE) {
      const j = scanQuotedIdent(sql, i + 1);
      if (j < 0) return fail(out, 'unterminated quoted identifier');
      push(Tok.QuotedIdent, unquoteIdent(sql, i + 1, j));
      i = j;
      continue;
    }
    if (c === C.DOLLAR) {
      const d = sql.charCodeAt(i + 1);
      if (d >= C.D0 && d <= C.D9) {
        // $1 parameter
        let j = i + 2;
        while (j < n && isDigit(sql.charCodeAt(j))) j++;
        push(Tok.Literal, '');
        i = j;
        continue;
      }
      // $tag$ … $tag$ (tag may be empty)
      let j = i + 1;
      if (d !== C.DOLLAR) {
        if (!isIdentStart(d)) {
          push(Tok.Op, '$');
          i++;
          continue;
        }
        while (j < n && isIdentChar(sql.charCodeAt(j)) && sql.charCodeAt(j) !== C.DOLLAR) j++;
        if (sql.charCodeAt(j) !== C.DOLLAR) {
          // `$name` without a closing `$`: not a dollar quote
          push(Tok.Op, '$');
          i++;
          continue;
        }
      }
      const tag = sql.slice(i, j + 1);
      const end = sql.indexOf(tag, j + 1);
      if (end < 0) return fail(out, 'unterminated dollar-quoted string');
      push(Tok.Literal, '');
      i = end + tag.length;
      continue;
    }
    if (isDigit(c) || (c === C.DOT && isDigit(sql.charCodeAt(i + 1)))) {
      push(Tok.Literal, '');
      i = scanNumber(sql, i);
      continue;
    }
    switch (c) {
      case C.OPEN:
        push(Tok.Open, '(');
        i++;
        continue;
      case C.CLOSE:
        push(Tok.Close, ')');
        i++;
        continue;
      case C.COMMA:
        push(Tok.Comma, ',');
        i++;
        continue;
      case C.SEMI:
        push(Tok.Semi, ';');
        i++;
        continue;
      case C.DOT:
        push(Tok.Dot, '.');
        i++;
        continue;
      case C.COLON:
        if (sql.charCodeAt(i + 1) === C.COLON) {
          push(Tok.Cast, '::');
          i += 2;
        } else if (sql.charCodeAt(i + 1) === 61) {
          push(Tok.Op, ':=');
          i += 2;
        } else {
          push(Tok.Op, ':');
          i++;
        }
        continue;
    }
    if (isOpChar(c)) {
      let j = i + 1;
      while (j < n && isOpChar(sql.charCodeAt(j))) {
        // a comment start ends the operator
        const d = sql.charCodeAt(j);
        if ((d === C.MINUS && sql.charCodeAt(j + 1) === C.MINUS) || (d === C.SLASH && sql.charCodeAt(j + 1) === C.STAR)) break;
        j++;
      }
      push(Tok.Op, sql.slice(i, j));
      i = j;
      continue;
    }
    // [ ] and anything else: single-character punctuation
    push(Tok.Op, sql[i]);
    i++;
  }
  out.length = kinds.length;
  return out;
}

/**
 * Scans a numeric constant like PostgreSQL 15: digits [. digits] [e [+-] digits],
 * 0x/0o/0b integers and `_` separators (PostgreSQL 16). Letters glued to a
 * number are NOT part of it (`1and` is `1` then `and`, as PostgreSQL 15 reads it).
 */
function scanNumber(sql: string, i: number): number {
  const n = sql.length;
  const c1 = sql.charCodeAt(i + 1) | 0x20;
  if (sql.charCodeAt(i) === C.D0 && (c1 === 120 || c1 === 111 || c1 === 98)) {
    let j = i + 2;
    while (j < n && (isHexDigit(sql.charCodeAt(j)) || sql.charCodeAt(j) === C.UNDERSCORE)) j++;
    if (j > i + 2) return j;
  }
  let j = i;
  while (j < n && (isDigit(sql.charCodeAt(j)) || (sql.charCodeAt(j) === C.UNDERSCORE && isDigit(sql.charCodeAt(j + 1))))) j++;
  if (sql.charCodeAt(j) === C.DOT && sql.charCodeAt(j + 1) !== C.DOT) {
    j++;
    while (j < n && isDigit(sql.charCodeAt(j))) j++;
  }
  if ((sql.charCodeAt(j) | 0x20) === 101) {
    let k = j + 1;
    const sign = sql.charCodeAt(k);
    if (sign === 43 || sign === C.MINUS) k++;
    if (isDigit(sql.charCodeAt(k))) {
      while (k < n && isDigit(sql.charCodeAt(k))) k++;
      j = k;
    }
  }
  return j;
}

function isHexDigit(c: number): boolean {
  return isDigit(c) || ((c | 0x20) >= 97 && (c | 0x20) <= 102);
}

function isDigit(c: number): boolean {
  return c >= C.D0 && c <= C.D9;
}

function fail(out: Tokens, why: string): Tokens {
  out.error = why;
  out.length = out.kinds.length;
  return out;
}

function noteHint(out: Tokens, sql: string, from: number, to: number): void {
  // Fast reject before the regular expression.
  const body = sql.slice(from, to);
  if (body.indexOf('pgfailover') < 0 && body.toLowerCase().indexOf('pgfailover') < 0) return;
  const m = HINT.exec(body);
  if (m) out.hint = m[1].toLowerCase() as 'primary' | 'standby';
}

/**
 * Scans a single-quoted string body starting at `i` (just after the opening
 * quote); returns the index after the closing quote, or -1 when unterminated.
 * `backslash` enables E'' escapes (`\'`, `\\`).
 */
function scanQuoted(sql: string, i: number, backslash: boolean): number {
  const n = sql.length;
  for (;;) {
    if (i >= n) return -1;
    const c = sql.charCodeAt(i);
    if (backslash && c === C.BACKSLASH) {
      i += 2;
      continue;
    }
    if (c === C.QUOTE) {
      if (sql.charCodeAt(i + 1) === C.QUOTE) {
        i += 2;
        continue;
      }
      return i + 1;
    }
    i++;
  }
}

/** Like scanQuoted for "identifiers" (`""` escapes a quote). */
function scanQuotedIdent(sql: string, i: number): number {
  const n = sql.length;
  for (;;) {
    const j = sql.indexOf('"', i);
    if (j < 0 || j >= n) return -1;
    if (sql.charCodeAt(j + 1) === C.DQUOTE) {
      i = j + 2;
      continue;
    }
    return j + 1;
  }
}

function unquoteIdent(sql: string, from: number, end: number): string {
  const body = sql.slice(from, end - 1);
  return body.indexOf('""') < 0 ? body : body.replace(/""/g, '"');
}
