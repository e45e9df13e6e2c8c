/**
 * libpq's connection-string parser (`PQconninfoParse`), reimplemented: the
 * keyword/value form (`host=a port=5432`) and the URI form
 * (`postgresql://user:pw@h1:5432,h2/db?sslmode=require`), with libpq's exact
 * rules for multi-host lists, percent-decoding, bracketed IPv6 addresses,
 * quoting and backslash escapes, repeated keys (last wins), `ssl=true` and
 * `requiressl`, and its errors. No defaults, no environment: that is
 * `options.ts`.
 *
 * Parity with the real libpq is proven by test/connection/libpq-parity.test.ts,
 * which runs the same inputs through `PQconninfoParse`.
 *
 * Deliberate differences from libpq, each raising {@link ConnectionStringError}
 * with code `CONNINFO_SYNTAX` where libpq would carry on:
 * - a NUL character in the string (libpq, reading a C string, would silently
 *   ignore everything after it);
 * - a setting whose final value, after percent-decoding, is not valid UTF-8
 *   (libpq passes the raw bytes on; a JavaScript string cannot hold them
 *   faithfully). The error has `detail.reason === 'invalid-utf8'`.
 *
 * Our own parameters, `pgfailover.<name>=value` (in either form), are taken
 * out before libpq's rules apply and returned in `extensions`.
 */
import { ConnectionStringError, type FailoverErrorCode } from '../errors';
import { safeWord } from './fragment';
import { EXTENSION_PREFIX, LIBPQ_KEYWORDS, SECRET_KEYWORDS } from './keywords';

/** The result of parsing a connection string, before defaults. */
export interface ParsedConninfo {
  /** Which of libpq's two syntaxes the string used. */
  readonly form: 'uri' | 'keyword-value';
  /**
   * Keyword → value for every keyword the string set, exactly as
   * `PQconninfoParse` returns them (libpq's table order; lists such as
   * `host=a,b` stay comma-joined; an explicitly empty value is `''`).
   */
  readonly keywords: Record<string, string>;
  /** `pgfailover.<name>` parameters, keyed by `<name>`. */
  readonly extensions: Record<string, string>;
}

export interface ParseConninfoOptions {
  /**
   * The keyword table to accept, in output order. Defaults to libpq 17's.
   * The parity test passes the installed libpq's own table here.
   */
  readonly keywords?: readonly string[];
}

const URI_DESIGNATOR = 'postgresql://';
const SHORT_URI_DESIGNATOR = 'postgres://';

const DEFAULT_KEYWORD_SET: ReadonlySet<string> = new Set(LIBPQ_KEYWORDS);

/**
 * Returns the keyword → value map libpq's `PQconninfoParse` would return for
 * `conninfo`: only the keywords the string sets, no defaults, no environment.
 * `pgfailover.*` parameters are removed first (libpq would reject them; use
 * {@link parseConninfo} or `parseConnectionString` to read them).
 *
 * @throws {ConnectionStringError} `CONNINFO_SYNTAX` or `CONNINFO_UNKNOWN_KEYWORD`
 *   wherever libpq fails to parse the string.
 *
 * @example
 * libpqKeywords('postgresql://app@h1:5433,h2/shop?target_session_attrs=read-write');
 * // { user: 'app', dbname: 'shop', host: 'h1,h2', port: '5433,', target_session_attrs: 'read-write' }
 */
export function libpqKeywords(conninfo: string): Record<string, string> {
  return parseConninfo(conninfo).keywords;
}

/** Whether libpq would parse `conninfo` as a URI rather than keyword/value pairs. */
export function isConninfoUri(conninfo: string): boolean {
  return conninfo.startsWith(URI_DESIGNATOR) || conninfo.startsWith(SHORT_URI_DESIGNATOR);
}

/**
 * Parses `conninfo` like `PQconninfoParse`, also returning the form and the
 * `pgfailover.*` extension parameters.
 *
 * @throws {ConnectionStringError} `CONNINFO_SYNTAX` or `CONNINFO_UNKNOWN_KEYWORD`.
 */
export function parseConninfo(conninfo: string, options: ParseConninfoOptions = {}): ParsedConninfo {
  if (typeof conninfo !== 'string') {
    throw new ConnectionStringError('CONNINFO_SYNTAX', 'connection string must be a string');
  }
  if (conninfo.includes('\0')) {
    throw new ConnectionStringError('CONNINFO_SYNTAX', 'connection string contains a NUL character');
  }
  const order = options.keywords ?? LIBPQ_KEYWORDS;
  const known = options.keywords ? new Set(options.keywords) : DEFAULT_KEYWORD_SET;
  const sink = new Sink(known, /password/i.test(conninfo) || conninfo.includes('@'));
  let form: ParsedConninfo['form'];
  if (conninfo.startsWith(URI_DESIGNATOR)) {
    form = 'uri';
    parseUri(conninfo, URI_DESIGNATOR.length, sink);
  } else if (conninfo.startsWith(SHORT_URI_DESIGNATOR)) {
    form = 'uri';
    parseUri(conninfo, SHORT_URI_DESIGNATOR.length, sink);
  } else {
    form = 'keyword-value';
    parseKeywordValue(conninfo, sink);
  }
  const keywords: Record<string, string> = {};
  for (const k of order) {
    const v = sink.values.get(k);
    if (v === undefined) continue;
    // Bytes that are not UTF-8 can only come from percent-decoding; libpq would
    // pass them on, we cannot (checked only for the values that survive, as a
    // later setting may replace an earlier one).
    keywords[k] = typeof v === 'string' ? v : failInvalidUtf8(`value of ${k}`);
  }
  const extensions: Record<string, string> = {};
  for (const [k, v] of sink.extensions) extensions[k] = v;
  return { form, keywords, extensions };
}

/** Collects values the way libpq's `conninfo_storeval` does. */
class Sink {
  /** Buffers hold percent-decoded bytes that are not UTF-8. */
  readonly values = new Map<string, string | Buffer>();
  readonly extensions = new Map<string, string>();
  /**
   * @param quiet the input may hold a password (it mentions one, or has an
   *   `@`): then no piece of the input goes into an error message, because a
   *   quoting or syntax mistake can shift a password into any position.
   */
  constructor(
    private readonly known: ReadonlySet<string>,
    readonly quiet: boolean,
  ) {}

  /** `word` as an error may show it, or undefined when nothing may be shown. */
  show(word: string): string | undefined {
    return this.quiet ? undefined : safeWord(word);
  }

  /** Returns false when the keyword is unknown (the caller words the error). */
  store(keyword: string, value: string | Buffer): boolean {
    if (keyword.startsWith(EXTENSION_PREFIX) && keyword.length > EXTENSION_PREFIX.length) {
      this.extensions.set(
        keyword.slice(EXTENSION_PREFIX.length),
        typeof value === 'string' ? value : failInvalidUtf8(`value of ${keyword}`),
      );
      return true;
    }
    // libpq: for backwards compatibility, requiressl=1 means sslmode=require,
    // any other requiressl value sslmode=prefer.
    if (keyword === 'requiressl') {
      keyword = 'sslmode';
      value = value[0] === (typeof value === 'string' ? '1' : 0x31) ? 'require' : 'prefer';
    }
    if (!this.known.has(keyword)) return false;
    this.values.set(keyword, value);
    return true;
  }
}

function fail(code: FailoverErrorCode, message: string, fragment?: string, reason?: string): never {
  throw new ConnectionStringError(code, message, {
    ...(fragment === undefined ? {} : { fragment }),
    ...(reason === undefined ? {} : { detail: { reason } }),
  });
}

/** Fails with `what`, naming `shown` (already made safe) when there is one. */
function failNaming(code: FailoverErrorCode, what: string, shown: string | undefined): never {
  return fail(code, shown === undefined ? what : `${what}: ${JSON.stringify(shown)}`, shown);
}

/** C's isspace() in the "C" locale, which is what libpq's parser sees. */
function isSpace(c: string | undefined): boolean {
  return c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\v' || c === '\f';
}

/** libpq's `conninfo_parse`: whitespace-separated `keyword = value` pairs. */
function parseKeywordValue(s: string, sink: Sink): void {
  const n = s.length;
  let i = 0;
  // After a secret (password) value, the next bare word may well be the rest
  // of a password the user forgot to quote: never echo it in a message.
  let afterSecret = false;
  while (i < n) {
    if (isSpace(s[i])) {
      i++;
      continue;
    }
    const nameStart = i;
    while (i < n && s[i] !== '=' && !isSpace(s[i])) i++;
    const name = s.slice(nameStart, i);
    while (i < n && isSpace(s[i])) i++;
    if (s[i] !== '=') {
      failNaming('CONNINFO_SYNTAX', 'missing "=" after a word in connection info string', afterSecret ? undefined : sink.show(name));
    }
    i++;
    while (i < n && isSpace(s[i])) i++;
    let value = '';
    if (s[i] !== "'") {
      while (i < n) {
        const c = s[i];
        if (isSpace(c)) {
          i++;
          break;
        }
        if (c === '\\') {
          i++;
          if (i < n) value += s[i++];
        } else {
          value += c;
          i++;
        }
      }
    } else {
      i++;
      for (;;) {
        if (i >= n) {
          failNaming('CONNINFO_SYNTAX', 'unterminated quoted string in connection info string, value of', afterSecret ? undefined : sink.show(name));
        }
        const c = s[i];
        if (c === '\\') {
          i++;
          if (i < n) value += s[i++];
          continue;
        }
        if (c === "'") {
          i++;
          break;
        }
        value += c;
        i++;
      }
    }
    if (!sink.store(name, value)) {
      failNaming('CONNINFO_UNKNOWN_KEYWORD', 'invalid connection option', afterSecret ? undefined : sink.show(name));
    }
    afterSecret = SECRET_KEYWORDS.has(name);
  }
}

/** libpq's `conninfo_uri_parse_options`. */
function parseUri(s: string, prefixLength: number, sink: Sink): void {
  const n = s.length;
  let p = prefixLength;

  // Look ahead for user credentials: an '@' before any '/'.
  let q = p;
  while (q < n && s[q] !== '@' && s[q] !== '/') q++;
  if (q < n && s[q] === '@') {
    let u = p;
    while (s[u] !== ':' && s[u] !== '@') u++;
    const user = s.slice(p, u);
    if (user) storeDecoded(sink, 'user', user);
    if (s[u] === ':') {
      const pwStart = u + 1;
      u = pwStart;
      while (s[u] !== '@') u++;
      const password = s.slice(pwStart, u);
      if (password) storeDecoded(sink, 'password', password);
    }
    p = u + 1;
  }

  // netloc[:port] pairs separated by commas.
  let hostbuf = '';
  let portbuf = '';
  let prev = '';
  for (;;) {
    let host: string;
    if (s[p] === '[') {
      const bracket = p;
      const hostStart = ++p;
      while (p < n && s[p] !== ']') p++;
      if (p >= n) {
        failNaming('CONNINFO_SYNTAX', 'end of string reached when looking for matching "]" in IPv6 host address in URI', sink.show(authorityFragment(s, bracket)));
      }
      if (p === hostStart) fail('CONNINFO_SYNTAX', 'IPv6 host address may not be empty in URI', '[]');
      host = s.slice(hostStart, p);
      p++;
      if (p < n && s[p] !== ':' && s[p] !== '/' && s[p] !== '?' && s[p] !== ',') {
        failNaming(
          'CONNINFO_SYNTAX',
          `unexpected character at position ${p + 1} in URI, after an IPv6 address (expected ":" or "/")`,
          sink.show(s.slice(bracket, p + 1)),
        );
      }
    } else {
      const hostStart = p;
      while (p < n && s[p] !== ':' && s[p] !== '/' && s[p] !== '?' && s[p] !== ',') p++;
      host = s.slice(hostStart, p);
    }
    prev = p < n ? s[p]! : '';
    hostbuf += host;
    if (prev === ':') {
      const portStart = ++p;
      while (p < n && s[p] !== '/' && s[p] !== '?' && s[p] !== ',') p++;
      portbuf += s.slice(portStart, p);
      prev = p < n ? s[p]! : '';
    }
    if (prev !== ',') break;
    p++;
    hostbuf += ',';
    portbuf += ',';
  }
  if (hostbuf) storeDecoded(sink, 'host', hostbuf);
  if (portbuf) storeDecoded(sink, 'port', portbuf);

  if (prev && prev !== '?') {
    const dbStart = ++p;
    while (p < n && s[p] !== '?') p++;
    prev = p < n ? '?' : '';
    const dbname = s.slice(dbStart, p);
    // libpq leaves dbname unset rather than empty (an empty one would defeat PGDATABASE).
    if (dbname) storeDecoded(sink, 'dbname', dbname);
  }
  if (prev) parseUriParams(s.slice(p + 1), sink);
}

/** The netloc starting at `from`, up to the path or query (which may hold secrets). */
function authorityFragment(s: string, from: number): string {
  let end = from;
  while (end < s.length && s[end] !== '/' && s[end] !== '?') end++;
  return s.slice(from, end);
}

/** libpq's `conninfo_uri_parse_params`: `k=v&k=v`, both sides percent-decoded. */
function parseUriParams(params: string, sink: Sink): void {
  const m = params.length;
  let i = 0;
  while (i < m) {
    const start = i;
    let eq = -1;
    let end: number;
    for (;;) {
      if (i < m && params[i] === '=') {
        if (eq >= 0) {
          const key = params.slice(start, eq);
          failNaming('CONNINFO_SYNTAX', 'extra key/value separator "=" in URI query parameter', sink.show(key));
        }
        eq = i++;
      } else if (i >= m || params[i] === '&') {
        end = i;
        if (i < m) i++;
        if (eq < 0) {
          const segment = params.slice(start, end);
          failNaming('CONNINFO_SYNTAX', 'missing key/value separator "=" in URI query parameter', sink.show(segment));
        }
        break;
      } else {
        i++;
      }
    }
    const rawKey = params.slice(start, eq);
    const decodedKey = percentDecodeLenient(rawKey, 'a URI query parameter name', sink);
    const rawValue = params.slice(eq + 1, end);
    let value: string | Buffer = percentDecodeLenient(rawValue, 'a URI query parameter value', sink);
    if (typeof decodedKey !== 'string') {
      // No keyword has such bytes: libpq fails with "invalid URI query parameter".
      if (decodedKey.subarray(0, EXTENSION_PREFIX.length).toString('latin1') === EXTENSION_PREFIX) {
        failInvalidUtf8('a URI query parameter name');
      }
      failNaming('CONNINFO_UNKNOWN_KEYWORD', 'invalid URI query parameter', undefined);
    }
    let keyword: string = decodedKey;
    // libpq: JDBC compatibility.
    if (keyword === 'ssl' && value === 'true') {
      keyword = 'sslmode';
      value = 'require';
    }
    if (!sink.store(keyword, value)) {
      failNaming('CONNINFO_UNKNOWN_KEYWORD', 'invalid URI query parameter', sink.show(keyword));
    }
  }
}

function storeDecoded(sink: Sink, keyword: 'user' | 'password' | 'host' | 'port' | 'dbname', raw: string): void {
  const what = keyword === 'dbname' ? 'database name' : keyword === 'user' ? 'user name' : keyword;
  sink.store(keyword, percentDecodeLenient(raw, `the ${what} in the URI`, sink));
}

/** `detail.reason` of the error for percent-decoded bytes that are not UTF-8 (libpq accepts them). */
export const INVALID_UTF8 = 'invalid-utf8';

const utf8 = new TextDecoder('utf-8', { fatal: true });

function hexValue(byte: number | undefined): number {
  if (byte === undefined) return -1;
  if (byte >= 0x30 && byte <= 0x39) return byte - 0x30;
  if (byte >= 0x41 && byte <= 0x46) return byte - 0x41 + 10;
  if (byte >= 0x61 && byte <= 0x66) return byte - 0x61 + 10;
  return -1;
}

function failInvalidUtf8(what: string): never {
  return fail('CONNINFO_SYNTAX', `percent-decoded ${what} is not valid UTF-8`, undefined, INVALID_UTF8);
}

/**
 * libpq's `conninfo_uri_decode`: `%xy` → byte; a malformed escape or `%00` is
 * an error, naming only the bad escape (never the component, which may be a
 * password), and not even that when the input may hold a password. Returns
 * the bytes instead of a string when they are not UTF-8.
 */
function percentDecodeLenient(raw: string, what: string, sink: Sink): string | Buffer {
  if (!raw.includes('%')) return raw;
  const bytes = Buffer.from(raw, 'utf8');
  const out = Buffer.allocUnsafe(bytes.length);
  let o = 0;
  for (let i = 0; i < bytes.length; ) {
    const b = bytes[i]!;
    if (b !== 0x25) {
      out[o++] = b;
      i++;
      continue;
    }
    const hi = hexValue(bytes[i + 1]);
    const lo = hi < 0 ? -1 : hexValue(bytes[i + 2]);
    if (hi < 0 || lo < 0) {
      const token = bytes.subarray(i, i + 3).toString('utf8');
      failNaming('CONNINFO_SYNTAX', `invalid percent-encoded token in ${what}`, sink.quiet ? undefined : token);
    }
    const c = (hi << 4) | lo;
    if (c === 0) fail('CONNINFO_SYNTAX', `forbidden value %00 in percent-encoded ${what}`, '%00');
    out[o++] = c;
    i += 3;
  }
  try {
    return utf8.decode(out.subarray(0, o));
  } catch {
    return out.subarray(0, o);
  }
}
