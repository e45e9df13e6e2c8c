import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConnectionString, toPgConfig } from '../../src/connection';
import { isConnectionStringError } from '../../src/errors';

const home = mkdtempSync(join(tmpdir(), 'pgfo-conn-pgcfg-'));
afterAll(() => rmSync(home, { recursive: true, force: true }));
const parse = (s: string) => parseConnectionString(s, { env: {}, home, osUser: 'o' });

describe('toPgConfig', () => {
  it('builds the pg.Client config for the chosen host', () => {
    const p = parse('postgresql://app:pw@db1:5433,db2:5434/shop?application_name=web&options=-c%20geqo%3Doff&connect_timeout=5');
    const c = toPgConfig(p, 1, { home });
    expect(c).toMatchObject({
      host: 'db2',
      port: 5434,
      user: 'app',
      password: 'pw',
      database: 'shop',
      application_name: 'web',
      options: '-c geqo=off',
      connectionTimeoutMillis: 5000,
      keepAlive: true,
      ssl: false,
    });
  });

  it('connects to hostaddr and leaves the password out when there is none', () => {
    const c = toPgConfig(parse('host=db hostaddr=10.0.0.5'), 0, { home });
    expect(c.host).toBe('10.0.0.5');
    expect(c.password).toBeUndefined();
    expect(c.connectionTimeoutMillis).toBe(0);
  });

  it('uses per-host passwords from the password file', () => {
    const d = join(home, 'pp');
    mkdirSync(d);
    writeFileSync(join(d, '.pgpass'), 'b:5432:*:*:pw-b\n', { mode: 0o600 });
    const p = parseConnectionString('host=a,b', { env: {}, home: d, osUser: 'o' });
    expect(toPgConfig(p, 0, { home: d }).password).toBeUndefined();
    expect(toPgConfig(p, 1, { home: d }).password).toBe('pw-b');
  });

  it('maps keepalives, channel binding, replication', () => {
    const c = toPgConfig(parse('keepalives=1 keepalives_idle=30 channel_binding=require replication=database'), 0, { home });
    expect(c).toMatchObject({ keepAlive: true, keepAliveInitialDelayMillis: 30_000, enableChannelBinding: true, replication: 'database' });
    expect(toPgConfig(parse('keepalives=0'), 0, { home }).keepAlive).toBe(false);
  });

  it('derives TLS from sslmode like libpq', () => {
    expect(toPgConfig(parse('sslmode=disable'), 0, { home }).ssl).toBe(false);
    expect(toPgConfig(parse('sslmode=prefer'), 0, { home }).ssl).toBe(false);
    expect(toPgConfig(parse('sslmode=require host=/tmp'), 0, { home }).ssl).toBe(false);
    expect(toPgConfig(parse('sslmode=require host=db'), 0, { home }).ssl).toMatchObject({ rejectUnauthorized: false, servername: 'db' });
    const ca = join(home, 'ca.pem');
    writeFileSync(ca, 'CA');
    const req = toPgConfig(parse(`sslmode=require host=db sslrootcert=${ca}`), 0, { home }).ssl as Record<string, unknown>;
    expect(req.rejectUnauthorized).toBe(true);
    expect(typeof req.checkServerIdentity).toBe('function');
    expect(String(req.ca)).toBe('CA');
    const full = toPgConfig(parse(`sslmode=verify-full host=db sslrootcert=${ca}`), 0, { home }).ssl as Record<string, unknown>;
    expect(full).toMatchObject({ rejectUnauthorized: true, servername: 'db' });
    expect(full.checkServerIdentity).toBeUndefined();
    const system = toPgConfig(parse('sslrootcert=system host=db'), 0, { home }).ssl as Record<string, unknown>;
    expect(system).toMatchObject({ rejectUnauthorized: true });
    expect(system.ca).toBeUndefined();
    expect(toPgConfig(parse('sslmode=require host=10.0.0.1 ssl_min_protocol_version=tlsv1.3'), 0, { home }).ssl).toMatchObject({
      minVersion: 'TLSv1.3',
    });
  });

  it('reports unreadable SSL files and a bad host index by code', () => {
    const code = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        if (isConnectionStringError(e)) return e.code;
        throw e;
      }
      return undefined;
    };
    expect(code(() => toPgConfig(parse('sslmode=verify-ca sslrootcert=/nonexistent/ca.pem'), 0, { home }))).toBe('CONNINFO_INVALID_VALUE');
    expect(code(() => toPgConfig(parse('host=a'), 3, { home }))).toBe('INVALID_OPTION');
  });
});
