/**
 * pg-boss on pg-failover: pg-boss takes any `db` with `executeSql(text, values)`;
 * ours is `pool.query`. Its job fetches (`FOR UPDATE SKIP LOCKED`), inserts and
 * multi-statement maintenance scripts are writes or transactions, so they run on
 * the primary; nothing is read from a standby that could be behind.
 */
import PgBoss from 'pg-boss';
import { Pool } from 'pg-failover';

export function createBoss(connectionString: string): { boss: PgBoss; pool: Pool; close(): Promise<void> } {
  const pool = new Pool({ connectionString });
  pool.on('error', () => {});
  const boss = new PgBoss({ db: { executeSql: (text: string, values?: unknown[]) => pool.query(text, values) }, schema: 'pgboss_example', supervise: false, schedule: false });
  boss.on('error', () => {});
  return {
    boss,
    pool,
    async close() {
      await boss.stop({ graceful: false, wait: true }).catch(() => {});
      await pool.end();
    },
  };
}
