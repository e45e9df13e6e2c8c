/**
 * pg-failover/observability on a real cluster: poolStats() describes the
 * topology, diagnostics_channel carries the Pool's events (a real kill -9 of
 * the primary and a promotion), and prom-client's scrape shows the primary,
 * the members, the sessions and the failover.
 */
import { describe, it, expect } from 'vitest';
import diagnosticsChannel from 'node:diagnostics_channel';
import * as prom from 'prom-client';
import { useCluster, killNode } from '../support/cluster';
import { Pool } from '../../src';
import { poolStats, registerPoolMetrics } from '../../src/integrations/observability';

describe('pool stats, diagnostics_channel events and prom-client metrics', () => {
  const h = useCluster({ standbys: 1 });

  it('describe the cluster before and after a failover', async () => {
    const pool = new Pool({ connectionString: h.cluster.connectionString(), recheckIntervalMillis: 200 });
    pool.on('error', () => {});
    const seen: Array<{ channel: string; message: Record<string, unknown> }> = [];
    const subs = ['primaryChanged', 'failoverEnd', 'nodeDown', 'route', 'hold'].map((name) => {
      const fn = (message: unknown) => seen.push({ channel: name, message: message as Record<string, unknown> });
      diagnosticsChannel.subscribe(`pg-failover:${name}`, fn);
      return () => diagnosticsChannel.unsubscribe(`pg-failover:${name}`, fn);
    });
    // No publishDiagnostics(pool): the Pool publishes on its channels itself.
    const stop = () => {};
    const registry = new prom.Registry();
    registerPoolMetrics(pool, prom as never, { registry });
    try {
      const oldKey = `127.0.0.1:${h.cluster.primary.server.port}`;
      const standbyKey = `127.0.0.1:${h.cluster.standbys[0]!.server.port}`;
      await pool.query('CREATE TABLE observed (x int)');
      const before = poolStats(pool);
      expect(before.primary).toBe(oldKey);
      expect(before.members.map((m) => [m.node, m.role]).sort()).toEqual([[oldKey, 'primary'], [standbyKey, 'standby']].sort());
      expect(before.totalCount).toBeGreaterThan(0);
      expect(seen.filter((x) => x.channel !== 'route')).toEqual([]); // the first topology is not a change
      expect(seen.some((x) => x.channel === 'route' && x.message.role === 'primary' && String(x.message.text).startsWith('CREATE TABLE'))).toBe(true);
      await pool.query('SELECT 1');
      const s0 = pool.stats();
      expect(s0.primary).toBe(oldKey);
      const primaryNode = s0.nodes.find((n) => n.node === oldKey)!;
      expect(primaryNode).toMatchObject({ role: 'primary', writes: 1, errors: 0 });
      expect(s0.nodes.find((n) => n.node === standbyKey)).toMatchObject({ role: 'standby', reads: 1 });
      expect(s0.failovers).toMatchObject({ count: 0, durationsMillis: [] });
      let text = await registry.metrics();
      expect(text).toContain(`pgfailover_primary{node="${oldKey}"} 1`);
      expect(text).toMatch(/pgfailover_pool_connections\{state="total"\} [1-9]/);
      expect(text).toContain(`pgfailover_member_up{node="${standbyKey}",role="standby"} 1`);
      expect(text).toContain('pgfailover_failovers 0');

      await killNode(h.cluster.primary);
      await h.cluster.promote(h.cluster.standbys[0]!.name);
      await pool.query('INSERT INTO observed VALUES (1)'); // held until the promoted node is found
      const after = poolStats(pool);
      expect(after.primary).toBe(standbyKey);
      expect(after.failovers?.failovers).toBe(1);
      const s1 = pool.stats();
      expect(s1.primary).toBe(standbyKey);
      expect(s1.failovers.count).toBe(1);
      expect(s1.failovers.durationsMillis).toHaveLength(1);
      expect(s1.failovers.durationsMillis[0]).toBeGreaterThan(0);
      expect(s1.nodes.find((n) => n.node === standbyKey)).toMatchObject({ role: 'primary', writes: 1 });
      expect(seen.some((s) => s.channel === 'failoverEnd' && s.message.primary === standbyKey && s.message.pool === pool)).toBe(true);
      expect(seen.some((s) => s.channel === 'primaryChanged' && s.message.current === standbyKey)).toBe(true);
      expect(seen.some((s) => s.channel === 'nodeDown' && s.message.node === oldKey)).toBe(true);
      text = await registry.metrics();
      expect(text).toContain(`pgfailover_primary{node="${standbyKey}"} 1`);
      expect(text).not.toContain(`pgfailover_primary{node="${oldKey}"}`);
      expect(text).toContain('pgfailover_failovers 1');
      expect(text).toMatch(/pgfailover_last_failover_seconds \d/);
    } finally {
      stop();
      subs.forEach((f) => f());
      await pool.end();
    }
  });
});
