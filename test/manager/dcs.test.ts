/**
 * The Dcs against a real etcd: the leader lock is a create_revision
 * transaction, renewal and release are conditioned on our name, keys ride on
 * the member's lease and vanish after ttl when the manager dies, and an
 * unreachable etcd gives DCS_ERROR (not a hang).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { Dcs } from '../../src/manager/dcs';
import { freePort } from '../../src/local/ports';
import { isFailoverError } from '../../src/errors';
import { Harness } from './harness';

describe('Dcs over etcd (Patroni layout)', () => {
  const h = new Harness({ scope: 'dcs' });
  const open: Dcs[] = [];
  const dcs = (name: string, ttlSeconds = 2) => {
    const d = new Dcs({ hosts: h.etcd.endpoints, scope: h.scope, name, ttlSeconds, callTimeoutMillis: 1000 });
    open.push(d);
    return d;
  };

  beforeAll(() => h.startEtcd(), 60_000);
  afterAll(async () => {
    for (const d of open) await d.close({ release: true }).catch(() => {});
    await h.close();
  }, 60_000);

  it('grants one leader at a time and only its owner renews or releases it', async () => {
    const a = dcs('a');
    const b = dcs('b');
    expect(await a.keepalive()).toBe(true);
    expect(await b.keepalive()).toBe(true);
    expect(await a.attemptToAcquireLeader()).toBe(true);
    expect(await b.attemptToAcquireLeader()).toBe(false);
    expect(await b.updateLeader()).toBe(false);
    expect(await b.releaseLeader()).toBe(false);
    expect(await h.leader()).toBe('a');
    expect(await a.updateLeader()).toBe(true);
    const kv = await h.kv.get(`${h.prefix}leader`).exec();
    expect(kv.kvs[0]!.lease).toBe(a.leaseId);
    expect(await a.releaseLeader()).toBe(true);
    expect(await h.leader()).toBeUndefined();
    expect(await b.attemptToAcquireLeader()).toBe(true);
    expect((await b.snapshot()).leader).toBe('b');
    await b.releaseLeader();
  });

  it('keeping the leader key renews its lease first: a key on a lease about to expire survives the renewal (it vanished 0.5 s later before)', async () => {
    const l = dcs('renewer', 3);
    expect(await l.keepalive()).toBe(true);
    expect(await l.attemptToAcquireLeader()).toBe(true);
    await sleep(2500); // no keepalive meanwhile (etcd cut off, say): the lease has ~0.5 s left
    expect(await l.updateLeader()).toBe(true);
    await sleep(1500); // past the old lease's end
    expect(await h.leader()).toBe('renewer');
    await l.releaseLeader();
  });

  it('etcd not answering that renewal: updateLeader fails with DCS_ERROR (the unreachable-DCS path: failsafe, fence), never "key lost" (a demotion)', async () => {
    const l = dcs('frozen-renewal', 5);
    expect(await l.keepalive()).toBe(true);
    expect(await l.attemptToAcquireLeader()).toBe(true);
    h.etcd.kill(0, 'SIGSTOP');
    let outcome: unknown;
    try {
      outcome = await l.updateLeader().catch((e: unknown) => e);
    } finally {
      h.etcd.kill(0, 'SIGCONT');
    }
    expect(isFailoverError(outcome) && outcome.code).toBe('DCS_ERROR');
    await h.until('etcd answers again', async () => (await l.keepalive()) === true, 10_000);
    expect(await l.updateLeader()).toBe(true);
    await l.releaseLeader();
  });

  it('lets exactly one of many racers win /initialize', async () => {
    const racers = ['r1', 'r2', 'r3', 'r4'].map((n) => dcs(n));
    const wins = await Promise.all(racers.map((r) => r.raceInitialize('')));
    expect(wins.filter(Boolean)).toHaveLength(1);
    const winner = racers[wins.indexOf(true)]!;
    expect(await winner.setInitialize('7000000000000000001')).toBe(true);
    expect(await winner.setInitialize('7000000000000000002')).toBe(false);
    expect((await winner.snapshot()).initialize).toBe('7000000000000000001');
  });

  it('publishes members on the lease: a dead manager’s keys expire after ttl, a released one’s at once', async () => {
    const dead = dcs('dead', 2);
    const clean = dcs('clean', 2);
    for (const d of [dead, clean]) {
      await d.keepalive();
      await d.touchMember({ conn_url: 'postgres://127.0.0.1:1/postgres', state: 'running', role: 'replica' });
    }
    expect(await dead.attemptToAcquireLeader()).toBe(true);
    const snap = await clean.snapshot();
    expect(snap.members.map((m) => m.name)).toEqual(expect.arrayContaining(['dead', 'clean']));
    expect(snap.members.find((m) => m.name === 'dead')!.data).toEqual({ conn_url: 'postgres://127.0.0.1:1/postgres', state: 'running', role: 'replica' });
    await clean.close({ release: true });
    expect((await h.keys())['members/clean']).toBeUndefined();
    const t0 = Date.now();
    await dead.close({ release: false });
    expect(await h.leader()).toBe('dead');
    await h.until('leader key expired', async () => (await h.leader()) === undefined, 10_000);
    const gone = Date.now() - t0;
    expect(gone).toBeGreaterThan(500);
    expect(gone).toBeLessThan(4000);
    expect((await h.keys())['members/dead']).toBeUndefined();
  });

  it('wakes a watcher on changes under the prefix', async () => {
    const w = dcs('watcher');
    const seen: string[] = [];
    await w.watch((key, kind) => seen.push(`${kind} ${key}`));
    const x = dcs('x');
    await x.keepalive();
    expect(await x.setFailover({ leader: 'x', member: 'y' }, (await x.snapshot()).revisions.failover)).toBe(true);
    await h.until('watch event', () => seen.includes('put failover'), 5000);
    expect((await w.snapshot()).failover).toEqual({ leader: 'x', member: 'y' });
    expect(await x.clearFailover((await x.snapshot()).revisions.failover)).toBe(true);
    await h.until('watch event', () => seen.filter((s) => s === 'put failover').length === 2, 5000);
    expect((await w.snapshot()).failover).toBeUndefined(); // `{}` means no request
  });

  it('fails fast with DCS_ERROR when etcd is unreachable, and keepalive reports false', async () => {
    const port = await freePort();
    const d = new Dcs({ hosts: [`127.0.0.1:${port}`], scope: 'x', name: 'n', ttlSeconds: 5, callTimeoutMillis: 500 });
    open.push(d);
    const t0 = Date.now();
    expect(await d.keepalive()).toBe(false);
    const err = await d.snapshot().catch((e: unknown) => e);
    expect(isFailoverError(err) && err.code).toBe('DCS_ERROR');
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(d.lastKeepaliveOkAt).toBe(0);
    await sleep(10);
  });

  it('answers again within ~1 s (bound 2.5 s) after a frozen etcd thaws (regression: etcd3’s default breaker refused every call for 5 s)', async () => {
    const d = dcs('thaw', 5);
    expect(await d.keepalive()).toBe(true);
    h.etcd.kill(0, 'SIGSTOP');
    let failures = 0;
    try {
      const frozenUntil = Date.now() + 3000;
      while (Date.now() < frozenUntil) {
        // What the HA loop does while etcd hangs: calls that time out, one after another.
        if (!(await d.snapshot().then(() => true, () => false))) failures++;
        await sleep(100);
      }
    } finally {
      h.etcd.kill(0, 'SIGCONT');
    }
    expect(failures).toBeGreaterThanOrEqual(3); // enough to trip a 3-failure breaker
    const thawedAt = Date.now();
    let answeredAfter: number | undefined;
    while (Date.now() - thawedAt < 8000) {
      if (await d.snapshot().then(() => true, () => false)) {
        answeredAfter = Date.now() - thawedAt;
        break;
      }
      await sleep(50);
    }
    console.log(`etcd frozen 3 s (${failures} failed calls): first answer ${answeredAfter} ms after SIGCONT`);
    expect(answeredAfter).toBeDefined();
    expect(answeredAfter!).toBeLessThan(2500); // 1 s breaker + a call; etcd3’s default breaker: up to 5 s (4.3 s measured)
  }, 30_000);
});
