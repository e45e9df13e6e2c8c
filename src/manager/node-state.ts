/**
 * What this node is, from the agent's point of view, as a discriminated union: each state carries
 * only its own data (a replica knows what it streams from; nothing else does). Every change goes
 * through {@link NodeStateMachine.moveTo}, whose transition rule ({@link transition}, pure) says
 * which `postgresql.callbacks` fire — Patroni's on_start / on_stop / on_role_change — and refuses
 * an impossible move with an `INTERNAL_STATE` error instead of carrying on in a state that
 * cannot be.
 *
 * Kept apart on purpose: whether the leader key is held (a DCS fact, see the agent) and whether
 * the data directory needs pg_rewind before it can follow (a fact about the files).
 */
import { FailoverError } from '../errors';
import type { CallbackAction } from './callbacks';

/** The agent's role words (the public `Agent.role`). */
export type AgentRole = 'uninitialized' | 'primary' | 'replica' | 'standby_leader' | 'demoted' | 'stopped';

/** `following` while a nostream replica recovers from the archive (no member name can be empty). */
export const ARCHIVE_SOURCE = '';

/** The node's state. */
export type NodeState =
  /** Before bootstrap has started PostgreSQL in a role. */
  | { role: 'uninitialized' }
  /** Running (or restarting) as the writable primary. */
  | { role: 'primary' }
  /**
   * Running as a standby. `following`: the member whose WAL the standby configuration names, or
   * {@link ARCHIVE_SOURCE} (nostream), or undefined while nothing was configured by this agent
   * (an existing data directory started as it was, or read-only with no leader).
   */
  | { role: 'replica'; following: string | undefined }
  /**
   * Leads a standby cluster: holds the leader key, runs as a standby of the remote (or the
   * archive) and never promotes while `standby_cluster` is configured. `source`: the settings it
   * replicates with (standby-cluster.ts `standbySignature`).
   */
  | { role: 'standby_leader'; source: string }
  /** Was the primary, stopped being writable (lost the key, fenced, switched over); must rejoin. */
  | { role: 'demoted' }
  /** The agent stopped PostgreSQL on its way out. */
  | { role: 'stopped' };

/** The role last announced to the callbacks: only primary, replica and standby_leader are announced. */
export type AnnouncedRole = 'primary' | 'replica' | 'standby_leader' | undefined;

/** One callback to fire: the action and the agent role it is about. */
export interface CallbackCall {
  action: CallbackAction;
  /** `demoted` only for a primary that failed to start again after a crash ({@link NodeStateMachine.failedToStart}). */
  role: 'primary' | 'replica' | 'standby_leader' | 'demoted';
}

/** The outcome of a transition: callbacks to fire, in order, and the role now announced. */
export interface TransitionResult {
  callbacks: CallbackCall[];
  announced: AnnouncedRole;
}

/**
 * The transition rule (pure). Same role → nothing. Into primary/replica: `on_start` the first
 * time, `on_role_change` when the announced role changes, `on_start` again when coming back
 * from demoted/stopped in the same role. From primary/replica into demoted/stopped: `on_stop`
 * with the role left. Throws `INTERNAL_STATE` for a move no code path may make: back to
 * uninitialized, or into demoted from anything but a primary or standby leader (or stopped,
 * when the agent's stop overtook a running action).
 */
export function transition(from: AgentRole, to: AgentRole, announced: AnnouncedRole): TransitionResult {
  if (from === to) return { callbacks: [], announced };
  if (to === 'uninitialized') throw illegal(from, to);
  if (to === 'demoted' && from !== 'primary' && from !== 'standby_leader' && from !== 'stopped') throw illegal(from, to);
  if (to === 'primary' || to === 'replica' || to === 'standby_leader') {
    let action: CallbackAction | undefined;
    if (announced === undefined) action = 'on_start';
    else if (announced !== to) action = 'on_role_change';
    else if (from === 'demoted' || from === 'stopped') action = 'on_start';
    return { callbacks: action ? [{ action, role: to }] : [], announced: to };
  }
  if (from === 'primary' || from === 'replica' || from === 'standby_leader') return { callbacks: [{ action: 'on_stop', role: from }], announced };
  return { callbacks: [], announced };
}

function illegal(from: AgentRole, to: AgentRole): FailoverError {
  return new FailoverError('INTERNAL_STATE', `node state: no transition from ${from} to ${to}`, { detail: { from, to } });
}

/** Holds the node's state and fires the callbacks its transitions call for. */
export class NodeStateMachine {
  #state: NodeState = { role: 'uninitialized' };
  #announced: AnnouncedRole;
  readonly #fire: (call: CallbackCall) => void;

  /** `fire` runs one callback (the agent maps the role to its Patroni word). */
  constructor(fire: (call: CallbackCall) => void) {
    this.#fire = fire;
  }

  /** The current state (read-only: change it with {@link moveTo}). */
  get state(): Readonly<NodeState> {
    return this.#state;
  }

  /** The current role. */
  get role(): AgentRole {
    return this.#state.role;
  }

  /** What the replica streams from; undefined in any other state. */
  get following(): string | undefined {
    return this.#state.role === 'replica' ? this.#state.following : undefined;
  }

  /** Moves to `next`, firing the callbacks {@link transition} names; throws `INTERNAL_STATE` on an impossible move. */
  moveTo(next: NodeState): void {
    const result = transition(this.#state.role, next.role, this.#announced);
    this.#state = next;
    this.#announced = result.announced;
    for (const call of result.callbacks) this.#fire(call);
  }

  /**
   * A crashed primary could not be started again: it becomes demoted and announces it with
   * `on_role_change demoted` (Patroni's post_recover), not `on_stop`: it was not running.
   * The announced role stays, so rejoining as a replica later fires `on_role_change replica`.
   * Throws `INTERNAL_STATE` unless a primary.
   */
  failedToStart(): void {
    if (this.#state.role !== 'primary') throw illegal(this.#state.role, 'demoted');
    this.#state = { role: 'demoted' };
    this.#fire({ action: 'on_role_change', role: 'demoted' });
  }

  /** A replica now streams from `source` (same role: no callback). Throws `INTERNAL_STATE` unless a replica. */
  follow(source: string | undefined): void {
    if (this.#state.role !== 'replica') throw new FailoverError('INTERNAL_STATE', `node state: cannot follow ${source ?? 'nothing'} as ${this.#state.role}`);
    this.#state = { role: 'replica', following: source };
  }
}
