/**
 * The same campaign against both daemons, one after the other in one run (`--daemon both`): our
 * manager, then real Patroni, with the same seed (so the same faults in the same order, as far as
 * each cluster's state lets them land the same), and one table that sets them side by side —
 * per fault kind the write outages through our Pool and the plain clients, and every invariant and
 * measurement with its count for each.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { withinBest, type CampaignReport, type KindOutages } from './report';

export interface SideBySide {
  seed: number;
  synchronousMode: boolean;
  ours: { file: string; totalViolations: number };
  patroni: { file: string; totalViolations: number };
  table: string;
}

const ms = (x: number | null) => (x === null ? '—' : x >= 10_000 ? `${(x / 1000).toFixed(1)} s` : `${x} ms`);

function outageCell(o: KindOutages | undefined): string {
  if (!o) return '(none)';
  return `${ms(o.poolMedianMillis)} / ${ms(o.plainMedianMillis)} / ${ms(o.plainRegisterMedianMillis)}`;
}

/** The two reports as one markdown table: outages per kind, then invariants and measurements. */
export function sideBySideTable(ours: CampaignReport, patroni: CampaignReport): string {
  const lines: string[] = [];
  lines.push(`Side by side: seed ${ours.seed}, ${ours.synchronousMode ? 'synchronous' : 'asynchronous'} mode; our manager ${ours.faults.length} faults in ${ours.durationSeconds.toFixed(0)} s, Patroni ${patroni.faults.length} faults in ${patroni.durationSeconds.toFixed(0)} s`);
  lines.push('');
  lines.push('| fault kind (alone in its episode) | ours: n | ours: Pool / prober / plain register (median) | ours: Pool within best other | Patroni: n | Patroni: Pool / prober / plain register (median) | Patroni: Pool within best other |');
  lines.push('| --- | --- | --- | --- | --- | --- | --- |');
  const kinds = [...new Set([...Object.keys(ours.outages), ...Object.keys(patroni.outages)])];
  for (const k of kinds) {
    const a = ours.outages[k];
    const b = patroni.outages[k];
    lines.push(`| ${k} | ${a?.n ?? 0} | ${outageCell(a)} | ${a ? withinBest(a) : '—'} | ${b?.n ?? 0} | ${outageCell(b)} | ${b ? withinBest(b) : '—'} |`);
  }
  lines.push('');
  lines.push('| invariant | ours: violations / checked | Patroni: violations / checked |');
  lines.push('| --- | --- | --- |');
  const names = [...new Set([...ours.invariants.map((i) => i.name), ...patroni.invariants.map((i) => i.name)])];
  for (const n of names) {
    const a = ours.invariants.find((i) => i.name === n);
    const b = patroni.invariants.find((i) => i.name === n);
    const cell = (i: typeof a) => (i ? `${i.violations} / ${i.checked}` : '—');
    lines.push(`| ${n} | ${cell(a)} | ${cell(b)} |`);
  }
  const mnames = [...new Set([...ours.measurements.map((m) => m.name), ...patroni.measurements.map((m) => m.name)])];
  if (mnames.length) {
    lines.push('');
    lines.push('| measurement (counted, not a violation) | ours: count / checked | Patroni: count / checked |');
    lines.push('| --- | --- | --- |');
    for (const n of mnames) {
      const a = ours.measurements.find((m) => m.name === n);
      const b = patroni.measurements.find((m) => m.name === n);
      const cell = (m: typeof a) => (m ? `${m.count} / ${m.checked}` : '—');
      lines.push(`| ${n} | ${cell(a)} | ${cell(b)} |`);
    }
  }
  lines.push('');
  lines.push(`Failovers seen by the prober: ours ${ours.failovers}, Patroni ${patroni.failovers}. Faults not recovered in time: ours ${ours.unrecovered}, Patroni ${patroni.unrecovered}. Daemon exits: ours ${ours.daemonExits.length}, Patroni ${patroni.daemonExits.length}. Total violations: ours ${ours.totalViolations}, Patroni ${patroni.totalViolations}.`);
  return lines.join('\n');
}

/** Writes the side-by-side record (both reports' files and the table) next to them; returns its path. */
export function writeSideBySide(ours: CampaignReport & { file: string }, patroni: CampaignReport & { file: string }, dir: string): { file: string; doc: SideBySide } {
  const doc: SideBySide = {
    seed: ours.seed,
    synchronousMode: ours.synchronousMode,
    ours: { file: ours.file, totalViolations: ours.totalViolations },
    patroni: { file: patroni.file, totalViolations: patroni.totalViolations },
    table: sideBySideTable(ours, patroni),
  };
  const file = join(dir, `campaign-side-by-side-${ours.synchronousMode ? 'sync' : 'async'}-seed${ours.seed}-${ours.startedAt.replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, JSON.stringify(doc, null, 2) + '\n');
  return { file, doc };
}
