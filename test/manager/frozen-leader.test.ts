/**
 * A hung leader node: SIGSTOP of the manager and every PostgreSQL process of
 * the leader, SIGCONT once another member leads. A prober keeps writing to the
 * old leader directly (its own connection, opened before the freeze) and
 * records every acknowledgement.
 *
 * - Synchronous mode: the old leader must never acknowledge a write that the
 *   new leader lacks (its commits wait for a synchronous standby that has
 *   since been promoted, and the manager fences it on waking); an ack that
 *   arrives late is only ever for a commit confirmed before the freeze.
 * - Asynchronous mode: the write that was in flight at the freeze can be
 *   acknowledged when the processes resume — PostgreSQL runs before any
 *   manager can react; Patroni's answer is a hardware watchdog that resets the
 *   machine, which cannot be tested here. We bound the exposure instead: the
 *   old leader stops acknowledging writes within 1 s of waking, and it rejoins
 *   as a replica of the new leader (pg_rewind discards what it wrote alone).
 *
 * Runs our manager in both modes, and (with PGFAILOVER_COMPARE_PATRONI=1) real
 * Patroni (asynchronous) for comparison:
 * Patroni 3.0.2 without a watchdog went on acknowledging writes on the old
 * leader after waking — 21 writes over 0.19 s in one run, 404 over more than
 * 3 s in another (its loop notices the lost lock late); ours fenced at once
 * (0 late acknowledgements in every run so far).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { setTimeout as sleep } from 'node:timers/promises';
import { PatroniCluster } from '../../src/local/patroni-cluster';
import { havePatroni } from '../support/have-patroni';

const TTL = 6;
const haveBuild = (() => {
  try {
    require.resolve('../../dist/cli/main.js');
    return true;
  } catch {
    return false;
  }
})();

const VARIANTS = [
  { daemon: 'pg-failover' as const, sync: true },
  { daemon: 'pg-failover' as const, sync: false },
  { daemon: 'patroni' as const, sync: false },
  // A measurement of a peer, not a test of ours: opt-in. Patroni's old leader may also leave a
  // replica it streamed its late writes to diverged, and then the cluster does not heal by itself.
].filter((v) => (v.daemon === 'patroni' ? havePatroni && process.env.PGFAILOVER_COMPARE_PATRONI === '1' : haveBuild));

interface Ack {
  id: number;
  at: number;
}

/** Writes to one node over one connection, one statement at a time, until stopped or the connection dies. */
function prober(c: PatroniCluster, node: string) {
  const client = new pg.Client({ host: '127.0.0.1', port: c.member(node).pgPort, user: 'postgres', password: c.password, database: 'postgres' });
  client.on('error', () => {});
  const acks: Ack[] = [];
  let stopped = false;
  let lastError: string | undefined;
  const done = (async () => {
    await client.connect();
    for (let id = 1; !stopped; id++) {
      try {
        await client.query('INSERT INTO frozen_probe VALUES ($1)', [id]);
        acks.push({ id, at: Date.now() });
      } catch (e) {
        lastError = (e as Error).message;
        return;
      }
      await sleep(5);
    }
  })().catch((e) => (lastError = (e as Error).message));
  let running = true;
  void done.finally(() => (running = false));
  return {
    acks,
    get running() {
      return running;
    },
    get lastError() {
      return lastError;
    },
    async stop() {
      stopped = true;
      await Promise.race([done, sleep(2000)]);
      await Promise.race([client.end().catch(() => {}), sleep(1000)]);
    },
  };
}

for (const v of VARIANTS) {
  const label = `${v.daemon === 'patroni' ? 'Patroni' : 'our manager'}, ${v.sync ? 'synchronous' : 'asynchronous'} replication`;
  describe(`hung leader node (SIGSTOP, then SIGCONT after a new leader is up): ${label}`, () => {
    let c: PatroniCluster;
    beforeAll(async () => {
      c = await PatroniCluster.start({
        daemon: v.daemon,
        nodes: 3,
        ttl: TTL,
        loopWait: 1,
        retryTimeout: 2,
        synchronousMode: v.sync,
        scope: `frozen${v.sync ? 's' : 'a'}`,
        parentDir: process.env.PGFAILOVER_TEST_ROOT,
        startTimeoutMillis: 120_000,
      });
      const leader = await c.waitForLeader(30_000);
      const admin = new pg.Client({ host: '127.0.0.1', port: c.member(leader).pgPort, user: 'postgres', password: c.password, database: 'postgres' });
      await admin.connect();
      await admin.query('CREATE TABLE frozen_probe (id int PRIMARY KEY)');
      await admin.end();
    }, 180_000);
    afterAll(async () => {
      await c?.stop();
    }, 60_000);

    it(
      v.daemon === 'patroni'
        ? 'for comparison: another member takes over; writes the old leader acknowledges after waking are measured'
        : v.sync
          ? 'no write the new leader lacks is acknowledged, before or after the freeze, and the old leader rejoins'
          : 'the old leader stops acknowledging writes within 1 s of waking, and rejoins as a replica',
      async () => {
        const old = await c.waitForLeader(30_000);
        const probe = prober(c, old);
        await sleep(700);
        expect(probe.acks.length, `prober could not write: ${probe.lastError}`).toBeGreaterThan(10);
        const frozenAt = Date.now();
        c.freezeNode(old);
        let thawedAt = 0;
        try {
          const next = await c.waitForLeader((TTL + 15) * 1000, { except: old });
          expect(next).not.toBe(old);
        } finally {
          c.thawNode(old);
          thawedAt = Date.now();
        }
        // Give the woken node every chance to misbehave: watch until the old leader refuses the prober
        // (connection ended) or 15 s have passed.
        const watchUntil = Date.now() + 15_000;
        while (probe.running && Date.now() < watchUntil) await sleep(50);
        await sleep(500);
        await probe.stop();
        const leaseSurelyExpired = frozenAt + TTL * 1000;
        const late = probe.acks.filter((a) => a.at > leaseSurelyExpired);
        const lastAck = probe.acks.at(-1)!;
        console.log(
          `${label}: frozen ${thawedAt - frozenAt} ms; ${probe.acks.length} acks before the freeze, ` +
            `${late.length} acknowledged after the lease could have expired` +
            (late.length ? ` (last ${lastAck.at - thawedAt} ms after waking)` : '') +
            `; prober ended with: ${probe.lastError ?? 'no error'}`,
        );
        // Async: the exposure is bounded. Sync: an acknowledgement may arrive late only for a commit the
        // synchronous standby confirmed before the freeze — it must then be on the new leader (checked below).
        // Patroni is here for comparison only: without a watchdog it has no such bound (measured, not asserted).
        if (!v.sync && v.daemon === 'pg-failover') expect(lastAck.at - thawedAt).toBeLessThan(1000);
        if (v.daemon === 'patroni') return; // measured above; whether Patroni heals is not ours to assert
        // Every write acknowledged before the freeze is on the new leader (sync: RPO 0); the old one follows it.
        await c.waitForReplicasStreaming(90_000);
        const leader = await c.waitForLeader(10_000);
        const check = new pg.Client({ host: '127.0.0.1', port: c.member(leader).pgPort, user: 'postgres', password: c.password, database: 'postgres' });
        await check.connect();
        try {
          const { rows } = await check.query<{ id: number }>('SELECT id FROM frozen_probe');
          const present = new Set(rows.map((r) => r.id));
          const missing = probe.acks.filter((a) => !present.has(a.id));
          console.log(`${label}: ${missing.length} acknowledged writes missing on the new leader ${leader}`);
          if (v.sync) expect(missing, 'synchronous mode: an acknowledged write is missing on the new leader').toEqual([]);
        } finally {
          await check.end();
        }
        const follower = new pg.Client({ host: '127.0.0.1', port: c.member(old).pgPort, user: 'postgres', password: c.password, database: 'postgres' });
        await follower.connect();
        try {
          expect((await follower.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r')).rows[0]!.r).toBe(true);
        } finally {
          await follower.end();
        }
      },
      180_000,
    );
  });
}
