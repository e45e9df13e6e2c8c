/** Per-trial measurements from a workload's recorded operations. */
import type { Op } from './workload';

export interface TrialMetrics {
  /** Fault → end of the first successful write that started after the fault (ms). */
  writeOutageMs: number | null;
  /** Longest gap between successful writes around the fault (ms): the stall a planned switchover causes. */
  writeStallMs: number | null;
  /** Longest gap between successful reads around the fault (ms). */
  readOutageMs: number | null;
  /** Fault → the strategy noticed (its own event, else its first failed op) (ms). */
  detectionMs: number | null;
  failedOps: number;
  /** Acknowledged writes not found on the new primary afterwards. */
  lostWrites: number;
  /** Op ids found more than once. */
  duplicates: number;
}

export function computeMetrics(ops: Op[], faultAt: number, detectedAt: number | undefined, lostWrites: number, duplicates: number): TrialMetrics {
  const after = ops.filter((o) => o.end >= faultAt);
  const firstWrite = after.filter((o) => o.kind === 'w' && o.ok && o.start >= faultAt).sort((a, b) => a.end - b.end)[0];
  const firstFail = after.filter((o) => !o.ok).sort((a, b) => a.end - b.end)[0];
  const detected = detectedAt ?? firstFail?.end;
  return {
    writeOutageMs: firstWrite ? firstWrite.end - faultAt : null,
    writeStallMs: longestGap(ops.filter((o) => o.kind === 'w' && o.ok).map((o) => o.end), faultAt),
    readOutageMs: longestGap(ops.filter((o) => o.kind === 'r' && o.ok).map((o) => o.end), faultAt),
    detectionMs: detected !== undefined && detected >= faultAt ? detected - faultAt : null,
    failedOps: after.filter((o) => !o.ok).length,
    lostWrites,
    duplicates,
  };
}

/** The longest interval without a success that overlaps the fault time. */
function longestGap(successEnds: number[], faultAt: number): number | null {
  const sorted = [...successEnds].sort((a, b) => a - b);
  const before = sorted.filter((t) => t <= faultAt).pop();
  const afterFirst = sorted.find((t) => t > faultAt);
  if (afterFirst === undefined) return null;
  let gap = afterFirst - (before ?? faultAt);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i]! > faultAt && sorted[i - 1]! >= faultAt) gap = Math.max(gap, sorted[i]! - sorted[i - 1]!);
  }
  return gap;
}

export function median(xs: number[]): number | null {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}
