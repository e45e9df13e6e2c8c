/**
 * Which of node-postgres's test files the upstream run executes, and how.
 * Everything under test/vendor/node-postgres is upstream's, unchanged.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';

export const VENDOR = path.resolve(__dirname, '../vendor/node-postgres');

export interface UpstreamFile {
  /** Path relative to test/vendor/node-postgres, e.g. `pg/test/integration/client/api-tests.js`. */
  rel: string;
  /** pg-pool's files run under mocha; pg's as `node <file>` (upstream's Makefile). */
  runner: 'mocha' | 'node';
}

/**
 * pg's unit tests that use only the public API (Client/Pool config fields,
 * events, the `stream` option). The others drive pg's private Connection,
 * Query, ConnectionParameters, utils or crypto modules directly: with
 * pg-failover in place they would still test pg's own code, so they say
 * nothing about us and are not run.
 */
const PUBLIC_UNIT_FILES = [
  'pg/test/unit/client/configuration-tests.js',
  'pg/test/unit/client/early-disconnect-tests.js',
  'pg/test/unit/client/set-keepalives-tests.js',
  'pg/test/unit/connection-pool/configuration-tests.js',
];

/**
 * Files upstream runs that we do not: pg-native is not installed here (as in
 * pg without it: `pg.native` is null), so the native variants cannot run
 * against either library.
 */
export const NOT_RUN: Readonly<Record<string, string>> = {
  'pg/test/integration/connection-pool/native-instance-tests.js': 'needs pg-native (not installed; pg.native is null for both libraries)',
  'pg/test/native/*': 'needs pg-native (not vendored)',
  'pg/test/cloudflare/*': 'Cloudflare Workers runtime (not vendored)',
};

function list(dir: string, suffix: string): string[] {
  return readdirSync(path.join(VENDOR, dir))
    .filter((f) => f.endsWith(suffix))
    .sort()
    .map((f) => `${dir}/${f}`);
}

export function upstreamFiles(): UpstreamFile[] {
  const pgFiles = [
    ...list('pg/test/integration/client', '-tests.js'),
    ...list('pg/test/integration/connection-pool', '-tests.js'),
    ...list('pg/test/integration/gh-issues', '-tests.js'),
    'pg/test/integration/domain-tests.js',
    ...PUBLIC_UNIT_FILES,
  ].filter((rel) => !(rel in NOT_RUN));
  const poolFiles = list('pg-pool/test', '.js').filter((f) => !f.endsWith('/setup.js'));
  return [
    ...poolFiles.map((rel) => ({ rel, runner: 'mocha' as const })),
    ...pgFiles.map((rel) => ({ rel, runner: 'node' as const })),
  ];
}
