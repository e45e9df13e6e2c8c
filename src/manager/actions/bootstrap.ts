/**
 * Joining the cluster (Patroni's bootstrap): race for `/initialize` and initialize a new cluster
 * (initdb, replication roles, the leader key, the system identifier and the dynamic
 * configuration), or clone from the leader or a `clonefrom` member, or start an existing data
 * directory read-only for the HA loop to decide the rest.
 */
import { existsSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { FailoverError } from '../../errors';
import type { DcsSnapshot, MemberData } from '../agent-view';
import { parseConnUrl } from '../candidate';
import { planLeaderDuties } from '../decide';
import { executeAsLeader } from '../executor';
import { AGENT_PARAMETERS, errText, quoteIdent, type NodeContext } from '../node-context';
import { BASE_PARAMETERS, defaultHba, quoteConninfo } from '../postgres';
import { cloneSource, upstreamFor } from '../upstream';
import { customBootstrap } from './custom-bootstrap';
import { runPostBootstrap } from './post-bootstrap';
import { bootstrapStandbyLeader } from './standby-leader';
import { standbyClusterOf } from '../standby-cluster';
import { rejoin, waitForSlot } from './replica';
import { createReplica, methodsWithoutLeader } from './replica-methods';
import { hasRewindCheck } from '../rewind-marker';

export async function bootstrap(ctx: NodeContext): Promise<void> {
  const deadline = Date.now() + (ctx.options.bootstrapTimeoutMillis ?? 300_000);
  const hasData = existsSync(join(ctx.postgres.dataDir, 'PG_VERSION'));
  let waitingFor = 'a leader to clone from';
  while (ctx.running) {
    if (Date.now() > deadline) {
      const code = waitingFor === 'etcd' ? 'DCS_ERROR' : 'TIMEOUT';
      throw new FailoverError(code, `${ctx.name}: bootstrap did not finish in time (waiting for ${waitingFor})`, { detail: { etcd: ctx.config.etcd.hosts } });
    }
    let snap: DcsSnapshot;
    try {
      if (!(await ctx.lease.renew())) throw new FailoverError('DCS_ERROR', 'keepalive failed');
      snap = await ctx.dcs.snapshot();
    } catch {
      waitingFor = 'etcd';
      await sleep(500);
      continue;
    }
    waitingFor = 'a leader to clone from';
    ctx.applyConfig(snap.config);
    if (hasData) return startExisting(ctx, snap);
    if (snap.initialize === undefined) {
      if (await ctx.dcs.raceInitialize('')) return initializeCluster(ctx);
      continue;
    }
    const source = snap.leader ? cloneSource(ctx.name, snap) : undefined;
    if (source) return cloneFrom(ctx, source.name, source.data, source.name === snap.leader ? 'leader' : 'replica');
    // No leader: a replica method marked `no_leader` (a restore from a backup) may create the data directory.
    if (methodsWithoutLeader(ctx).length > 0) {
      ctx.state = 'creating replica';
      await ctx.publish(undefined).catch(() => {});
      if (await createReplica(ctx, undefined)) {
        ctx.postgres.writeStandbyConfig({ primaryConninfo: '' });
        return startExisting(ctx, snap);
      }
    }
    await ctx.publish(undefined).catch(() => {});
    ctx.log(`waiting for a leader to bootstrap from`);
    await ctx.sleepOrWake(1000);
  }
}

/** Winner of `/initialize`: initdb, start as primary, take the leader key, record the system identifier and config. */
export async function initializeCluster(ctx: NodeContext): Promise<void> {
  ctx.log('won the /initialize race: initializing a new cluster');
  ctx.state = 'initializing new cluster';
  try {
    const dcs = ctx.config.bootstrap.dcs;
    const standby = standbyClusterOf(dcs.raw.standby_cluster);
    if (standby) {
      // a new standby cluster: its first member clones the remote and leads as a standby leader
      await bootstrapStandbyLeader(ctx, standby);
      ctx.log('initialized a new standby cluster');
      return;
    }
    const method = ctx.config.bootstrap.method;
    if (method) {
      // bootstrap.method with a command (clone of another cluster, backup restore): PostgreSQL runs as a primary after it, roles set
      await customBootstrap(ctx, method);
    } else {
      await ctx.withHeartbeat(() => ctx.postgres.initdb({
        parameters: { ...BASE_PARAMETERS, ...AGENT_PARAMETERS, ...dcs.postgresql.parameters, ...ctx.config.postgresql.parameters },
        hba: ctx.config.postgresql.pgHba ?? dcs.postgresql.pgHba ?? ctx.config.bootstrap.pgHba ?? defaultHba(ctx.postgres.password !== undefined),
        dataChecksums: true,
        extraArgs: ctx.config.bootstrap.initdb.filter((a) => a !== '--data-checksums' && a !== '-k'),
      }));
      ctx.state = 'starting';
      await ctx.withHeartbeat(() => ctx.postgres.start());
    }
    if (!(await ctx.lease.renew())) throw new FailoverError('DCS_ERROR', `${ctx.name}: etcd unreachable after ${method ? `bootstrap.method ${method.name}` : 'initdb'}`);
    if (!method) await createReplicationUser(ctx);
    await runPostBootstrap(ctx);
    if (!(await ctx.dcs.attemptToAcquireLeader())) throw new FailoverError('DCS_ERROR', `${ctx.name}: could not take the leader key after winning /initialize`);
    ctx.holdsLock = true;
    ctx.node.moveTo({ role: 'primary' });
    ctx.state = 'running';
    const [row] = await ctx.postgres.query<{ id: string }>('SELECT system_identifier::text AS id FROM pg_control_system()');
    await ctx.dcs.setInitialize(row!.id);
    await ctx.dcs.initializeConfig(ctx.configJson(dcs.raw));
    const snap = await ctx.dcs.snapshot();
    await ctx.publish(await ctx.localStatus());
    const local = await ctx.localStatus();
    await executeAsLeader(ctx, planLeaderDuties(ctx.name, snap, Date.now()), snap, local);
    ctx.log(`initialized a new cluster (system identifier ${row!.id})`);
  } catch (e) {
    ctx.log(`bootstrap failed: ${errText(e)}; giving the /initialize race back`);
    await ctx.dcs.cancelInitialize('').catch(() => false);
    await ctx.postgres.stop('immediate').catch(() => {});
    moveAside(ctx);
    throw e;
  }
}

/**
 * A failed bootstrap's data directory is renamed `<data_dir>_<YYYY-MM-DD-HH-MM-SS>` (Patroni's
 * move_data_directory): started again, the node must not take a half-made cluster for one.
 */
function moveAside(ctx: NodeContext): void {
  const dir = ctx.postgres.dataDir;
  if (!existsSync(dir)) return;
  const stamp = new Date().toISOString().slice(0, 19).replace(/[T:]/g, '-');
  try {
    renameSync(dir, `${dir}_${stamp}`);
    ctx.log(`moved the data directory of the failed bootstrap to ${dir}_${stamp}`);
  } catch (e) {
    ctx.log(`could not move the data directory of the failed bootstrap aside: ${errText(e)}`);
  }
}

export async function createReplicationUser(ctx: NodeContext): Promise<void> {
  const repl = ctx.config.postgresql.authentication.replication;
  await createRole(ctx, repl, 'REPLICATION LOGIN');
  // Patroni's rewind user (PostgreSQL ≥ 11): a login role allowed exactly the functions pg_rewind calls
  const rewind = ctx.config.postgresql.authentication.rewind;
  if (rewind && (await createRole(ctx, rewind, 'LOGIN'))) {
    const ident = quoteIdent(rewind.username);
    for (const fn of ['pg_ls_dir(text, boolean, boolean)', 'pg_stat_file(text, boolean)', 'pg_read_binary_file(text)', 'pg_read_binary_file(text, bigint, bigint, boolean)']) {
      await ctx.postgres.query(`GRANT EXECUTE ON FUNCTION pg_catalog.${fn} TO ${ident}`);
    }
  }
}

/** Creates a role unless it exists or is the superuser; true when created. The password never reaches a log. */
export async function createRole(ctx: NodeContext, cred: { username: string; password?: string }, options: string): Promise<boolean> {
  if (cred.username === ctx.postgres.superuser) return false;
  const exists = await ctx.postgres.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [cred.username]);
  if (exists.length) return false;
  const pw = cred.password !== undefined ? ` PASSWORD '${cred.password.replace(/'/g, "''")}'` : '';
  await ctx.postgres.query(`CREATE ROLE ${quoteIdent(cred.username)} WITH ${options}${pw}`);
  return true;
}

/**
 * Loser of `/initialize`: pg_basebackup from `source` (the leader or a `clonefrom` member), standby
 * config for the member we stream from (the leader, our `replicatefrom`, or the archive), start.
 */
export async function cloneFrom(ctx: NodeContext, source: string, data: MemberData, sourceRole: 'leader' | 'replica' = 'leader'): Promise<void> {
  const addr = parseConnUrl(data.conn_url)!;
  ctx.state = 'creating replica';
  await ctx.publish(undefined).catch(() => {});
  ctx.log(`cloning from ${sourceRole} ${source} (${addr.host}:${addr.port})`);
  const repl = ctx.config.postgresql.authentication.replication;
  const basebackup = () => ctx.withHeartbeat(() => ctx.postgres.basebackup({ host: addr.host, port: addr.port, user: repl.username, ...(repl.password !== undefined ? { password: repl.password } : {}) }, { timeoutMillis: ctx.options.bootstrapTimeoutMillis ?? 300_000 }));
  const connstring = `host=${quoteConninfo(addr.host)} port=${addr.port} user=${quoteConninfo(repl.username)} dbname=postgres`;
  if (!(await createReplica(ctx, { connstring, ...(repl.password !== undefined ? { password: repl.password } : {}), basebackup }))) {
    throw new FailoverError('COMMAND_FAILED', `${ctx.name}: no replica creation method worked (${ctx.config.postgresql.createReplicaMethods.join(', ')})`);
  }
  const snap = await ctx.dcs.snapshot().catch(() => undefined);
  const to = (snap && upstreamFor(ctx.name, ctx.config.tags, snap)) ?? { name: source, data };
  const following = ctx.writeStandby(to);
  if (ctx.dyn.useSlots && to !== 'archive') await waitForSlot(ctx, to.data);
  ctx.state = 'starting';
  await ctx.withHeartbeat(() => ctx.postgres.start());
  ctx.node.moveTo({ role: 'replica', following });
  ctx.state = 'running';
  ctx.emit('following', { leader: to === 'archive' ? source : to.name });
}

/** A data directory that already exists: start it read-only (as a standby); the HA loop decides the rest. */
export async function startExisting(ctx: NodeContext, snap: DcsSnapshot): Promise<void> {
  const wasPrimary = !existsSync(join(ctx.postgres.dataDir, 'standby.signal')) || hasRewindCheck(ctx.postgres.dataDir);
  ctx.needsRewind = wasPrimary;
  if (ctx.postgres.isRunning()) {
    ctx.node.moveTo((await ctx.postgres.isInRecovery().catch(() => true)) ? { role: 'replica', following: undefined } : { role: 'primary' });
    ctx.state = 'running';
    return;
  }
  if (snap.leader === ctx.name && wasPrimary && (await ctx.dcs.updateLeader().catch(() => false))) {
    // Still our key: nobody else was promoted; resume as the primary.
    ctx.log('restarting as the primary: the leader key is still ours');
    // Our member key went with the old lease (or will, any moment): say `starting` now, under the new
    // one, and `running` once PostgreSQL is up, as after a fence (actions/promote.ts). Until the first
    // HA cycle wrote it, the standbys had no address to follow (synchronous commits waited ~0.7 s for
    // them in the campaign) and clients that believe the key saw no primary.
    const announced = ctx.announceStarting();
    try {
      await ctx.postgres.start();
    } finally {
      await announced;
    }
    ctx.holdsLock = true;
    ctx.node.moveTo({ role: 'primary' });
    ctx.state = 'running';
    ctx.needsRewind = false;
    await ctx.publish(await ctx.localStatus()).catch(() => {});
    return;
  }
  const leader = snap.leader && snap.leader !== ctx.name ? snap.members.find((m) => m.name === snap.leader) : undefined;
  if (leader?.data.conn_url) {
    await rejoin(ctx, snap.leader!, leader.data, wasPrimary ? undefined : upstreamFor(ctx.name, ctx.config.tags, snap));
    return;
  }
  // No leader to follow: start read-only with no upstream; the loop may promote us.
  ctx.postgres.writeStandbyConfig({ primaryConninfo: '' });
  ctx.state = 'starting';
  await ctx.postgres.start();
  ctx.node.moveTo({ role: 'replica', following: undefined });
  ctx.state = 'running';
}
