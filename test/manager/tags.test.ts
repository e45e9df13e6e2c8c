import { describe, expect, it } from 'vitest';
import { publishedTags, tagFailoverPriority, tagNoFailover } from '../../src/manager/tags';

describe("member key tags (Patroni's Tags rules)", () => {
  it('publishes the tags as configured: order and value types kept, unset boolean tags left out', () => {
    const published = publishedTags({ failover_priority: '1', nofailover: true, noloadbalance: false, datacenter: 'dc1', nosync: false });
    expect(Object.entries(published)).toEqual([
      ['failover_priority', '1'],
      ['nofailover', true],
      ['datacenter', 'dc1'],
    ]);
  });

  it('publishes nofailover: false when failover_priority is configured beside it (a reader needs both)', () => {
    expect(publishedTags({ failover_priority: '0', nofailover: false })).toEqual({ failover_priority: '0', nofailover: false });
    expect(publishedTags({ nofailover: false })).toEqual({});
    expect(publishedTags({ sync_priority: 0, nosync: false })).toEqual({ sync_priority: 0, nosync: false });
  });

  it('reads nofailover back: the explicit tag wins, else failover_priority <= 0', () => {
    expect(tagNoFailover(undefined)).toBe(false);
    expect(tagNoFailover({ failover_priority: '0' })).toBe(true);
    expect(tagNoFailover({ failover_priority: 0, nofailover: false })).toBe(false);
    expect(tagNoFailover({ failover_priority: 1, nofailover: true })).toBe(true);
    expect(tagNoFailover({ failover_priority: '2' })).toBe(false);
  });

  it('reads the failover priority back: 0 when nofailover, the tag as an integer, default 1', () => {
    expect(tagFailoverPriority({ failover_priority: '2' })).toBe(2);
    expect(tagFailoverPriority({ failover_priority: 3, nofailover: true })).toBe(0);
    expect(tagFailoverPriority({ failover_priority: 'high' })).toBe(1);
    expect(tagFailoverPriority({})).toBe(1);
  });
});
