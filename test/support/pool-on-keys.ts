/**
 * A local cluster with one node and etcd, Patroni 3-shaped keys written by hand (no manager)
 * naming that node the leader, and a Pool on those keys: for tests that move the keys themselves.
 */
import { afterAll, beforeAll } from 'vitest';
import { Etcd3 } from 'etcd3';
import { Pool } from '../../src/pool/pool';
import { useCluster, type LocalCluster } from './cluster';
import { patroniMemberValue } from './patroni-keys';

export interface PoolOnKeys {
  readonly cluster: LocalCluster;
  /** `/service/<scope>/` */
  readonly prefix: string;
  etcd: Etcd3;
  pool: Pool;
}

/** Call at describe level; `table` is created through the Pool. The Pool and the etcd client end after the block. */
export function usePoolOnKeys(scope: string, table: string, options: { failoverTimeoutMillis: number }): PoolOnKeys {
  const h = useCluster({ standbys: 0, etcd: true });
  const ctx = {
    get cluster() {
      return h.cluster;
    },
    prefix: `/service/${scope}/`,
    etcd: undefined as unknown as Etcd3,
    pool: undefined as unknown as Pool,
  };
  beforeAll(async () => {
    const c = h.cluster;
    ctx.etcd = new Etcd3({ hosts: c.etcd!.endpoints });
    await ctx.etcd.put(`${ctx.prefix}members/${c.primary.name}`).value(patroniMemberValue(c.primary, 'master'));
    await ctx.etcd.put(`${ctx.prefix}leader`).value(c.primary.name);
    ctx.pool = new Pool({ connectionString: c.connectionString(), topology: { source: 'etcd', hosts: c.etcd!.endpoints, scope }, failoverTimeoutMillis: options.failoverTimeoutMillis });
    ctx.pool.on('error', () => {});
    await ctx.pool.query(`CREATE TABLE ${table} (id int)`);
  });
  afterAll(async () => {
    await ctx.pool?.end();
    ctx.etcd?.close();
  });
  return ctx;
}
