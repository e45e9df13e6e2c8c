/**
 * Pools a test file creates against one cluster, all ended after the file.
 * `pool(extra)` = `new Pool({ connectionString, ...extra })` with an 'error'
 * listener (idle sessions dying during a fault must not crash the run).
 */
import { afterAll } from 'vitest';
import { Pool } from '../../src';
import type { LocalNode } from './cluster';

export function usePools(connectionString: () => string): (extra?: ConstructorParameters<typeof Pool>[0] & object) => Pool {
  const pools: Pool[] = [];
  afterAll(async () => {
    await Promise.all(pools.map((p) => (p.ending ? undefined : p.end())));
  });
  return (extra = {}) => {
    const p = new Pool({ connectionString: connectionString(), ...extra });
    p.on('error', () => {});
    pools.push(p);
    return p;
  };
}

/** Pauses or resumes WAL replay on each standby (pg_wal_replay_pause/resume): real replication lag. */
export async function setReplayPaused(standbys: readonly LocalNode[], paused: boolean): Promise<void> {
  for (const s of standbys) await s.server.query(paused ? 'SELECT pg_wal_replay_pause()' : 'SELECT pg_wal_replay_resume()');
}
