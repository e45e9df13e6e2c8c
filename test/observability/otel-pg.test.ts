/**
 * @opentelemetry/instrumentation-pg still traces through pg-failover: it patches
 * `pg` (which our per-node pools use), so every statement gets a span naming the
 * node that ran it — reads a standby, writes and transactions the primary.
 * Runs the built package in a child Node (the instrumentation must load before pg).
 */
import { describe, it, expect } from 'vitest';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { useCluster } from '../support/cluster';

describe('OpenTelemetry pg instrumentation on a pg-failover Pool', () => {
  const h = useCluster({ standbys: 1 });

  it('spans carry the statement and the port of the node that ran it', async () => {
    const out = await new Promise<string>((resolve, reject) =>
      execFile(process.execPath, [join(__dirname, 'otel-trace.cjs')], { cwd: join(__dirname, '..', '..'), env: { ...process.env, URL: h.cluster.connectionString() }, timeout: 30_000 }, (err, stdout, stderr) =>
        err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout),
      ),
    );
    const spans = JSON.parse(out) as Array<{ name: string; statement?: string; port?: number }>;
    const primary = h.cluster.primary.server.port;
    const standby = h.cluster.standbys[0]!.server.port;
    const find = (re: RegExp) => spans.filter((s) => re.test(s.statement ?? ''));
    expect(find(/traced-read/).map((s) => s.port)).toEqual([standby]);
    expect(find(/traced-txn/).map((s) => s.port)).toEqual([primary]);
    expect(find(/^INSERT INTO traced VALUES \(1\)$/).map((s) => s.port)).toEqual([primary]);
    expect(find(/^BEGIN$/).map((s) => s.port)).toEqual([primary]);
  });
});
