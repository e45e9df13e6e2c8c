/**
 * Whether a switchover or failover request (POST /switchover, /failover) can be carried out
 * against the cluster as one snapshot shows it: Patroni's checks and answers (status and text),
 * pure, so the agent only reads the snapshot, writes the `failover` key and waits.
 */
import type { DcsSnapshot, FailoverOutcome, FailoverRequest } from './agent-view';
import { isQuorumCommitMode } from './dynamic-config';
import { syncStandbyList } from './sync';
import { tagNoFailover } from './tags';

/** What {@link checkFailoverRequest} needs beyond the request and the snapshot. */
export interface FailoverCheckContext {
  scope: string;
  synchronousMode: boolean;
  now: number;
}

/** The refusal Patroni would answer before reading the cluster (a request missing what its kind needs), or undefined. */
export function checkRequestShape(kind: 'switchover' | 'failover', req: FailoverRequest): FailoverOutcome | undefined {
  if (kind === 'failover' && !req.candidate) return { status: 400, message: 'Failover could be performed only to a specific candidate' };
  if (kind === 'switchover' && !req.leader) return { status: 400, message: 'Switchover could be performed only from a specific leader' };
  return undefined;
}

/** The refusal Patroni would answer for this request against `snap`, or undefined when it may go ahead. */
export function checkFailoverRequest(kind: 'switchover' | 'failover', req: FailoverRequest, snap: DcsSnapshot, ctx: FailoverCheckContext): FailoverOutcome | undefined {
  if (kind === 'switchover' && !snap.leader) return { status: 412, message: 'Switchover is not possible: cluster does not have a leader' };
  if (req.leader && req.leader !== snap.leader) return { status: 412, message: `leader name does not match` };
  if (req.candidate) {
    const cand = snap.members.find((m) => m.name === req.candidate);
    if (!cand) return { status: 412, message: 'candidate does not exists' };
    if (req.candidate === snap.leader) return { status: 412, message: `Member ${req.candidate} is already the leader of cluster ${ctx.scope}` };
    // Patroni's words: a candidate that may not promote is no good candidate
    if (tagNoFailover(cand.data.tags)) return { status: 412, message: `${kind} is not possible: no good candidates have been found` };
    // quorum commit: any candidate (it must gather the votes when it races)
    if (kind === 'switchover' && ctx.synchronousMode && !isQuorumCommitMode(snap.config) && snap.sync?.leader && !syncStandbyList(snap.sync.sync_standby).includes(req.candidate)) {
      return { status: 412, message: 'candidate name does not match with sync_standby' };
    }
  } else {
    if (kind === 'switchover' && !snap.members.some((m) => m.name !== snap.leader)) return { status: 412, message: 'switchover is not possible: cluster does not have members except leader' };
    const eligible = snap.members.filter((m) => m.name !== snap.leader && !tagNoFailover(m.data.tags) && m.data.state === 'running');
    if (!eligible.length) return { status: 412, message: 'Switchover is not possible: no good candidates have been found' };
  }
  if (req.scheduled_at !== undefined) {
    const at = Date.parse(req.scheduled_at);
    if (Number.isNaN(at)) return { status: 400, message: 'Unable to parse scheduled timestamp. It should be in ISO 8601 format' };
    if (at < ctx.now) return { status: 400, message: 'Cannot schedule switchover in the past' };
  }
  return undefined;
}

/**
 * While a request is carried out: its answer once the cluster shows one, as Patroni's
 * `poll_failover_result` gives it, or undefined to keep polling. `before` is the snapshot the
 * request was checked against, `now` a later one.
 *
 * - a new leader: 200, "Successfully switched over to …", or "… instead of <candidate>";
 * - the `failover` key gone while the old leader still leads: the leader refused or dropped the
 *   request — 503 "Switchover failed" at once (it used to wait out the whole bound, 30 s, and
 *   time out). Patroni says "failed" as soon as the key is gone; a moment with no leader and no
 *   key (the switchover half done) is not taken for a refusal here.
 */
export function failoverProgress(kind: 'switchover' | 'failover', req: FailoverRequest, before: DcsSnapshot, now: DcsSnapshot): FailoverOutcome | undefined {
  const action = kind === 'switchover' ? 'switch' : 'fail';
  const Action = kind === 'switchover' ? 'Switch' : 'Fail';
  if (now.leader && now.leader !== before.leader) {
    if (!req.candidate || req.candidate === now.leader) return { status: 200, message: `Successfully ${action}ed over to "${now.leader}"` };
    return { status: 200, message: `${Action}ed over to "${now.leader}" instead of "${req.candidate}"` };
  }
  if (now.leader !== undefined && now.leader === before.leader && !now.failover) return { status: 503, message: `${Action}over failed` };
  return undefined;
}
