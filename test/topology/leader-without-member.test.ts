/**
 * The leader key names a member whose own key is gone. A manager restarted in place (kill -9 of
 * its node, back within the ttl) moves its leader key to its new lease at once, while its member
 * key, on the dead process's lease, expires before the first HA loop writes it again — ~0.9 s in
 * the campaign, the node taking writes all along. The Pool asks the holder itself, at the address
 * its member key last gave (as it asks a holder still promoting), and writes there once it says
 * it is out of recovery. Real PostgreSQL, real etcd (keys by hand, no manager).
 */
import { describe, expect, it } from 'vitest';
import { usePoolOnKeys } from '../support/pool-on-keys';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('Pool (etcd source): the leader key outlives its member key', () => {
  const ctx = usePoolOnKeys('nomember', { failoverTimeoutMillis: 5000, createTable: 'CREATE TABLE nomember (id int)' });
  const { prefix } = ctx;

  it('a held write lands on the key holder once it takes writes, its member key still gone', async () => {
    const c = ctx.cluster;
    const server = c.primary.server;
    await server.stop('immediate');
    await ctx.etcd.delete().key(`${prefix}members/${c.primary.name}`); // the old lease expired; the leader key was moved
    await sleep(300);
    expect(ctx.pool.topology?.primary).toBeUndefined();
    const write = ctx.pool.query('INSERT INTO nomember VALUES (1)');
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
    expect(ctx.pool.topology?.primary?.name).toBe(c.primary.name);
    expect((await server.query<{ n: number }>('SELECT count(*)::int AS n FROM nomember'))[0]!.n).toBe(1);
  }, 60_000);

  it('no leader key: the member last seen is not used', async () => {
    await ctx.etcd.delete().key(`${prefix}leader`);
    await sleep(300);
    expect(ctx.pool.topology?.primary).toBeUndefined();
    expect(ctx.pool.topology?.promoting).toBeUndefined();
  });
});
