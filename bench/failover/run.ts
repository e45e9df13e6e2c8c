/**
 * The failover benchmark runner:
 *
 *   npm run bench:failover -- --trials 3 --scenarios kill,crash,hang,switchover \
 *     --strategies pg-failover:etcd,naive-pg --manager manual --ttl 3 --json out.json
 *
 * Starts a cluster under test, then for every scenario and trial: every
 * strategy runs the steady workload (a write every ~5 ms with unique ids, and
 * reads), the fault is injected on the primary, the trial ends by itself once
 * every strategy has written successfully again for a while (or after
 * --max-trial-seconds), acknowledged writes are checked on the new primary,
 * and the cluster is brought back to health. Writes a markdown table, JSON
 * and one SVG timeline per scenario into bench/results/.
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { spawnSync } from 'node:child_process';
import pg from 'pg';
import { Etcd3 } from 'etcd3';
import { FAULT_KINDS, type ClusterUnderTest, type FaultKind } from './cluster-under-test';
import { ManualCluster } from './manual-cluster';
import { PatroniUnderTest } from './patroni-under-test';
import { computeMetrics } from './metrics';
import { HaproxyPeer } from './peers';
import { markdownTable, svgTimeline, type TrialResult } from './report';
import { STRATEGIES, makeClient, unavailable, type BenchClient, type StrategyName } from './strategies';
import { Workload, type Op } from './workload';

export interface FailoverBenchOptions {
  trials: number;
  scenarios: FaultKind[];
  strategies: StrategyName[];
  manager: 'manual' | 'patroni' | 'ours';
  /** Leader TTL in seconds (Patroni's `ttl`); loop_wait = ttl/3. */
  ttl: number;
  json: string;
  outDir: string;
  /** Hard bound per trial after the fault. */
  maxTrialSeconds: number;
  /** Steady state before the fault. */
  warmupMillis: number;
  /** Stop once every strategy has written successfully for this long after recovering. */
  settleMillis: number;
  writeEveryMillis: number;
  /** The app's own per-operation timeout: a longer operation is abandoned and counted as failed. */
  opTimeoutMillis: number;
  /**
   * Delay the fault by a uniformly random 0…loop_wait, so it lands at a random
   * point of the leader's renewal cycle instead of a fixed one (a fixed phase
   * favours whichever manager happened to renew just before). Default true.
   */
  phaseJitter: boolean;
}

/** Manager-level facts of one trial, from etcd (when the manager publishes Patroni keys). */
export interface TrialLeaderKey {
  manager: string;
  scenario: FaultKind;
  trial: number;
  /** Random delay added before the fault. */
  jitterMillis: number;
  /** Fault → the old leader key disappeared (lease expired or released); undefined if it never did. */
  leaderKeyGoneMillis?: number;
  /** Fault → another member's leader key appeared. */
  newLeaderKeyMillis?: number;
  /** Time since the old leader's lease was last renewed, at the fault (from etcd's LeaseTimeToLive, ±50 ms). */
  leaseAgeAtFaultMillis?: number;
  /** Gaps between the old leader's lease renewals seen before the fault. */
  renewalGapsMillis?: number[];
}

function parseArgs(argv: string[]): FailoverBenchOptions {
  const o: FailoverBenchOptions = {
    trials: 1,
    scenarios: [...FAULT_KINDS],
    strategies: [...STRATEGIES],
    manager: 'manual',
    ttl: 3,
    json: '',
    outDir: resolve(__dirname, '../results'),
    maxTrialSeconds: 20,
    warmupMillis: 1500,
    settleMillis: 1000,
    writeEveryMillis: 5,
    opTimeoutMillis: 5000,
    phaseJitter: true,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') continue;
    const v = argv[++i];
    if (v === undefined) throw new Error(`${a} needs a value`);
    const list = () => v.split(',').map((s) => s.trim()).filter(Boolean);
    switch (a) {
      case '--trials':
        o.trials = positive(a, v);
        break;
      case '--scenarios':
        o.scenarios = list() as FaultKind[];
        for (const s of o.scenarios) if (!FAULT_KINDS.includes(s)) throw new Error(`unknown scenario ${s}; one of ${FAULT_KINDS.join(', ')}`);
        break;
      case '--strategies':
        o.strategies = list() as StrategyName[];
        for (const s of o.strategies) if (!STRATEGIES.includes(s)) throw new Error(`unknown strategy ${s}; one of ${STRATEGIES.join(', ')}`);
        break;
      case '--manager':
        if (v !== 'manual' && v !== 'patroni' && v !== 'ours') throw new Error('--manager must be ours, patroni or manual');
        o.manager = v;
        break;
      case '--ttl':
        o.ttl = positive(a, v);
        break;
      case '--json':
        o.json = resolve(v);
        break;
      case '--out':
        o.outDir = resolve(v);
        break;
      case '--max-trial-seconds':
        o.maxTrialSeconds = positive(a, v);
        break;
      case '--warmup-millis':
        o.warmupMillis = positive(a, v);
        break;
      case '--op-timeout-millis':
        o.opTimeoutMillis = positive(a, v);
        break;
      case '--phase-jitter':
        if (v !== 'true' && v !== 'false') throw new Error('--phase-jitter must be true or false');
        o.phaseJitter = v === 'true';
        break;
      case '--write-every-millis':
        o.writeEveryMillis = positive(a, v);
        break;
      default:
        throw new Error(`unknown option ${a}`);
    }
  }
  o.json ||= join(o.outDir, `failover-${o.manager}.json`);
  return o;
}

function positive(name: string, v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number, got ${v}`);
  return n;
}

/** Starts the cluster the --manager option names. */
async function startCluster(o: FailoverBenchOptions, parentDir: string): Promise<ClusterUnderTest> {
  const log = (line: string) => console.error(`  [cluster] ${line}`);
  switch (o.manager) {
    case 'manual':
      return ManualCluster.start({ ttl: o.ttl, standbys: 2, parentDir, log });
    case 'patroni':
      return PatroniUnderTest.start({ ttl: o.ttl, nodes: 3, parentDir, log });
    case 'ours':
      // Our manager, one `pg-failover manager` process per node, from the same Patroni YAML and timings.
      return PatroniUnderTest.start({ ttl: o.ttl, nodes: 3, parentDir, log, daemon: 'pg-failover' });
  }
}

async function setupSchema(cluster: ClusterUnderTest): Promise<void> {
  const c = new pg.Client({ ...cluster.endpoint(await cluster.primaryName()), user: 'postgres', database: 'postgres' });
  await c.connect();
  try {
    await c.query('CREATE TABLE IF NOT EXISTS bench_writes (strategy text NOT NULL, op_id bigint NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp())');
    await c.query('CREATE INDEX IF NOT EXISTS bench_writes_strategy ON bench_writes (strategy)');
    await c.query('CREATE TABLE IF NOT EXISTS bench_reads (id int PRIMARY KEY)');
    await c.query('INSERT INTO bench_reads SELECT generate_series(1, 100) ON CONFLICT DO NOTHING');
  } finally {
    await c.end();
  }
}

/** Acknowledged writes missing on the current primary, and ids stored more than once. */
async function checkWrites(cluster: ClusterUnderTest, label: string, acked: number[]): Promise<{ lost: number; duplicates: number }> {
  const c = new pg.Client({ ...cluster.endpoint(await cluster.primaryName()), user: 'postgres', database: 'postgres' });
  await c.connect();
  try {
    const { rows } = await c.query<{ id: string; n: number }>('SELECT op_id::text AS id, count(*)::int AS n FROM bench_writes WHERE strategy = $1 GROUP BY op_id', [label]);
    const stored = new Map(rows.map((r) => [Number(r.id), r.n]));
    return { lost: acked.filter((id) => !stored.has(id)).length, duplicates: rows.filter((r) => r.n > 1).length };
  } finally {
    await c.end();
  }
}

interface Running {
  name: StrategyName;
  label: string;
  client: BenchClient;
  workload: Workload;
}

/** One trial: warm up, fault, run until every strategy writes again (bounded), check writes. */
async function trial(o: FailoverBenchOptions, cluster: ClusterUnderTest, haproxy: HaproxyPeer | undefined, scenario: FaultKind, n: number, names: StrategyName[]) {
  await cluster.waitHealthy(90_000);
  const running: Running[] = names.map((name, i) => {
    const label = `${name}#${scenario}#${n}`;
    const client = makeClient(name, label, cluster, haproxy);
    return { name, label, client, workload: new Workload(client, { idBase: (i + 1) * 1_000_000, writeEveryMillis: o.writeEveryMillis, readEveryMillis: o.writeEveryMillis, opTimeoutMillis: o.opTimeoutMillis }) };
  });
  const results: TrialResult[] = [];
  let faultAt = 0;
  const leaderKey: TrialLeaderKey = { manager: cluster.manager, scenario, trial: n, jitterMillis: 0 };
  let keyWatch: LeaderKeyWatch | undefined;
  let renewals: LeaseRenewals | undefined;
  try {
    for (const r of running) r.workload.start();
    // Steady state: every strategy has written, then the warm-up period.
    const ready = Date.now() + 15_000;
    while (Date.now() < ready && running.some((r) => !r.workload.ops.some((op) => op.kind === 'w' && op.ok))) await sleep(50);
    const victim = await cluster.primaryName();
    const loopWaitMillis = Math.max(1, Math.floor(o.ttl / 3)) * 1000;
    // etcd reports a lease's TTL in whole seconds: a renewal every second (ttl 3) often shows no
    // rise at all, so the lease-age columns are measured only from loop_wait 2 s up.
    if (loopWaitMillis >= 2000) renewals = await watchLeaseRenewals(cluster);
    // At least one whole renewal period watched before the fault: a trial that saw no renewal would
    // drop out of the lease-age column, and only the old leases would be missing (a biased median).
    await sleep(Math.max(o.warmupMillis, renewals ? loopWaitMillis + 500 : 0));
    leaderKey.jitterMillis = o.phaseJitter ? Math.round(Math.random() * loopWaitMillis) : 0;
    await sleep(leaderKey.jitterMillis);
    keyWatch = await watchLeaderKey(cluster, victim);
    console.error(`  ${scenario} #${n}: fault on ${victim} (after ${leaderKey.jitterMillis} ms of phase jitter)`);
    faultAt = Date.now();
    if (renewals) {
      const seen = renewals.stop();
      const last = seen.at(-1);
      if (last !== undefined) leaderKey.leaseAgeAtFaultMillis = faultAt - last;
      leaderKey.renewalGapsMillis = seen.slice(1).map((t, i) => t - seen[i]!);
    }
    const injected = cluster.fault(scenario, victim).catch((e) => console.error(`  fault failed: ${(e as Error).message}`));
    const deadline = faultAt + o.maxTrialSeconds * 1000;
    const recovered = (r: Running) => r.workload.ops.some((op) => op.kind === 'w' && op.ok && op.start >= faultAt && Date.now() - op.end >= o.settleMillis);
    while (Date.now() < deadline && !running.every(recovered)) await sleep(50);
    await injected;
  } finally {
    if (keyWatch) {
      if (keyWatch.goneAt !== undefined) leaderKey.leaderKeyGoneMillis = keyWatch.goneAt - faultAt;
      if (keyWatch.newAt !== undefined) leaderKey.newLeaderKeyMillis = keyWatch.newAt - faultAt;
      await keyWatch.close();
    }
    await Promise.all(running.map((r) => r.workload.stop()));
    // A client with sockets to a frozen server may never finish closing: bound it (the sockets die with the node).
    await Promise.all(running.map((r) => Promise.race([r.client.close().catch(() => {}), sleep(3000)])));
  }
  console.error(`  ${scenario} #${n}: workload stopped ${Date.now() - faultAt} ms after the fault; restoring the cluster`);
  await cluster.waitHealthy(90_000);
  console.error(`  ${scenario} #${n}: healthy again ${Date.now() - faultAt} ms after the fault`);
  for (const r of running) {
    const { lost, duplicates } = await checkWrites(cluster, r.label, r.workload.acknowledged());
    const detectedAt = r.client.signals.find((t) => t >= faultAt);
    results.push({ manager: cluster.manager, scenario, strategy: r.name, trial: n, metrics: computeMetrics(r.workload.ops, faultAt, detectedAt, lost, duplicates) });
  }
  if (process.env.BENCH_DUMP_OPS) {
    writeFileSync(join(o.outDir, `ops-${cluster.manager}-${scenario}-${n}.json`), JSON.stringify({ faultAt, strategies: running.map((r) => ({ name: r.name, signals: r.client.signals.map((t) => t - faultAt), ops: r.workload.ops.filter((op) => op.end >= faultAt - 100).map((op) => ({ ...op, start: op.start - faultAt, end: op.end - faultAt })) })) }));
  }
  return { results, leaderKey, faultAt, series: running.map((r) => ({ strategy: r.name, ops: r.workload.ops })) };
}

interface LeaderKeyWatch {
  goneAt?: number;
  newAt?: number;
  close(): Promise<void>;
}

interface LeaseRenewals {
  /** Stops polling; returns the moments a renewal was seen (the TTL went up). */
  stop(): number[];
}

/**
 * Polls the leader key's lease with LeaseTimeToLive every 50 ms: a TTL that
 * went up marks a renewal. Tells how old the lease was at the fault, so the
 * lease expiry can be told apart from the manager's takeover.
 */
async function watchLeaseRenewals(cluster: ClusterUnderTest): Promise<LeaseRenewals | undefined> {
  if (!cluster.etcdHosts?.length || !cluster.scope) return undefined;
  const client = new Etcd3({ hosts: cluster.etcdHosts });
  const res = await client.get(`/service/${cluster.scope}/leader`).exec().catch(() => undefined);
  const lease = res?.kvs[0]?.lease;
  if (!lease || lease === '0') {
    client.close();
    return undefined;
  }
  const seen: number[] = [];
  let running = true;
  const loop = (async () => {
    let prev: number | undefined;
    while (running) {
      const asked = Date.now();
      try {
        const r = await (client as unknown as { leaseClient: { leaseTimeToLive(req: { ID: string }): Promise<{ TTL: string }> } }).leaseClient.leaseTimeToLive({ ID: lease });
        const ttl = Number(r.TTL);
        if (prev !== undefined && ttl > prev) seen.push(asked);
        prev = ttl;
      } catch {
        /* etcd busy: skip a beat */
      }
      await sleep(50);
    }
  })();
  return {
    stop() {
      running = false;
      void loop.finally(() => client.close());
      return [...seen];
    },
  };
}

/** Watches Patroni's `leader` key: when the old leader's key goes, and when another member's appears. */
async function watchLeaderKey(cluster: ClusterUnderTest, oldLeader: string): Promise<LeaderKeyWatch | undefined> {
  if (!cluster.etcdHosts?.length || !cluster.scope) return undefined;
  const client = new Etcd3({ hosts: cluster.etcdHosts });
  const w: LeaderKeyWatch = {
    close: async () => {
      await watcher.cancel().catch(() => {});
      client.close();
    },
  };
  const watcher = await client.watch().key(`/service/${cluster.scope}/leader`).create();
  watcher.on('delete', () => (w.goneAt ??= Date.now()));
  watcher.on('put', (kv) => {
    if (kv.value.toString() !== oldLeader) {
      w.goneAt ??= Date.now();
      w.newAt ??= Date.now();
    }
  });
  return w;
}

function machine(): string {
  const os = require('node:os') as typeof import('node:os');
  const pgv = spawnSync('/usr/lib/postgresql/15/bin/postgres', ['--version'], { encoding: 'utf8' }).stdout?.trim();
  return `${os.cpus()[0]?.model ?? 'cpu'} × ${os.cpus().length}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.platform()} ${os.release()}, node ${process.version}, ${pgv ?? 'postgres'}`;
}

export async function main(argv: string[]): Promise<void> {
  const o = parseArgs(argv);
  mkdirSync(o.outDir, { recursive: true });
  const parentDir = mkdtempSync(join(process.env.PGFAILOVER_BENCH_ROOT ?? tmpdir(), 'pgfo-bench-'));
  chmodSync(parentDir, 0o711); // the unprivileged server user must traverse it
  let cluster: ClusterUnderTest | undefined;
  let haproxy: HaproxyPeer | undefined;
  const stopAll = async () => {
    await haproxy?.stop().catch(() => {});
    await cluster?.stop().catch((e) => console.error(`cluster stop: ${(e as Error).message}`));
    rmSync(parentDir, { recursive: true, force: true });
  };
  const onSignal = () => {
    console.error('interrupted: stopping the cluster');
    void stopAll().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  // A stray rejection must not end the process with the cluster still running.
  process.on('unhandledRejection', (e) => {
    console.error(`unhandled rejection: ${(e as Error)?.stack ?? e}`);
    onSignal();
  });
  const results: TrialResult[] = [];
  const leaderKeys: TrialLeaderKey[] = [];
  const notes: string[] = [];
  const started = Date.now();
  try {
    console.error(`starting ${o.manager} cluster (ttl ${o.ttl} s)`);
    cluster = await startCluster(o, parentDir);
    if (o.strategies.includes('haproxy') && cluster.apiNodes?.length && spawnSync('haproxy', ['-v']).status === 0) {
      haproxy = new HaproxyPeer();
      await haproxy.start(parentDir, cluster.apiNodes, 500);
    }
    const names = o.strategies.filter((s) => {
      const why = unavailable(s, cluster!, haproxy);
      if (why) notes.push(`${s} skipped: ${why}`);
      return !why;
    });
    await setupSchema(cluster);
    for (const scenario of o.scenarios) {
      let timeline: Awaited<ReturnType<typeof trial>> | undefined;
      for (let n = 1; n <= o.trials; n++) {
        const t = await trial(o, cluster, haproxy, scenario, n, names);
        results.push(...t.results);
        leaderKeys.push(t.leaderKey);
        timeline ??= t;
      }
      if (timeline) {
        const file = join(o.outDir, `failover-${o.manager}-${scenario}.svg`);
        writeFileSync(file, svgTimeline(`${scenario} (${o.manager}, ttl ${o.ttl} s, trial 1)`, timeline.faultAt, timeline.series.map((s) => ({ strategy: s.strategy, ops: trimOps(s.ops, timeline!.faultAt) }))));
      }
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await stopAll();
  }
  const table = markdownTable(results);
  const header = `Failover benchmark — manager \`${o.manager}\`, ttl ${o.ttl} s, ${o.trials} trial(s) per scenario, app-side operation timeout ${o.opTimeoutMillis} ms; median (min–max)\n\nMachine: ${machine()}\n\nCommand: \`npm run bench:failover -- ${argv.filter((a) => a !== '--').join(' ')}\`\n`;
  const keyTable = leaderKeyTable(leaderKeys, o.ttl * 1000);
  const md = `${header}\n${table}\n${keyTable ? `\n${keyTable}\n` : ''}${notes.length ? `\n${notes.map((n) => `- ${n}`).join('\n')}\n` : ''}`;
  writeFileSync(join(o.outDir, `failover-${o.manager}.md`), md);
  writeFileSync(o.json, JSON.stringify({ options: o, machine: machine(), notes, durationMillis: Date.now() - started, results, leaderKeys }, null, 2));
  console.log(md);
}

/** The manager's side of each scenario: when the old leader key went and the new one came (median, min–max). */
function leaderKeyTable(rows: TrialLeaderKey[], ttlMillis: number): string {
  const scenarios = [...new Set(rows.map((r) => r.scenario))];
  const fmt = (xs: number[]) => {
    if (!xs.length) return '—';
    const s = [...xs].sort((a, b) => a - b);
    return `${s[Math.floor((s.length - 1) / 2)]} (${s[0]}–${s[s.length - 1]})`;
  };
  const lines = scenarios
    .map((sc) => {
      const rs = rows.filter((r) => r.scenario === sc);
      const gone = rs.flatMap((r) => (r.leaderKeyGoneMillis !== undefined ? [r.leaderKeyGoneMillis] : []));
      const fresh = rs.flatMap((r) => (r.newLeaderKeyMillis !== undefined ? [r.newLeaderKeyMillis] : []));
      const takeover = rs.flatMap((r) => (r.newLeaderKeyMillis !== undefined && r.leaderKeyGoneMillis !== undefined ? [r.newLeaderKeyMillis - r.leaderKeyGoneMillis] : []));
      if (!gone.length && !fresh.length) return undefined;
      const age = rs.flatMap((r) => (r.leaseAgeAtFaultMillis !== undefined ? [r.leaseAgeAtFaultMillis] : []));
      const gaps = rs.flatMap((r) => r.renewalGapsMillis ?? []);
      // How long after the lease's end (last renewal + ttl) etcd removed the key.
      const late = rs.flatMap((r) => (r.leaseAgeAtFaultMillis !== undefined && r.leaderKeyGoneMillis !== undefined && sc !== 'switchover' ? [r.leaderKeyGoneMillis + r.leaseAgeAtFaultMillis - ttlMillis] : []));
      return `| ${sc} | ${rs[0]!.manager} | ${fmt(gone)} | ${fmt(fresh)} | ${fmt(takeover)} | ${fmt(age)} | ${fmt(gaps)} | ${fmt(late)} | ${fmt(rs.map((r) => r.jitterMillis))} |`;
    })
    .filter(Boolean);
  if (!lines.length) return '';
  return [
    'Leader key in etcd (ms after the fault): median (min–max). Lease age: time since the old leader last renewed its lease, at the fault; expiry vs ttl: when the key went, minus (last renewal + ttl).',
    '',
    '| scenario | manager | old key gone | new key set | takeover (set − gone) | lease age at fault | renewal gaps | expiry vs ttl | phase jitter |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...lines,
  ].join('\n');
}

/** Ops from 2 s before the fault (the timeline shows the steady state, then the fault). */
function trimOps(ops: Op[], faultAt: number): Op[] {
  return ops.filter((op) => op.end >= faultAt - 2000);
}

main(process.argv.slice(2)).then(
  () => process.exit(0),
  (e) => {
    console.error(e instanceof Error ? (e.stack ?? e.message) : e);
    process.exit(1);
  },
);
