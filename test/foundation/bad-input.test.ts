import { describe, test, expect } from 'vitest';
import { mkdtempSync, writeFileSync, rmSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { findPgBinaries, findEtcd } from '../../src/manager/pg-binaries';
import { PostgresServer, resolveServerUser } from '../../src/manager/postgres';
import { LocalCluster } from '../../src/local/cluster';

const root = () => process.env.PGFAILOVER_TEST_ROOT!;

describe('process control refuses bad input with clear, coded errors', () => {
  test('missing binaries name the program and the package', () => {
    const dir = mkdtempSync(join(root(), 'nobin-'));
    try {
      expect(() => findPgBinaries({ bindir: dir })).toThrow(expect.objectContaining({ code: 'BINARY_NOT_FOUND', message: expect.stringContaining('postgresql-15') }));
      expect(() => findEtcd({ PATH: dir })).toThrow(expect.objectContaining({ code: 'BINARY_NOT_FOUND', message: expect.stringContaining('etcd-server') }));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('an existing data directory is refused unless reuse is asked for', async () => {
    const dir = mkdtempSync(join(root(), 'exists-'));
    try {
      writeFileSync(join(dir, 'somefile'), 'x');
      const s = new PostgresServer({ dataDir: dir, port: 1, user: resolveServerUser() });
      await expect(s.initdb()).rejects.toMatchObject({ code: 'DATA_DIR_EXISTS' });
      await expect(s.basebackup({ host: '127.0.0.1', port: 1, user: 'postgres' })).rejects.toMatchObject({ code: 'DATA_DIR_EXISTS' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a server that fails to start reports its log tail', async () => {
    const dir = mkdtempSync(join(root(), 'badconf-'));
    chmodSync(dir, 0o711);
    const s = new PostgresServer({ dataDir: join(dir, 'data'), port: 5, user: resolveServerUser() });
    try {
      await s.initdb({ parameters: { shared_buffers: 'not-a-size' } });
      const err = await s.start().catch((e) => e);
      expect(err).toMatchObject({ code: 'SERVER_START_FAILED' });
      expect(err.message).toContain('shared_buffers');
    } finally {
      await s.stop('immediate').catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a port taken by someone else makes the launcher move to another free port', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const taken = (blocker.address() as { port: number }).port;
    const cluster = await LocalCluster.start({ standbys: 0, parentDir: root() });
    try {
      // Simulate the race: stop, point the server at the taken port, start through the launcher path.
      const primary = cluster.primary;
      await primary.server.stop('fast');
      primary.server.port = taken;
      const err = await primary.server.start().catch((e) => e);
      expect(err).toMatchObject({ code: 'SERVER_START_FAILED', detail: { portInUse: true } });
    } finally {
      blocker.close();
      await cluster.stop();
    }
  });
});
