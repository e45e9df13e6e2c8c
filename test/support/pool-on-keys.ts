/**
 * A local cluster with etcd, Patroni 3-shaped keys written by hand (no manager) naming its primary
 * the leader and its standbys replicas, and a Pool on those keys: for tests that move the keys themselves.
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

export interface PoolOnKeysOptions {
  failoverTimeoutMillis: number;
  /** Streaming standbys (keys say `replica`). Default 0. */
  standbys?: number;
  /** Run through the Pool, then replayed on every standby before the tests start. */
  createTable: string;
  /** Patroni's `status` key (`optime` 1): the members' lag is known with or without a leader. */
  status?: boolean;
  /** The Pool's sessions' `application_name`. */
  applicationName?: string;
}

/** Call at describe level. The Pool and the etcd client end after the block, the cluster by PID. */
export function usePoolOnKeys(scope: string, options: PoolOnKeysOptions): PoolOnKeys {
  const h = useCluster({ standbys: options.standbys ?? 0, etcd: true });
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
    for (const s of c.standbys) await ctx.etcd.put(`${ctx.prefix}members/${s.name}`).value(patroniMemberValue(s, 'replica'));
    await ctx.etcd.put(`${ctx.prefix}leader`).value(c.primary.name);
    if (options.status) await ctx.etcd.put(`${ctx.prefix}status`).value(JSON.stringify({ optime: 1 }));
    const params = options.applicationName ? { params: { application_name: options.applicationName } } : {};
    ctx.pool = new Pool({ connectionString: c.connectionString(params), topology: { source: 'etcd', hosts: c.etcd!.endpoints, scope }, failoverTimeoutMillis: options.failoverTimeoutMillis });
    ctx.pool.on('error', () => {});
    await ctx.pool.query(options.createTable);
    // a standby about to be promoted must have the table (CI once killed the primary before it replayed it)
    for (const s of c.standbys) await c.waitForReplay(s.name);
  });
  afterAll(async () => {
    await ctx.pool?.end();
    ctx.etcd?.close();
  });
  return ctx;
}
