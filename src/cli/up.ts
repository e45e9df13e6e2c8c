/**
 * `pg-failover up`: a whole local cluster on loopback for demos, tests and
 * benchmarks. Runs until Ctrl-C (or --duration), then stops every process it
 * started, by PID, and removes its directory (unless --keep).
 */
import { parseArgs } from 'node:util';
import { LocalCluster } from '../local/cluster';
import { intFlag, untilSignal } from './args';
import { runDemo } from './demo';

export async function upCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      nodes: { type: 'string' },
      'etcd-members': { type: 'string' },
      demo: { type: 'boolean', default: false },
      duration: { type: 'string' },
      dir: { type: 'string' },
      keep: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
    },
    strict: true,
  });
  const nodes = intFlag(values.nodes, 'nodes', 3, 1);
  const etcdMembers = intFlag(values['etcd-members'], 'etcd-members', 1, 0);
  const duration = values.duration !== undefined ? intFlag(values.duration, 'duration', 0, 1) * 1000 : undefined;
  const log = (line: string) => process.stderr.write(`[up] ${line}\n`);

  const started = Date.now();
  const cluster = await LocalCluster.start({
    standbys: nodes - 1,
    etcd: etcdMembers === 0 ? false : etcdMembers,
    parentDir: values.dir,
    keepDir: values.keep,
    log,
  });
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    log('stopping');
    await cluster.stop();
    log('stopped');
  };
  try {
    const info = {
      connectionString: cluster.connectionString(),
      primary: cluster.connectionString({ params: { target_session_attrs: 'primary' } }),
      standbys: cluster.connectionString({ params: { target_session_attrs: 'standby', load_balance_hosts: 'random' } }),
      etcd: cluster.etcd?.endpoints ?? [],
      nodes: cluster.nodes.map((n) => ({ name: n.name, role: n === cluster.primary ? 'primary' : 'standby', address: n.server.name, pid: n.server.pid, dataDir: n.server.dataDir })),
      dir: cluster.dir,
    };
    if (values.json) process.stdout.write(JSON.stringify(info, null, 2) + '\n');
    else {
      const out = [
        '',
        `Local cluster up in ${((Date.now() - started) / 1000).toFixed(1)} s (${cluster.dir})`,
        '',
        ...info.nodes.map((n) => `  ${n.name.padEnd(4)} ${n.role.padEnd(8)} ${n.address.padEnd(16)} pid ${n.pid}`),
        ...(info.etcd.length ? [`  etcd ${info.etcd.join(',')}`] : []),
        '',
        `  all nodes:   ${info.connectionString}`,
        `  primary:     ${info.primary}`,
        `  standbys:    ${info.standbys}`,
        '',
      ];
      process.stdout.write(out.join('\n') + '\n');
    }
    if (values.demo) {
      await runDemo(
        cluster.connectionString(),
        cluster.nodes.map((n) => ({ name: n.name, address: n.server.name })),
        (l) => process.stdout.write(l + '\n'),
      );
    }
    process.stdout.write(duration ? `Running for ${duration / 1000} s (Ctrl-C stops earlier).\n` : 'Press Ctrl-C to stop.\n');
    const why = await untilSignal(duration);
    log(why);
  } finally {
    await stop();
  }
  return 0;
}
