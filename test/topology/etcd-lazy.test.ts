/**
 * Importing pg-failover does not load etcd3 (gRPC, protobuf): an app that never uses the etcd
 * topology source does not pay ~150 ms of loading and the larger heap (which made the first query
 * of a fresh process ~15 ms slower than pg's and failed pg-pool's own idle-timeout test under load).
 * The built package (dist/, made by `npm test`) in a fresh process; etcd3 loads with the first client.
 */
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const dist = join(__dirname, '..', '..', 'dist', 'index.js');

describe.skipIf(!existsSync(dist))('etcd3 is loaded lazily', () => {
  const loaded = (script: string): string[] =>
    JSON.parse(
      execFileSync(process.execPath, ['-e', `${script}; console.log(JSON.stringify(Object.keys(require.cache).filter((k) => /node_modules\\/(etcd3|@grpc)\\//.test(k)).map((k) => k.replace(/.*node_modules\\//, '').split('/')[0])))`], {
        cwd: join(__dirname, '..', '..'),
      }).toString(),
    ) as string[];

  it('require("pg-failover") and a Pool over plain hosts load neither etcd3 nor gRPC', () => {
    expect(loaded(`const { Pool } = require(${JSON.stringify(dist)}); new Pool({ connectionString: 'postgresql://u@h1,h2/db' })`)).toEqual([]);
  });

  it('an etcd topology source loads them when it makes its client', () => {
    const mods = loaded(`const { EtcdTopology } = require(${JSON.stringify(join(__dirname, '..', '..', 'dist', 'topology', 'etcd.js'))}); const t = new EtcdTopology({ hosts: ['127.0.0.1:1'], scope: 's' }); t.start().catch(() => {}); t.close().catch(() => {})`);
    expect(mods).toContain('etcd3');
  });
});
