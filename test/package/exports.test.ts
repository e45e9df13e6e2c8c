import { describe, test, expect } from 'vitest';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

const root = join(__dirname, '../..');
const run = (args: string[]) => execFileSync(process.execPath, args, { cwd: root, encoding: 'utf8' });

describe('the built package (what `npm test` builds first)', () => {
  test('require() and import give the same public surface, with pg helpers re-exported', () => {
    // Object.getOwnPropertyNames: `native` is a non-enumerable getter in CommonJS, as in pg (gh-issue 1992).
    const cjs = run(['-e', "const p=require('pg-failover'); console.log(JSON.stringify(Object.getOwnPropertyNames(p).filter(k=>k!=='default'&&k!=='__esModule').sort()))"]);
    const esm = run(['--input-type=module', '-e', "import * as p from 'pg-failover'; console.log(JSON.stringify(Object.keys(p).filter(k=>k!=='default').sort()))"]);
    expect(JSON.parse(esm)).toEqual(JSON.parse(cjs));
    const enumerable = run(['-e', "console.log(JSON.stringify(Object.keys(require('pg-failover'))))"]);
    expect(JSON.parse(enumerable)).not.toContain('native');
    for (const name of ['Client', 'Pool', 'libpqKeywords', 'FailoverError', 'types', 'defaults', 'escapeLiteral', 'escapeIdentifier', 'DatabaseError', 'Query', 'Result', 'Connection', 'TypeOverrides', 'native']) {
      expect(JSON.parse(cjs)).toContain(name);
    }
  });

  test('the default import works like `import pg from "pg"`', () => {
    const out = run(['--input-type=module', '-e', "import pg from 'pg-failover'; console.log(typeof pg.Client, typeof pg.types.setTypeParser, pg.escapeLiteral(\"it's\"))"]);
    expect(out.trim()).toBe("function function 'it''s'");
  });

  test('pg.native is null without pg-native, like pg, through require, import and the default import', () => {
    const out = run(['--input-type=module', '-e', "import pg, { native } from 'pg-failover'; import { createRequire } from 'node:module'; const r = createRequire(import.meta.url)('pg-failover'); console.log(JSON.stringify([pg.native, native, r.native, r.default.native, (await import('pg')).default.native]))"]);
    expect(JSON.parse(out)).toEqual([null, null, null, null, null]);
  });

  test('type declarations are bundled', () => {
    const pkg = JSON.parse(run(['-e', "console.log(JSON.stringify(require('./package.json')))"]));
    expect(pkg.exports['.'].require.types).toBe('./dist/index.d.ts');
    expect(pkg.exports['.'].import.types).toBe('./dist/index.d.mts');
    expect(pkg.dependencies['@types/pg']).toBeDefined(); // a consumer's compile needs pg's declarations
    for (const f of ['dist/index.d.ts', 'dist/index.d.mts']) expect(run(['-e', `console.log(require('fs').existsSync('${f}'))`]).trim()).toBe('true');
  });
});
