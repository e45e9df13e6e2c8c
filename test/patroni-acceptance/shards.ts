/**
 * Splitting one implementation's acceptance run into shards that run at once, each in its own
 * network and PID namespace (run.ts `--shards N`). The behave scenarios mostly wait (for a
 * leader race, a TTL, a `loop_wait`), so two shards on 2 cores take about half the wall time.
 */
import type { ScenarioResult } from './results';

/**
 * Seconds one feature took against pg-failover on the 2-core CI machine (2026-12-07, behave's
 * step durations plus ≈ 30 s of its own setup and teardown per feature). Only a balance hint:
 * a feature missing here counts as 60 s.
 */
export const FEATURE_SECONDS: Readonly<Record<string, number>> = {
  basic_replication: 112,
  patroni_api: 83,
  cascading_replication: 39,
  nostream_node: 42,
  permanent_slots: 86,
  dcs_failsafe_mode: 113,
  quorum_commit: 85,
  recovery: 45,
};

/**
 * Splits `features` into at most `n` non-empty groups of about equal expected time (longest first,
 * each to the least loaded group). Within a group the features keep their given order.
 */
export function splitFeatures(features: readonly string[], n: number, seconds: Readonly<Record<string, number>> = FEATURE_SECONDS): string[][] {
  if (!Number.isInteger(n) || n < 1) throw Object.assign(new Error(`--shards must be a whole number ≥ 1 (got ${n})`), { code: 'ACCEPTANCE_BAD_SHARDS' });
  const groups = Array.from({ length: Math.min(n, features.length) }, () => ({ load: 0, members: [] as string[] }));
  const weight = (f: string) => seconds[f] ?? 60;
  for (const f of [...features].sort((a, b) => weight(b) - weight(a))) {
    const g = groups.reduce((min, x) => (x.load < min.load ? x : min));
    g.load += weight(f);
    g.members.push(f);
  }
  return groups.map((g) => features.filter((f) => g.members.includes(f)));
}

/** The shards' scenario results as one run's: in the order of `features`, each feature's own order kept. */
export function mergeScenarios(parts: readonly ScenarioResult[][], features: readonly string[]): ScenarioResult[] {
  const rank = (s: ScenarioResult) => {
    const i = features.indexOf(s.feature);
    return i < 0 ? features.length : i;
  };
  return parts.flat().map((s, i) => ({ s, i })).sort((a, b) => rank(a.s) - rank(b.s) || a.i - b.i).map((x) => x.s);
}
