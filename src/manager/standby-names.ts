/**
 * `synchronous_standby_names`, read and written the way Patroni 4 does
 * (patroni/postgresql/sync.py): parsed into its kind (`off`, `priority`,
 * `quorum`), its number and its names; written with the names sorted, quoted
 * only where PostgreSQL needs quotes, as `name`, `N (a,b)` (priority, all
 * listed) or `ANY N (a,b)` (quorum commit), and `*` for "any standby" (strict
 * mode without a standby). Pure.
 */
import { FailoverError } from '../errors';

/** A parsed `synchronous_standby_names`. */
export interface StandbyNames {
  kind: 'off' | 'priority' | 'quorum';
  /** `*` is listed (any standby). */
  hasStar: boolean;
  /** How many listed standbys must confirm a commit. */
  num: number;
  /** The names listed, as PostgreSQL reads them (unquoted; `*` kept as `*`). */
  members: string[];
}

const TOKEN = /\s+|([fF][iI][rR][sS][tT])(?![A-Za-z_0-9$])|([aA][nN][yY])(?![A-Za-z_0-9$])|([A-Za-z_][A-Za-z_0-9$]*)|("(?:[^"]|"")*")|(\*)|(\d+)|(,)|(\()|(\))|(.)/gy;
type Tok = { type: 'first' | 'any' | 'ident' | 'dquot' | 'star' | 'num' | 'comma' | 'open' | 'close' | 'junk'; text: string; at: number };
const TYPES: Tok['type'][] = ['first', 'any', 'ident', 'dquot', 'star', 'num', 'comma', 'open', 'close', 'junk'];

function tokens(value: string): Tok[] {
  const out: Tok[] = [];
  TOKEN.lastIndex = 0;
  let m: RegExpExecArray | null;
  while (TOKEN.lastIndex < value.length && (m = TOKEN.exec(value))) {
    const i = m.slice(1).findIndex((g) => g !== undefined);
    if (i >= 0) out.push({ type: TYPES[i]!, text: m[0], at: m.index });
  }
  return out;
}

/**
 * Parses a value as PostgreSQL reads it. Throws FailoverError `INVALID_OPTION` naming the value
 * and the offending token when it cannot be parsed.
 */
export function parseStandbyNames(value: string): StandbyNames {
  const t = tokens(value);
  if (!t.length) return { kind: 'off', hasStar: false, num: 0, members: [] };
  const kinds = t.map((x) => x.type);
  const last = kinds[kinds.length - 1];
  let kind: StandbyNames['kind'] = 'priority';
  let num = 1;
  let list = t;
  if ((kinds[0] === 'any' || kinds[0] === 'first') && kinds[1] === 'num' && kinds[2] === 'open' && last === 'close') {
    kind = kinds[0] === 'any' ? 'quorum' : 'priority';
    num = Number(t[1]!.text);
    list = t.slice(3, -1);
  } else if (kinds[0] === 'num' && kinds[1] === 'open' && last === 'close') {
    num = Number(t[0]!.text);
    list = t.slice(2, -1);
  }
  const bad = (x: Tok, why: string) => new FailoverError('INVALID_OPTION', `Unparsable synchronous_standby_names value '${value}': ${why} ${x.type} '${x.text}' at ${x.at}`);
  const members: string[] = [];
  let hasStar = false;
  list.forEach((x, i) => {
    if (i % 2 === 1) {
      if (i === list.length - 1) throw bad(x, 'unexpected token');
      if (x.type !== 'comma') throw bad(x, 'expected a comma, got token');
    } else if (x.type === 'ident' || x.type === 'first' || x.type === 'any') members.push(x.text);
    else if (x.type === 'star') {
      members.push('*');
      hasStar = true;
    } else if (x.type === 'dquot') members.push(x.text.slice(1, -1).replace(/""/g, '"'));
    else throw bad(x, 'unexpected token');
  });
  return { kind, hasStar, num, members };
}

/** A standby name as it must appear in the value: as is when PostgreSQL reads it unquoted, else double-quoted. */
export function quoteStandbyName(name: string): string {
  return /^[A-Za-z_][A-Za-z_0-9$]*$/.test(name) && !['first', 'any'].includes(name.toLowerCase()) ? name : `"${name.replace(/"/g, '""')}"`;
}

/**
 * The value for `names` (sorted) of which `num` must confirm: '' for none; `*` (any standby)
 * when `names` holds `*` or is empty while `num` ≥ 1; `quorum` writes `ANY num (…)`; priority
 * writes one name as itself and several as `num (…)` (num defaults to all of them).
 */
export function formatStandbyNames(names: Iterable<string>, num: number | undefined, quorum: boolean): string {
  const given = [...names];
  const star = given.includes('*') || (num !== undefined && num >= 1 && given.length === 0);
  const list = star ? ['*'] : given.sort().map(quoteStandbyName);
  if (!list.length) return '';
  const n = num ?? list.length;
  if (quorum) return `ANY ${n} (${list.join(',')})`;
  return list.length > 1 ? `${n} (${list.join(',')})` : list[0]!;
}
