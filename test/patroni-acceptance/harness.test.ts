/**
 * The acceptance runner's own logic (no behave run here): behave's json is read into
 * per-scenario results and the side-by-side table counts them per feature.
 * The run itself: `npm run test:patroni-acceptance` (see run.ts).
 */
import { describe, expect, it } from 'vitest';
import { formatTable, parseBehaveJson, type ImplRun } from './run';

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
});
