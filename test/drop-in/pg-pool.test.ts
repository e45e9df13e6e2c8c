/**
 * pg-pool's own test suite (vendored, unchanged) against pg-failover's Pool
 * on a single PostgreSQL server: "drop-in" means these pass.
 */
import { describe, afterAll } from 'vitest';
import { vendoredEnv } from './harness/vendored';
import { SKIPS } from './harness/skips';
import { tally } from './harness/mocha';
import { clusterForVendoredTests } from './harness/cluster-env';

export const POOL_FILES = [
  'connection-strings', 'connection-timeout', 'ending', 'error-handling', 'events', 'idle-timeout', 'index',
  'lifecycle-hooks', 'lifetime-timeout', 'logging', 'max-uses', 'releasing-clients', 'sizing', 'submittable', 'verify',
];

const env = vendoredEnv({ skips: SKIPS, timeoutMillis: 20_000 });

describe('pg-pool suite, single host', async () => {
  await clusterForVendoredTests(0);
  for (const f of POOL_FILES) describe(f, () => env.loadSuite(`pg-pool/test/${f}.js`));
});

afterAll(() => {
  console.log(`pg-pool suite (single host): ${tally.registered} tests, ${tally.skipped} skipped by the skip list, ${tally.pendingUpstream} pending upstream`);
});
