/**
 * The shared Patroni contract (src/patroni-contract.ts): key names, role words, conn_url, and the
 * layering rule that the manager and the client's topology readers meet only through it.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  buildApiUrl,
  buildConnUrl,
  isPrimaryRoleWord,
  isStandbyRoleWord,
  memberNameOfKey,
  parseConnUrl,
  patroniPrefix,
  PATRONI_KEYS,
} from '../../src/patroni-contract';

const SRC = join(__dirname, '../../src');

function importsOf(dir: string): Array<{ file: string; spec: string }> {
  const out: Array<{ file: string; spec: string }> = [];
  for (const f of readdirSync(join(SRC, dir))) {
    if (!f.endsWith('.ts')) continue;
    const text = readFileSync(join(SRC, dir, f), 'utf8');
    for (const m of text.matchAll(/from '([^']+)'/g)) out.push({ file: `${dir}/${f}`, spec: m[1]! });
  }
  return out;
}

describe('Patroni contract module', () => {
  it('builds the key prefix the way Patroni does from any namespace spelling', () => {
    expect(patroniPrefix('/service', 'demo')).toBe('/service/demo/');
    expect(patroniPrefix('service/', 'demo')).toBe('/service/demo/');
    expect(patroniPrefix('/', 'demo')).toBe('/demo/');
  });

  it('names the keys and recognises member keys only one level deep', () => {
    expect(PATRONI_KEYS.member('n1')).toBe('members/n1');
    expect(memberNameOfKey('members/n1')).toBe('n1');
    expect(memberNameOfKey('members/')).toBeUndefined();
    expect(memberNameOfKey('members/a/b')).toBeUndefined();
    expect(memberNameOfKey('leader')).toBeUndefined();
  });

  it('reads both Patroni 3 and 4 role words, and /cluster words', () => {
    for (const w of ['master', 'primary', 'leader']) expect(isPrimaryRoleWord(w)).toBe(true);
    for (const w of ['replica', 'sync_standby', 'quorum_standby', 'standby_leader']) expect(isStandbyRoleWord(w)).toBe(true);
    for (const w of ['demoted', 'uninitialized', undefined, 1]) {
      expect(isPrimaryRoleWord(w)).toBe(false);
      expect(isStandbyRoleWord(w)).toBe(false);
    }
  });

  it('round-trips conn_url for IPv4 and IPv6 hosts and refuses other schemes', () => {
    expect(buildConnUrl('10.0.0.5', 5433)).toBe('postgres://10.0.0.5:5433/postgres');
    expect(buildConnUrl('::1', 6000)).toBe('postgres://[::1]:6000/postgres');
    expect(parseConnUrl(buildConnUrl('::1', 6000))).toEqual({ host: '::1', port: 6000 });
    expect(parseConnUrl('postgresql://db.example/postgres')).toEqual({ host: 'db.example', port: 5432 });
    expect(buildApiUrl('127.0.0.1', 8008)).toBe('http://127.0.0.1:8008/patroni');
    for (const bad of ['http://h:5432/x', 'not a url', '', undefined, 42]) expect(parseConnUrl(bad)).toBeUndefined();
  });

  it('manager and topology never import each other (they meet through the contract)', () => {
    const bad = [
      ...importsOf('manager').filter((i) => /(^|\/)topology\//.test(i.spec) || i.spec.startsWith('../pool') || i.spec.startsWith('../routing')),
      ...importsOf('topology').filter((i) => /(^|\/)manager\//.test(i.spec)),
    ];
    expect(bad).toEqual([]);
    // and the contract is a leaf: it imports only the LSN module
    const own = readFileSync(join(SRC, 'patroni-contract.ts'), 'utf8');
    expect([...own.matchAll(/from '([^']+)'/g)].map((m) => m[1])).toEqual(['./lsn']);
  });
});
