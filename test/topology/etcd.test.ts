/**
 * EtcdTopology against a real etcd holding keys written exactly as Patroni
 * 3.0.2 writes them (leader = member name on a lease; members/<name> = JSON
 * with conn_url, api_url, state, role, version, xlog_location, timeline).
 */
import { describe, test, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { EtcdCluster } from '../../src/local/etcd-server';
import { EtcdTopology, patroniPrefix } from '../../src/topology/etcd';
import { FailoverError } from '../../src/errors';
import type { Topology } from '../../src/topology/topology';

const scope = 'demo';
const prefix = `/service/${scope}/`;

function member(port: number, role: string, xlog: number, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    conn_url: `postgres://127.0.0.1:${port}/postgres`,
    api_url: `http://127.0.0.1:${port + 1000}/patroni`,
    state: 'running',
    role,
    version: '3.0.2',
    xlog_location: xlog,
    timeline: 1,
    ...extra,
  });
}

/** Resolves with the first 'change' whose topology satisfies `ok`, or rejects after `timeoutMillis`. */
function nextChange(source: EtcdTopology, ok: (t: Topology) => boolean, timeoutMillis = 5000): Promise<Topology> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      source.off('change', on);
      reject(new Error(`no matching change within ${timeoutMillis} ms; current: ${JSON.stringify(source.current()?.primary?.name)}`));
    }, timeoutMillis);
    const on = (t: Topology) => {
      if (!ok(t)) return;
      clearTimeout(timer);
      source.off('change', on);
      resolve(t);
    };
    source.on('change', on);
  });
}

describe('EtcdTopology over a real etcd', () => {
  let dir: string;
  let etcd: EtcdCluster;
  let writer: Etcd3;
  const sources: EtcdTopology[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(process.env.PGFAILOVER_TEST_ROOT!, 'topo-etcd-'));
    etcd = await EtcdCluster.start({ baseDir: dir });
    writer = new Etcd3({ hosts: etcd.endpoints });
  });

  afterAll(async () => {
    for (const s of sources) await s.close();
    writer?.close();
    await etcd?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  function source(extra: Partial<ConstructorParameters<typeof EtcdTopology>[0]> = {}): EtcdTopology {
    const s = new EtcdTopology({ hosts: etcd.endpoints, scope, ...extra });
    sources.push(s);
    return s;
  }

  test('prefix follows Patroni: /<namespace>/<scope>/', () => {
    expect(patroniPrefix('/service', 'demo')).toBe('/service/demo/');
    expect(patroniPrefix('service/', 'demo')).toBe('/service/demo/');
    expect(patroniPrefix('/', 'demo')).toBe('/demo/');
  });

  test('bad options are typed errors', () => {
    for (const bad of [{ hosts: [], scope }, { hosts: ['http://127.0.0.1:1'], scope: '' }]) {
      let err: unknown;
      try {
        new EtcdTopology(bad);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(FailoverError);
      expect((err as FailoverError).code).toBe('INVALID_OPTION');
    }
  });

  test('initial read, leader change within 200 ms, leader loss, malformed members ignored', async () => {
    await writer.delete().prefix(prefix);
    const lease = writer.lease(30, { autoKeepAlive: false });
    await lease.put(`${prefix}members/n0`).value(member(5432, 'master', 50_331_744));
    await lease.put(`${prefix}members/n1`).value(member(5433, 'replica', 50_331_000));
    await writer.put(`${prefix}config`).value('{"ttl":30,"loop_wait":10}');
    await writer.put(`${prefix}initialize`).value('7300000000000000000');
    await lease.put(`${prefix}leader`).value('n0');

    const s = source();
    const errors: Error[] = [];
    s.on('error', (e) => errors.push(e));
    const t0 = await s.start();
    expect(t0.source).toBe('etcd');
    expect(t0.primary).toMatchObject({ name: 'n0', host: '127.0.0.1', port: 5432, role: 'primary', state: 'running', timeline: 1 });
    expect(t0.members.map((m) => `${m.name}:${m.role}`)).toEqual(['n0:primary', 'n1:standby']);
    expect(t0.members.find((m) => m.name === 'n1')).toMatchObject({ port: 5433, lagBytes: 744 });
    expect(s.stale).toBe(false);

    // Failover as Patroni does it: the old leader's key goes, a replica takes it and promotes.
    const t1 = Date.now();
    const lost = nextChange(s, (t) => t.primary === undefined);
    await writer.delete().key(`${prefix}leader`);
    await lost;
    const lossMillis = Date.now() - t1;

    // The new leader holds the key before its member key says master: no primary yet.
    let early = 0;
    const countEarly = (t: Topology) => (early += t.primary ? 1 : 0);
    s.on('change', countEarly);
    await writer.put(`${prefix}leader`).value('n1');
    await new Promise((r) => setTimeout(r, 150));
    s.off('change', countEarly);
    expect(early).toBe(0);
    expect(s.current()?.primary).toBeUndefined();

    const t2 = Date.now();
    const promoted = nextChange(s, (t) => t.primary?.name === 'n1');
    await writer.put(`${prefix}members/n1`).value(member(5433, 'master', 50_400_000, { timeline: 2 }));
    const t = await promoted;
    const changeMillis = Date.now() - t2;
    console.log(`etcd leader loss → change in ${lossMillis} ms; promotion → change in ${changeMillis} ms`);
    expect(changeMillis).toBeLessThan(200);
    expect(lossMillis).toBeLessThan(200);
    expect(t.primary).toMatchObject({ port: 5433, timeline: 2 });
    // The old primary's member key still says master: it must not look like a second primary.
    expect(t.members.find((m) => m.name === 'n0')?.role).toBe('unknown');

    // Garbage member values are skipped, reported once, and never crash the source.
    const bad = new Promise<Error>((resolve) => s.once('error', resolve));
    await writer.put(`${prefix}members/broken`).value('{"conn_url": "postgres://127.0.0.1:5499/postgres", "role":');
    const e = await bad;
    expect((e as FailoverError).code).toBe('TOPOLOGY_SOURCE');
    await writer.put(`${prefix}members/nourl`).value(JSON.stringify({ role: 'replica', state: 'running' }));
    await writer.put(`${prefix}members/n2`).value(member(5434, 'replica', 50_300_000));
    const withN2 = s.current()?.members.some((m) => m.name === 'n2') ? s.current()! : await nextChange(s, (x) => x.members.some((m) => m.name === 'n2'));
    expect(withN2.members.map((m) => m.name)).toEqual(['n0', 'n1', 'n2']);
    expect(withN2.members.find((m) => m.name === 'n2')?.lagBytes).toBe(100_000);
    expect(errors.filter((x) => (x as FailoverError).code === 'TOPOLOGY_SOURCE').length).toBeGreaterThanOrEqual(2);

    // Member key expiry (lease revoked) removes the members it carried.
    const gone = nextChange(s, (x) => !x.members.some((m) => m.name === 'n0'));
    await lease.revoke();
    await gone;
  });

  test('Patroni 4.x role "primary" and receive/replay positions are understood', async () => {
    await writer.delete().prefix(prefix);
    await writer.put(`${prefix}members/a`).value(member(6000, 'primary', 2_000_000));
    await writer.put(`${prefix}members/b`).value(member(6001, 'replica', 1_000_000, { replay_lsn: 1_500_000, receive_lsn: 1_900_000 }));
    await writer.put(`${prefix}leader`).value('a');
    const s = source();
    const t = await s.start();
    expect(t.primary?.name).toBe('a');
    expect(t.members.find((m) => m.name === 'b')).toMatchObject({ role: 'standby', lagBytes: 500_000, replayLsn: '0/16E360' });
  });

  test('refresh() re-reads at once; close() stops the watch', async () => {
    await writer.delete().prefix(prefix);
    await writer.put(`${prefix}members/a`).value(member(6000, 'master', 10));
    await writer.put(`${prefix}leader`).value('a');
    const s = source();
    await s.start();
    s.refresh('test');
    await s.close();
    let changes = 0;
    s.on('change', () => changes++);
    await writer.put(`${prefix}leader`).value('b');
    await new Promise((r) => setTimeout(r, 200));
    expect(changes).toBe(0);
    expect(s.current()?.primary?.name).toBe('a');
  });

  test('etcd down → error events, last value kept; etcd back on the same port → re-read sees changes made meanwhile', async () => {
    await writer.delete().prefix(prefix);
    await writer.put(`${prefix}members/n0`).value(member(5432, 'master', 1000));
    await writer.put(`${prefix}members/n1`).value(member(5433, 'replica', 900));
    await writer.put(`${prefix}leader`).value('n0');
    const s = source({ reconnectMinMillis: 50, reconnectMaxMillis: 300 });
    const errors: FailoverError[] = [];
    s.on('error', (e) => errors.push(e as FailoverError));
    await s.start();
    expect(s.current()?.primary?.name).toBe('n0');

    await etcd.stopMember(0);
    const deadline = Date.now() + 5000;
    while (errors.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(errors.length).toBeGreaterThanOrEqual(2); // the watch loss, then failed re-reads
    expect(errors.every((e) => e instanceof FailoverError && e.code === 'TOPOLOGY_SOURCE')).toBe(true);
    expect(s.stale).toBe(true);
    expect(s.current()?.primary?.name).toBe('n0'); // last known value kept
    s.refresh('while etcd is down'); // must not throw or crash

    // etcd comes back; a failover happens before the source has reconnected.
    await etcd.startMember(0);
    writer.close();
    writer = new Etcd3({ hosts: etcd.endpoints });
    const seen = nextChange(s, (t) => t.primary?.name === 'n1', 10_000);
    await writer.put(`${prefix}members/n1`).value(member(5433, 'master', 2000, { timeline: 2 }));
    await writer.put(`${prefix}members/n0`).value(member(5432, 'replica', 1000));
    await writer.put(`${prefix}leader`).value('n1');
    const t = await seen;
    expect(t.members.find((m) => m.name === 'n0')).toMatchObject({ role: 'standby', lagBytes: 1000 });
    expect(s.stale).toBe(false);

    // And the new watch delivers later changes.
    const again = nextChange(s, (x) => x.primary === undefined, 2000);
    await writer.delete().key(`${prefix}leader`);
    await again;
  });

  test('start() against an etcd that is not there rejects with TOPOLOGY_SOURCE and keeps trying', async () => {
    const s = source({ hosts: ['http://127.0.0.1:1'], requestTimeoutMillis: 500, reconnectMinMillis: 50, reconnectMaxMillis: 100 });
    const errors: FailoverError[] = [];
    s.on('error', (e) => errors.push(e as FailoverError));
    await expect(s.start()).rejects.toMatchObject({ code: 'TOPOLOGY_SOURCE' });
    await new Promise((r) => setTimeout(r, 1200));
    expect(errors.length).toBeGreaterThanOrEqual(2);
    expect(s.current()).toBeUndefined();
    await s.close();
  });
});
