/**
 * Runs Patroni's own behave acceptance suite (test/vendor/patroni/features, Patroni v4.1.4, unchanged)
 * twice: with Debian's Patroni as the baseline and with `pg-failover manager` where the suite starts
 * patroni.py; prints scenarios passed/failed/skipped side by side.
 *
 *   npm run test:patroni-acceptance -- [--features basic_replication,patroni_api|ci|all] [--impl both|ours|patroni]
 *                                      [--parallel] [--shards N] [--keep] [--json out.json] [--timeout seconds] [--gate [--reruns 1]] [--min-ours-passed N]
 *
 * Each run gets its own directory (a copy of features/ plus the adapter's patroni.py/patronictl.py), its
 * own network namespace (`unshare -n`, loopback only: the suite hard-codes etcd on 2379, REST on 8008+ and
 * PostgreSQL on 5361+, and the namespace keeps those from colliding with anything else on the machine)
 * and its own PID namespace (every process the run started ends with it).
 * `--shards N` splits each implementation's features into N groups run at once (shards.ts), each in
 * namespaces of its own; their results count as one run.
 * Everything runs as the unprivileged `pgfailover` user (PostgreSQL refuses root). Needs root, behave
 * (python3-behave), python3-coverage, Debian's patroni, etcd and PostgreSQL binaries.
 */
import { spawn, spawnSync } from 'node:child_process';
import { chownSync, lstatSync, cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { availableParallelism, tmpdir } from 'node:os';
import { KNOWN_FAILURES } from './exceptions';
import { renderTable } from './readme-table';
import { judge, scenarioKey, withRerun } from './gate';
import { mergeScenarios, splitFeatures } from './shards';
import { runAs, tally, type FeatureTally, type Impl, type ResultsFile, type RunRecord, type ScenarioResult } from './results';

const ROOT = resolve(__dirname, '..', '..');
const VENDOR = join(ROOT, 'test', 'vendor', 'patroni');
const ADAPTER = join(__dirname, 'bin');
const USER = 'pgfailover';
/** Debian's Patroni 3.0.2 (package `patroni`): the baseline, and the helpers environment.py imports. */
const PATRONI_PACKAGE = '/usr/lib/python3/dist-packages/patroni';

/** The features this adapter runs by default (the fast core), for both implementations. */
export const DEFAULT_FEATURES = ['basic_replication', 'patroni_api'];

/**
 * `--features ci`: what `npm test` runs, against ours in 3 shards (≈4.5 min on 2 cores). The
 * whole suite (`--features all`, ≈20 min) is `npm run test:patroni-acceptance:full`, whose JSON is
 * the README's table: CI would otherwise pass 30 minutes.
 */
export const CI_FEATURES = ['basic_replication', 'patroni_api', 'cascading_replication', 'nostream_node', 'permanent_slots', 'dcs_failsafe_mode', 'quorum_commit', 'recovery'];

/**
 * Every feature of Patroni v4.1.4 that `--features all` does not run, with the reason.
 * (frozen_patroni exists only on Patroni's master branch, after v4.1.4; there is no static_primary feature.)
 */
export const NOT_RUN: Record<string, string> = {
  bootstrap_labels: 'Kubernetes only: the suite itself skips it on etcd',
  citus: 'needs the Citus extension (not packaged for Debian 12; the suite skips it without citus.so); the manager has no Citus support',
  watchdog: "needs Patroni's test watchdog driver (mode: required); the manager has no watchdog and refuses watchdog.mode: required at startup",
};

/** The runnable features of the vendored suite (all *.feature files minus NOT_RUN). */
export function runnableFeatures(): string[] {
  return readdirSync(join(VENDOR, 'features')).filter((f) => f.endsWith('.feature')).map((f) => f.slice(0, -'.feature'.length)).filter((f) => !(f in NOT_RUN)).sort();
}

export interface RunOptions {
  impl: Impl;
  features: string[];
  keep?: boolean;
  /** Per-implementation wall-clock bound for the behave run, ms. */
  timeoutMs?: number;
  log?: (line: string) => void;
}

export interface ImplRun extends RunRecord {
  /** The run directory (features/output/, behave.log); the first shard's when sharded. */
  dir: string;
  /** With `--shards`: each shard's own run (its directory, results and time). */
  parts?: ImplRun[];
}

function pgBinDir(): string {
  const out = spawnSync('pg_config', ['--bindir'], { encoding: 'utf8' });
  if (out.status === 0 && out.stdout.trim()) return out.stdout.trim();
  const base = '/usr/lib/postgresql';
  const versions = existsSync(base) ? readdirSync(base).sort((a, b) => Number(b) - Number(a)) : [];
  if (!versions.length) throw Object.assign(new Error('PostgreSQL binaries not found (pg_config or /usr/lib/postgresql/*/bin)'), { code: 'ACCEPTANCE_SETUP' });
  return join(base, versions[0]!, 'bin');
}

function chownTree(path: string, uid: number, gid: number): void {
  if (lstatSync(path).isSymbolicLink()) return;
  chownSync(path, uid, gid);
  if (statSync(path).isDirectory()) for (const e of readdirSync(path)) chownTree(join(path, e), uid, gid);
}

/** Builds a run directory laid out like Patroni's source tree, as the suite expects. */
function prepareRunDir(impl: Impl): string {
  const dir = mkdtempSync(join(tmpdir(), `pgf-acceptance-${impl}-`));
  cpSync(join(VENDOR, 'features'), join(dir, 'features'), { recursive: true });
  cpSync(join(VENDOR, 'postgres0.yml'), join(dir, 'postgres0.yml'));
  cpSync(join(ADAPTER, impl === 'ours' ? 'patroni-ours.py' : 'patroni-real.py'), join(dir, 'patroni.py'));
  cpSync(join(ADAPTER, 'patronictl.py'), join(dir, 'patronictl.py'));
  // as in Patroni's source tree, the patroni package sits beside patroni.py (the suite imports its helpers)
  symlinkSync(PATRONI_PACKAGE, join(dir, 'patroni'));
  const { uid, gid } = runAs(USER);
  chownTree(dir, uid, gid);
  return dir;
}

/** Runs the selected features against one implementation. */
export async function runImpl(impl: Impl, opts: RunOptions): Promise<ImplRun> {
  const log = opts.log ?? (() => {});
  const dir = prepareRunDir(impl);
  const started = Date.now();
  const featureFiles = opts.features.map((f) => `features/${f}.feature`);
  const path = [ADAPTER, pgBinDir(), '/usr/local/bin', '/usr/bin', '/bin'].join(':');
  const env: NodeJS.ProcessEnv = {
    PATH: path,
    HOME: `/home/${USER}`,
    LANG: 'C.UTF-8',
    DCS: 'etcd3',
    PGFAILOVER_BIN: join(ROOT, 'bin', 'pg-failover.js'),
    PGFAILOVER_NODE: process.execPath,
    // the suite's PatroniRequest and patronictl print through these
    PYTHONUNBUFFERED: '1',
    ...(process.env.DEBUG ? { DEBUG: process.env.DEBUG } : {}),
  };
  const behave = ['/usr/bin/behave', ...featureFiles, '--no-capture', '--no-color',
    '-f', 'plain', '-o', 'behave.log', '-f', 'json', '-o', 'results.json'];
  // loopback only, in a private network namespace; then drop to the unprivileged user
  const script = `ip link set lo up && exec runuser -u ${USER} -- env -i ${Object.entries(env).map(([k, v]) => `${k}=${shq(v!)}`).join(' ')} ${behave.map(shq).join(' ')}`;
  log(`[${impl}] ${dir}: behave ${featureFiles.join(' ')}`);
  // -p -f --mount-proc: its own PID namespace, so whatever the run leaves behind (a PostgreSQL that a
  // paused Patroni/manager leaves running by design, a hung node) dies with it; --kill-child: and on our timeout
  const child = spawn('unshare', ['-n', '-p', '-f', '-m', '--mount-proc', '--kill-child', '--', '/usr/bin/python3', join(ADAPTER, 'init.py'), 'sh', '-c', script], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { out += d.toString(); });
  let timedOut = false;
  const timer = opts.timeoutMs ? setTimeout(() => { timedOut = true; if (child.pid) process.kill(child.pid, 'SIGKILL'); /* unshare --kill-child then ends the namespace */ }, opts.timeoutMs) : undefined;
  const exitCode = await new Promise<number | null>((res) => child.on('close', (code) => res(code)));
  if (timer) clearTimeout(timer);
  writeFileSync(join(dir, 'runner.log'), out);
  const seconds = (Date.now() - started) / 1000;
  const results = join(dir, 'results.json');
  let scenarios: ScenarioResult[] = [];
  try {
    scenarios = parseBehaveJson(readFileSync(results, 'utf8'));
  } catch {
    log(`[${impl}] no parsable results.json; output:\n${out.slice(-3000)}`);
  }
  log(`[${impl}] done in ${seconds.toFixed(0)} s (exit ${exitCode}${timedOut ? ', timed out' : ''})`);
  return { impl, dir, exitCode, timedOut, seconds, scenarios };
}

/**
 * Runs the selected features against one implementation in `shards` groups at once (shards.ts) and
 * counts them as one run: scenarios in feature order, the time of the slowest shard.
 */
export async function runSharded(impl: Impl, opts: RunOptions, shards: number): Promise<ImplRun> {
  const groups = splitFeatures(opts.features, shards);
  if (groups.length < 2) return runImpl(impl, opts);
  const parts = await Promise.all(groups.map((features) => runImpl(impl, { ...opts, features })));
  return {
    impl,
    dir: parts[0]!.dir,
    exitCode: parts.reduce<number | null>((c, p) => (c === 0 ? p.exitCode : c), 0),
    timedOut: parts.some((p) => p.timedOut),
    seconds: Math.max(...parts.map((p) => p.seconds)),
    scenarios: mergeScenarios(parts.map((p) => p.scenarios), opts.features),
    parts,
  };
}

function shq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** behave's json formatter: a list of features, each with `elements` (scenarios) carrying a `status`. */
export function parseBehaveJson(text: string): ScenarioResult[] {
  const features = JSON.parse(text) as Array<{ name: string; location: string; elements?: Array<{ type: string; name: string; status: string; steps?: Array<{ name: string; keyword: string; result?: { status: string; error_message?: string | string[] } }> }> }>;
  const out: ScenarioResult[] = [];
  for (const f of features) {
    const file = f.location.replace(/^features\//, '').replace(/\.feature:\d+$/, '');
    for (const s of f.elements ?? []) {
      if (s.type !== 'scenario') continue;
      const failedStep = s.steps?.find((st) => st.result?.status === 'failed');
      const msg = failedStep?.result?.error_message;
      out.push({
        feature: file,
        scenario: s.name,
        status: s.status === 'passed' ? 'passed' : s.status === 'failed' ? 'failed' : 'skipped',
        ...(failedStep ? { failedStep: `${failedStep.keyword} ${failedStep.name}`, error: (Array.isArray(msg) ? msg.join('\n') : msg ?? '').slice(0, 400) } : {}),
      });
    }
  }
  return out;
}

/** Side-by-side table: one row per feature, ours vs Patroni. */
export function formatTable(runs: readonly RunRecord[], features: string[]): string {
  const by = new Map(runs.map((r) => [r.impl, tally(r.scenarios, features)]));
  const impls = runs.map((r) => r.impl);
  const head = ['feature', ...impls.map((i) => `${i === 'ours' ? 'pg-failover' : 'Patroni 3.0.2'} pass/fail/skip`)];
  const rows = features.map((f) => [f, ...impls.map((i) => cell(by.get(i)!.get(f)))]);
  const total = ['TOTAL', ...impls.map((i) => cell([...by.get(i)!.values()].reduce((a, b) => ({ passed: a.passed + b.passed, failed: a.failed + b.failed, skipped: a.skipped + b.skipped }), { passed: 0, failed: 0, skipped: 0 })))];
  const time = ['run time', ...runs.map((r) => `${r.seconds.toFixed(0)} s${r.timedOut ? ' (timed out)' : ''}`)];
  const all = [head, ...rows, total, time];
  const w = head.map((_, c) => Math.max(...all.map((r) => r[c]!.length)));
  const line = (r: string[]) => `| ${r.map((x, c) => x.padEnd(w[c]!)).join(' | ')} |`;
  return [line(head), `|${w.map((n) => '-'.repeat(n + 2)).join('|')}|`, ...[...rows, total, time].map(line)].join('\n');
}

function cell(t: FeatureTally | undefined): string {
  return t ? `${t.passed}/${t.failed}/${t.skipped}` : '-';
}

export async function main(argv: string[]): Promise<number> {
  const arg = (name: string) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  if (process.getuid?.() !== 0) {
    throw Object.assign(new Error('Patroni\'s acceptance suite needs root: it runs in its own network and PID namespaces (unshare -n -p) and starts the servers as the unprivileged pgfailover user. Run it as root (CI does), or leave it out of `npm test` with PGF_SKIP_ACCEPTANCE=1.'), { code: 'ACCEPTANCE_NEEDS_ROOT' });
  }
  const given = arg('features') ?? DEFAULT_FEATURES.join(',');
  const features = given === 'all' ? runnableFeatures() : given === 'ci' ? CI_FEATURES : given.split(',').filter(Boolean);
  for (const f of features) if (!existsSync(join(VENDOR, 'features', `${f}.feature`))) throw Object.assign(new Error(`unknown feature ${f}`), { code: 'ACCEPTANCE_UNKNOWN_FEATURE' });
  const implArg = (arg('impl') ?? 'both') as Impl | 'both';
  const impls: Impl[] = implArg === 'both' ? ['patroni', 'ours'] : [implArg];
  const timeoutMs = Number(arg('timeout') ?? 1800) * 1000;
  const log = (l: string) => console.log(l);
  const opts = { impl: impls[0]!, features, timeoutMs, log };
  const shards = Number(arg('shards') ?? 1);
  splitFeatures(features, shards); // a bad --shards fails here, before any run
  const one = (i: Impl) => runSharded(i, opts, shards);
  const runs = argv.includes('--parallel')
    ? await Promise.all(impls.map(one))
    : await impls.reduce<Promise<ImplRun[]>>(async (acc, i) => [...(await acc), await one(i)], Promise.resolve([]));
  console.log('\nPatroni acceptance suite (features from Patroni v4.1.4), scenarios passed/failed/skipped:\n');
  console.log(formatTable(runs, features));
  for (const r of runs) {
    for (const s of r.scenarios.filter((x) => x.status === 'failed')) console.log(`\n[${r.impl}] FAILED ${s.feature}: ${s.scenario}\n    at: ${s.failedStep}\n    ${(s.error ?? '').split('\n').slice(-3).join('\n    ')}`);
  }
  // CI gate: the harness must have run (results for every implementation) ...
  if (runs.some((r) => (r.parts ?? [r]).some((p) => p.scenarios.length === 0))) {
    console.error('ACCEPTANCE_NO_RESULTS: an implementation (or one of its shards) produced no scenario results (setup broken?)');
    writeResults(arg('json'), runs, features, []);
    return 1;
  }
  // ... and ours passes every scenario but the known failures of exceptions.ts (a feature with an
  // unexpected failure runs again, ours only, up to --reruns times: timing flakes on a loaded machine)
  const ours = runs.find((r) => r.impl === 'ours');
  const reruns: ImplRun[] = [];
  let code = 0;
  if (argv.includes('--gate') && ours) {
    let verdict = judge(ours.scenarios, KNOWN_FAILURES);
    for (let i = 0; i < Number(arg('reruns') ?? 1) && verdict.rerun.length; i++) {
      console.log(`\n[ours] unexpected failures in ${verdict.rerun.join(', ')}: running ${verdict.rerun.length === 1 ? 'it' : 'them'} again`);
      const again = await runImpl('ours', { ...opts, features: verdict.rerun });
      reruns.push(again);
      for (const s of again.scenarios.filter((x) => x.status === 'failed')) console.log(`[ours, rerun] FAILED ${s.feature}: ${s.scenario}\n    at: ${s.failedStep}`);
      ours.scenarios = withRerun(ours.scenarios, again.scenarios);
      verdict = judge(ours.scenarios, KNOWN_FAILURES);
    }
    if (reruns.length) console.log(`\nAfter the rerun(s):\n${formatTable(runs, features)}`);
    console.log(`\n[ours] gate: ${ours.scenarios.filter((x) => x.status === 'passed').length} passed, ${verdict.known.length} known failures (test/patroni-acceptance/exceptions.ts), ${verdict.unexpected.length} unexpected`);
    for (const k of verdict.known) console.log(`  known: ${k.key} — ${k.reason}`);
    for (const k of verdict.stale) console.log(`  STALE exception (passed, remove it from exceptions.ts): ${k}`);
    for (const k of verdict.skipped) console.log(`  skipped by its tags (e.g. a newer PostgreSQL): ${k}`);
    if (verdict.unexpected.length) {
      for (const s of verdict.unexpected) console.error(`ACCEPTANCE_REGRESSION: ${scenarioKey(s)} ${s.status}${s.failedStep ? ` at: ${s.failedStep}` : ''}`);
      code = 1;
    }
  }
  const floor = arg('min-ours-passed');
  if (floor !== undefined && ours) {
    const passed = ours.scenarios.filter((x) => x.status === 'passed').length;
    if (passed < Number(floor)) {
      console.error(`ACCEPTANCE_REGRESSION: pg-failover passed ${passed} scenarios, fewer than --min-ours-passed ${floor}`);
      code = 1;
    }
  }
  writeResults(arg('json'), runs, features, reruns);
  const dirs = [...runs, ...reruns].flatMap((r) => r.parts ?? [r]);
  if (!argv.includes('--keep')) for (const r of dirs) if (!r.scenarios.some((s) => s.status === 'failed')) rmSync(r.dir, { recursive: true, force: true });
  for (const r of dirs) if (existsSync(r.dir)) console.log(`[${r.impl}] logs kept in ${r.dir} (features/output/, behave.log)`);
  return code;
}

/** `--json`: the run as data (what readme-table.ts turns into the README's table). */
function writeResults(out: string | undefined, runs: ImplRun[], features: string[], reruns: ImplRun[]): void {
  if (!out) return;
  const commit = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).stdout?.trim() || undefined;
  const doc: ResultsFile = {
    date: new Date().toISOString(),
    commit,
    cpus: availableParallelism(),
    features,
    runs: runs.map(({ dir: _d, parts: _p, ...r }) => r),
    reruns: reruns.map(({ dir: _d, parts: _p, ...r }) => r),
  };
  writeFileSync(out, JSON.stringify(doc, null, 2));
  console.log(`\n${out}; as the README's table (npm run acceptance:readme -- ${out}):\n\n${renderTable(doc)}`);
}

