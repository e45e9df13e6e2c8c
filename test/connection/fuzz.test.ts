/**
 * 100k random and mutated strings: the parser never crashes, never hangs, and
 * fails only with a ConnectionStringError carrying a code.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { libpqKeywords, parseConnectionString } from '../../src/connection';
import { LIBPQ_KEYWORDS } from '../../src/connection/keywords';
import { isConnectionStringError } from '../../src/errors';
import { baseCorpus, mutatedCases, pick, prng } from './corpus';

const home = mkdtempSync(join(tmpdir(), 'pgfo-conn-fuzz-'));
afterAll(() => rmSync(home, { recursive: true, force: true }));

const CODES = new Set(['CONNINFO_SYNTAX', 'CONNINFO_UNKNOWN_KEYWORD', 'CONNINFO_INVALID_VALUE', 'CONNINFO_HOST_PORT_MISMATCH', 'CONNINFO_SERVICE']);
const CHARS = [..."=' \\,:/@?&%[]#\t\n\"\0", ...'0123456789abcdefxyzHP', 'é', '😀', '\ud800', 'postgresql://', 'host=', '%2', '%C3'];

function randomString(rand: () => number): string {
  const len = Math.floor(rand() * 40);
  let s = rand() < 0.3 ? pick(rand, ['postgresql://', 'postgres://']) : '';
  for (let i = 0; i < len; i++) s += pick(rand, CHARS);
  return s;
}

function check(f: () => unknown, input: string): 'ok' | 'error' {
  try {
    f();
    return 'ok';
  } catch (e) {
    if (!isConnectionStringError(e) || !CODES.has(e.code)) {
      throw new Error(`unexpected ${String(e)} for ${JSON.stringify(input)}`, { cause: e });
    }
    return 'error';
  }
}

describe('fuzz', () => {
  const seeds = baseCorpus(LIBPQ_KEYWORDS).flatMap((g) => g.cases);

  it('libpqKeywords: 100,000 random and mutated strings', () => {
    const rand = prng(424242);
    const inputs = [...mutatedCases(seeds, 60_000, 31337)];
    for (let i = 0; i < 40_000; i++) inputs.push(randomString(rand));
    const outcome = { ok: 0, error: 0 };
    const started = Date.now();
    for (const s of inputs) outcome[check(() => libpqKeywords(s), s)]++;
    expect(outcome.ok + outcome.error).toBe(100_000);
    expect(outcome.ok).toBeGreaterThan(5_000);
    expect(outcome.error).toBeGreaterThan(5_000);
    expect(Date.now() - started).toBeLessThan(20_000);
  });

  it('parseConnectionString: 10,000 mutated strings', () => {
    const outcome = { ok: 0, error: 0 };
    for (const s of mutatedCases(seeds, 10_000, 4711)) {
      outcome[check(() => parseConnectionString(s, { env: {}, home, osUser: 'o', sysconfdir: home }), s)]++;
    }
    expect(outcome.ok).toBeGreaterThan(500);
  });

  it('handles very long inputs in linear time', () => {
    const many = Array.from({ length: 20_000 }, (_, i) => `h${i}`).join(',');
    const started = Date.now();
    expect(libpqKeywords(`postgresql://${many}/db`).host).toBe(many);
    expect(libpqKeywords(`host=${many}`).host).toBe(many);
    expect(check(() => libpqKeywords(`host='${'\\x'.repeat(100_000)}`), 'long')).toBe('error');
    expect(Date.now() - started).toBeLessThan(2_000);
  });
});
