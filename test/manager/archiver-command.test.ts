import { describe, expect, it } from 'vitest';
import { archiveCommandOf, buildArchiverCommand } from '../../src/manager/archiver-command';

describe('archive_command run by the manager (shutdown checkpoint of a primary demoted to a standby leader)', () => {
  it("replaces %p, %f, %r and %% like PostgreSQL's archiver, and leaves an unknown %x alone", () => {
    expect(buildArchiverCommand('cp %p /arch/%f && echo %r 100%% %x', 'pg_wal', '000000020000000000000008')).toBe(
      'cp pg_wal/000000020000000000000008 /arch/000000020000000000000008 && echo 000000010000000000000001 100% %x',
    );
    expect(buildArchiverCommand('tail%', 'pg_wal', 'f')).toBe('tail%');
  });

  it('finds the command only while archive_mode is on', () => {
    expect(archiveCommandOf({ archive_mode: 'on', archive_command: 'cp %p /a/%f' })).toBe('cp %p /a/%f');
    expect(archiveCommandOf({ archive_mode: true, archive_command: 'cp' })).toBe('cp');
    expect(archiveCommandOf({ archive_mode: 'off', archive_command: 'cp' })).toBeUndefined();
    expect(archiveCommandOf({ archive_mode: 'on', archive_command: '' })).toBeUndefined();
    expect(archiveCommandOf({ archive_command: 'cp' })).toBeUndefined();
  });
});
