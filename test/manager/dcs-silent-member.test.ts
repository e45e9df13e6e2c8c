/**
 * The manager's etcd client with one member of a 3-member etcd silent (frozen with SIGSTOP: it
 * accepts TCP but never answers, as a member cut off by the network does). The other two keep
 * the quorum, so every call must succeed within its bound (`retry_timeout / 2`): a call that picks
 * the silent member must move on to another one in time, as Patroni's client does (it splits
 * `retry_timeout` across the members, at least 1 s each). It did not: each call picked a member
 * at random and waited out the whole bound on the silent one, so about one call in three failed —
 * keepalives too, and a leader whose keepalives failed twice or three times in a row fenced itself
 * although etcd was fine (campaign seed 96, one member isolated: a 5.1 s write outage for every
 * client, against 49 ms with Patroni). Real etcd.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { EtcdCluster } from '../../src/local/etcd-server';
import { Dcs, attemptPlan } from '../../src/manager/dcs';

const CALL_TIMEOUT = 2000; // the campaign's: retry_timeout 4 s

describe('attemptPlan (Patroni’s split of the bound across members)', () => {
  it('gives each attempt at least 1 s, and a single member the whole bound', () => {
    expect(attemptPlan(2000, 1)).toEqual({ attempts: 1, millis: 2000 });
    expect(attemptPlan(2000, 3)).toEqual({ attempts: 2, millis: 1000 });
    expect(attemptPlan(5000, 3)).toEqual({ attempts: 3, millis: 1666 });
    expect(attemptPlan(500, 3)).toEqual({ attempts: 1, millis: 500 });
  });
});

describe('Dcs with one of three etcd members silent', () => {
  let dir: string;
  let etcd: EtcdCluster;
  let dcs: Dcs;
  let silent = -1;

  beforeAll(async () => {
    dir = mkdtempSync(join(process.env.PGFAILOVER_TEST_ROOT!, 'silent-member-'));
    etcd = await EtcdCluster.start({ baseDir: join(dir, 'etcd'), members: 3 });
    // Silence a member that is not raft leader (no election in the way).
    const leaderId = await raftLeaderId(etcd.endpoints[0]!);
    for (let i = 0; i < 3 && silent < 0; i++) if ((await memberId(etcd.endpoints[i]!)) !== leaderId) silent = i;
    dcs = new Dcs({ hosts: etcd.endpoints, scope: 'silent', name: 'n0', ttlSeconds: 10, callTimeoutMillis: CALL_TIMEOUT });
    expect(await dcs.keepalive()).toBe(true);
  }, 60_000);
  afterAll(async () => {
    if (silent >= 0) etcd?.kill(silent, 'SIGCONT');
    await dcs?.close({ release: true }).catch(() => {});
    await etcd?.stop();
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('every keepalive, read and write succeeds within the bound', async () => {
    expect(silent).toBeGreaterThanOrEqual(0);
    etcd.kill(silent, 'SIGSTOP');
    const failures: string[] = [];
    let slowest = 0;
    const timed = async (what: string, call: () => Promise<unknown>) => {
      const t0 = Date.now();
      try {
        const ok = await call();
        if (ok === false) failures.push(`${what}: false`);
      } catch (e) {
        failures.push(`${what}: ${(e as Error).message}`);
      }
      slowest = Math.max(slowest, Date.now() - t0);
    };
    try {
      for (let round = 0; round < 12; round++) {
        await timed(`keepalive ${round}`, () => dcs.keepalive());
        await timed(`snapshot ${round}`, () => dcs.snapshot());
        await timed(`member key ${round}`, () => dcs.touchMember({ conn_url: 'postgres://127.0.0.1:5432/postgres', api_url: 'http://127.0.0.1:8008/patroni', state: 'running', role: 'replica', version: '4.0.0', xlog_location: round + 1 }));
        await sleep(100);
      }
    } finally {
      etcd.kill(silent, 'SIGCONT');
    }
    console.log(`etcd${silent} silent: ${failures.length} of 36 calls failed, slowest ${slowest} ms`);
    expect(failures).toEqual([]);
    // one attempt's share (1 s) on the silent member, then another member at once — not the whole
    // bound waited out (before: ~2 s, and a failure whenever the retry did not fit in what was left)
    expect(slowest).toBeLessThan(attemptPlan(CALL_TIMEOUT, 3).millis + 600);
  }, 120_000);
});

async function status(endpoint: string): Promise<{ header?: { member_id?: string }; leader?: string }> {
  const res = await fetch(`${endpoint}/v3/maintenance/status`, { method: 'POST', body: '{}', signal: AbortSignal.timeout(2000) });
  return (await res.json()) as { header?: { member_id?: string }; leader?: string };
}
async function raftLeaderId(endpoint: string): Promise<string | undefined> {
  for (let i = 0; i < 50; i++) {
    const s = await status(endpoint).catch(() => undefined);
    if (s?.leader && s.leader !== '0') return s.leader;
    await sleep(100);
  }
  return undefined;
}
async function memberId(endpoint: string): Promise<string | undefined> {
  return (await status(endpoint).catch(() => undefined))?.header?.member_id;
}
