/**
 * Synchronous mode, read from the `sync` key (Patroni's `SyncState`): who is
 * recorded as leader and synchronous standbys, and who may therefore be
 * promoted. The leader's side (the GUC and the key, in a safe order) is in
 * actions/sync-replication.ts; quorum commit's steps in quorum.ts.
 *
 * - Synchronous mode (`synchronous_mode: true`): only the `sync` leader or one
 *   of its standbys may win a failover, and the winner writes `sync` before promoting.
 * - Quorum commit (`synchronous_mode: quorum`): any member may race, but it
 *   wins only when it sees enough voters (candidate.ts): `quorum` of the
 *   `sync_standby` voters plus the old leader are known to hold every
 *   acknowledged commit.
 */
import type { DcsSnapshot } from './agent-view';
import { isQuorumCommitMode } from './dynamic-config';

/** The names in a `sync_standby` value (Patroni writes several comma-separated). */
export function syncStandbyList(value: string | null | undefined): string[] {
  return value ? value.split(',').map((x) => x.trim()).filter(Boolean) : [];
}

/**
 * In synchronous mode, who may be promoted: the `sync` leader and its standbys (Patroni's
 * `sync.matches(name, check_leader=True)`). Undefined while nothing is recorded: no guarantee to keep yet.
 */
export function syncCandidates(snap: DcsSnapshot): ReadonlySet<string> | undefined {
  const s = snap.sync;
  if (!s?.leader) return undefined;
  return new Set([s.leader, ...syncStandbyList(s.sync_standby)]);
}

/**
 * May `me` race for the leader key? In synchronous mode only a sync candidate; in quorum commit
 * anyone (the vote count decides, candidate.ts).
 */
export function maySyncFailover(me: string, snap: DcsSnapshot): boolean {
  if (isQuorumCommitMode(snap.config)) return true;
  return syncCandidates(snap)?.has(me) ?? true;
}

/** What the quorum rule needs from the `sync` key: undefined while it names no leader (quorum commit not active yet). */
export interface QuorumKey {
  /** The leader recorded (the old leader during a failover). */
  leader: string;
  /** `sync_standby` as a list: the voters. */
  voters: string[];
  /** How many voters besides itself a new leader must see (Patroni's `quorum`). */
  quorum: number;
}

/** The `sync` key read for the quorum rule (Patroni's SyncState.from_node: quorum 0 unless a leader and a number). */
export function quorumOf(snap: DcsSnapshot): QuorumKey | undefined {
  const s = snap.sync;
  if (!s?.leader) return undefined;
  const q = Math.trunc(Number(s.quorum ?? 0));
  return { leader: s.leader, voters: syncStandbyList(s.sync_standby), quorum: Number.isFinite(q) && q > 0 ? q : 0 };
}
