/**
 * Parity with the real libpq: every corpus string goes through both
 * PQconninfoParse (test/support/libpq-parse.c, compiled here) and our parser.
 * Where libpq parses, we must return exactly its keyword → value map (compared
 * byte for byte as UTF-8); where libpq fails, we must throw a
 * ConnectionStringError with the matching code.
 *
 * The installed libpq may be older than the keyword table we implement
 * (Debian 12 ships libpq 15; we implement 17's, which adds load_balance_hosts,
 * require_auth, sslcertmode, gssdelegation, sslnegotiation). So:
 * 1. the main comparison runs our parser with libpq's own keyword table
 *    (read from the library via PQconndefaults): same logic, same table, so
 *    any difference is a parser bug;
 * 2. for inputs where our 17 table gives a different outcome than libpq's
 *    table, the newer keyword names are rewritten to keywords libpq knows
 *    (`load_balance_hosts` → `krbsrvname` …), libpq parses the rewritten
 *    string, and its answer — with the names mapped back — must equal ours for
 *    the original. Inputs that already contain the stand-in keyword, or spell
 *    the newer keyword so that a literal rewrite misses it (percent-encoded in
 *    a URI query), cannot be rewritten unambiguously: they are counted (and
 *    must stay a small minority), not compared.
 * Known, deliberate differences (see src/connection/conninfo.ts): percent-
 * decoded bytes that are not UTF-8 are rejected by us (libpq passes raw bytes
 * on); strings with NUL are rejected by us (none are in this corpus; see
 * conninfo.test.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConninfo, INVALID_UTF8 } from '../../src/connection/conninfo';
import { LIBPQ_KEYWORDS } from '../../src/connection/keywords';
import { isConnectionStringError } from '../../src/errors';
import { baseCorpus, mutatedCases } from './corpus';
import { buildOracle, oracleUnavailableReason, type LibpqOracle, type LibpqResult } from './libpq-oracle';

const unavailable = oracleUnavailableReason();
if (unavailable) {
  // Visible in the test output, not only as a skipped count.
  console.warn(`libpq parity tests skipped: ${unavailable}`);
}

type Ours = { ok: true; values: Record<string, string> } | { ok: false; code: string; invalidUtf8: boolean };

function ours(input: string, keywords?: readonly string[]): Ours {
  try {
    return { ok: true, values: parseConninfo(input, keywords ? { keywords } : {}).keywords };
  } catch (e) {
    if (!isConnectionStringError(e)) throw e;
    return { ok: false, code: e.code, invalidUtf8: e.detail?.reason === INVALID_UTF8 };
  }
}

function isValidUtf8(b: Buffer): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(b);
    return true;
  } catch {
    return false;
  }
}

/** undefined when they agree, else a description of the difference. */
function disagreement(input: string, libpq: LibpqResult, mine: Ours, rename: (k: string) => string = (k) => k): string | undefined {
  const show = () => `${JSON.stringify(input)}: libpq ${describeLibpq(libpq)}, ours ${JSON.stringify(mine)}`;
  if (!mine.ok && mine.invalidUtf8) {
    // Ours rejects non-UTF-8 bytes; acceptable if libpq failed too or produced such bytes.
    if (!libpq.ok) return undefined;
    return [...libpq.values.values()].some((v) => !isValidUtf8(v)) ? undefined : show();
  }
  if (!libpq.ok) {
    if (mine.ok) return show();
    const unknown = /^invalid (connection option|URI query parameter)/.test(libpq.message);
    const expected = unknown ? 'CONNINFO_UNKNOWN_KEYWORD' : 'CONNINFO_SYNTAX';
    return mine.code === expected ? undefined : show();
  }
  if (!mine.ok) return show();
  const theirs = [...libpq.values.entries()].map(([k, v]) => [rename(k), v.toString('hex')]);
  const mineHex = Object.entries(mine.values).map(([k, v]) => [k, Buffer.from(v, 'utf8').toString('hex')]);
  const sort = (a: string[][]) => JSON.stringify([...a].sort((x, y) => (x[0]! < y[0]! ? -1 : 1)));
  return sort(theirs) === sort(mineHex) ? undefined : show();
}

function describeLibpq(r: LibpqResult): string {
  if (!r.ok) return `error ${JSON.stringify(r.message.trim())}`;
  return JSON.stringify(Object.fromEntries([...r.values].map(([k, v]) => [k, v.toString('utf8')])));
}

describe.skipIf(unavailable !== undefined)('parity with libpq PQconninfoParse', () => {
  let oracle: LibpqOracle;
  const stats = { compared: 0, libpqParsed: 0, libpqFailed: 0, utf8Divergence: 0, rewritten: 0, notRewritable: 0 };

  beforeAll(() => {
    oracle = buildOracle();
  });
  afterAll(() => {
    oracle?.dispose();
    console.info(`libpq ${oracle?.version} parity: ${JSON.stringify(stats)}`);
  });

  function compareAll(cases: readonly string[]): string[] {
    const results = oracle.parse(cases);
    const bad: string[] = [];
    cases.forEach((input, i) => {
      const libpq = results[i]!;
      const mine = ours(input, oracle.keywords);
      stats.compared++;
      if (libpq.ok) stats.libpqParsed++;
      else stats.libpqFailed++;
      if (!mine.ok && mine.invalidUtf8) stats.utf8Divergence++;
      const d = disagreement(input, libpq, mine);
      if (d) bad.push(d);
    });
    return bad;
  }

  it("our keyword table is libpq's own plus only keywords added in 16 and 17, in libpq's order", () => {
    const newer = LIBPQ_KEYWORDS.filter((k) => !oracle.keywords.includes(k));
    expect(oracle.keywords.filter((k) => !(LIBPQ_KEYWORDS as readonly string[]).includes(k))).toEqual([]);
    for (const k of newer) {
      expect(['load_balance_hosts', 'require_auth', 'sslcertmode', 'gssdelegation', 'sslnegotiation']).toContain(k);
    }
    expect(LIBPQ_KEYWORDS.filter((k) => oracle.keywords.includes(k))).toEqual(oracle.keywords);
  });

  for (const group of baseCorpus(LIBPQ_KEYWORDS)) {
    it(`agrees on ${group.name} (${group.cases.length} strings)`, () => {
      expect(group.cases.length).toBeGreaterThan(0);
      const bad = compareAll(group.cases);
      expect(bad.slice(0, 20), `${bad.length} disagreements`).toEqual([]);
    });
  }

  const seeds = baseCorpus(LIBPQ_KEYWORDS).flatMap((g) => g.cases);
  const mutated = mutatedCases(seeds, 6000, 1234567);

  it(`agrees on ${mutated.length} seeded mutations`, () => {
    const bad = compareAll(mutated);
    expect(bad.slice(0, 20), `${bad.length} disagreements`).toEqual([]);
  });

  it('agrees on 4000 single-edit mutations of strings libpq accepts', () => {
    const verdicts = oracle.parse(seeds);
    const accepted = seeds.filter((_, i) => verdicts[i]!.ok);
    expect(accepted.length).toBeGreaterThan(300);
    const gentle = mutatedCases(accepted, 4000, 7654321, 1);
    mutated.push(...gentle);
    const bad = compareAll(gentle);
    expect(bad.slice(0, 20), `${bad.length} disagreements`).toEqual([]);
  });

  it('agrees on keywords newer than the installed libpq, via rewriting to a keyword it knows', () => {
    const standIn: Record<string, string> = {
      load_balance_hosts: 'krbsrvname',
      require_auth: 'requirepeer',
      sslcertmode: 'sslcrldir',
      gssdelegation: 'gsslib',
      sslnegotiation: 'sslcompression',
    };
    const newer = LIBPQ_KEYWORDS.filter((k) => !oracle.keywords.includes(k));
    if (newer.length === 0) return; // libpq 17+: the main comparison already covered them
    const originals: string[] = [];
    const rewrittenInputs: string[] = [];
    const back = new Map<string, string>();
    for (const k of newer) back.set(standIn[k]!, k);
    const rewrite = (s: string) => newer.reduce((acc, k) => acc.split(k).join(standIn[k]!), s);
    for (const input of [...seeds, ...mutated]) {
      if (JSON.stringify(ours(input)) === JSON.stringify(ours(input, oracle.keywords))) continue;
      // A stand-in already present, or a newer keyword spelled so that a literal
      // rewrite misses it (percent-encoded in a URI): not comparable this way.
      const rewritten = rewrite(input);
      if (
        newer.some((k) => input.includes(standIn[k]!)) ||
        JSON.stringify(ours(rewritten)) !== JSON.stringify(ours(rewritten, oracle.keywords))
      ) {
        stats.notRewritable++;
        continue;
      }
      originals.push(input);
      rewrittenInputs.push(rewritten);
    }
    expect(originals.length).toBeGreaterThan(50);
    const results = oracle.parse(rewrittenInputs);
    const bad: string[] = [];
    originals.forEach((input, i) => {
      stats.rewritten++;
      const mine = ours(input);
      // Values went through the same rewrite on libpq's side.
      const mineRewritten: Ours = mine.ok
        ? { ok: true, values: Object.fromEntries(Object.entries(mine.values).map(([k, v]) => [k, rewrite(v)])) }
        : mine;
      const d = disagreement(input, results[i]!, mineRewritten, (k) => back.get(k) ?? k);
      if (d) bad.push(d);
    });
    expect(bad.slice(0, 20), `${bad.length} disagreements`).toEqual([]);
    expect(stats.notRewritable).toBeLessThan(originals.length / 5);
  });
});
