/**
 * Quorum commit (`synchronous_mode: quorum`) on real servers: the leader lists every streaming
 * standby as `ANY 1 (…)` and records them as voters with quorum 1 in `sync`; the REST API answers
 * /quorum for them; after the leader dies a voter that sees another voter takes over with every
 * acknowledged row; and a voter that sees no other voter does NOT take over (it may lack a
 * commit only the other one acknowledged) until that voter is back.
 */
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { startApi, type RunningApi } from '../../src/manager/api';
import { Harness } from './harness';

interface SyncKey {
  leader: string;
  sync_standby: string | null;
  quorum: number;
}

describe('agent quorum commit', () => {
  const h = new Harness({ scope: 'quorum' });
  const names = ['n0', 'n1', 'n2'];
  const apis = new Map<string, RunningApi>();
  const cycles: string[] = [];
  let leader: string;
  const sync = async () => {
    const v = (await h.keys()).sync;
    return v ? (JSON.parse(v) as SyncKey) : undefined;
  };
  const status = async (name: string, path: string) => (await fetch(`${apis.get(name)!.url}${path}`)).status;

  beforeAll(async () => {
    await h.startEtcd();
    const agents = await h.startAll(names, { 'synchronous-mode': 'quorum' });
    for (const a of agents) {
      apis.set(a.name, await startApi({ view: a, host: '127.0.0.1', port: a.config.restapi.listen.port }));
      a.on('cycle', (line) => cycles.push(`${a.name}: ${line}`));
    }
    leader = await h.until('a leader', () => h.leader());
  }, 180_000);
  afterAll(async () => {
    for (const api of apis.values()) await api.close().catch(() => {});
    await h.close();
  }, 120_000);

  it('lists both standbys as ANY 1 in PostgreSQL and as voters with quorum 1 in the sync key', async () => {
    onTestFailed(() => console.log(h.lines.slice(-40).join('\n')));
    const standbys = names.filter((n) => n !== leader);
    const key = await h.until('sync key with two voters', async () => {
      const k = await sync();
      return k?.sync_standby === standbys.join(',') && k.quorum === 1 ? k : undefined;
    }, 60_000);
    expect(key.leader).toBe(leader);
    // the key may lead the GUC by a step (voters ⊇ listed names while a standby joins): both get there
    const guc = async () => (await h.query<{ v: string }>(leader, `SELECT current_setting('synchronous_standby_names') AS v`))[0]!.v;
    await h.until('both listed in the GUC', async () => (await guc()) === `ANY 1 (${standbys.join(',')})`, 20_000);
    const rows = await h.query<{ application_name: string; sync_state: string }>(leader, 'SELECT application_name, sync_state FROM pg_stat_replication ORDER BY 1');
    expect(rows.map((r) => r.sync_state)).toEqual(['quorum', 'quorum']);
  }, 90_000);

  it('answers /quorum and /read-only-quorum for the voters, /sync for nobody, and shows quorum_standby in /cluster', async () => {
    const voter = names.find((n) => n !== leader)!;
    await h.until('agent saw the key', async () => (await status(voter, '/quorum')) === 200);
    expect(await status(leader, '/quorum')).toBe(503);
    expect(await status(leader, '/read-only-quorum')).toBe(200);
    expect(await status(voter, '/read-only-quorum')).toBe(200);
    expect(await status(voter, '/sync')).toBe(503);
    expect(await status(voter, '/async')).toBe(503);
    const patroni = (await (await fetch(`${apis.get(voter)!.url}/patroni`)).json()) as Record<string, unknown>;
    expect(patroni.quorum_standby).toBe(true);
    expect(patroni.sync_standby).toBeUndefined();
    const cluster = (await (await fetch(`${apis.get(leader)!.url}/cluster`)).json()) as { members: Array<{ name: string; role: string }> };
    expect(cluster.members.map((m) => m.role).sort()).toEqual(['leader', 'quorum_standby', 'quorum_standby']);
  }, 60_000);

  it('with the leader and one voter gone, the remaining voter does not take over; with the other voter back, one does, with the row', async () => {
    onTestFailed(() => console.log([...h.lines.slice(-40), ...cycles.slice(-30)].join('\n')));
    await h.query(leader, 'CREATE TABLE q (id int primary key)');
    await h.query(leader, 'INSERT INTO q VALUES (1)'); // acknowledged once one of the two voters has it
    const [lonely, away] = names.filter((n) => n !== leader) as [string, string];
    const awayConfig = h.configs.get(away)!;
    for (const n of [leader, away]) {
      const a = h.agents.get(n)!;
      await apis.get(n)!.close();
      await a.stop({ release: false, stopPostgres: false });
      await a.postgres.kill9();
    }
    // ttl 5 s: the leader key is gone after ≤ 5 s; give the lonely voter 3 more cycles to (wrongly) race
    await h.until('leader key expired', async () => (await h.leader()) === undefined, 20_000);
    await new Promise((r) => setTimeout(r, 4000));
    expect(await h.leader()).toBeUndefined();
    expect(cycles.some((l) => l.startsWith(`${lonely}: `) && l.includes('quorum not reached'))).toBe(true);
    // the other voter comes back: now they see each other, and the newest wins
    const back = await h.agent(away);
    expect(back.config).toBe(awayConfig);
    await back.start();
    const next = await h.until('new leader', async () => {
      const l = await h.leader();
      return l && l !== leader ? l : undefined;
    }, 60_000);
    expect([lonely, away]).toContain(next);
    await h.until('new primary writable', async () => h.agents.get(next)!.role === 'primary', 30_000);
    expect((await h.query<{ id: number }>(next, 'SELECT id FROM q')).map((r) => r.id)).toEqual([1]);
    // the new leader records itself; the dead old leader leaves the voters once it does not stream
    const key = await h.until('sync key led by the new leader without the old one', async () => {
      const k = await sync();
      return k?.leader === next && !(k.sync_standby ?? '').includes(leader) ? k : undefined;
    }, 30_000);
    expect(key.sync_standby).toBe(next === lonely ? away : lonely);
  }, 150_000);

  it('synchronous_node_count above the standbys is capped (and logged); synchronous_mode false clears the key, then the GUC', async () => {
    onTestFailed(() => console.log([...h.lines.slice(-30), ...cycles.slice(-10)].join('\n')));
    const now = (await h.leader())!;
    const agent = h.agents.get(now)!;
    expect((await agent.patchConfig({ synchronous_node_count: 5 })).status).toBe(200);
    await h.until('cap logged', () => h.lines.some((l) => l.includes('synchronous_node_count 5 is more than the 1 eligible streaming standbys; using 1')), 20_000);
    const [{ v }] = await h.query<{ v: string }>(now, `SELECT current_setting('synchronous_standby_names') AS v`);
    expect(v).toMatch(/^ANY 1 \(n\d\)$/);
    expect((await agent.patchConfig({ synchronous_mode: false })).status).toBe(200);
    await h.until('sync key deleted', async () => (await h.keys()).sync === undefined, 20_000);
    await h.until('GUC reset', async () => (await h.query<{ v: string }>(now, `SELECT current_setting('synchronous_standby_names') AS v`))[0]!.v === '', 10_000);
  }, 60_000);
});
