/**
 * `pg-failover up`: a whole local cluster on loopback for demos, tests and
 * benchmarks — etcd plus N PostgreSQL nodes, each run by a `pg-failover
 * manager` process (Patroni-compatible; `--plain`: bare streaming
 * replication without managers). Runs until Ctrl-C (or --duration), then
 * stops every process it started, by PID, and removes its directory (unless
 * --keep).
 */
import { parseArgs } from 'node:util';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EtcdCluster } from '../local/etcd-server';
import { LocalCluster } from '../local/cluster';
import { PatroniCluster } from '../local/patroni-cluster';
import { FailoverError } from '../errors';
import { intFlag, untilSignal } from './args';
import { runDemo, type DemoCluster } from './demo';

interface UpInfo {
  managed: boolean;
  connectionString: string;
  primary: string;
  standbys: string;
  etcd: string[];
  scope?: string;
  nodes: Array<{ name: string; role: string; address: string; pid: number | undefined; api?: string; dataDir: string }>;
  dir: string;
}

export async function upCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      nodes: { type: 'string' },
      'etcd-members': { type: 'string' },
      plain: { type: 'boolean', default: false },
      sync: { type: 'boolean', default: false },
      ttl: { type: 'string' },
      scope: { type: 'string' },
      demo: { type: 'boolean', default: false },
      duration: { type: 'string' },
      dir: { type: 'string' },
      keep: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
    },
    strict: true,
  });
  const nodes = intFlag(values.nodes, 'nodes', 3, 1);
  const etcdMembers = intFlag(values['etcd-members'], 'etcd-members', 1, values.plain ? 0 : 1);
  const ttl = intFlag(values.ttl, 'ttl', 10, 3);
  const duration = values.duration !== undefined ? intFlag(values.duration, 'duration', 0, 1) * 1000 : undefined;
  if (values.plain && values.sync) throw new FailoverError('INVALID_OPTION', '--sync needs managers; drop --plain');
  const log = (line: string) => process.stderr.write(`[up] ${line}\n`);

  const started = Date.now();
  let stopCluster: () => Promise<void>;
  let info: UpInfo;
  let demo: DemoCluster;
  if (values.plain) {
    const cluster = await LocalCluster.start({
      standbys: nodes - 1,
      etcd: etcdMembers === 0 ? false : etcdMembers,
      parentDir: values.dir,
      keepDir: values.keep,
      log,
    });
    stopCluster = () => cluster.stop();
    info = {
      managed: false,
      connectionString: cluster.connectionString(),
      primary: cluster.connectionString({ params: { target_session_attrs: 'primary' } }),
      standbys: cluster.connectionString({ params: { target_session_attrs: 'standby', load_balance_hosts: 'random' } }),
      etcd: cluster.etcd?.endpoints ?? [],
      nodes: cluster.nodes.map((n) => ({ name: n.name, role: n === cluster.primary ? 'primary' : 'standby', address: n.server.name, pid: n.server.pid, dataDir: n.server.dataDir })),
      dir: cluster.dir,
    };
    demo = { connectionString: info.connectionString, nodes: info.nodes };
  } else {
    // One etcd member is started by the launcher itself; a 3-member etcd is started here.
    const etcdDir = etcdMembers > 1 ? mkdtempSync(join(values.dir ?? tmpdir(), 'pgf-etcd-')) : undefined;
    log(`starting etcd (${etcdMembers} member${etcdMembers > 1 ? 's' : ''}) and ${nodes} pg-failover managers (ttl ${ttl} s${values.sync ? ', synchronous mode' : ''})`);
    const cluster = await PatroniCluster.start({
      daemon: 'pg-failover',
      nodes,
      ttl,
      loopWait: 1,
      retryTimeout: Math.max(1, Math.floor((ttl - 1) / 2)),
      scope: values.scope ?? 'demo',
      synchronousMode: values.sync,
      parentDir: values.dir,
      keepDir: values.keep,
      progress: log,
      ...(etcdDir ? { etcd: await startEtcd(etcdMembers, etcdDir, log) } : {}),
    });
    const ownEtcd = etcdDir ? cluster.etcd : undefined;
    stopCluster = async () => {
      await cluster.stop();
      await ownEtcd?.stop();
      if (etcdDir && !values.keep) rmSync(etcdDir, { recursive: true, force: true });
    };
    const view = await cluster.clusterView();
    const roleOf = (name: string) => {
      const m = view?.members.find((x) => x.name === name);
      return m?.role === 'leader' ? 'primary' : m?.role === 'sync_standby' ? 'sync standby' : 'standby';
    };
    const etcdParams = { 'pgfailover.etcd': cluster.etcdHosts.join(','), 'pgfailover.scope': cluster.scope };
    info = {
      managed: true,
      connectionString: cluster.connectionString({ params: etcdParams }),
      primary: cluster.connectionString({ params: { target_session_attrs: 'primary' } }),
      standbys: cluster.connectionString({ params: { target_session_attrs: 'standby', load_balance_hosts: 'random' } }),
      etcd: cluster.etcdHosts,
      scope: cluster.scope,
      nodes: cluster.members.map((m) => ({ name: m.name, role: roleOf(m.name), address: `127.0.0.1:${m.pgPort}`, pid: m.pid, api: m.apiUrl, dataDir: m.dataDir })),
      dir: cluster.dir,
    };
    demo = {
      connectionString: info.connectionString,
      nodes: info.nodes,
      switchover: async () => {
        const leader = await cluster.waitForLeader(10_000);
        await cluster.switchover();
        return { from: leader, to: await cluster.waitForLeader(30_000, { except: leader }) };
      },
    };
  }

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    log('stopping');
    await stopCluster();
    log('stopped');
  };
  // --json: stdout carries the JSON document only; everything for humans goes to stderr.
  const say = (line: string) => (values.json ? process.stderr : process.stdout).write(line + '\n');
  try {
    if (values.json) process.stdout.write(JSON.stringify(info, null, 2) + '\n');
    else {
      const out = [
        '',
        `Local cluster up in ${((Date.now() - started) / 1000).toFixed(1)} s (${info.dir})${info.managed ? '' : ' — plain streaming replication, no managers'}`,
        '',
        ...info.nodes.map((n) => `  ${n.name.padEnd(4)} ${n.role.padEnd(12)} ${n.address.padEnd(16)} ${n.api ? `api ${n.api.padEnd(23)} ` : ''}pid ${n.pid}`),
        ...(info.etcd.length ? [`  etcd ${info.etcd.join(',')}${info.scope ? `  (scope ${info.scope}, namespace /service)` : ''}`] : []),
        '',
        `  pg-failover: ${info.connectionString}`,
        `  primary:     ${info.primary}`,
        `  standbys:    ${info.standbys}`,
        ...(info.managed ? ['', `  pg-failover ctl list --etcd ${info.etcd.join(',')} --scope ${info.scope}`] : []),
        '',
      ];
      process.stdout.write(out.join('\n') + '\n');
    }
    if (values.demo) await runDemo(demo, say);
    say(duration ? `Running for ${duration / 1000} s (Ctrl-C stops earlier).` : 'Press Ctrl-C to stop.');
    const why = await untilSignal(duration);
    log(why);
  } finally {
    await stop();
  }
  return 0;
}

/** A multi-member etcd for `--etcd-members`, with its progress line. */
async function startEtcd(members: number, baseDir: string, log: (line: string) => void): Promise<EtcdCluster> {
  const t = Date.now();
  log(`etcd: starting ${members} members …`);
  const etcd = await EtcdCluster.start({ members, baseDir });
  log(`etcd: ${etcd.endpoints.join(',')} … up in ${((Date.now() - t) / 1000).toFixed(1)} s`);
  return etcd;
}
