/**
 * The leader key names a member whose own key is gone. A manager restarted in place (kill -9 of
 * its node, back within the ttl) moves its leader key to its new lease at once, while its member
 * key, on the dead process's lease, expires before the first HA loop writes it again — ~0.9 s in
 * the campaign, the node taking writes all along. The Pool asks the holder itself, at the address
 * its member key last gave (as it asks a holder still promoting), and writes there once it says
 * it is out of recovery. Real PostgreSQL, real etcd (keys by hand, no manager).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Etcd3 } from 'etcd3';
import { Pool } from '../../src/pool/pool';
import { useCluster } from '../support/cluster';
import { patroniMemberValue } from '../support/patroni-keys';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const prefix = '/service/nomember/';

describe('Pool (etcd source): the leader key outlives its member key', () => {
  const h = useCluster({ standbys: 0, etcd: true });
  let etcd: Etcd3;
  let pool: Pool;

  beforeAll(async () => {
    const c = h.cluster;
    etcd = new Etcd3({ hosts: c.etcd!.endpoints });
    await etcd.put(`${prefix}members/${c.primary.name}`).value(patroniMemberValue(c.primary, 'master'));
    await etcd.put(`${prefix}leader`).value(c.primary.name);
    pool = new Pool({ connectionString: c.connectionString(), topology: { source: 'etcd', hosts: c.etcd!.endpoints, scope: 'nomember' }, failoverTimeoutMillis: 5000 });
    pool.on('error', () => {});
    await pool.query('CREATE TABLE nomember (id int)');
  });

  afterAll(async () => {
    await pool?.end();
    etcd?.close();
  });

  it('a held write lands on the key holder once it takes writes, its member key still gone', async () => {
    const c = h.cluster;
    const server = c.primary.server;
    await server.stop('immediate');
    await etcd.delete().key(`${prefix}members/${c.primary.name}`); // the old lease expired; the leader key was moved
    await sleep(300);
    expect(pool.topology?.primary).toBeUndefined();
    const write = pool.query('INSERT INTO nomember VALUES (1)');
    const settled = write.then(
      () => Date.now(),
      () => Date.now(),
    );
    await sleep(300);
    await server.start();
    const startedAt = Date.now();
    await write;
    const took = (await settled) - startedAt;
    console.log(`held write landed ${took} ms after the restart (no member key)`);
    expect(took).toBeLessThan(1000);
    expect(pool.topology?.primary?.name).toBe(c.primary.name);
    expect((await server.query<{ n: number }>('SELECT count(*)::int AS n FROM nomember'))[0]!.n).toBe(1);
  }, 60_000);

  it('no leader key: the member last seen is not used', async () => {
    await etcd.delete().key(`${prefix}leader`);
    await sleep(300);
    expect(pool.topology?.primary).toBeUndefined();
    expect(pool.topology?.promoting).toBeUndefined();
  });
});
