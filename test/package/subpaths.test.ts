/**
 * The sub-path entries of the built package: each loads by name through
 * require() and import, and the main entry loads none of the libraries they
 * integrate with (an app without knex or Prisma can use pg-failover).
 */
import { describe, test, expect } from 'vitest';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

const root = join(__dirname, '../..');
const run = (args: string[]) => execFileSync(process.execPath, args, { cwd: root, encoding: 'utf8' });

describe('pg-failover/knex, /express, /prisma, /fastify, /sequelize, /observability, /mikro-orm, /slonik, /wiring (built)', () => {
  test('the main entry does not load knex, express, fastify, Sequelize, MikroORM, Slonik or @prisma/adapter-pg', () => {
    const out = run(['-e', "require('pg-failover'); console.log(JSON.stringify(Object.keys(require.cache).filter(k => /node_modules\\/(knex|express|fastify|sequelize|prom-client|slonik|@slonik|@mikro-orm|@prisma)\\//.test(k)).length))"]);
    expect(JSON.parse(out)).toBe(0);
  });
  test('require() and import give the same names', () => {
    for (const [sub, name] of [['knex', 'PgFailoverKnexClient'], ['express', 'causalScope'], ['prisma', 'PrismaPgFailover'], ['fastify', 'causalScopePlugin'], ['sequelize', 'sequelizeOptions'], ['observability', 'poolStats'], ['mikro-orm', 'mikroOrmOptions'], ['slonik', 'slonikOptions'], ['wiring', 'checkWiring']] as const) {
      const cjs = run(['-e', `console.log(typeof require('pg-failover/${sub}').${name})`]).trim();
      const esm = run(['--input-type=module', '-e', `import { ${name} } from 'pg-failover/${sub}'; console.log(typeof ${name})`]).trim();
      expect([sub, cjs, esm]).toEqual([sub, 'function', 'function']);
    }
  });
  test('type declarations exist for each sub-path', () => {
    const pkg = JSON.parse(run(['-e', "console.log(JSON.stringify(require('./package.json')))"]));
    for (const sub of ['knex', 'express', 'prisma', 'fastify', 'sequelize', 'observability', 'mikro-orm', 'slonik', 'wiring']) {
      expect(pkg.exports[`./${sub}`].types).toBe(`./dist/integrations/${sub}.d.ts`);
      expect(run(['-e', `console.log(require('fs').existsSync('dist/integrations/${sub}.d.ts'))`]).trim()).toBe('true');
    }
  });
});
