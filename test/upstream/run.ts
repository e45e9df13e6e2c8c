/**
 * Runs node-postgres's own test suites (vendored unchanged in
 * test/vendor/node-postgres) twice on this machine: with real `pg` / `pg-pool`
 * (the baseline) and with pg-failover put in their place (test/upstream/shim:
 * a module alias, no change to the tests). Each file runs in its own process,
 * as upstream's Makefile runs them; a process that has not exited by itself
 * 30 s after it started fails (a leaked handle is a drop-in defect).
 *
 * Verdict: every test that passes with real pg must pass with pg-failover,
 * except the ones listed in exceptions.ts (tests that read pg's private
 * internals, each with its reason, at most 1% of all tests). Exit code 1
 * otherwise.
 *
 *   npm run test:upstream                # both targets, table + verdict
 *   npm run test:upstream -- --only gh-issues --target ours
 *   npm run test:upstream -- --json out.json
 *   npm run test:upstream -- --cluster    # pg-failover on a primary + standby (PGHOST lists both): routing Pool, host walk
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { upstreamFiles, VENDOR, type UpstreamFile } from './files';
import { startUpstreamServer, type UpstreamServer } from './server';
import { EXCEPTIONS } from './exceptions';

type Target = 'pg' | 'ours';
type Status = 'passed' | 'failed' | 'skipped' | 'pending' | 'unfinished';
interface TestResult {
  name: string;
  status: Status;
  ms?: number;
  error?: string;
}
interface FileRun {
  rel: string;
  target: Target;
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  ms: number;
  tests: TestResult[];
  output: string;
}

const ROOT = path.resolve(__dirname, '../..');
const SHIM = path.join(__dirname, 'shim/alias.cjs');
const MOCHA = path.join(ROOT, 'node_modules/mocha/bin/mocha.js');
const EXIT_BOUND_MILLIS = 30_000;
/** How many more times a file that lost a test pg passed runs with pg-failover before the loss counts. */
const RERUNS = 2;
/** The pseudo-test every file gets: its process ends by itself, with status 0, within the bound. */
export const EXIT_TEST = '(process exits by itself, status 0, within 30 s)';

function parseArgs(argv: string[]) {
  const out = { only: [] as string[], targets: ['pg', 'ours'] as Target[], json: undefined as string | undefined, verbose: false, cluster: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--only') out.only.push(argv[++i]!);
    else if (a === '--target') out.targets = [argv[++i] as Target];
    else if (a === '--json') out.json = argv[++i];
    else if (a === '--verbose') out.verbose = true;
    else if (a === '--cluster') out.cluster = true;
    else if (a === '--') continue;
    else throw new Error(`unknown argument ${a}; use --only <substring>, --target pg|ours, --json <file>, --verbose, --cluster`);
  }
  return out;
}

function runFile(file: UpstreamFile, target: Target, server: UpstreamServer, scratch: string): Promise<FileRun> {
  const results = path.join(scratch, `${target}-${file.rel.replace(/\//g, '_')}.jsonl`);
  const abs = path.join(VENDOR, file.rel);
  const args =
    file.runner === 'mocha'
      ? [MOCHA, '--reporter', 'json', '--reporter-option', `output=${results}`, path.join(VENDOR, 'pg-pool/test/setup.js'), abs]
      : [abs, 'postgres://'];
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, {
      cwd: path.dirname(abs),
      // NODE_OPTIONS, not a flag: processes a test forks (pg-pool's idle-timeout-exit child) get the alias too.
      env: { PATH: process.env.PATH, HOME: process.env.HOME, USER: process.env.USER, ...(target === 'ours' && server.clusterEnv ? server.clusterEnv : server.env), NODE_OPTIONS: `--require ${SHIM}`, UPSTREAM_TARGET: target, UPSTREAM_RESULTS: results, UPSTREAM_FILE: file.rel },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let output = '';
    const keep = (b: Buffer) => {
      if (output.length < 200_000) output += b.toString();
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        /* gone */
      }
    }, EXIT_BOUND_MILLIS);
    child.on('close', (exitCode, signal) => {
      clearTimeout(timer);
      const tests = file.runner === 'mocha' ? readMocha(results) : readSuite(results);
      // A file of plain module-level code (no runner) is judged by this alone, as upstream judges it.
      tests.push({ name: EXIT_TEST, status: !timedOut && exitCode === 0 ? 'passed' : 'failed', error: timedOut ? 'killed after 30 s' : `exit ${exitCode ?? signal}` });
      resolve({ rel: file.rel, target, exitCode, signal, timedOut, ms: Date.now() - started, tests, output });
    });
  });
}

function readSuite(file: string): TestResult[] {
  if (!existsSync(file)) return [];
  const seen = new Map<string, number>();
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as TestResult)
    .map((t) => {
      // pg files may register two tests with one name: number the repeats so each is compared with its twin.
      const n = (seen.get(t.name) ?? 0) + 1;
      seen.set(t.name, n);
      return n === 1 ? t : { ...t, name: `${t.name} #${n}` };
    });
}

function readMocha(file: string): TestResult[] {
  if (!existsSync(file)) return [];
  const report = JSON.parse(readFileSync(file, 'utf8')) as {
    passes: { fullTitle: string; duration?: number }[];
    failures: { fullTitle: string; err?: { message?: string; stack?: string } }[];
    pending: { fullTitle: string }[];
  };
  return [
    ...report.passes.map((t) => ({ name: t.fullTitle, status: 'passed' as const, ms: t.duration })),
    ...report.failures.map((t) => ({ name: t.fullTitle, status: 'failed' as const, error: (t.err?.stack ?? t.err?.message ?? '').slice(0, 2000) })),
    ...report.pending.map((t) => ({ name: t.fullTitle, status: 'pending' as const })),
  ];
}

async function runTarget(target: Target, files: UpstreamFile[], server: UpstreamServer, scratch: string, log: (s: string) => void): Promise<FileRun[]> {
  const runs: FileRun[] = [];
  for (const f of files) {
    const r = await runFile(f, target, server, scratch);
    const passed = r.tests.filter((t) => t.status === 'passed').length;
    log(`${target.padEnd(4)} ${f.rel.padEnd(72)} ${passed}/${r.tests.length} ${(r.ms / 1000).toFixed(1)}s${r.timedOut ? ' TIMEOUT' : ''}`);
    runs.push(r);
  }
  return runs;
}

async function main(): Promise<number> {
  const opts = parseArgs(process.argv.slice(2));
  let files = upstreamFiles();
  if (opts.only.length) files = files.filter((f) => opts.only.some((o) => f.rel.includes(o)));
  const scratch = mkdtempSync(path.join(tmpdir(), 'pgfo-upstream-'));
  let server: UpstreamServer | undefined;
  const started = Date.now();
  const log = (s: string) => {
    if (opts.verbose) console.log(s);
  };
  try {
    // One server for both: each file runs with real pg, then with pg-failover, back to back (same server, same
    // moment of the machine's load). Files run one at a time, as upstream's Makefile runs them.
    server = await startUpstreamServer('shared', process.env.PGFAILOVER_TEST_ROOT, { standby: opts.cluster });
    const runsByTarget = new Map<Target, FileRun[]>(opts.targets.map((t) => [t, []]));
    for (const f of files) {
      for (const t of opts.targets) runsByTarget.get(t)!.push(...(await runTarget(t, [f], server, scratch, log)));
    }
    // A file where a test pg passed failed with pg-failover runs again with pg-failover, up to RERUNS more times
    // until it passes; the last run's result counts and the file is reported as timing-sensitive (this 2-core
    // machine is shared: pg-pool's idle-timeout.js, which assumes a first query within 50 ms, fails for real pg
    // too in 1–2 of 3 runs under load), never hidden.
    const retried: string[] = [];
    if (opts.targets.includes('pg') && opts.targets.includes('ours')) {
      const ours = runsByTarget.get('ours')!;
      for (const f of files) {
        const base = runsByTarget.get('pg')!.find((r) => r.rel === f.rel)!;
        const i = ours.findIndex((r) => r.rel === f.rel);
        const lost = base.tests.some((t) => t.status === 'passed' && ours[i]!.tests.find((x) => x.name === t.name)?.status !== 'passed');
        if (!lost) continue;
        let again: FileRun | undefined;
        let fixed = false;
        let runsMade = 1;
        while (!fixed && runsMade <= RERUNS) {
          again = (await runTarget('ours', [f], server, scratch, log))[0]!;
          runsMade++;
          fixed = base.tests.every((t) => t.status !== 'passed' || again!.tests.find((x) => x.name === t.name)?.status === 'passed');
        }
        retried.push(`${f.rel}: ${fixed ? `passed on run ${runsMade}` : `failed ${runsMade} times`}`);
        ours[i] = again!;
      }
    }
    const byTarget = [...runsByTarget.values()];
    const runs = byTarget.flat();
    for (const r of retried) console.log(`  ran again (a test pg passed failed the first time): ${r}`);
    const verdict = report(files, runs, opts.targets);
    console.log(`upstream run took ${((Date.now() - started) / 1000).toFixed(0)} s`);
    if (opts.json) writeFileSync(opts.json, JSON.stringify({ runs: runs.map(({ output, ...r }) => r), verdict }, null, 2));
    if (!verdict.ok) {
      for (const r of runs) {
        if (r.target !== 'ours') continue;
        const bad = verdict.regressions.filter((x) => x.file === r.rel);
        if (bad.length === 0) continue;
        console.log(`\n--- ${r.rel} (pg-failover): output ---\n${r.output.slice(-6000)}`);
      }
    }
    return verdict.ok ? 0 : 1;
  } finally {
    await server?.stop();
    rmSync(scratch, { recursive: true, force: true });
  }
}

interface Verdict {
  ok: boolean;
  total: number;
  regressions: { file: string; test: string; error?: string }[];
  excepted: { file: string; test: string; reason: string }[];
  staleExceptions: string[];
}

function report(files: UpstreamFile[], runs: FileRun[], targets: Target[]): Verdict {
  const get = (rel: string, t: Target) => runs.find((r) => r.rel === rel && r.target === t);
  const rows: string[][] = [['file', 'tests', ...targets.map((t) => (t === 'pg' ? 'pg passed' : 'pg-failover passed'))]];
  const regressions: Verdict['regressions'] = [];
  const excepted: Verdict['excepted'] = [];
  const used = new Set<string>();
  let total = 0;
  const sums = new Map<Target, number>();
  for (const f of files) {
    const runsOf = targets.map((t) => get(f.rel, t)!);
    const names = new Set(runsOf.flatMap((r) => r.tests.map((t) => t.name)));
    total += names.size;
    rows.push([f.rel.replace(/^pg\/test\/|^pg-pool\/test\//, (m) => (m.startsWith('pg-pool') ? 'pg-pool/' : '')), String(names.size), ...runsOf.map((r) => String(r.tests.filter((t) => t.status === 'passed').length))]);
    for (const r of runsOf) sums.set(r.target, (sums.get(r.target) ?? 0) + r.tests.filter((t) => t.status === 'passed').length);
    const base = get(f.rel, 'pg');
    const ours = get(f.rel, 'ours');
    if (!base || !ours) continue;
    for (const t of base.tests) {
      if (t.status !== 'passed') continue;
      const mine = ours.tests.find((x) => x.name === t.name);
      if (mine?.status === 'passed') continue;
      const key = `${f.rel} :: ${t.name}`;
      const reason = EXCEPTIONS[key];
      if (reason) {
        used.add(key);
        excepted.push({ file: f.rel, test: t.name, reason });
      } else regressions.push({ file: f.rel, test: t.name, error: mine ? mine.error : 'not run' });
    }
  }
  rows.push(['total', String(total), ...targets.map((t) => String(sums.get(t) ?? 0))]);
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const r of rows) console.log(r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  '));
  const staleExceptions = Object.keys(EXCEPTIONS).filter((k) => !used.has(k) && files.some((f) => k.startsWith(`${f.rel} :: `)));
  const limit = Math.floor(total * 0.01);
  console.log(`\n${total} tests in ${files.length} files; exceptions used: ${excepted.length} (limit 1% = ${limit})`);
  for (const e of excepted) console.log(`  excepted: ${e.file} :: ${e.test} — ${e.reason}`);
  for (const s of staleExceptions) console.log(`  exception no longer needed (the test passes now): ${s}`);
  for (const r of regressions) console.log(`  REGRESSION: ${r.file} :: ${r.test}\n      ${(r.error ?? '').split('\n').slice(0, 3).join('\n      ')}`);
  const ok = !targets.includes('pg') || !targets.includes('ours') ? true : regressions.length === 0 && excepted.length <= limit;
  console.log(ok ? 'verdict: every test that passes with pg passes with pg-failover' : 'verdict: FAILED');
  return { ok, total, regressions, excepted, staleExceptions };
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    process.exit(2);
  },
);
