import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConnectionString, type ParseConnectionStringOptions } from '../../src/connection';
import { isConnectionStringError } from '../../src/errors';

// An empty home, so no real ~/.pgpass or ~/.pg_service.conf is read.
const home = mkdtempSync(join(tmpdir(), 'pgfo-conn-home-'));
afterAll(() => rmSync(home, { recursive: true, force: true }));

const base: ParseConnectionStringOptions = { env: {}, home, osUser: 'osuser', sysconfdir: join(home, 'nowhere') };
const parse = (s: string, env: NodeJS.ProcessEnv = {}, extra: Partial<ParseConnectionStringOptions> = {}) =>
  parseConnectionString(s, { ...base, env, ...extra });

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    if (isConnectionStringError(e)) return e.code;
    throw e;
  }
  return undefined;
}

describe('parseConnectionString: defaults', () => {
  it('applies libpq defaults: localhost, 5432, OS user, database = user', () => {
    const c = parse('');
    expect(c.hosts).toEqual([{ host: 'localhost', port: 5432, type: 'tcp' }]);
    expect(c.user).toBe('osuser');
    expect(c.database).toBe('osuser');
    expect(c.target_session_attrs).toBe('any');
    expect(c.load_balance_hosts).toBe('disable');
    expect(c.connect_timeout).toBe(0);
    expect(c.sslmode).toBe('prefer');
    expect(c.options).toBe('');
    expect(c.password).toBeUndefined();
    expect(c.extensions).toEqual({});
  });

  it('can default to the Debian socket directory instead', () => {
    expect(parse('', {}, { defaultHost: '/var/run/postgresql' }).hosts).toEqual([
      { host: '/var/run/postgresql', port: 5432, type: 'unix' },
    ]);
  });

  it('database defaults to the given user', () => {
    expect(parse('user=alice').database).toBe('alice');
  });
});

describe('parseConnectionString: environment', () => {
  const env = {
    PGHOST: 'e1,e2',
    PGPORT: '6000',
    PGDATABASE: 'envdb',
    PGUSER: 'envuser',
    PGPASSWORD: 'envpw',
    PGCONNECT_TIMEOUT: '7',
    PGTARGETSESSIONATTRS: 'read-write',
    PGLOADBALANCEHOSTS: 'random',
    PGSSLMODE: 'require',
    PGAPPNAME: 'envapp',
    PGOPTIONS: '-c geqo=off',
  };

  it('fills everything the string leaves unset', () => {
    const c = parse('', env);
    expect(c.hosts.map((h) => `${h.host}:${h.port}`)).toEqual(['e1:6000', 'e2:6000']);
    expect(c.database).toBe('envdb');
    expect(c.user).toBe('envuser');
    expect(c.password).toBe('envpw');
    expect(c.connect_timeout).toBe(7);
    expect(c.target_session_attrs).toBe('read-write');
    expect(c.load_balance_hosts).toBe('random');
    expect(c.sslmode).toBe('require');
    expect(c.application_name).toBe('envapp');
    expect(c.options).toBe('-c geqo=off');
  });

  it('never overrides the string', () => {
    const c = parse('postgresql://u@h:1/d?sslmode=disable', env);
    expect(c.hosts.map((h) => `${h.host}:${h.port}`)).toEqual(['h:1']);
    expect([c.user, c.database, c.sslmode]).toEqual(['u', 'd', 'disable']);
  });

  it('reads PGHOSTADDR and PGREQUIRESSL', () => {
    const c = parse('', { PGHOSTADDR: '10.0.0.1', PGREQUIRESSL: '1' });
    expect(c.hosts).toEqual([{ host: '10.0.0.1', hostaddr: '10.0.0.1', port: 5432, type: 'tcp' }]);
    expect(c.sslmode).toBe('require');
    expect(parse('', { PGREQUIRESSL: '1', PGSSLMODE: 'disable' }).sslmode).toBe('disable');
  });

  it('uses process.env only when no env is given', () => {
    const saved = process.env.PGAPPNAME;
    process.env.PGAPPNAME = 'from-process';
    try {
      expect(parseConnectionString('', { home, osUser: 'x' }).application_name).toBe('from-process');
      expect(parse('').application_name).toBeUndefined();
    } finally {
      if (saved === undefined) delete process.env.PGAPPNAME;
      else process.env.PGAPPNAME = saved;
    }
  });

  it('sslrootcert=system makes the default sslmode verify-full', () => {
    expect(parse('sslrootcert=system').sslmode).toBe('verify-full');
  });
});

describe('parseConnectionString: hosts', () => {
  it('one port for all hosts, or one per host; empty elements take defaults', () => {
    expect(parse('host=a,b,c port=1').hosts.map((h) => h.port)).toEqual([1, 1, 1]);
    expect(parse('host=a,b,c port=1,,3').hosts.map((h) => h.port)).toEqual([1, 5432, 3]);
    expect(parse('host=a,,/tmp').hosts.map((h) => [h.host, h.type])).toEqual([
      ['a', 'tcp'],
      ['localhost', 'tcp'],
      ['/tmp', 'unix'],
    ]);
  });

  it('pairs hostaddr with host', () => {
    expect(parse('host=a,b hostaddr=10.0.0.1,10.0.0.2 port=7').hosts).toEqual([
      { host: 'a', hostaddr: '10.0.0.1', port: 7, type: 'tcp' },
      { host: 'b', hostaddr: '10.0.0.2', port: 7, type: 'tcp' },
    ]);
  });

  it('reports mismatched list lengths', () => {
    expect(codeOf(() => parse('host=a,b port=1,2,3'))).toBe('CONNINFO_HOST_PORT_MISMATCH');
    expect(codeOf(() => parse('postgresql://a,b?port=1,2,3'))).toBe('CONNINFO_HOST_PORT_MISMATCH');
    expect(parse('postgresql://a:1,b:2,c').hosts.map((h) => h.port)).toEqual([1, 2, 5432]);
    expect(codeOf(() => parse('host=a,b hostaddr=10.0.0.1'))).toBe('CONNINFO_HOST_PORT_MISMATCH');
    expect(codeOf(() => parse('hostaddr=10.0.0.1 port=1,2'))).toBe('CONNINFO_HOST_PORT_MISMATCH');
  });

  it('rejects invalid ports', () => {
    for (const p of ['0', '65536', 'abc', '54x', '-1', '99999999999']) {
      expect(codeOf(() => parse(`port=${p}`)), p).toBe('CONNINFO_INVALID_VALUE');
    }
    expect(parse('port=" 5433 "'.replace(/"/g, "'")).hosts[0]!.port).toBe(5433);
  });
});

describe('parseConnectionString: validation', () => {
  it('accepts every target_session_attrs and load_balance_hosts value libpq does', () => {
    for (const v of ['any', 'read-write', 'read-only', 'primary', 'standby', 'prefer-standby']) {
      expect(parse(`target_session_attrs=${v}`).target_session_attrs).toBe(v);
    }
    for (const v of ['disable', 'random']) expect(parse(`load_balance_hosts=${v}`).load_balance_hosts).toBe(v);
  });

  it.each([
    'target_session_attrs=master',
    'load_balance_hosts=yes',
    'sslmode=on',
    'channel_binding=maybe',
    'gssencmode=always',
    'sslcertmode=never',
    'sslnegotiation=fast',
    'sslnegotiation=direct sslmode=prefer',
    'sslrootcert=system sslmode=require',
    'connect_timeout=abc',
    'keepalives=x',
    'tcp_user_timeout=1.5',
    'ssl_min_protocol_version=TLSv2',
    'ssl_min_protocol_version=TLSv1.3 ssl_max_protocol_version=TLSv1.2',
    'require_auth=md5,!password',
    'require_auth=kerberos',
    'require_auth=md5,md5',
  ])('%s → CONNINFO_INVALID_VALUE', (s) => {
    expect(codeOf(() => parse(s))).toBe('CONNINFO_INVALID_VALUE');
  });

  it('applies libpq connect_timeout rules', () => {
    expect(parse('connect_timeout=0').connect_timeout).toBe(0);
    expect(parse('connect_timeout=-5').connect_timeout).toBe(0);
    expect(parse('connect_timeout=1').connect_timeout).toBe(2);
    expect(parse('connect_timeout=2').connect_timeout).toBe(2);
    expect(parse("connect_timeout=' 30 '").connect_timeout).toBe(30);
  });

  it('keeps the remaining settings as strings, secrets non-enumerable', () => {
    const c = parse('password=pw sslpassword=kp sslrootcert=/ca.pem keepalives=0 service_x=1'.replace(' service_x=1', ''));
    expect(c.password).toBe('pw');
    expect(c.sslpassword).toBe('kp');
    expect(c.sslrootcert).toBe('/ca.pem');
    expect(c.keepalives).toBe('0');
    expect(c.channel_binding).toBe('prefer');
    expect(Object.keys(c)).not.toContain('password');
    expect(Object.keys(c)).not.toContain('sslpassword');
    expect(JSON.stringify(c)).not.toContain('pw');
    expect(JSON.stringify(c)).not.toContain('kp');
  });

  it('returns pgfailover.* extensions', () => {
    expect(parse('postgresql://h/db?pgfailover.topology=etcd&pgfailover.scope=main').extensions).toEqual({
      topology: 'etcd',
      scope: 'main',
    });
  });
});
