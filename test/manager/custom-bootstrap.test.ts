/**
 * `bootstrap.method` with a command (Patroni's custom bootstrap) against real PostgreSQL and
 * etcd: a new cluster is created as a pg_basebackup clone of another cluster's primary by a
 * user's script — which gets Patroni's arguments (`--scope`, `--datadir`, `--<key>=<value>`) —
 * instead of initdb, leads its own scope, has the other cluster's data, and takes replicas.
 */
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Harness } from './harness';

describe('custom bootstrap (bootstrap.method with a command)', () => {
  const main = new Harness({ scope: 'origin' });
  const clone = new Harness({ scope: 'clone' });
  let argsFile: string;

  beforeAll(async () => {
    await main.startEtcd();
    clone.etcd = main.etcd; // one etcd, two scopes
    clone.kv = new Etcd3({ hosts: main.etcd.endpoints });
    const [m0] = await main.startAll(['m0']);
    await main.until('origin leader', () => main.leader());
    await main.query('m0', 'CREATE TABLE cloned (id int)');
    await main.query('m0', 'INSERT INTO cloned VALUES (42)');
    const remote = (await main.config('m0')).postgresql.connectAddress;
    // the command runs as the PostgreSQL OS user when the tests run as root: a directory it may write
    const scratch = join(clone.dir, 'scratch');
    mkdirSync(scratch, { mode: 0o777 });
    chmodSync(scratch, 0o777);
    argsFile = join(scratch, 'args.txt');
    const script = join(clone.dir, 'clone.sh');
    writeFileSync(
      script,
      `#!/bin/sh
echo "$@" > ${argsFile}
for a in "$@"; do case "$a" in --datadir=*) D="\${a#--datadir=}";; --source-port=*) P="\${a#--source-port=}";; esac; done
exec ${m0!.postgres.bin.path('pg_basebackup')} -D "$D" -h ${remote.host} -p "$P" -U postgres -X stream -c fast
`,
    );
    chmodSync(script, 0o755);
    for (const name of ['c0', 'c1']) {
      const c = await clone.config(name);
      c.bootstrap.method = { name: 'clone_it', command: script, extraArgs: [`--scope=clone`, `--datadir=${c.postgresql.dataDir}`, `--source-port=${remote.port}`], keepExistingRecoveryConf: false };
    }
  }, 180_000);

  afterAll(async () => {
    (clone as { etcd: unknown }).etcd = undefined; // main's, stopped by main.close()
    await clone.close();
    await main.close();
  }, 120_000);

  it('the /initialize winner runs the command instead of initdb and leads its own scope with the copied data', async () => {
    await clone.startAll(['c0']);
    await clone.until('clone leader', async () => (await clone.leader()) === 'c0', 60_000);
    expect(readFileSync(argsFile, 'utf8')).toMatch(/--scope=clone --datadir=\S+c0\S* --source-port=\d+/);
    expect(clone.agents.get('c0')!.role).toBe('primary');
    expect(await clone.query('c0', 'SELECT id FROM cloned')).toEqual([{ id: 42 }]);
    // a cluster of its own: writable, and its /initialize holds the (copied) system identifier
    await clone.query('c0', 'INSERT INTO cloned VALUES (43)');
    expect((await clone.keys()).initialize).toBe((await main.keys()).initialize);
    expect(await main.query('m0', 'SELECT id FROM cloned ORDER BY id')).toEqual([{ id: 42 }]);
  }, 90_000);

  it('a second member of the new cluster clones from its leader, not with the command', async () => {
    await clone.startAll(['c1']);
    await clone.until('row 43 on c1', async () => (await clone.query('c1', 'SELECT 1 FROM cloned WHERE id = 43')).length === 1, 60_000);
    expect(clone.agents.get('c1')!.role).toBe('replica');
  }, 90_000);
});
