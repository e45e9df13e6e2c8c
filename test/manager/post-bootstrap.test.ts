/**
 * `bootstrap.post_bootstrap` (Patroni's hook, old name `post_init`) against real PostgreSQL and
 * etcd: run once after the new cluster started, with the superuser's conninfo as its last
 * argument and Patroni's PGOPTIONS; a script that fails fails the bootstrap, gives the
 * `/initialize` race back and moves the data directory aside.
 */
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Harness } from './harness';

describe('bootstrap.post_bootstrap', () => {
  const h = new Harness({ scope: 'postboot' });
  let scratch: string;

  beforeAll(async () => {
    await h.startEtcd();
    // the script runs as the PostgreSQL OS user when the tests run as root: a directory it may write
    scratch = join(h.dir, 'scratch');
    mkdirSync(scratch, { mode: 0o777 });
    chmodSync(scratch, 0o777);
  }, 60_000);
  afterAll(() => h.close(), 120_000);

  function script(name: string, body: string): string {
    const file = join(scratch, name);
    writeFileSync(file, `#!/bin/sh\n${body}\n`);
    chmodSync(file, 0o755);
    return file;
  }

  it('a failing script fails the bootstrap (COMMAND_FAILED) and gives /initialize back', async () => {
    const c = await h.config('bad');
    c.bootstrap.postBootstrap = `${script('fail.sh', 'exit 3')} --flag`;
    const agent = await h.agent('bad');
    await expect(agent.start()).rejects.toMatchObject({ code: 'COMMAND_FAILED' });
    expect((await h.keys()).initialize).toBeUndefined();
    expect(agent.postgres.isRunning()).toBe(false);
    // the half-made data directory is moved aside (Patroni's move_data_directory), not left to be started later
    expect(existsSync(c.postgresql.dataDir)).toBe(false);
    expect(readdirSync(join(c.postgresql.dataDir, '..')).some((f) => /^data_\d{4}-\d\d-\d\d-\d\d-\d\d-\d\d$/.test(f))).toBe(true);
  }, 90_000);

  it('runs once after the cluster started, with the conninfo last and PGOPTIONS set, before the node leads', async () => {
    const out = join(scratch, 'out.txt');
    const c = await h.config('good');
    c.bootstrap.postBootstrap = `${script('ok.sh', `printf '%s\\n' "$@" "$PGOPTIONS" > ${out}`)} 'an arg'`;
    await h.startAll(['good']);
    await h.until('leader', async () => (await h.leader()) === 'good', 30_000);
    const [arg, conninfo, pgoptions] = readFileSync(out, 'utf8').trim().split('\n');
    expect(arg).toBe('an arg');
    expect(conninfo).toMatch(new RegExp(`^dbname=postgres user=postgres host=127\\.0\\.0\\.1 port=${c.postgresql.connectAddress.port}$`));
    expect(pgoptions).toBe('-c synchronous_commit=local -c statement_timeout=0');
  }, 90_000);
});
