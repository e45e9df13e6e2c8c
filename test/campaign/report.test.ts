/**
 * The campaign's arithmetic: outage gaps around a fault, the Pool against the
 * best other client, the seeded PRNG, how errors count as failed or in doubt,
 * and the plain clients' reading of a libpq multi-host string.
 */
import { describe, it, expect } from 'vitest';
import { FailoverError } from '../../src/errors';
import { classify, errorLabel } from './outcome';
import { Prng } from './prng';
import { compareFaults, compareWithBestOther, gaps, longestGap, median, OUTAGE_TOLERANCE_MILLIS, outagesByKind, withinBest, type FaultRecord } from './report';
import { parseMultiHostUrl } from './workloads/read-write-session';

describe('longestGap', () => {
  it('measures from the last success before the fault to the first after, and any longer gap inside the window', () => {
    expect(longestGap([100, 200, 1500, 1600, 5000, 5100], 1000, 1550)).toBe(1300); // 200 → 1500; the 1600 → 5000 gap starts after the window
    expect(longestGap([100, 200, 1500, 1600, 5000, 5100], 1000, 1600)).toBe(3400); // …but one that starts inside it counts
    expect(longestGap([100, 200], 1000, 2000)).toBeNull(); // never recovered
  });

  it('gaps() lists every stretch of at least the minimum, relative to t0', () => {
    expect(gaps([1000, 1100, 2500, 2600, 2700, 5000], 1000, 1000)).toEqual([
      [100, 1500],
      [1700, 4000],
    ]);
    expect(median([5, 1, 3])).toBe(3);
    expect(median([])).toBeNull();
  });
});

describe('Prng', () => {
  it('is determined by its seed', () => {
    const a = new Prng(42);
    const b = new Prng(42);
    const c = new Prng(43);
    const seq = (p: Prng) => Array.from({ length: 20 }, () => p.int(0, 1000));
    const sa = seq(a);
    expect(seq(b)).toEqual(sa);
    expect(seq(c)).not.toEqual(sa);
    expect(sa.every((x) => x >= 0 && x <= 1000)).toBe(true);
  });
});

describe('classify', () => {
  it('takes our "not applied" codes at their word and treats a lost session as in doubt', () => {
    expect(classify(new FailoverError('FAILOVER_TIMEOUT', 'x'))).toBe('failed');
    expect(classify(new FailoverError('TRANSACTION_RESOLUTION_UNKNOWN', 'x'))).toBe('unknown');
    expect(classify(new FailoverError('CONNECTION_LOST', 'x'))).toBe('unknown');
    expect(classify(Object.assign(new Error('dup'), { code: '23505', severity: 'ERROR' }))).toBe('failed');
    expect(classify(Object.assign(new Error('terminating'), { code: '57P01', severity: 'FATAL' }))).toBe('unknown');
    expect(classify(Object.assign(new Error('reset'), { code: 'ECONNRESET' }))).toBe('unknown');
  });

  it("labels errors by code, pg's uncoded ones by what they are, anything else by class", () => {
    expect(errorLabel(Object.assign(new Error('x'), { code: '53100' }))).toBe('53100');
    expect(errorLabel(new Error('Query read timeout'))).toBe('query timeout');
    expect(errorLabel(new Error('Connection terminated unexpectedly'))).toBe('connection terminated');
    expect(errorLabel(new TypeError('something else'))).toBe('TypeError: something else');
    expect(errorLabel(new Error('connect ETIMEDOUT 10.0.0.1:5432'))).toBe('Error'); // numbers would split the count
  });
});

/** A fault record with the given outages (Pool, prober, plain register), compared as the campaign does. */
function fault(kind: FaultRecord['kind'], episode: number, overlapping: boolean, pool: number | null, prober: number | null = pool, plainRegister: number | null = prober): FaultRecord {
  const f: FaultRecord = {
    kind, target: 'n0', at: 0, heldMillis: 0, recoveredMillis: 0, overlapping, episode,
    poolWriteOutageMillis: pool, plainWriteOutageMillis: prober, plainRegisterWriteOutageMillis: plainRegister, bestOtherWriteOutageMillis: null, poolWithinBestOther: null,
  };
  compareFaults([f]);
  return f;
}

describe('outagesByKind', () => {
  it('pins an outage on a kind only when that fault was alone; overlapping episodes count once, apart', () => {
    const o = outagesByKind([fault('standby-cut', 1, false, 100), fault('client-primary-cut', 2, false, 9000), fault('standby-cut', 2, true, 9000), fault('standby-cut', 3, false, 300)]);
    expect(o['standby-cut']).toMatchObject({ n: 2, poolMedianMillis: 200, poolMaxMillis: 300 });
    expect(o['client-primary-cut']).toBeUndefined();
    expect(o.overlapping).toMatchObject({ n: 1, poolMaxMillis: 9000 });
  });

  it('gives the plain register client its own median/max and compares the Pool with the best other client fault by fault', () => {
    // disk-full: the prober's small table fills late (1.3 s), the plain register fails like the Pool (2.5 s)
    const o = outagesByKind([fault('disk-full', 1, false, 2700, 1300, 2500), fault('disk-full', 2, false, 2400, 1500, 2450), fault('switchover', 3, false, 900, 1200, 1000)]);
    expect(o['disk-full']).toMatchObject({
      n: 2,
      plainMedianMillis: 1400, plainMaxMillis: 1500,
      plainRegisterMedianMillis: 2475, plainRegisterMaxMillis: 2500,
      bestOtherMedianMillis: 1400, bestOtherMaxMillis: 1500, // per fault the shorter: 1300 and 1500
      compared: 2, poolWithinBestOther: 0, poolWorstExcessMillis: 1400,
      comparedWithPlainRegister: 2, poolWithinPlainRegister: 1, // 2400 ≤ 2450 + 100; 2700 > 2500 + 100
    });
    expect(o.switchover).toMatchObject({ compared: 1, poolWithinBestOther: 1, poolWorstExcessMillis: -100, bestOtherMaxMillis: 1000 });
    expect(withinBest(o.switchover!)).toMatch(/^yes 1\/1/);
    expect(withinBest(o['disk-full']!)).toMatch(/^NO 0\/2.*plain register 1\/2/);
  });
});

describe('compareWithBestOther', () => {
  it('takes the shorter of the two plain clients and allows the measuring tolerance', () => {
    expect(compareWithBestOther({ poolWriteOutageMillis: 1000, plainWriteOutageMillis: 2000, plainRegisterWriteOutageMillis: 950 })).toEqual({ bestOtherWriteOutageMillis: 950, poolWithinBestOther: true });
    expect(compareWithBestOther({ poolWriteOutageMillis: 950 + OUTAGE_TOLERANCE_MILLIS + 1, plainWriteOutageMillis: 2000, plainRegisterWriteOutageMillis: 950 })).toMatchObject({ poolWithinBestOther: false });
    expect(compareWithBestOther({ poolWriteOutageMillis: 3000, plainWriteOutageMillis: 2000, plainRegisterWriteOutageMillis: 950 }, { toleranceMillis: 5000 })).toMatchObject({ poolWithinBestOther: true });
  });

  it('a Pool that never wrote again is not within; a client that never wrote again is left out; nothing to compare is null', () => {
    expect(compareWithBestOther({ poolWriteOutageMillis: null, plainWriteOutageMillis: 2000, plainRegisterWriteOutageMillis: null })).toEqual({ bestOtherWriteOutageMillis: 2000, poolWithinBestOther: false });
    expect(compareWithBestOther({ poolWriteOutageMillis: 1900, plainWriteOutageMillis: 2000, plainRegisterWriteOutageMillis: null })).toEqual({ bestOtherWriteOutageMillis: 2000, poolWithinBestOther: true });
    expect(compareWithBestOther({ poolWriteOutageMillis: 1900, plainWriteOutageMillis: null, plainRegisterWriteOutageMillis: null })).toEqual({ bestOtherWriteOutageMillis: null, poolWithinBestOther: null });
    const o = outagesByKind([fault('kill-node', 1, false, 1000, null, null)]);
    expect(o['kill-node']).toMatchObject({ compared: 0, poolWithinBestOther: 0, poolWorstExcessMillis: null });
    expect(withinBest(o['kill-node']!)).toMatch(/^—/);
  });
});

describe('compareFaults', () => {
  it('leaves the prober (not cut: its own address) out of an episode that cut the client off, and only that episode', () => {
    const cut = fault('client-primary-cut', 1, false, 9000, 80, 8800);
    const alongside = fault('packet-loss', 1, true, 9000, 80, 8800);
    const other = fault('packet-loss', 2, false, 500, 80, 450);
    compareFaults([cut, alongside, other]);
    expect(cut).toMatchObject({ bestOtherWriteOutageMillis: 8800, poolWithinBestOther: false });
    expect(alongside).toMatchObject({ bestOtherWriteOutageMillis: 8800 });
    expect(other).toMatchObject({ bestOtherWriteOutageMillis: 80, poolWithinBestOther: false });
    expect(compareWithBestOther(cut, { proberComparable: false })).toEqual({ bestOtherWriteOutageMillis: 8800, poolWithinBestOther: false });
  });
});

describe('parseMultiHostUrl', () => {
  it('lists the hosts in order with their ports (5432 by default) and reads target_session_attrs', () => {
    expect(parseMultiHostUrl('postgresql://postgres@10.0.0.10:5433,10.0.0.11,10.0.0.12:6000/postgres?target_session_attrs=read-write&x=1')).toEqual({
      hosts: [
        { host: '10.0.0.10', port: 5433 },
        { host: '10.0.0.11', port: 5432 },
        { host: '10.0.0.12', port: 6000 },
      ],
      targetSessionAttrs: 'read-write',
    });
    expect(parseMultiHostUrl('postgres://h1:1,h2:2').targetSessionAttrs).toBe('any');
  });

  it('refuses what is not a postgresql:// URL or has a bad port, without echoing the password', () => {
    expect(() => parseMultiHostUrl('mysql://h1')).toThrow();
    expect(() => parseMultiHostUrl('postgresql://u:secret@h1:99999/db')).toThrow(/h1:99999/);
    expect(() => parseMultiHostUrl('nonsense://u:secret@')).toThrow(expect.objectContaining({ message: expect.not.stringContaining('secret') }));
  });
});
