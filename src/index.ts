/**
 * pg-failover: a drop-in for node-postgres (`pg`). The named exports are in
 * surface.ts; the default export is that same set, as one object, so that
 * `import pg from 'pg-failover'` (ESM, or CommonJS with esModuleInterop) works
 * like `import pg from 'pg'`, types included (`pg.PoolClient`, `pg.QueryResult` …).
 */
import * as pgFailover from './surface';

export * from './surface';
// `export *` copies enumerable names only; pg's `native` is a non-enumerable getter (see surface.ts).
Object.defineProperty(exports, 'native', { enumerable: false, configurable: true, get: () => pgFailover.native });
export default pgFailover;
