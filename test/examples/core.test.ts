/**
 * The examples (examples/kysely, drizzle, typeorm, knex, express, fastify,
 * streams, sequelize, mikro-orm, slonik, prisma) against one real managed cluster (etcd + three `pg-failover
 * manager`s, the launcher behind `pg-failover up`), all at once:
 *
 * - steady: writes land on the primary, plain reads on standbys, a
 *   transaction's statements all on one primary session;
 * - planned switchover under load: not one failed operation, writes move to
 *   the new primary;
 * - kill -9 of the leader node under load: failures only with pg-failover's
 *   codes (in-doubt writes / rolled-back transactions), found on whatever the
 *   library wraps them in; writes resume on the new primary.
 *
 * Needs the build (`npm test` builds first): the managers run from dist/.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { PatroniCluster } from '../../src/local/patroni-cluster';
import type { ExampleApp } from '../../examples/shared/app';
import { createApp as kysely } from '../../examples/kysely/app';
import { createApp as drizzle } from '../../examples/drizzle/app';
import { createApp as typeorm } from '../../examples/typeorm/app';
import { createApp as knex } from '../../examples/knex/app';
import { createApp as express } from '../../examples/express/client';
import { createApp as streams } from '../../examples/streams/app';
import { createApp as sequelize } from '../../examples/sequelize/app';
import { createApp as fastify } from '../../examples/fastify/client';
import { createApp as mikroOrm } from '../../examples/mikro-orm/app';
import { createApp as slonik } from '../../examples/slonik/app';
import { load, summary, until, type Op } from './drive';

const hasBuild = existsSync(join(__dirname, '..', '..', 'dist', 'cli', 'main.js'));
const FACTORIES = { kysely, drizzle, typeorm, knex, express, fastify, streams, sequelize, mikroOrm, slonik };
const IN_DOUBT = new Set(['TRANSACTION_RESOLUTION_UNKNOWN', 'TRANSACTION_ROLLED_BACK']);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(!hasBuild)('examples on a managed cluster through a switchover and a leader kill', () => {
  let cluster: PatroniCluster;
  const apps: ExampleApp[] = [];
  let nextId = 1;
  const unhandled: unknown[] = [];
  const onUnhandled = (r: unknown) => unhandled.push(r);
  const leaderPort = async (except?: string) => cluster.member(await cluster.waitForLeader(30_000, except ? { except } : {})).pgPort;

  beforeAll(async () => {
    process.on('unhandledRejection', onUnhandled);
    cluster = await PatroniCluster.start({ daemon: 'pg-failover', nodes: 3, ttl: 5, loopWait: 1, retryTimeout: 2, scope: 'examples', parentDir: process.env.PGFAILOVER_TEST_ROOT });
    // Exactly what `pg-failover up` prints: every node, topology from etcd.
    const url = cluster.connectionString({ params: { 'pgfailover.etcd': cluster.etcdHosts.join(','), 'pgfailover.scope': cluster.scope } });
    for (const make of Object.values(FACTORIES)) apps.push(make(url));
    // Prisma's client is generated code (offline: no engine is downloaded or needed for it).
    if (!existsSync(join(__dirname, '..', '..', 'examples', 'prisma', 'generated', 'client.ts'))) {
      execFileSync('npm', ['run', '--silent', 'example:prisma:generate'], { cwd: join(__dirname, '..', '..'), stdio: 'pipe', timeout: 60_000 });
    }
    const prisma = await import('../../examples/prisma/app');
    apps.push(prisma.createApp(url));
    for (const app of apps) await app.setup();
  }, 180_000);

  afterAll(async () => {
    process.off('unhandledRejection', onUnhandled);
    const within = (p: Promise<unknown>, ms: number) => Promise.race([p, sleep(ms).then(() => Promise.reject(new Error(`not closed within ${ms} ms`)))]);
    for (const app of apps) await within(app.close(), 10_000).catch((e) => console.log(`${app.name} close: ${e}`));
    await cluster?.stop();
  }, 90_000);

  it('steady: writes on the primary, plain reads on standbys, a transaction on one primary session', async () => {
    const primary = await leaderPort();
    for (const app of apps) {
      for (let i = 0; i < 3; i++) {
        const w = await app.write(nextId++);
        expect(w, `${app.name} write`).toEqual({ port: primary, standby: false });
      }
      // Read-your-writes: the first reads may go to the primary until a standby replayed them.
      let r = await app.read();
      const deadline = Date.now() + 5000;
      while (!r.standby && Date.now() < deadline) {
        await sleep(20);
        r = await app.read();
      }
      expect(r.standby, `${app.name}: a plain read reaches a standby`).toBe(true);
      expect(r.port).not.toBe(primary);
      expect(r.count, `${app.name}: and sees its writes`).toBe(3);
      const t = await app.transaction(nextId++);
      expect(t.ports, `${app.name} transaction`).toEqual([primary, primary]);
      expect(new Set(t.pids).size, `${app.name}: one session`).toBe(1);
    }
  }, 60_000);

  const run = async (fault: (old: string) => Promise<void>, label: string) => {
    const old = await cluster.waitForLeader(30_000);
    const oldPort = cluster.member(old).pgPort;
    const loads = apps.map((app) => load(app, (nextId += 100_000)));
    await sleep(1000);
    const faultAt = Date.now();
    await fault(old);
    const nextPort = await leaderPort(old);
    console.log(`${label}: ${old} → port ${nextPort} after ${Date.now() - faultAt} ms`);
    const moved = await until(() => loads.every((l) => l.ops.some((o) => o.kind === 'write' && o.ok && o.port === nextPort)), 30_000);
    await sleep(500);
    const results = await Promise.all(loads.map((l) => l.stop()));
    for (const [i, ops] of results.entries()) {
      console.log(`${label} ${apps[i]!.name}: ${summary(ops)}`);
      for (const f of ops.filter((o) => !o.ok)) console.log(`  ${f.kind} +${f.at - faultAt} ms: ${f.code ?? '-'} (${f.wrapper}) ${f.message}`);
    }
    return { results, oldPort, nextPort, moved, faultAt };
  };

  const checkRouting = (ops: Op[], primaries: number[], name: string) => {
    for (const o of ops.filter((x) => x.ok && x.kind === 'write')) {
      expect(o.standby, `${name}: a write on a standby (port ${o.port}, at ${o.at}; primaries ${primaries})`).toBe(false);
      expect(primaries, `${name}: a write on ${o.port}`).toContain(o.port);
    }
    for (const o of ops.filter((x) => x.ok && x.kind === 'transaction')) {
      expect(new Set(o.ports).size, `${name}: a transaction across nodes ${o.ports}`).toBe(1);
      expect(new Set(o.pids).size, `${name}: a transaction across sessions`).toBe(1);
      expect(primaries).toContain(o.ports![0]);
    }
    // Reads right after the app's own write go to the primary until a standby replays it
    // (read-your-writes, pool-wide by default): their share on standbys is printed, not asserted.
  };

  it('planned switchover under load: no failed operation in any example', async () => {
    const { results, oldPort, nextPort, moved } = await run(async () => void (await cluster.switchover()), 'switchover');
    expect(moved, 'every app wrote on the new primary').toBe(true);
    for (const [i, ops] of results.entries()) {
      const name = apps[i]!.name;
      expect(ops.filter((o) => !o.ok).map((o) => `${o.kind} ${o.code} ${o.wrapper}: ${o.message}`), name).toEqual([]);
      checkRouting(ops, [oldPort, nextPort], name);
    }
    expect(unhandled).toEqual([]);
  }, 120_000);

  it('kill -9 of the leader node under load: only in-doubt errors with our codes, then writes on the new primary', async () => {
    const { results, oldPort, nextPort, moved } = await run((old) => cluster.killNode(old), 'kill');
    expect(moved, 'every app wrote on the new primary').toBe(true);
    for (const [i, ops] of results.entries()) {
      const name = apps[i]!.name;
      const failed = ops.filter((o) => !o.ok);
      for (const f of failed) {
        expect(IN_DOUBT.has(f.code ?? ''), `${name} ${f.kind}: ${f.code} (${f.wrapper}) ${f.message}`).toBe(true);
        expect(f.kind, `${name}: a plain read failed`).not.toBe('read');
      }
      // Writes are held while no primary is known: only what was in flight at the kill fails.
      expect(failed.length, name).toBeLessThanOrEqual(2);
      checkRouting(ops, [oldPort, nextPort], name);
    }
    expect(unhandled).toEqual([]);
  }, 150_000);
});
