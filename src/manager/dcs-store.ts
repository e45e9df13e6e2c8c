/**
 * What the manager may write to etcd, and under which condition. Every write that Patroni makes
 * conditionally is conditional here too, and the condition is in the signature: `expected` is
 * the key's mod_revision from the {@link DcsSnapshot} the decision was made on ('0' = the key
 * must not exist), so a writer that decided on a stale read loses instead of overwriting a
 * newer value. Every method resolves false when its condition did not hold (nothing written)
 * and throws FailoverError `DCS_ERROR` when etcd cannot be reached. Implemented by `Dcs` (dcs.ts).
 */
import type { DcsSnapshot, MemberData } from './agent-view';

/** The `sync` key's value: the leader, its synchronous standbys (sorted, comma-joined) and, in quorum commit, how many of them a new leader must see. */
export interface SyncKeyValue {
  leader: string;
  sync_standby: string | null;
  quorum?: number;
}

export interface DcsStore {
  /** One range read of the whole cluster prefix, with each CAS key's mod_revision. */
  snapshot(): Promise<DcsSnapshot>;

  /** `leader`: txn `create_revision == 0 → put(name, lease)`. */
  attemptToAcquireLeader(): Promise<boolean>;
  /** `leader`: txn `value == me (and our lease) → keep / re-put on our lease`. */
  updateLeader(): Promise<boolean>;
  /** `leader`: txn `value == me → delete`. */
  releaseLeader(): Promise<boolean>;

  /** `initialize`: txn `create_revision == 0 → put(value)` (the bootstrap race). */
  raceInitialize(value?: string): Promise<boolean>;
  /** `initialize`: txn `value == '' → put(system identifier)`. */
  setInitialize(systemIdentifier: string): Promise<boolean>;
  /** `initialize`: txn `value == expected → delete` (a failed bootstrap gives the race back). */
  cancelInitialize(expected?: string): Promise<boolean>;

  /** `config`: txn `create_revision == 0 → put` (bootstrap.dcs, once). */
  initializeConfig(config: Record<string, unknown>): Promise<boolean>;
  /** `config`: txn `mod_revision == expected → put` (PATCH/PUT /config, edit-config). */
  setConfig(config: Record<string, unknown>, expected: string): Promise<boolean>;
  /** `failover`: txn `mod_revision == expected → put(request)`. */
  setFailover(req: { leader?: string; member?: string; scheduled_at?: string }, expected: string): Promise<boolean>;
  /** `failover`: txn `mod_revision == expected → put('{}')`: only the request that was read is cleared. */
  clearFailover(expected: string): Promise<boolean>;
  /** `sync`: txn `mod_revision == expected → put({leader, quorum, sync_standby})` (Patroni 4's layout). */
  setSync(value: SyncKeyValue, expected: string): Promise<boolean>;
  /** `sync`: txn `mod_revision == expected → delete` (synchronous mode switched off). */
  deleteSync(expected: string): Promise<boolean>;
  /** `history`: txn `mod_revision == expected → put(list)` (append after a promotion). */
  setHistory(history: unknown[], expected: string): Promise<boolean>;
  /** `failsafe`: txn `value(leader) == me and mod_revision == expected → put({member: api_url})`. */
  setFailsafe(topology: Record<string, string>, expected: string): Promise<boolean>;
  /** `status`: txn `value(leader) == me → put({optime, …})`: only the leader writes it. */
  setStatus(status: { optime: number; [k: string]: unknown }): Promise<boolean>;

  /** `members/<me>`: put on our lease (unconditional, like Patroni: the key is ours). */
  touchMember(data: MemberData): Promise<void>;
}
