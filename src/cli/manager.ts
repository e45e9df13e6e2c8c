/**
 * `pg-failover manager --config node.yml` (or flags): runs the HA agent for
 * one PostgreSQL node and serves Patroni's REST API, until SIGINT/SIGTERM;
 * then releases the leader key, stops PostgreSQL and exits.
 */
import { parseArgs } from 'node:util';
import { FailoverError } from '../errors';
import { Agent } from '../manager/agent';
import { startApi } from '../manager/api';
import { watchCertificateFiles } from '../manager/cert-watch';
import { prepareApiSecurity } from '../manager/api-security';
import { configFromFlags, loadManagerConfig, MANAGER_FLAGS } from '../manager/config';
import { ensureUniqueName } from '../manager/unique-name';
import { untilSignal } from './args';

type LogLevel = 'DEBUG' | 'INFO' | 'WARNING' | 'ERROR' | 'CRITICAL';

/** `2024-05-01 12:00:00,123` in local time, Python logging's default asctime. */
function patroniTime(d: Date): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())},${p(d.getMilliseconds(), 3)}`;
}

export const MANAGER_USAGE = `pg-failover manager --config node.yml [--name N] [--data-dir D] …
pg-failover manager --name n0 --scope demo --etcd 127.0.0.1:2379 --data-dir /var/lib/pgf/n0 --pg-port 5432 --api-port 8008 [--ttl 30 --loop-wait 10 …]
  Reads a Patroni node YAML as it is (flags override it), bootstraps or joins the cluster,
  holds the leader lease in etcd, and serves Patroni's REST API.
  Flags: ${MANAGER_FLAGS.map((f) => `--${f}`).join(' ')}`;

export async function managerCommand(argv: string[]): Promise<number> {
  const options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean }> = { config: { type: 'string' }, help: { type: 'boolean' } };
  for (const f of MANAGER_FLAGS) options[f] = { type: 'string', multiple: f === 'parameter' || f === 'pg-hba' };
  let values: Record<string, string | boolean | string[] | undefined>;
  try {
    values = parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values as typeof values;
  } catch (e) {
    throw new FailoverError('INVALID_OPTION', `${(e as Error).message}\n${MANAGER_USAGE}`);
  }
  if (values.help) {
    process.stdout.write(MANAGER_USAGE + '\n');
    return 0;
  }
  // Patroni's log line (`%(asctime)s %(levelname)s: %(message)s`): tools and Patroni's own test suite read the level at a fixed column
  const log = (line: string, level: LogLevel = /^warning: /.test(line) ? 'WARNING' : 'INFO') => process.stderr.write(`${patroniTime(new Date())} ${level}: ${line.replace(/^warning: /, '')}\n`);
  const { config: configPath, help: _help, ...flags } = values;
  const loaded =
    typeof configPath === 'string'
      ? loadManagerConfig(configPath, overridesFromFlags(flags), { env: process.env })
      : configFromFlags(flags as Record<string, string | string[] | undefined>);
  for (const w of loaded.warnings) log(`warning: ${w}`);
  const config = loaded.config;
  let restapi = config.restapi;
  /** Applies `restapi`'s certificate, CA, ciphers and allowlist to the running API (a bad file keeps the running ones). */
  const applyApiSecurity = (why: string) =>
    void prepareApiSecurity(restapi, memberApiUrls).then(
      (next) => {
        api.updateSecurity(next);
        if (why) log(`[${config.name}] ${why}`);
      },
      (e: Error) => log(`warning: REST API security settings not reloaded, keeping the running ones: ${e.message}`),
    ).catch((e: Error) => log(`warning: ${e.message}`));
  const reloadConfig =
    typeof configPath === 'string'
      ? () => {
          const again = loadManagerConfig(configPath, overridesFromFlags(flags), { env: process.env });
          for (const w of again.warnings) log(`warning: ${w}`); // Patroni warns again on reload
          // the REST API's certificate, CA, ciphers and allowlist follow the file too (Patroni's reload_config)
          restapi = again.config.restapi;
          applyApiSecurity('');
          return again.config;
        }
      : undefined;
  // TLS files and the allowlist are checked before the node touches etcd or PostgreSQL: a bad file refuses to start
  const memberApiUrls = async () => (await agent.cluster()).members.map((m) => m.data.api_url ?? '');
  const security = await prepareApiSecurity(config.restapi, memberApiUrls);
  const agent = Agent.create(config, { log: (l) => log(`[${config.name}] ${l}`), ...(reloadConfig ? { reloadConfig } : {}) });
  try {
    await ensureUniqueName(await agent.dcs.snapshot(), config.name);
  } catch (e) {
    if (e instanceof FailoverError && e.code === 'MANAGER_DUPLICATE_NAME') {
      log(e.message, 'CRITICAL');
      await agent.dcs.close().catch(() => {});
      throw e;
    }
    // etcd not reachable yet: the agent's own start retries
  }
  const auth = config.restapi.authentication;
  const api = await startApi({
    view: agent,
    host: config.restapi.listen.host,
    port: config.restapi.listen.port,
    ...(auth?.password !== undefined ? { auth: { username: auth.username, password: auth.password } } : {}),
    ...security,
    extraHeaders: { ...config.restapi.httpExtraHeaders, ...(security.tls ? config.restapi.httpsExtraHeaders : {}) },
    log: (l) => log(`[${config.name}] api: ${l}`),
  });
  log(`[${config.name}] REST API on ${api.url}`);
  // like Patroni, a certificate, key or CA file replaced on disk is picked up without a reload (checked every loop_wait)
  const tlsFiles = () => [restapi.tls?.certfile, restapi.tls?.keyfile, restapi.tls?.cafile].filter((f): f is string => !!f);
  const stopWatching = watchCertificateFiles(tlsFiles(), Math.max(1, config.bootstrap.dcs.loopWaitSeconds) * 1000, () =>
    applyApiSecurity('REST API certificate files changed on disk: reloaded them'));
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      if (agent.paused) {
        // Patroni in maintenance mode: exiting touches neither PostgreSQL nor the leader key (it expires after ttl)
        log(`[${config.name}] Leader key is not deleted and Postgresql is not shut down because of paused state`);
        await agent.stop({ release: false, stopPostgres: false }).catch((e: Error) => log(`[${config.name}] stop: ${e.message}`));
      } else {
        await agent.stop({ release: true, stopPostgres: true }).catch((e: Error) => log(`[${config.name}] stop: ${e.message}`));
      }
      await api.close().catch(() => {});
    })());
  // each HA cycle's status line at INFO, as Patroni logs its run_cycle result
  agent.on('cycle', (line) => log(`[${config.name}] ${line}`));
  try {
    await agent.start();
    log(`[${config.name}] running as ${agent.role}`);
    // SIGHUP re-reads the YAML, as Patroni does (the same as POST /reload)
    const onHup = () => {
      log(`[${config.name}] received SIGHUP: reloading the configuration`);
      void agent.reload().then((r) => log(`[${config.name}] reload: ${r.body}`), (e: Error) => log(`warning: reload failed: ${e.message}`));
    };
    process.on('SIGHUP', onHup);
    const why = await untilSignal(undefined);
    process.off('SIGHUP', onHup);
    stopWatching();
    log(`[${config.name}] ${why}: stopping`);
  } finally {
    await stop();
  }
  return 0;
}

/** Flags given next to --config override the file (Patroni-shaped keys). */
function overridesFromFlags(flags: Record<string, unknown>): Record<string, unknown> {
  const set = Object.entries(flags).filter(([, v]) => v !== undefined);
  if (!set.length) return {};
  // Reuse the flag mapper on a minimal complete set, then keep only what was given.
  const o: Record<string, unknown> = {};
  for (const [k, v] of set) {
    const s = Array.isArray(v) ? v[v.length - 1] : v;
    switch (k) {
      case 'name':
      case 'scope':
      case 'namespace':
        o[k] = s;
        break;
      case 'data-dir':
        o.postgresql = { ...(o.postgresql as object), data_dir: s };
        break;
      case 'bin-dir':
        o.postgresql = { ...(o.postgresql as object), bin_dir: s };
        break;
      default:
        throw new FailoverError('INVALID_OPTION', `--${k} cannot be combined with --config (only --name, --scope, --namespace, --data-dir, --bin-dir override the file)`);
    }
  }
  return o;
}
