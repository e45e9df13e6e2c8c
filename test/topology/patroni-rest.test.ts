/**
 * PatroniRestTopology against real HTTP servers on 127.0.0.1: one serving the
 * `/cluster` document our manager builds (src/manager/api-views.ts clusterJson,
 * Patroni's cluster_as_json), one serving Patroni's documented example
 * verbatim, and misbehaving ones (invalid JSON, HTML, 500, wrong shape, a
 * request that never gets an answer, a closed port).
 */
import { describe, test, expect, beforeAll, afterAll } from 'vitest';
import { createServer, type Server, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PatroniRestTopology, apiBase } from '../../src/topology/patroni-rest';
import { clusterJson } from '../../src/manager/api-views';
import type { DcsSnapshot } from '../../src/manager/agent-view';
import { FailoverError } from '../../src/errors';
import { freePort } from '../../src/local/ports';
import type { Topology } from '../../src/topology/topology';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

const servers: Server[] = [];
async function serve(handler: Handler): Promise<string> {
  const server = createServer(handler);
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Patroni's documented `GET /cluster` example (docs/rest_api.rst), ports changed. */
const PATRONI_EXAMPLE = {
  members: [
    { name: 'postgresql0', role: 'leader', state: 'running', api_url: 'http://127.0.0.1:8008/patroni', host: '127.0.0.1', port: 5432, timeline: 5, tags: { clonefrom: true } },
    { name: 'postgresql1', role: 'replica', state: 'streaming', api_url: 'http://127.0.0.1:8009/patroni', host: '127.0.0.1', port: 5433, timeline: 5, tags: { clonefrom: true }, lag: 0 },
    { name: 'postgresql2', role: 'sync_standby', state: 'streaming', api_url: 'http://127.0.0.1:8010/patroni', host: '127.0.0.1', port: 5434, timeline: 5, tags: {}, lag: 1024 },
  ],
  scope: 'batman',
};

function snapshot(leader: string | undefined, lsn: number): DcsSnapshot {
  const m = (name: string, port: number, role: string, xlog: number) => ({
    name,
    data: { conn_url: `postgres://127.0.0.1:${port}/postgres`, api_url: `http://127.0.0.1:${port + 1000}/patroni`, state: 'running', role, xlog_location: xlog, replay_lsn: xlog, timeline: 1 },
  });
  return {
    leader,
    members: [m('n0', 7000, leader === 'n0' ? 'master' : 'replica', lsn), m('n1', 7001, leader === 'n1' ? 'master' : 'replica', lsn - 4096)],
    config: {},
    initialize: '1',
    sync: undefined,
    failover: undefined,
    history: [],
    status: { optime: lsn },
    revision: '1',
    revisions: { config: '0', failover: '0', sync: '0', history: '0', initialize: '0' },
  };
}

const json = (res: ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(typeof body === 'string' ? body : JSON.stringify(body));
};

describe('PatroniRestTopology over real HTTP servers', () => {
  let good: string;
  let example: string;
  let garbage: Record<string, string>;
  let closedPort: string;
  let snap = snapshot('n0', 0x3000060);
  let goodHits = 0;
  let goodStatus = 200;
  const sources: PatroniRestTopology[] = [];

  beforeAll(async () => {
    good = await serve((req, res) => {
      if (req.url !== '/cluster') return json(res, 404, {});
      goodHits++;
      json(res, goodStatus, clusterJson(snap, 'demo'));
    });
    example = await serve((_req, res) => json(res, 200, PATRONI_EXAMPLE));
    garbage = {
      'invalid-json': await serve((_req, res) => json(res, 200, '{"members": [')),
      html: await serve((_req, res) => {
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end('<html><body>502 Bad Gateway</body></html>');
      }),
      'http-500': await serve((_req, res) => json(res, 500, { error: 'internal' })),
      'wrong-shape': await serve((_req, res) => json(res, 200, { members: 'n0,n1', scope: 'demo' })),
      hang: await serve(() => {
        /* never answers */
      }),
    };
    closedPort = `http://127.0.0.1:${await freePort()}`;
    // Node loads its fetch implementation on first use (hundreds of ms on a busy machine): not what the timeouts below measure.
    await (await fetch(`${example}/cluster`)).text();
  });

  afterAll(async () => {
    for (const s of sources) await s.close();
    for (const s of servers) {
      s.closeAllConnections();
      await new Promise((r) => s.close(r));
    }
  });

  function source(urls: string[], extra: { intervalMillis?: number; timeoutMillis?: number; discoverMembers?: boolean } = {}): PatroniRestTopology {
    const s = new PatroniRestTopology({ urls, timeoutMillis: 500, intervalMillis: 60_000, ...extra });
    sources.push(s);
    return s;
  }

  test('apiBase strips /patroni and trailing slashes; bad options are typed errors', () => {
    expect(apiBase('http://10.0.0.1:8008/patroni')).toBe('http://10.0.0.1:8008');
    expect(apiBase('http://10.0.0.1:8008/')).toBe('http://10.0.0.1:8008');
    expect(apiBase('ftp://x')).toBeUndefined();
    for (const bad of [{ urls: [] }, { urls: ['not a url'] }, { urls: ['http://127.0.0.1:1'], timeoutMillis: -1 }]) {
      expect(() => new PatroniRestTopology(bad)).toThrow(FailoverError);
      try {
        new PatroniRestTopology(bad);
      } catch (e) {
        expect((e as FailoverError).code).toBe('INVALID_OPTION');
      }
    }
  });

  test("Patroni's documented /cluster example: leader, replica, sync_standby", async () => {
    const t = await source([example]).start();
    expect(t.source).toBe('patroni-rest');
    expect(t.primary).toMatchObject({ name: 'postgresql0', host: '127.0.0.1', port: 5432, role: 'primary', timeline: 5 });
    expect(t.members.map((m) => `${m.name}:${m.role}:${m.lagBytes ?? '-'}`)).toEqual(['postgresql0:primary:-', 'postgresql1:standby:0', 'postgresql2:standby:1024']);
    expect(t.members[0].tags).toEqual({ clonefrom: true });
  });

  test('the manager’s own /cluster document (clusterJson) is understood', async () => {
    snap = snapshot('n0', 0x3000060);
    const t = await source([good]).start();
    expect(t.primary).toMatchObject({ name: 'n0', port: 7000 });
    expect(t.members.find((m) => m.name === 'n1')).toMatchObject({ role: 'standby', port: 7001, lagBytes: 4096, replayLsn: '0/2FFF060' });
  });

  test('garbage, 500, a hanging server and a closed port → error events with codes, rotation to the good URL, then sticking to it', async () => {
    snap = snapshot('n0', 0x3000060);
    const order = ['invalid-json', 'html', 'http-500', 'wrong-shape', 'hang'];
    const s = source([...order.map((k) => garbage[k]), closedPort, good]);
    const errors: FailoverError[] = [];
    s.on('error', (e) => errors.push(e as FailoverError));
    const started = Date.now();
    const t = await s.start();
    const tookMillis = Date.now() - started;
    console.log(`rotation past ${errors.length} bad URLs took ${tookMillis} ms`);
    expect(t.primary?.name).toBe('n0');
    expect(s.lastUrl).toBe(good);
    expect(errors.every((e) => e instanceof FailoverError && e.code === 'TOPOLOGY_SOURCE')).toBe(true);
    expect(errors.map((e) => e.detail?.reason)).toEqual(['invalid-json', 'invalid-json', 'http-status', 'wrong-shape', 'timeout', 'network']);
    expect(errors[2].detail?.status).toBe(500);
    expect(tookMillis).toBeLessThan(2500); // the hang costs one timeoutMillis (500), not forever

    // The next poll goes straight to the URL that answered: no new errors.
    const hits = goodHits;
    const changed = new Promise<Topology>((r) => s.once('change', r));
    snap = snapshot('n1', 0x3100000);
    s.refresh('test');
    const next = await changed;
    expect(next.primary?.name).toBe('n1');
    expect(goodHits).toBe(hits + 1);
    expect(errors).toHaveLength(6);
  });

  test('polls on its interval; a failing good URL makes it rotate on, keep the last value and report stale', async () => {
    snap = snapshot('n0', 0x3000060);
    goodStatus = 200;
    const s = source([good, garbage['http-500']], { intervalMillis: 50, discoverMembers: false });
    const errors: FailoverError[] = [];
    s.on('error', (e) => errors.push(e as FailoverError));
    await s.start();
    const changed = new Promise<Topology>((r) => s.once('change', r));
    const t0 = Date.now();
    snap = snapshot(undefined, 0x3000060); // leader key gone
    const lost = await changed;
    expect(lost.primary).toBeUndefined();
    expect(Date.now() - t0).toBeLessThan(1000);

    goodStatus = 503;
    const deadline = Date.now() + 3000;
    while (errors.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(errors.map((e) => e.detail?.reason)).toContain('http-status');
    expect(s.stale).toBe(true);
    expect(s.current()?.members.map((m) => m.name)).toEqual(['n0', 'n1']);

    goodStatus = 200;
    snap = snapshot('n1', 0x3100000);
    const back = await new Promise<Topology>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no recovery')), 3000);
      s.on('change', (t) => {
        if (t.primary?.name === 'n1') {
          clearTimeout(timer);
          resolve(t);
        }
      });
    });
    expect(back.primary?.port).toBe(7001);
    expect(s.stale).toBe(false);
    goodStatus = 200;
  });

  test('no URL answers → start() rejects with TOPOLOGY_SOURCE; close() aborts a hanging request at once', async () => {
    const s = source([garbage.hang, closedPort], { timeoutMillis: 200 });
    const errors: FailoverError[] = [];
    s.on('error', (e) => errors.push(e as FailoverError));
    await expect(s.start()).rejects.toMatchObject({ code: 'TOPOLOGY_SOURCE' });
    expect(errors.map((e) => e.detail?.reason)).toEqual(['timeout', 'network']);
    expect(s.current()).toBeUndefined();

    const slow = source([garbage.hang], { timeoutMillis: 10_000 });
    slow.on('error', () => {});
    const pending = slow.start().catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 100));
    const t0 = Date.now();
    await slow.close();
    await pending;
    expect(Date.now() - t0).toBeLessThan(1000);
  });

  test('learnt member api_urls are tried when every configured URL fails', async () => {
    snap = snapshot('n0', 0x3000060);
    // A /cluster whose members point their api_url at the good server.
    const port = Number(new URL(good).port);
    let flaky = true;
    const first = await serve((_req, res) => {
      if (!flaky) return json(res, 500, {});
      json(res, 200, { scope: 'demo', members: [{ name: 'n0', role: 'leader', state: 'running', host: '127.0.0.1', port: 7000, api_url: `http://127.0.0.1:${port}/patroni` }] });
    });
    const s = source([first]);
    const errors: FailoverError[] = [];
    s.on('error', (e) => errors.push(e as FailoverError));
    await s.start();
    flaky = false;
    snap = snapshot('n1', 0x3100000);
    const changed = new Promise<Topology>((r) => s.once('change', r));
    s.refresh('test');
    expect((await changed).primary?.name).toBe('n1');
    expect(s.lastUrl).toBe(good);
    expect(errors.map((e) => e.detail?.reason)).toEqual(['http-status']);
  });
});
