/**
 * Patroni's environment-variable configuration (`PATRONI_NAME`, `PATRONI_ETCD3_HOSTS`,
 * `PATRONI_RESTAPI_USERNAME` …, docs/ENVIRONMENT.rst): each variable sets one key of the
 * node configuration and wins over the YAML file, as in Patroni. Only the variables this
 * manager has a key for are read; the others under `PATRONI_` are reported by name so
 * nothing is silently ignored.
 */
import type { Raw } from './config-validate';

/** `PATRONI_<X>` → key path in the node configuration. */
const SIMPLE: Record<string, string> = {
  SCOPE: 'scope',
  NAMESPACE: 'namespace',
  NAME: 'name',
  RESTAPI_LISTEN: 'restapi.listen',
  RESTAPI_CONNECT_ADDRESS: 'restapi.connect_address',
  RESTAPI_USERNAME: 'restapi.authentication.username',
  RESTAPI_PASSWORD: 'restapi.authentication.password',
  RESTAPI_CERTFILE: 'restapi.certfile',
  RESTAPI_KEYFILE: 'restapi.keyfile',
  RESTAPI_KEYFILE_PASSWORD: 'restapi.keyfile_password',
  RESTAPI_CAFILE: 'restapi.cafile',
  RESTAPI_CIPHERS: 'restapi.ciphers',
  RESTAPI_VERIFY_CLIENT: 'restapi.verify_client',
  RESTAPI_ALLOWLIST: 'restapi.allowlist',
  RESTAPI_ALLOWLIST_INCLUDE_MEMBERS: 'restapi.allowlist_include_members',
  CTL_INSECURE: 'ctl.insecure',
  CTL_CACERT: 'ctl.cacert',
  CTL_CERTFILE: 'ctl.certfile',
  CTL_KEYFILE: 'ctl.keyfile',
  CTL_KEYFILE_PASSWORD: 'ctl.keyfile_password',
  POSTGRESQL_LISTEN: 'postgresql.listen',
  POSTGRESQL_CONNECT_ADDRESS: 'postgresql.connect_address',
  POSTGRESQL_DATA_DIR: 'postgresql.data_dir',
  POSTGRESQL_BIN_DIR: 'postgresql.bin_dir',
  POSTGRESQL_PGPASS: 'postgresql.pgpass',
  SUPERUSER_USERNAME: 'postgresql.authentication.superuser.username',
  SUPERUSER_PASSWORD: 'postgresql.authentication.superuser.password',
  REPLICATION_USERNAME: 'postgresql.authentication.replication.username',
  REPLICATION_PASSWORD: 'postgresql.authentication.replication.password',
  REWIND_USERNAME: 'postgresql.authentication.rewind.username',
  REWIND_PASSWORD: 'postgresql.authentication.rewind.password',
  LOG_LEVEL: 'log.level',
  LOG_DIR: 'log.dir',
};

/** DCS sections whose `PATRONI_<SECTION>_<KEY>` variables Patroni reads; we speak v3 to both etcd ones. */
const ETCD_KEYS: Record<string, string> = {
  HOST: 'host', HOSTS: 'hosts', URL: 'url', PROXY: 'proxy', SRV: 'srv', PROTOCOL: 'protocol',
  USERNAME: 'username', PASSWORD: 'password', CACERT: 'cacert', CERT: 'cert', KEY: 'key',
};

/** Variables Patroni's own tooling sets that are not node settings (the ctl's, the test suite's). */
const NOT_NODE_SETTINGS = /^PATRONI_(CTL_|CONFIGURATION$|KUBERNETES_|CONSUL_|ZOOKEEPER_|EXHIBITOR_|RAFT_)/;

export interface EnvOverlay {
  /** Patroni-shaped, to be merged over the file. */
  overlay: Raw;
  /** Names of `PATRONI_*` variables this manager does not implement (values never shown). */
  ignored: string[];
}

/** Builds the configuration overlay from `env` (default `process.env`). */
export function configFromEnvironment(env: NodeJS.ProcessEnv = process.env): EnvOverlay {
  const overlay: Raw = {};
  const ignored: string[] = [];
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith('PATRONI_') || value === undefined) continue;
    const rest = name.slice('PATRONI_'.length);
    const simple = SIMPLE[rest];
    if (simple) {
      // Patroni reads a list variable as `a,b` or YAML flow/block text; a flat list of words either way
      setPath(overlay, simple, simple === 'restapi.allowlist' ? parseListText(value) : value);
      continue;
    }
    const etcd = /^(ETCD3?)_([A-Z]+)$/.exec(rest);
    if (etcd && ETCD_KEYS[etcd[2]!]) {
      setPath(overlay, `${etcd[1]!.toLowerCase()}.${ETCD_KEYS[etcd[2]!]}`, value);
      continue;
    }
    if (NOT_NODE_SETTINGS.test(name)) continue;
    ignored.push(name);
  }
  return { overlay, ignored: ignored.sort() };
}

/** `a, b`, `[a, "b"]` or `- a\n- b` → `['a', 'b']`. */
function parseListText(value: string): string[] {
  return value
    .replace(/^\s*\[|\]\s*$/g, '')
    .split(/[,\n]/)
    .map((x) => x.trim().replace(/^-\s*/, '').replace(/^(['"])(.*)\1$/, '$2'))
    .filter(Boolean);
}

function setPath(obj: Raw, path: string, value: unknown): void {
  const parts = path.split('.');
  let cur = obj;
  for (const p of parts.slice(0, -1)) {
    if (typeof cur[p] !== 'object' || cur[p] === null) cur[p] = {};
    cur = cur[p] as Raw;
  }
  cur[parts[parts.length - 1]!] = value;
}
