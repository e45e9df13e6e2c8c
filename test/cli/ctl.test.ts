/**
 * `pg-failover ctl` reads a cluster in Patroni's etcd layout. Keys here are
 * written exactly as Debian's Patroni 3.0.2 writes them (see
 * shared/PATRONI-CONTRACT.md), into a real etcd.
 */
import { describe, test, expect, beforeAll, afterAll } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { EtcdCluster } from '../../src/local/etcd-server';
import { readCluster, formatList } from '../../src/cli/ctl';

const bin = join(__dirname, '../../bin/pg-failover.js');
const run = (args: string[]) =>
  new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    execFile(process.execPath, [bin, ...args], { timeout: 30_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });

describe('ctl against Patroni-shaped keys in a real etcd', () => {
  let etcd: EtcdCluster;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(process.env.PGFAILOVER_TEST_ROOT!, 'ctl-'));
    etcd = await EtcdCluster.start({ baseDir: dir });
    const c = new Etcd3({ hosts: etcd.endpoints });
    const p = '/service/demo/';
    await c.put(`${p}leader`).value('pg1');
    await c.put(`${p}members/pg1`).value(JSON.stringify({ conn_url: 'postgres://127.0.0.1:5433/postgres', api_url: 'http://127.0.0.1:8009/patroni', state: 'running', role: 'master', version: '3.0.2', xlog_location: 50331648, timeline: 2 }));
    await c.put(`${p}members/pg2`).value(JSON.stringify({ conn_url: 'postgres://127.0.0.1:5434/postgres', api_url: 'http://127.0.0.1:8010/patroni', state: 'running', role: 'replica', version: '3.0.2', xlog_location: 50331648 - 3 * 1048576, timeline: 2 }));
    await c.put(`${p}members/pg0`).value('{not json');
    await c.put(`${p}history`).value(JSON.stringify([[1, 25165984, 'no recovery target specified', '2026-11-24T10:00:00+00:00', 'pg1']]));
    c.close();
  });
  afterAll(async () => {
    await etcd?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('readCluster: leader, members sorted, lag in MB, garbage member skipped', async () => {
    const view = await readCluster(etcd.endpoints, 'demo');
    expect(view.leader).toBe('pg1');
    expect(view.members.map((m) => [m.name, m.role, m.host, m.timeline, m.lagMB])).toEqual([
      ['pg1', 'Leader', '127.0.0.1:5433', 2, null],
      ['pg2', 'Replica', '127.0.0.1:5434', 2, 3],
    ]);
    expect(formatList(view)).toMatch(/\| pg2 +\| 127\.0\.0\.1:5434 \| Replica \| running \| 2 +\| 3 +\|/);
  });

  test('the CLI prints the same as JSON, and history', async () => {
    const list = await run(['ctl', 'list', '--etcd', etcd.endpoints.join(','), '--scope', 'demo', '--json']);
    expect(list.code).toBe(0);
    expect(JSON.parse(list.stdout).map((m: { name: string }) => m.name)).toEqual(['pg1', 'pg2']);
    const hist = await run(['ctl', 'history', '--etcd', etcd.endpoints[0]!, '--scope', 'demo', '--json']);
    expect(JSON.parse(hist.stdout)[0][4]).toBe('pg1');
  });

  test('missing --scope is a clear INVALID_OPTION error', async () => {
    const r = await run(['ctl', 'list', '--etcd', etcd.endpoints[0]!]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('INVALID_OPTION');
  });
});
