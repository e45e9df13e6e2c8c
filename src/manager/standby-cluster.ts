/**
 * Patroni's standby cluster (`standby_cluster` in the dynamic configuration): the whole cluster
 * replicates from somewhere else — a remote host (another cluster's primary), the WAL archive
 * (`restore_command`), or both. Its leader is a *standby leader*: it holds the leader key but
 * never promotes; it streams from the remote and the other members stream from it. Removing
 * `standby_cluster` from the configuration promotes it; adding it to a running cluster turns its
 * primary into a standby leader ("demote cluster"). Pure: the settings and the standby
 * configuration they ask for.
 */
import type { DcsSnapshot } from './agent-view';

/** The `standby_cluster` settings this manager acts on. */
export interface StandbyCluster {
  host?: string;
  port?: number;
  /** A slot on the remote to stream through. */
  primarySlotName?: string;
  /** WAL from the archive (alone: archive recovery only; with a host: the fallback). */
  restoreCommand?: string;
  /** `recovery_min_apply_delay` for the standby leader. */
  recoveryMinApplyDelay?: string | number;
  /** `archive_cleanup_command` for the standby leader. */
  archiveCleanupCommand?: string;
}

/** The keys of `standby_cluster` Patroni knows; `create_replica_methods` is accepted, cloning always uses pg_basebackup from the remote. */
export const STANDBY_CLUSTER_KEYS = ['host', 'port', 'primary_slot_name', 'restore_command', 'recovery_min_apply_delay', 'archive_cleanup_command', 'create_replica_methods', 'leader_tags'] as const;

/**
 * The standby cluster a configuration value describes, or undefined: Patroni's rule is a mapping
 * with a `host` or a `restore_command` (anything else — null, {} — is no standby cluster).
 */
export function standbyClusterOf(value: unknown): StandbyCluster | undefined {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const v = value as Record<string, unknown>;
  const str = (x: unknown) => (typeof x === 'string' && x !== '' ? x : typeof x === 'number' ? String(x) : undefined);
  const host = str(v.host);
  const restoreCommand = str(v.restore_command);
  if (!host && !restoreCommand) return undefined;
  const port = Number(v.port);
  const slot = str(v.primary_slot_name);
  const delay = v.recovery_min_apply_delay;
  const cleanup = str(v.archive_cleanup_command);
  return {
    ...(host ? { host } : {}),
    ...(host && Number.isInteger(port) && port > 0 ? { port } : {}),
    ...(slot ? { primarySlotName: slot } : {}),
    ...(restoreCommand ? { restoreCommand } : {}),
    ...(typeof delay === 'string' || typeof delay === 'number' ? { recoveryMinApplyDelay: delay } : {}),
    ...(cleanup ? { archiveCleanupCommand: cleanup } : {}),
  };
}

/**
 * The standby cluster in effect: the `config` key's, or — while the cluster has no `config` key
 * yet (a node starting an existing data directory in a new scope) — the node's own
 * `bootstrap.dcs`, as Patroni uses its local dynamic configuration then.
 */
export function effectiveStandbyCluster(snap: Pick<DcsSnapshot, 'config'>, bootstrapDcs: Readonly<Record<string, unknown>>): StandbyCluster | undefined {
  const config = Object.keys(snap.config).length > 0 ? snap.config : bootstrapDcs;
  return standbyClusterOf(config.standby_cluster);
}

/** The replication user that logs in to the remote. */
export interface ReplicationLogin {
  username: string;
  password?: string;
}

/**
 * What the standby leader's recovery settings are, as parameter → value: `primary_conninfo` to
 * the remote (empty for archive-only), the slot, `restore_command` … A stable text of it
 * ({@link standbySignature}) tells whether a running standby leader must be re-pointed.
 */
export function standbyLeaderSettings(sc: StandbyCluster, login: ReplicationLogin, applicationName: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (sc.host) {
    const parts = [`host=${quote(sc.host)}`, ...(sc.port ? [`port=${sc.port}`] : []), `user=${quote(login.username)}`];
    if (login.password !== undefined) parts.push(`password=${quote(login.password)}`);
    parts.push(`application_name=${quote(applicationName)}`);
    out.primary_conninfo = parts.join(' ');
  } else {
    out.primary_conninfo = '';
  }
  if (sc.host && sc.primarySlotName) out.primary_slot_name = sc.primarySlotName;
  if (sc.restoreCommand) out.restore_command = sc.restoreCommand;
  if (sc.recoveryMinApplyDelay !== undefined) out.recovery_min_apply_delay = String(sc.recoveryMinApplyDelay);
  if (sc.archiveCleanupCommand) out.archive_cleanup_command = sc.archiveCleanupCommand;
  out.recovery_target_timeline = 'latest';
  return out;
}

/** Where the standby leader replicates from, without the password (for logs). */
export function describeStandbySource(sc: StandbyCluster): string {
  const from = sc.host ? `${sc.host}:${sc.port ?? 5432}${sc.primarySlotName ? ` (slot ${sc.primarySlotName})` : ''}` : 'the archive';
  return sc.restoreCommand && sc.host ? `${from} and the archive` : from;
}

/** A stable text of the settings: a running standby leader whose signature changed is re-pointed. */
export function standbySignature(sc: StandbyCluster): string {
  return JSON.stringify(sc);
}

function quote(v: string): string {
  return /^[A-Za-z0-9_.\-/:]+$/.test(v) ? v : `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}
