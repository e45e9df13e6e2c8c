/**
 * Patroni's user-defined replica creation methods (`postgresql.create_replica_methods`): each
 * method other than the built-in `basebackup` runs a command — its section's `command`, or the
 * method's name — with Patroni's arguments `--scope=… --role=replica --datadir=… --connstring=…`
 * and every other option of its section as `--key=value` (`no_params: true` passes none). The
 * methods are tried in order until one exits 0. With no leader to clone from, only methods whose
 * section says `no_leader` can run (a replica restored from a backup, Patroni's contract).
 * The command runs as PostgreSQL's OS user, so the files it writes belong to the server.
 */
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { splitCommandLine } from '../callbacks';
import { parseBool } from '../dynamic-config';
import { errText, type NodeContext } from '../node-context';
import { run } from '../run';

/** The command line a method runs (pure): program, arguments, and whether to keep the data directory on failure. */
export function replicaMethodCommand(
  method: string,
  options: Record<string, unknown>,
  defaults: { scope: string; datadir: string; connstring: string },
): { file: string; args: string[]; keepData: boolean } {
  const { command, ...rest } = options;
  const [file = method, ...baseArgs] = splitCommandLine(typeof command === 'string' && command.trim() ? command : method);
  const keepData = parseBool(rest.keep_data) === true;
  let params: Record<string, unknown>;
  if (parseBool(rest.no_params) === true) {
    const { no_params: _a, no_leader: _b, keep_data: _c, ...others } = rest;
    params = others;
  } else params = { ...rest, scope: defaults.scope, role: 'replica', datadir: defaults.datadir, connstring: defaults.connstring };
  return { file, args: [...baseArgs, ...Object.entries(params).map(([k, v]) => `--${k}=${typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v)}`)], keepData };
}

/** The configured methods that can create a replica without a leader (their section says `no_leader`). */
export function methodsWithoutLeader(ctx: NodeContext): string[] {
  const opts = ctx.config.postgresql.replicaMethodOptions ?? {};
  return ctx.config.postgresql.createReplicaMethods.filter((m) => m !== 'basebackup' && parseBool(opts[m]?.no_leader) === true);
}

/**
 * Creates the data directory by the configured methods, in order; `basebackup` calls the built-in
 * clone (undefined `basebackup`: no leader, so it is skipped). Returns the method that worked, or
 * undefined when none did (each failure logged; the data directory emptied unless `keep_data`).
 */
export async function createReplica(ctx: NodeContext, source: { connstring: string; password?: string; basebackup: () => Promise<void> } | undefined): Promise<string | undefined> {
  const opts = ctx.config.postgresql.replicaMethodOptions ?? {};
  const methods = source ? ctx.config.postgresql.createReplicaMethods : methodsWithoutLeader(ctx);
  for (const method of methods) {
    if (!ctx.running) return undefined;
    if (method === 'basebackup' && !source) continue;
    try {
      if (method === 'basebackup') {
        await source!.basebackup();
        return method;
      }
      const cmd = replicaMethodCommand(method, opts[method] ?? {}, { scope: ctx.scope, datadir: ctx.postgres.dataDir, connstring: source?.connstring ?? '' });
      if (!cmd.keepData) removeDir(ctx.postgres.dataDir);
      ctx.log(`creating the replica with method ${method}: ${cmd.file}`);
      await ctx.withHeartbeat(() =>
        run(cmd.file, cmd.args, {
          ...(ctx.postgres.user ? { user: ctx.postgres.user } : {}),
          ...(source?.password !== undefined ? { env: { PGPASSWORD: source.password } } : {}),
          timeoutMillis: ctx.options.bootstrapTimeoutMillis ?? 300_000,
        }),
      );
      if (!existsSync(join(ctx.postgres.dataDir, 'PG_VERSION'))) throw new Error(`${cmd.file} exited 0 but left no data directory in ${ctx.postgres.dataDir}`);
      ctx.log(`replica has been created using ${method}`);
      return method;
    } catch (e) {
      // the only (or last) way was the built-in clone: its error stays the caller's, as before
      if (method === 'basebackup' && method === methods[methods.length - 1]) throw e;
      ctx.log(`creating the replica with method ${method} failed: ${errText(e)}`);
      if (!(opts[method] && parseBool(opts[method]!.keep_data) === true)) removeDir(ctx.postgres.dataDir);
    }
  }
  return undefined;
}

/** Patroni's remove_data_directory: the whole directory goes (a restore script may insist on creating it). */
function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
