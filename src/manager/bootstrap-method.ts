/**
 * `bootstrap.method`: how the winner of `/initialize` creates the data directory — initdb
 * (the default) or a user's command (Patroni's custom bootstrap: clone another cluster with
 * pg_basebackup, restore a backup …). Pure: reads the YAML's `bootstrap` section; the action is
 * actions/custom-bootstrap.ts.
 *
 * Patroni's contract: `bootstrap.<method>.command` is run as
 * `<command…> --scope=<scope> --datadir=<data_dir> --<key>=<value>…` for every other key of the
 * section (unless `no_params`), and must exit 0 leaving a data directory there.
 * `recovery_conf` (a map of recovery settings) makes PostgreSQL start in archive recovery
 * (recovery.signal) with those settings, e.g. a `restore_command`, promoting at its end;
 * `keep_existing_recovery_conf` keeps what the command left (standby.signal, recovery.signal).
 * A method without a `command` falls back to initdb, as in Patroni.
 */

/** A custom bootstrap method from the YAML. */
export interface CustomBootstrap {
  /** The method's name (`bootstrap.method`). */
  name: string;
  /** The command line (split like a POSIX shell, no expansion). */
  command: string;
  /** Arguments added after the command: `--scope`, `--datadir` (unless `no_params`), then `--key=value`. */
  extraArgs: string[];
  /** Recovery settings to start with (recovery.signal), from `recovery_conf`. */
  recoveryConf?: Record<string, string | number | boolean>;
  /** Keep the recovery/standby signal files and settings the command left. */
  keepExistingRecoveryConf: boolean;
}

const RESERVED = new Set(['command', 'no_params', 'keep_existing_recovery_conf', 'recovery_conf', 'scope', 'datadir']);

/**
 * The custom method the `bootstrap` section asks for, or undefined for initdb. `warn` gets
 * `(path, message)` for what is ignored; `problem` for what must refuse to start.
 */
export function customBootstrapOf(
  boot: Readonly<Record<string, unknown>>,
  node: { scope: string; dataDir: string },
  report: { warn: (path: string, message: string) => void; problem: (path: string, message: string) => void },
): CustomBootstrap | undefined {
  const name = boot.method;
  if (name === undefined || name === null || name === 'initdb') return undefined;
  if (typeof name !== 'string' || !name) {
    report.problem('bootstrap.method', 'bootstrap.method must be a method name (initdb, or a section under bootstrap with a command)');
    return undefined;
  }
  const section = boot[name];
  if (!section || typeof section !== 'object' || Array.isArray(section) || typeof (section as Record<string, unknown>).command !== 'string') {
    report.warn('bootstrap.method', `names ${name}, but bootstrap.${name}.command is not set; the cluster is created with initdb (as Patroni does)`);
    return undefined;
  }
  const s = section as Record<string, unknown>;
  const extraArgs = truthy(s.no_params) ? [] : [`--scope=${node.scope}`, `--datadir=${node.dataDir}`];
  for (const [k, v] of Object.entries(s)) if (!RESERVED.has(k)) extraArgs.push(`--${k}=${pythonStr(v)}`);
  let recoveryConf: CustomBootstrap['recoveryConf'];
  if (s.recovery_conf !== undefined && s.recovery_conf !== null) {
    if (typeof s.recovery_conf !== 'object' || Array.isArray(s.recovery_conf)) {
      report.problem(`bootstrap.${name}.recovery_conf`, `bootstrap.${name}.recovery_conf must be a mapping of recovery settings`);
    } else {
      recoveryConf = {};
      for (const [k, v] of Object.entries(s.recovery_conf as Record<string, unknown>)) {
        if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') recoveryConf[k] = v;
        else report.problem(`bootstrap.${name}.recovery_conf.${k}`, `bootstrap.${name}.recovery_conf.${k} must be a string, number or boolean`);
      }
    }
  }
  return { name, command: s.command as string, extraArgs, ...(recoveryConf ? { recoveryConf } : {}), keepExistingRecoveryConf: truthy(s.keep_existing_recovery_conf) };
}

function truthy(v: unknown): boolean {
  return v === true || (typeof v === 'string' && ['true', 'on', 'yes', '1'].includes(v.toLowerCase())) || v === 1;
}

/** How Python's f-string prints a YAML value (`True`, `None`), as Patroni passes it. */
function pythonStr(v: unknown): string {
  if (v === true) return 'True';
  if (v === false) return 'False';
  if (v === null) return 'None';
  return typeof v === 'object' ? JSON.stringify(v) : String(v);
}
