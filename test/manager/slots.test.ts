/**
 * Replication slots on real servers (slot-sync.ts), Patroni 4's way: permanent physical and
 * logical slots from the dynamic configuration (`slots`), a slot for every other member on
 * every node, logical slots copied to the replica from the leader's state file and advanced
 * there from `status.slots`, unknown slots dropped unless `ignore_slots` covers them, and the
 * leader's `status` key with `slots` and `retain_slots`. A logical slot on a cluster without
 * wal_level=logical is a log line, not a failure.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Harness } from './harness';

const LOGICAL = { type: 'logical', database: 'postgres', plugin: 'test_decoding' };

describe('replication slots (Patroni 4: slots, ignore_slots, member_slots_ttl)', () => {
  const h = new Harness({ scope: 'slots', ttl: 5, loopWait: 1, retryTimeout: 2 });
  const slot = async (node: string, name: string) =>
    (await h.query<{ slot_type: string; plugin: string | null; restart_lsn: string | null; confirmed_flush_lsn: string | null }>(node, 'SELECT slot_type, plugin, restart_lsn::text, confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = $1', [name]))[0];
  const status = async () => JSON.parse((await h.keys()).status ?? '{}') as { optime?: number; slots?: Record<string, number>; retain_slots?: string[] };

  beforeAll(async () => {
    await h.startEtcd();
    for (const n of ['n0', 'n1']) {
      const c = await h.config(n);
      c.bootstrap.dcs.raw = { ...c.bootstrap.dcs.raw, slots: { keep_phys: null, logi: LOGICAL }, ignore_slots: [{ name: 'mine', plugin: 'test_decoding' }] };
    }
    await h.startAll(['n0']);
    await h.until('n0 leads', async () => (await h.leader()) === 'n0');
    await (await h.agent('n1')).start();
  }, 120_000);
  afterAll(() => h.close(), 60_000);

  it('without wal_level=logical: the permanent physical slot is there, the logical one is a clear log line', async () => {
    await h.until('keep_phys on n0', async () => (await slot('n0', 'keep_phys'))?.slot_type === 'physical', 15_000);
    await h.until('the wal_level line', () => h.lines.some((l) => /n0: replication slots: permanent logical slot logi .* not created: .*wal_level: logical/.test(l)), 10_000);
    await h.until('n1 keeps keep_phys and a slot for n0', async () => (await slot('n1', 'keep_phys')) && (await slot('n1', 'n0')), 15_000);
    expect(await slot('n0', 'n1')).toMatchObject({ slot_type: 'physical' });
    expect(h.agents.get('n0')!.role).toBe('primary');
  }, 40_000);

  it('with wal_level=logical: the leader creates the logical slot, the replica copies it from the leader', async () => {
    const n0 = h.agents.get('n0')!;
    const n1 = h.agents.get('n1')!;
    expect((await n0.patchConfig({ postgresql: { parameters: { wal_level: 'logical' } } })).status).toBe(200);
    await h.until('n0 has the new setting pending', async () => (await h.query<{ p: boolean }>('n0', "SELECT pending_restart AS p FROM pg_settings WHERE name = 'wal_level'"))[0]?.p, 10_000);
    expect((await n0.restart({})).status).toBe(200);
    await h.until('logi on n0', async () => (await slot('n0', 'logi'))?.plugin === 'test_decoding', 15_000);
    expect((await n1.restart({})).status).toBe(200);
    await h.until('logi copied to n1', async () => (await slot('n1', 'logi'))?.slot_type === 'logical', 20_000);
    expect(h.lines.some((l) => /n1: copying logical replication slots logi from the leader n0/.test(l))).toBe(true);
  }, 60_000);

  it('status: slot positions on the leader and the member slots it retains', async () => {
    const s = await h.until('status with slots', async () => {
      const v = await status();
      return v.slots && ['n0', 'n1', 'keep_phys', 'logi'].every((k) => k in v.slots!) ? v : undefined;
    }, 10_000);
    expect(s.slots!.n0).toBe(s.optime);
    expect(s.retain_slots).toEqual(['n0', 'n1']);
  }, 20_000);

  it('advances the replica copies to the positions the leader publishes', async () => {
    await h.query('n0', 'CREATE TABLE t (id int)');
    await h.query('n0', 'INSERT INTO t VALUES (1)');
    await h.query('n0', "SELECT count(*) FROM pg_logical_slot_get_changes('logi', NULL, NULL)");
    await h.query('n0', "SELECT pg_replication_slot_advance('keep_phys', pg_current_wal_lsn())");
    const [on0l, on0p] = [await slot('n0', 'logi'), await slot('n0', 'keep_phys')];
    await h.until('logi in sync', async () => (await slot('n1', 'logi'))?.confirmed_flush_lsn === on0l!.confirmed_flush_lsn, 15_000);
    await h.until('keep_phys in sync', async () => (await slot('n1', 'keep_phys'))?.restart_lsn === on0p!.restart_lsn, 15_000);
  }, 40_000);

  it('drops unknown slots, leaves the ones ignore_slots covers', async () => {
    await h.query('n0', "SELECT pg_create_logical_replication_slot('mine', 'test_decoding')");
    await h.query('n0', "SELECT pg_create_logical_replication_slot('stray', 'test_decoding')");
    await h.until('stray dropped', async () => (await slot('n0', 'stray')) === undefined, 10_000);
    expect(await slot('n0', 'mine')).toMatchObject({ slot_type: 'logical' });
  }, 20_000);

  it('PATCH /config refuses a bad slot setting, naming the key and what is accepted', async () => {
    const n0 = h.agents.get('n0')!;
    const bad = await n0.patchConfig({ slots: { 'Bad-Name': 0, half: { type: 'logical', database: 'postgres' } } });
    expect(bad.status).toBe(400);
    expect(String(bad.body)).toMatch(/slots\.Bad-Name: .*lower-case letters/);
    expect(String(bad.body)).toMatch(/slots\.half: a logical slot needs database and plugin/);
    expect((await n0.patchConfig({ ignore_slots: { name: 'x' } })).status).toBe(400);
    expect((await n0.patchConfig({ member_slots_ttl: 'soon' })).status).toBe(400);
    expect(JSON.parse((await h.keys()).config!).slots).toEqual({ keep_phys: null, logi: LOGICAL });
  }, 20_000);
});
