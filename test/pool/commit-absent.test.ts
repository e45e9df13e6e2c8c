/**
 * commitProvablyAbsent (xid-witness.ts): when a primary's replay position proves a lost commit is
 * not in its history. Pure logic; the real case (a promoted standby that never received the
 * transaction) is in xid-reuse.test.ts.
 */
import { describe, expect, test } from 'vitest';
import { commitProvablyAbsent, type LostTransaction } from '../../src/pool/xid-witness';

const lost: LostTransaction = { xid: '1000', node: '127.0.0.1:5432', started: '1765000000.1/1765000000.2', lsn: '0/3000000' };

describe('commitProvablyAbsent', () => {
  test('another node (or the same one restarted) whose replay ended at or before the position: absent', () => {
    expect(commitProvablyAbsent(lost, '1765000500.7/1765000500.8', true)).toBe(true);
  });

  test('the node the id was handed out on, same postmaster life: never, even with a new statistics reset time (its replay position may be from an older recovery)', () => {
    expect(commitProvablyAbsent(lost, '1765000000.1/1765000900.0', true)).toBe(false);
    expect(commitProvablyAbsent(lost, lost.started, true)).toBe(false);
  });

  test('replay past the position, no replay at all (NULL), or nothing known of the position: no proof', () => {
    expect(commitProvablyAbsent(lost, '1765000500.7/x', false)).toBe(false);
    expect(commitProvablyAbsent(lost, '1765000500.7/x', null)).toBe(false);
    const { lsn: _lsn, ...noLsn } = lost;
    expect(commitProvablyAbsent(noLsn, '1765000500.7/x', true)).toBe(false);
    const { started: _s, ...noStart } = lost;
    expect(commitProvablyAbsent(noStart, '1765000500.7/x', true)).toBe(false);
    expect(commitProvablyAbsent(lost, undefined, true)).toBe(false);
  });
});
