/** The side-by-side table of `--daemon both`: every kind and invariant of either run, each daemon's numbers in its own columns. */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { CampaignReport, KindOutages } from './report';
import { sideBySideTable, writeSideBySide } from './side-by-side';

function outages(pool: number, prober: number, register: number, within: number, compared: number): KindOutages {
  return {
    n: compared, poolMedianMillis: pool, poolMaxMillis: pool, plainMedianMillis: prober, plainMaxMillis: prober, plainRegisterMedianMillis: register, plainRegisterMaxMillis: register,
    bestOtherMedianMillis: Math.min(prober, register), bestOtherMaxMillis: Math.min(prober, register), compared, poolWithinBestOther: within, poolWorstExcessMillis: pool - Math.min(prober, register),
    comparedWithPlainRegister: compared, poolWithinPlainRegister: within,
  };
}

function report(daemon: string, o: Partial<CampaignReport>): CampaignReport {
  return {
    seed: 7, daemon, synchronousMode: true, startedAt: '2026-12-07T15:00:00.000Z', durationSeconds: 300, limits: { faults: 30, minutes: 10 }, network: { cidr: '10.0.0.0/24', netem: false },
    faultsByKind: {}, faults: [], operations: {}, failovers: 0, primaryPeriods: [], outages: {}, outageToleranceMillis: 100, invariants: [], measurements: [], unrecovered: 0, daemonExits: [],
    stuckStandbys: [], writeGaps: { pool: [], plain: [], plainRegister: [] }, totalViolations: 0, ...o,
  };
}

describe('sideBySideTable', () => {
  const ours = report('pg-failover', {
    failovers: 5,
    outages: { 'kill-node': outages(8140, 8170, 8170, 2, 2), 'client-primary-cut': outages(6610, 0, 4380, 0, 1) },
    invariants: [{ name: 'register: acknowledged ids present exactly once', checked: 9103, violations: 0, examples: [] }],
    measurements: [{ name: 'plain pinned session: acknowledged then lost', checked: 900, count: 0, examples: [] }],
  });
  const patroni = report('patroni', {
    failovers: 4, totalViolations: 1,
    outages: { 'kill-node': outages(16_600, 16_600, 16_700, 2, 2), switchover: outages(1720, 1700, 1760, 1, 1) },
    invariants: [
      { name: 'register: acknowledged ids present exactly once', checked: 8000, violations: 1, examples: ['id 5'] },
      { name: 'bank: every total equal', checked: 40, violations: 0, examples: [] },
    ],
  });

  it('has a row per kind of either run, with each daemon in its own columns', () => {
    const t = sideBySideTable(ours, patroni);
    expect(t).toContain('| kill-node | 2 | 8140 ms / 8170 ms / 8170 ms | yes 2/2, worst -30 ms; ≤ plain register 2/2 | 2 | 16.6 s / 16.6 s / 16.7 s | yes 2/2');
    expect(t).toContain('| client-primary-cut | 1 | 6610 ms / 0 ms / 4380 ms | NO 0/1');
    expect(t).toMatch(/\| switchover \| 0 \| \(none\) \| — \| 1 \| 1720 ms/);
    expect(t).toContain('| register: acknowledged ids present exactly once | 0 / 9103 | 1 / 8000 |');
    expect(t).toContain('| bank: every total equal | — | 0 / 40 |');
    expect(t).toContain('| plain pinned session: acknowledged then lost | 0 / 900 | — |');
    expect(t).toContain('Total violations: ours 0, Patroni 1.');
  });

  it('is written next to both reports, naming their files', () => {
    const dir = mkdtempSync(join(tmpdir(), 'side-by-side-'));
    try {
      const { file } = writeSideBySide({ ...ours, file: 'a.json' }, { ...patroni, file: 'b.json' }, dir);
      const doc = JSON.parse(readFileSync(file, 'utf8'));
      expect(doc).toMatchObject({ seed: 7, synchronousMode: true, ours: { file: 'a.json', totalViolations: 0 }, patroni: { file: 'b.json', totalViolations: 1 } });
      expect(doc.table).toContain('| kill-node |');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
