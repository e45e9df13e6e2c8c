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
