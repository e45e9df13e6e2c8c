/**
 * The classifier's verdicts checked on a real PostgreSQL 15 hot standby:
 * whatever it calls a read must run there, and the writers it knows
 * (DML, sequence and xid functions, locking clauses, volatile user functions
 * …) must really be refused there. User function volatility is learned from
 * the standby's own pg_proc, the way the pool does it.
 */
import { describe, expect, it } from 'vitest';
import type pg from 'pg';
import { useCluster, connectTo } from '../support/cluster';
import { Classifier } from '../../src/routing/classify';

/** Valid against the schema created below; the classifier must call each a read, and the standby must run it. */
const READS = [
  'SELECT * FROM t',
  'SELECT count(*), max(a), lower(min(b)) FROM t',
  'SELECT now(), clock_timestamp(), random(), timeofday(), gen_random_uuid()',
  'SELECT pg_sleep(0)',
  'SELECT f_stable(1), app.f_immutable(2)',
  'WITH c(x) AS (SELECT a FROM t) SELECT * FROM c',
  'WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 3) SELECT * FROM r',
  'EXPLAIN SELECT * FROM t WHERE a = 1',
  'EXPLAIN (ANALYZE false, COSTS off) SELECT 1',
  'SELECT * FROM generate_series(1, 3) g(i) JOIN t ON t.a = g.i',
  'SELECT * FROM (VALUES (1), (2)) v(x)',
  "VALUES (1, 'a')",
  'TABLE t',
  'SHOW transaction_read_only',
  'SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn(), pg_is_wal_replay_paused()',
  'SELECT txid_current_snapshot(), pg_current_snapshot(), txid_current_if_assigned()',
  "SELECT pg_relation_size('t'), pg_total_relation_size('t'), pg_database_size('postgres'), pg_size_pretty(1024::bigint)",
  "SELECT * FROM pg_partition_tree('t')",
  "SELECT pg_stat_file('postgresql.conf') IS NOT NULL",
  'SELECT count(*) FROM pg_ls_waldir()',
  'SELECT pg_notification_queue_usage(), pg_listening_channels()',
  'SELECT pg_stat_clear_snapshot()',
  'SELECT * FROM pg_stat_activity',
  'SELECT * FROM pg_locks',
  "SELECT 'delete from t', $$ insert into t values (1) $$, E'nextval(\\'s\\')'",
  'SELECT "update" FROM (SELECT 1 AS "update") x',
  '/* pgfailover:standby */ SELECT 1',
  "SELECT jsonb_build_object('a', 1) ->> 'a', to_char(now(), 'YYYY'), inet('127.0.0.1')",
  'SELECT a FROM t ORDER BY a FETCH FIRST 1 ROWS ONLY',
  'SELECT DISTINCT ON (a) a, b FROM t',
  'SELECT a, count(*) FROM t GROUP BY ROLLUP (a)',
  "SELECT interval '1.5' second(2)",
  "SELECT x::numeric(10,2), 'a'::character varying(3) FROM (SELECT 1 AS x) s",
  'SELECT 1; SELECT 2',
];

/** Statements the classifier must call writes and that a standby really refuses. */
const REFUSED = [
  'INSERT INTO t VALUES (9)',
  'UPDATE t SET b = b',
  'DELETE FROM t WHERE a = 9',
  "SELECT nextval('s')",
  "SELECT setval('s', 5)",
  'SELECT txid_current()',
  'SELECT pg_current_xact_id()',
  'SELECT * FROM t FOR UPDATE',
  'SELECT * FROM t FOR KEY SHARE',
  'SELECT * INTO t_copy FROM t',
  'WITH d AS (DELETE FROM t WHERE a = 9 RETURNING *) SELECT * FROM d',
  'SELECT f_volatile()',
  'SELECT lo_create(0)',
  "SELECT pg_notify('c', 'x')",
  'SELECT pg_switch_wal()',
  'SELECT pg_current_wal_lsn()',
  'LOCK TABLE t IN ACCESS EXCLUSIVE MODE',
  'EXPLAIN ANALYZE INSERT INTO t VALUES (9)',
  'CREATE TABLE t2 (a int)',
  'CREATE TEMP TABLE tt (a int)',
  'SELECT 1; DELETE FROM t WHERE a = 9',
];

async function sqlstate(client: pg.Client, sql: string): Promise<string | undefined> {
  try {
    await client.query(sql);
    return undefined;
  } catch (err) {
    return (err as { code?: string }).code ?? String(err);
  }
}

describe('classifier verdicts on a real hot standby', () => {
  const h = useCluster({ standbys: 1 }, async (cluster) => {
    const primary = await connectTo(cluster.primary);
    try {
      await primary.query(`
        CREATE TABLE t (a int PRIMARY KEY, b text);
        INSERT INTO t SELECT i, 'row ' || i FROM generate_series(1, 5) i;
        CREATE SEQUENCE s;
        CREATE SCHEMA app;
        CREATE FUNCTION f_stable(int) RETURNS int STABLE LANGUAGE sql AS 'SELECT $1 + 1';
        CREATE FUNCTION app.f_immutable(int) RETURNS int IMMUTABLE LANGUAGE sql AS 'SELECT $1 * 2';
        CREATE FUNCTION f_volatile() RETURNS int VOLATILE LANGUAGE sql AS 'INSERT INTO t VALUES (100) RETURNING a';
      `);
    } finally {
      await primary.end();
    }
    await cluster.waitForReplay(cluster.standbys[0].name, undefined, 30_000);
  });

  /** A classifier that learned user functions from the standby's pg_proc (the pool's query). */
  async function learnedClassifier(client: pg.Client): Promise<Classifier> {
    const { rows } = await client.query<{ schema: string; name: string; v: 'i' | 's' | 'v' }>(
      `SELECT n.nspname AS schema, p.proname AS name, max(p.provolatile::text) AS v
         FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
        GROUP BY 1, 2`,
    );
    const map = new Map<string, 'i' | 's' | 'v'>();
    for (const r of rows) {
      map.set(`${r.schema}.${r.name}`, r.v);
      const prev = map.get(r.name);
      map.set(r.name, prev && prev > r.v ? prev : r.v);
    }
    const c = new Classifier();
    c.learnFunctions(map);
    return c;
  }

  it('everything classified read runs on the standby', async () => {
    const client = await connectTo(h.cluster.standbys[0]);
    try {
      expect((await client.query('SELECT pg_is_in_recovery() AS r')).rows[0].r).toBe(true);
      const c = await learnedClassifier(client);
      const failures: string[] = [];
      for (const sql of READS) {
        expect(c.classify(sql), sql).toBe('read');
        const code = await sqlstate(client, sql);
        if (code !== undefined) failures.push(`${code}: ${sql}`);
      }
      expect(failures).toEqual([]);
    } finally {
      await client.end();
    }
  });

  it('the writers it names are really refused by the standby', async () => {
    const client = await connectTo(h.cluster.standbys[0]);
    try {
      const c = await learnedClassifier(client);
      const accepted: string[] = [];
      for (const sql of REFUSED) {
        expect(c.classify(sql), sql).toBe('write');
        const code = await sqlstate(client, sql);
        if (code === undefined) accepted.push(sql);
        // read-only transaction (25006), recovery in progress (55000), or no xid during recovery (0A000 / XX000)
        else expect(['25006', '55000', '0A000', 'XX000'], `${sql} failed with ${code}`).toContain(code);
      }
      expect(accepted).toEqual([]);
    } finally {
      await client.end();
    }
  });

  it('without learning, user functions are unknown writes; f_stable only becomes a read once learned', async () => {
    const client = await connectTo(h.cluster.standbys[0]);
    try {
      const plain = new Classifier();
      const a = plain.analyze('SELECT f_stable(1), app.f_immutable(2)');
      expect(a.kind).toBe('write');
      expect([...a.unknownFunctions]).toEqual(['f_stable', 'app.f_immutable']);
      const learned = await learnedClassifier(client);
      expect(learned.analyze('SELECT f_stable(1), app.f_immutable(2)').kind).toBe('read');
      expect(learned.analyze('SELECT f_volatile()').unknownFunctions).toEqual([]);
    } finally {
      await client.end();
    }
  });
});
