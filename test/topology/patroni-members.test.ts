/**
 * Parsing Patroni's member documents: etcd `members/<name>` values and REST
 * `/cluster` bodies. Pure functions, so plain inputs; garbage must be skipped
 * with a reason, never thrown.
 */
import { describe, test, expect } from 'vitest';
import { formatLsn as lsnText } from '../../src/lsn';
import {
  hostPortFromConnUrl,
  parseEtcdMember,
  topologyFromCluster,
  topologyFromEtcd,
  type ParsedMember,
} from '../../src/topology/patroni-members';

const etcdMember = (name: string, v: Record<string, unknown>) => {
  const p = parseEtcdMember(name, JSON.stringify(v));
  if (typeof p === 'string') throw new Error(p);
  return p;
};

describe('Patroni member documents', () => {
  test('conn_url → host/port (IPv6, default port); anything else → undefined', () => {
    expect(hostPortFromConnUrl('postgres://10.0.0.5:5433/postgres')).toEqual({ host: '10.0.0.5', port: 5433 });
    expect(hostPortFromConnUrl('postgresql://db.example/postgres')).toEqual({ host: 'db.example', port: 5432 });
    expect(hostPortFromConnUrl('postgres://[::1]:6000/postgres')).toEqual({ host: '::1', port: 6000 });
    for (const bad of [undefined, 42, '', 'http://h:1/x', 'postgres://:5432/x', 'not a url', 'postgres://h:99999/x']) {
      expect(hostPortFromConnUrl(bad)).toBeUndefined();
    }
  });

  test('lsnText matches pg_lsn text', () => {
    expect(lsnText(0x3000060)).toBe('0/3000060');
    expect(lsnText(2 ** 32 + 255)).toBe('1/FF');
  });

  test('etcd member values: Patroni 3.0.2 shape parsed; garbage gives a reason', () => {
    const p = etcdMember('n1', {
      conn_url: 'postgres://127.0.0.1:5433/postgres',
      api_url: 'http://127.0.0.1:8009/patroni',
      state: 'running',
      role: 'replica',
      version: '3.0.2',
      xlog_location: 100,
      timeline: 3,
      tags: { nofailover: true },
    });
    expect(p.member).toEqual({ name: 'n1', host: '127.0.0.1', port: 5433, role: 'standby', state: 'running', timeline: 3, tags: { nofailover: true } });
    expect(p.xlogLocation).toBe(100);
    for (const bad of ['', '{', 'null', '[]', '"x"', '{"role":"master"}', '{"conn_url": 5}', '{"conn_url":"http://x:1/"}']) {
      expect(typeof parseEtcdMember('x', bad)).toBe('string');
    }
    // Wrong types inside an otherwise usable value are dropped, not trusted.
    const odd = etcdMember('o', { conn_url: 'postgres://h:1/db', role: 7, state: null, xlog_location: '12', timeline: -1, tags: [1] });
    expect(odd.member).toEqual({ name: 'o', host: 'h', port: 1, role: 'unknown', state: 'unknown' });
    expect(odd.xlogLocation).toBeUndefined();
  });

  test('etcd topology: primary only when the leader key names a member whose own key says primary/master and is up', () => {
    const m = (name: string, role: string, xlog: number, state = 'running'): ParsedMember =>
      etcdMember(name, { conn_url: `postgres://127.0.0.1:${name === 'a' ? 1 : 2}/x`, role, state, xlog_location: xlog });
    expect(topologyFromEtcd([m('a', 'master', 1000), m('b', 'replica', 600)], 'a', undefined).primary?.name).toBe('a');
    expect(topologyFromEtcd([m('a', 'primary', 1000), m('b', 'replica', 600)], 'a', undefined).members[1].lagBytes).toBe(400);
    // status optime ahead of the member key counts.
    expect(topologyFromEtcd([m('a', 'master', 1000), m('b', 'replica', 600)], 'a', 1500).members[1].lagBytes).toBe(900);
    expect(topologyFromEtcd([m('a', 'replica', 1000)], 'a', undefined).primary).toBeUndefined(); // still promoting
    expect(topologyFromEtcd([m('a', 'standby_leader', 1000)], 'a', undefined).primary).toBeUndefined(); // in recovery
    expect(topologyFromEtcd([m('a', 'master', 1000, 'stopped')], 'a', undefined).primary).toBeUndefined();
    expect(topologyFromEtcd([m('a', 'master', 1000)], undefined, undefined).primary).toBeUndefined();
    expect(topologyFromEtcd([m('a', 'master', 1000)], 'zz', undefined).primary).toBeUndefined();
    // A non-leader still claiming master is neither primary nor standby.
    const t = topologyFromEtcd([m('a', 'master', 1000), m('b', 'master', 900)], 'b', undefined);
    expect(t.primary?.name).toBe('b');
    expect(t.members.find((x) => x.name === 'a')?.role).toBe('unknown');
  });

  test('a replay position only from replay_lsn: Patroni 3 xlog_location (max of received and replayed) and receive_lsn give lag, never replayLsn', () => {
    const b = (v: Record<string, unknown>) => etcdMember('b', { conn_url: 'postgres://127.0.0.1:2/x', role: 'replica', state: 'running', ...v });
    const a = etcdMember('a', { conn_url: 'postgres://127.0.0.1:1/x', role: 'master', state: 'running', xlog_location: 1000 });
    const only = topologyFromEtcd([a, b({ xlog_location: 900, receive_lsn: 950 })], 'a', undefined).members[1]!;
    expect(only).toMatchObject({ lagBytes: 100 });
    expect(only.replayLsn).toBeUndefined();
    expect(topologyFromEtcd([a, b({ xlog_location: 900, replay_lsn: 800 })], 'a', undefined).members[1]).toMatchObject({ lagBytes: 200, replayLsn: lsnText(800) });
    const rest = topologyFromCluster({ members: [{ name: 'a', role: 'leader', state: 'running', host: '127.0.0.1', port: 1 }, { name: 'b', role: 'replica', state: 'streaming', host: '127.0.0.1', port: 2, lsn: '0/900', receive_lsn: '0/950' }] });
    expect(typeof rest === 'string' ? rest : rest.topology.members.find((m) => m.name === 'b')?.replayLsn).toBeUndefined();
  });

  test('/cluster bodies: wrong shapes give a reason; bad members are skipped; two leaders → no primary', () => {
    for (const bad of [null, 1, 'x', [], {}, { members: {} }, { members: 'a' }]) expect(typeof topologyFromCluster(bad)).toBe('string');
    const r = topologyFromCluster({
      members: [
        { name: 'a', role: 'leader', state: 'running', host: 'h1', port: 5432 },
        { name: 'b', role: 'replica', state: 'streaming', host: 'h2', port: '5433', lag: 'unknown', replay_lag: 10 },
        null,
        { role: 'replica', host: 'h3', port: 1 },
        { name: 'c', role: 'replica', host: '', port: 1 },
        { name: 'd', role: 'replica', host: 'h4', port: 70000 },
        { name: 'a', role: 'replica', host: 'h5', port: 1 },
      ],
    });
    if (typeof r === 'string') throw new Error(r);
    expect(r.topology.primary).toMatchObject({ name: 'a', host: 'h1', port: 5432 });
    expect(r.topology.members.map((m) => `${m.name}:${m.role}:${m.port}:${m.lagBytes ?? '-'}`)).toEqual(['a:primary:5432:-', 'b:standby:5433:10']);
    expect(r.skipped).toHaveLength(5);

    const two = topologyFromCluster({ members: [{ name: 'a', role: 'leader', host: 'h', port: 1 }, { name: 'b', role: 'leader', host: 'h', port: 2 }] });
    if (typeof two === 'string') throw new Error(two);
    expect(two.topology.primary).toBeUndefined();
    expect(two.topology.members.every((m) => m.role === 'unknown')).toBe(true);

    const standbyCluster = topologyFromCluster({ members: [{ name: 'a', role: 'standby_leader', state: 'streaming', host: 'h', port: 1 }] });
    if (typeof standbyCluster === 'string') throw new Error(standbyCluster);
    expect(standbyCluster.topology.primary).toBeUndefined();
  });

  test('random garbage never throws', () => {
    let seed = 42;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const atoms = [null, true, 0, -1, 1.5, 'x', '', 'postgres://h:1/d', 'leader', 'master', [], {}, 'unknown', 2 ** 60];
    const value = (depth: number): unknown => {
      const r = rnd();
      if (depth > 2 || r < 0.5) return atoms[Math.floor(rnd() * atoms.length)];
      if (r < 0.7) return Array.from({ length: Math.floor(rnd() * 4) }, () => value(depth + 1));
      const keys = ['name', 'role', 'state', 'host', 'port', 'lag', 'conn_url', 'xlog_location', 'tags', 'timeline', 'members', 'replay_lsn'];
      return Object.fromEntries(keys.filter(() => rnd() < 0.5).map((k) => [k, value(depth + 1)]));
    };
    for (let i = 0; i < 3000; i++) {
      const v = value(0);
      expect(() => topologyFromCluster(v)).not.toThrow();
      expect(() => topologyFromCluster({ members: [v, value(1)] })).not.toThrow();
      expect(() => parseEtcdMember('m', JSON.stringify(v) ?? '')).not.toThrow();
    }
  });
});
