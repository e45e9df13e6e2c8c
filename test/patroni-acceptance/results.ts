/** Result types of an acceptance run and the OS user it runs as. */
import { execFileSync } from 'node:child_process';

export type Impl = 'ours' | 'patroni';

export interface ScenarioResult {
  feature: string;
  scenario: string;
  status: 'passed' | 'failed' | 'skipped';
  failedStep?: string;
  error?: string;
}

/** One implementation's behave run, as data. */
export interface RunRecord {
  impl: Impl;
  exitCode: number | null;
  timedOut: boolean;
  seconds: number;
  scenarios: ScenarioResult[];
}

/** What `--json` writes: the run(s) and, for the gate, any feature reruns of ours. */
export interface ResultsFile {
  date: string;
  commit?: string;
  cpus: number;
  features: string[];
  runs: RunRecord[];
  reruns: RunRecord[];
}

export interface FeatureTally {
  passed: number;
  failed: number;
  skipped: number;
}

/** Scenarios counted per feature, in the order of `features`. */
export function tally(results: ScenarioResult[], features: string[]): Map<string, FeatureTally> {
  const m = new Map<string, FeatureTally>(features.map((f) => [f, { passed: 0, failed: 0, skipped: 0 }]));
  for (const r of results) {
    const t = m.get(r.feature);
    if (t) t[r.status] += 1;
  }
  return m;
}

/** uid/gid of the unprivileged user the suite runs as, created (like test/support does) when missing. */
export function runAs(user: string): { uid: number; gid: number } {
  const id = (flag: string) => Number(execFileSync('id', [flag, user], { encoding: 'utf8' }).trim());
  try {
    return { uid: id('-u'), gid: id('-g') };
  } catch {
    execFileSync('useradd', ['--system', '--create-home', '--shell', '/usr/sbin/nologin', user]);
    return { uid: id('-u'), gid: id('-g') };
  }
}
