/**
 * Falling back to probing when etcd goes silent, on real servers and a real
 * etcd: with etcd stopped, the pool says so (a TOPOLOGY_SOURCE event naming
 * probing), never sends a write to a node in recovery, and follows a manual
 * promotion by probing; once etcd answers again its view is used.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { Etcd3 } from 'etcd3';
import { Pool } from '../../src/pool/pool';
import { FailoverError } from '../../src/errors';
import { useCluster, killNode } from '../support/cluster';
import { patroniMemberValue } from '../support/patroni-keys';

const scope = 'fallback';
const prefix = `/service/${scope}/`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));


describe('Pool (etcd source) when etcd goes silent', () => {
  const h = useCluster({ standbys: 1, etcd: true });
  let pool: Pool;
  const errors: FailoverError[] = [];

  beforeAll(async () => {
    const c = h.cluster;
    const etcd = new Etcd3({ hosts: c.etcd!.endpoints });
    await etcd.put(`${prefix}members/${c.primary.name}`).value(patroniMemberValue(c.primary, 'master'));
    await etcd.put(`${prefix}members/${c.standbys[0].name}`).value(patroniMemberValue(c.standbys[0], 'replica'));
    await etcd.put(`${prefix}leader`).value(c.primary.name);
    etcd.close();
    pool = new Pool({
      connectionString: c.connectionString(),
      topology: { source: 'etcd', hosts: c.etcd!.endpoints, scope, requestTimeoutMillis: 500 },
      fallbackToProbingMillis: 1000,
      failoverTimeoutMillis: 20_000,
    });
    pool.on('error', () => {});
    pool.on('topologyError', (e: FailoverError) => errors.push(e));
    await pool.query('CREATE TABLE fb (id int PRIMARY KEY)');
  });

  afterAll(async () => {
    await pool?.end();
  });

  it('probes the hosts after etcd has been unreachable for fallbackToProbingMillis, and follows a promotion', async () => {
    const c = h.cluster;
    const old = c.primary;
    const next = c.standbys[0];
    expect(pool.topology?.source).toBe('etcd');

    await c.etcd!.stopMember(0); // etcd is gone; the cluster's nodes are not touched
    await killNode(old);
    // Writes issued now are held: etcd still names the dead node and nobody else is writable.
    const write = pool.query<{ port: number; standby: boolean }>('INSERT INTO fb VALUES (1) RETURNING inet_server_port() AS port, pg_is_in_recovery() AS standby');
    const settled = write.then(() => Date.now(), () => Date.now());
    await sleep(2500);
    expect(await Promise.race([settled.then(() => 'settled'), sleep(1).then(() => 'pending')])).toBe('pending');
    const said = errors.find((e) => e.code === 'TOPOLOGY_SOURCE' && /probing the connection string's hosts/.test(e.message));
    expect(said, errors.map((e) => e.message).join('\n')).toBeDefined();
    expect(pool.topology?.source).toBe('probe');

    const promotedAt = Date.now();
    await c.promote(next.name);
    const r = await write;
    console.log(`etcd down: write held, then on the promoted node ${(await settled) - promotedAt} ms after the promotion (found by probing)`);
    expect(r.rows[0]).toEqual({ port: next.server.port, standby: false });
    expect((await settled) - promotedAt).toBeLessThan(3000);

    // etcd answers again (with its stale view naming the dead node): its view is used again.
    await c.etcd!.startMember(0);
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline && pool.topology?.source !== 'etcd') await sleep(100);
    expect(pool.topology?.source).toBe('etcd');
  }, 90_000);
});
