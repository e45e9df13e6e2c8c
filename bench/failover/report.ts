/** Results → a markdown table (median/min/max over trials), JSON, and one SVG timeline per scenario. */
import type { Op } from './workload';
import { median, type TrialMetrics } from './metrics';

export interface TrialResult {
  manager: string;
  scenario: string;
  strategy: string;
  trial: number;
  metrics: TrialMetrics;
}

const COLUMNS: Array<[keyof TrialMetrics, string]> = [
  ['writeOutageMs', 'write outage ms'],
  ['writeStallMs', 'write stall ms'],
  ['readOutageMs', 'read outage ms'],
  ['detectionMs', 'detection ms'],
  ['failedOps', 'failed ops'],
  ['lostWrites', 'lost acked writes'],
  ['duplicates', 'duplicates'],
];

export function markdownTable(results: TrialResult[], baseline = 'pg-failover:etcd'): string {
  const groups = new Map<string, TrialResult[]>();
  for (const r of results) {
    const k = `${r.manager}|${r.scenario}|${r.strategy}`;
    groups.set(k, [...(groups.get(k) ?? []), r]);
  }
  const lines = [
    `| manager | fault | strategy | ${COLUMNS.map(([, h]) => h).join(' | ')} | write outage vs ${baseline} |`,
    `| --- | --- | --- | ${COLUMNS.map(() => '---').join(' | ')} | --- |`,
  ];
  for (const [k, rs] of groups) {
    const [manager, scenario, strategy] = k.split('|');
    const cells = COLUMNS.map(([key]) => cell(rs.map((r) => r.metrics[key])));
    const mine = median(nums(rs.map((r) => r.metrics.writeOutageMs)));
    const base = median(nums((groups.get(`${manager}|${scenario}|${baseline}`) ?? []).map((r) => r.metrics.writeOutageMs)));
    const ratio = mine !== null && base ? `${(mine / base).toFixed(2)}×` : '–';
    lines.push(`| ${manager} | ${scenario} | ${strategy} | ${cells.join(' | ')} | ${ratio} |`);
  }
  return lines.join('\n');
}

function nums(xs: Array<number | null>): number[] {
  return xs.filter((x): x is number => typeof x === 'number');
}

function cell(xs: Array<number | null>): string {
  const v = nums(xs);
  if (!v.length) return 'n/a';
  const m = median(v)!;
  if (v.length === 1) return `${Math.round(m)}`;
  return `${Math.round(m)} (${Math.round(Math.min(...v))}–${Math.round(Math.max(...v))})${v.length < xs.length ? ` [${xs.length - v.length} never]` : ''}`;
}

/** An SVG timeline: successful ops per 100 ms per strategy, errors in red, the fault as a line. */
export function svgTimeline(title: string, faultAt: number, series: Array<{ strategy: string; ops: Op[] }>): string {
  const start = Math.min(...series.flatMap((s) => s.ops.map((o) => o.start)), faultAt);
  const end = Math.max(...series.flatMap((s) => s.ops.map((o) => o.end)), faultAt + 1000);
  const buckets = Math.ceil((end - start) / 100);
  const width = 900;
  const rowH = 70;
  const x = (t: number) => 120 + ((t - start) / (end - start)) * (width - 140);
  const rows = series.map((s, i) => {
    const ok = new Array(buckets).fill(0);
    const bad = new Array(buckets).fill(0);
    for (const o of s.ops) (o.ok ? ok : bad)[Math.min(buckets - 1, Math.floor((o.end - start) / 100))]++;
    const max = Math.max(1, ...ok, ...bad);
    const y0 = 40 + i * rowH + rowH - 15;
    const bars = ok
      .map((n, b) => (n ? `<rect x="${x(start + b * 100).toFixed(1)}" y="${(y0 - (n / max) * 45).toFixed(1)}" width="${((width - 140) / buckets).toFixed(2)}" height="${((n / max) * 45).toFixed(1)}" fill="#3a7"/>` : ''))
      .join('');
    const errs = bad
      .map((n, b) => (n ? `<rect x="${x(start + b * 100).toFixed(1)}" y="${y0}" width="${((width - 140) / buckets).toFixed(2)}" height="${Math.min(12, 3 + n).toFixed(1)}" fill="#d33"/>` : ''))
      .join('');
    return `<text x="5" y="${y0 - 15}" font-size="12">${escapeXml(s.strategy)}</text>${bars}${errs}<line x1="120" x2="${width - 20}" y1="${y0}" y2="${y0}" stroke="#999"/>`;
  });
  const h = 60 + series.length * rowH;
  const fx = x(faultAt).toFixed(1);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${h}" font-family="sans-serif">
<rect width="100%" height="100%" fill="white"/>
<text x="5" y="18" font-size="14" font-weight="bold">${escapeXml(title)} — successful ops per 100 ms (green), failures (red)</text>
${rows.join('\n')}
<line x1="${fx}" x2="${fx}" y1="25" y2="${h - 10}" stroke="#c00" stroke-dasharray="4 3"/><text x="${fx}" y="${h - 2}" font-size="11" fill="#c00">fault</text>
<text x="${width - 120}" y="${h - 2}" font-size="11">${((end - start) / 1000).toFixed(1)} s shown</text>
</svg>`;
}

function escapeXml(s: string): string {
  return s.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c]!);
}
