/**
 * pg-failover/express carries read-your-writes across requests: with replay
 * paused on every standby, a client that POSTed and sends the token back (in
 * the header, or only the cookie) reads its write on the next request; a
 * client without the token reads from a standby (stale, as it should: it saw
 * nothing); a forged token is ignored, never a 500.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import pg from 'pg';
import { useCluster, connectTo } from '../support/cluster';
import { Pool } from '../../src';
import { causalScope } from '../../src/integrations/express';
import { start } from '../../examples/express/app';

const HEADER = 'x-pgfailover-causal';

describe('pg-failover/express: the causal token travels between requests', () => {
  const h = useCluster({ standbys: 1 });
  let app: Awaited<ReturnType<typeof start>>;
  let standby: pg.Client;

  beforeAll(async () => {
    app = await start(h.cluster.connectionString());
    // The table must exist on the standby before replay stops.
    await h.cluster.waitForReplay(h.cluster.standbys[0]!.name);
    standby = await connectTo(h.cluster.standbys[0]!);
    await standby.query('SELECT pg_wal_replay_pause()');
  });
  afterAll(async () => {
    await standby?.query('SELECT pg_wal_replay_resume()').catch(() => {});
    await standby?.end();
    await app?.close();
  });

  const get = async (path: string, headers: Record<string, string> = {}) => {
    const res = await fetch(`${app.url}${path}`, { headers });
    return { status: res.status, body: (await res.json()) as { found?: boolean; standby?: boolean }, token: res.headers.get(HEADER), cookie: res.headers.get('set-cookie') };
  };

  it('a POST answers with the token (header and cookie); sending it back reads the write, even with replay paused', async () => {
    const res = await fetch(`${app.url}/items`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id: 1 }) });
    expect(res.status).toBe(201);
    const token = res.headers.get(HEADER);
    expect(token).toMatch(/^pgfo1:[0-9A-F]+\/[0-9A-F]+$/);
    const cookie = res.headers.get('set-cookie')!;
    expect(cookie).toMatch(/^pgfailover_causal=pgfo1%3A[0-9A-F]+%2F[0-9A-F]+; Path=\/; HttpOnly; SameSite=Lax$/);

    const withHeader = await get('/items/1', { [HEADER]: token! });
    expect(withHeader.body).toMatchObject({ found: true, standby: false });
    const withCookie = await get('/items/1', { cookie: `other=1; ${cookie.split(';')[0]}` });
    expect(withCookie.body).toMatchObject({ found: true, standby: false });

    // No token: this request wrote nothing and was told nothing, so a standby serves it (stale).
    const without = await get('/items/1');
    expect(without.body).toMatchObject({ found: false, standby: true });
    // A forged or malformed token is ignored (client input), not an error.
    for (const bad of ['pgfo1:zz', 'hello', 'pgfo1:1/2; drop']) {
      const r = await get('/items/1', { [HEADER]: bad });
      expect(r.status).toBe(200);
      expect(r.body).toMatchObject({ found: false, standby: true });
    }
    // The token the server sends back never goes below the one it was given.
    expect(withHeader.token).toBe(token);
  });

  it('refuses at startup what cannot work: a pg.Pool, an invalid header name, no carrier at all', () => {
    const plain = new pg.Pool();
    expect(() => causalScope(plain as never)).toThrow(expect.objectContaining({ code: 'INVALID_OPTION' }));
    void plain.end();
    const pool = new Pool({ connectionString: h.cluster.connectionString() });
    try {
      expect(() => causalScope(pool, { header: 'bad header' })).toThrow(expect.objectContaining({ code: 'INVALID_OPTION' }));
      expect(() => causalScope(pool, { header: false, cookie: false })).toThrow(expect.objectContaining({ code: 'INVALID_OPTION' }));
      expect(typeof causalScope(pool, { cookie: false })).toBe('function');
    } finally {
      void pool.end();
    }
  });
});
