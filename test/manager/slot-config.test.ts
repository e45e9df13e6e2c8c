/**
 * The slot settings in the node's YAML (bootstrap.dcs): accepted as Patroni accepts them, refused
 * at startup with a MANAGER_CONFIG error naming the key when Patroni would skip them.
 */
import { describe, expect, it } from 'vitest';
import { loadManagerConfig, type ConfigProblem } from '../../src/manager/config';
import { FailoverError } from '../../src/errors';

const yaml = (dcs: string) => `
scope: demo
name: n0
restapi: { listen: 127.0.0.1:8008, connect_address: 127.0.0.1:8008 }
etcd3: { hosts: 127.0.0.1:2379 }
postgresql:
  listen: 127.0.0.1:5432
  connect_address: 127.0.0.1:5432
  data_dir: /tmp/d
  authentication:
    superuser: { username: postgres, password: pw-super-1 }
    replication: { username: replicator, password: pw-repl-1 }
bootstrap:
  dcs:
${dcs.replace(/^/gm, '    ')}
`;

function problems(dcs: string): ConfigProblem[] {
  try {
    loadManagerConfig(yaml(dcs));
  } catch (e) {
    expect(e).toBeInstanceOf(FailoverError);
    expect((e as FailoverError).code).toBe('MANAGER_CONFIG');
    return (e as FailoverError & { detail: { problems: ConfigProblem[] } }).detail.problems;
  }
  return [];
}

describe('bootstrap.dcs slot settings', () => {
  it('accepts permanent slots, ignore_slots and member_slots_ttl as Patroni does, without warnings', () => {
    const dcs = `slots:
  phys: null
  phys2: { type: physical }
  logi: { type: logical, database: postgres, plugin: pgoutput }
ignore_slots:
  - { name: theirs }
  - { type: logical, plugin: test_decoding }
member_slots_ttl: 10min`;
    expect(problems(dcs)).toEqual([]);
    const { config, warnings } = loadManagerConfig(yaml(dcs));
    expect(warnings.filter((w) => /slots/.test(w))).toEqual([]);
    expect(config.bootstrap.dcs.raw).toMatchObject({ slots: { phys: null }, member_slots_ttl: '10min' });
  });

  it('refuses a bad slot name, a logical slot without plugin, a bad matcher and a bad ttl, each by key', () => {
    const found = problems(`slots:
  Bad-Name: 0
  logi: { type: logical, database: postgres }
ignore_slots:
  - { nmae: x }
member_slots_ttl: forever`);
    expect(found.map((p) => p.key)).toEqual(['bootstrap.dcs.slots.Bad-Name', 'bootstrap.dcs.slots.logi', 'bootstrap.dcs.ignore_slots[0].nmae', 'bootstrap.dcs.member_slots_ttl']);
    expect(found[1]!.message).toMatch(/needs database and plugin/);
    expect(found[2]!.message).toMatch(/only name, type, database, plugin/);
  });
});
