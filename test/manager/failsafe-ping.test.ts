/**
 * The primary's POST /failsafe client (src/manager/failsafe-ping.ts) against real local HTTP
 * servers: an acceptance with its `lsn` header, a refusal, a server that never answers (bounded
 * by the timeout), a closed port, basic auth on the wire; and the pre-race check that asks a
 * failsafe member whether it still runs as the primary.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { askMembers, failsafeEndpoint, runsAsPrimary } from '../../src/manager/failsafe-ping';
import { freePort } from '../../src/local/ports';

const seen: Array<{ path: string; auth: string | undefined; body: string }> = [];

async function serve(handler: (req: IncomingMessage, res: ServerResponse, body: string) => void): Promise<{ server: Server; api: string }> {
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      seen.push({ path: req.url ?? '', auth: req.headers.authorization, body });
      handler(req, res, body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, api: `http://127.0.0.1:${(server.address() as AddressInfo).port}/patroni` };
}

describe('failsafe ping: POST /failsafe to the members', () => {
  const servers: Server[] = [];
  let accepting: string;
  let leaderItself: string;
  let silent: string;
  let closed: string;
  let primary: string;
  let replica: string;

  beforeAll(async () => {
    const add = async (h: Parameters<typeof serve>[0]) => {
      const s = await serve(h);
      servers.push(s.server);
      return s.api;
    };
    accepting = await add((_q, res) => res.writeHead(200, { lsn: '67108864' }).end('Accepted'));
    leaderItself = await add((_q, res) => res.writeHead(500).end('Running as a leader'));
    silent = await add(() => {}); // reads the request, never answers
    closed = `http://127.0.0.1:${await freePort()}/patroni`;
    primary = await add((_q, res) => res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ role: 'primary', state: 'running' })));
    replica = await add((_q, res) => res.writeHead(200).end(JSON.stringify({ role: 'replica', state: 'running' })));
  });
  afterAll(async () => {
    for (const s of servers) {
      s.closeAllConnections();
      await new Promise((r) => s.close(r));
    }
  });

  it('one answer per member: accepted with its lsn; a refusal, silence (bounded by the timeout) and a closed port are not', async () => {
    const body = { name: 'n0', conn_url: 'postgres://127.0.0.1:5432/postgres', api_url: 'http://127.0.0.1:8008/patroni', slots: { n0: 1 } };
    const t0 = Date.now();
    const answers = await askMembers(
      [{ name: 'ok', apiUrl: accepting }, { name: 'leader', apiUrl: leaderItself }, { name: 'silent', apiUrl: silent }, { name: 'gone', apiUrl: closed }],
      body,
      { timeoutMillis: 600, auth: { username: 'u', password: 'p w' } },
    );
    const took = Date.now() - t0;
    expect(answers.map((a) => [a.name, a.accepted])).toEqual([['ok', true], ['leader', false], ['silent', false], ['gone', false]]);
    expect(answers[0]!.lsn).toBe(67108864);
    expect(answers[1]!.detail).toBe('500 Running as a leader');
    expect(answers[2]!.detail).toMatch(/timed out/);
    expect(answers[3]!.detail).toMatch(/ECONNREFUSED/);
    expect(took).toBeLessThan(2000); // in parallel, each within its 600 ms
    const got = seen.find((s) => s.path === '/failsafe' && JSON.parse(s.body || '{}').name === 'n0')!;
    expect(JSON.parse(got.body)).toEqual(body);
    expect(got.auth).toBe(`Basic ${Buffer.from('u:p w').toString('base64')}`);
  });

  it('asks whether a member still runs as the primary (GET its api_url)', async () => {
    const opts = { timeoutMillis: 600 };
    expect(await runsAsPrimary(primary, opts)).toBe(true);
    expect(await runsAsPrimary(replica, opts)).toBe(false);
    expect(await runsAsPrimary(closed, opts)).toBe(false);
    expect(await runsAsPrimary(silent, opts)).toBe(false);
    expect(failsafeEndpoint('https://[::1]:8008/patroni?x=1')).toBe('https://[::1]:8008/failsafe');
  });
});
