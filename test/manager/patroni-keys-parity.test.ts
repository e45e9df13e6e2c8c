/**
 * Key-layout parity with real Patroni: a 3-node cluster of Patroni 3.0.2 and
 * one of our managers, started from the same YAML by the same launcher, must
 * leave the same etcd keys under /service/<scope>/ with the same JSON field
 * names and value types — what patronictl, HAProxy checks and our client read.
 * Differences that are on purpose are listed (with why) and asserted too, so a
 * new difference fails the test.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Etcd3 } from 'etcd3';
import { PatroniCluster } from '../../src/local/patroni-cluster';
import { havePatroni } from '../support/have-patroni';


type Shape = Record<string, string>;

/** Key → a type signature of its value: JSON objects as `{field:type,…}`, other values as `text`. */
function shapeOf(value: string): string {
  try {
    const v: unknown = JSON.parse(value);
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      return `{${Object.keys(v as object)
        .sort()
        .map((k) => `${k}:${typeOfValue((v as Record<string, unknown>)[k])}`)
        .join(',')}}`;
    }
    return typeOfValue(v);
  } catch {
    return 'text';
  }
}

function typeOfValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

async function keyShapes(c: PatroniCluster): Promise<Shape> {
  const kv = new Etcd3({ hosts: c.etcdHosts });
  try {
    const prefix = `/service/${c.scope}/`;
    const all = await kv.getAll().prefix(prefix).strings();
    const out: Shape = {};
    for (const [k, v] of Object.entries(all)) out[k.slice(prefix.length)] = shapeOf(v);
    return out;
  } finally {
    kv.close();
  }
}

/** `role:state` of every member key. */
async function roles(c: PatroniCluster): Promise<string[]> {
  const kv = new Etcd3({ hosts: c.etcdHosts });
  try {
    const all = await kv.getAll().prefix(`/service/${c.scope}/members/`).strings();
    return Object.values(all).map((v) => {
      const m = JSON.parse(v) as { role?: string; state?: string };
      return `${m.role}:${m.state}`;
    });
  } finally {
    kv.close();
  }
}

/** Waits until both leader and member keys are settled (every member running, the leader known). */
async function settled(c: PatroniCluster): Promise<Shape> {
  await c.waitForLeader(60_000);
  await c.waitForReplicasStreaming(90_000);
  const deadline = Date.now() + 30_000;
  let shapes: Shape = {};
  while (Date.now() < deadline) {
    shapes = await keyShapes(c);
    if (['n0', 'n1', 'n2'].every((n) => shapes[`members/${n}`]?.includes('xlog_location')) && shapes.status) return shapes;
    await new Promise((r) => setTimeout(r, 500));
  }
  return shapes;
}

describe.skipIf(!havePatroni)('etcd key layout: our manager vs Patroni 3.0.2, same YAML', () => {
  let patroni: PatroniCluster;
  let ours: PatroniCluster;
  let theirs: Shape;
  let mine: Shape;
  let theirRoles: string[];

  beforeAll(async () => {
    const common = { nodes: 3, ttl: 10, loopWait: 2, retryTimeout: 3, parentDir: process.env.PGFAILOVER_TEST_ROOT, startTimeoutMillis: 120_000 };
    patroni = await PatroniCluster.start({ ...common, daemon: 'patroni', scope: 'parity' });
    theirs = await settled(patroni);
    theirRoles = await roles(patroni);
    await patroni.stop();
    ours = await PatroniCluster.start({ ...common, daemon: 'pg-failover', scope: 'parity' });
    mine = await settled(ours);
  }, 400_000);
  afterAll(async () => {
    await patroni?.stop(); // already stopped unless beforeAll failed half-way (idempotent)
    await ours?.stop();
  }, 60_000);

  it('has the same key names', () => {
    expect(Object.keys(theirs)).toContain('leader');
    expect(Object.keys(mine).sort()).toEqual(Object.keys(theirs).sort());
  });

  it('has one leader and two running replicas, named the same way (Patroni 3.0.2 says master, 3.1+ primary)', async () => {
    const summary = (roles: string[]) => roles.map((r) => r.replace(/^master:/, 'primary:')).sort();
    expect(summary(theirRoles)).toEqual(['primary:running', 'replica:running', 'replica:running']);
    expect(summary(await roles(ours))).toEqual(summary(theirRoles));
  });

  it('has the same JSON fields and value types in every key, plus only the listed newer-Patroni fields', () => {
    const diffs: string[] = [];
    for (const key of Object.keys(theirs)) {
      const want = fieldsOf(theirs[key]!);
      const got = fieldsOf(mine[key] ?? '');
      const extra = [...got.keys()].filter((f) => !want.has(f));
      const expectedExtra = key.startsWith('members/') && isReplica(mine[key] ?? '') ? NEWER_PATRONI_REPLICA_FIELDS : key === 'status' ? NEWER_PATRONI_STATUS_FIELDS : [];
      for (const [f, t] of want) if (got.get(f) !== t) diffs.push(`${key}: field ${f} is ${got.get(f) ?? 'missing'}, Patroni has ${t}`);
      for (const f of extra) if (!expectedExtra.includes(f)) diffs.push(`${key}: extra field ${f}`);
      for (const f of expectedExtra) if (!got.has(f)) diffs.push(`${key}: listed newer-Patroni field ${f} is missing`);
    }
    expect(diffs).toEqual([]);
  });
});

/**
 * Fields a replica's member key carries in newer Patroni releases than the
 * Debian one we compare with (3.0.2): `replication_state` since 3.0.4,
 * `receive_lsn` and `replay_lsn` since 4.1.0 (patroni/ha.py, touch_member).
 * Our client reads them to pick standbys, so we write them; Patroni 3.0.2's
 * tools ignore unknown fields.
 */
const NEWER_PATRONI_REPLICA_FIELDS = ['receive_lsn', 'replay_lsn', 'replication_state'];

/**
 * Fields of `status` in Patroni ≥ 4.0 (dcs/__init__.py, update_leader): `slots` (positions of the
 * leader's member and permanent slots; 3.0.2 writes it only with permanent slots) and
 * `retain_slots` (member_slots_ttl). Replicas advance their slot copies from them.
 */
const NEWER_PATRONI_STATUS_FIELDS = ['retain_slots', 'slots'];

/** `{a:string,b:number}` → Map(a → string, b → number); a non-object shape → empty. */
function fieldsOf(shape: string): Map<string, string> {
  const m = new Map<string, string>();
  if (!shape.startsWith('{')) return m;
  for (const part of shape.slice(1, -1).split(',').filter(Boolean)) {
    const [f, t] = part.split(':');
    m.set(f!, t!);
  }
  return m;
}

function isReplica(shape: string): boolean {
  return fieldsOf(shape).has('replication_state');
}
