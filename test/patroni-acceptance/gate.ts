/**
 * The CI verdict on our manager's acceptance run: every scenario passes except the ones
 * exceptions.ts lists with a reason. Pure (no behave run here), so it is unit-tested.
 */
import type { ScenarioResult } from './results';

/** `<feature> :: <scenario>`, the key exceptions.ts uses. */
export function scenarioKey(s: Pick<ScenarioResult, 'feature' | 'scenario'>): string {
  return `${s.feature} :: ${s.scenario}`;
}

export interface GateVerdict {
  /** Failed scenarios not listed as known failures: these fail the run. */
  unexpected: ScenarioResult[];
  /** Scenarios behave skipped by their tags (e.g. @pg170000 on PostgreSQL 15): reported, never silent. */
  skipped: string[];
  /** Known failures that happened, with their reasons. */
  known: Array<{ key: string; reason: string }>;
  /** Listed known failures that passed in this run (the list should shrink). */
  stale: string[];
  /** Features to run again (flake check): those with an unexpected failure. */
  rerun: string[];
}

/**
 * Judges one run of ours. A scenario behave skipped counts as unexpected unless its feature was not
 * selected: the suite skips only by tag (e.g. @pg110000 on an old server), which never applies here.
 */
export function judge(scenarios: readonly ScenarioResult[], knownFailures: Readonly<Record<string, string>>): GateVerdict {
  const unexpected: ScenarioResult[] = [];
  const known: GateVerdict['known'] = [];
  const stale: string[] = [];
  const skipped: string[] = [];
  for (const s of scenarios) {
    const key = scenarioKey(s);
    const reason = knownFailures[key];
    if (s.status === 'skipped') skipped.push(key);
    else if (s.status === 'passed') {
      if (reason !== undefined) stale.push(key);
    } else if (reason !== undefined) known.push({ key, reason });
    else unexpected.push(s);
  }
  return { unexpected, known, stale, skipped, rerun: [...new Set(unexpected.map((s) => s.feature))] };
}

/**
 * The results after a rerun: for every feature that was run again, the rerun's scenarios replace the
 * first run's (a feature's scenarios build on each other, so a feature is rerun whole).
 */
export function withRerun(first: readonly ScenarioResult[], rerun: readonly ScenarioResult[]): ScenarioResult[] {
  const again = new Set(rerun.map((s) => s.feature));
  return [...first.filter((s) => !again.has(s.feature)), ...rerun];
}
