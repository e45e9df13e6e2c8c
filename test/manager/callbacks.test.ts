/**
 * `postgresql.callbacks` with Patroni's contract: `<cmd…> <action> <role>
 * <scope>`, run without waiting. A real script appends its arguments to a
 * file; a 2-node cluster starts (on_start), switches over (on_role_change
 * on both nodes: the new leader as primary, the old one as replica).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Harness } from './harness';
import { splitCommandLine } from '../../src/manager/callbacks';
import { loadManagerConfig } from '../../src/manager/config';

describe('splitCommandLine (POSIX-shell word splitting, no expansion)', () => {
  it('splits on blanks and honours quotes and backslashes', () => {
    expect(splitCommandLine('/usr/bin/cb.sh  --x=1')).toEqual(['/usr/bin/cb.sh', '--x=1']);
    expect(splitCommandLine(`sh -c 'echo "$1" >> /tmp/a b' cb`)).toEqual(['sh', '-c', 'echo "$1" >> /tmp/a b', 'cb']);
    expect(splitCommandLine('a "b \\"c\\" d" e\\ f ""')).toEqual(['a', 'b "c" d', 'e f', '']);
    expect(() => splitCommandLine("a 'b")).toThrow(/unterminated/);
  });
});

describe('Patroni YAML callbacks', () => {
  it('are read from postgresql.callbacks; unknown actions are reported', () => {
    const yaml = (extra: string) => `scope: s\nname: n1\nrestapi:\n  listen: 127.0.0.1:8008\netcd3:\n  hosts: 127.0.0.1:2379\npostgresql:\n  listen: 127.0.0.1:5432\n  data_dir: /tmp/x\n  authentication:\n    superuser: {username: postgres}\n    replication: {username: rep, password: r}\n  callbacks:\n    on_role_change: /usr/local/bin/repoint.sh --pgbouncer\n${extra}`;
    const { config } = loadManagerConfig(yaml(''));
    expect(config.postgresql.callbacks).toEqual({ on_role_change: '/usr/local/bin/repoint.sh --pgbouncer' });
    // Like Patroni, an unknown key is not fatal — but it is named in a warning, not silently dropped.
    const { config: c2, warnings } = loadManagerConfig(yaml('    on_promote: /x\n'));
    expect(c2.postgresql.callbacks).toEqual({ on_role_change: '/usr/local/bin/repoint.sh --pgbouncer' });
    expect(warnings.join('\n')).toMatch(/postgresql\.callbacks\.on_promote/);
  });
});

describe('agent callbacks on a real cluster', () => {
  const h = new Harness({ scope: 'cbs' });
  let first: string;
  let second: string;
  const logFile = () => join(h.dir, 'callbacks.log');

  const lines = (): string[] => (existsSync(logFile()) ? readFileSync(logFile(), 'utf8').trim().split('\n').filter(Boolean) : []);

  beforeAll(async () => {
    await h.startEtcd();
    const script = join(h.dir, 'cb.sh');
    writeFileSync(script, `#!/bin/sh\necho "$*" >> '${logFile()}'\n`);
    chmodSync(script, 0o755);
    for (const name of ['n0', 'n1']) {
      const config = await h.config(name);
      config.postgresql.callbacks = { on_start: `${script} ${name}`, on_stop: `${script} ${name}`, on_role_change: `${script} ${name}` };
    }
    await h.startAll(['n0', 'n1']);
    first = await h.until('a leader', () => h.leader());
    second = first === 'n0' ? 'n1' : 'n0';
  }, 180_000);
  afterAll(() => h.close(), 120_000);

  it('on_start with each role once the cluster is up', async () => {
    await h.until('both on_start callbacks', () => lines().filter((l) => l.includes(' on_start ')).length >= 2);
    expect(lines()).toEqual(expect.arrayContaining([`${first} on_start primary cbs`, `${second} on_start replica cbs`]));
  });

  it('on_role_change on both nodes after a switchover', async () => {
    const before = lines().length;
    const outcome = await h.agents.get(second)!.requestFailover('switchover', { leader: first, candidate: second });
    expect(outcome.status).toBe(200);
    await h.until(
      'role-change callbacks',
      () => {
        const now = lines().slice(before);
        return now.includes(`${second} on_role_change primary cbs`) && now.includes(`${first} on_role_change replica cbs`);
      },
      60_000,
    );
    const now = lines().slice(before);
    console.log(`callbacks after the switchover: ${JSON.stringify(now)}`);
    // The old leader also said it stopped, as the primary it was.
    expect(now).toContain(`${first} on_stop primary cbs`);
  }, 90_000);
});
