/** The campaign's arithmetic: outage gaps around a fault, the seeded PRNG, and how errors count as failed or in doubt. */
import { describe, it, expect } from 'vitest';
import { FailoverError } from '../../src/errors';
import { classify } from './outcome';
import { Prng } from './prng';
import { gaps, longestGap, median, outagesByKind, type FaultRecord } from './report';

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
});

describe('outagesByKind', () => {
  it('pins an outage on a kind only when that fault was alone; overlapping episodes count once, apart', () => {
    const f = (kind: FaultRecord['kind'], episode: number, overlapping: boolean, pool: number): FaultRecord => ({
      kind, target: 'n0', at: 0, heldMillis: 0, recoveredMillis: 0, overlapping, episode, poolWriteOutageMillis: pool, plainWriteOutageMillis: pool,
    });
    const o = outagesByKind([f('standby-cut', 1, false, 100), f('client-primary-cut', 2, false, 9000), f('standby-cut', 2, true, 9000), f('standby-cut', 3, false, 300)]);
    expect(o['standby-cut']).toMatchObject({ n: 2, poolMedianMillis: 200, poolMaxMillis: 300 });
    expect(o['client-primary-cut']).toBeUndefined();
    expect(o.overlapping).toMatchObject({ n: 1, poolMaxMillis: 9000 });
  });
});
