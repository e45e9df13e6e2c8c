/**
 * `pg-failover ctl list | switchover | failover | history`: a patronictl-like
 * tool that works on any cluster with Patroni's etcd layout and REST API —
 * ours or Patroni's. It reads the keys under /<namespace>/<scope>/ and talks
 * to the members' REST APIs; it never imports the manager.
 */
import { parseArgs } from 'node:util';
import { Etcd3 } from 'etcd3';
import { FailoverError } from '../errors';
import { loadRestTls, restRequest, isCertificateError, type RestTlsOptions } from '../topology/rest-request';
import { DEFAULT_NAMESPACE, memberNameOfKey, patroniPrefix, PATRONI_KEYS, STANDBY_LEADER_ROLE } from '../patroni-contract';

export interface MemberRow {
  name: string;
  host: string;
  role: string;
  state: string;
  timeline: number | null;
  lagMB: number | null;
  apiUrl: string | undefined;
}

export interface ClusterView {
  scope: string;
  leader: string | undefined;
  members: MemberRow[];
  history: unknown[];
}

/** Reads a cluster's state from etcd (Patroni's layout). */
export async function readCluster(endpoints: string[], scope: string, namespace = DEFAULT_NAMESPACE): Promise<ClusterView> {
  const client = new Etcd3({ hosts: endpoints, defaultCallOptions: () => ({ deadline: Date.now() + 3000 }) } as never);
  try {
    const prefix = patroniPrefix(namespace, scope);
    const all = await client.getAll().prefix(prefix).strings();
    const leader = all[prefix + PATRONI_KEYS.leader];
    const history = safeJson(all[prefix + PATRONI_KEYS.history]);
    const members: Array<MemberRow & { xlog: number | null }> = [];
    for (const [key, value] of Object.entries(all)) {
      const name = key.startsWith(prefix) ? memberNameOfKey(key.slice(prefix.length)) : undefined;
      if (name === undefined) continue;
      const m = safeJson(value) as Record<string, unknown> | undefined;
      if (!m || typeof m !== 'object') continue;
      const url = typeof m.conn_url === 'string' ? m.conn_url : '';
      const hostPort = /^\w+:\/\/(?:[^@/]*@)?([^/?]+)/.exec(url)?.[1] ?? '';
      members.push({
        name,
        host: hostPort,
        role: name === leader ? 'Leader' : m.role === STANDBY_LEADER_ROLE ? 'Standby Leader' : 'Replica',
        state: String(m.state ?? 'unknown'),
        timeline: typeof m.timeline === 'number' ? m.timeline : null,
        lagMB: null,
        apiUrl: typeof m.api_url === 'string' ? m.api_url : undefined,
        xlog: typeof m.xlog_location === 'number' ? m.xlog_location : null,
      });
    }
    const leaderXlog = members.find((m) => m.name === leader)?.xlog ?? null;
    for (const m of members) {
      if (m.name !== leader && m.xlog !== null && leaderXlog !== null) m.lagMB = Math.max(0, Math.round((leaderXlog - m.xlog) / 1048576));
    }
    members.sort((a, b) => a.name.localeCompare(b.name));
    return { scope, leader, members: members.map(({ xlog: _x, ...rest }) => rest), history: Array.isArray(history) ? history : [] };
  } finally {
    client.close();
  }
}

function safeJson(v: string | undefined): unknown {
  if (v === undefined) return undefined;
  try {
    return JSON.parse(v);
  } catch {
    return undefined;
  }
}

/** A table like `patronictl list`. */
export function formatList(view: ClusterView): string {
  const header = ['Member', 'Host', 'Role', 'State', 'TL', 'Lag in MB'];
  const rows = view.members.map((m) => [m.name, m.host, m.role, m.state, m.timeline === null ? '' : String(m.timeline), m.role === 'Leader' ? '' : m.lagMB === null ? 'unknown' : String(m.lagMB)]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  const sep = `+${widths.map((w) => '-'.repeat(w + 2)).join('+')}+`;
  return [`+ Cluster: ${view.scope} ${sep.slice(12 + view.scope.length)}`.slice(0, sep.length), line(header), sep, ...rows.map(line), sep].join('\n');
}

export async function ctlCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  const { values } = parseArgs({
    args: rest,
    options: {
      etcd: { type: 'string' },
      scope: { type: 'string' },
      namespace: { type: 'string', default: DEFAULT_NAMESPACE },
      json: { type: 'boolean', default: false },
      leader: { type: 'string' },
      candidate: { type: 'string' },
      username: { type: 'string' },
      password: { type: 'string' },
      cacert: { type: 'string' },
      certfile: { type: 'string' },
      keyfile: { type: 'string' },
      insecure: { type: 'boolean', short: 'k' },
    },
    strict: true,
  });
  const etcd = values.etcd ?? process.env.PGFAILOVER_ETCD_HOSTS;
  const scope = values.scope ?? process.env.PGFAILOVER_SCOPE;
  if (!etcd || !scope) {
    throw new FailoverError('INVALID_OPTION', 'ctl needs --etcd http://host:port[,…] and --scope NAME (or PGFAILOVER_ETCD_HOSTS / PGFAILOVER_SCOPE)');
  }
  const view = await readCluster(etcd.split(','), scope, values.namespace);
  switch (sub) {
    case 'list':
      process.stdout.write(values.json ? JSON.stringify(view.members, null, 2) + '\n' : formatList(view) + '\n');
      return 0;
    case 'history':
      process.stdout.write(
        values.json
          ? JSON.stringify(view.history, null, 2) + '\n'
          : ['TL  LSN          Reason                          Timestamp                  New Leader', ...view.history.map((h) => (h as unknown[]).map(String).join('  '))].join('\n') + '\n',
      );
      return 0;
    case 'switchover':
    case 'failover': {
      if (sub === 'switchover' && !view.leader) throw new FailoverError('NO_PRIMARY', `cluster ${scope} has no leader: use \`ctl failover --candidate NAME\``);
      const target = view.members.find((m) => m.name === (sub === 'switchover' ? view.leader : values.candidate ?? view.leader)) ?? view.members[0];
      const base = target?.apiUrl?.replace(/\/patroni$/, '');
      if (!base) throw new FailoverError('INVALID_OPTION', `no REST API URL known for ${target?.name ?? 'any member'}`);
      const body = sub === 'switchover' ? { leader: values.leader ?? view.leader, ...(values.candidate ? { candidate: values.candidate } : {}) } : { candidate: values.candidate };
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      // a --password flag is visible to every local user (ps, /proc/<pid>/cmdline): the environment is the quiet way
      const username = values.username ?? process.env.PGFAILOVER_API_USERNAME;
      const password = values.password ?? process.env.PGFAILOVER_API_PASSWORD;
      if (username) headers.authorization = `Basic ${Buffer.from(`${username}:${password ?? ''}`).toString('base64')}`;
      const tls = loadRestTls(ctlTlsOptions(values, process.env), 'ctl');
      let res: { status: number; text: string };
      try {
        res = await restRequest(`${base}/${sub}`, { method: 'POST', headers, body: JSON.stringify(body), tls, signal: AbortSignal.timeout(30_000) });
      } catch (e) {
        if (isCertificateError(e)) {
          throw new FailoverError('INVALID_OPTION', `${base}: the REST API's certificate is not trusted (${(e as { code?: string }).code}); give its CA with --cacert (PGFAILOVER_CTL_CACERT), or --insecure`, { cause: e, detail: { reason: 'tls' } });
        }
        throw new FailoverError('COMMAND_FAILED', `${base}/${sub}: ${(e as Error).message}`, { cause: e });
      }
      process.stdout.write(`${res.status} ${res.text}\n`);
      return res.status >= 200 && res.status < 300 ? 0 : 1;
    }
    default:
      throw new FailoverError('INVALID_OPTION', `unknown ctl command ${JSON.stringify(sub)}: use list, switchover, failover or history`);
  }
}

/**
 * TLS for the REST calls, as patronictl's `ctl` section: `--cacert` (PGFAILOVER_CTL_CACERT),
 * `--certfile`/`--keyfile` (PGFAILOVER_CTL_CERTFILE/KEYFILE) for an API with `verify_client`, the key's
 * password from PGFAILOVER_CTL_KEYFILE_PASSWORD only (never a flag: it would show in `ps`), and
 * `--insecure`/`-k` (PGFAILOVER_CTL_INSECURE=true) to skip verifying the server.
 */
export function ctlTlsOptions(values: { cacert?: string; certfile?: string; keyfile?: string; insecure?: boolean }, env: NodeJS.ProcessEnv): RestTlsOptions {
  const cacert = values.cacert ?? env.PGFAILOVER_CTL_CACERT;
  const certfile = values.certfile ?? env.PGFAILOVER_CTL_CERTFILE;
  const keyfile = values.keyfile ?? env.PGFAILOVER_CTL_KEYFILE;
  const password = env.PGFAILOVER_CTL_KEYFILE_PASSWORD;
  const insecure = values.insecure === true || /^(true|yes|on|1)$/i.test(env.PGFAILOVER_CTL_INSECURE ?? '');
  return {
    ...(cacert ? { caFile: cacert } : {}),
    ...(certfile ? { certFile: certfile } : {}),
    ...(keyfile ? { keyFile: keyfile } : {}),
    ...(password !== undefined ? { keyPassword: password } : {}),
    ...(insecure ? { rejectUnauthorized: false } : {}),
  };
}
