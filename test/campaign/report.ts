/**
 * The campaign report: faults by kind, operations, failovers, outages
 * (median/max per fault kind, through our Pool, as the plain prober saw
 * them and through the plain register client), whether the Pool's outage
 * was within the best other client's, every invariant with its violations,
 * and measurements that are not violations — as JSON and as a table.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FaultKind } from './faults';
import type { Invariant, Measurement, Op } from './outcome';

/** Two outages closer than this are equal: the workloads write every 20–50 ms, so a gap is only known to about that. */
export const OUTAGE_TOLERANCE_MILLIS = 100;

/** One fault as it happened. */
export interface FaultRecord {
  kind: FaultKind;
  target: string;
  /** ms from the campaign's start. */
  at: number;
  /** How long it was held (0 for instant faults). */
  heldMillis: number;
  /** Injection → the cluster had a leader and streaming standbys again after healing. */
  recoveredMillis: number | null;
  /** Started while another fault was active. */
  overlapping: boolean;
  /** Faults of one episode (injected together, healed together) share this number. */
  episode: number;
  /** Longest time without an acknowledged write through our Pool (register) around this fault. */
  poolWriteOutageMillis: number | null;
  /** Longest time without any node accepting the plain prober's writes around this fault. */
  plainWriteOutageMillis: number | null;
  /** Longest time without an acknowledged write of the plain register client (plain `pg`, multi-host read-write loop) around this fault. */
  plainRegisterWriteOutageMillis: number | null;
  /** The shorter of the prober's and the plain register's outages (the plain register's alone in an episode that cut the client off: the prober is not cut); null when none wrote again. */
  bestOtherWriteOutageMillis: number | null;
  /** Pool outage ≤ best other + {@link OUTAGE_TOLERANCE_MILLIS}; null when there is nothing to compare with. */
  poolWithinBestOther: boolean | null;
  note?: string;
}

export interface CampaignReport {
  seed: number;
  daemon: string;
  synchronousMode: boolean;
  startedAt: string;
  durationSeconds: number;
  limits: { faults: number; minutes: number };
  network: { cidr: string; netem: boolean };
  faultsByKind: Record<string, number>;
  faults: FaultRecord[];
  /** Per workload: counters (operations by outcome, errors by code …). */
  operations: Record<string, Record<string, number>>;
  /** Changes of the node that accepted the prober's writes. */
  failovers: number;
  primaryPeriods: Array<{ node: string; from: number; to: number }>;
  outages: Record<string, KindOutages>;
  /** Outages within this of each other count as equal in `poolWithinBestOther`. */
  outageToleranceMillis: number;
  invariants: Invariant[];
  /** Counted, never violations: the pinned plain session's acknowledged-then-lost writes. */
  measurements: Measurement[];
  /** Faults after which the cluster did not recover in time (then repaired by force). */
  unrecovered: number;
  /** Daemons that exited without being killed by the campaign (a crash). */
  daemonExits: string[];
  /** Liveness: standbys that stopped replaying the leader's WAL for good (not waited for after that), with when it was first seen (ms from the start). */
  stuckStandbys: Array<{ node: string; sinceMillis: number }>;
  /** Every stretch of ≥ 1 s without an acknowledged write (ms from the start), through our Pool, for the plain prober and the plain register: to place an outage against the fault log. */
  writeGaps: { pool: Array<[number, number]>; plain: Array<[number, number]>; plainRegister: Array<[number, number]> };
  /** The sync-mode targets: all zero. */
  totalViolations: number;
}

/** One kind's write outages (faults alone in their episode), and how the Pool compares with the best other client fault by fault. */
export interface KindOutages {
  n: number;
  poolMedianMillis: number | null;
  poolMaxMillis: number | null;
  /** The plain prober (every node, every ~50 ms). */
  plainMedianMillis: number | null;
  plainMaxMillis: number | null;
  /** The plain register client. */
  plainRegisterMedianMillis: number | null;
  plainRegisterMaxMillis: number | null;
  /** Per fault the shorter of the two plain clients' outages; median and max over the faults. */
  bestOtherMedianMillis: number | null;
  bestOtherMaxMillis: number | null;
  /** Faults where the Pool could be compared, and of those where it was within the best other client's outage. */
  compared: number;
  poolWithinBestOther: number;
  /** The largest Pool − best other over the compared faults where the Pool wrote again (negative: the Pool was always shorter); null when none. */
  poolWorstExcessMillis: number | null;
  /** Like for like (the same job, same table growth — fairer than the prober for disk-full): faults where the plain register wrote again, and of those where the Pool's outage was within its (+ tolerance). */
  comparedWithPlainRegister: number;
  poolWithinPlainRegister: number;
}

/**
 * Kinds that cut the client's address off. The prober writes from an address
 * of its own (it must keep watching every node), so it is not cut by them and
 * is no "other client in the same trial" there: only the plain register is.
 */
export const CLIENT_CUT_KINDS: readonly FaultKind[] = ['client-primary-cut'];

/**
 * The Pool against the best other client for one fault: the shorter of the
 * prober's (when `proberComparable`, default true) and the plain register's
 * outages, and whether the Pool's was within it (+ tolerance). A Pool that
 * never wrote again is not within; nothing to compare with (no other client
 * wrote again) gives null.
 */
export function compareWithBestOther(
  f: Pick<FaultRecord, 'poolWriteOutageMillis' | 'plainWriteOutageMillis' | 'plainRegisterWriteOutageMillis'>,
  o: { proberComparable?: boolean; toleranceMillis?: number } = {},
): { bestOtherWriteOutageMillis: number | null; poolWithinBestOther: boolean | null } {
  const toleranceMillis = o.toleranceMillis ?? OUTAGE_TOLERANCE_MILLIS;
  const others = [o.proberComparable === false ? null : f.plainWriteOutageMillis, f.plainRegisterWriteOutageMillis].filter((x): x is number => x !== null);
  if (others.length === 0) return { bestOtherWriteOutageMillis: null, poolWithinBestOther: null };
  const best = Math.min(...others);
  return { bestOtherWriteOutageMillis: best, poolWithinBestOther: f.poolWriteOutageMillis !== null && f.poolWriteOutageMillis <= best + toleranceMillis };
}

/** Fills every fault's comparison with the best other client; the prober is left out of episodes that cut the client off. */
export function compareFaults(faults: FaultRecord[], toleranceMillis = OUTAGE_TOLERANCE_MILLIS): void {
  const clientCut = new Set(faults.filter((f) => CLIENT_CUT_KINDS.includes(f.kind)).map((f) => f.episode));
  for (const f of faults) Object.assign(f, compareWithBestOther(f, { proberComparable: !clientCut.has(f.episode), toleranceMillis }));
}

/** The longest interval without a success that overlaps [from, to]; null when no success came after `from`. */
export function longestGap(successEnds: readonly number[], from: number, to: number): number | null {
  const sorted = [...successEnds].sort((a, b) => a - b);
  const before = sorted.filter((t) => t <= from).pop() ?? from;
  const after = sorted.filter((t) => t > from);
  if (after.length === 0) return null;
  let gap = after[0]! - before;
  for (let i = 1; i < after.length && after[i - 1]! <= to; i++) gap = Math.max(gap, after[i]! - after[i - 1]!);
  return gap;
}

/** Stretches of at least `minMillis` between consecutive successes, as [from, to] relative to `t0`. */
export function gaps(successEnds: readonly number[], minMillis: number, t0: number): Array<[number, number]> {
  const sorted = [...successEnds].sort((a, b) => a - b);
  const out: Array<[number, number]> = [];
  for (let i = 1; i < sorted.length; i++) if (sorted[i]! - sorted[i - 1]! >= minMillis) out.push([sorted[i - 1]! - t0, sorted[i]! - t0]);
  return out;
}

/** Successful write completion times of a list of operations. */
export function okWriteEnds(ops: readonly Op[]): number[] {
  return ops.filter((o) => o.kind === 'write' && o.outcome === 'ok').map((o) => o.end);
}

export function median(xs: readonly number[]): number | null {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : Math.round((s[m - 1]! + s[m]!) / 2);
}

/**
 * Outages per fault kind, from episodes with that fault alone (an outage in an
 * episode of overlapping faults cannot be pinned on one of them: those are
 * summed up under `overlapping`).
 */
export function outagesByKind(faults: readonly FaultRecord[], toleranceMillis = OUTAGE_TOLERANCE_MILLIS): CampaignReport['outages'] {
  const out: CampaignReport['outages'] = {};
  const size = new Map<number, number>();
  for (const f of faults) size.set(f.episode, (size.get(f.episode) ?? 0) + 1);
  const solo = faults.filter((f) => size.get(f.episode) === 1);
  const mixed = faults.filter((f) => size.get(f.episode)! > 1 && !f.overlapping);
  const groups: Array<[string, FaultRecord[]]> = [...new Set(solo.map((f) => f.kind))].map((k) => [k, solo.filter((f) => f.kind === k)]);
  if (mixed.length) groups.push(['overlapping', mixed]);
  const values = (of: FaultRecord[], pick: (f: FaultRecord) => number | null) => of.map(pick).filter((x): x is number => x !== null);
  const max = (xs: number[]) => (xs.length ? Math.max(...xs) : null);
  for (const [kind, of] of groups) {
    const pool = values(of, (f) => f.poolWriteOutageMillis);
    const plain = values(of, (f) => f.plainWriteOutageMillis);
    const plainRegister = values(of, (f) => f.plainRegisterWriteOutageMillis);
    const best = values(of, (f) => f.bestOtherWriteOutageMillis);
    const compared = of.filter((f) => f.poolWithinBestOther !== null);
    const withPlainRegister = of.filter((f) => f.plainRegisterWriteOutageMillis !== null);
    const excess = compared.filter((f) => f.poolWriteOutageMillis !== null).map((f) => f.poolWriteOutageMillis! - f.bestOtherWriteOutageMillis!);
    out[kind] = {
      n: of.length,
      poolMedianMillis: median(pool),
      poolMaxMillis: max(pool),
      plainMedianMillis: median(plain),
      plainMaxMillis: max(plain),
      plainRegisterMedianMillis: median(plainRegister),
      plainRegisterMaxMillis: max(plainRegister),
      bestOtherMedianMillis: median(best),
      bestOtherMaxMillis: max(best),
      compared: compared.length,
      poolWithinBestOther: compared.filter((f) => f.poolWithinBestOther).length,
      poolWorstExcessMillis: max(excess),
      comparedWithPlainRegister: withPlainRegister.length,
      poolWithinPlainRegister: withPlainRegister.filter((f) => f.poolWriteOutageMillis !== null && f.poolWriteOutageMillis <= f.plainRegisterWriteOutageMillis! + toleranceMillis).length,
    };
  }
  return out;
}

/** Writes the report as JSON into `dir`; returns the file's path. */
export function writeReport(report: CampaignReport, dir: string): string {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `campaign-${report.daemon}-${report.synchronousMode ? 'sync' : 'async'}-seed${report.seed}-${report.startedAt.replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, JSON.stringify(report, null, 2) + '\n');
  return file;
}

/** One kind's verdict on "the Pool's outage is never longer than the best other client's", as a table cell. */
export function withinBest(o: KindOutages): string {
  if (o.compared === 0) return '— (nothing to compare)';
  const excess = o.poolWorstExcessMillis === null ? '' : `, worst ${o.poolWorstExcessMillis > 0 ? '+' : ''}${o.poolWorstExcessMillis} ms`;
  const likeForLike = o.comparedWithPlainRegister ? `; ≤ plain register ${o.poolWithinPlainRegister}/${o.comparedWithPlainRegister}` : '';
  return `${o.poolWithinBestOther === o.compared ? 'yes' : 'NO'} ${o.poolWithinBestOther}/${o.compared}${excess}${likeForLike}`;
}

/** The report as text tables. */
export function formatReport(r: CampaignReport): string {
  const lines: string[] = [];
  const ms = (x: number | null) => (x === null ? '—' : x >= 10_000 ? `${(x / 1000).toFixed(1)} s` : `${x} ms`);
  lines.push(`Campaign: ${r.daemon}, ${r.synchronousMode ? 'synchronous' : 'asynchronous'} mode, seed ${r.seed}, ${r.faults.length} faults in ${r.durationSeconds.toFixed(0)} s (limits ${r.limits.faults} faults / ${r.limits.minutes} min), network ${r.network.cidr}${r.network.netem ? '' : ' (no netem: packet-delay left out)'}`);
  lines.push('');
  lines.push(`Faults by kind: ${Object.entries(r.faultsByKind).map(([k, n]) => `${k} ${n}`).join(', ')}`);
  lines.push('');
  const pair = (a: number | null, b: number | null) => `${ms(a)} / ${ms(b)}`;
  lines.push(`Write outages (faults alone)  n   Pool median/max     prober median/max   plain register median/max   Pool ≤ best other (+${r.outageToleranceMillis} ms)`);
  for (const [kind, o] of Object.entries(r.outages)) {
    lines.push(`  ${kind.padEnd(26)} ${String(o.n).padStart(3)}   ${pair(o.poolMedianMillis, o.poolMaxMillis).padEnd(18)}  ${pair(o.plainMedianMillis, o.plainMaxMillis).padEnd(18)}  ${pair(o.plainRegisterMedianMillis, o.plainRegisterMaxMillis).padEnd(26)}  ${withinBest(o)}`);
  }
  lines.push(`  failovers/switchovers seen by the prober: ${r.failovers}; faults not recovered in time: ${r.unrecovered}; daemon exits: ${r.daemonExits.length}`);
  lines.push(`  liveness: standbys stuck behind the leader for good: ${r.stuckStandbys.length ? r.stuckStandbys.map((s) => `${s.node} (from ${(s.sinceMillis / 1000).toFixed(0)} s)`).join(', ') : 'none'}`);
  lines.push('');
  lines.push('Operations');
  for (const [w, s] of Object.entries(r.operations)) lines.push(`  ${w.padEnd(20)} ${Object.entries(s).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  lines.push('');
  lines.push('Invariants                                                             checked  violations');
  for (const inv of r.invariants) {
    lines.push(`  ${inv.name.padEnd(70)} ${String(inv.checked).padStart(7)}  ${String(inv.violations).padStart(10)}`);
    for (const ex of inv.examples.slice(0, 3)) lines.push(`      e.g. ${ex}`);
  }
  lines.push('');
  lines.push('Measurements (counted, not violations)                                 checked       count');
  for (const m of r.measurements) {
    lines.push(`  ${m.name.padEnd(70)} ${String(m.checked).padStart(7)}  ${String(m.count).padStart(10)}`);
    for (const ex of m.examples.slice(0, 3)) lines.push(`      e.g. ${ex}`);
  }
  lines.push('');
  lines.push(`Total violations: ${r.totalViolations}`);
  return lines.join('\n');
}
