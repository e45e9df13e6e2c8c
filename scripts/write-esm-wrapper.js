// Writes dist/index.mjs (and dist/index.d.mts): an ES module face for the CommonJS build, so that both
// `import { Pool } from 'pg-failover'` and `require('pg-failover')` work.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const dist = path.join(__dirname, '..', 'dist');
const cjs = require(path.join(dist, 'index.js'));
const names = [...Object.keys(cjs), ...('native' in cjs ? ['native'] : [])].filter((k) => k !== 'default' && /^[A-Za-z_$][\w$]*$/.test(k));
const body = [
  "import cjs from './index.js';",
  'export default cjs;',
  ...names.map((n) => `export const ${n} = cjs.${n};`),
  '',
].join('\n');
fs.writeFileSync(path.join(dist, 'index.mjs'), body);
// Its types, for TypeScript's `import` condition: the same names, and the whole
// namespace (types included: pg.PoolClient …) as the default, like @types/pg's index.d.mts.
fs.writeFileSync(
  path.join(dist, 'index.d.mts'),
  ["import * as pgFailover from './index.js';", "export * from './index.js';", 'export default pgFailover;', ''].join('\n'),
);
