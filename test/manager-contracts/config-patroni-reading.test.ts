/**
 * Reading a node configuration the way Patroni 3.0.2 does: YAML 1.1 booleans where Patroni
 * expects a mode, PATRONI_* environment variables over the file, and parameters renamed across
 * PostgreSQL majors translated (Patroni's test suite sets wal_keep_segments on PostgreSQL 15).
 */
import { describe, it, expect } from 'vitest';
import { loadManagerConfig } from '../../src/manager/config';
import { configFromEnvironment } from '../../src/manager/config-env';
import { parametersForVersion } from '../../src/manager/pg-parameters';
import { FailoverError } from '../../src/errors';

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

describe('regression: watchdog.mode: off (a YAML 1.1 boolean) was refused with "must be a string, got false"', () => {
  it('accepts unquoted off / no as mode off, and on / yes as automatic, like Patroni', () => {
    for (const v of ['off', 'no', 'false']) expect(loadManagerConfig(base(`watchdog:\n  mode: ${v}\n`)).config.watchdog.mode).toBe('off');
    for (const v of ['on', 'yes']) expect(loadManagerConfig(base(`watchdog:\n  mode: ${v}\n`)).config.watchdog.mode).toBe('automatic');
    expect(loadManagerConfig(base(`watchdog:\n  mode: "off"\n`)).config.watchdog.mode).toBe('off');
  });

  it('a wrong value names the key, the value and what Patroni accepts', () => {
    try {
      loadManagerConfig(base(`watchdog:\n  mode: sometimes\n`));
      expect.unreachable();
    } catch (e) {
      expect((e as FailoverError).code).toBe('MANAGER_CONFIG');
      const p = (e as FailoverError & { detail: { problems: Array<{ key: string; message: string }> } }).detail.problems;
      expect(p.map((x) => x.key)).toEqual(['watchdog.mode']);
      expect(p[0]!.message).toContain('sometimes');
      expect(p[0]!.message).toMatch(/off, automatic or required/);
    }
  });
});

describe('PATRONI_* environment variables', () => {
  it('override the file (etcd3 hosts, REST credentials, name), as Patroni\'s suite configures its nodes', () => {
    const env = { PATRONI_ETCD3_HOST: 'localhost:2379', PATRONI_RESTAPI_USERNAME: 'username', PATRONI_RESTAPI_PASSWORD: 'password', PATRONI_NAME: 'n9' };
    const noEtcd = base().replace('etcd3: { hosts: 127.0.0.1:2379 }\n', '');
    const { config } = loadManagerConfig(noEtcd, {}, { env });
    expect(config.etcd.hosts).toEqual(['localhost:2379']);
    expect(config.restapi.authentication?.username).toBe('username');
    expect(config.restapi.authentication?.password).toBe('password');
    expect(config.name).toBe('n9');
  });

  it('names the PATRONI_* variables it does not implement (never their values) and skips the ctl\'s own', () => {
    const { ignored } = configFromEnvironment({ PATRONI_RESTAPI_HTTP_EXTRA_HEADERS: '/secret/path', PATRONI_CTL_INSECURE: 'on', HOME: '/root' });
    expect(ignored).toEqual(['PATRONI_RESTAPI_HTTP_EXTRA_HEADERS']);
    const { warnings } = loadManagerConfig(base(), {}, { env: { PATRONI_RESTAPI_HTTP_EXTRA_HEADERS: '/secret/path' } });
    expect(warnings.some((w) => w.includes('PATRONI_RESTAPI_HTTP_EXTRA_HEADERS') && !w.includes('/secret/path'))).toBe(true);
  });

  it('are not read unless asked (the library default is the file alone)', () => {
    process.env.PATRONI_NAME = 'from-env';
    try {
      expect(loadManagerConfig(base()).config.name).toBe('n0');
    } finally {
      delete process.env.PATRONI_NAME;
    }
  });
});

describe('regression: wal_keep_segments (Patroni\'s suite, PostgreSQL ≤ 12 name) made PostgreSQL 15 refuse to start', () => {
  it('becomes wal_keep_size = segments × 16 MB on PostgreSQL ≥ 13, and the reverse below 13', () => {
    expect(parametersForVersion({ wal_keep_segments: 100, wal_keep_size: '128MB', fsync: 'on' }, 15)).toEqual({ wal_keep_size: '1600MB', fsync: 'on' });
    expect(parametersForVersion({ wal_keep_size: '1GB' }, 12)).toEqual({ wal_keep_segments: 64 });
    expect(parametersForVersion({ wal_keep_size: '256MB' }, 15)).toEqual({ wal_keep_size: '256MB' });
  });
});
