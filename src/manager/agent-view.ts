/**
 * The contract between the HA agent (agent.ts) and what observes or steers it
 * (the REST API in api.ts, the CLI): a read-only view plus the few requests
 * Patroni's API can make. The agent implements it; api.ts only consumes it.
 * Field names follow Patroni's JSON so the API can answer them unchanged.
 */
import type { PatroniMemberDocument } from '../patroni-contract';

/** The cluster as read from etcd in one snapshot (Patroni's layout under /<namespace>/<scope>/). */
export interface DcsSnapshot {
  /** Value of `leader` (a member name), when the key exists. */
  leader: string | undefined;
  /** `members/<name>` values, parsed (conn_url, api_url, state, role, xlog_location, timeline, tags …). */
  members: Array<{ name: string; data: MemberData }>;
  /** `config` (dynamic configuration), parsed; {} when absent. */
  config: Record<string, unknown>;
  /** `initialize` (system identifier), when present. */
  initialize: string | undefined;
  /** `sync`, parsed, when present (synchronous mode). */
  sync: { leader: string | null; sync_standby: string | null; quorum?: number } | undefined;
  /** `failover`, parsed, when present (a pending switchover/failover request). */
  failover: { leader?: string; member?: string; scheduled_at?: string } | undefined;
  /** `history`: [[timeline, lsn, reason, iso time, new leader], …]. */
  history: unknown[];
  /** `status`: { optime, slots?, retain_slots? } (slot positions on the leader, member slots it retains). */
  status: { optime?: number; slots?: Record<string, number> | null; retain_slots?: string[] | null } | undefined;
  /**
   * `failsafe` (DCS failsafe mode): `{member name: api_url}` as the leader last wrote it; undefined
   * when absent or not such an object (Patroni treats both alike). Optional: snapshots built
   * by hand (tests, other views) may leave it out.
   */
  failsafe?: Record<string, string> | undefined;
  /** etcd revision of the read. */
  revision: string;
  /**
   * mod_revision of each non-lease key as read ('0' when absent): the expected revision
   * every compare-and-set write of that key must name (see Dcs / DcsStore).
   */
  revisions: KeyRevisions;
}

/** mod_revision per CAS-written key, '0' = the key did not exist. */
export interface KeyRevisions {
  config: string;
  failover: string;
  sync: string;
  history: string;
  initialize: string;
  /** `failsafe` (optional: absent = not read, treated as '0'). */
  failsafe?: string;
}

/** A member key's JSON, as Patroni writes it (the shared contract's document). */
export type MemberData = PatroniMemberDocument;

/** What `GET /patroni` answers (and every health-check GET's body), Patroni's field names. */
export interface NodeStatus {
  state: string;
  postmaster_start_time?: string;
  role: 'primary' | 'master' | 'replica' | 'standby_leader' | 'demoted' | 'uninitialized';
  server_version?: number;
  xlog?:
    | { location: number }
    | { received_location?: number; replayed_location?: number; replayed_timestamp?: string | null; paused?: boolean };
  timeline?: number;
  replication?: Array<{ usename: string; application_name: string; client_addr: string | null; state: string; sync_state: string; sync_priority: number }>;
  /** Unix seconds of the last successful etcd contact. */
  dcs_last_seen?: number;
  tags?: Record<string, unknown>;
  database_system_identifier?: string;
  pending_restart?: boolean;
  /** Replica only: `streaming` while a WAL receiver streams, `in archive recovery` with restore_command. */
  replication_state?: string;
  /** Replica only: true when this node is the `sync` key's standby (synchronous mode). */
  sync_standby?: boolean;
  /** Replica only: true when this node is a voter in the `sync` key (quorum commit). */
  quorum_standby?: boolean;
  /** DCS failsafe mode is active: this primary runs on its members' acceptance, or this replica was pinged within ttl. */
  failsafe_mode_is_active?: boolean;
  patroni: { version: string; scope: string; name: string };
}

/** A switchover/failover request as POST /switchover and /failover carry it. */
export interface FailoverRequest {
  /** Current leader (required for switchover, must match). */
  leader?: string;
  /** Member to promote (required for failover). */
  candidate?: string;
  /** ISO 8601 time for a scheduled switchover. */
  scheduled_at?: string;
}

/** Result of a request: the HTTP status Patroni would answer and its message. */
export interface FailoverOutcome {
  status: 200 | 202 | 400 | 412 | 503;
  message: string;
}

/** Status and body of a write request (a string is sent as text, anything else as JSON). */
export interface WriteOutcome {
  status: number;
  body: unknown;
}

export interface AgentView {
  readonly name: string;
  readonly scope: string;
  readonly namespace: string;
  /** True while this agent holds the leader key. */
  isLeader(): boolean;
  /** Date.now() when the HA loop last completed a cycle (for /liveness). */
  lastCycleAt(): number;
  /** Maintenance mode (`pause`) at the last cycle; /liveness answers 200 while paused. */
  isPaused?(): boolean;
  /** Current `ttl` in seconds. */
  ttlSeconds(): number;
  /** Live status of this node (queries PostgreSQL, bounded to ~2 s). */
  status(): Promise<NodeStatus>;
  /** The cluster as etcd has it now. */
  cluster(): Promise<DcsSnapshot>;
  /** Validates and carries out (or schedules) a switchover/failover; `kind` says which endpoint asked. */
  requestFailover(kind: 'switchover' | 'failover', req: FailoverRequest): Promise<FailoverOutcome>;
  /**
   * The REST API's other write requests (PATCH/PUT /config, POST /reload, /restart, /reinitialize,
   * DELETE /switchover). Optional: a view without one answers 501 for that request.
   */
  patchConfig?(patch: Record<string, unknown>, replace?: boolean): Promise<WriteOutcome>;
  reload?(): Promise<WriteOutcome>;
  restart?(req: Record<string, unknown>): Promise<WriteOutcome>;
  /** `fromLeader` (Patroni's `from_leader`): clone from the leader even when a `clonefrom` member runs. */
  reinitialize?(req: { force: boolean; fromLeader?: boolean }): Promise<WriteOutcome>;
  cancelSwitchover?(): Promise<WriteOutcome>;
  cancelRestart?(): Promise<WriteOutcome>;
  /** GET /failsafe: the `failsafe` key (`{member: api_url}`) while failsafe mode is on; undefined answers 502. */
  failsafeTopology?(): Record<string, string> | undefined;
  /** POST /failsafe: a leader asks this member to accept it; the status, text and headers to answer. */
  acceptFailsafe?(body: unknown): { status: number; text: string; headers: Record<string, string> };
}
