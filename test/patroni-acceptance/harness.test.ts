/**
 * The acceptance runner's own logic (no behave run here): behave's json is read into
 * per-scenario results and the side-by-side table counts them per feature.
 * The run itself: `npm run test:patroni-acceptance` (see run.ts).
 */
import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { judge, withRerun } from './gate';
import { BEGIN, END, LATEST, renderTable, withTable } from './readme-table';
import type { ResultsFile, ScenarioResult } from './results';
import { CI_FEATURES, formatTable, parseBehaveJson, type ImplRun } from './run';
import { FEATURE_SECONDS, mergeScenarios, splitFeatures } from './shards';

const behaveJson = JSON.stringify([
  {
    name: 'patroni api', location: 'features/patroni_api.feature:1',
    elements: [
      { type: 'scenario', name: 'a', status: 'passed', steps: [] },
      { type: 'scenario', name: 'b', status: 'failed', steps: [{ keyword: 'Then', name: 'I receive a response code 200', result: { status: 'failed', error_message: ['Assertion Failed: 501 != 200'] } }] },
      { type: 'scenario', name: 'c', status: 'skipped', steps: [] },
      { type: 'background', name: 'bg', status: 'passed' },
    ],
  },
]);

describe('acceptance runner', () => {
  it('reads behave json per scenario, with the failing step and its message', () => {
    const r = parseBehaveJson(behaveJson);
    expect(r.map((x) => [x.feature, x.scenario, x.status])).toEqual([['patroni_api', 'a', 'passed'], ['patroni_api', 'b', 'failed'], ['patroni_api', 'c', 'skipped']]);
    expect(r[1]).toMatchObject({ failedStep: 'Then I receive a response code 200', error: 'Assertion Failed: 501 != 200' });
  });

  it('prints ours and Patroni side by side with totals and run time', () => {
    const scenarios = parseBehaveJson(behaveJson);
    const runs: ImplRun[] = [
      { impl: 'patroni', dir: '', exitCode: 0, timedOut: false, seconds: 100, scenarios },
      { impl: 'ours', dir: '', exitCode: 1, timedOut: false, seconds: 90, scenarios: scenarios.map((s) => ({ ...s, status: 'passed' as const })) },
    ];
    const t = formatTable(runs, ['patroni_api', 'recovery']);
    expect(t).toMatch(/\| patroni_api\s+\| 1\/1\/1\s+\| 3\/0\/0\s+\|/);
    expect(t).toMatch(/\| recovery\s+\| 0\/0\/0\s+\| 0\/0\/0\s+\|/);
    expect(t).toMatch(/\| TOTAL\s+\| 1\/1\/1\s+\| 3\/0\/0\s+\|/);
    expect(t).toMatch(/\| run time\s+\| 100 s\s+\| 90 s\s+\|/);
  });

  const sc = (feature: string, scenario: string, status: ScenarioResult['status']): ScenarioResult => ({ feature, scenario, status });

  it('gate: a failure not listed in exceptions fails, a listed one is known, a listed one that passed is stale, a skipped one is listed', () => {
    const v = judge([sc('recovery', 'a', 'passed'), sc('recovery', 'b', 'failed'), sc('patroni_api', 'c', 'failed'), sc('patroni_api', 'd', 'passed'), sc('quorum_commit', 'e', 'skipped')],
      { 'patroni_api :: c': 'needs patronictl 4', 'patroni_api :: d': 'old reason' });
    expect(v.unexpected.map((s) => `${s.feature}/${s.scenario}`)).toEqual(['recovery/b']);
    expect(v.skipped).toEqual(['quorum_commit :: e']);
    expect(v.known).toEqual([{ key: 'patroni_api :: c', reason: 'needs patronictl 4' }]);
    expect(v.stale).toEqual(['patroni_api :: d']);
    expect(v.rerun).toEqual(['recovery']);
  });

  it('gate: a rerun replaces its whole feature and leaves the others', () => {
    const merged = withRerun([sc('recovery', 'a', 'passed'), sc('recovery', 'b', 'failed'), sc('patroni_api', 'c', 'passed')], [sc('recovery', 'a', 'passed'), sc('recovery', 'b', 'passed')]);
    expect(merged.filter((s) => s.status !== 'passed')).toEqual([]);
    expect(merged).toHaveLength(3);
  });

  it('shards: CI\'s features split in two groups within 15% of each other, each feature once, given order kept', () => {
    const [a, b] = splitFeatures(CI_FEATURES, 2);
    expect([...a!, ...b!].sort()).toEqual([...CI_FEATURES].sort());
    const load = (g: string[]) => g.reduce((t, f) => t + FEATURE_SECONDS[f]!, 0);
    expect(Math.abs(load(a!) - load(b!)) / Math.max(load(a!), load(b!))).toBeLessThan(0.15);
    for (const g of [a!, b!]) expect(g).toEqual(CI_FEATURES.filter((f) => g.includes(f)));
    expect(splitFeatures(['x', 'y'], 4, {})).toEqual([['x'], ['y']]);
    expect(splitFeatures(['x', 'y'], 1)).toEqual([['x', 'y']]);
    expect(() => splitFeatures(['x'], 0)).toThrow(/--shards must be a whole number/);
    expect(() => splitFeatures(['x'], Number('two'))).toThrow(expect.objectContaining({ code: 'ACCEPTANCE_BAD_SHARDS' }));
  });

  it('shards: results merge in feature order, each feature\'s scenarios in their own order', () => {
    const merged = mergeScenarios([[sc('recovery', 'r1', 'passed'), sc('recovery', 'r2', 'failed')], [sc('patroni_api', 'p1', 'passed'), sc('patroni_api', 'p2', 'skipped')]], ['patroni_api', 'recovery']);
    expect(merged.map((s) => s.scenario)).toEqual(['p1', 'p2', 'r1', 'r2']);
  });

  const doc: ResultsFile = {
    date: '2026-12-07T02:00:00.000Z', commit: 'abc1234', cpus: 2, features: ['recovery', 'patroni_api'],
    runs: [
      { impl: 'patroni', exitCode: 1, timedOut: false, seconds: 120.4, scenarios: [sc('recovery', 'a', 'passed'), sc('recovery', 'b', 'failed'), sc('patroni_api', 'c', 'failed')] },
      { impl: 'ours', exitCode: 0, timedOut: false, seconds: 99.6, scenarios: [sc('recovery', 'a', 'passed'), sc('recovery', 'b', 'passed'), sc('patroni_api', 'c', 'passed')] },
    ],
    reruns: [{ impl: 'ours', exitCode: 0, timedOut: false, seconds: 50, scenarios: [sc('recovery', 'a', 'passed'), sc('recovery', 'b', 'passed')] }],
  };

  it('README table: one row per feature with its scenario count, totals, run times and provenance', () => {
    const t = renderTable(doc);
    expect(t).toContain('| recovery (2) | 1 / 1 / 0 | 2 / 0 / 0 |');
    expect(t).toContain('| patroni_api (1) | 0 / 1 / 0 | 1 / 0 / 0 |');
    expect(t).toContain('| **total** | **1 / 2 / 0** | **3 / 0 / 0** |');
    expect(t).toContain('| run time | 120 s | 100 s |');
    expect(t).toMatch(/2 cores, 2026-12-07 02:00 UTC, commit `abc1234`; pg-failover's recovery ran a second time/);
    const readme = `intro\n${BEGIN}\nold table\n${END}\nrest`;
    expect(withTable(readme, t)).toBe(`intro\n${BEGIN}\n${t}\n${END}\nrest`);
    expect(() => withTable('no markers', t)).toThrow(/markers/);
  });

  it.runIf(existsSync(LATEST))('README.md holds exactly the table rendered from results/latest.json (npm run acceptance:readme)', () => {
    const latest = JSON.parse(readFileSync(LATEST, 'utf8')) as ResultsFile;
    const readme = readFileSync(join(__dirname, '..', '..', 'README.md'), 'utf8');
    expect(readme.slice(readme.indexOf(BEGIN) + BEGIN.length, readme.indexOf(END)).trim()).toBe(renderTable(latest));
  });
});
