/**
 * Starts a test cluster at module load (the vendored pg tests read PG* env
 * while they are being collected) and points libpq-style env vars at it.
 * Stopped by PID in afterAll.
 */
import { afterAll } from 'vitest';
import { LocalCluster } from '../../../src/local/cluster';

export async function clusterForVendoredTests(standbys: 0 | 1): Promise<LocalCluster> {
  const cluster = await LocalCluster.start({ parentDir: process.env.PGFAILOVER_TEST_ROOT, standbys });
  afterAll(async () => {
    await cluster.stop();
  });
  if (standbys > 0) for (const s of cluster.standbys) await cluster.waitForReplay(s.name);
  process.env.PGHOST = cluster.nodes.map((n) => n.server.host).join(',');
  process.env.PGPORT = cluster.nodes.map((n) => String(n.server.port)).join(',');
  process.env.PGUSER = 'postgres';
  process.env.PGDATABASE = 'postgres';
  delete process.env.PGPASSWORD;
  return cluster;
}
