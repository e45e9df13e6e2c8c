/**
 * The PostgreSQL server the upstream suites run against, set up the way
 * node-postgres's own CI sets up its server (.github/workflows/ci.yml at the
 * pinned commit): user `postgres` with password `postgres`, md5 for TCP
 * connections, database `ci_db_test`, TLS on (the vendored test/tls server
 * certificate), and the two SCRAM roles its sasl tests log in as.
 */
import { copyFileSync, chownSync, mkdtempSync, rmSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { PostgresServer, resolveServerUser } from '../../src/manager/postgres';
import { freePort } from '../../src/local/ports';
import { VENDOR } from './files';

export const UPSTREAM_CI_ENV = {
  PGUSER: 'postgres',
  PGPASSWORD: 'postgres',
  PGDATABASE: 'ci_db_test',
  PGTESTNOSSL: 'true',
  SCRAM_TEST_PGUSER: 'scram_test',
  SCRAM_TEST_PGPASSWORD: 'test4scram',
  SCRAM_TEST_PGUSER_UNICODE: 'scram_unicode_test',
  SCRAM_TEST_PGPASSWORD_UNICODE: 'IX-\u2168',
} as const;

export interface UpstreamServer {
  /** Env for a test process: upstream CI's variables plus PGHOST/PGPORT of this server. */
  env: Record<string, string>;
  /**
   * With a standby (`--cluster`): the env pg-failover's processes get instead — PGHOST/PGPORT list
   * the primary and the standby, so its Client walks hosts and its Pool routes reads. Real pg,
   * which takes one host, keeps `env` (the primary).
   */
  clusterEnv?: Record<string, string>;
  stop(): Promise<void>;
}

export async function startUpstreamServer(label: string, parentDir?: string, options: { standby?: boolean } = {}): Promise<UpstreamServer> {
  const root = mkdtempSync(path.join(parentDir ?? tmpdir(), `upstream-${label}-`));
  chmodSync(root, 0o711);
  const user = resolveServerUser();
  const server = new PostgresServer({ dataDir: path.join(root, 'data'), port: await freePort(), user, password: 'postgres' });
  await server.initdb({
    dataChecksums: false,
    parameters: { ssl: 'on', ssl_cert_file: 'server.crt', ssl_key_file: 'server.key', max_connections: 200, fsync: 'off' },
    hba: ['local all all trust', 'local replication all trust', 'host all all 127.0.0.1/32 md5', 'hostssl all all 127.0.0.1/32 md5', 'host replication all 127.0.0.1/32 md5'],
  });
  for (const [from, to] of [['test-server.crt', 'server.crt'], ['test-server.key', 'server.key']]) {
    const dest = path.join(server.dataDir, to);
    copyFileSync(path.join(VENDOR, 'pg/test/tls', from), dest);
    chmodSync(dest, 0o600);
    if (user) chownSync(dest, user.uid, user.gid);
  }
  await server.start();
  const admin = new Client({ host: server.host, port: server.port, user: 'postgres', password: 'postgres', database: 'postgres' });
  await admin.connect();
  try {
    await admin.query('CREATE DATABASE ci_db_test');
    await admin.query("SET password_encryption = 'scram-sha-256'");
    await admin.query("CREATE ROLE scram_test LOGIN PASSWORD 'test4scram'");
    await admin.query("CREATE ROLE scram_unicode_test LOGIN PASSWORD U&'IX-\\2168'");
  } finally {
    await admin.end();
  }
  let standby: PostgresServer | undefined;
  if (options.standby) {
    standby = new PostgresServer({ dataDir: path.join(root, 'standby'), port: await freePort(), user, password: 'postgres' });
    await standby.basebackup(server);
    standby.writeStandbyConfig({ primaryConninfo: `host=${server.host} port=${server.port} user=postgres password=postgres` });
    await standby.start();
  }
  const env = { ...UPSTREAM_CI_ENV, PGHOST: server.host, PGPORT: String(server.port) };
  return {
    env,
    clusterEnv: standby ? { ...env, PGHOST: `${server.host},${standby.host}`, PGPORT: `${server.port},${standby.port}` } : undefined,
    async stop() {
      await standby?.stop('immediate').catch(() => {});
      await server.stop('immediate').catch(() => {});
      rmSync(root, { recursive: true, force: true });
    },
  };
}
