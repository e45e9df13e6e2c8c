import { describe, test, expect } from 'vitest';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

const root = join(__dirname, '../..');
const run = (args: string[]) => execFileSync(process.execPath, args, { cwd: root, encoding: 'utf8' });

describe('the built package (what `npm test` builds first)', () => {
  test('require() and import give the same public surface, with pg helpers re-exported', () => {
    const cjs = run(['-e', "const p=require('pg-failover'); console.log(JSON.stringify(Object.keys(p).sort()))"]);
    const esm = run(['--input-type=module', '-e', "import * as p from 'pg-failover'; console.log(JSON.stringify(Object.keys(p).filter(k=>k!=='default').sort()))"]);
    expect(JSON.parse(esm)).toEqual(JSON.parse(cjs));
    for (const name of ['Client', 'libpqKeywords', 'FailoverError', 'types', 'defaults', 'escapeLiteral', 'escapeIdentifier', 'DatabaseError']) {
      expect(JSON.parse(cjs)).toContain(name);
    }
  });

  test('the default import works like `import pg from "pg"`', () => {
    const out = run(['--input-type=module', '-e', "import pg from 'pg-failover'; console.log(typeof pg.Client, typeof pg.types.setTypeParser, pg.escapeLiteral(\"it's\"))"]);
    expect(out.trim()).toBe("function function 'it''s'");
  });

  test('type declarations are bundled', () => {
    const pkg = JSON.parse(run(['-e', "console.log(JSON.stringify(require('./package.json')))"]));
    expect(pkg.exports['.'].types).toBe('./dist/index.d.ts');
    expect(run(['-e', "console.log(require('fs').existsSync('dist/index.d.ts'))"]).trim()).toBe('true');
  });
});
