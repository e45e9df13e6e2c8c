/**
 * Synchronous mode: the leader names one streaming standby in
 * synchronous_standby_names and in the `sync` key; a commit acknowledged by
 * the leader is on that standby; after the leader dies only the sync standby
 * may be promoted, and it records itself in `sync` first.
 */
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { Harness } from './harness';

describe('agent synchronous mode', () => {
  const h = new Harness({ scope: 'sync' });
  const names = ['n0', 'n1', 'n2'];
  let leader: string;
  let syncStandby: string;

  beforeAll(async () => {
    await h.startEtcd();
    await h.startAll(names, { 'synchronous-mode': 'true' });
    leader = await h.until('a leader', () => h.leader());
  }, 180_000);
  afterAll(() => h.close(), 120_000);

  it('publishes one sync standby that PostgreSQL really waits for', async () => {
    const sync = await h.until('sync key with a standby', async () => {
      const v = (await h.keys()).sync;
      const parsed = v ? (JSON.parse(v) as { leader: string; sync_standby: string | null }) : undefined;
      return parsed?.sync_standby ? parsed : undefined;
    });
    expect(sync.leader).toBe(leader);
    syncStandby = sync.sync_standby!;
    expect(names.filter((n) => n !== leader)).toContain(syncStandby);
    const [{ v }] = await h.query<{ v: string }>(leader, `SELECT current_setting('synchronous_standby_names') AS v`);
    expect(v).toBe(syncStandby); // Patroni quotes a name only where PostgreSQL needs it
    await h.until('sync_state sync', async () => {
      const rows = await h.query<{ application_name: string; sync_state: string }>(leader, 'SELECT application_name, sync_state FROM pg_stat_replication');
      return rows.find((r) => r.application_name === syncStandby)?.sync_state === 'sync';
    });
    expect(JSON.parse((await h.keys()).config!).synchronous_mode).toBe(true);
    const st = await h.agents.get(syncStandby)!.status();
    expect(st.sync_standby).toBe(true);
  });

  it('refuses a switchover to a member that is not the sync standby', async () => {
    const other = names.find((n) => n !== leader && n !== syncStandby)!;
    const outcome = await h.agents.get(leader)!.requestFailover('switchover', { leader, candidate: other });
    expect(outcome.status).toBe(412);
    expect(await h.leader()).toBe(leader);
  });

  it('after the leader dies, promotes only the sync standby, with the committed row', async () => {
    await h.query(leader, 'CREATE TABLE s (id int primary key)');
    await h.query(leader, 'INSERT INTO s VALUES (1)'); // acknowledged only once the sync standby has flushed it
    const dead = h.agents.get(leader)!;
    const t0 = Date.now();
    await dead.stop({ release: false, stopPostgres: false });
    await dead.postgres.kill9();
    const next = await h.until('new leader', async () => {
      const l = await h.leader();
      return l && l !== leader ? l : undefined;
    }, 30_000);
    console.log(`synchronous failover: ${next} leader ${Date.now() - t0} ms after kill -9 of ${leader}`);
    expect(next).toBe(syncStandby);
    await h.until('new primary writable', async () => h.agents.get(next)!.role === 'primary');
    expect((await h.query<{ id: number }>(next, 'SELECT id FROM s')).map((r) => r.id)).toEqual([1]);
    // The remaining replica becomes the new sync standby, and writes keep working.
    const third = names.find((n) => n !== leader && n !== next)!;
    await h.until('third is sync', async () => {
      const v = (await h.keys()).sync;
      return v && JSON.parse(v).leader === next && JSON.parse(v).sync_standby === third;
    }, 30_000);
    await h.query(next, 'INSERT INTO s VALUES (2)');
    await h.until('row 2 on the new sync standby', async () => (await h.query(third, 'SELECT 1 FROM s WHERE id = 2')).length === 1);
  }, 60_000);
});

describe('agent synchronous mode, long loop_wait', () => {
  // loop_wait 10 s: the leader names a new replica as sync standby as soon as the replica's
  // member key says it streams (a watch event), not at its next timed cycle. Without the
  // wake-up the delay is uniform over 0–10 s, so this fails about 4 times in 5.
  const h = new Harness({ scope: 'sync-wake', ttl: 30, loopWait: 10, retryTimeout: 10 });

  beforeAll(async () => {
    await h.startEtcd();
  });
  afterAll(() => h.close(), 120_000);

  let lastKey = '';
  it('names the sync standby within 2 s of the replica reporting that it streams', async () => {
    onTestFailed(() => console.log(`the replica's member key: ${lastKey}\n${h.lines.slice(-30).join('\n')}`));
    await h.startAll(['n0', 'n1'], { 'synchronous-mode': 'true' });
    const leader = await h.until('a leader', () => h.leader());
    const replica = leader === 'n0' ? 'n1' : 'n0';
    const streamingAt = await h.until(`${replica} streaming in its member key`, async () => {
      const v = (await h.keys())[`members/${replica}`];
      if (!v) return undefined;
      lastKey = v;
      return (JSON.parse(v) as { replication_state?: string }).replication_state === 'streaming' ? Date.now() : undefined;
    }, 60_000);
    const namedAt = await h.until(`sync key names ${replica}`, async () => {
      const v = (await h.keys()).sync;
      return v && (JSON.parse(v) as { sync_standby?: string }).sync_standby === replica ? Date.now() : undefined;
    }, 30_000);
    console.log(`sync standby named ${namedAt - streamingAt} ms after the replica's key said streaming (loop_wait 10 s)`);
    expect(namedAt - streamingAt).toBeLessThan(2000);
  }, 120_000);
});
