/**
 * LeaseKeeper on a fake clock (pure timing logic, no servers): when a renewal is due, the
 * jitter's bounds, one keepalive in flight at a time, the fence deadline and who is fenced.
 * The store below is an in-memory stand-in for etcd's lease, which is the unit's only input;
 * the real lease is exercised by fencing.test.ts against real etcd.
 */
import { describe, expect, it } from 'vitest';
import { LEASE_RENEW_JITTER_MILLIS, LEASE_RENEW_SLACK_MILLIS, LeaseKeeper, type FenceGuard, type LeaseTiming } from '../../src/manager/lease-keeper';

function setup(opts: { timing?: Partial<LeaseTiming>; guard?: FenceGuard; random?: () => number; keepaliveOk?: boolean; leaseTtl?: number } = {}) {
  const clock = { t: 1_000_000 };
  const fenced: Array<{ leaseAgeMillis: number; limitMillis: number }> = [];
  let resolveKeepalive: ((ok: boolean) => void) | undefined;
  const store = {
    lastKeepaliveOkAt: 0,
    leaseTtlSeconds: opts.leaseTtl as number | undefined,
    calls: 0,
    manual: false,
    keepalive(): Promise<boolean> {
      this.calls++;
      const sentAt = clock.t;
      if (this.manual) {
        return new Promise<boolean>((res) => {
          resolveKeepalive = (ok) => {
            if (ok) store.lastKeepaliveOkAt = sentAt;
            res(ok);
          };
        });
      }
      const ok = opts.keepaliveOk ?? true;
      if (ok) this.lastKeepaliveOkAt = sentAt;
      return Promise.resolve(ok);
    },
  };
  const timing: LeaseTiming = { ttl: 30, loopWait: 10, retryTimeout: 10, ...opts.timing };
  const guard = { value: opts.guard ?? { primary: true, holdsLock: true } };
  const keeper = new LeaseKeeper({
    store,
    timing: () => timing,
    guard: () => guard.value,
    onFence: (info) => fenced.push(info),
    now: () => clock.t,
    random: opts.random ?? (() => 0.5),
  });
  return { clock, store, keeper, fenced, guard, timing, finishKeepalive: (ok: boolean) => resolveKeepalive?.(ok) };
}

describe('LeaseKeeper: renewal', () => {
  it('is due before the first lease exists', () => {
    const { keeper } = setup();
    expect(keeper.due()).toBe(true);
  });

  it('is due at loop_wait minus the slack plus this period\'s jitter, not before', async () => {
    const { keeper, clock } = setup({ random: () => 0.5 });
    await keeper.renew();
    const jitter = 0.5 * LEASE_RENEW_JITTER_MILLIS;
    expect(keeper.jitterMillis).toBe(jitter);
    const dueAfter = 10_000 - LEASE_RENEW_SLACK_MILLIS + jitter;
    clock.t += dueAfter - 1;
    expect(keeper.due()).toBe(false);
    clock.t += 1;
    expect(keeper.due()).toBe(true);
  });

  it('keeps the jitter within [0, LEASE_RENEW_JITTER_MILLIS) for the extremes of the random source', async () => {
    for (const r of [0, 0.999999]) {
      const { keeper } = setup({ random: () => r });
      await keeper.renew();
      expect(keeper.jitterMillis).toBeGreaterThanOrEqual(0);
      expect(keeper.jitterMillis).toBeLessThan(LEASE_RENEW_JITTER_MILLIS);
    }
  });

  it('re-rolls the jitter after every renewal (successful or not)', async () => {
    const values = [0.1, 0.9];
    const { keeper, store } = setup({ random: () => values.shift() ?? 0 });
    await keeper.renew();
    expect(keeper.jitterMillis).toBeCloseTo(0.1 * LEASE_RENEW_JITTER_MILLIS);
    store.lastKeepaliveOkAt = 0;
    await keeper.renew();
    expect(keeper.jitterMillis).toBeCloseTo(0.9 * LEASE_RENEW_JITTER_MILLIS);
  });

  it('sends one keepalive at a time: a second caller shares the one in flight', async () => {
    const { keeper, store, finishKeepalive } = setup();
    store.manual = true;
    const a = keeper.renew();
    const b = keeper.renew();
    expect(keeper.renewing).toBe(true);
    expect(store.calls).toBe(1);
    finishKeepalive(true);
    expect(await a).toBe(true);
    expect(await b).toBe(true);
    expect(keeper.renewing).toBe(false);
  });
});

describe('LeaseKeeper: fencing', () => {
  it('fence deadline is ttl - retry_timeout, capped by ttl - loop_wait - 0.5 s, at least 1 s', () => {
    expect(setup({ timing: { ttl: 30, loopWait: 10, retryTimeout: 10 } }).keeper.fenceAfterMillis()).toBe(19_500);
    expect(setup({ timing: { ttl: 30, loopWait: 5, retryTimeout: 10 } }).keeper.fenceAfterMillis()).toBe(20_000);
    expect(setup({ timing: { ttl: 2, loopWait: 1, retryTimeout: 5 } }).keeper.fenceAfterMillis()).toBe(1_000);
  });

  it('uses the live lease\'s ttl when it is shorter than the configured one (a ttl change applies to the next lease)', () => {
    const { keeper } = setup({ timing: { ttl: 60, loopWait: 10, retryTimeout: 10 }, leaseTtl: 30 });
    expect(keeper.fenceAfterMillis()).toBe(19_500);
  });

  it('a primary whose lease is older than the deadline is fenced; exactly at the deadline it is not', async () => {
    const s = setup();
    await s.keeper.renew();
    s.guard.value = { primary: true, holdsLock: false };
    s.clock.t += s.keeper.fenceAfterMillis();
    expect(s.keeper.check()).toBe(false);
    s.clock.t += 1;
    expect(s.keeper.check()).toBe(true);
    expect(s.fenced).toEqual([{ leaseAgeMillis: 19_501, limitMillis: 19_500 }]);
  });

  it('never fences a node that is not running as a primary, however old the lease', async () => {
    const { keeper, clock, fenced, guard } = setup();
    await keeper.renew();
    clock.t += 120_000;
    guard.value = { primary: false, holdsLock: false };
    expect(keeper.check()).toBe(false);
    expect(fenced).toEqual([]);
  });

  it('a leader renews from the watchdog when due, so a busy HA cycle does not age the lease into fencing', async () => {
    const { keeper, clock, fenced, store } = setup();
    await keeper.renew();
    expect(store.calls).toBe(1);
    clock.t += 10_000; // due (loop_wait 10 s), far from the 19.5 s fence limit
    expect(keeper.check()).toBe(false);
    await Promise.resolve();
    expect(store.calls).toBe(2);
    expect(keeper.leaseAgeMillis()).toBe(0);
    expect(fenced).toEqual([]);
  });

  it('a primary without the key does not renew from the watchdog (its lease only ages towards the fence)', async () => {
    const { keeper, clock, store, guard } = setup();
    await keeper.renew();
    guard.value = { primary: true, holdsLock: false };
    clock.t += 10_000;
    keeper.check();
    expect(store.calls).toBe(1);
  });

  it('etcd unreachable: renewals fail, the lease ages and the primary is fenced after the deadline', async () => {
    const s = setup();
    await s.keeper.renew();
    const ok = { v: false };
    s.store.keepalive = function () {
      this.calls++;
      return Promise.resolve(ok.v);
    };
    for (let elapsed = 0; elapsed <= 19_500; elapsed += 100) {
      s.clock.t += 100;
      if (s.keeper.check()) break;
      await Promise.resolve();
    }
    expect(s.fenced.length).toBe(1);
    expect(s.fenced[0]!.leaseAgeMillis).toBeGreaterThan(19_500);
    expect(s.fenced[0]!.leaseAgeMillis).toBeLessThanOrEqual(19_600);
  });
});
