/**
 * User-defined replica creation methods (src/manager/actions/replica-methods.ts): the command
 * line Patroni's contract gives a method, pure. The no-leader restore runs end to end in the
 * dcs_failsafe_mode acceptance feature ("new replica isn't promoted").
 */
import { describe, expect, it } from 'vitest';
import { replicaMethodCommand } from '../../src/manager/actions/replica-methods';

const defaults = { scope: 'batman', datadir: '/data/n1', connstring: 'host=10.0.0.1 port=5432 user=replicator dbname=postgres' };

describe('replica methods: the command a method runs', () => {
  it('runs `command` (split like a shell line) with Patroni arguments, then every other option as --key=value', () => {
    const c = replicaMethodCommand('no_leader_bootstrap', { command: "python3 '/opt/backup restore.py' --sourcedir=/b", 'test-argument': 'test-value', no_leader: '1' }, defaults);
    expect(c.file).toBe('python3');
    expect(c.args).toEqual([
      '/opt/backup restore.py', '--sourcedir=/b',
      '--test-argument=test-value', '--no_leader=1',
      '--scope=batman', '--role=replica', '--datadir=/data/n1', `--connstring=${defaults.connstring}`,
    ]);
    expect(c.keepData).toBe(false);
  });

  it('no_params: only the section\'s own options, without Patroni\'s switches; keep_data is read; the method name is the default command', () => {
    const c = replicaMethodCommand('wal_g', { no_params: true, keep_data: 'on', no_leader: true, 'fetch-from': 's3' }, defaults);
    expect(c).toEqual({ file: 'wal_g', args: ['--fetch-from=s3'], keepData: true });
  });
});
