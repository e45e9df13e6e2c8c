import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConnectionString } from '../../src/connection';
import { isConnectionStringError } from '../../src/errors';

const root = mkdtempSync(join(tmpdir(), 'pgfo-conn-files-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
function dir(): string {
  const d = join(root, String(n++));
  mkdirSync(d);
  return d;
}
function file(d: string, name: string, text: string, mode = 0o600): string {
  const p = join(d, name);
  writeFileSync(p, text);
  chmodSync(p, mode);
  return p;
}
function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    if (isConnectionStringError(e)) return e.code;
    throw e;
  }
  return undefined;
}

const SERVICES = `
# comment
[other]
host=wrong

[main]
host=svc1,svc2
  port=6543
dbname=svcdb
user = spaced
[after]
host=wrong-too
`;

describe('service files', () => {
  it('reads the service named by the string from PGSERVICEFILE, without overriding explicit settings', () => {
    const d = dir();
    const f = file(d, 'services.conf', SERVICES.replace('user = spaced\n', ''));
    const c = parseConnectionString('service=main dbname=explicit', { env: { PGSERVICEFILE: f }, home: d, osUser: 'o' });
    expect(c.hosts.map((h) => `${h.host}:${h.port}`)).toEqual(['svc1:6543', 'svc2:6543']);
    expect(c.database).toBe('explicit');
    expect(c.service).toBe('main');
  });

  it('takes the service from PGSERVICE, and service values beat the environment', () => {
    const d = dir();
    const f = file(d, 'services.conf', '[main]\ndbname=svcdb\n');
    const c = parseConnectionString('', { env: { PGSERVICEFILE: f, PGSERVICE: 'main', PGDATABASE: 'envdb' }, home: d, osUser: 'o' });
    expect(c.database).toBe('svcdb');
  });

  it('uses ~/.pg_service.conf, then PGSYSCONFDIR/pg_service.conf', () => {
    const d = dir();
    file(d, '.pg_service.conf', '[home]\ndbname=fromhome\n');
    const sys = dir();
    file(sys, 'pg_service.conf', '[sys]\ndbname=fromsys\n');
    const opts = { env: { PGSYSCONFDIR: sys }, home: d, osUser: 'o' };
    expect(parseConnectionString('service=home', opts).database).toBe('fromhome');
    expect(parseConnectionString('service=sys', opts).database).toBe('fromsys');
    expect(codeOf(() => parseConnectionString('service=none', opts))).toBe('CONNINFO_SERVICE');
  });

  it('reports syntax errors, unknown keys, nesting, and a missing PGSERVICEFILE', () => {
    const d = dir();
    const env = (text: string) => ({ PGSERVICEFILE: file(d, `s${n++}.conf`, text) });
    expect(codeOf(() => parseConnectionString('service=main', { env: env(SERVICES), home: d, osUser: 'o' }))).toBe('CONNINFO_SERVICE');
    expect(codeOf(() => parseConnectionString('service=a', { env: env('[a]\nnoequals\n'), home: d, osUser: 'o' }))).toBe('CONNINFO_SERVICE');
    expect(codeOf(() => parseConnectionString('service=a', { env: env('[a]\nservice=b\n'), home: d, osUser: 'o' }))).toBe('CONNINFO_SERVICE');
    expect(codeOf(() => parseConnectionString('service=a', { env: env(`[a]\nhost=${'x'.repeat(2000)}\n`), home: d, osUser: 'o' }))).toBe(
      'CONNINFO_SERVICE',
    );
    expect(
      codeOf(() => parseConnectionString('service=a', { env: { PGSERVICEFILE: join(d, 'missing') }, home: d, osUser: 'o' })),
    ).toBe('CONNINFO_SERVICE');
  });

  it('ignores other groups and errors in them', () => {
    const d = dir();
    const f = file(d, 'x.conf', '[bad]\nnonsense\n[good]\ndbname=ok\n');
    expect(parseConnectionString('service=good', { env: { PGSERVICEFILE: f }, home: d, osUser: 'o' }).database).toBe('ok');
  });
});

const PGPASS = [
  '# comment:*:*:*:nope',
  'db1:5432:shop:app:pw-db1',
  'db2:*:*:app:pw\\:db2\\\\x',
  'localhost:5432:*:app:pw-local',
  'h\\:colon:5432:*:app:pw-colon',
  '*:*:*:other:pw-other:ignored-field',
  '*:*:*:*:pw-any',
].join('\n');

describe('password file', () => {
  it("matches libpq's rules: fields, '*', escapes, first match wins, per host", () => {
    const d = dir();
    file(d, '.pgpass', PGPASS + '\n');
    const c = parseConnectionString('host=db1,db2,,/var/run/postgresql port=5432,5999 dbname=shop user=app'.replace(' port=5432,5999', ''), {
      env: {},
      home: d,
      osUser: 'o',
    });
    expect(c.hosts.map((h) => h.password)).toEqual(['pw-db1', 'pw:db2\\x', 'pw-local', 'pw-local']);
    expect(c.password).toBeUndefined();
    expect(JSON.stringify(c)).not.toContain('pw-');
    const other = parseConnectionString('host=h\\:colon user=other', { env: {}, home: d, osUser: 'o' });
    expect(other.hosts[0]!.password).toBe('pw-other');
    expect(parseConnectionString('host=h:colon user=app', { env: {}, home: d, osUser: 'o' }).hosts[0]!.password).toBe('pw-colon');
    expect(parseConnectionString('host=zzz user=nobody', { env: {}, home: d, osUser: 'o' }).hosts[0]!.password).toBe('pw-any');
  });

  it('is not consulted when a password is given', () => {
    const d = dir();
    file(d, '.pgpass', PGPASS);
    const c = parseConnectionString('host=db1 dbname=shop user=app password=given', { env: {}, home: d, osUser: 'o' });
    expect(c.hosts[0]!.password).toBeUndefined();
    expect(c.password).toBe('given');
    expect(parseConnectionString('host=db1 dbname=shop user=app', { env: { PGPASSWORD: 'env' }, home: d, osUser: 'o' }).hosts[0]!.password).toBeUndefined();
  });

  it('honours PGPASSFILE and passfile=, and matches hostaddr when host is absent', () => {
    const d = dir();
    const f = file(d, 'custom', '10.0.0.9:5432:*:*:pw-addr\n*:*:*:*:pw-custom\n');
    expect(parseConnectionString('hostaddr=10.0.0.9', { env: { PGPASSFILE: f }, home: d, osUser: 'o' }).hosts[0]!.password).toBe('pw-addr');
    expect(parseConnectionString(`passfile=${f} host=x`, { env: {}, home: d, osUser: 'o' }).hosts[0]!.password).toBe('pw-custom');
  });

  it('ignores files group or others can read, and warns', () => {
    const d = dir();
    const f = file(d, 'open', '*:*:*:*:pw-open\n', 0o644);
    const warnings: string[] = [];
    const c = parseConnectionString('host=x', { env: { PGPASSFILE: f }, home: d, osUser: 'o', warn: (m) => warnings.push(m) });
    expect(c.hosts[0]!.password).toBeUndefined();
    expect(warnings).toHaveLength(1);
  });

  it('ignores a missing file and a directory', () => {
    const d = dir();
    expect(parseConnectionString('host=x', { env: { PGPASSFILE: join(d, 'none') }, home: d, osUser: 'o' }).hosts[0]!.password).toBeUndefined();
    expect(parseConnectionString('host=x', { env: { PGPASSFILE: d }, home: d, osUser: 'o' }).hosts[0]!.password).toBeUndefined();
  });

  it('handles CRLF line endings', () => {
    const d = dir();
    const f = file(d, 'crlf', 'x:5432:*:*:pw-crlf\r\n');
    expect(parseConnectionString('host=x', { env: { PGPASSFILE: f }, home: d, osUser: 'o' }).hosts[0]!.password).toBe('pw-crlf');
  });
});
