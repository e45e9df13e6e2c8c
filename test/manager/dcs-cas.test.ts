/**
 * Every conditional write of the Dcs is a compare-and-set against a real etcd: a writer that
 * decided on an old snapshot loses to one that wrote since (regression: `failover`, `sync`,
 * `history` and `config` were plain puts, so a stale clearFailover erased a newer request).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Dcs } from '../../src/manager/dcs';
import { Harness } from './harness';

describe('Dcs compare-and-set writes (Patroni: mod_revision)', () => {
  const h = new Harness({ scope: 'cas' });
  const open: Dcs[] = [];
  const dcs = (name: string) => {
    const d = new Dcs({ hosts: h.etcd.endpoints, scope: h.scope, name, ttlSeconds: 5, callTimeoutMillis: 1000 });
    open.push(d);
    return d;
  };
  beforeAll(() => h.startEtcd(), 60_000);
  afterAll(async () => {
    for (const d of open) await d.close({ release: true }).catch(() => {});
    await h.close();
  }, 60_000);

  it('regression: a stale clearFailover no longer erases a newer switchover request', async () => {
    const leader = dcs('n0');
    const api = dcs('n1');
    expect(await api.setFailover({ leader: 'n0', member: 'n1' }, '0')).toBe(true);
    const stale = await leader.snapshot(); // the leader decides to clear this request …
    // … meanwhile a new request is written
    expect(await api.setFailover({ leader: 'n0', member: 'n2' }, (await api.snapshot()).revisions.failover)).toBe(true);
    expect(await leader.clearFailover(stale.revisions.failover)).toBe(false);
    expect((await leader.snapshot()).failover).toEqual({ leader: 'n0', member: 'n2' });
    expect(await leader.clearFailover((await leader.snapshot()).revisions.failover)).toBe(true);
    expect((await leader.snapshot()).failover).toBeUndefined();
  });

  it('two writers racing on one revision of config, sync and history: exactly one wins each', async () => {
    const a = dcs('a');
    const b = dcs('b');
    expect(await a.setConfig({ ttl: 30 }, '0')).toBe(true);
    expect(await b.setConfig({ ttl: 99 }, '0')).toBe(false); // "create" loses once the key exists
    for (const [key, write] of [
      ['config', (d: Dcs, v: number, rev: string) => d.setConfig({ ttl: v }, rev)],
      ['sync', (d: Dcs, v: number, rev: string) => d.setSync({ leader: `l${v}`, sync_standby: null }, rev)],
      ['history', (d: Dcs, v: number, rev: string) => d.setHistory([[v, 0, 'no recovery target specified', '', 'x']], rev)],
    ] as const) {
      const seen = await a.snapshot();
      const rev = seen.revisions[key];
      const results = await Promise.all([write(a, 1, rev), write(b, 2, rev)]);
      expect(results.filter(Boolean), key).toHaveLength(1);
      expect((await a.snapshot()).revisions[key]).not.toBe(rev);
      // the loser's retry on its stale revision loses again
      expect(await write(results[0] ? b : a, 3, rev), key).toBe(false);
    }
  });

  it('status is written only while the leader key names the writer', async () => {
    const a = dcs('sa');
    const b = dcs('sb');
    await a.keepalive();
    await b.keepalive();
    expect(await a.attemptToAcquireLeader()).toBe(true);
    expect(await a.setStatus({ optime: 100 })).toBe(true);
    expect(await b.setStatus({ optime: 1 })).toBe(false); // a demoted / non-leader writer
    expect((await a.snapshot()).status).toEqual({ optime: 100 });
    await a.releaseLeader();
  });
});

describe('regression: a ttl change applied only to the next lease (a dead leader was replaced after the old ttl)', () => {
  const h = new Harness({ scope: 'ttl' });
  let d: Dcs | undefined;
  beforeAll(() => h.startEtcd(), 60_000);
  afterAll(async () => {
    await d?.close({ release: true }).catch(() => {});
    await h.close();
  }, 60_000);

  it('setTtl moves the leader key to a lease with the new TTL at the next renewal', async () => {
    d = new Dcs({ hosts: h.etcd.endpoints, scope: h.scope, name: 'n0', ttlSeconds: 30, callTimeoutMillis: 1000 });
    await d.keepalive();
    expect(await d.attemptToAcquireLeader()).toBe(true);
    const before = d.leaseId;
    d.setTtl(3);
    await d.keepalive();
    expect(await d.updateLeader()).toBe(true);
    expect(d.leaseId).not.toBe(before);
    const kv = await h.kv.get(`${h.prefix}leader`).exec();
    expect(kv.kvs[0]!.lease).toBe(d.leaseId);
    await d.close({ release: false });
    const t0 = Date.now();
    await h.until('leader key expired', async () => (await h.leader()) === undefined, 10_000);
    expect(Date.now() - t0).toBeLessThan(6000); // ~3 s, not 30
    d = undefined;
  }, 30_000);
});
