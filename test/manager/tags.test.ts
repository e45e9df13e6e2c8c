import { describe, expect, it } from 'vitest';
import { configuredTags, publishedTags, tagFailoverPriority, tagNoFailover, type NodeTags } from '../../src/manager/tags';

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

  it('publishes the file as given, with typed fields changed since (by code) winning, and no nofailover derived from priority 0', () => {
    const base: NodeTags = { nofailover: false, noloadbalance: false, clonefrom: false, nosync: false, nostream: false, custom: {} };
    const fromFile = { ...base, failoverPriority: 1, nofailover: true, asGiven: { failover_priority: '1', nofailover: true } };
    expect(Object.entries(publishedTags(configuredTags(fromFile)))).toEqual([['failover_priority', '1'], ['nofailover', true]]);
    // the regression: a tag set on the typed config (tests, reload paths) was lost when only the file's section was published
    expect(publishedTags(configuredTags({ ...base, clonefrom: true, replicatefrom: 'n1', asGiven: {} }))).toEqual({ clonefrom: true, replicatefrom: 'n1' });
    expect(publishedTags(configuredTags({ ...base, failoverPriority: 0, nofailover: true, asGiven: { failover_priority: 0 } }))).toEqual({ failover_priority: 0 });
    expect(publishedTags(configuredTags({ ...base, failoverPriority: 3, asGiven: { failover_priority: '2' } }))).toEqual({ failover_priority: 3 });
  });
});
