/** Entry of `npm run acceptance:readme [-- results.json]`: rewrites README.md's Patroni table (see readme-table.ts). */
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { LATEST, renderTable, withTable } from './readme-table';
import type { ResultsFile } from './results';

const file = process.argv.slice(2).find((a) => a !== '--') ?? LATEST;
const readmePath = join(resolve(__dirname, '..', '..'), 'README.md');
const doc = JSON.parse(readFileSync(file, 'utf8')) as ResultsFile;
writeFileSync(readmePath, withTable(readFileSync(readmePath, 'utf8'), renderTable(doc)));
console.log(`README.md: Patroni acceptance table from ${file}`);
