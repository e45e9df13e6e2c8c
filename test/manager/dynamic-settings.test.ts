/**
 * The cycle's dynamic settings (src/manager/dynamic-settings.ts), pure: read from the `config`
 * key the way Patroni reads it, unset or unreadable values keeping the previous ones.
 */
import { describe, expect, it } from 'vitest';
import { configJson, dynamicFrom, type Dynamic } from '../../src/manager/dynamic-settings';

const prev: Dynamic = { ttl: 30, loopWait: 10, retryTimeout: 10, maxLag: 1048576, useSlots: true, usePgRewind: false, synchronousMode: false, quorumCommit: false, synchronousModeStrict: false, maxLagOnSyncnode: -1, syncNodeCount: 1 };

describe('dynamic settings', () => {
  it('an empty config key keeps everything (sync-node bounds back to their defaults)', () => {
    expect(dynamicFrom({}, { ...prev, maxLagOnSyncnode: 5, syncNodeCount: 3, synchronousModeStrict: true })).toEqual({ dyn: prev, warnings: [] });
  });

  it('reads numbers from numbers or numeric strings and flags the way Patroni parse_bool does', () => {
    const { dyn } = dynamicFrom({ ttl: '20', loop_wait: 2, retry_timeout: 'x', synchronous_mode: 'on', synchronous_node_count: 1, postgresql: { use_slots: 'off', use_pg_rewind: 'yes' } }, prev);
    expect(dyn).toMatchObject({ ttl: 20, loopWait: 2, retryTimeout: 10, synchronousMode: true, syncNodeCount: 1, useSlots: false, usePgRewind: true });
  });

  it('synchronous_mode: quorum is synchronous mode with quorum commit; true/false switch it back', () => {
    const { dyn } = dynamicFrom({ synchronous_mode: 'Quorum', synchronous_mode_strict: 'on', synchronous_node_count: '2' }, prev);
    expect(dyn).toMatchObject({ synchronousMode: true, quorumCommit: true, synchronousModeStrict: true, syncNodeCount: 2 });
    expect(dynamicFrom({ synchronous_mode: true }, dyn).dyn).toMatchObject({ synchronousMode: true, quorumCommit: false, synchronousModeStrict: false });
    expect(dynamicFrom({ synchronous_mode: false }, dyn).dyn).toMatchObject({ synchronousMode: false, quorumCommit: false });
  });

  it('a wrong-typed value is named with its key and value and falls back the way Patroni does', () => {
    const { dyn, warnings } = dynamicFrom({ synchronous_mode: 'maybe', synchronous_mode_strict: 'sometimes', synchronous_node_count: 'two', maximum_lag_on_syncnode: [1] }, { ...prev, synchronousMode: true, quorumCommit: true });
    expect(dyn).toMatchObject({ synchronousMode: true, quorumCommit: true, synchronousModeStrict: false, syncNodeCount: 1, maxLagOnSyncnode: -1 });
    expect(warnings).toEqual([
      'synchronous_mode: "maybe" is neither a boolean nor "quorum"; keeping synchronous_mode quorum',
      'synchronous_mode_strict: "sometimes" is not a boolean; using false',
      'synchronous_node_count: "two" is not an integer; using 1',
      'maximum_lag_on_syncnode: [1] is not an integer (bytes); using -1 (no bound)',
    ]);
    expect(dynamicFrom({ synchronous_node_count: -3 }, prev)).toMatchObject({ dyn: { syncNodeCount: 1 }, warnings: ['synchronous_node_count: -3 is less than 1; using 1'] });
    // larger than the standbys is kept here: the sync processes cap it to the eligible standbys (and log it)
    expect(dynamicFrom({ synchronous_node_count: 7 }, prev)).toMatchObject({ dyn: { syncNodeCount: 7 }, warnings: [] });
  });

  it('the bootstrap config key carries the typed settings over the raw bootstrap.dcs', () => {
    expect(configJson({ ttl: '30', postgresql: { parameters: { a: 1 } }, custom: 1 }, { ...prev, synchronousMode: true })).toEqual({
      ttl: 30, loop_wait: 10, retry_timeout: 10, maximum_lag_on_failover: 1048576, synchronous_mode: true, custom: 1,
      postgresql: { parameters: { a: 1 }, use_slots: true, use_pg_rewind: false },
    });
  });
});
