import { describe, expect, it } from 'vitest';
import { customBootstrapOf } from '../../src/manager/bootstrap-method';

const node = { scope: 'batman2', dataDir: '/data/pg2' };

function read(boot: Record<string, unknown>) {
  const warnings: string[] = [];
  const problems: string[] = [];
  const method = customBootstrapOf(boot, node, { warn: (at, m) => warnings.push(`${at} ${m}`), problem: (at, m) => problems.push(`${at}: ${m}`) });
  return { method, warnings, problems };
}

describe("bootstrap.method (Patroni's custom bootstrap)", () => {
  it('initdb, or no method, is no custom bootstrap', () => {
    expect(read({}).method).toBeUndefined();
    expect(read({ method: 'initdb', initdb: ['data-checksums'] }).method).toBeUndefined();
  });

  it('passes --scope and --datadir, then every other key as --key=value, and keeps recovery_conf apart', () => {
    const { method, problems } = read({
      method: 'backup_restore',
      backup_restore: { command: 'restore.py --sourcedir=/b', 'test-argument': 'test-value', flag: true, recovery_conf: { restore_command: 'cp %f %p', recovery_target_action: 'promote' } },
    });
    expect(problems).toEqual([]);
    expect(method).toEqual({
      name: 'backup_restore',
      command: 'restore.py --sourcedir=/b',
      extraArgs: ['--scope=batman2', '--datadir=/data/pg2', '--test-argument=test-value', '--flag=True'],
      recoveryConf: { restore_command: 'cp %f %p', recovery_target_action: 'promote' },
      keepExistingRecoveryConf: false,
    });
  });

  it('no_params leaves out --scope/--datadir; keep_existing_recovery_conf is kept as a switch', () => {
    const { method } = read({ method: 'clone', clone: { command: 'c.sh', no_params: true, keep_existing_recovery_conf: true } });
    expect(method?.extraArgs).toEqual([]);
    expect(method?.keepExistingRecoveryConf).toBe(true);
  });

  it('a method without a command falls back to initdb with a warning naming the missing key', () => {
    const { method, warnings } = read({ method: 'wal_g' });
    expect(method).toBeUndefined();
    expect(warnings.join()).toMatch(/bootstrap\.wal_g\.command is not set/);
  });

  it('refuses a recovery_conf that is not a mapping, naming it', () => {
    expect(read({ method: 'm', m: { command: 'x', recovery_conf: ['a'] } }).problems.join()).toMatch(/bootstrap\.m\.recovery_conf must be a mapping/);
  });
});
