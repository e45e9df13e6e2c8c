/**
 * loadManagerConfig / configFromFlags: Patroni's own example configurations
 * read as they are, every unimplemented key warned by path, every bad value a
 * MANAGER_CONFIG error naming its key path, and passwords never shown.
 */
import { describe, it, expect } from 'vitest';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { inspect } from 'node:util';
import { memberTags } from '../../src/manager/member-tags';
import { loadManagerConfig, configFromFlags, type ConfigProblem } from '../../src/manager/config';
import { FailoverError } from '../../src/errors';

const fixture = (f: string) => join(__dirname, 'fixtures', f);
// passwords in postgres1-etcd3.yml
const PASSWORDS = ['rep-pass', 'api-secret-pw', 'etcd-secret-pw', 'super-secret-pw'];

/** The MANAGER_CONFIG error thrown by fn (fails the test if none). */
function configError(fn: () => unknown): FailoverError & { detail: { problems: ConfigProblem[] } } {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(FailoverError);
    expect((e as FailoverError).code).toBe('MANAGER_CONFIG');
    return e as FailoverError & { detail: { problems: ConfigProblem[] } };
  }
  throw new Error('expected a MANAGER_CONFIG error');
}
const keysOf = (e: { detail: { problems: ConfigProblem[] } }) => e.detail.problems.map((p) => p.key);

/** A minimal valid config as text, with `extra` YAML appended at top level. */
const base = (extra = '') => `
scope: demo
name: n0
restapi: { listen: 127.0.0.1:8008, connect_address: 127.0.0.1:8008 }
etcd3: { hosts: 127.0.0.1:2379 }
postgresql:
  listen: 127.0.0.1:5432
  connect_address: 127.0.0.1:5432
  data_dir: /tmp/d
  authentication:
    superuser: { username: postgres, password: pw-super-1 }
    replication: { username: replicator, password: pw-repl-1 }
${extra}`;

describe('Patroni example configurations', () => {
  it('reads postgres0.yml (etcd section, initdb list, bootstrap.dcs) with the defaults Patroni uses', () => {
    const { config, warnings } = loadManagerConfig(fixture('postgres0.yml'));
    expect(config.scope).toBe('batman');
    expect(config.name).toBe('postgresql0');
    expect(config.namespace).toBe('/service');
    expect(config.restapi.listen).toEqual({ host: '127.0.0.1', port: 8008 });
    expect(config.etcd).toMatchObject({ hosts: ['127.0.0.1:2379'], protocol: 'http', section: 'etcd' });
    expect(config.bootstrap.dcs).toMatchObject({ ttlSeconds: 30, loopWaitSeconds: 10, retryTimeoutSeconds: 10, maximumLagOnFailoverBytes: 1048576, synchronousMode: false });
    expect(config.bootstrap.dcs.postgresql).toMatchObject({ usePgRewind: true, useSlots: true, pgHba: ['host replication replicator 127.0.0.1/32 md5', 'host all all 0.0.0.0/0 md5'] });
    expect(config.bootstrap.dcs.raw).toMatchObject({ ttl: 30, loop_wait: 10 });
    expect(config.bootstrap.initdb).toEqual(['--encoding=UTF8', '--data-checksums']);
    expect(config.postgresql.listen).toEqual({ hosts: ['127.0.0.1'], port: 5432 });
    expect(config.postgresql.dataDir).toBe('data/postgresql0');
    expect(config.postgresql.authentication.superuser.username).toBe('postgres');
    expect(config.postgresql.authentication.superuser.password).toBe('patroni');
    expect(config.postgresql.authentication.rewind?.username).toBe('rewind_user');
    expect(config.postgresql.parameters).toEqual({ unix_socket_directories: '..' });
    expect(config.tags).toMatchObject({ nofailover: false, noloadbalance: false, clonefrom: false, nostream: false });
    expect(config.tags.custom).not.toHaveProperty('nostream');
    // the v2 `etcd` section is spoken to over v3: said, not hidden
    expect(warnings.some((w) => w.startsWith('etcd '))).toBe(true);
  });

  it('reads a postgres1-style etcd3 config, warning about each unimplemented key by path', () => {
    const { config, warnings } = loadManagerConfig(readFileSync(fixture('postgres1-etcd3.yml'), 'utf8'));
    expect(config.etcd).toMatchObject({ hosts: ['127.0.0.1:2379', '127.0.0.2:2379'], protocol: 'https', section: 'etcd3', cacert: '/etc/etcd/ca.pem' });
    expect(config.etcd.authentication?.username).toBe('patroni');
    expect(config.etcd.authentication?.password).toBe('etcd-secret-pw');
    expect(config.restapi.authentication?.username).toBe('admin');
    expect(config.restapi.listen.host).toBe('0.0.0.0');
    expect(config.bootstrap.dcs).toMatchObject({ ttlSeconds: 20, loopWaitSeconds: 5, retryTimeoutSeconds: 5, maximumLagOnFailoverBytes: 16 * 1024 * 1024, synchronousMode: true });
    expect(config.bootstrap.dcs.postgresql.parameters).toEqual({ wal_log_hints: 'on', max_connections: 200 });
    expect(config.bootstrap.initdb).toEqual(['--encoding=UTF8', '--locale=C', '--data-checksums']);
    expect(config.postgresql.listen).toEqual({ hosts: ['127.0.0.1', '127.0.0.2'], port: 5433 });
    expect(config.postgresql.binDir).toBe('/usr/lib/postgresql/15/bin');
    expect(config.tags).toMatchObject({ failoverPriority: 2, nofailover: false, custom: { datacenter: 'dc1' } });
    expect(config.watchdog.mode).toBe('automatic');
    expect(config.bootstrap.postBootstrap).toBe('/usr/local/bin/setup_cluster.sh'); // post_init: post_bootstrap's old name
    expect(config.log).toEqual({ level: 'DEBUG', dir: '/var/log/patroni' });
    for (const path of [
      'postgresql.authentication.replication.sslmode',
      'watchdog.mode',
      'log.loggers',
    ]) {
      expect(warnings.some((w) => w.startsWith(`${path} `)), `warning for ${path} in ${JSON.stringify(warnings)}`).toBe(true);
    }
    expect(warnings.some((w) => w.startsWith('tags.datacenter'))).toBe(false); // custom tags are Patroni-legal
    // REST API TLS and the ctl section are implemented: typed, not warned about
    expect(config.restapi.tls).toEqual({ certfile: '/etc/ssl/certs/ssl-cert-snakeoil.pem', verifyClient: 'none' });
    expect(config.ctl).toEqual({ insecure: false });
    expect(warnings.some((w) => w.startsWith('restapi.certfile') || w.startsWith('ctl'))).toBe(false);
    expect(warnings.some((w) => w.startsWith('postgresql.callbacks'))).toBe(false); // implemented
    expect(warnings.some((w) => w.startsWith('bootstrap.dcs.failsafe_mode'))).toBe(false); // implemented (failsafe.ts)
    // user-defined replica methods run their command (actions/replica-methods.ts): the method name when it has no section
    expect(config.postgresql.createReplicaMethods).toEqual(['pgbackrest', 'basebackup']);
    expect(config.postgresql.replicaMethodOptions).toEqual({ pgbackrest: {} });
    expect(warnings.some((w) => w.startsWith('postgresql.create_replica_methods') || w.startsWith('postgresql.pgbackrest'))).toBe(false);
  });

  it('never shows a password: not in warnings, JSON, inspect output or errors', () => {
    const { config, warnings } = loadManagerConfig(fixture('postgres1-etcd3.yml'));
    const visible = [JSON.stringify(config), inspect(config, { depth: 10 }), ...warnings].join('\n');
    for (const pw of PASSWORDS) expect(visible).not.toContain(pw);
    const e = configError(() => loadManagerConfig(readFileSync(fixture('postgres1-etcd3.yml'), 'utf8').replace('ttl: 20', 'ttl: 5')));
    for (const pw of PASSWORDS) expect(e.message).not.toContain(pw);
    // a password placed where a mapping belongs is not echoed
    const e2 = configError(() => loadManagerConfig(base().replace('superuser: { username: postgres, password: pw-super-1 }', 'superuser: pw-super-1')));
    expect(keysOf(e2)).toContain('postgresql.authentication.superuser');
    expect(e2.message).not.toContain('pw-super-1');
    // a YAML syntax error on a password line is reported by position only
    const e3 = configError(() => loadManagerConfig(base().replace('password: pw-repl-1 }', 'password: "pw-repl-1 }')));
    expect(e3.message).not.toContain('pw-repl-1');
  });
});

describe('warnings', () => {
  it('names unknown and unimplemented keys by path, never silencing them', () => {
    const { warnings } = loadManagerConfig(base(`
tagz: { nofailover: true }
consul: { host: 127.0.0.1:8500 }
bootstrap:
  dcs: { ttl: 30, check_timeline: true, loop_wiat: 10 }
`));
    const paths = warnings.map((w) => w.split(' ')[0]);
    expect(paths).toEqual(expect.arrayContaining(['tagz', 'consul', 'bootstrap.dcs.check_timeline', 'bootstrap.dcs.loop_wiat']));
    expect(warnings.find((w) => w.startsWith('tagz'))).toMatch(/not a known Patroni setting/);
    expect(warnings.find((w) => w.startsWith('bootstrap.dcs.check_timeline'))).toMatch(/does not implement/);
  });

  it('refuses at startup, by name, the Patroni features whose absence would change what the cluster does', () => {
    for (const [dcs, key] of [['standby_cluster: { restore_command: cp }', 'bootstrap.dcs.standby_cluster.host'], ['standby_cluster: {}', 'bootstrap.dcs.standby_cluster']]) {
      expect(keysOf(configError(() => loadManagerConfig(base(`bootstrap:\n  dcs:\n    ${dcs}\n`)))), dcs).toEqual([key]);
    }
    // a standby cluster with a remote host to clone and stream from is supported
    const standby = loadManagerConfig(base('bootstrap:\n  dcs:\n    standby_cluster: { host: 10.0.0.1, port: 5433, primary_slot_name: s1, create_replica_methods: [basebackup] }\n'));
    expect(standby.config.bootstrap.dcs.raw.standby_cluster).toMatchObject({ host: '10.0.0.1', port: 5433 });
    expect(standby.warnings.join()).toMatch(/create_replica_methods is accepted/);
  });

  it('accepts failsafe_mode (implemented) as a flag, and names a value that is not one', () => {
    for (const v of ['true', 'off', 'yes']) {
      const { config, warnings } = loadManagerConfig(base(`bootstrap:\n  dcs:\n    failsafe_mode: ${v}\n`));
      expect(config.bootstrap.dcs.raw.failsafe_mode).toBe(v === 'true' ? true : v === 'yes' ? true : false);
      expect(warnings.some((w) => w.startsWith('bootstrap.dcs.failsafe_mode'))).toBe(false);
    }
    expect(keysOf(configError(() => loadManagerConfig(base('bootstrap:\n  dcs:\n    failsafe_mode: sometimes\n'))))).toEqual(['bootstrap.dcs.failsafe_mode']);
  });

  it('a clean config gives no warnings, and overrides merge over the file', () => {
    const { config, warnings } = loadManagerConfig(base(), { name: 'n7', postgresql: { data_dir: '/srv/n7' } });
    expect(warnings).toEqual([]);
    expect(config.name).toBe('n7');
    expect(config.postgresql.dataDir).toBe('/srv/n7');
    expect(config.postgresql.connectAddress).toEqual({ host: '127.0.0.1', port: 5432 });
  });
});

describe('postgresql.pre_promote', () => {
  const withPrePromote = (line: string) => base().replace('  data_dir: /tmp/d\n', `  data_dir: /tmp/d\n  pre_promote: ${line}\n`);
  it('is read as given, without a warning', () => {
    const { config, warnings } = loadManagerConfig(withPrePromote(`"/usr/local/bin/fence --force 'a b'"`));
    expect(config.postgresql.prePromote).toBe(`/usr/local/bin/fence --force 'a b'`);
    expect(warnings.filter((w) => w.includes('pre_promote'))).toEqual([]);
  });
  it('an empty command or an unterminated quote is an error naming the key', () => {
    expect(keysOf(configError(() => loadManagerConfig(withPrePromote('"  "'))))).toContain('postgresql.pre_promote');
    const e = configError(() => loadManagerConfig(withPrePromote(`"fence 'oops"`)));
    expect(keysOf(e)).toContain('postgresql.pre_promote');
    expect(e.message).toMatch(/unterminated ' quote/);
  });
});

describe('tags', () => {
  it('nofailover with a conflicting failover_priority starts like Patroni: nofailover wins, with Patroni\'s warning', () => {
    const { config, warnings } = loadManagerConfig(base('tags: { nofailover: true, failover_priority: 1 }'));
    expect(config.tags.nofailover).toBe(true);
    expect(warnings.some((w) => w.includes('Conflicting configuration between nofailover: True and failover_priority: 1. Defaulting to nofailover: True'))).toBe(true);
    expect(loadManagerConfig(base('tags: { nofailover: false, failover_priority: 2 }')).warnings.join()).not.toContain('Conflicting');
  });

  it('sync_priority as Patroni 4 reads it: ≤ 0 means nosync unless nosync is given; a conflict warns and nosync wins; published in file order', () => {
    expect(loadManagerConfig(base("tags: { sync_priority: '0' }")).config.tags.nosync).toBe(true);
    expect(loadManagerConfig(base("tags: { sync_priority: '2' }")).config.tags.nosync).toBe(false);
    const on = loadManagerConfig(base("tags: { nosync: true, sync_priority: '2' }"));
    expect(on.config.tags.nosync).toBe(true);
    expect(on.warnings.some((w) => w.includes('Conflicting configuration between nosync: True and sync_priority: 2. Defaulting to nosync: True'))).toBe(true);
    expect(memberTags(on.config.tags)).toEqual({ nosync: true, sync_priority: '2' });
    expect(Object.keys(memberTags(on.config.tags))).toEqual(['nosync', 'sync_priority']);
    const off = loadManagerConfig(base("tags: { nosync: false, sync_priority: '0' }"));
    expect(off.config.tags.nosync).toBe(false);
    expect(off.warnings.some((w) => w.includes('Conflicting configuration between nosync: False and sync_priority: 0. Defaulting to nosync: False'))).toBe(true);
    // Patroni keeps nosync: false in the member key while sync_priority is set (both are needed to read the node)
    expect(memberTags(off.config.tags)).toEqual({ nosync: false, sync_priority: '0' });
    expect(memberTags(loadManagerConfig(base('tags: { nosync: false, noloadbalance: false }')).config.tags)).toEqual({});
  });
});

describe('errors', () => {
  it.each([
    ['ttl below loop_wait + 2 * retry_timeout', 'bootstrap:\n  dcs: { ttl: 20, loop_wait: 10, retry_timeout: 10 }', 'bootstrap.dcs.ttl'],
    ['ttl of the wrong type', 'bootstrap:\n  dcs: { ttl: thirty }', 'bootstrap.dcs.ttl'],
    ['negative lag', 'bootstrap:\n  dcs: { maximum_lag_on_failover: -5 }', 'bootstrap.dcs.maximum_lag_on_failover'],
    ['synchronous_node_count not an integer', 'bootstrap:\n  dcs: { synchronous_node_count: two }', 'bootstrap.dcs.synchronous_node_count'],
    ['sync_priority not an integer', 'tags: { sync_priority: high }', 'tags.sync_priority'],
    ['initdb not a list', 'bootstrap:\n  initdb: data-checksums', 'bootstrap.initdb'],
    ['watchdog required', 'watchdog: { mode: required }', 'watchdog.mode'],
    ['bad tag type', 'tags: { noloadbalance: maybe }', 'tags.noloadbalance'],
    ['bad log level', 'log: { level: LOUD }', 'log.level'],
  ])('%s → MANAGER_CONFIG at the key path', (_label, extra, key) => {
    const e = configError(() => loadManagerConfig(base(extra)));
    expect(keysOf(e)).toContain(key);
    expect(e.message).toContain(key);
  });

  it.each([
    ['bad API port', (t: string) => t.replace('listen: 127.0.0.1:8008', 'listen: 127.0.0.1:80800'), 'restapi.listen'],
    ['port not a number', (t: string) => t.replace('connect_address: 127.0.0.1:5432', 'connect_address: 127.0.0.1:pg'), 'postgresql.connect_address'],
    ['missing name', (t: string) => t.replace('name: n0\n', ''), 'name'],
    ['missing scope', (t: string) => t.replace('scope: demo\n', ''), 'scope'],
    ['missing data_dir', (t: string) => t.replace('  data_dir: /tmp/d\n', ''), 'postgresql.data_dir'],
    ['missing etcd', (t: string) => t.replace('etcd3: { hosts: 127.0.0.1:2379 }\n', ''), 'etcd3'],
    ['wildcard listen without connect_address', (t: string) => t.replace('restapi: { listen: 127.0.0.1:8008, connect_address: 127.0.0.1:8008 }', 'restapi: { listen: 0.0.0.0:8008 }'), 'restapi.connect_address'],
    ['etcd host without port', (t: string) => t.replace('hosts: 127.0.0.1:2379', 'hosts: "127.0.0.1"'), 'etcd3.hosts[0]'],
    ['superuser without username', (t: string) => t.replace('superuser: { username: postgres, password: pw-super-1 }', 'superuser: { password: pw-super-1 }'), 'postgresql.authentication.superuser.username'],
  ])('%s → MANAGER_CONFIG at the key path', (_label, edit, key) => {
    const e = configError(() => loadManagerConfig(edit(base())));
    expect(keysOf(e)).toContain(key);
  });

  it('reports every problem at once, and a YAML syntax error or a missing file with the same code', () => {
    const e = configError(() => loadManagerConfig(base('bootstrap:\n  dcs: { ttl: x, loop_wait: y }\nlog: { level: LOUD }')));
    expect(keysOf(e)).toEqual(expect.arrayContaining(['bootstrap.dcs.ttl', 'bootstrap.dcs.loop_wait', 'log.level']));
    expect(keysOf(configError(() => loadManagerConfig('scope: a\n  name: : b\n')))).toContain('(yaml)');
    expect(keysOf(configError(() => loadManagerConfig('/nonexistent/patroni.yml')))).toContain('(file)');
    expect(keysOf(configError(() => loadManagerConfig('- a\n- b\n')))).toContain('(root)');
  });

  it('allows a ttl below Patroni\'s 20 s floor while keeping the relation', () => {
    const { config } = loadManagerConfig(base('bootstrap:\n  dcs: { ttl: 6, loop_wait: 1, retry_timeout: 2.5 }'));
    expect(config.bootstrap.dcs).toMatchObject({ ttlSeconds: 6, loopWaitSeconds: 1, retryTimeoutSeconds: 2.5 });
  });
});

describe('configFromFlags', () => {
  it('builds the same typed structure as the YAML', () => {
    const { config, warnings } = configFromFlags({
      name: 'n0', scope: 'demo', etcd: '127.0.0.1:2379,127.0.0.1:2380', 'data-dir': '/tmp/d', 'pg-port': '5433', 'api-port': '8010',
      ttl: '9', 'loop-wait': '1', 'retry-timeout': '3', parameter: ['wal_log_hints=on', 'max_connections = 50'], nofailover: true,
    });
    expect(warnings).toEqual([]);
    expect(config).toMatchObject({
      scope: 'demo', name: 'n0', namespace: '/service',
      restapi: { listen: { host: '127.0.0.1', port: 8010 }, connectAddress: { host: '127.0.0.1', port: 8010 } },
      etcd: { hosts: ['127.0.0.1:2379', '127.0.0.1:2380'], section: 'etcd3' },
      postgresql: { listen: { hosts: ['127.0.0.1'], port: 5433 }, dataDir: '/tmp/d', parameters: { wal_log_hints: 'on', max_connections: '50' } },
      bootstrap: { dcs: { ttlSeconds: 9, loopWaitSeconds: 1, retryTimeoutSeconds: 3 } },
      tags: { nofailover: true },
    });
    const fromYaml = loadManagerConfig(base()).config;
    expect(Object.keys(config).sort()).toEqual(Object.keys(fromYaml).sort());
  });

  it('errors name the flag: unknown flag, missing --data-dir, bad --api-port, bad timing', () => {
    expect(keysOf(configError(() => configFromFlags({ name: 'n0', scope: 'd', etcd: 'h:1', 'data-dir': '/d', 'pg-prot': '1' })))).toEqual(['--pg-prot']);
    const e = configError(() => configFromFlags({ name: 'n0', scope: 'd', etcd: '127.0.0.1:2379', 'api-port': '99999', ttl: '5', 'loop-wait': '5' }));
    expect(keysOf(e)).toEqual(expect.arrayContaining(['postgresql.data_dir', 'restapi.listen', 'bootstrap.dcs.ttl']));
    expect(e.message).toContain('--data-dir');
    expect(e.message).toContain('--api-host/--api-port');
    expect(keysOf(configError(() => configFromFlags({ name: 'n0', scope: 'd', 'data-dir': '/d' })))).toContain('etcd3.hosts');
    const tls = configFromFlags({ name: 'n0', scope: 'd', 'data-dir': '/d', etcd: 'https://10.0.0.1:2379,https://10.0.0.2:2379' }).config.etcd;
    expect(tls).toMatchObject({ hosts: ['10.0.0.1:2379', '10.0.0.2:2379'], protocol: 'https' });
  });
});

describe('YAML dialect', () => {
  it('reads unquoted on/off/yes/no as PyYAML (YAML 1.1) does', () => {
    const { config } = loadManagerConfig(base('bootstrap:\n  dcs:\n    synchronous_mode: on\n    postgresql:\n      parameters: { wal_log_hints: on, hot_standby: "on" }\ntags: { nofailover: yes }'));
    expect(config.bootstrap.dcs.synchronousMode).toBe(true);
    expect(config.bootstrap.dcs.postgresql.parameters).toEqual({ wal_log_hints: true, hot_standby: 'on' });
    expect(config.tags.nofailover).toBe(true);
  });
});

describe('restapi.http_extra_headers / https_extra_headers', () => {
  const withHeaders = (h: string) => base().replace('restapi: { listen: 127.0.0.1:8008, connect_address: 127.0.0.1:8008 }', `restapi:\n  listen: 127.0.0.1:8008\n  connect_address: 127.0.0.1:8008\n${h}`);

  it('are read as Patroni takes them (a mapping; numbers become strings) and no longer warned as unimplemented', () => {
    const { config, warnings } = loadManagerConfig(withHeaders('  http_extra_headers:\n    X-Frame-Options: SAMEORIGIN\n    X-Max: 5\n  https_extra_headers:\n    Strict-Transport-Security: max-age=31536000'));
    expect(config.restapi.httpExtraHeaders).toEqual({ 'X-Frame-Options': 'SAMEORIGIN', 'X-Max': '5' });
    expect(config.restapi.httpsExtraHeaders).toEqual({ 'Strict-Transport-Security': 'max-age=31536000' });
    expect(warnings.filter((w) => w.includes('extra_headers'))).toEqual([]);
  });

  it('a bad header name, a line break in a value or a list instead of a mapping → MANAGER_CONFIG naming the key', () => {
    expect(keysOf(configError(() => loadManagerConfig(withHeaders('  http_extra_headers:\n    "Bad Header": x'))))).toEqual(['restapi.http_extra_headers.Bad Header']);
    expect(keysOf(configError(() => loadManagerConfig(withHeaders('  http_extra_headers:\n    X-A: "a\\r\\nSet-Cookie: evil"'))))).toEqual(['restapi.http_extra_headers.X-A']);
    expect(keysOf(configError(() => loadManagerConfig(withHeaders('  https_extra_headers: [a, b]'))))).toEqual(['restapi.https_extra_headers']);
  });
});
