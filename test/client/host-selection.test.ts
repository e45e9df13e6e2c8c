/**
 * Host selection parity with libpq: for every target_session_attrs value and
 * a matrix of host states, the host our Client connects to is the one psql
 * (libpq) connects to, on the same connection string, against real servers.
 */
import { describe, test, expect, beforeAll, afterAll } from 'vitest';
import { execFile } from 'node:child_process';
import { createServer, type Server, type Socket } from 'node:net';
import { useCluster, freezeNode, thawNode } from '../support/cluster';
import { Client } from '../../src/client/client';
import { freePort } from '../../src/local/ports';
import { TARGET_SESSION_ATTRS } from '../../src/client/session-attrs';

type HostState = 'primary' | 'standby' | 'refused' | 'reset' | 'hung' | 'starting';

/** A fake server for a failure real PostgreSQL only shows briefly: FATAL 57P03 at startup. */
function answerStartingUp(s: Socket): void {
  const fields = Buffer.from('SFATAL\0C57P03\0Mthe database system is starting up\0\0');
  const packet = Buffer.alloc(5 + fields.length);
  packet.write('E');
  packet.writeInt32BE(fields.length + 4, 1);
  fields.copy(packet, 5);
  s.once('data', (d) => {
    if (d.length === 8 && d.readInt32BE(4) === 80877103) {
      s.write('N'); // no SSL; then the real startup packet
      s.once('data', () => s.end(packet));
    } else s.end(packet);
  });
}

function psqlPort(conninfo: string): Promise<string> {
  return new Promise((resolve) => {
    execFile(
      'psql',
      [conninfo, '-XAtqc', 'SELECT inet_server_port()'],
      { env: { PATH: process.env.PATH, PGCONNECT_TIMEOUT: '' }, timeout: 30_000 },
      (err, stdout) => resolve(err ? 'error' : stdout.trim()),
    );
  });
}

async function ourPort(conninfo: string): Promise<string> {
  const c = new Client(conninfo);
  try {
    await c.connect();
    const { rows } = await c.query('SELECT inet_server_port() AS p');
    return String(rows[0].p);
  } catch (e) {
    expect((e as { code?: string }).code).toBe('NO_HOST_AVAILABLE');
    return 'error';
  } finally {
    await c.end().catch(() => {});
  }
}

describe('Client picks the same host as libpq', () => {
  const ctx = useCluster({ standbys: 1 });
  const ports = {} as Record<HostState, number>;
  const servers: Server[] = [];
  const sockets = new Set<Socket>();

  beforeAll(async () => {
    ports.primary = ctx.cluster.primary.server.port;
    ports.standby = ctx.cluster.standbys[0]!.server.port;
    ports.refused = await freePort();
    // 'reset': accepts and immediately closes; 'hung': accepts and never answers (a frozen server's kernel does the same).
    // 'starting': answers every startup with FATAL 57P03, like a server still in crash recovery.
    for (const state of ['reset', 'hung', 'starting'] as const) {
      const srv = createServer((s) => {
        sockets.add(s);
        s.on('error', () => {});
        s.on('close', () => sockets.delete(s));
        if (state === 'reset') s.destroy();
        if (state === 'starting') answerStartingUp(s);
      });
      await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
      ports[state] = (srv.address() as { port: number }).port;
      servers.push(srv);
    }
  });
  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  });

  const orders: HostState[][] = [
    ['primary', 'standby'],
    ['standby', 'primary'],
    ['refused', 'standby', 'primary'],
    ['reset', 'primary', 'standby'],
    ['refused', 'reset'],
    ['standby'],
    ['primary'],
    ['hung', 'standby', 'primary'],
    ['starting', 'standby', 'primary'],
    ['starting', 'refused'],
  ];

  for (const attrs of TARGET_SESSION_ATTRS) {
    test(`target_session_attrs=${attrs}`, async () => {
      const results = await Promise.all(
        orders.map(async (order) => {
          const conninfo = `host=${order.map(() => '127.0.0.1').join(',')} port=${order.map((s) => ports[s]).join(',')} user=postgres dbname=postgres connect_timeout=2 target_session_attrs=${attrs}`;
          const [libpq, ours] = await Promise.all([psqlPort(conninfo), ourPort(conninfo)]);
          return { order: order.join(','), libpq, ours };
        }),
      );
      for (const r of results) expect({ order: r.order, port: r.ours }).toEqual({ order: r.order, port: r.libpq });
      // The matrix must exercise both outcomes, or it proves nothing.
      expect(results.some((r) => r.libpq === 'error') || attrs === 'any').toBe(true);
      expect(results.some((r) => r.libpq !== 'error')).toBe(true);
    });
  }

  test('a frozen PostgreSQL costs connect_timeout, then the next host is used (like libpq)', async () => {
    const standby = ctx.cluster.standbys[0]!;
    freezeNode(standby);
    try {
      const conninfo = `host=127.0.0.1,127.0.0.1 port=${ports.standby},${ports.primary} user=postgres dbname=postgres connect_timeout=2`;
      const started = Date.now();
      expect(await ourPort(conninfo)).toBe(String(ports.primary));
      const took = Date.now() - started;
      expect(took).toBeGreaterThanOrEqual(1900);
      expect(took).toBeLessThan(6000);
    } finally {
      thawNode(standby);
    }
  });

  test('several hung hosts cost one connect_timeout, not one each (happy eyeballs), and the same host wins as with libpq', async () => {
    const conninfo = `host=127.0.0.1,127.0.0.1,127.0.0.1,127.0.0.1 port=${ports.hung},${ports.hung},${ports.hung},${ports.primary} user=postgres dbname=postgres connect_timeout=2`;
    const t0 = Date.now();
    const libpq = await psqlPort(conninfo);
    const libpqMillis = Date.now() - t0;
    const t1 = Date.now();
    const ours = await ourPort(conninfo);
    const ourMillis = Date.now() - t1;
    console.log(`3 hung hosts then the primary: libpq ${libpqMillis} ms, pg-failover ${ourMillis} ms`);
    expect(ours).toBe(libpq);
    expect(ours).toBe(String(ports.primary));
    expect(libpqMillis).toBeGreaterThanOrEqual(5500);
    expect(ourMillis).toBeGreaterThanOrEqual(1900); // the first host still gets its whole connect_timeout
    expect(ourMillis).toBeLessThan(3500);
  }, 30_000);

  test('when every host fails, one error lists each host and why (refused, then FATAL at startup)', async () => {
    const c = new Client(`postgresql://postgres@127.0.0.1:${ports.refused},127.0.0.1:${ports.starting}/postgres`);
    const err = await c.connect().catch((e) => e);
    expect(err.code).toBe('NO_HOST_AVAILABLE');
    expect(err.detail.attempts.map((a: { port: number }) => a.port)).toEqual([ports.refused, ports.starting]);
    expect(err.detail.attempts[1].errorCode).toBe('57P03');
    expect(err.detail.attempts[0].errorCode).toBe('ECONNREFUSED');
    expect(err.message).toContain(`127.0.0.1:${ports.refused}`);
    expect(err.message).toContain(`127.0.0.1:${ports.starting}`);
  });
});
