/**
 * Defaults, PG* environment variables, service files and the password file,
 * compared with the real libpq: PQconnectStart under a controlled environment
 * (HOME in a temp dir, files we write), stopped before any network activity by
 * an invalid channel_binding appended to the string (libpq validates it right
 * after resolving users, databases, hosts, ports and passwords).
 *
 * We compare what libpq has resolved at that point: PQuser, PQdb, PQhost and
 * PQport of the first host, PQpass (password file included), and PQconninfo's
 * settings. libpq's default host is its socket directory, so ours is run with
 * defaultHost '/var/run/postgresql' here. The installed libpq (15 on Debian 12)
 * predates sslrootcert=system and the 16+ keywords; cases using those are
 * covered by options.test.ts instead.
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isConninfoUri, parseConnectionString, type ConnectionConfig } from '../../src/connection';
import { isConnectionStringError } from '../../src/errors';
import { buildOracle, oracleUnavailableReason, type LibpqOracle } from './libpq-oracle';

const unavailable = oracleUnavailableReason();
const STOP = 'channel_binding=__stop__';

function withStop(conninfo: string): string {
  if (!isConninfoUri(conninfo)) return `${conninfo} ${STOP}`;
  return conninfo + (conninfo.includes('?') ? '&' : '?') + STOP;
}

describe.skipIf(unavailable !== undefined)('parity with libpq: defaults, environment, service and password files', () => {
  let oracle: LibpqOracle;
  const root = mkdtempSync(join(tmpdir(), 'pgfo-resolve-'));
  const home = join(root, 'home');
  const sys = join(root, 'sys');
  const write = (path: string, text: string, mode = 0o600) => {
    writeFileSync(path, text);
    chmodSync(path, mode);
    return path;
  };
  let altService = '';
  let altPass = '';
  let openPass = '';

  beforeAll(() => {
    oracle = buildOracle();
    mkdirSync(home);
    mkdirSync(sys);
    write(
      join(home, '.pgpass'),
      [
        '# comment',
        'db1:5432:shop:app:pw-db1',
        'db2:*:*:app:pw\\:db2\\\\x',
        'localhost:5432:*:app:pw-local',
        'h\\:colon:5432:*:app:pw-colon',
        '10.0.0.9:*:*:*:pw-addr',
        'svc-h:7000:svcdb:svcuser:pw-svc',
        '*:6000:*:*:pw-port6000',
        '*:*:*:other:pw-other',
        '',
      ].join('\n'),
    );
    write(join(home, '.pg_service.conf'), '[homesvc]\nhost=svc-h\nport=7000\ndbname=svcdb\nuser=svcuser\n[both]\ndbname=from-home\n');
    write(join(sys, 'pg_service.conf'), '[syssvc]\nhost=sys-h\napplication_name=sysapp\n[both]\ndbname=from-sys\n[broken]\nnonsense\n');
    altService = write(join(root, 'alt-service.conf'), '[alt]\nhost=alt-h\noptions=-c geqo=off\n');
    altPass = write(join(root, 'alt-pgpass'), '*:*:*:*:pw-alt\n');
    openPass = write(join(root, 'open-pgpass'), '*:*:*:*:pw-open\n', 0o644);
  });
  const stats = { resolved: 0, withPassword: 0, bothFailed: 0 };
  afterAll(() => {
    console.info(`libpq resolve parity: ${JSON.stringify(stats)}`);
    oracle?.dispose();
    rmSync(root, { recursive: true, force: true });
  });

  const CONNINFOS = [
    '',
    'host=db1 dbname=shop user=app',
    'host=db2 user=app port=6000',
    'host=db1,db2 user=app',
    'host=localhost user=app',
    'host=/var/run/postgresql user=app',
    'user=app',
    'hostaddr=10.0.0.9',
    'host=h\\:colon user=app',
    'user=other host=anything',
    'service=homesvc',
    'service=homesvc host=explicit',
    'service=syssvc',
    'service=both',
    'service=nosuch',
    'service=broken',
    'service=alt',
    'postgresql://app@db1/shop',
    'postgresql://db1,db2:6000/x?user=app',
    'postgresql:///?host=%2Fvar%2Frun%2Fpostgresql&user=app',
    'host=a,b port=1,2,3',
    'host=a,b hostaddr=10.0.0.1',
    'host=a,b,c port=1,,3',
    "dbname='' user=''",
    "port='' host=''",
    'password=given host=db1 dbname=shop user=app',
    'connect_timeout=1 target_session_attrs=read-write application_name=x options=-cgeqo=off sslmode=require',
    'requiressl=1',
  ];

  const ENVS: Record<string, () => NodeJS.ProcessEnv> = {
    'no variables': () => ({}),
    'all the usual': () => ({
      PGHOST: 'envhost',
      PGPORT: '6000',
      PGUSER: 'envuser',
      PGDATABASE: 'envdb',
      PGPASSWORD: 'envpw',
      PGAPPNAME: 'envapp',
      PGOPTIONS: '-c geqo=off',
      PGCONNECT_TIMEOUT: '7',
      PGTARGETSESSIONATTRS: 'read-only',
      PGSSLMODE: 'disable',
      PGSSLROOTCERT: '/ca.pem',
      PGKRBSRVNAME: 'kerb',
    }),
    'host lists': () => ({ PGHOST: 'h1,h2', PGPORT: '1,2', PGHOSTADDR: '10.0.0.1,10.0.0.2' }),
    'empty variables': () => ({ PGHOST: '', PGPORT: '', PGUSER: '', PGDATABASE: '' }),
    PGSERVICE: () => ({ PGSERVICE: 'homesvc' }),
    'PGSERVICE in PGSYSCONFDIR': () => ({ PGSERVICE: 'syssvc', PGSYSCONFDIR: sys }),
    'PGSYSCONFDIR': () => ({ PGSYSCONFDIR: sys }),
    PGSERVICEFILE: () => ({ PGSERVICEFILE: altService, PGSYSCONFDIR: sys }),
    'missing PGSERVICEFILE': () => ({ PGSERVICEFILE: join(root, 'nope'), PGSYSCONFDIR: sys }),
    PGPASSFILE: () => ({ PGPASSFILE: altPass }),
    'world-readable PGPASSFILE': () => ({ PGPASSFILE: openPass }),
    PGREQUIRESSL: () => ({ PGREQUIRESSL: '1' }),
    'PGREQUIRESSL and PGSSLMODE': () => ({ PGREQUIRESSL: '1', PGSSLMODE: 'allow' }),
  };

  const osUser = userInfo().username;
  const skipKeys = new Set(['passfile', 'channel_binding', 'user', 'dbname', 'password', 'host', 'hostaddr', 'port']);

  for (const [name, makeEnv] of Object.entries(ENVS)) {
    it(`agrees with ${CONNINFOS.length} strings under: ${name}`, () => {
      const env = { HOME: home, ...makeEnv() };
      const libpq = oracle.resolve(CONNINFOS.map(withStop), env);
      const bad: string[] = [];
      CONNINFOS.forEach((conninfo, i) => {
        const theirs = libpq[i]!;
        const err = theirs.get('err') ?? '';
        let ours: ConnectionConfig | undefined;
        let code: string | undefined;
        try {
          ours = parseConnectionString(conninfo, {
            env,
            osUser,
            defaultHost: '/var/run/postgresql',
            sysconfdir: join(root, 'no-sysconfdir'),
          });
        } catch (e) {
          if (!isConnectionStringError(e)) throw e;
          code = e.code;
        }
        const where = `${JSON.stringify(conninfo)} [${name}]`;
        if (!err.includes('__stop__')) {
          const expected = /could not match/.test(err) ? 'CONNINFO_HOST_PORT_MISMATCH' : /service/.test(err) ? 'CONNINFO_SERVICE' : 'any';
          if (code === undefined || (expected !== 'any' && code !== expected)) bad.push(`${where}: libpq ${JSON.stringify(err)}, ours ${code ?? 'ok'}`);
          else stats.bothFailed++;
          return;
        }
        if (ours === undefined) {
          bad.push(`${where}: libpq resolved it, ours threw ${code}`);
          return;
        }
        const first = ours.hosts[0]!;
        const got: Record<string, string> = {
          pquser: ours.user,
          pqdb: ours.database,
          pqhost: first.host,
          pqport: String(first.port),
          pqpass: first.password ?? ours.password ?? '',
        };
        const want: Record<string, string> = {
          pquser: theirs.get('pquser')!,
          pqdb: theirs.get('pqdb')!,
          pqhost: theirs.get('pqhost')!,
          pqport: theirs.get('pqport') || '5432',
          pqpass: theirs.get('pqpass')!,
        };
        for (const [k, v] of theirs) {
          if (k.startsWith('pq') || k === 'err' || skipKeys.has(k)) continue;
          want[k] = k === 'connect_timeout' ? String(libpqTimeout(v)) : v;
          const mine = (ours as unknown as Record<string, unknown>)[k];
          got[k] = mine === undefined ? '<unset>' : String(mine);
        }
        stats.resolved++;
        if (want.pqpass) stats.withPassword++;
        if (JSON.stringify(got) !== JSON.stringify(want)) {
          bad.push(`${where}: libpq ${JSON.stringify(want)}, ours ${JSON.stringify(got)}`);
        }
      });
      expect(bad).toEqual([]);
    });
  }
});

function libpqTimeout(raw: string): number {
  const n = Number.parseInt(raw.trim(), 10);
  if (!Number.isFinite(n) || n <= 0) return 0;
  return Math.max(2, n);
}
