import { describe, expect, it } from 'vitest';
import { parseControldata, recoveryMinimums } from '../../src/manager/controldata';

const SAMPLE = `pg_control version number:            1300
Database cluster state:               in production
max_connections setting:              101
max_worker_processes setting:         8
max_wal_senders setting:              10
max_prepared_xacts setting:           0
max_locks_per_xact setting:           64
`;

describe('pg_controldata and starting in recovery', () => {
  it('parses the output into name → value', () => {
    const c = parseControldata(SAMPLE);
    expect(c['Database cluster state']).toBe('in production');
    expect(c['max_connections setting']).toBe('101');
  });

  it('raises a setting to the primary value recorded in the control file, never lowers one', () => {
    const c = parseControldata(SAMPLE);
    // the regression: a backup of a cluster with max_connections 101 restored by a node configured with the default 100
    expect(recoveryMinimums({}, c)).toEqual({ max_connections: 101 });
    expect(recoveryMinimums({ max_connections: 200, max_wal_senders: '5' }, c)).toEqual({ max_wal_senders: 10 });
    expect(recoveryMinimums({ max_connections: '101' }, c)).toEqual({});
    expect(recoveryMinimums({}, {})).toEqual({});
  });
});
