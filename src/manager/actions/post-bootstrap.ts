/**
 * `bootstrap.post_bootstrap` (or its old name `post_init`): Patroni's hook run once after a new
 * cluster was created (initdb or a custom bootstrap) and started, before it takes the leader
 * key — e.g. to create roles and databases. Patroni's contract: `<command…> <conninfo>` with the
 * superuser's conninfo without its password (a pgpass file carries it, `PGPASSFILE`), and
 * `PGOPTIONS=-c synchronous_commit=local -c statement_timeout=0`; the script must exit 0, or
 * the bootstrap fails (the `/initialize` race is given back).
 */
import { chownSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FailoverError, redact } from '../../errors';
import { splitCommandLine } from '../callbacks';
import { errText, type NodeContext } from '../node-context';
import { quoteConninfo } from '../postgres';
import { run } from '../run';

/** Runs the post_bootstrap script when one is configured; throws `COMMAND_FAILED` when it fails. */
export async function runPostBootstrap(ctx: NodeContext): Promise<void> {
  const cmd = ctx.config.bootstrap.postBootstrap;
  if (!cmd) return;
  const [file, ...args] = splitCommandLine(cmd);
  if (!file) return;
  const pg = ctx.postgres;
  const conninfo = `dbname=postgres user=${quoteConninfo(pg.superuser)} host=${quoteConninfo(pg.host)} port=${pg.port}`;
  const dir = mkdtempSync(join(tmpdir(), 'pgf-post-bootstrap-'));
  const pgpass = join(dir, 'pgpass');
  const escape = (v: string) => v.replace(/\\/g, '\\\\').replace(/:/g, '\\:');
  writeFileSync(pgpass, pg.password !== undefined ? `*:*:*:${escape(pg.superuser)}:${escape(pg.password)}\n` : '', { mode: 0o600 });
  if (pg.user) {
    chownSync(dir, pg.user.uid, pg.user.gid);
    chownSync(pgpass, pg.user.uid, pg.user.gid);
  }
  ctx.state = 'running post_bootstrap';
  ctx.log(`running post_bootstrap script: ${redact(cmd)}`);
  try {
    await ctx.withHeartbeat(() =>
      run(file, [...args, conninfo], {
        ...(pg.user ? { user: pg.user } : {}),
        cwd: process.cwd(),
        env: { ...process.env, PGPASSFILE: pgpass, PGOPTIONS: '-c synchronous_commit=local -c statement_timeout=0' },
        timeoutMillis: ctx.options.bootstrapTimeoutMillis ?? 300_000,
      }),
    );
  } catch (e) {
    throw new FailoverError('COMMAND_FAILED', `${ctx.name}: post_bootstrap script ${redact(cmd)} failed: ${errText(e)}`, { node: ctx.name, cause: e });
  } finally {
    rmSync(dir, { recursive: true, force: true });
    ctx.state = 'running';
  }
}
