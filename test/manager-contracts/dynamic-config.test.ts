/**
 * regression: `synchronous_mode: quorum` was reported as synchronous mode by the API but not
 * managed by the agent (the dynamic config was read in three places that disagreed). Now one
 * reader (dynamic-config.ts) serves the agent, the API and the YAML validator, and quorum commit
 * is managed (quorum.ts): the API reports quorum standbys, never sync standbys, in that mode.
 */
import { describe, expect, it } from 'vitest';
import { isSynchronousMode, parseBool, synchronousModeOf } from '../../src/manager/dynamic-config';
import { quorumNames, syncNames } from '../../src/manager/api-views';
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

  it('quorum is synchronous mode with quorum commit everywhere: the API reports quorum standbys, not sync standbys', () => {
    expect(synchronousModeOf({ synchronous_mode: 'quorum' })).toBe('quorum');
    expect(isSynchronousMode({ synchronous_mode: 'quorum' })).toBe(true);
    expect(syncNames(snap({ synchronous_mode: 'quorum' }), 'n1')).toBe(false);
    expect(quorumNames(snap({ synchronous_mode: 'quorum' }), 'n1')).toBe(true);
    expect(syncNames(snap({ synchronous_mode: 'on' }), 'n1')).toBe(true);
    expect(quorumNames(snap({ synchronous_mode: 'on' }), 'n1')).toBe(false);
  });

  it('the YAML validator accepts quorum (synchronous mode, the word kept for the config key)', () => {
    const yaml = `scope: s\nname: n0\nrestapi: { listen: 127.0.0.1:8008 }\netcd3: { hosts: 127.0.0.1:2379 }\nbootstrap:\n  dcs:\n    synchronous_mode: quorum\npostgresql:\n  listen: 127.0.0.1:5432\n  data_dir: /tmp/d\n  authentication:\n    superuser: { username: postgres }\n    replication: { username: r }\n`;
    const { config } = loadManagerConfig(yaml);
    expect(config.bootstrap.dcs.synchronousMode).toBe(true);
    expect(config.bootstrap.dcs.raw.synchronous_mode).toBe('quorum');
  });
});
