/**
 * A Pool whose topology comes from etcd (`topology: { source: 'etcd' }`),
 * over a real primary + standby, with Patroni 3-shaped keys pointing at the
 * real nodes: writes go to the member the `leader` key names, reads to the
 * standby; losing the leader key holds writes until it is back.
 */
import { describe, test, expect, beforeAll, afterAll } from 'vitest';
import { Etcd3 } from 'etcd3';
import { Pool } from '../../src/pool/pool';
import { useCluster } from '../support/cluster';
import { patroniMemberValue } from '../support/patroni-keys';
import { startApi } from '../../src/manager/api';
import { EtcdTopology } from '../../src/topology/etcd';
import { PatroniRestTopology } from '../../src/topology/patroni-rest';
import { EtcdAgentView } from '../manager-contracts/etcd-agent-view';

const scope = 'pooltest';
const prefix = `/service/${scope}/`;


describe('Pool with topology from etcd', () => {
  const h = useCluster({ standbys: 1, etcd: true });
  let etcd: Etcd3;
  let pool: Pool;

  beforeAll(async () => {
    const c = h.cluster;
    etcd = new Etcd3({ hosts: c.etcd!.endpoints });
    await etcd.put(`${prefix}members/${c.primary.name}`).value(patroniMemberValue(c.primary, 'master', 50_331_744));
    await etcd.put(`${prefix}members/${c.standbys[0].name}`).value(patroniMemberValue(c.standbys[0], 'replica', 50_331_744));
    await etcd.put(`${prefix}leader`).value(c.primary.name);
    const s = c.standbys[0].server;
    const p = c.primary.server;
    // Standby listed first: only etcd can tell the pool which node is the primary.
    pool = new Pool({
      connectionString: `postgresql://postgres@${s.host}:${s.port},${p.host}:${p.port}/postgres`,
      topology: { source: 'etcd', hosts: c.etcd!.endpoints, scope },
      failoverTimeoutMillis: 5000,
      // Routing alone: with read-your-writes on, the read right after the INSERT may go to the
      // primary until the write's LSN is learnt (that behaviour has its own tests).
      readYourWrites: 'none',
    });
    pool.on('error', () => {});
  });

  afterAll(async () => {
    await pool?.end();
    etcd?.close();
  });

  test('writes go to the leader etcd names, reads to the standby', async () => {
    const c = h.cluster;
    await pool.query('CREATE TABLE IF NOT EXISTS topo_pool (id int)');
    const w = await pool.query<{ port: number }>('INSERT INTO topo_pool VALUES (1) RETURNING inet_server_port() AS port');
    expect(w.rows[0].port).toBe(c.primary.server.port);
    expect(pool.topology?.source).toBe('etcd');
    expect(pool.topology?.primary?.name).toBe(c.primary.name);

    await c.waitForReplay(c.standbys[0].name);
    const r = await pool.query<{ port: number; recovery: boolean; n: string }>(
      'SELECT inet_server_port() AS port, pg_is_in_recovery() AS recovery, count(*)::text AS n FROM topo_pool',
    );
    expect(r.rows[0]).toMatchObject({ port: c.standbys[0].server.port, recovery: true });
    expect(Number(r.rows[0].n)).toBeGreaterThanOrEqual(1);
  });

  test('leader key deleted → primaryChanged to none, writes held; key back → the held write completes on the primary', async () => {
    const c = h.cluster;
    const changes: Array<{ previous?: string; current?: string }> = [];
    pool.on('primaryChanged', (e) => changes.push(e));
    await etcd.delete().key(`${prefix}leader`);
    const deadline = Date.now() + 2000;
    while (pool.topology?.primary && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(pool.topology?.primary).toBeUndefined();
    expect(changes.at(-1)?.current).toBeUndefined();

    const held = pool.query<{ port: number }>('INSERT INTO topo_pool VALUES (2) RETURNING inet_server_port() AS port');
    await new Promise((r) => setTimeout(r, 200));
    await etcd.put(`${prefix}leader`).value(c.primary.name);
    const res = await held;
    expect(res.rows[0].port).toBe(c.primary.server.port);
    expect(changes.at(-1)?.current).toBe(`${c.primary.server.host}:${c.primary.server.port}`);
  });

  test('an announced switchover (failover key) holds new writes it could not resolve until the key goes or the leader changes; a single INSERT goes on, resolvable; reads go on', async () => {
    const c = h.cluster;
    await etcd.put(`${prefix}failover`).value(JSON.stringify({ leader: c.primary.name, member: c.standbys[0].name }));
    const deadline = Date.now() + 2000;
    while (!pool.topology?.switchoverPending && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(pool.topology?.switchoverPending).toEqual({ candidate: c.standbys[0].name });
    let done = false;
    // Two statements in one string cannot be wrapped to learn their transaction id: held.
    const held = pool.query('INSERT INTO topo_pool VALUES (4); INSERT INTO topo_pool VALUES (5)').then((r) => {
      done = true;
      return r;
    });
    await new Promise((r) => setTimeout(r, 300));
    expect(done).toBe(false); // held, not sent to the primary that is about to stop
    // One INSERT is sent as a resolvable write (its transaction id learnt first): it is not held.
    const t0 = Date.now();
    const single = await pool.query<{ port: number }>('INSERT INTO topo_pool VALUES (6) RETURNING inet_server_port() AS port');
    expect(Date.now() - t0).toBeLessThan(250);
    expect(single.rows[0]!.port).toBe(c.primary.server.port);
    expect(done).toBe(false);
    expect((await pool.query({ text: 'SELECT 1 AS one', route: 'standby' })).rows[0].one).toBe(1);
    await etcd.delete().key(`${prefix}failover`); // the switchover was refused/cancelled
    expect(((await held) as unknown as Array<{ rowCount: number }>).map((r) => r.rowCount)).toEqual([1, 1]);
  });

  test("the manager's REST API over the same keys: PatroniRestTopology agrees with EtcdTopology, and a Pool on it routes the same way", async () => {
    const c = h.cluster;
    const view = new EtcdAgentView(c.primary.name, scope, etcd, c.primary);
    const api = await startApi({ view, host: '127.0.0.1', port: 0 });
    const viaEtcd = new EtcdTopology({ hosts: c.etcd!.endpoints, scope });
    const viaRest = new PatroniRestTopology({ urls: [api.url] });
    let restPool: Pool | undefined;
    try {
      const [a, b] = await Promise.all([viaEtcd.start(), viaRest.start()]);
      const shape = (t: typeof a) => t.members.map((m) => ({ name: m.name, host: m.host, port: m.port, role: m.role, lagBytes: m.lagBytes }));
      expect(shape(b)).toEqual(shape(a));
      expect(b.primary?.name).toBe(c.primary.name);

      const s = c.standbys[0].server;
      restPool = new Pool({ connectionString: `postgresql://postgres@${s.host}:${s.port}/postgres`, topology: { source: 'patroni-rest', urls: [api.url] }, readYourWrites: 'none' }); // routing alone: the read right after the write may go to the standby
      restPool.on('error', () => {});
      const w = await restPool.query<{ port: number }>('INSERT INTO topo_pool VALUES (3) RETURNING inet_server_port() AS port');
      expect(w.rows[0].port).toBe(c.primary.server.port);
      const r = await restPool.query<{ port: number }>('SELECT inet_server_port() AS port');
      expect(r.rows[0].port).toBe(s.port);
    } finally {
      await restPool?.end();
      await viaEtcd.close();
      await viaRest.close();
      await api.close();
      await view.close();
    }
  });
});
