import { describe, expect, it } from 'vitest';
import { formatLsn, lsnToPosition, parseLsn } from '../../src/lsn';

describe('one LSN type for the package', () => {
  it('parses and prints pg_lsn text, both halves, exact beyond 2^53', () => {
    expect(parseLsn('0/3000060')).toBe(0x3000060n);
    expect(parseLsn('16/b374d848')).toBe((0x16n << 32n) | 0xb374d848n);
    expect(formatLsn(parseLsn('FFFFFFFF/FFFFFFFF'))).toBe('FFFFFFFF/FFFFFFFF');
    expect(formatLsn(0x1_0000_00a0)).toBe('1/A0');
    expect(lsnToPosition('1/A0')).toBe(0x1_0000_00a0);
  });

  it('refuses what is not pg_lsn text with INVALID_OPTION naming it', () => {
    for (const bad of ['', '0', '0/', '/1', '0/3000060 ', 'G/1', '123456789/0', '0/0/0']) {
      expect(() => parseLsn(bad)).toThrow(expect.objectContaining({ code: 'INVALID_OPTION', message: expect.stringContaining(JSON.stringify(bad)) }));
    }
  });
});
