/** Patroni's /liveness rule (liveness.ts), on a fixed clock: no servers needed. */
import { describe, expect, it } from 'vitest';
import { livenessStatusCode } from '../../src/manager/liveness';

const base = { now: 100_000, ttlSeconds: 30, leader: false, paused: false };

describe('livenessStatusCode', () => {
  it('a leader is live within ttl of its last cycle and not after', () => {
    expect(livenessStatusCode({ ...base, leader: true, lastCycleAt: 100_000 - 30_000 })).toBe(200);
    expect(livenessStatusCode({ ...base, leader: true, lastCycleAt: 100_000 - 30_001 })).toBe(503);
  });
  it('a replica gets twice the ttl', () => {
    expect(livenessStatusCode({ ...base, lastCycleAt: 100_000 - 45_000 })).toBe(200);
    expect(livenessStatusCode({ ...base, lastCycleAt: 100_000 - 60_000 })).toBe(200);
    expect(livenessStatusCode({ ...base, lastCycleAt: 100_000 - 60_001 })).toBe(503);
  });
  it('maintenance mode is always live, a loop that never ran is not', () => {
    expect(livenessStatusCode({ ...base, paused: true, lastCycleAt: 0 })).toBe(200);
    expect(livenessStatusCode({ ...base, lastCycleAt: 0 })).toBe(503);
    expect(livenessStatusCode({ ...base, lastCycleAt: Number.NaN })).toBe(503);
  });
});
