/**
 * resolveWriteOutcome sends `BEGIN; SELECT pg_current_xact_id() …` first. When that statement
 * fails (a node that is a standby after all refuses to assign an id; a full disk), its BEGIN has
 * left an aborted transaction block open on the session, and nothing else was sent. Such a session
 * must never go back to the pool: every later statement on it would fail with 25P02 ("current
 * transaction is aborted"); the campaign counted 157 inserts failing so on a full disk.
 *
 * Real primary, standby and etcd: the keys first name the standby as the primary (the write's id
 * is refused there), then the truth; reads then run on the standby's sessions.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Etcd3 } from 'etcd3';
import { FailoverError, Pool } from '../../src';
import { useCluster } from '../support/cluster';

function member(host: string, port: number, role: string): string {
  return JSON.stringify({ conn_url: `postgres://${host}:${port}/postgres`, api_url: 'http://127.0.0.1:1/patroni', state: 'running', role, version: '3.0.2', timeline: 1 });
}

describe('a resolvable write whose transaction id is refused', () => {
  const h = useCluster({ standbys: 1, etcd: true }, async (c) => {
    await c.primary.server.query('CREATE TABLE rs (id int PRIMARY KEY)');
    await c.waitForReplay(c.standbys[0]!.name);
  });
  const scope = 'rsession';
  let etcd: Etcd3;
  let pool: Pool;
  const put = async (leader: 'primary' | 'standby') => {
    const c = h.cluster;
    const [p, s] = [c.primary.server, c.standbys[0]!.server];
    await etcd.put(`/service/${scope}/members/p`).value(member(p.host, p.port, leader === 'primary' ? 'master' : 'replica'));
    await etcd.put(`/service/${scope}/members/s`).value(member(s.host, s.port, leader === 'standby' ? 'master' : 'replica'));
    await etcd.put(`/service/${scope}/leader`).value(leader === 'primary' ? 'p' : 's');
  };

  beforeAll(async () => {
    etcd = new Etcd3({ hosts: h.cluster.etcd!.endpoints });
    await put('standby');
    const p = h.cluster.primary.server;
    pool = new Pool({
      connectionString: `postgresql://postgres@${p.host}:${p.port}/postgres`,
      topology: { source: 'etcd', hosts: h.cluster.etcd!.endpoints, scope },
      resolveWriteOutcome: true,
      failoverTimeoutMillis: 400,
      readFrom: 'standby',
    });
    pool.on('error', () => {});
  });
  afterAll(async () => {
    await pool?.end();
    etcd?.close();
  });

  test('does not leave its session in an aborted block: later statements on that node run', async () => {
    // The standby, named primary, refuses the id; the write is held and retried until the deadline.
    const err = await pool.query('INSERT INTO rs VALUES (1)').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FailoverError);
    expect((err as FailoverError).code).toBe('FAILOVER_TIMEOUT');
    await put('primary');
    for (let i = 0; i < 100 && pool.topology?.primary?.name !== 'p'; i++) await new Promise((r) => setTimeout(r, 10));
    expect(pool.topology?.primary?.name).toBe('p');
    const failures: string[] = [];
    for (let i = 0; i < 30; i++) {
      try {
        const { rows } = await pool.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r');
        expect(rows[0]!.r).toBe(true); // on the standby's sessions
      } catch (e) {
        failures.push(`${(e as { code?: string }).code}: ${(e as Error).message}`);
      }
    }
    expect(failures).toEqual([]);
    await pool.query('INSERT INTO rs VALUES (2)');
    expect((await h.cluster.primary.server.query<{ n: number }>('SELECT count(*)::int AS n FROM rs'))[0]!.n).toBe(1);
  }, 60_000);
});
