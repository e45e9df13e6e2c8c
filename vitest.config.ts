import { defineConfig } from 'vitest/config';
import { join } from 'node:path';

// Integration tests start real PostgreSQL and etcd processes; on a 2-core
// machine running too many files at once only makes every one of them slower.
export default defineConfig({
  // The examples import the package by name, as an application would; tests run them on the source.
  resolve: {
    alias: [
      { find: /^pg-failover\/(knex|express|prisma|fastify|sequelize|observability|mikro-orm|slonik|wiring)$/, replacement: join(__dirname, 'src/integrations/$1.ts') },
      { find: /^pg-failover$/, replacement: join(__dirname, 'src/index.ts') },
    ],
  },
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
