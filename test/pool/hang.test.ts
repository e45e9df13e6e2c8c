/**
 * A hung primary (SIGSTOP of every PostgreSQL process: sockets stay open,
 * nothing answers). The statement in flight must not hang with it: once the
 * topology declares the node unreachable, its sessions are aborted and the
 * write is reported TRANSACTION_RESOLUTION_UNKNOWN; reads go on.
 */
import { describe, it, expect, afterAll } from 'vitest';
import { Pool, FailoverError } from '../../src';
import { useCluster, freezeNode, thawNode } from '../support/cluster';

const h = useCluster({ standbys: 1 }, async (c) => {
  await c.primary.server.query('CREATE TABLE hang_t (id int PRIMARY KEY)');
  await c.waitForReplay(c.standbys[0]!.name);
});
let pool: Pool | undefined;
let frozen = false;
afterAll(async () => {
  if (frozen) thawNode(h.cluster.primary);
  await pool?.end();
});

describe('hung primary', () => {
  it('aborts the write stuck on a frozen primary within the probe timeout, keeps reads on the standby', async () => {
    pool = new Pool({ connectionString: h.cluster.connectionString(), topology: { source: 'probe', probeTimeoutMillis: 1000 }, recheckIntervalMillis: 300, failoverTimeoutMillis: 60_000 });
    pool.on('error', () => {});
    await pool.query('INSERT INTO hang_t VALUES (0)');
    await pool.causalToken();
    await new Promise((r) => setTimeout(r, 100));
    // The write is on the wire when the node freezes: pg_sleep keeps it there.
    const stuck = pool.query('INSERT INTO hang_t SELECT 1 FROM pg_sleep(0.5)').then(
      () => 'ok',
      (e: unknown) => e,
    );
    await new Promise((r) => setTimeout(r, 100));
    const t0 = Date.now();
    freezeNode(h.cluster.primary);
    frozen = true;
    const err = await stuck;
    const waited = Date.now() - t0;
    expect(err).toBeInstanceOf(FailoverError);
    expect((err as FailoverError).code).toBe('TRANSACTION_RESOLUTION_UNKNOWN');
    expect(waited).toBeLessThan(5000); // probe recheck 300 ms + probe timeout 1 s, with slack for a loaded machine
    const r = await pool.query({ text: 'SELECT pg_is_in_recovery() AS standby, count(*)::int AS n FROM hang_t', route: 'standby' });
    expect(r.rows[0]).toEqual({ standby: true, n: 1 });
    console.log(`in-flight write on a frozen primary failed after ${waited} ms`);
    thawNode(h.cluster.primary);
    frozen = false;
  }, 60_000);
});
