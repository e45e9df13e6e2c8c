/**
 * POST /switchover and /failover checks (src/manager/failover-request.ts), pure: Patroni's
 * status and answer for each refusal, from hand-built snapshots on a fixed clock.
 */
import { describe, expect, it } from 'vitest';
import type { DcsSnapshot, MemberData } from '../../src/manager/agent-view';
import { checkFailoverRequest, checkRequestShape, failoverProgress } from '../../src/manager/failover-request';

const NOW = Date.parse('2026-12-01T12:00:00Z');
const ctx = { scope: 'demo', synchronousMode: false, now: NOW };

function m(name: string, data: Partial<MemberData> = {}) {
  return { name, data: { state: 'running', conn_url: 'postgres://127.0.0.1:5432/postgres', ...data } };
}

function snap(over: Partial<DcsSnapshot> = {}): DcsSnapshot {
  return {
    leader: 'n0', members: [m('n0'), m('n1'), m('n2')], config: {}, initialize: '1', sync: undefined, failover: undefined,
    history: [], status: undefined, revision: '1', revisions: { config: '1', failover: '0', sync: '0', history: '0', initialize: '1' }, ...over,
  };
}

describe('switchover/failover request checks', () => {
  it('a failover needs a candidate, a switchover a leader', () => {
    expect(checkRequestShape('failover', {})).toEqual({ status: 400, message: 'Failover could be performed only to a specific candidate' });
    expect(checkRequestShape('switchover', { candidate: 'n1' })).toEqual({ status: 400, message: 'Switchover could be performed only from a specific leader' });
    expect(checkRequestShape('switchover', { leader: 'n0' })).toBeUndefined();
  });

  it('a valid switchover and a valid failover go ahead', () => {
    expect(checkFailoverRequest('switchover', { leader: 'n0', candidate: 'n1' }, snap(), ctx)).toBeUndefined();
    expect(checkFailoverRequest('switchover', { leader: 'n0' }, snap(), ctx)).toBeUndefined();
    expect(checkFailoverRequest('failover', { candidate: 'n2' }, snap({ leader: undefined }), ctx)).toBeUndefined();
  });

  it('refuses with 412 what the cluster makes impossible', () => {
    expect(checkFailoverRequest('switchover', { leader: 'n0' }, snap({ leader: undefined }), ctx)?.message).toBe('Switchover is not possible: cluster does not have a leader');
    expect(checkFailoverRequest('switchover', { leader: 'n1' }, snap(), ctx)?.message).toBe('leader name does not match');
    expect(checkFailoverRequest('switchover', { leader: 'n0', candidate: 'n9' }, snap(), ctx)?.message).toBe('candidate does not exists');
    expect(checkFailoverRequest('failover', { candidate: 'n0' }, snap(), ctx)?.message).toBe('Member n0 is already the leader of cluster demo');
    expect(checkFailoverRequest('failover', { candidate: 'n1' }, snap({ members: [m('n0'), m('n1', { tags: { nofailover: true } })] }), ctx)?.message).toBe('failover is not possible: no good candidates have been found');
    expect(checkFailoverRequest('switchover', { leader: 'n0' }, snap({ members: [m('n0')] }), ctx)?.message).toBe('switchover is not possible: cluster does not have members except leader');
    expect(checkFailoverRequest('switchover', { leader: 'n0' }, snap({ members: [m('n0'), m('n1', { state: 'stopped' })] }), ctx)?.message).toBe('Switchover is not possible: no good candidates have been found');
    for (const r of [checkFailoverRequest('switchover', { leader: 'n1' }, snap(), ctx)]) expect(r?.status).toBe(412);
  });

  it('synchronous mode: only the sync standby may be the candidate', () => {
    const s = snap({ sync: { leader: 'n0', sync_standby: 'n2' } });
    const sync = { ...ctx, synchronousMode: true };
    expect(checkFailoverRequest('switchover', { leader: 'n0', candidate: 'n1' }, s, sync)).toEqual({ status: 412, message: 'candidate name does not match with sync_standby' });
    expect(checkFailoverRequest('switchover', { leader: 'n0', candidate: 'n2' }, s, sync)).toBeUndefined();
    expect(checkFailoverRequest('switchover', { leader: 'n0', candidate: 'n1' }, s, ctx)).toBeUndefined();
  });

  it('a scheduled time must parse and lie in the future', () => {
    expect(checkFailoverRequest('switchover', { leader: 'n0', scheduled_at: 'tomorrow' }, snap(), ctx)).toEqual({ status: 400, message: 'Unable to parse scheduled timestamp. It should be in ISO 8601 format' });
    expect(checkFailoverRequest('switchover', { leader: 'n0', scheduled_at: new Date(NOW - 1).toISOString() }, snap(), ctx)).toEqual({ status: 400, message: 'Cannot schedule switchover in the past' });
    expect(checkFailoverRequest('switchover', { leader: 'n0', scheduled_at: new Date(NOW + 60_000).toISOString() }, snap(), ctx)).toBeUndefined();
  });

  it("while carried out: Patroni's answers — a new leader (the candidate or not), a refusal as soon as the key is gone, nothing yet mid-way", () => {
    const before = snap({ failover: { leader: 'n0', member: 'n1' } });
    const req = { leader: 'n0', candidate: 'n1' };
    expect(failoverProgress('switchover', req, before, before)).toBeUndefined(); // still pending
    expect(failoverProgress('switchover', req, before, snap({ leader: undefined, failover: undefined }))).toBeUndefined(); // half done: no leader yet
    expect(failoverProgress('switchover', req, before, snap({ leader: 'n1' }))).toEqual({ status: 200, message: 'Successfully switched over to "n1"' });
    expect(failoverProgress('failover', { candidate: 'n1' }, before, snap({ leader: 'n2' }))).toEqual({ status: 200, message: 'Failed over to "n2" instead of "n1"' });
    // the leader refused (or dropped) the request: the key is gone, the leader unchanged — answered at once
    expect(failoverProgress('failover', { candidate: 'n1' }, before, snap({ failover: undefined }))).toEqual({ status: 503, message: 'Failover failed' });
    expect(failoverProgress('switchover', req, before, snap({ failover: undefined }))).toEqual({ status: 503, message: 'Switchover failed' });
  });
});
