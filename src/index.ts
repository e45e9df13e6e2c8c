/**
 * pg-failover: a drop-in for node-postgres (`pg`). The named exports are in
 * surface.ts; the default export is that same set, as one object, so that
 * `import pg from 'pg-failover'` (ESM, or CommonJS with esModuleInterop) works
 * like `import pg from 'pg'`, types included (`pg.PoolClient`, `pg.QueryResult` …).
 */
import * as pgFailover from './surface';

export * from './surface';
export default pgFailover;
