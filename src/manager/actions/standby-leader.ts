/**
 * Leading a standby cluster (standby-cluster.ts): the key holder runs PostgreSQL as a standby of
 * the remote host (or of the archive) instead of promoting. Also the cluster keys a new standby
 * cluster's first leader writes when it started from an existing data directory (no
 * `/initialize` race happened): `initialize` with its system identifier, and `config` from its
 * `bootstrap.dcs` — so the members that join next clone from it instead of running initdb.
 */
import { FailoverError } from '../../errors';
import type { DcsSnapshot } from '../agent-view';
import { AGENT_PARAMETERS, errText, type NodeContext } from '../node-context';
import { BASE_PARAMETERS, defaultHba } from '../postgres';
import { archiveCommandOf, buildArchiverCommand } from '../archiver-command';
import { parseControldata } from '../controldata';
import { run } from '../run';
import { describeStandbySource, effectiveStandbyCluster, standbyLeaderSettings, standbySignature, type StandbyCluster } from '../standby-cluster';

/** The standby cluster in effect for this node now (the `config` key's, else its bootstrap.dcs). */
export function standbyClusterFor(ctx: NodeContext, snap: DcsSnapshot): StandbyCluster | undefined {
  return effectiveStandbyCluster(snap, ctx.config.bootstrap.dcs.raw);
}

/**
 * Holding the key in a standby cluster: write the standby configuration for the remote, then
 * reload a running standby, restart a running primary as a standby (demote cluster), or start a
 * stopped node. The node becomes the standby leader (`on_role_change standby_leader`).
 */
export async function becomeStandbyLeader(ctx: NodeContext, snap: DcsSnapshot, sc: StandbyCluster, line: string): Promise<string> {
  const repl = ctx.config.postgresql.authentication.replication;
  const settings = standbyLeaderSettings(sc, { username: repl.username, ...(repl.password !== undefined ? { password: repl.password } : {}) }, ctx.name);
  const wasPrimary = ctx.node.role === 'primary' && ctx.postgres.isRunning();
  if (wasPrimary) {
    ctx.log(`demoting: standby_cluster is configured; restarting as a standby leader of ${describeStandbySource(sc)}`);
    const rows = await ctx.postgres.query<{ name: string; setting: string }>("SELECT name, setting FROM pg_settings WHERE name IN ('archive_mode', 'archive_command')").catch(() => []);
    const archiveCommand = archiveCommandOf(Object.fromEntries(rows.map((r) => [r.name, r.setting])));
    ctx.state = 'stopping';
    await ctx.postgres.stop('fast');
    if (archiveCommand) await archiveShutdownCheckpoint(ctx, archiveCommand);
    else ctx.log('Not archiving latest checkpoint WAL file. Archiving is not configured.');
  }
  ctx.postgres.writeRecoveryConfig(settings, 'standby');
  if (ctx.postgres.isRunning()) {
    await ctx.postgres.query('SELECT pg_reload_conf()');
  } else {
    ctx.state = 'starting';
    await ctx.withHeartbeat(() => ctx.postgres.start());
  }
  ctx.needsRewind = false;
  const changed = ctx.node.role !== 'standby_leader';
  ctx.node.moveTo({ role: 'standby_leader', source: standbySignature(sc) });
  ctx.state = 'running';
  if (changed) ctx.log(`became the standby leader, replicating from ${describeStandbySource(sc)}`);
  await ensureClusterKeys(ctx, snap).catch((e) => ctx.log(`cluster keys: ${errText(e)}`));
  await ctx.publish(await ctx.localStatus()).catch(() => {});
  return line;
}

/**
 * Sends the WAL file holding the shutdown checkpoint to the archive (Patroni does the same): the
 * archiver never sends that unfinished segment, and a standby cluster that replicates from the
 * archive and gets promoted would fork before it, leaving this node unable to follow.
 */
async function archiveShutdownCheckpoint(ctx: NodeContext, archiveCommand: string): Promise<void> {
  try {
    const { stdout } = await run(ctx.postgres.bin.path('pg_controldata'), ['-D', ctx.postgres.dataDir], { ...(ctx.postgres.user ? { user: ctx.postgres.user } : {}), timeoutMillis: 10_000 });
    const walFile = parseControldata(stdout)["Latest checkpoint's REDO WAL file"];
    if (!walFile) {
      ctx.log("Cannot extract latest checkpoint's WAL file name");
      return;
    }
    const cmd = buildArchiverCommand(archiveCommand, 'pg_wal', walFile);
    await run('/bin/sh', ['-c', cmd], { ...(ctx.postgres.user ? { user: ctx.postgres.user } : {}), cwd: ctx.postgres.dataDir, timeoutMillis: 120_000 });
    ctx.log(`archived ${walFile} (the shutdown checkpoint) before starting as a standby leader`);
  } catch (e) {
    ctx.log(`Failed to archive WAL file with the shutdown checkpoint: ${errText(e)}`);
  }
}

/** `initialize` and `config` when the cluster has none yet (see the module header). */
async function ensureClusterKeys(ctx: NodeContext, snap: DcsSnapshot): Promise<void> {
  if (!snap.initialize) {
    const [row] = await ctx.postgres.query<{ id: string }>('SELECT system_identifier::text AS id FROM pg_control_system()');
    // absent: nobody raced (an existing data directory); empty: we won the race and cloned the remote
    const recorded = row && (snap.initialize === undefined ? await ctx.dcs.raceInitialize(row.id) : await ctx.dcs.setInitialize(row.id));
    if (recorded) ctx.log(`recorded the system identifier ${row.id} in /initialize`);
  }
  if (Object.keys(snap.config).length === 0) await ctx.dcs.initializeConfig(ctx.configJson(ctx.config.bootstrap.dcs.raw));
}

/**
 * The winner of `/initialize` in a new standby cluster: clone the remote host with pg_basebackup
 * (instead of initdb), put this node's settings on top, take the leader key and run as the
 * standby leader.
 */
export async function bootstrapStandbyLeader(ctx: NodeContext, sc: StandbyCluster): Promise<void> {
  if (!sc.host) throw new FailoverError('MANAGER_CONFIG', `${ctx.name}: standby_cluster has no host to clone from`);
  const repl = ctx.config.postgresql.authentication.replication;
  ctx.state = 'creating replica';
  ctx.log(`bootstrapping a standby cluster: cloning ${describeStandbySource(sc)} with pg_basebackup`);
  await ctx.withHeartbeat(() =>
    ctx.postgres.basebackup({ host: sc.host!, port: sc.port ?? 5432, user: repl.username, ...(repl.password !== undefined ? { password: repl.password } : {}) }, { timeoutMillis: ctx.options.bootstrapTimeoutMillis ?? 300_000 }),
  );
  const dcs = ctx.config.bootstrap.dcs;
  ctx.postgres.writeParameters({ ...BASE_PARAMETERS, ...AGENT_PARAMETERS, ...dcs.postgresql.parameters, ...ctx.config.postgresql.parameters });
  ctx.postgres.writeHba(ctx.config.postgresql.pgHba ?? dcs.postgresql.pgHba ?? ctx.config.bootstrap.pgHba ?? defaultHba(ctx.postgres.password !== undefined));
  if (!(await ctx.lease.renew())) throw new FailoverError('DCS_ERROR', `${ctx.name}: etcd unreachable after cloning the standby cluster's remote`);
  if (!(await ctx.dcs.attemptToAcquireLeader())) throw new FailoverError('DCS_ERROR', `${ctx.name}: could not take the leader key after winning /initialize`);
  ctx.holdsLock = true;
  await becomeStandbyLeader(ctx, await ctx.dcs.snapshot(), sc, '');
}
