/**
 * The Jepsen-style fault campaign: a namespaced cluster, six workloads run
 * together (register, bank, read-your-writes through our Pool; the plain
 * one-primary prober; plain `pg` clients: a register over a multi-host
 * read-write reconnect loop and a session pinned to the first leader), and faults chosen by a seeded PRNG — bounded in count
 * and wall time, healed between faults, overlapping sometimes. Ends with the
 * checkers' verdicts in a report. Everything it started is stopped and every
 * namespace removed, on success, failure, SIGINT or SIGTERM.
 */
import { writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { Pool } from '../../src';
import { Cleanup } from './cleanup';
import { availableKinds, currentLeader, inject, OVERLAPPING_KINDS, repairAll, type ActiveFault, type FaultKind } from './faults';
import { NamespacedCluster } from './ns-cluster';
import type { Invariant } from './outcome';
import { Prng } from './prng';
import { compareFaults, formatReport, gaps, longestGap, okWriteEnds, OUTAGE_TOLERANCE_MILLIS, outagesByKind, writeReport, type CampaignReport, type FaultRecord } from './report';
import { BankWorkload } from './workloads/bank';
import { plainClient, type Workload } from './workloads/common';
import { PinnedPlainSession } from './workloads/pinned-session';
import { PlainRegisterWorkload } from './workloads/plain-register';
import { PrimaryProber } from './workloads/prober';
import { ReadYourWritesWorkload } from './workloads/read-your-writes';
import { RegisterWorkload } from './workloads/register';

export interface CampaignOptions {
  seed: number;
  /** Stop after this many faults. */
  faults: number;
  /** …or after this many minutes of faults, whichever comes first. */
  minutes: number;
  synchronousMode?: boolean;
  daemon?: 'pg-failover' | 'patroni';
  /** Each node on its own size-limited tmpfs, for the disk-full fault (default true; off with keepDirs). */
  nodeDisks?: boolean;
  /** etcd members (default 3: the etcd member faults need a quorum that survives one member). */
  etcdMembers?: number;
  /** Leader TTL in seconds (default 10). */
  ttl?: number;
  /** How long a fault is held, ms. Default [3000, 12000]. */
  holdMillis?: [number, number];
  /** Probability that a second (network) fault starts while one is held. Default 0.25. */
  overlapChance?: number;
  /** Only these kinds (default: every kind the host supports). */
  kinds?: FaultKind[];
  /** The plain register client's query timeout (default 2000 ms; 0 = none, pg's default). */
  plainQueryTimeoutMillis?: number;
  /** The Pools' stallCheckMillis (their default when undefined; 0 turns the stall watch off). */
  stallCheckMillis?: number;
  /** Keep every node's data directory and logs after the run (post-mortems). */
  keepDirs?: boolean;
  /** Where the JSON goes (default test/campaign/results). */
  resultsDir?: string;
  /**
   * Also write the raw write timelines here (JSON: `t0`, the register's and the plain register's
   * operations, the prober's acknowledgements, the register Pool's primaryChanged/failover/node
   * events, all in ms since the epoch), to place an outage against what each client did.
   */
  traceFile?: string;
  /**
   * The register's Pool with `resolveWriteOutcome` (default true). Off: its lost writes are left in
   * doubt, as without the option, and each write is one round trip instead of two (the option's
   * price in outage, measured against the same run's other clients).
   */
  registerResolvesWrites?: boolean;
  log?: (line: string) => void;
}

const RECOVERY_TIMEOUT_MILLIS = 90_000;

/** Runs one campaign and returns its report (also written as JSON and printed through `log`). */
export async function runCampaign(o: CampaignOptions): Promise<CampaignReport & { file: string }> {
  const log = o.log ?? ((l: string) => process.stderr.write(`[campaign] ${l}\n`));
  // Two streams: the schedule (kinds, hold times, overlaps, pauses) is the same for a seed whatever the
  // cluster does; targets depend on who is leader at the time, so they draw from their own stream.
  const prng = new Prng(o.seed);
  const targetPrng = new Prng(o.seed ^ 0x5bd1e995);
  const cleanup = new Cleanup();
  const startedAt = new Date();
  const t0 = Date.now();
  try {
    const c = await NamespacedCluster.start({ daemon: o.daemon, synchronousMode: o.synchronousMode ?? true, ttl: o.ttl ?? 10, etcdMembers: o.etcdMembers ?? 3, keepDirs: o.keepDirs ?? false, nodeDisks: o.nodeDisks ?? true, log });
    cleanup.add('cluster and network', () => c.stop());
    const kinds = (o.kinds ?? availableKinds(c)).filter((k) => availableKinds(c).includes(k));
    log(`fault kinds: ${kinds.join(', ')}`);

    const pools: Pool[] = [];
    const newPool = (extra: { resolveWriteOutcome?: boolean } = {}) => {
      const p = new Pool({ connectionString: c.poolConnectionString(), ...(o.stallCheckMillis !== undefined ? { stallCheckMillis: o.stallCheckMillis } : {}), ...extra });
      p.on('error', () => {}); // idle sessions die during faults
      pools.push(p);
      return p;
    };
    cleanup.add('pools', () => Promise.all(pools.map((p) => p.end().catch(() => {}))).then(() => {}));
    const targets = c.cluster.members.map((m) => ({ name: m.name, host: m.host, port: m.pgPort }));
    const prober = new PrimaryProber(targets, c.net.proberAddress);
    // The register's Pool resolves lost autocommit writes (resolveWriteOutcome): what it still leaves in doubt is measured.
    const resolves = o.registerResolvesWrites ?? true;
    const register = new RegisterWorkload(newPool({ resolveWriteOutcome: resolves }), undefined, undefined, resolves);
    const traceEvents: Array<[number, string, unknown]> = [];
    if (o.traceFile) for (const ev of ['primaryChanged', 'failoverStart', 'failoverEnd', 'nodeDown', 'nodeUp']) register.pool.on(ev, (p: unknown) => traceEvents.push([Date.now(), ev, p]));
    // The other client the Pool is measured against: plain pg, the register's job, from the Pool's own
    // source address (the bridge's primary address, which client-primary-cut drops), libpq's multi-host string.
    const plainRegister = new PlainRegisterWorkload(c.cluster.connectionString({ params: { target_session_attrs: 'read-write' } }), {
      localAddress: c.net.clientAddress,
      workers: register.workers,
      pauseMillis: register.pauseMillis,
      ...(o.plainQueryTimeoutMillis !== undefined ? { queryTimeoutMillis: o.plainQueryTimeoutMillis } : {}),
    });
    const leader = await c.cluster.waitForLeader(60_000);
    const leaderMember = c.cluster.member(leader);
    const pinned = new PinnedPlainSession(leader, { host: leaderMember.host, port: leaderMember.pgPort }, c.net.clientAddress);
    const workloads: Workload[] = [register, new BankWorkload(newPool()), new ReadYourWritesWorkload(newPool()), prober, plainRegister, pinned];

    const setupClient = await connectTo(c, leader);
    try {
      for (const w of workloads) await w.setup(setupClient);
    } finally {
      await setupClient.end().catch(() => {});
    }
    await c.cluster.waitForReplicasStreaming(60_000);
    for (const w of workloads) w.start();
    await sleep(3000);

    const faults: FaultRecord[] = [];
    const active: Array<{ fault: ActiveFault; overlapping: boolean }> = [];
    const recovery: RecoveryState = { daemonExits: [], stuck: new Map(), t0 };
    let unrecovered = 0;
    let injected = 0;
    let injectedEpisodes = 0;
    const deadline = t0 + o.minutes * 60_000;
    const [holdMin, holdMax] = o.holdMillis ?? [3000, 12_000];
    while (faults.length + active.length < o.faults && Date.now() < deadline) {
      const kind = prng.pick(kinds);
      const first = await inject(kind, { c, prng: targetPrng, log }).catch((e) => {
        log(`inject ${kind} failed: ${(e as Error).message.split('\n')[0]}`);
        return undefined;
      });
      if (!first) {
        await sleep(1000);
        continue;
      }
      active.push({ fault: first, overlapping: false });
      injectedEpisodes++;
      log(`fault ${++injected}: ${kind} on ${first.target}`);
      const hold = first.instant ? 0 : prng.int(holdMin, holdMax);
      const overlapKinds = OVERLAPPING_KINDS.filter((k) => kinds.includes(k));
      if (prng.chance(o.overlapChance ?? 0.25) && overlapKinds.length && faults.length + active.length < o.faults) {
        await sleep(prng.int(0, Math.max(0, Math.floor(hold / 2))));
        const k2 = prng.pick(overlapKinds);
        const second = await inject(k2, { c, prng: targetPrng, log }).catch(() => undefined);
        if (second) {
          active.push({ fault: second, overlapping: true });
          log(`fault ${++injected} (overlapping): ${k2} on ${second.target}`);
        }
      }
      await sleep(Math.max(0, first.start + hold - Date.now()));
      const healedAt = new Map<ActiveFault, number>();
      for (const { fault } of [...active].reverse()) {
        await fault.heal().catch((e) => log(`heal ${fault.kind} failed: ${(e as Error).message.split('\n')[0]}`));
        healedAt.set(fault, Date.now());
      }
      const recovered = await recover(c, log, recovery);
      if (!recovered) unrecovered++;
      const recoveredAt = Date.now();
      for (const { fault, overlapping } of active) {
        faults.push({
          kind: fault.kind,
          target: fault.target,
          at: fault.start - t0,
          heldMillis: fault.instant ? 0 : (healedAt.get(fault) ?? recoveredAt) - fault.start,
          recoveredMillis: recovered ? recoveredAt - fault.start : null,
          overlapping,
          episode: injectedEpisodes,
          poolWriteOutageMillis: null,
          plainWriteOutageMillis: null,
          plainRegisterWriteOutageMillis: null,
          bestOtherWriteOutageMillis: null,
          poolWithinBestOther: null,
        });
      }
      active.length = 0;
      await sleep(prng.int(2000, 4000)); // quiet time before the next fault
    }
    log(`faults done (${faults.length}); settling`);
    await recover(c, log, recovery);
    await sleep(3000);
    for (const w of workloads) await w.stop(30_000);

    // Diagnostics only (nothing below reads it): every write of the three compared clients, and the register Pool's events.
    if (o.traceFile) writeFileSync(o.traceFile, JSON.stringify({ t0, register: register.ops, plainRegister: plainRegister.ops, prober: prober.accepts, events: traceEvents }));
    // Outages, now that every operation has finished.
    const poolEnds = okWriteEnds(register.ops);
    const plainEnds = prober.accepts.map((a) => a.end);
    const plainRegisterEnds = okWriteEnds(plainRegister.ops);
    for (const f of faults) {
      const from = t0 + f.at;
      const to = from + (f.recoveredMillis ?? f.heldMillis);
      f.poolWriteOutageMillis = longestGap(poolEnds, from, to);
      f.plainWriteOutageMillis = longestGap(plainEnds, from, to);
      f.plainRegisterWriteOutageMillis = longestGap(plainRegisterEnds, from, to);
    }
    compareFaults(faults);

    const invariants = await checkAll(c, workloads, log);
    const periods = prober.periods();
    const faultsByKind: Record<string, number> = {};
    for (const f of faults) faultsByKind[f.kind] = (faultsByKind[f.kind] ?? 0) + 1;
    const report: CampaignReport = {
      seed: o.seed,
      daemon: o.daemon ?? 'pg-failover',
      synchronousMode: o.synchronousMode ?? true,
      startedAt: startedAt.toISOString(),
      durationSeconds: (Date.now() - t0) / 1000,
      limits: { faults: o.faults, minutes: o.minutes },
      network: { cidr: c.net.cidr, netem: c.net.netem },
      faultsByKind,
      faults,
      operations: Object.fromEntries(workloads.map((w) => [w.name, w.stats()])),
      failovers: Math.max(0, periods.length - 1),
      primaryPeriods: periods.map((p) => ({ node: p.node, from: p.from - t0, to: p.to - t0 })),
      outages: outagesByKind(faults),
      outageToleranceMillis: OUTAGE_TOLERANCE_MILLIS,
      invariants,
      measurements: workloads.flatMap((w) => w.measurements?.() ?? []),
      unrecovered,
      daemonExits: recovery.daemonExits,
      stuckStandbys: [...recovery.stuck].map(([node, sinceMillis]) => ({ node, sinceMillis })),
      writeGaps: { pool: gaps(poolEnds, 1000, t0), plain: gaps(plainEnds, 1000, t0), plainRegister: gaps(plainRegisterEnds, 1000, t0) },
      totalViolations: invariants.reduce((n, i) => n + i.violations, 0),
    };
    const file = writeReport(report, o.resultsDir ?? 'test/campaign/results');
    log(`\n${formatReport(report)}\nreport: ${file}`);
    return { ...report, file };
  } finally {
    await cleanup.run();
  }
}

/** What recovery tracks across faults: daemon crashes, and standbys that stopped following for good. */
interface RecoveryState {
  daemonExits: string[];
  /** Standbys that did not replay the leader's WAL within the bound after a heal (name → ms since start when first seen). */
  stuck: Map<string, number>;
  t0: number;
}

/**
 * Waits until there is a running leader and every other standby has replayed
 * the leader's current WAL position (streaming is not enough: a diverged
 * standby reconnects, streams up to the fork point and drops out again); if
 * not within the bound, repairs by force (thaw, heal, restart) and waits
 * again. A daemon that exited on its own is recorded (a crash) and restarted.
 * A standby that never catches up is recorded as stuck and not waited for
 * again (liveness, reported separately).
 */
async function recover(c: NamespacedCluster, log: (line: string) => void, st: RecoveryState): Promise<boolean> {
  const deadline = Date.now() + RECOVERY_TIMEOUT_MILLIS;
  let lagging: string[] = [];
  while (Date.now() < deadline) {
    try {
      const leader = await c.cluster.waitForLeader(Math.max(1000, deadline - Date.now()));
      lagging = await notCaughtUp(c, leader, [...st.stuck.keys()], Math.min(30_000, Math.max(1000, deadline - Date.now())));
      if (lagging.length === 0) return true;
      log(`not caught up yet: ${lagging.join(', ')} (leader ${leader})`);
    } catch (e) {
      const msg = (e as Error).message;
      if (/exited/.test(msg)) {
        st.daemonExits.push(msg.split('\n').slice(0, 12).join('\n'));
        log(`a daemon exited on its own: ${msg.split('\n')[0]}`);
      } else log(`not recovered yet: ${msg.split('\n')[0]}`);
    }
    await repairAll(c, log);
  }
  for (const name of lagging) {
    if (!st.stuck.has(name)) {
      st.stuck.set(name, Date.now() - st.t0);
      log(`standby ${name} stays behind after ${RECOVERY_TIMEOUT_MILLIS / 1000} s: recorded as stuck, not waited for again`);
    }
  }
  log('cluster did not recover in time; repaired by force');
  await repairAll(c, log);
  return false;
}

/** The non-leader members (except `skip`) that have not replayed the leader's current WAL position within `timeoutMillis`. */
async function notCaughtUp(c: NamespacedCluster, leader: string, skip: string[], timeoutMillis: number): Promise<string[]> {
  const primary = await connectTo(c, leader);
  let target: string;
  try {
    target = (await primary.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn')).rows[0]!.lsn;
  } finally {
    await primary.end().catch(() => {});
  }
  const deadline = Date.now() + timeoutMillis;
  const behind = c.nodeNames.filter((n) => n !== leader && !skip.includes(n));
  const left: string[] = [];
  for (const name of behind) {
    let ok = false;
    while (!ok && Date.now() < deadline) {
      const client = await connectTo(c, name).catch(() => undefined);
      if (client) {
        const r = await client.query<{ ok: boolean }>('SELECT pg_is_in_recovery() AND pg_last_wal_replay_lsn() >= $1::pg_lsn AS ok', [target]).catch(() => undefined);
        ok = r?.rows[0]?.ok === true;
        await client.end().catch(() => {});
      }
      if (!ok) await sleep(250);
    }
    if (!ok) left.push(name);
  }
  return left;
}

/** Runs every checker against the final leader and the standbys that answer, after they replayed everything. */
async function checkAll(c: NamespacedCluster, workloads: Workload[], log: (line: string) => void): Promise<Invariant[]> {
  const leader = (await currentLeader(c)) ?? (await c.cluster.waitForLeader(60_000));
  const primary = await connectTo(c, leader);
  const standbys: pg.Client[] = [];
  try {
    const { rows } = await primary.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn');
    for (const name of c.nodeNames.filter((n) => n !== leader)) {
      const s = await connectTo(c, name).catch(() => undefined);
      if (!s) continue;
      const deadline = Date.now() + 30_000;
      let caughtUp = false;
      while (!caughtUp && Date.now() < deadline) {
        const r = await s.query<{ ok: boolean }>('SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS ok', [rows[0]!.lsn]).catch(() => ({ rows: [{ ok: false }] }));
        caughtUp = r.rows[0]?.ok === true;
        if (!caughtUp) await sleep(100);
      }
      if (caughtUp) standbys.push(s);
      else {
        log(`standby ${name} did not catch up for the final check; left out`);
        await s.end().catch(() => {});
      }
    }
    const all: Invariant[] = [];
    for (const w of workloads) all.push(...(await w.check({ primary, standbys })));
    return all;
  } finally {
    await primary.end().catch(() => {});
    for (const s of standbys) await s.end().catch(() => {});
  }
}

async function connectTo(c: NamespacedCluster, name: string): Promise<pg.Client> {
  const m = c.cluster.member(name);
  const client = plainClient(m.host, m.pgPort, undefined, 5000);
  await client.connect();
  return client;
}
