/**
 * The HA cycle's decision (src/manager/decide.ts), pure: one test per branch, on a fake clock,
 * from hand-built DCS snapshots — no servers. The same branches run against real PostgreSQL
 * and etcd in failover/switchover/fencing/synchronous/recovery/cascading.test.ts.
 */
import { describe, expect, it } from 'vitest';
import type { DcsSnapshot, MemberData } from '../../src/manager/agent-view';
import { decide, decideAsLeader, planLeaderDuties, type CycleInput } from '../../src/manager/decide';

const NOW = Date.parse('2026-12-01T12:00:00Z');
const TTL = 30;

function member(name: string, extra: Partial<MemberData> = {}): { name: string; data: MemberData } {
  return { name, data: { conn_url: `postgres://127.0.0.1:${5430 + name.length}/postgres`, state: 'running', role: 'replica', ...extra } };
}

function snapshot(over: Partial<DcsSnapshot> = {}): DcsSnapshot {
  return {
    leader: undefined,
    members: [member('n0', { role: 'primary' }), member('n1'), member('n2')],
    config: {},
    initialize: '7300000000000000000',
    sync: undefined,
    failover: undefined,
    history: [],
    status: undefined,
    revision: '10',
    revisions: { config: '1', failover: '0', sync: '0', history: '0', initialize: '1' },
    ...over,
  };
}

function input(over: Partial<CycleInput> = {}): CycleInput {
  return {
    me: 'n1',
    snapshot: snapshot(),
    node: { role: 'replica', following: 'n0' },
    needsRewind: false,
    local: 'replica',
    postgresRunning: true,
    settings: { ttlSeconds: TTL, synchronousMode: false },
    tags: { nofailover: false, nostream: false },
    now: NOW,
    noLeaderSince: undefined,
    ...over,
  };
}

describe('decide: this node holds the leader key', () => {
  it('renews the key (compare-and-set), whatever PostgreSQL is doing, and keeps the no-leader clock as it was', () => {
    for (const local of ['primary', 'replica', undefined] as const) {
      const d = decide(input({ me: 'n0', snapshot: snapshot({ leader: 'n0' }), node: { role: 'primary' }, local, noLeaderSince: NOW - 5 }));
      expect(d).toEqual({ action: { kind: 'keep-leader-key' }, noLeaderSince: NOW - 5 });
    }
  });
});

describe('decide: another member holds the leader key', () => {
  const led = snapshot({ leader: 'n0' });

  it('a primary here demotes itself at once', () => {
    const d = decide(input({ snapshot: led, node: { role: 'primary' }, local: 'primary', noLeaderSince: NOW - 1000 }));
    expect(d.action).toEqual({ kind: 'demote', reason: 'n0 holds the leader key', line: 'demoted self because n0 is the leader' });
    expect(d.noLeaderSince).toBeUndefined();
  });

  it('waits while the leader has no usable member key yet', () => {
    const snap = snapshot({ leader: 'n0', members: [member('n0', { conn_url: undefined }), member('n1')] });
    expect(decide(input({ snapshot: snap })).action).toEqual({ kind: 'idle', line: 'following n0: its member key is not there yet' });
  });

  it('paused, PostgreSQL stopped behind our back: stays stopped (Patroni starts nothing while paused)', () => {
    const d = decide(input({ snapshot: snapshot({ leader: 'n0', config: { pause: true } }), postgresRunning: false, local: undefined }));
    expect(d.action.kind).toBe('stay-stopped');
  });

  it('PostgreSQL stopped here: rejoins the leader', () => {
    const d = decide(input({ snapshot: led, postgresRunning: false, local: undefined }));
    expect(d.action).toMatchObject({ kind: 'rejoin', leader: 'n0', to: { name: 'n0' } });
  });

  it('a demoted old primary rejoins (with pg_rewind) even while its PostgreSQL runs; so does a diverged replica', () => {
    expect(decide(input({ snapshot: led, node: { role: 'demoted' } })).action.kind).toBe('rejoin');
    expect(decide(input({ snapshot: led, needsRewind: true })).action.kind).toBe('rejoin');
  });

  it('a running replica that streams from the leader does nothing', () => {
    expect(decide(input({ snapshot: led })).action).toEqual({
      kind: 'follow', leader: 'n0', to: { name: 'n0', data: led.members[0]!.data }, source: 'n0', repoint: false,
      line: 'no action. I am a secondary and I am following a leader n0',
    });
  });

  it('a running replica that streams from elsewhere (or from nothing yet) is re-pointed to the leader', () => {
    for (const following of ['n2', undefined]) {
      const d = decide(input({ snapshot: led, node: { role: 'replica', following } }));
      expect(d.action).toMatchObject({ kind: 'follow', source: 'n0', repoint: true, line: 'changed primary_conninfo to n0' });
    }
  });

  it('replicatefrom: streams from the named running member instead of the leader', () => {
    const d = decide(input({ snapshot: led, tags: { nofailover: false, nostream: false, replicatefrom: 'n2' }, node: { role: 'replica', following: 'n2' } }));
    expect(d.action).toMatchObject({ kind: 'follow', source: 'n2', repoint: false, line: 'no action. I am a secondary and I am following n2, a replica of leader n0 (replicatefrom)' });
  });

  it('nostream: recovers from the archive only', () => {
    const d = decide(input({ snapshot: led, tags: { nofailover: false, nostream: true } }));
    expect(d.action).toMatchObject({ kind: 'follow', to: 'archive', source: '', repoint: true, line: 'changed primary_conninfo to none (nostream)' });
  });
});

describe('decide: no leader key', () => {
  it('a running primary tries to take the key back (or steps down)', () => {
    const d = decide(input({ node: { role: 'primary' }, local: 'primary' }));
    expect(d).toEqual({ action: { kind: 'reacquire-or-demote' }, noLeaderSince: undefined });
  });

  it('paused: takes no part in an election, and the no-leader clock does not start', () => {
    const d = decide(input({ snapshot: snapshot({ config: { pause: true } }) }));
    expect(d).toEqual({ action: { kind: 'idle', line: 'PAUSE: no leader, not taking part in an election (cluster paused)' }, noLeaderSince: undefined });
  });

  it('paused, but a manual failover names a candidate: the election goes on', () => {
    const d = decide(input({ snapshot: snapshot({ config: { pause: true }, failover: { member: 'n1' } }) }));
    expect(d.action).toEqual({ kind: 'election', named: true });
  });

  it('the first leaderless cycle starts the no-leader clock; later cycles keep it', () => {
    expect(decide(input()).noLeaderSince).toBe(NOW);
    expect(decide(input({ noLeaderSince: NOW - 7 })).noLeaderSince).toBe(NOW - 7);
  });

  it('PostgreSQL stopped and nobody has led for more than a whole ttl: starts read-only to take part', () => {
    const base = { local: undefined, postgresRunning: false } as const;
    for (const node of [{ role: 'demoted' as const }, { role: 'replica' as const, following: undefined }]) {
      expect(decide(input({ ...base, node, noLeaderSince: NOW - TTL * 1000 - 1 })).action).toEqual({ kind: 'start-read-only' });
      // exactly a ttl: not yet
      expect(decide(input({ ...base, node, noLeaderSince: NOW - TTL * 1000 })).action).toEqual({ kind: 'idle', line: 'no leader, and PostgreSQL is not running as a replica here' });
    }
    // a node that was never started here does not start read-only on its own
    expect(decide(input({ ...base, node: { role: 'uninitialized' }, noLeaderSince: NOW - 10 * TTL * 1000 })).action.kind).toBe('idle');
  });

  it('PostgreSQL runs but does not answer as a replica: no election', () => {
    expect(decide(input({ local: undefined })).action).toEqual({ kind: 'idle', line: 'no leader, and PostgreSQL is not running as a replica here' });
    expect(decide(input({ local: 'primary' })).action).toEqual({ kind: 'idle', line: 'no leader, and PostgreSQL is not running as a replica here' });
  });

  it('a healthy replica takes part in the election (the health check against the others is the executor\'s I/O)', () => {
    expect(decide(input()).action).toEqual({ kind: 'election', named: false });
  });

  it('the candidate named in the failover key races at once, unless tagged nofailover', () => {
    const snap = snapshot({ failover: { leader: 'n0', member: 'n1' } });
    expect(decide(input({ snapshot: snap })).action).toEqual({ kind: 'election', named: true });
    expect(decide(input({ snapshot: snap, tags: { nofailover: true, nostream: false } })).action).toEqual({ kind: 'election', named: false });
    expect(decide(input({ snapshot: snapshot({ failover: { member: 'n2' } }) })).action).toEqual({ kind: 'election', named: false });
  });

  it('synchronous mode: only the sync leader and its standby may race', () => {
    const sync = { leader: 'n0', sync_standby: 'n2' };
    const settings = { ttlSeconds: TTL, synchronousMode: true };
    expect(decide(input({ settings, snapshot: snapshot({ sync }) })).action).toEqual({ kind: 'idle', line: 'no leader: not racing (synchronous mode: only n2 may be promoted)' });
    expect(decide(input({ settings, me: 'n2', snapshot: snapshot({ sync }) })).action).toEqual({ kind: 'election', named: false });
    // nothing recorded yet: no guarantee to keep, anyone may race
    expect(decide(input({ settings })).action).toEqual({ kind: 'election', named: false });
  });
});

describe('decideAsLeader: the key is confirmed ours', () => {
  const base = { keyKept: true, me: 'n0', snapshot: snapshot({ leader: 'n0' }), postgresRunning: true, now: NOW };

  it('the compare-and-set lost the key: a primary here demotes at once; anything else just says so', () => {
    expect(decideAsLeader({ ...base, keyKept: false, node: { role: 'primary' }, local: 'primary' })).toEqual({ kind: 'lost-key', demote: true, line: 'lost the leader key' });
    expect(decideAsLeader({ ...base, keyKept: false, node: { role: 'replica', following: undefined }, local: 'replica' })).toEqual({ kind: 'lost-key', demote: false, line: 'lost the leader key' });
  });

  it('holding the key without a running primary here: promote (or start) PostgreSQL', () => {
    for (const [node, local] of [
      [{ role: 'replica', following: undefined }, 'replica'],
      [{ role: 'primary' }, 'replica'],
      [{ role: 'primary' }, undefined],
      [{ role: 'demoted' }, undefined],
    ] as const) {
      expect(decideAsLeader({ ...base, node, local })).toEqual({ kind: 'become-primary', reason: 'I had the leader key', line: 'promoted self to leader because I had the session lock' });
    }
  });

  it('PostgreSQL crashed under the primary: recover it, within primary_start_timeout (Patroni default 300 s)', () => {
    const crashed = { ...base, node: { role: 'primary' } as const, local: undefined, postgresRunning: false };
    expect(decideAsLeader(crashed)).toEqual({ kind: 'recover-crashed-primary', startTimeoutSeconds: 300 });
    const withConfig = (config: Record<string, unknown>) => decideAsLeader({ ...crashed, snapshot: snapshot({ leader: 'n0', config }) });
    expect(withConfig({ master_start_timeout: 0 })).toEqual({ kind: 'recover-crashed-primary', startTimeoutSeconds: 0 });
    expect(withConfig({ primary_start_timeout: 20, master_start_timeout: 0 })).toEqual({ kind: 'recover-crashed-primary', startTimeoutSeconds: 20 });
    // a key set to null (PATCH) is Patroni's default again, even beside the old name
    expect(withConfig({ primary_start_timeout: null, master_start_timeout: 0 })).toEqual({ kind: 'recover-crashed-primary', startTimeoutSeconds: 300 });
    // paused: no automatic recovery decision, the old start-in-place path
    expect(withConfig({ pause: true, master_start_timeout: 0 }).kind).toBe('become-primary');
    // a demoted node (fenced) that still holds the key starts as it was, as before
    expect(decideAsLeader({ ...crashed, node: { role: 'demoted' } }).kind).toBe('become-primary');
  });

  it('standby cluster: the key holder becomes (or stays) the standby leader of the remote, never a primary', () => {
    const standby = { host: 'remote', port: 5433, primarySlotName: 'pm_1' };
    const sig = JSON.stringify(standby);
    // a replica that holds the key, or a stopped node: become the standby leader
    for (const [node, local, running] of [
      [{ role: 'replica', following: undefined }, 'replica', true],
      [{ role: 'demoted' }, undefined, false],
    ] as const) {
      expect(decideAsLeader({ ...base, standby, node, local, postgresRunning: running })).toMatchObject({ kind: 'become-standby-leader', standby });
    }
    // the running standby leader with the same settings: the routine (and a switchover request, as a leader)
    expect(decideAsLeader({ ...base, standby, node: { role: 'standby_leader', source: sig }, local: 'replica' })).toEqual({ kind: 'leader-duties', clearStaleFailover: false });
    expect(decideAsLeader({ ...base, standby, snapshot: snapshot({ leader: 'n0', failover: { leader: 'n0', member: 'n1' } }), node: { role: 'standby_leader', source: sig }, local: 'replica' })).toEqual({ kind: 'switchover', member: 'n1' });
    // the settings changed (e.g. archive recovery only): re-point
    expect(decideAsLeader({ ...base, standby: { restoreCommand: 'cp' }, node: { role: 'standby_leader', source: sig }, local: 'replica' })).toMatchObject({ kind: 'become-standby-leader', line: expect.stringMatching(/standby_cluster changed/) });
    // demote cluster: the running primary is restarted as a standby leader
    expect(decideAsLeader({ ...base, standby, node: { role: 'primary' }, local: 'primary' })).toMatchObject({ kind: 'become-standby-leader', line: expect.stringMatching(/^demoting the primary/) });
    // standby_cluster removed: the standby leader promotes (the ordinary path)
    expect(decideAsLeader({ ...base, node: { role: 'standby_leader', source: sig }, local: 'replica' }).kind).toBe('become-primary');
  });

  it('a running primary with no request does its duties', () => {
    expect(decideAsLeader({ ...base, node: { role: 'primary' }, local: 'primary' })).toEqual({ kind: 'leader-duties', clearStaleFailover: false });
  });

  it('a stale failover request (another leader named, or us as the candidate) is cleared, then the duties', () => {
    expect(planLeaderDuties('n0', snapshot({ leader: 'n0', failover: { leader: 'n9', member: 'n1' } }), NOW)).toEqual({ kind: 'leader-duties', clearStaleFailover: true });
    expect(planLeaderDuties('n0', snapshot({ leader: 'n0', failover: { member: 'n0' } }), NOW)).toEqual({ kind: 'leader-duties', clearStaleFailover: true });
  });

  it('a switchover request that is due is carried out (to the named member, or to the best one)', () => {
    expect(planLeaderDuties('n0', snapshot({ failover: { leader: 'n0', member: 'n1' } }), NOW)).toEqual({ kind: 'switchover', member: 'n1' });
    expect(planLeaderDuties('n0', snapshot({ failover: { leader: 'n0' } }), NOW)).toEqual({ kind: 'switchover', member: undefined });
    const at = new Date(NOW).toISOString();
    expect(planLeaderDuties('n0', snapshot({ failover: { leader: 'n0', member: 'n1', scheduled_at: at } }), NOW)).toEqual({ kind: 'switchover', member: 'n1' });
  });

  it('a scheduled switchover not yet due waits, and says until when', () => {
    const at = new Date(NOW + 1).toISOString();
    expect(planLeaderDuties('n0', snapshot({ failover: { leader: 'n0', member: 'n1', scheduled_at: at } }), NOW)).toEqual({ kind: 'idle', line: `switchover scheduled at ${at}` });
  });
});
