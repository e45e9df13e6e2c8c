/**
 * The cycle's dynamic settings (src/manager/dynamic-settings.ts), pure: read from the `config`
 * key the way Patroni reads it, unset or unreadable values keeping the previous ones.
 */
import { describe, expect, it } from 'vitest';
import { configJson, dynamicFrom, type Dynamic } from '../../src/manager/dynamic-settings';

const prev: Dynamic = { ttl: 30, loopWait: 10, retryTimeout: 10, maxLag: 1048576, useSlots: true, usePgRewind: false, synchronousMode: false, maxLagOnSyncnode: -1, syncNodeCount: 1 };

describe('dynamic settings', () => {
  it('an empty config key keeps everything (sync-node bounds back to their defaults)', () => {
    expect(dynamicFrom({}, { ...prev, maxLagOnSyncnode: 5, syncNodeCount: 3 })).toEqual({ dyn: prev, quorum: false });
  });

  it('reads numbers from numbers or numeric strings and flags the way Patroni parse_bool does', () => {
    const { dyn } = dynamicFrom({ ttl: '20', loop_wait: 2, retry_timeout: 'x', synchronous_mode: 'on', synchronous_node_count: 0, postgresql: { use_slots: 'off', use_pg_rewind: 'yes' } }, prev);
    expect(dyn).toMatchObject({ ttl: 20, loopWait: 2, retryTimeout: 10, synchronousMode: true, syncNodeCount: 1, useSlots: false, usePgRewind: true });
  });

  it('synchronous_mode: quorum is reported and leaves synchronous mode off', () => {
    expect(dynamicFrom({ synchronous_mode: 'quorum' }, prev)).toMatchObject({ quorum: true, dyn: { synchronousMode: false } });
  });

  it('the bootstrap config key carries the typed settings over the raw bootstrap.dcs', () => {
    expect(configJson({ ttl: '30', postgresql: { parameters: { a: 1 } }, custom: 1 }, { ...prev, synchronousMode: true })).toEqual({
      ttl: 30, loop_wait: 10, retry_timeout: 10, maximum_lag_on_failover: 1048576, synchronous_mode: true, custom: 1,
      postgresql: { parameters: { a: 1 }, use_slots: true, use_pg_rewind: false },
    });
  });
});
