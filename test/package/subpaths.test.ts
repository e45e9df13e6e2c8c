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
    const subs = [['knex', 'PgFailoverKnexClient'], ['express', 'causalScope'], ['prisma', 'PrismaPgFailover'], ['fastify', 'causalScopePlugin'], ['sequelize', 'sequelizeOptions'], ['observability', 'poolStats'], ['mikro-orm', 'mikroOrmOptions'], ['slonik', 'slonikOptions'], ['wiring', 'checkWiring']] as const;
    // One process per module system (a process per sub-path is slow on a loaded machine).
    const cjs = JSON.parse(run(['-e', `console.log(JSON.stringify([${subs.map(([sub, name]) => `typeof require('pg-failover/${sub}').${name}`).join(', ')}]))`]));
    const esm = JSON.parse(run(['--input-type=module', '-e', `${subs.map(([sub, name], i) => `import { ${name} as n${i} } from 'pg-failover/${sub}';`).join(' ')} console.log(JSON.stringify([${subs.map((_, i) => `typeof n${i}`).join(', ')}]))`]));
    expect(subs.map(([sub], i) => [sub, cjs[i], esm[i]])).toEqual(subs.map(([sub]) => [sub, 'function', 'function']));
  });
  test('type declarations exist for each sub-path', () => {
    const pkg = JSON.parse(run(['-e', "console.log(JSON.stringify(require('./package.json')))"]));
    for (const sub of ['knex', 'express', 'prisma', 'fastify', 'sequelize', 'observability', 'mikro-orm', 'slonik', 'wiring']) {
      expect(pkg.exports[`./${sub}`].types).toBe(`./dist/integrations/${sub}.d.ts`);
      expect(run(['-e', `console.log(require('fs').existsSync('dist/integrations/${sub}.d.ts'))`]).trim()).toBe('true');
    }
  });
});
