/**
 * No error message (nor fragment, nor detail) may contain a password, even
 * when the password is part of what is malformed.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConnectionString } from '../../src/connection';
import { isConnectionStringError } from '../../src/errors';
import { mutatedCases, prng } from './corpus';

const home = mkdtempSync(join(tmpdir(), 'pgfo-conn-secret-'));
afterAll(() => rmSync(home, { recursive: true, force: true }));

const SECRET = 'Zq7SecretPw';

const CASES = [
  `postgresql://u:${SECRET}%zz@h/db`,
  `postgresql://u:${SECRET}%00@h/db`,
  `postgresql://u:${SECRET}%FF@h/db`,
  `postgresql://u:${SECRET}@[::1/db`,
  `postgresql://u:${SECRET}@[::1]x/db`,
  `postgresql://u:${SECRET}@[]/db`,
  `postgresql://u:${SECRET}@h/db?zzz`,
  `postgresql://u:${SECRET}@h/db?k=v=w`,
  `postgresql://u:${SECRET}@h/db?nosuch=1`,
  `postgresql://u:${SECRET}@h:99999/db`,
  `postgresql://u:${SECRET}@h/db?sslmode=bad`,
  `postgresql://u:${SECRET}@a,b/db?port=1,2,3`,
  `postgresql://h/db?password=${SECRET}%zz`,
  `postgresql://h/db?password=${SECRET}%00`,
  `postgresql://h/db?password=${SECRET}%FE`,
  `postgresql://h/db?sslpassword=${SECRET}%zz`,
  `postgresql://[::1?password=${SECRET}`,
  `postgresql://h/db?password=${SECRET}&x`,
  `password=${SECRET} nosuch=1`,
  `password='${SECRET}`,
  `postgresq://u:${SECRET}@h/db`,
  `postgresq://u:${SECRET}@h/db?x=1`,
  `host=h postgresql://u:${SECRET}@h/db`,
  `password='${SECRET} host=x`,
  `password=Zq7 SecretPw`,
  `password=Zq7 SecretPw=x`,
  `password=${SECRET} port=0`,
  `password=${SECRET} host=a,b port=1,2,3`,
  `sslpassword=Zq7 SecretPw`,
  `sslmode= password=${SECRET}`,
  `target_session_attrs= password=${SECRET}`,
  `port= password=${SECRET}`,
  `host=' password='${SECRET}' user=u`,
  `postgresql://h/db%zzpassword=${SECRET}&user=u`,
  `postgresql://u:${SECRET}%00h1:%zz1,h2:2/db`,
  `postgresql://u:${SECRET}h1:1,h2:2/db`,
  `postgresql://u:${SECRET}/db?sslmode=x`,
  `password=${SECRET} target_session_attrs=${SECRET}x`.replace(`${SECRET}x`, 'bogus'),
];

function leaks(e: unknown): boolean {
  const text = (x: unknown) => (typeof x === 'string' ? x : JSON.stringify(x ?? ''));
  if (!isConnectionStringError(e)) throw e;
  const all = [e.message, text(e.fragment), text(e.detail), String(e.stack)].join('\n');
  return all.includes(SECRET) || all.includes('SecretPw');
}

describe('passwords never appear in errors', () => {
  it.each(CASES)('%s', (s) => {
    let thrown: unknown;
    try {
      parseConnectionString(s, { env: {}, home, osUser: 'o' });
    } catch (e) {
      thrown = e;
    }
    expect(thrown, 'the case is malformed').toBeDefined();
    expect(leaks(thrown)).toBe(false);
  });

  it('in thousands of mutated strings with passwords', () => {
    const seeds = [
      `postgresql://u:${SECRET}@h1:1,h2:2/db?sslmode=require`,
      `postgresql://h/db?password=${SECRET}&user=u`,
      `host=h password=${SECRET} user=u`,
      `host=h password='${SECRET}' user=u`,
      `host=h sslpassword=${SECRET}`,
      `sslmode=require password=${SECRET} target_session_attrs=any`,
      `postgresql://u:${SECRET}@h/db?sslmode=require&port=5432`,
    ];
    const rand = prng(99);
    let errors = 0;
    for (const s of mutatedCases(seeds, 20_000, Math.floor(rand() * 1e9))) {
      // Only strings that still hold the whole secret in a password position
      // count (a mutation can turn it into, say, a keyword name: not a password).
      if (![`password=${SECRET}`, `password='${SECRET}`, `//u:${SECRET}`].some((p) => s.includes(p))) continue;
      try {
        parseConnectionString(s, { env: {}, home, osUser: 'o' });
      } catch (e) {
        errors++;
        if (leaks(e)) throw new Error(`leaked the password for input ${JSON.stringify(s.replace(SECRET, '<secret>'))}`);
      }
    }
    expect(errors).toBeGreaterThan(2000);
  });
});
