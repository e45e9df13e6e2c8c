/**
 * The steady-state overhead benchmark:
 *
 *   npm run bench:overhead -- --seconds 2 --rounds 9 [--warmup-seconds 1] [--concurrency 8] [--only mix]
 *
 * On a local primary + 2 standbys: pool.query throughput and p50/p99 latency
 * of pg-failover's Pool versus a plain pg.Pool on the same primary, for point
 * selects and small writes (pg-failover with readFrom 'primary', so both do
 * the same work) and a read-heavy mix (pg-failover's default routing, reads on
 * the standbys); the classifier's cost per statement over the SQL corpus,
 * uncached and cached; and the client memory a pool costs. Runs alternate
 * between the clients, each round starting with a different one; the best
 * round of each is reported. Writes a
 * markdown table and JSON into bench/results/.
 */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { LocalCluster } from '../../src/local/cluster';
import { Pool } from '../../src/pool/pool';
import { Classifier } from '../../src/routing/classify';

interface Options {
  seconds: number;
  rounds: number;
  concurrency: number;
  corpus: string;
  outDir: string;
  /** Warm-up before each measured run (connections, JIT), seconds. */
  warmupSeconds: number;
  /** Only the workloads whose name contains this (default: all). */
  only?: string;
}

interface Queryable {
  query(sql: string, values?: unknown[]): Promise<unknown>;
  end(): Promise<void>;
  /** pg-failover only: read-your-writes narrowed to a scope (one per operation = one per request). */
  causalScope?<T>(fn: () => T): T;
}

interface Measured {
  workload: string;
  client: string;
  opsPerSec: number;
  p50Millis: number;
  p99Millis: number;
  errors: number;
  /** Client CPU (user + system of this process) per operation, µs: the client's own cost, free of the server's share of the 2 cores. */
  clientCpuMicrosPerOp: number;
  /** Median ops/s over the rounds (the other fields are the best round's). */
  medianOpsPerSec?: number;
  /** ops/s of every round, in round order (rounds pair up across clients: they ran back to back). */
  roundOpsPerSec?: number[];
  /** pg-failover only: reads in the run, and how many read-your-writes kept on the primary (pool.causalStats). */
  reads?: number;
  readsKeptOnPrimary?: number;
  /** Reads that returned a row older than a write acknowledged before they started (the mixes check every read). */
  staleReads?: number;
  /** pg-failover only: primary position fetches, and reads that checked or waited on a standby for a position (and ran out of time). */
  positionFetches?: number;
  standbyWaits?: number;
  standbyWaitTimeouts?: number;
  standbyLooks?: number;
}

type CausalStats = { readsSentToPrimary: number; lsnFetches: number; standbyWaits?: number; standbyWaitTimeouts?: number; standbyLooks?: number };

const REPO = resolve(__dirname, '../..');

function parseArgs(argv: string[]): Options {
  const o: Options = { seconds: 3, rounds: 2, concurrency: 8, corpus: resolve(REPO, '../shared/corpus/sql-routing.jsonl'), outDir: resolve(REPO, 'bench/results'), warmupSeconds: 1 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') continue;
    const v = argv[++i];
    if (v === undefined) throw new Error(`${a} needs a value`);
    if (a === '--corpus') o.corpus = resolve(v);
    else if (a === '--out') o.outDir = resolve(v);
    else if (a === '--only') o.only = v;
    else if (a === '--seconds' || a === '--rounds' || a === '--concurrency' || a === '--warmup-seconds') {
      const n = Number(v);
      if (!Number.isFinite(n) || n <= 0) throw new Error(`${a} must be a positive number, got ${v}`);
      if (a === '--warmup-seconds') o.warmupSeconds = n;
      else o[a.slice(2) as 'seconds' | 'rounds' | 'concurrency'] = n;
    } else throw new Error(`unknown option ${a}`);
  }
  return o;
}

type Step = (c: Queryable, worker: number, i: number) => Promise<unknown>;

const ROWS = 10_000;
/**
 * Staleness check for the mixes: every acknowledged UPDATE's new value per row; a read of a row
 * that returns less than what was acknowledged before the read started is stale. Half the reads
 * read the row written last (by any worker), so that a read that can miss a write has one to miss.
 */
const acked = new Map<number, number>();
let lastWritten = 1;
let staleReads = 0;
const mix: Step = async (c, _w, i) => {
  if (i % 10 === 9) {
    const id = 1 + ((i * 31) % ROWS);
    const r = (await c.query('UPDATE bench_kv SET v = v + 1 WHERE id = $1 RETURNING v', [id])) as { rows: Array<{ v: number | string }> };
    const v = Number(r.rows[0]!.v);
    if (v > (acked.get(id) ?? -1)) acked.set(id, v);
    lastWritten = id;
    return r;
  }
  const id = i % 2 ? lastWritten : 1 + ((i * 7919) % ROWS);
  const expected = acked.get(id);
  const r = (await c.query('SELECT v FROM bench_kv WHERE id = $1', [id])) as { rows: Array<{ v: number | string }> };
  if (expected !== undefined && Number(r.rows[0]!.v) < expected) staleReads++;
  return r;
};
const WORKLOADS: Array<{ name: string; routed: boolean; step: Step; options?: Record<string, unknown> }> = [
  { name: 'point select', routed: false, step: (c, _w, i) => c.query('SELECT v FROM bench_kv WHERE id = $1', [1 + ((i * 7919) % ROWS)]) },
  { name: 'small write', routed: false, step: (c, w, i) => c.query('INSERT INTO bench_small (worker, n) VALUES ($1, $2)', [w, i]) },
  // The cost of resolveWriteOutcome: each write a pipelined BEGIN; SELECT pg_current_xact_id(); INSERT; COMMIT.
  { name: 'small write, resolveWriteOutcome', routed: false, step: (c, w, i) => c.query('INSERT INTO bench_small (worker, n) VALUES ($1, $2)', [w, i]), options: { resolveWriteOutcome: true } },
  // The stall watch's cost (on by default, stallCheckMillis 1000): the same writes with it off.
  { name: 'small write, stallCheckMillis 0', routed: false, step: (c, w, i) => c.query('INSERT INTO bench_small (worker, n) VALUES ($1, $2)', [w, i]), options: { stallCheckMillis: 0 } },
  { name: 'read-heavy mix (90/10)', routed: true, step: mix },
  { name: 'read-heavy mix (90/10), readYourWrites none', routed: true, step: mix, options: { readYourWrites: 'none' } },
  // Each operation a "request" in its own causal scope (pool.causalScope): reads must see only their own scope's writes.
  { name: 'read-heavy mix (90/10), a causalScope per operation', routed: true, step: (c, w, i) => (c.causalScope ? c.causalScope(() => mix(c, w, i)) : mix(c, w, i)) },
];

/** Runs `step` from `concurrency` workers for `seconds`; latency percentiles over every op. */
async function measure(c: Queryable, step: Step, seconds: number, concurrency: number): Promise<Omit<Measured, 'workload' | 'client'>> {
  const latencies: number[] = [];
  let selects = 0;
  const reads = () => selects;
  const counted: Queryable = {
    query: (sql, values) => {
      if (sql.charCodeAt(0) === 83 /* 'S'ELECT */) selects++;
      return c.query(sql, values);
    },
    end: () => c.end(),
    ...(c.causalScope ? { causalScope: <T>(fn: () => T): T => c.causalScope!(fn) } : {}),
  };
  let errors = 0;
  const end = performance.now() + seconds * 1000;
  const worker = async (w: number) => {
    for (let i = 0; performance.now() < end; i++) {
      const t = performance.now();
      try {
        await step(counted, w, i);
        latencies.push(performance.now() - t);
      } catch {
        errors++;
      }
    }
  };
  staleReads = 0;
  const stats = () => (c as { causalStats?: CausalStats }).causalStats;
  const causal = () => stats()?.readsSentToPrimary;
  const kept0 = causal();
  const s0 = stats();
  const started = performance.now();
  const cpu0 = process.cpuUsage();
  await Promise.all(Array.from({ length: concurrency }, (_, w) => worker(w)));
  const cpu = process.cpuUsage(cpu0);
  const elapsed = (performance.now() - started) / 1000;
  const kept = kept0 === undefined ? undefined : causal()! - kept0;
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? NaN;
  return {
    opsPerSec: latencies.length / elapsed,
    p50Millis: pct(0.5),
    p99Millis: pct(0.99),
    errors,
    clientCpuMicrosPerOp: (cpu.user + cpu.system) / Math.max(1, latencies.length),
    staleReads,
    ...(kept === undefined ? {} : { reads: reads(), readsKeptOnPrimary: kept }),
    ...(s0 === undefined
      ? {}
      : {
          positionFetches: stats()!.lsnFetches - s0.lsnFetches,
          standbyWaits: (stats()!.standbyWaits ?? 0) - (s0.standbyWaits ?? 0),
          standbyLooks: (stats()!.standbyLooks ?? 0) - (s0.standbyLooks ?? 0),
          standbyWaitTimeouts: (stats()!.standbyWaitTimeouts ?? 0) - (s0.standbyWaitTimeouts ?? 0),
        }),
  };
}

function plainPool(cluster: LocalCluster, max: number): Queryable {
  const p = new pg.Pool({ host: cluster.primary.server.host, port: cluster.primary.server.port, user: 'postgres', database: 'postgres', max });
  p.on('error', () => {});
  return p;
}

/**
 * What people hand-roll today to use standbys with plain pg: one pg.Pool per
 * node, SELECTs round-robin over the standbys, everything else to the primary
 * (no lag checks, no read-your-writes, no failover).
 */
function handSplitPools(cluster: LocalCluster, max: number): Queryable {
  const mk = (host: string, port: number) => {
    const p = new pg.Pool({ host, port, user: 'postgres', database: 'postgres', max });
    p.on('error', () => {});
    return p;
  };
  const primary = mk(cluster.primary.server.host, cluster.primary.server.port);
  const standbys = cluster.standbys.map((s) => mk(s.server.host, s.server.port));
  let next = 0;
  return {
    query: (sql: string, values?: unknown[]) => (/^\s*select\b/i.test(sql) ? standbys[next++ % standbys.length]! : primary).query(sql, values),
    end: async () => {
      await Promise.all([primary, ...standbys].map((p) => p.end()));
    },
  };
}

function failoverPool(cluster: LocalCluster, max: number, routed: boolean, options: Record<string, unknown> = {}): Queryable {
  const p = new Pool({ connectionString: cluster.connectionString(), max, ...(routed ? {} : { readFrom: 'primary' as const }), ...options });
  p.on('error', () => {});
  return p;
}

/** Classifier cost per statement: uncached (cache off) and cached (every statement seen before). */
function classifierCost(corpusFile: string): { statements: number; uncachedNs: number; cachedNs: number } | { skipped: string } {
  if (!existsSync(corpusFile)) return { skipped: `corpus not found at ${corpusFile}` };
  const sqls = readFileSync(corpusFile, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => (JSON.parse(l) as { sql: string }).sql);
  const time = (c: Classifier, passes: number) => {
    const t = process.hrtime.bigint();
    for (let p = 0; p < passes; p++) for (const s of sqls) c.analyze(s);
    return Number(process.hrtime.bigint() - t) / (passes * sqls.length);
  };
  const uncached = new Classifier({ cacheSize: 0 });
  time(uncached, 1); // warm the JIT
  const uncachedNs = time(uncached, 2);
  const cached = new Classifier({ cacheSize: sqls.length + 1 });
  time(cached, 1); // fill the cache
  const cachedNs = time(cached, 3);
  return { statements: sqls.length, uncachedNs, cachedNs };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Heap + external + array buffers after a GC (when --expose-gc is on; else best effort). */
async function memory(): Promise<number> {
  const gc = (globalThis as { gc?: () => void }).gc;
  for (let i = 0; i < 3; i++) {
    gc?.();
    await sleep(20);
  }
  const m = process.memoryUsage();
  return m.heapUsed + m.external + m.arrayBuffers;
}

/** What a live, warmed pool of `max` connections costs in client memory. */
/** Live pools measured at once (their sum divided by this): the signal grows, GC noise does not. */
const MEMORY_POOLS = 3;

/**
 * What a live, warmed pool of `max` connections costs in client memory: one pool of the kind
 * is used and ended first (code compiled, module caches filled), then MEMORY_POOLS live ones.
 */
async function poolMemory(make: () => Queryable, max: number): Promise<number> {
  const work = (p: Queryable) =>
    Promise.all(Array.from({ length: max }, (_, w) => (async () => {
      for (let i = 0; i < 200; i++) await WORKLOADS[2]!.step(p, w, i);
    })()));
  const warm = make();
  await work(warm);
  await warm.end();
  const before = await memory();
  const pools = Array.from({ length: MEMORY_POOLS }, make);
  for (const p of pools) await work(p);
  const after = await memory();
  await Promise.all(pools.map((p) => p.end()));
  return (after - before) / MEMORY_POOLS;
}

async function main(argv: string[]): Promise<void> {
  const o = parseArgs(argv);
  mkdirSync(o.outDir, { recursive: true });
  const parentDir = mkdtempSync(join(process.env.PGFAILOVER_BENCH_ROOT ?? tmpdir(), 'pgfo-overhead-'));
  chmodSync(parentDir, 0o711);
  let cluster: LocalCluster | undefined;
  const onSignal = () => void (cluster?.stop() ?? Promise.resolve()).finally(() => process.exit(130));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const results: Measured[] = [];
  let classifier: ReturnType<typeof classifierCost>;
  let mem: { plainBytes: number; failoverBytes: number; gc: boolean } | undefined;
  try {
    classifier = classifierCost(o.corpus);
    console.error('classifier:', JSON.stringify(classifier));
    cluster = await LocalCluster.start({ standbys: 2, parentDir, log: (l) => console.error(`  [cluster] ${l}`) });
    await cluster.primary.server.query('CREATE TABLE bench_kv (id int PRIMARY KEY, v bigint NOT NULL)');
    await cluster.primary.server.query(`INSERT INTO bench_kv SELECT g, 0 FROM generate_series(1, ${ROWS}) g`);
    await cluster.primary.server.query('CREATE TABLE bench_small (worker int, n int, at timestamptz DEFAULT now())');
    for (const s of cluster.standbys) await cluster.waitForReplay(s.name);
    const max = o.concurrency;
    for (const w of WORKLOADS.filter((x) => !o.only || x.name.includes(o.only!))) {
      const best = new Map<string, Measured>();
      const rounds = new Map<string, number[]>();
      const stale = new Map<string, number>();
      for (let round = 0; round < o.rounds; round++) {
        const clients: Array<readonly [string, () => Queryable]> = [
          ['pg.Pool', () => plainPool(cluster!, max)],
          ...(w.routed ? [['pg.Pools, hand-split', () => handSplitPools(cluster!, max)] as const] : []),
          ['pg-failover Pool', () => failoverPool(cluster!, max, w.routed, w.options)],
        ];
        // Each round starts with a different client, so checkpoints, autovacuum and a noisy neighbour do not always hit the same one.
        const order = clients.map((_, i) => clients[(i + round) % clients.length]!);
        for (const [client, make] of order) {
          const c = make();
          await measure(c, w.step, o.warmupSeconds, o.concurrency); // warm connections and JIT (ours has more code to tier up: ~2 s at 0.3 s warm-up ran 10–40% slower)
          const m = { workload: w.name, client, ...(await measure(c, w.step, o.seconds, o.concurrency)) };
          await c.end();
          console.error(`  ${w.name} / ${client} round ${round + 1}: ${Math.round(m.opsPerSec)} ops/s p50 ${m.p50Millis.toFixed(2)} ms p99 ${m.p99Millis.toFixed(2)} ms, client CPU ${m.clientCpuMicrosPerOp.toFixed(1)} µs/op`);
          if (!best.has(client) || best.get(client)!.opsPerSec < m.opsPerSec) best.set(client, m);
          rounds.set(client, [...(rounds.get(client) ?? []), m.opsPerSec]);
          stale.set(client, (stale.get(client) ?? 0) + (m.staleReads ?? 0));
        }
      }
      for (const m of best.values()) results.push({ ...m, staleReads: stale.get(m.client) ?? 0, medianOpsPerSec: median(rounds.get(m.client)!), roundOpsPerSec: rounds.get(m.client)! });
    }
    const plainBytes = await poolMemory(() => plainPool(cluster!, max), max);
    const failoverBytes = await poolMemory(() => failoverPool(cluster!, max, true), max);
    mem = { plainBytes, failoverBytes, gc: typeof (globalThis as { gc?: unknown }).gc === 'function' };
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await cluster?.stop().catch((e) => console.error(`cluster stop: ${(e as Error).message}`));
    rmSync(parentDir, { recursive: true, force: true });
  }
  const md = report(o, results, classifier, mem, argv);
  const base = o.only ? `overhead-${o.only.replace(/[^a-z0-9]+/gi, '-')}` : 'overhead';
  writeFileSync(join(o.outDir, `${base}.md`), md);
  writeFileSync(join(o.outDir, `${base}.json`), JSON.stringify({ options: o, machine: machine(), results, classifier, memory: mem }, null, 2));
  console.log(md);
}

function machine(): string {
  return `${os.cpus()[0]?.model ?? 'cpu'} × ${os.cpus().length}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.platform()} ${os.release()}, node ${process.version}`;
}

function report(o: Options, results: Measured[], classifier: ReturnType<typeof classifierCost>, mem: { plainBytes: number; failoverBytes: number; gc: boolean } | undefined, argv: string[]): string {
  const lines = [
    `Overhead benchmark — ${o.concurrency} concurrent workers, ${o.seconds} s per run, ${o.rounds} round(s) (best and median), ${o.warmupSeconds} s warm-up before each; primary + 2 standbys on one machine`,
    '',
    `Machine: ${machine()}`,
    '',
    `Command: \`npm run bench:overhead -- ${argv.filter((a) => a !== '--').join(' ')}\``,
    '',
    '| workload | client | ops/s (best) | p50 ms | p99 ms | errors | stale reads (all rounds) | client CPU µs/op | best vs pg.Pool | vs hand-split pg.Pools | median ops/s | median of per-round ratios vs pg.Pool |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const r of results) {
    const base = results.find((x) => x.workload === r.workload && x.client === 'pg.Pool');
    const split = results.find((x) => x.workload === r.workload && x.client === 'pg.Pools, hand-split');
    const ratio = (b: Measured | undefined) => (b ? `${(r.opsPerSec / b.opsPerSec).toFixed(2)}×` : '–');
    const med = r.medianOpsPerSec ?? r.opsPerSec;
    // Median of per-round ratios: each round's clients ran back to back, so the machine's slow drift cancels out.
    const paired = base?.roundOpsPerSec && r.roundOpsPerSec ? median(r.roundOpsPerSec.map((x, i) => x / base.roundOpsPerSec![i]!)) : undefined;
    const medRatio = paired === undefined ? '–' : `${paired.toFixed(2)}×`;
    lines.push(
      `| ${r.workload} | ${r.client} | ${Math.round(r.opsPerSec)} | ${r.p50Millis.toFixed(2)} | ${r.p99Millis.toFixed(2)} | ${r.errors} | ${r.staleReads ?? 0} | ${r.clientCpuMicrosPerOp.toFixed(1)} | ${ratio(base)} | ${ratio(split)} | ${Math.round(med)} | ${medRatio} |`,
    );
  }
  lines.push(
    '',
    'Point selects and small writes: pg-failover with `readFrom: primary` (same server, same work). Read-heavy mix: pg-failover routes reads to the standbys, ' +
      'except those its default read-your-writes keeps on the primary (a write every ~1 ms leaves standbys no time to replay it first: see the share below); ' +
      'with a causalScope per operation (one scope per request, as an app would), a read must see only its own scope\'s writes; ' +
      'pg.Pool uses the primary; "hand-split" is one pg.Pool per node with SELECTs round-robin over the standbys (what apps hand-roll; no lag checks, no read-your-writes). ' +
      'Client CPU: this process\'s user + system time per operation; on 2 cores shared with three PostgreSQL servers, every µs the client spends is taken from the servers.',
  );
  for (const r of results) {
    if (r.reads === undefined || r.readsKeptOnPrimary === undefined || r.workload === 'point select' || r.workload.startsWith('small write')) continue;
    const share = r.reads ? (100 * r.readsKeptOnPrimary) / r.reads : 0;
    lines.push(
      '',
      `${r.workload}, pg-failover Pool: ${share.toFixed(1)}% of its reads (${r.readsKeptOnPrimary} of ${r.reads}) were kept on the primary by read-your-writes, the rest went to the standbys` +
        (r.standbyLooks || r.standbyWaits ? `; ${r.standbyLooks ?? 0} looks at a standby's replay position (shared by the reads waiting at once), ${r.standbyWaits} reads waited on a behind standby (${r.standbyWaitTimeouts ?? 0} ran out of causalWaitMillis), ${r.positionFetches ?? 0} positions learnt on the primary.` : '.'),
    );
  }
  lines.push('');
  if ('skipped' in classifier) lines.push(`Classifier: skipped (${classifier.skipped}).`);
  else lines.push(`Classifier over ${classifier.statements} corpus statements: ${Math.round(classifier.uncachedNs)} ns/statement uncached, ${Math.round(classifier.cachedNs)} ns/statement cached.`);
  if (mem) {
    const mb = (b: number) => (b / 2 ** 20).toFixed(3);
    lines.push(
      `Client memory per warmed pool of ${o.concurrency} connections (heap + external${mem.gc ? ', after GC' : ', no --expose-gc: noisy'}; ${MEMORY_POOLS} live pools measured together): pg.Pool ${mb(mem.plainBytes)} MB, pg-failover Pool ${mb(mem.failoverBytes)} MB (its pools to 3 nodes + topology), extra ${mb(mem.failoverBytes - mem.plainBytes)} MB.`,
    );
  }
  return `${lines.join('\n')}\n`;
}

main(process.argv.slice(2)).then(
  () => process.exit(0),
  (e) => {
    console.error(e instanceof Error ? (e.stack ?? e.message) : e);
    process.exit(1);
  },
);
