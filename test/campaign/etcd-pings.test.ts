/**
 * Found by the fault campaign (etcd-restart faults): after etcd restarts, the
 * Pool's etcd topology client (src/topology/etcd.ts: grpc keepalive 10 s,
 * keepalive_permit_without_calls) is sent GOAWAY "too_many_pings" by etcd
 * ~35 s later — grpc-js prints "rejected by server because of excess pings.
 * Increasing ping interval to 20000 ms" on the application's stderr (3 lines
 * per restart here) and from then on pings every 20 s, so a silent etcd is
 * noticed later. Without a restart nothing is printed. Fixed: the client no
 * longer pings without calls (the watch stream carries the keepalive).
 */
import { describe, it, expect, vi, afterAll } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { EtcdCluster } from '../../src/local/etcd-server';
import { EtcdTopology } from '../../src/topology/etcd';

describe('etcd topology after an etcd restart', () => {
  let dir: string | undefined;
  let etcd: EtcdCluster | undefined;
  let topo: EtcdTopology | undefined;
  afterAll(async () => {
    await topo?.close();
    await etcd?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('is not told "too many pings" by etcd (no grpc error lines, no ping back-off)', async () => {
    dir = mkdtempSync(join(process.env.PGFAILOVER_TEST_ROOT ?? tmpdir(), 'pings-'));
    etcd = await EtcdCluster.start({ baseDir: dir });
    topo = new EtcdTopology({ hosts: etcd.endpoints, scope: 'pings' });
    topo.on('error', () => {});
    await topo.start();
    const errors = vi.spyOn(console, 'error');
    etcd.kill(0);
    await sleep(3000);
    await etcd.startMember(0);
    await sleep(50_000);
    const pings = errors.mock.calls.map((c) => c.join(' ')).filter((l) => /excess pings/.test(l));
    errors.mockRestore();
    expect(pings).toEqual([]);
  }, 90_000);
});
