/**
 * `postgresql.pre_promote` (Patroni's fencing hook) and the rule that an old
 * primary rewinds only from a leader that has left recovery.
 *
 * Freezing etcd (SIGSTOP) makes the leader fence itself; when etcd thaws the
 * replica wins the leader key and runs pre_promote. While the script refuses
 * (exit 1) the replica must release the key and stay a replica; while it runs
 * (sleep 8 s) the new leader holds the key but is still in recovery, and the old
 * primary must wait instead of running pg_rewind against a standby — the race
 * that once left it unable to follow the new timeline.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Harness } from './harness';

const TTL = 5;

describe('pre_promote and rewinding only from a promoted leader', () => {
  const h = new Harness({ scope: 'prepromote', ttl: TTL, loopWait: 1, retryTimeout: 2 });
  const allow = join(h.dir, 'allow-promotion');
  const ran = join(h.dir, 'pre-promote-ran');
  let leader: string;
  let replica: string;

  beforeAll(async () => {
    await h.startEtcd();
    const script = join(h.dir, 'pre-promote.sh');
    // Refuses until `allow` exists, then takes 8 s (a slow fencing action): the window in which the
    // old primary must try to rejoin and wait. 2 s was too short once under the full suite's load,
    // when the old primary's HA loop stayed silent ~5 s after etcd thawed.
    writeFileSync(script, `#!/bin/sh\ntouch '${ran}'\n[ -e '${allow}' ] || exit 1\nsleep 8\n`);
    chmodSync(script, 0o755);
    for (const n of ['n0', 'n1']) (await h.config(n)).postgresql.prePromote = `'${script}'`;
    await h.startAll(['n0', 'n1']);
    leader = await h.until('a leader', () => h.leader());
    replica = leader === 'n0' ? 'n1' : 'n0';
    await h.query(leader, 'CREATE TABLE p (id int primary key)');
    await h.query(leader, 'INSERT INTO p VALUES (1)');
    await h.until('row on the replica', async () => (await h.query(replica, 'SELECT 1 FROM p')).length === 1);
  }, 180_000);
  afterAll(() => h.close(), 120_000);

  it('bootstrap does not run pre_promote (it is not a promotion)', () => {
    expect(existsSync(ran)).toBe(false);
  });

  it('a failing pre_promote releases the leader key and the replica stays in recovery', async () => {
    const agent = h.agents.get(leader)!;
    const fenced = new Promise<void>((resolve) => agent.once('fenced', () => resolve()));
    h.etcd.kill(0, 'SIGSTOP');
    const lastOk = agent.dcs.lastKeepaliveOkAt;
    try {
      await fenced;
      // Keep etcd frozen until the old leader's lease has surely expired, so the replica can win the key.
      await sleep(Math.max(0, lastOk + TTL * 1000 + 1000 - Date.now()));
    } finally {
      h.etcd.kill(0, 'SIGCONT');
    }
    await h.until('pre_promote refused', () => h.lines.some((l) => l.includes(`${replica}: pre_promote`) && l.includes('failed')), 30_000);
    expect(h.agents.get(replica)!.isLeader()).toBe(false);
    expect((await h.query<{ r: boolean }>(replica, 'SELECT pg_is_in_recovery() AS r'))[0]!.r).toBe(true);
    // The key was released, not left to expire: nobody holds it now, or the replica re-won it for its next try.
    const holder = await h.leader();
    expect([undefined, replica]).toContain(holder);
  }, 60_000);

  it('once pre_promote succeeds the replica promotes, and the old primary rewinds only after that', async () => {
    writeFileSync(allow, '');
    await h.until(`${replica} promoted`, () => h.lines.some((l) => l.startsWith(`${replica}: promoted in`) || l.includes(` ${replica}: promoted in`)), 40_000);
    await h.until(`${leader} rejoined`, async () => {
      const rep = await h.query<{ application_name: string }>(replica, "SELECT application_name FROM pg_stat_replication WHERE state = 'streaming'");
      return rep.some((r) => r.application_name === leader);
    }, 40_000);
    const at = (needle: string) => h.lines.findIndex((l) => l.includes(needle));
    // pg_promote() returns (and the node leaves recovery) just before "promoted in" is logged; the rewind may start in between.
    const promotedAt = at(`${replica}: promoting (`);
    const rewindAt = at(`${leader}: pg_rewind from ${replica}`);
    const waitedAt = at(`${leader}: waiting for ${replica} to leave recovery`);
    expect(promotedAt).toBeGreaterThanOrEqual(0);
    expect(waitedAt, h.lines.slice(-30).join('\n')).toBeGreaterThanOrEqual(0);
    expect(waitedAt).toBeLessThan(promotedAt);
    if (rewindAt >= 0) expect(rewindAt, h.lines.slice(-30).join('\n')).toBeGreaterThan(promotedAt);
    await h.query(replica, 'INSERT INTO p VALUES (2)');
    await h.until('row 2 on the old primary', async () => (await h.query(leader, 'SELECT 1 FROM p WHERE id = 2')).length === 1, 30_000);
    expect((await h.query<{ r: boolean }>(leader, 'SELECT pg_is_in_recovery() AS r'))[0]!.r).toBe(true);
  }, 120_000);
});
