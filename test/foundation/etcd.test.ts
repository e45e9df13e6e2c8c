import { describe, test, expect, afterAll } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { EtcdCluster } from '../../src/local/etcd-server';
import { isAlive } from '../../src/manager/postgres';

describe('etcd launcher', () => {
  test.each([1, 3])('%i member(s) on loopback accept writes and are stopped by PID', async (members) => {
    const dir = mkdtempSync(join(process.env.PGFAILOVER_TEST_ROOT!, `etcd${members}-`));
    const etcd = await EtcdCluster.start({ baseDir: dir, members });
    const client = new Etcd3({ hosts: etcd.endpoints });
    try {
      expect(etcd.endpoints).toHaveLength(members);
      await client.put('/pgfo/k').value('v');
      for (const url of etcd.endpoints) {
        const c = new Etcd3({ hosts: url });
        expect(await c.get('/pgfo/k').string()).toBe('v');
        c.close();
      }
    } finally {
      client.close();
      const pids = etcd.members.map((m) => m.pid!);
      await etcd.stop();
      expect(pids.some(isAlive)).toBe(false);
      (await import('node:fs')).rmSync(dir, { recursive: true, force: true });
    }
  });
});
