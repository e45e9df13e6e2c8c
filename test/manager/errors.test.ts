/**
 * Failure paths of the agent's start: typed errors with stable codes, and a
 * failed bootstrap gives the /initialize race back.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import { isFailoverError } from '../../src/errors';
import { freePort } from '../../src/local/ports';
import { Agent } from '../../src/manager/agent';
import { Harness } from './harness';

describe('agent start failures', () => {
  const h = new Harness({ scope: 'err' });
  beforeAll(() => h.startEtcd(), 60_000);
  afterAll(() => h.close(), 60_000);

  it('rejects with DCS_ERROR when etcd never answers within the bootstrap bound', async () => {
    const dead = await freePort();
    const cfg = await h.config('lonely', { etcd: `127.0.0.1:${dead}` });
    const agent = Agent.create(cfg, { bootstrapTimeoutMillis: 1500 });
    const t0 = Date.now();
    const err = await agent.start().catch((e: unknown) => e);
    expect(isFailoverError(err) && err.code).toBe('DCS_ERROR');
    expect(Date.now() - t0).toBeLessThan(8000);
    expect(agent.postgres.isRunning()).toBe(false);
  }, 20_000);

  it('refuses to initdb over a non-empty directory and gives /initialize back', async () => {
    const cfg = await h.config('junk');
    mkdirSync(cfg.postgresql.dataDir, { recursive: true });
    writeFileSync(`${cfg.postgresql.dataDir}/not-postgres.txt`, 'keep me');
    const agent = h.agents.set('junk', Agent.create(cfg)).get('junk')!;
    const err = await agent.start().catch((e: unknown) => e);
    expect(isFailoverError(err) && err.code).toBe('DATA_DIR_EXISTS');
    const keys = await h.keys();
    expect(keys.initialize).toBeUndefined();
    expect(keys.leader).toBeUndefined();
  }, 30_000);

  it('times out (TIMEOUT) waiting for a leader to clone from when /initialize is taken but nobody leads', async () => {
    await h.kv.put(`${h.prefix}initialize`).value('123');
    const agent = h.agents.set('late', Agent.create(await h.config('late'), { bootstrapTimeoutMillis: 1500 })).get('late')!;
    const err = await agent.start().catch((e: unknown) => e);
    expect(isFailoverError(err) && err.code).toBe('TIMEOUT');
    await h.kv.delete().key(`${h.prefix}initialize`);
  }, 20_000);
});
