/**
 * Planned switchover through the agent API (what POST /switchover calls):
 * the leader stops with a shutdown checkpoint, the candidate receives all of
 * it and promotes; no acknowledged write is lost; the old leader follows the
 * new one. Then a `failover` request moves leadership back.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { setTimeout as sleep } from 'node:timers/promises';
import { Harness } from './harness';

describe('agent switchover', () => {
  const h = new Harness({ scope: 'sw' });
  let first: string;
  let second: string;

  beforeAll(async () => {
    await h.startEtcd();
    await h.startAll(['n0', 'n1']);
    first = await h.until('a leader', () => h.leader());
    second = first === 'n0' ? 'n1' : 'n0';
    await h.query(first, 'CREATE TABLE w (id int primary key)');
    await h.until('table on the replica', async () => (await h.query(second, "SELECT 1 FROM pg_tables WHERE tablename = 'w'")).length === 1);
  }, 180_000);
  afterAll(() => h.close(), 120_000);

  /** Inserts ids one by one into whichever node the leader key names; returns the acknowledged ids. */
  function writer(): { stop: () => Promise<number[]> } {
    const acked: number[] = [];
    let running = true;
    let next = 1;
    const loop = (async () => {
      while (running) {
        const leader = await h.leader().catch(() => undefined);
        if (!leader) {
          await sleep(20);
          continue;
        }
        const c = h.configs.get(leader)!;
        const client = new pg.Client({ host: '127.0.0.1', port: c.postgresql.connectAddress.port, user: 'postgres', database: 'postgres', connectionTimeoutMillis: 1000 });
        client.on('error', () => {});
        try {
          await client.connect();
          while (running) {
            const id = next++;
            await client.query('INSERT INTO w VALUES ($1)', [id]);
            acked.push(id);
            await sleep(5);
          }
        } catch {
          await sleep(20);
        } finally {
          await client.end().catch(() => {});
        }
      }
    })();
    return {
      stop: async () => {
        running = false;
        await loop;
        return acked;
      },
    };
  }

  it('switches over to the named candidate with zero acknowledged writes lost', async () => {
    const w = writer();
    await sleep(500);
    const t0 = Date.now();
    const outcome = await h.agents.get(second)!.requestFailover('switchover', { leader: first, candidate: second });
    const took = Date.now() - t0;
    await sleep(500);
    const acked = await w.stop();
    console.log(`switchover ${first} → ${second}: ${took} ms, ${acked.length} acknowledged writes`);
    expect(outcome).toEqual({ status: 200, message: `Successfully switched over to "${second}"` });
    expect(await h.leader()).toBe(second);
    expect(acked.length).toBeGreaterThan(10);
    const rows = await h.query<{ id: number }>(second, 'SELECT id FROM w');
    const present = new Set(rows.map((r) => r.id));
    const lost = acked.filter((id) => !present.has(id));
    expect(lost).toEqual([]);
    const keys = await h.until('failover key cleared', async () => {
      const k = await h.keys();
      return k.failover === '{}' ? k : undefined;
    }, 10_000);
    const history = JSON.parse(keys.history!) as unknown[][];
    expect(history.at(-1)![4]).toBe(second);
  }, 90_000);

  it('makes the old leader a streaming replica of the new one', async () => {
    const old = h.agents.get(first)!;
    await h.until('old leader streaming', async () => {
      if (old.role !== 'replica') return false;
      const rep = await h.query<{ application_name: string; state: string }>(second, 'SELECT application_name, state FROM pg_stat_replication');
      return rep.some((r) => r.application_name === first && r.state === 'streaming');
    }, 60_000);
    await h.query(second, 'INSERT INTO w VALUES (-1)');
    await h.until('write replicated to the old leader', async () => (await h.query(first, 'SELECT 1 FROM w WHERE id = -1')).length === 1);
    // The member key is written right after the rejoin; the until only absorbs the etcd round trip.
    const member = await h.until('member key says replica', async () => {
      const m = JSON.parse((await h.keys())[`members/${first}`]!) as { role: string; state: string };
      return m.role === 'replica' ? m : undefined;
    }, 5_000);
    expect(member).toMatchObject({ role: 'replica', state: 'running' });
  }, 90_000);

  it('fails over back on a failover request naming the candidate', async () => {
    const outcome = await h.agents.get(first)!.requestFailover('failover', { candidate: first });
    expect(outcome.status).toBe(200);
    expect(await h.leader()).toBe(first);
    const rows = await h.query<{ n: string }>(first, 'SELECT count(*)::text AS n FROM w WHERE id = -1');
    expect(rows[0]!.n).toBe('1');
  }, 90_000);
});

describe('agent scheduled switchover', () => {
  const h = new Harness({ scope: 'sched' });
  let first: string;
  let second: string;

  beforeAll(async () => {
    await h.startEtcd();
    await h.startAll(['n0', 'n1']);
    first = await h.until('a leader', () => h.leader());
    second = first === 'n0' ? 'n1' : 'n0';
  }, 180_000);
  afterAll(() => h.close(), 120_000);

  it('answers 202, keeps the leader until scheduled_at, then switches', async () => {
    const at = new Date(Date.now() + 3000);
    const outcome = await h.agents.get(first)!.requestFailover('switchover', { leader: first, candidate: second, scheduled_at: at.toISOString() });
    expect(outcome.status).toBe(202);
    expect(JSON.parse((await h.keys()).failover!)).toEqual({ leader: first, member: second, scheduled_at: at.toISOString() });
    await sleep(1500);
    expect(await h.leader()).toBe(first);
    await h.until('switched', async () => (await h.leader()) === second, 30_000);
    expect(Date.now()).toBeGreaterThanOrEqual(at.getTime());
    await h.until('failover key cleared', async () => (await h.keys()).failover === '{}', 10_000);
  }, 60_000);

  it('drops the slot of a member that left etcd once member_slots_ttl has passed', async () => {
    const leaving = h.agents.get(first)!;
    await h.until('old leader streaming', () => leaving.role === 'replica');
    // Patroni 4 keeps a departed member's slot for member_slots_ttl (default 30 min)
    expect((await h.agents.get(second)!.patchConfig({ member_slots_ttl: '2s' })).status).toBe(200);
    await leaving.stop({ release: true });
    expect((await h.query(second, 'SELECT 1 FROM pg_replication_slots')).length).toBe(1);
    await h.until('slot dropped', async () => (await h.query(second, 'SELECT 1 FROM pg_replication_slots')).length === 0, 20_000);
  }, 60_000);
});
