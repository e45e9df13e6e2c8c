/**
 * sessionOf (node-pools.ts): a statement that finds sessions being opened on its node takes the
 * batch's first new session as soon as it is in, not after the whole batch, and never an idle
 * session older than the batch while the batch opens (after a restart that one may be dead).
 *
 * Real PostgreSQL behind a small TCP proxy that holds each new connection for a chosen time before
 * it reaches the server (a server slow to start sessions, as under a reconnect storm).
 */
import { describe, it, expect, afterAll, beforeAll } from 'vitest';
import { createServer, connect, type Server, type Socket } from 'node:net';
import type pg from 'pg';
import { setTimeout as sleep } from 'node:timers/promises';
import { NodePools, sessionOf } from '../../src/pool/node-pools';
import { useCluster } from '../support/cluster';

/** Forwards to the server; the n-th new connection waits `delays[n]` ms (the last entry for the rest) before it is passed on. */
class SlowStartProxy {
  delays: number[] = [0];
  port = 0;
  #accepted = 0;
  readonly #sockets = new Set<Socket>();
  readonly #server: Server;
  constructor(upstreamPort: number) {
    this.#server = createServer((client) => {
      const delay = this.delays[Math.min(this.#accepted++, this.delays.length - 1)]!;
      this.#sockets.add(client);
      client.pause();
      client.on('error', () => {});
      setTimeout(() => {
        const up = connect(upstreamPort, '127.0.0.1');
        this.#sockets.add(up);
        up.on('error', () => client.destroy());
        client.on('close', () => up.destroy());
        up.on('close', () => client.destroy());
        client.pipe(up);
        up.pipe(client);
        client.resume();
      }, delay);
    });
  }
  /** From now on, count new connections from 0 again against `delays`. */
  next(delays: number[]): void {
    this.delays = delays;
    this.#accepted = 0;
  }
  listen(): Promise<void> {
    return new Promise((resolve) => this.#server.listen(0, '127.0.0.1', () => {
      this.port = (this.#server.address() as { port: number }).port;
      resolve();
    }));
  }
  close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}

const h = useCluster({ standbys: 0 });
let proxy: SlowStartProxy;
let pools: NodePools;
let key: string;
beforeAll(async () => {
  proxy = new SlowStartProxy(h.cluster.primary.server.port);
  await proxy.listen();
  key = `127.0.0.1:${proxy.port}`;
  pools = new NodePools({ configFor: () => ({ user: 'postgres', database: 'postgres', max: 10 }), forward: () => {} });
});
afterAll(async () => {
  await pools?.end();
  await proxy?.close();
});

async function pid(c: pg.PoolClient): Promise<number> {
  return (await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
}

describe('sessionOf while a batch of sessions opens', () => {
  it('takes the batch first session once it is in, not after the whole batch', async () => {
    const np = pools.get(key);
    proxy.next([50, 900, 900]);
    const t0 = Date.now();
    const batch = pools.openMore(key, 3);
    expect(np.opening).toBeDefined();
    const client = await sessionOf(np);
    const tookMs = Date.now() - t0;
    const batchDone = batch.then(() => Date.now() - t0);
    expect(await pid(client)).toBeGreaterThan(0);
    client.release();
    const batchMs = await batchDone;
    console.log(`sessionOf: ${tookMs} ms; whole batch: ${batchMs} ms`);
    expect(batchMs).toBeGreaterThanOrEqual(850);
    // waiting for the whole batch (the old behaviour) took ≥ 900 ms
    expect(tookMs).toBeLessThan(600);
    // the batch's bookkeeping ends a few microtasks after its last session (the two 900 ms ones end in either order)
    await new Promise((resolve) => setImmediate(resolve));
    expect(np.opening).toBeUndefined();
  });

  it('does not hand out an idle session older than the batch while the batch opens (after a restart it may be dead)', async () => {
    const np = pools.get(key);
    // one idle session from before, alive here (a dead one is what this guards against)
    const old = await sessionOf(np);
    const oldPid = await pid(old);
    old.release();
    // every idle session but the one above is closed, so it is the one pg-pool would hand out
    for (const c of (np.pool as unknown as { _clients: pg.PoolClient[] })._clients.slice()) {
      if (c !== old) {
        const taken = await np.pool.connect();
        taken.release(true);
      }
    }
    expect(np.pool.idleCount).toBe(1);
    proxy.next([500]);
    const t0 = Date.now();
    const batch = pools.openMore(key, 1);
    // the batch asks for the idle session too and gives it back at once: it is idle again, the new one is not in
    await sleep(50);
    expect(np.pool.idleCount).toBe(1);
    const client = await sessionOf(np);
    const tookMs = Date.now() - t0;
    const newPid = await pid(client);
    client.release();
    await batch;
    console.log(`sessionOf with an older idle session while a batch opens: ${tookMs} ms`);
    expect(client).not.toBe(old);
    expect(newPid).not.toBe(oldPid);
    expect(tookMs).toBeGreaterThanOrEqual(450);
  });

  it('with no batch opening, hands out an idle session at once', async () => {
    const np = pools.get(key);
    expect(np.opening).toBeUndefined();
    expect(np.pool.idleCount).toBeGreaterThan(0);
    proxy.next([2000]);
    const t0 = Date.now();
    const client = await sessionOf(np);
    client.release();
    expect(Date.now() - t0).toBeLessThan(200);
  });

  it('when every session of the batch fails, falls back to a plain connect (does not hang)', async () => {
    const np = pools.get(key);
    // close every idle session, so the batch must open new ones
    while (np.pool.idleCount > 0) (await np.pool.connect()).release(true);
    proxy.next([0]);
    const failing = new NodePools({ configFor: () => ({ user: 'postgres', database: 'postgres', max: 10, connectionTimeoutMillis: 300 }), forward: () => {} });
    const deadKey = '127.0.0.1:1'; // nothing listens on port 1
    const dnp = failing.get(deadKey);
    const batch = failing.openMore(deadKey, 2).then(() => 'opened', () => 'failed');
    const t0 = Date.now();
    const outcome = await sessionOf(dnp).then((c) => (c.release(), 'session'), (e: Error) => e.message);
    expect(await batch).toBe('failed');
    expect(outcome).not.toBe('session');
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(dnp.opening).toBeUndefined();
    await failing.end();
  });
});
