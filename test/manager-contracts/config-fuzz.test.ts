/**
 * YAML config fuzzer: a valid Patroni YAML (with passwords everywhere Patroni
 * takes one), mutated — types flipped, keys dropped or renamed, subtrees moved
 * to the wrong nesting, huge numbers, PyYAML 1.1 booleans (`off`, `yes`),
 * duplicate keys, garbage bytes, truncation — goes through loadManagerConfig.
 * Every case either loads, or throws FailoverError MANAGER_CONFIG whose every
 * problem names a key and whose message names it too; never a TypeError, a
 * RangeError or a hang, and never a password in the error, the warnings or the
 * loaded config's JSON / util.inspect.
 *
 * The same for 500 random PATRONI_* environments over the valid file.
 *
 * Seeded: PGF_CONFIG_FUZZ_SEED=<n> replays a run, PGF_CONFIG_FUZZ_CASES=<n>
 * sets the count (default 10,000; `npm run fuzz:config` runs 200,000).
 */
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { loadManagerConfig } from '../../src/manager/config';
import { FailoverError } from '../../src/errors';
import { pick, prng } from '../connection/corpus';

const SECRETS = {
  superuser: 'Sup3r-S3cret-zq81',
  replication: 'R3pl-S3cret-wx42',
  rewind: 'R3w1nd-S3cret-kv77',
  restapi: 'Ap1-S3cret-mm05',
  etcd: 'Etcd-S3cret-pp19',
};
const SECRET_VALUES = Object.values(SECRETS);

const BASE = {
  scope: 'fuzz',
  namespace: '/service',
  name: 'n0',
  restapi: { listen: '127.0.0.1:8008', connect_address: '127.0.0.1:8008', authentication: { username: 'api', password: SECRETS.restapi } },
  etcd3: { hosts: '127.0.0.1:2379,127.0.0.1:2380', protocol: 'http', username: 'root', password: SECRETS.etcd },
  bootstrap: {
    dcs: {
      ttl: 30,
      loop_wait: 10,
      retry_timeout: 10,
      maximum_lag_on_failover: 1048576,
      synchronous_mode: false,
      postgresql: { use_pg_rewind: true, use_slots: true, parameters: { wal_level: 'replica', max_wal_senders: 10, hot_standby: 'on' } },
    },
    initdb: [{ encoding: 'UTF8' }, 'data-checksums'],
    pg_hba: ['host replication replicator 127.0.0.1/32 md5'],
  },
  postgresql: {
    listen: '127.0.0.1:5432',
    connect_address: '127.0.0.1:5432',
    data_dir: '/var/lib/pg/data',
    bin_dir: '/usr/lib/postgresql/15/bin',
    pgpass: '/tmp/pgpass0',
    authentication: {
      superuser: { username: 'postgres', password: SECRETS.superuser },
      replication: { username: 'replicator', password: SECRETS.replication },
      rewind: { username: 'rewinder', password: SECRETS.rewind },
    },
    parameters: { shared_buffers: '32MB', max_connections: 100 },
    pg_hba: ['local all all trust', 'host all all 127.0.0.1/32 md5'],
    callbacks: { on_start: '/bin/true', on_role_change: '/bin/true' },
    pre_promote: '/bin/true',
    use_pg_rewind: true,
    pg_ctl_timeout: 60,
  },
  tags: { nofailover: false, noloadbalance: false, clonefrom: false, nosync: false, failover_priority: 1, zone: 'a' },
  watchdog: { mode: 'off', safety_margin: 5 },
  log: { level: 'INFO', type: 'plain', dir: '/tmp/log' },
};

type Json = unknown;
type Path = (string | number)[];

/** Every path in the tree (maps and lists), the root excluded. */
function paths(v: Json, at: Path = [], out: Path[] = []): Path[] {
  if (Array.isArray(v)) v.forEach((x, i) => (out.push([...at, i]), paths(x, [...at, i], out)));
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) out.push([...at, k]), paths(x, [...at, k], out);
  return out;
}

function parentOf(root: Json, path: Path): Record<string | number, Json> | undefined {
  let cur = root as Record<string | number, Json>;
  for (const seg of path.slice(0, -1)) {
    cur = cur?.[seg] as Record<string | number, Json>;
    if (!cur || typeof cur !== 'object') return undefined;
  }
  return cur;
}

function deep(depth: number): Json {
  let v: Json = 'leaf';
  for (let i = 0; i < depth; i++) v = i % 2 ? [v] : { k: v };
  return v;
}

/** Replacement values: wrong types, PyYAML-1.1 words, edge numbers, structures. */
const VALUES: Array<(r: () => number) => Json> = [
  () => null,
  () => true,
  () => false,
  () => 0,
  () => -1,
  () => 1e308,
  () => -1e308,
  () => 2 ** 53 + 1,
  () => 0.0001,
  () => '',
  () => ' ',
  () => 'off',
  () => 'yes',
  () => 'no',
  () => 'on',
  () => 'NaN',
  () => '99999999999999999999999999',
  () => '127.0.0.1:99999',
  () => '[::1]:5432',
  () => ':',
  () => 'host:port:extra',
  () => '\u0000\u0001\uffff',
  () => 'é😀\ud800',
  () => 'x'.repeat(10_000),
  () => [],
  () => {},
  () => ['a', 1, null],
  () => [{ a: [] }],
  () => ({ password: 'nested' }),
  (r) => deep(1 + Math.floor(r() * 200)),
  (r) => Math.floor(r() * 1e9) - 5e8,
  (r) => String(Math.floor(r() * 70000)),
];

const KEY_JUNK = ['', ' ', 'password', '__proto__', 'constructor', 'toString', 'hasOwnProperty', 'ttl', 'etcd', 'ctl', 'a.b', 'x'.repeat(300)];

function mutateTree(root: Json, r: () => number): void {
  const all = paths(root);
  if (!all.length) return;
  const path = pick(r, all);
  const parent = parentOf(root, path);
  if (!parent) return;
  const key = path[path.length - 1]!;
  switch (Math.floor(r() * 8)) {
    case 0: // drop the key
      if (Array.isArray(parent)) parent.splice(key as number, 1);
      else delete parent[key];
      break;
    case 1: // flip its type
    case 2:
      parent[key] = pick(r, VALUES)(r);
      break;
    case 3: {
      // rename it (typo, or a dangerous name)
      const v = parent[key];
      if (Array.isArray(parent)) break;
      delete parent[key];
      const nk = r() < 0.5 ? pick(r, KEY_JUNK) : `${String(key)}${pick(r, ['s', '_', 'X', ' '])}`;
      Object.defineProperty(parent, nk, { value: v, enumerable: true, writable: true, configurable: true });
      break;
    }
    case 4: {
      // wrong nesting: move this subtree under another path
      const other = pick(r, paths(root));
      if (other.length >= path.length && path.every((seg, i) => other[i] === seg)) break; // into itself: a cycle
      const target = parentOf(root, other)?.[other[other.length - 1]!];
      if (target && typeof target === 'object' && !Array.isArray(target) && target !== parent[key]) {
        (target as Record<string, Json>)[String(key)] = parent[key];
        if (!Array.isArray(parent)) delete parent[key];
      }
      break;
    }
    case 5: // wrap it in a list / in a mapping
      parent[key] = r() < 0.5 ? [parent[key]] : { [String(key)]: parent[key] };
      break;
    case 6: {
      // copy a secret into a visible place (a password where a string goes)
      parent[key] = pick(r, SECRET_VALUES);
      break;
    }
    default: // add a junk key beside it
      if (!Array.isArray(parent)) parent[pick(r, KEY_JUNK)] = pick(r, VALUES)(r);
  }
}

/** Text-level damage: garbage bytes, truncation, duplicated lines (duplicate keys), tabs, PyYAML words. */
function mutateText(text: string, r: () => number): string {
  const lines = text.split('\n');
  switch (Math.floor(r() * 7)) {
    case 0: {
      const at = Math.floor(r() * text.length);
      const junk = Array.from({ length: 1 + Math.floor(r() * 8) }, () => String.fromCharCode(Math.floor(r() * 0x3000))).join('');
      return text.slice(0, at) + junk + text.slice(at);
    }
    case 1:
      return text.slice(0, Math.floor(r() * text.length));
    case 2: {
      const i = Math.floor(r() * lines.length);
      lines.splice(i, 0, lines[i]!);
      return lines.join('\n');
    }
    case 3: {
      const i = Math.floor(r() * lines.length);
      lines[i] = lines[i]!.replace(/^( *)/, (s) => (r() < 0.5 ? '\t' + s : s.slice(1)));
      return lines.join('\n');
    }
    case 4: {
      const i = Math.floor(r() * lines.length);
      lines[i] = lines[i]!.replace(/: .*$/, `: ${pick(r, ['off', 'yes', 'No', 'ON', '~', '0x1F', '1e400', '0o17', '.inf', '!!binary aGk=', '*alias', '&a x', '{', '[', '"', "'", '%TAG', '---'])}`);
      return lines.join('\n');
    }
    case 5:
      return `${text}\n${pick(r, ['---\nscope: other\n', '...\n', 'scope: twice\n', 'a: &x [*x]\n', '? complex\n: key\n'])}`;
    default:
      return Array.from({ length: Math.floor(r() * 200) }, () => String.fromCharCode(Math.floor(r() * 256))).join('');
  }
}

export interface FuzzCase {
  seed: number;
  index: number;
  text: string;
}

function* cases(seed: number, count: number): Generator<FuzzCase> {
  const r = prng(seed);
  for (let index = 0; index < count; index++) {
    const tree = structuredClone(BASE) as Json;
    const n = 1 + Math.floor(r() * 3);
    for (let i = 0; i < n; i++) mutateTree(tree, r);
    let text: string;
    try {
      text = stringify(tree, { aliasDuplicateObjects: false });
    } catch {
      text = JSON.stringify(tree);
    }
    if (r() < 0.3) text = mutateText(text, r);
    yield { seed, index, text };
  }
}

/** What one case did; throws (with the input) on anything but a load or a MANAGER_CONFIG error. */
function check(c: FuzzCase): 'ok' | 'error' {
  const where = () => `seed ${c.seed} case ${c.index}; input:\n${c.text.length > 4000 ? `${c.text.slice(0, 4000)}…` : c.text}`;
  let loaded: ReturnType<typeof loadManagerConfig>;
  try {
    loaded = loadManagerConfig(c.text);
  } catch (e) {
    if (!(e instanceof FailoverError) || e.code !== 'MANAGER_CONFIG') {
      throw new Error(`unexpected ${e instanceof Error ? `${e.name}: ${e.message}\n${e.stack}` : String(e)}\n${where()}`);
    }
    const problems = (e.detail?.problems ?? []) as Array<{ key: unknown; message: unknown }>;
    if (!problems.length) throw new Error(`MANAGER_CONFIG without problems\n${where()}`);
    for (const p of problems) {
      if (typeof p.key !== 'string' || !p.key || typeof p.message !== 'string') throw new Error(`problem without key/message ${JSON.stringify(p)}\n${where()}`);
      const named = p.key.startsWith('(') || p.message.includes(p.key.replace(/\[\d+\]$/, ''));
      if (!named) throw new Error(`problem message does not name its key ${JSON.stringify(p)}\n${where()}`);
    }
    const shown = `${e.message}\n${JSON.stringify(e.detail)}\n${inspect(e, { depth: 10 })}`;
    const leaked = SECRET_VALUES.some((s) => shown.includes(s)) && unplanted(c.text).find((s) => shown.includes(s));
    if (leaked) throw new Error(`the error shows a password (${leaked}):\n${shown.slice(0, 2000)}\n${where()}`);
    return 'error';
  }
  const shown = `${loaded.warnings.join('\n')}\n${JSON.stringify(loaded.config)}\n${inspect(loaded.config, { depth: 20 })}`;
  const leaked = SECRET_VALUES.some((s) => shown.includes(s)) && unplanted(c.text).find((s) => shown.includes(s));
  if (leaked) throw new Error(`the loaded config or its warnings show a password (${leaked})\n${where()}`);
  return 'ok';
}

const BASE_TEXT = stringify(BASE);

/** Where a password belongs; a secret anywhere else was put there by a mutation. */
const PASSWORD_PATHS = new Set(['restapi.authentication.password', 'etcd3.password', 'postgresql.authentication.superuser.password', 'postgresql.authentication.replication.password', 'postgresql.authentication.rewind.password']);

/**
 * The secrets still only in password places: a case that copied or moved one under a
 * non-secret key (a tag, connect_address, a typo'd section …) may legitimately see it echoed there.
 */
function unplanted(text: string): string[] {
  let tree: unknown;
  try {
    tree = parse(text, { version: '1.1', uniqueKeys: false });
  } catch {
    return SECRET_VALUES.filter((s) => text.split(s).length <= BASE_TEXT.split(s).length);
  }
  const misplaced = new Set<string>();
  const seen = new Set<unknown>(); // aliases may make a cycle
  const walk = (v: unknown, path: string): void => {
    if (v && typeof v === 'object') {
      if (seen.has(v)) return;
      seen.add(v);
    }
    if (Array.isArray(v)) v.forEach((x, i) => walk(x, `${path}[${i}]`));
    else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, path ? `${path}.${k}` : k);
    else if (!PASSWORD_PATHS.has(path)) for (const s of SECRET_VALUES) if (String(v).includes(s)) misplaced.add(s);
  };
  walk(tree, '');
  return SECRET_VALUES.filter((s) => !misplaced.has(s) && text.split(s).length <= BASE_TEXT.split(s).length);
}

describe('manager config fuzz (loadManagerConfig on mutated Patroni YAML)', () => {
  it('the unmutated base loads, and shows no password', () => {
    const { config } = loadManagerConfig(BASE_TEXT);
    expect(config.postgresql.authentication.rewind?.password).toBe(SECRETS.rewind);
    expect(config.etcd.authentication?.password).toBe(SECRETS.etcd);
    expect(check({ seed: 0, index: -1, text: BASE_TEXT })).toBe('ok');
  });

  // regressions the fuzzer found: the YAML library's ReferenceError escaped loadManagerConfig, and a
  // self-referencing alias loaded into a cyclic object (JSON.stringify of the DCS config would throw)
  it.each([
    ['an alias to an anchor that is never set', BASE_TEXT.replace('  zone: a', '  zone: *nowhere')],
    ['an alias bomb', `${BASE_TEXT}\nx0: &a0 [a, a, a, a, a, a, a, a, a, a]\n${Array.from({ length: 9 }, (_, i) => `x${i + 1}: &a${i + 1} [${Array(10).fill(`*a${i}`).join(', ')}]`).join('\n')}\n`],
    ['a self-referencing alias', BASE_TEXT.replace('  zone: a', '  zone: &z [*z]')],
  ])('%s is MANAGER_CONFIG (yaml), not a ReferenceError or a cyclic config', (_what, text) => {
    let caught: unknown;
    try {
      loadManagerConfig(text);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(FailoverError);
    expect((caught as FailoverError).code).toBe('MANAGER_CONFIG');
    expect(((caught as FailoverError).detail?.problems as Array<{ key: string }>)[0]!.key).toBe('(yaml)');
  });

  it('500 random PATRONI_* environments over the base: load or MANAGER_CONFIG; their passwords never shown', () => {
    const envSeed = Number(process.env.PGF_CONFIG_FUZZ_SEED ?? 99) + 1;
    const r = prng(envSeed);
    const NAMES = [
      'SCOPE', 'NAMESPACE', 'NAME', 'RESTAPI_LISTEN', 'RESTAPI_CONNECT_ADDRESS', 'RESTAPI_USERNAME', 'POSTGRESQL_LISTEN', 'POSTGRESQL_CONNECT_ADDRESS',
      'POSTGRESQL_DATA_DIR', 'POSTGRESQL_BIN_DIR', 'POSTGRESQL_PGPASS', 'SUPERUSER_USERNAME', 'REPLICATION_USERNAME', 'REWIND_USERNAME', 'LOG_LEVEL', 'LOG_DIR',
      'ETCD3_HOSTS', 'ETCD3_HOST', 'ETCD3_URL', 'ETCD3_PROTOCOL', 'ETCD3_USERNAME', 'ETCD_HOSTS', 'ETCD_PROXY', 'ETCD3_SRV', 'ETCD3_CACERT', 'ETCD3_KEY',
      'FOO', '', 'ETCD3_', 'ETCD3_BOGUS', 'CTL_INSECURE', 'KUBERNETES_LABELS', 'REPLICATION_SSLMODE', 'postgresql_listen',
    ];
    const PASSWORD_NAMES = ['RESTAPI_PASSWORD', 'SUPERUSER_PASSWORD', 'REPLICATION_PASSWORD', 'REWIND_PASSWORD', 'ETCD3_PASSWORD', 'ETCD_PASSWORD'];
    const outcome = { ok: 0, error: 0 };
    for (let i = 0; i < 500; i++) {
      const env: Record<string, string> = {};
      const tokens: string[] = [];
      for (let k = Math.floor(r() * 6); k > 0; k--) env[`PATRONI_${pick(r, NAMES)}`] = String(pick(r, VALUES)(r) ?? '');
      for (let k = Math.floor(r() * 3); k > 0; k--) {
        const token = `EnvPw${i}x${k}Zq`;
        tokens.push(token);
        env[`PATRONI_${pick(r, PASSWORD_NAMES)}`] = token;
      }
      let shown: string;
      try {
        const loaded = loadManagerConfig(BASE_TEXT, {}, { env });
        shown = `${loaded.warnings.join('\n')}\n${JSON.stringify(loaded.config)}\n${inspect(loaded.config, { depth: 20 })}`;
        outcome.ok++;
      } catch (e) {
        if (!(e instanceof FailoverError) || e.code !== 'MANAGER_CONFIG') throw new Error(`env seed ${envSeed} case ${i}: unexpected ${String(e)} for ${JSON.stringify(env)}`);
        shown = `${e.message}\n${JSON.stringify(e.detail)}\n${inspect(e)}`;
        outcome.error++;
      }
      const leaked = [...tokens, ...SECRET_VALUES].filter((t) => shown.includes(t));
      if (leaked.length) throw new Error(`env seed ${envSeed} case ${i}: ${leaked.join(', ')} shown for ${JSON.stringify(env)}:\n${shown.slice(0, 1500)}`);
    }
    expect(outcome.ok).toBeGreaterThan(25);
    expect(outcome.error).toBeGreaterThan(25);
  }, 120_000);

  const seed = Number(process.env.PGF_CONFIG_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
  const count = Number(process.env.PGF_CONFIG_FUZZ_CASES ?? 10_000);
  it(`${count} mutated configurations: load, or MANAGER_CONFIG naming the key (seed ${seed})`, async () => {
    console.log(`config fuzz: seed ${seed} (replay: PGF_CONFIG_FUZZ_SEED=${seed}), ${count} cases`);
    const outcome = { ok: 0, error: 0 };
    const started = Date.now();
    let slowest = { millis: 0, index: -1 };
    for (const c of cases(seed, count)) {
      const t0 = performance.now();
      outcome[check(c)]++;
      const millis = performance.now() - t0;
      if (millis > slowest.millis) slowest = { millis, index: c.index };
      if (c.index % 250 === 0) await new Promise((resolve) => setImmediate(resolve)); // let the test runner breathe
    }
    const took = Date.now() - started;
    console.log(`config fuzz: ${outcome.ok} loaded, ${outcome.error} refused with MANAGER_CONFIG, ${took} ms; slowest case ${slowest.index}: ${slowest.millis.toFixed(1)} ms`);
    // no input makes the loader crawl (a quadratic path, an alias bomb): one case stays far under a second even on a loaded machine
    expect(slowest.millis).toBeLessThan(2_000);
    expect(outcome.ok + outcome.error).toBe(count);
    // the mutations are neither all harmless nor all fatal
    expect(outcome.ok).toBeGreaterThan(count * 0.05);
    expect(outcome.error).toBeGreaterThan(count * 0.2);
  }, 3_600_000);
});
