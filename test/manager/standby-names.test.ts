/**
 * synchronous_standby_names read and written as Patroni 4 does (src/manager/standby-names.ts), pure.
 */
import { describe, expect, it } from 'vitest';
import { isFailoverError } from '../../src/errors';
import { formatStandbyNames, parseStandbyNames, quoteStandbyName } from '../../src/manager/standby-names';

describe('synchronous_standby_names', () => {
  it('parses the three forms PostgreSQL accepts, names unquoted, any case', () => {
    expect(parseStandbyNames('')).toEqual({ kind: 'off', hasStar: false, num: 0, members: [] });
    expect(parseStandbyNames(' a , "b c" ')).toEqual({ kind: 'priority', hasStar: false, num: 1, members: ['a', 'b c'] });
    expect(parseStandbyNames('2 (a,b)')).toEqual({ kind: 'priority', hasStar: false, num: 2, members: ['a', 'b'] });
    expect(parseStandbyNames('FiRsT 1 ("x""y")')).toEqual({ kind: 'priority', hasStar: false, num: 1, members: ['x"y'] });
    expect(parseStandbyNames('ANY 2 ("postgres-0","postgres-2")')).toEqual({ kind: 'quorum', hasStar: false, num: 2, members: ['postgres-0', 'postgres-2'] });
    expect(parseStandbyNames('ANY 1 (*)')).toMatchObject({ kind: 'quorum', hasStar: true, num: 1 });
    expect(parseStandbyNames('first')).toMatchObject({ kind: 'priority', members: ['first'] });
  });

  it('refuses what PostgreSQL refuses, with INVALID_OPTION naming the value', () => {
    for (const bad of ['1', 'a,', 'ANY 4("a" b,"c c")', 'FIRST 4("a",)', '2 (,)']) {
      let caught: unknown;
      try {
        parseStandbyNames(bad);
      } catch (e) {
        caught = e;
      }
      expect(isFailoverError(caught) && caught.code).toBe('INVALID_OPTION');
      expect((caught as Error).message).toContain(`'${bad}'`);
    }
  });

  it('quotes only where needed', () => {
    expect(quoteStandbyName('n1')).toBe('n1');
    expect(quoteStandbyName('postgres-1')).toBe('"postgres-1"');
    expect(quoteStandbyName('ANY')).toBe('"ANY"');
    expect(quoteStandbyName('a"b')).toBe('"a""b"');
  });

  it('writes priority, quorum and strict forms as Patroni does, names sorted', () => {
    expect(formatStandbyNames([], undefined, false)).toBe('');
    expect(formatStandbyNames([], 0, true)).toBe('');
    expect(formatStandbyNames(['postgres-2'], undefined, false)).toBe('"postgres-2"');
    expect(formatStandbyNames(['n2', 'n1'], undefined, false)).toBe('2 (n1,n2)');
    expect(formatStandbyNames(['postgres-2', 'postgres-0'], 1, true)).toBe('ANY 1 ("postgres-0","postgres-2")');
    expect(formatStandbyNames(['postgres-1'], 1, true)).toBe('ANY 1 ("postgres-1")');
    expect(formatStandbyNames([], 1, true)).toBe('ANY 1 (*)');
    expect(formatStandbyNames(['*'], undefined, false)).toBe('*');
  });

  it('round-trips', () => {
    for (const v of ['ANY 2 ("postgres-0","postgres-2")', '2 (n1,n2)', '"postgres-2"']) {
      const p = parseStandbyNames(v);
      expect(formatStandbyNames(p.members, p.kind === 'priority' && p.members.length === 1 ? undefined : p.num, p.kind === 'quorum')).toBe(v);
    }
  });
});
