#!/usr/bin/env node
'use strict';
const path = require('node:path');
const fs = require('node:fs');
const main = path.join(__dirname, '..', 'dist', 'cli', 'main.js');
if (!fs.existsSync(main)) {
  console.error('pg-failover: the package is not built (missing dist/). Run `npm run build` in ' + path.join(__dirname, '..'));
  process.exit(1);
}
require(main).main(process.argv.slice(2)).then(
  (code) => { if (typeof code === 'number') process.exitCode = code; },
  (err) => { console.error(`pg-failover: ${err && err.code ? err.code + ': ' : ''}${err && err.message ? err.message : err}`); process.exitCode = 1; },
);
