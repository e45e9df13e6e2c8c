/**
 * PostgreSQL's archiver placeholders, for running `archive_command` ourselves: `%p` (the file's
 * path), `%f` (its name), `%r` (a fixed restart point, as Patroni passes it) and `%%`. Used to
 * archive the WAL file holding the shutdown checkpoint when a primary becomes a standby leader
 * ("demote cluster"): the archiver does not send that last, unfinished segment, and a standby
 * promoted from the archive would otherwise fork before it. Pure.
 */

/** `command` with the placeholders replaced for `walFile` under `walDir` (Patroni's `_build_archiver_command`). */
export function buildArchiverCommand(command: string, walDir: string, walFile: string): string {
  let out = '';
  for (let i = 0; i < command.length; i++) {
    const ch = command[i]!;
    if (ch !== '%' || i + 1 >= command.length) {
      out += ch;
      continue;
    }
    const next = command[i + 1]!;
    if (next === 'p') out += `${walDir}/${walFile}`;
    else if (next === 'f') out += walFile;
    else if (next === 'r') out += '000000010000000000000001';
    else if (next === '%') out += '%';
    else {
      out += '%';
      continue;
    }
    i++;
  }
  return out;
}

/** The `archive_command` in effect for these parameters, or undefined when archiving is off (`archive_mode` off or no command). */
export function archiveCommandOf(parameters: Readonly<Record<string, unknown>>): string | undefined {
  const mode = String(parameters.archive_mode ?? 'off').toLowerCase();
  if (!['on', 'always', 'true', 'yes', '1'].includes(mode)) return undefined;
  const cmd = parameters.archive_command;
  return typeof cmd === 'string' && cmd.trim() !== '' && cmd.trim() !== '(disabled)' ? cmd : undefined;
}
