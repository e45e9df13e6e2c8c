/**
 * The test cluster: the same launcher as `pg-failover up`, placed under the
 * suite's temp root, plus fault helpers. Every cluster a test starts is
 * stopped by PID in afterAll even when the test fails.
 */
import { beforeAll, afterAll } from 'vitest';
import pg from 'pg';
import { LocalCluster, type LocalClusterOptions, type LocalNode } from '../../src/local/cluster';

export { LocalCluster };
export type { LocalNode };

/**
 * Call at describe level: starts a cluster before the block's tests and stops
 * it (by PID) after them, pass or fail. Read `.cluster` inside tests.
 */
export function useCluster(options: LocalClusterOptions = {}, setup?: (c: LocalCluster) => Promise<void>): { cluster: LocalCluster } {
  const holder = {} as { cluster: LocalCluster };
  beforeAll(async () => {
    holder.cluster = await LocalCluster.start({ parentDir: process.env.PGFAILOVER_TEST_ROOT, ...options });
    if (setup) await setup(holder.cluster);
  });
  afterAll(async () => {
    await holder.cluster?.stop();
  });
  return holder;
}

/** kill -9 of the whole node (postmaster and backends). */
export const killNode = (node: LocalNode) => node.server.kill9();
/** SIGSTOP the whole node: it hangs, connections stay open but nothing answers. */
export const freezeNode = (node: LocalNode) => node.server.signalNode('SIGSTOP');
/** SIGCONT after freezeNode. */
export const thawNode = (node: LocalNode) => node.server.signalNode('SIGCONT');

/** A plain pg.Client to one node; the caller ends it. */
export async function connectTo(node: LocalNode, database = 'postgres'): Promise<pg.Client> {
  const client = new pg.Client({ host: node.server.host, port: node.server.port, user: 'postgres', database });
  client.on('error', () => {});
  await client.connect();
  return client;
}
