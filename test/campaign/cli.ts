/**
 * `npm run campaign -- --faults 100 --minutes 30 --seed 42 [--async] [--daemon pg-failover|patroni|both] [--ttl 10] [--etcd-members 3] [--kinds a,b] [--plain-query-timeout 2000] [--stall-check 1000] [--trace FILE] [--register-plain-writes] [--keep]`:
 * the long fault campaign. `--daemon both` runs it against our manager, then real Patroni, with
 * the same seed, and prints one side-by-side table (side-by-side.ts). Exits 0 when every invariant
 * held (in synchronous mode; with `both`, our manager's run decides), 1 on violations, 2 on bad
 * input or a host that cannot run it.
 */
import { parseArgs } from 'node:util';
import { runCampaign } from './campaign';
import { FAULT_KINDS, type FaultKind } from './faults';
import { CampaignUnsupportedError } from './netns';
import { writeSideBySide } from './side-by-side';

function int(v: string | undefined, name: string, dflt: number, min: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer ≥ ${min}, got ${JSON.stringify(v)}`);
  return n;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      faults: { type: 'string' },
      minutes: { type: 'string' },
      seed: { type: 'string' },
      async: { type: 'boolean', default: false },
      daemon: { type: 'string' },
      ttl: { type: 'string' },
      'etcd-members': { type: 'string' },
      kinds: { type: 'string' },
      'plain-query-timeout': { type: 'string' },
      'stall-check': { type: 'string' },
      results: { type: 'string' },
      trace: { type: 'string' },
      'register-plain-writes': { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
    },
    strict: true,
  });
  const daemon = values.daemon ?? 'pg-failover';
  if (daemon !== 'pg-failover' && daemon !== 'patroni' && daemon !== 'both') throw new Error(`--daemon must be pg-failover, patroni or both, got ${JSON.stringify(daemon)}`);
  const kinds = values.kinds?.split(',').map((k) => k.trim()) as FaultKind[] | undefined;
  for (const k of kinds ?? []) if (!FAULT_KINDS.includes(k)) throw new Error(`--kinds: unknown fault kind ${JSON.stringify(k)} (known: ${FAULT_KINDS.join(', ')})`);
  const options = {
    seed: int(values.seed, 'seed', Date.now() % 1_000_000, 0),
    faults: int(values.faults, 'faults', 100, 1),
    minutes: int(values.minutes, 'minutes', 30, 1),
    synchronousMode: !values.async,
    ttl: int(values.ttl, 'ttl', 10, 3),
    etcdMembers: int(values['etcd-members'], 'etcd-members', 3, 1),
    ...(kinds ? { kinds } : {}),
    ...(values['plain-query-timeout'] !== undefined ? { plainQueryTimeoutMillis: int(values['plain-query-timeout'], 'plain-query-timeout', 2000, 0) } : {}),
    ...(values['stall-check'] !== undefined ? { stallCheckMillis: int(values['stall-check'], 'stall-check', 1000, 0) } : {}),
    ...(values.results ? { resultsDir: values.results } : {}),
    ...(values.trace ? { traceFile: values.trace } : {}),
    keepDirs: values.keep,
    registerResolvesWrites: !values['register-plain-writes'],
  };
  if (daemon === 'both') {
    const ours = await runCampaign({ ...options, daemon: 'pg-failover' });
    const patroni = await runCampaign({ ...options, daemon: 'patroni', ...(values.trace ? { traceFile: `${values.trace}.patroni.json` } : {}) });
    const { file, doc } = writeSideBySide(ours, patroni, values.results ?? 'test/campaign/results');
    process.stderr.write(`\n${doc.table}\n`);
    process.stdout.write(`${ours.file}\n${patroni.file}\n${file}\n`);
    return ours.synchronousMode && ours.totalViolations > 0 ? 1 : 0;
  }
  const report = await runCampaign({ ...options, daemon });
  process.stdout.write(`${report.file}\n`);
  return report.synchronousMode && report.totalViolations > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`${e instanceof CampaignUnsupportedError ? '' : 'campaign failed: '}${(e as Error).message}\n`);
    process.exit(2);
  },
);
