/**
 * pg-boss on pg-failover: pg-boss takes any `db` with `executeSql(text, values)`;
 * ours is `pool.query`. Its job fetches (`FOR UPDATE SKIP LOCKED`), inserts,
 * completions and its maintenance scripts (`BEGIN; … pg_advisory_xact_lock(…);
 * … COMMIT`) are writes or transactions, so they run on the primary; only
 * plain lookups such as `getJobById` may be answered by a standby.
 * pg-boss 10 polls for jobs: it uses no LISTEN/NOTIFY.
 */
import PgBoss from 'pg-boss';
import { Pool } from 'pg-failover';

/** pg-boss options this example sets; anything else of PgBoss's constructor may be added. */
export type BossOptions = Omit<PgBoss.ConstructorOptions, 'db' | 'connectionString'>;

export function createBoss(connectionString: string, options: BossOptions = {}): { boss: PgBoss; pool: Pool; close(): Promise<void> } {
  const pool = new Pool({ connectionString });
  pool.on('error', () => {}); // idle sessions of a failed node report here, like pg.Pool
  const boss = new PgBoss({
    db: { executeSql: (text: string, values?: unknown[]) => pool.query(text, values) },
    schema: 'pgboss_example',
    supervise: false,
    schedule: false,
    ...options,
  });
  boss.on('error', () => {}); // replace with your logger: a failed poll or maintenance run reports here
  return {
    boss,
    pool,
    async close() {
      await boss.stop({ graceful: false, wait: true }).catch(() => {});
      await pool.end();
    },
  };
}
