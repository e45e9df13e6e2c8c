/**
 * Patroni's custom bootstrap, for the winner of `/initialize` when `bootstrap.method` names a
 * section with a `command`: run the command to create the data directory (a pg_basebackup of
 * another cluster, a backup restore …), put this node's configuration on top, start
 * PostgreSQL — in archive recovery when `recovery_conf` asks for it — and wait until it runs as
 * a primary. The data directory comes with another cluster's roles and passwords, so the node
 * connects over a trust-only pg_hba.conf until it has set its own superuser and replication
 * passwords, then writes its configured pg_hba.conf and reloads (Patroni's post_bootstrap).
 * The command runs in the manager's working directory, as the PostgreSQL OS user (a manager run
 * as root creates the empty data directory for it first; otherwise the command creates it).
 */
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, rmdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { FailoverError, redact } from '../../errors';
import type { CustomBootstrap } from '../bootstrap-method';
import { splitCommandLine } from '../callbacks';
import { parseControldata, recoveryMinimums } from '../controldata';
import { AGENT_PARAMETERS, errText, quoteIdent, type NodeContext } from '../node-context';
import { BASE_PARAMETERS, defaultHba } from '../postgres';
import { run } from '../run';

/** Local connections only, no password: how the node reaches a data directory whose passwords it does not know. */
const BOOTSTRAP_HBA = ['local all all trust', 'local replication all trust', 'host all all 127.0.0.1/32 trust', 'host all all ::1/128 trust'];

/** Runs the custom bootstrap; resolves with PostgreSQL running as a primary, its roles set. */
export async function customBootstrap(ctx: NodeContext, method: CustomBootstrap): Promise<void> {
  const dataDir = ctx.postgres.dataDir;
  // The command creates the directory (a copy refuses an existing one): an empty one is removed first.
  if (existsSync(dataDir) && readdirSync(dataDir).length === 0) rmdirSync(dataDir);
  if (existsSync(dataDir)) {
    throw new FailoverError('DATA_DIR_EXISTS', `${ctx.name}: bootstrap.method ${method.name}: data directory ${dataDir} is not empty`, { node: ctx.name });
  }
  const user = ctx.postgres.user;
  if (user) {
    // Run as root, the command runs as the PostgreSQL user, who may not write the parent
    // directory: it gets an empty data directory of its own (pg_basebackup fills one).
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    chownSync(dataDir, user.uid, user.gid);
  }
  const [file, ...args] = splitCommandLine(method.command);
  if (!file) throw new FailoverError('INVALID_OPTION', `${ctx.name}: bootstrap.${method.name}.command is empty`);
  ctx.state = 'running custom bootstrap script';
  ctx.log(`Running custom bootstrap script: ${redact(method.command)}`);
  const timeoutMillis = ctx.options.bootstrapTimeoutMillis ?? 300_000;
  try {
    await ctx.withHeartbeat(() => run(file, [...args, ...method.extraArgs], { ...(ctx.postgres.user ? { user: ctx.postgres.user } : {}), cwd: process.cwd(), timeoutMillis }));
  } catch (e) {
    ctx.state = 'custom bootstrap failed';
    throw new FailoverError('COMMAND_FAILED', `${ctx.name}: bootstrap.${method.name}.command failed: ${errText(e)}`, { node: ctx.name, cause: e });
  }
  if (!existsSync(join(dataDir, 'PG_VERSION'))) {
    throw new FailoverError('COMMAND_FAILED', `${ctx.name}: bootstrap.${method.name}.command exited 0 but left no data directory at ${dataDir}`, { node: ctx.name });
  }
  chmodSync(dataDir, 0o700);
  await prepareDataDirectory(ctx, method);

  ctx.state = 'starting';
  await ctx.withHeartbeat(() => ctx.postgres.start({ timeoutMillis }));
  if (method.recoveryConf) {
    ctx.state = 'waiting for end of recovery after bootstrap';
    await ctx.withHeartbeat(() => waitUntilPrimary(ctx, timeoutMillis));
  }
  await setOwnPasswords(ctx);
  // The cluster's own pg_hba.conf replaces the trust-only one; no recovery settings remain.
  ctx.postgres.writeHba(configuredHba(ctx));
  ctx.postgres.clearStandbyConfig();
  rmSync(join(dataDir, 'recovery.signal'), { force: true });
  await ctx.postgres.query('SELECT pg_reload_conf()');
  ctx.log(`custom bootstrap ${method.name}: PostgreSQL runs as a primary`);
}

/** This node's settings on top of what the command left (Patroni's _post_restore). */
async function prepareDataDirectory(ctx: NodeContext, method: CustomBootstrap): Promise<void> {
  const dataDir = ctx.postgres.dataDir;
  const dcs = ctx.config.bootstrap.dcs;
  const parameters = { ...BASE_PARAMETERS, ...AGENT_PARAMETERS, ...dcs.postgresql.parameters, ...ctx.config.postgresql.parameters };
  // recovery refuses lower max_connections & co. than the cluster the data came from had (Patroni's effective_configuration)
  const raised = recoveryMinimums(parameters, await controldata(ctx));
  if (Object.keys(raised).length) ctx.log(`starting with ${Object.entries(raised).map(([k, v]) => `${k}=${v}`).join(', ')} from pg_controldata (higher than configured) until a restart`);
  ctx.postgres.writeParameters({ ...parameters, ...raised });
  ctx.postgres.writeHba(BOOTSTRAP_HBA);
  // a trigger file left in the copy would promote at once
  rmSync(join(dataDir, 'promote'), { force: true });
  rmSync(join(dataDir, 'postmaster.pid'), { force: true });
  if (method.recoveryConf) {
    ctx.postgres.writeRecoveryConfig(method.recoveryConf);
  } else if (!method.keepExistingRecoveryConf) {
    ctx.postgres.clearStandbyConfig();
    rmSync(join(dataDir, 'recovery.signal'), { force: true });
  }
}

async function controldata(ctx: NodeContext): Promise<Record<string, string>> {
  try {
    const { stdout } = await run(ctx.postgres.bin.path('pg_controldata'), ['-D', ctx.postgres.dataDir], { ...(ctx.postgres.user ? { user: ctx.postgres.user } : {}), timeoutMillis: 10_000 });
    return parseControldata(stdout);
  } catch (e) {
    ctx.log(`pg_controldata: ${errText(e)}`);
    return {};
  }
}

/** Archive recovery ends with a promotion: wait (bounded) until PostgreSQL left recovery. */
async function waitUntilPrimary(ctx: NodeContext, timeoutMillis: number): Promise<void> {
  const deadline = Date.now() + timeoutMillis;
  for (;;) {
    const [row] = await ctx.postgres.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r').catch(() => [undefined]);
    if (row && row.r === false) return;
    if (!ctx.postgres.isRunning()) throw new FailoverError('SERVER_START_FAILED', `${ctx.name}: PostgreSQL stopped during recovery after the custom bootstrap; see its log`, { node: ctx.name });
    if (Date.now() > deadline) throw new FailoverError('TIMEOUT', `${ctx.name}: recovery after the custom bootstrap did not end within ${timeoutMillis} ms`, { node: ctx.name });
    await sleep(200);
  }
}

/** The superuser, replication and rewind roles with this node's passwords (created when the copy lacks them). */
async function setOwnPasswords(ctx: NodeContext): Promise<void> {
  const auth = ctx.config.postgresql.authentication;
  const su = ctx.postgres.superuser;
  const roles: Array<[{ username: string; password?: string }, string]> = [
    [{ username: su, ...(ctx.postgres.password !== undefined ? { password: ctx.postgres.password } : {}) }, 'SUPERUSER LOGIN'],
    [auth.replication, 'REPLICATION LOGIN'],
    ...(auth.rewind ? [[auth.rewind, 'LOGIN'] as [{ username: string; password?: string }, string]] : []),
  ];
  const done = new Set<string>();
  for (const [cred, options] of roles) {
    if (done.has(cred.username)) continue;
    done.add(cred.username);
    const ident = quoteIdent(cred.username);
    const pw = cred.password !== undefined ? ` PASSWORD '${cred.password.replace(/'/g, "''")}'` : '';
    const exists = (await ctx.postgres.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [cred.username])).length > 0;
    // an existing role keeps its attributes (the bootstrap superuser's cannot change); only the password is ours
    const sql = exists ? (pw ? `ALTER ROLE ${ident} WITH${pw}` : '') : `CREATE ROLE ${ident} WITH ${options}${pw}`;
    if (!sql) continue;
    // the password never reaches a log: the error below carries no SQL text
    await ctx.postgres.query(sql).catch((e) => {
      throw new FailoverError('COMMAND_FAILED', `${ctx.name}: could not set role ${cred.username} after the custom bootstrap: ${errText(e)}`, { node: ctx.name });
    });
  }
  if (auth.rewind && auth.rewind.username !== ctx.postgres.superuser) {
    const ident = quoteIdent(auth.rewind.username);
    for (const fn of ['pg_ls_dir(text, boolean, boolean)', 'pg_stat_file(text, boolean)', 'pg_read_binary_file(text)', 'pg_read_binary_file(text, bigint, bigint, boolean)']) {
      await ctx.postgres.query(`GRANT EXECUTE ON FUNCTION pg_catalog.${fn} TO ${ident}`);
    }
  }
}

/** The pg_hba.conf lines initdb would have written for this node. */
function configuredHba(ctx: NodeContext): string[] {
  const dcs = ctx.config.bootstrap.dcs;
  return ctx.config.postgresql.pgHba ?? dcs.postgresql.pgHba ?? ctx.config.bootstrap.pgHba ?? defaultHba(ctx.postgres.password !== undefined);
}
