/**
 * regression: `synchronous_mode: quorum` was reported as synchronous mode by the API but not
 * managed by the agent (the dynamic config was read in three places that disagreed). Now one
 * reader (dynamic-config.ts) serves the agent, the API and the YAML validator.
 */
import { describe, expect, it } from 'vitest';
import { isSynchronousMode, parseBool, synchronousModeOf } from '../../src/manager/dynamic-config';
import { syncNames } from '../../src/manager/api-views';
import { loadManagerConfig } from '../../src/manager/config';
import type { DcsSnapshot } from '../../src/manager/agent-view';

const snap = (config: Record<string, unknown>): DcsSnapshot => ({
  leader: 'n0', members: [], config, initialize: '1', sync: { leader: 'n0', sync_standby: 'n1' }, failover: undefined, history: [], status: undefined,
  revision: '1', revisions: { config: '1', failover: '0', sync: '1', history: '0', initialize: '1' },
});

describe('the dynamic configuration, read once', () => {
  it('reads flags with Patroni\'s parse_bool', () => {
    for (const v of [true, 'on', 'ON', 'yes', 'true', '1', 1]) expect(parseBool(v)).toBe(true);
    for (const v of [false, 'off', 'no', 'false', '0', 0]) expect(parseBool(v)).toBe(false);
    expect(parseBool('maybe')).toBeUndefined();
  });

  it('quorum is not synchronous mode anywhere: the API does not report a sync standby the agent would not manage', () => {
    expect(synchronousModeOf({ synchronous_mode: 'quorum' })).toBe('quorum');
    expect(isSynchronousMode({ synchronous_mode: 'quorum' })).toBe(false);
    expect(syncNames(snap({ synchronous_mode: 'quorum' }), 'n1')).toBe(false);
    expect(syncNames(snap({ synchronous_mode: 'on' }), 'n1')).toBe(true);
  });

  it('the YAML validator refuses quorum at startup, naming the key', () => {
    const yaml = `scope: s\nname: n0\nrestapi: { listen: 127.0.0.1:8008 }\netcd3: { hosts: 127.0.0.1:2379 }\nbootstrap:\n  dcs:\n    synchronous_mode: quorum\npostgresql:\n  listen: 127.0.0.1:5432\n  data_dir: /tmp/d\n  authentication:\n    superuser: { username: postgres }\n    replication: { username: r }\n`;
    try {
      loadManagerConfig(yaml);
      expect.unreachable();
    } catch (e) {
      expect((e as { code: string }).code).toBe('MANAGER_CONFIG');
      expect((e as { detail: { problems: Array<{ key: string }> } }).detail.problems.map((p) => p.key)).toEqual(['bootstrap.dcs.synchronous_mode']);
    }
  });
});
