/**
 * pg_controldata's output, and what it says about starting a standby: PostgreSQL refuses to run
 * recovery with a lower `max_connections` (and four other settings) than the primary that wrote
 * the WAL had — those values are in the control file. Like Patroni's `effective_configuration`,
 * a node that starts in recovery takes the higher of its configured value and the control
 * file's. Pure.
 */

/** `pg_controldata` output lines as a map: `Database cluster state` → `in production` … */
export function parseControldata(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const i = line.indexOf(':');
    if (i > 0) out[line.slice(0, i).trim()] = line.slice(i + 1).trim();
  }
  return out;
}

/** The settings recovery checks against the primary's, with their control file names and PostgreSQL's defaults. */
const RECOVERY_CHECKED: ReadonlyArray<[parameter: string, controldataName: string, defaultValue: number]> = [
  ['max_connections', 'max_connections setting', 100],
  ['max_prepared_transactions', 'max_prepared_xacts setting', 0],
  ['max_locks_per_transaction', 'max_locks_per_xact setting', 64],
  ['max_worker_processes', 'max_worker_processes setting', 8],
  ['max_wal_senders', 'max_wal_senders setting', 10],
];

/**
 * The parameters to start in recovery with: `parameters`, with each recovery-checked setting
 * raised to the control file's value where that is higher. Returns only the raised ones.
 */
export function recoveryMinimums(parameters: Readonly<Record<string, string | number | boolean>>, controldata: Readonly<Record<string, string>>): Record<string, number> {
  const raised: Record<string, number> = {};
  for (const [name, cname, dflt] of RECOVERY_CHECKED) {
    const primary = Number(controldata[cname]);
    if (!Number.isInteger(primary)) continue;
    const given = parameters[name];
    const mine = given === undefined ? dflt : Number(given);
    if (!Number.isFinite(mine) || primary > mine) raised[name] = primary;
  }
  return raised;
}
