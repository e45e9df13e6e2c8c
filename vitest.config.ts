import { defineConfig } from 'vitest/config';

// Integration tests start real PostgreSQL and etcd processes; on a 2-core
// machine running too many files at once only makes every one of them slower.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    globalSetup: ['test/support/global-setup.ts'],
    reporters: ['default'],
  },
});
