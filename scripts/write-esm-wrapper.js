// Writes an ES module face (.mjs) next to each CommonJS entry of the build, so that both
// `import { Pool } from 'pg-failover'` and `require('pg-failover')` work, and likewise for
// the sub-paths (pg-failover/knex, pg-failover/express …).
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const dist = path.join(__dirname, '..', 'dist');
const pkg = require(path.join(__dirname, '..', 'package.json'));

for (const [sub, target] of Object.entries(pkg.exports)) {
  if (typeof target !== 'object' || !target.require || !target.import) continue;
  // An entry is a path, or an object of conditions whose `default` is the path (the main entry: its own types per condition).
  const file = (t) => (typeof t === 'string' ? t : t.default);
  const cjsFile = path.join(__dirname, '..', file(target.require));
  const mjsFile = path.join(__dirname, '..', file(target.import));
  let cjs;
  try {
    cjs = require(cjsFile);
  } catch (e) {
    // A sub-path whose peer library is not installed here: its names come from the build's source.
    throw new Error(`write-esm-wrapper: cannot load ${target.require} for "${sub}": ${e.message}`);
  }
  // pg's `native` is a non-enumerable getter (as in pg): a named ESM export all the same.
  const names = [...Object.keys(cjs), ...(Object.getOwnPropertyDescriptor(cjs, 'native') && !Object.keys(cjs).includes('native') ? ['native'] : [])].filter((k) => k !== 'default' && /^[A-Za-z_$][\w$]*$/.test(k));
  const rel = './' + path.basename(cjsFile);
  const body = [
    `import cjs from '${rel}';`,
    'default' in cjs && cjs.__esModule ? 'export default cjs.default;' : 'export default cjs;',
    ...names.map((n) => `export const ${n} = cjs.${n};`),
    '',
  ].join('\n');
  fs.mkdirSync(path.dirname(mjsFile), { recursive: true });
  fs.writeFileSync(mjsFile, body);
}
// The main entry's types, for TypeScript's `import` condition: the same names, and the whole
// namespace (types included: pg.PoolClient …) as the default, like @types/pg's index.d.mts.
fs.writeFileSync(
  path.join(dist, 'index.d.mts'),
  ["import * as pgFailover from './index.js';", "export * from './index.js';", 'export default pgFailover;', ''].join('\n'),
);
