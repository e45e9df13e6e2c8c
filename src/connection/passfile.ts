/**
 * The password file (~/.pgpass, PGPASSFILE, `passfile=`), read the way libpq's
 * `passwordFromFile` does: lines `hostname:port:database:username:password`,
 * `*` matching anything in a field, `\` escaping `:` and `\`, `#` comments;
 * the first matching line wins. A file that is not a plain file, or that
 * group or others can access, is ignored (libpq prints a warning; so do we,
 * through the optional `warn` callback).
 */
import { readFileSync, statSync } from 'node:fs';

export interface PassfileQuery {
  /** Host name, socket directory, or (without host) hostaddr; empty means localhost. */
  readonly host: string;
  /** Port as given; empty means 5432. */
  readonly port: string;
  readonly database: string;
  readonly user: string;
  /** The default unix-socket directory, which also matches `localhost` entries. */
  readonly defaultSocketDir: string;
}

/** Finds a password for `query` in `file`, or undefined. Never throws for a missing or unreadable file. */
export function passwordFromFile(file: string, query: PassfileQuery, warn?: (message: string) => void): string | undefined {
  if (!query.database || !query.user) return undefined;
  let host = query.host;
  if (host === '') host = 'localhost';
  else if (isUnixSocketPath(host) && host === query.defaultSocketDir) host = 'localhost';
  const port = query.port === '' ? '5432' : query.port;

  let text: string;
  try {
    const st = statSync(file);
    if (!st.isFile()) {
      warn?.(`password file ${JSON.stringify(file)} is not a plain file`);
      return undefined;
    }
    if (process.platform !== 'win32' && (st.mode & 0o077) !== 0) {
      warn?.(`password file ${JSON.stringify(file)} has group or world access; permissions should be u=rw (0600) or less`);
      return undefined;
    }
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }

  for (const rawLine of text.split('\n')) {
    if (rawLine.startsWith('#')) continue;
    const line = rawLine.replace(/[\r\n]+$/, '');
    if (line.length === 0) continue;
    let rest: string | undefined = line;
    for (const token of [host, port, query.database, query.user]) {
      rest = matchField(rest, token);
      if (rest === undefined) break;
    }
    if (rest === undefined) continue;
    return unescapePassword(rest);
  }
  return undefined;
}

/** libpq's `is_unixsock_path`: an absolute path, or `@` for Linux's abstract namespace. */
export function isUnixSocketPath(host: string): boolean {
  return host.startsWith('/') || host.startsWith('@');
}

/**
 * libpq's `pwdfMatchesString`: if the first field of `buf` matches `token`
 * (or is `*`), returns the rest after its `:`; else undefined.
 */
function matchField(buf: string, token: string): string | undefined {
  if (buf.startsWith('*:')) return buf.slice(2);
  let i = 0;
  let t = 0;
  let bslash = false;
  while (i < buf.length) {
    if (buf[i] === '\\' && !bslash) {
      i++;
      bslash = true;
    }
    if (buf[i] === ':' && t === token.length && !bslash) return buf.slice(i + 1);
    bslash = false;
    if (t === token.length) return undefined;
    if (i < buf.length && buf[i] === token[t]) {
      i++;
      t++;
    } else {
      return undefined;
    }
  }
  return undefined;
}

/** The password field: up to the first unescaped `:`, with `\x` → `x`. */
function unescapePassword(field: string): string {
  let out = '';
  for (let i = 0; i < field.length && field[i] !== ':'; i++) {
    if (field[i] === '\\' && i + 1 < field.length) i++;
    out += field[i];
  }
  return out;
}
