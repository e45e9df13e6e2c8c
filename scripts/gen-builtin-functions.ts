/**
 * Generates src/routing/builtin-functions.ts from a real PostgreSQL 15
 * `pg_proc`: starts a throwaway server (initdb in a temp dir, random port),
 * reads every pg_catalog and information_schema function's volatility, stops the server and removes
 * the directory.
 *
 *   npx vite-node scripts/gen-builtin-functions.ts            # writes the file
 *   npx vite-node scripts/gen-builtin-functions.ts -- --dump  # lists volatile builtins
 *
 * A builtin is "read-safe" (may run on a hot standby) when every overload is
 * immutable or stable, or when it is volatile but only reads or has no
 * effect on the database ({@link VOLATILE_READ_ONLY}). Every other volatile
 * builtin is a writer: it changes the database, needs a transaction id, acts
 * on the server (signals, WAL, slots), or changes session state; routing
 * sends it to the primary.
 */
import { mkdtempSync, chmodSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PostgresServer, resolveServerUser } from '../src/manager/postgres';
import { freePort } from '../src/local/ports';

/** Volatile builtins that are harmless on a standby: clocks, randomness, sleeping, reading files, sizes and statistics. */
const VOLATILE_READ_ONLY = new Set([
  'random', 'random_normal', 'clock_timestamp', 'timeofday', 'gen_random_uuid', 'uuid_generate_v4',
  'pg_sleep', 'pg_sleep_for', 'pg_sleep_until',
  'pg_read_file', 'pg_read_binary_file', 'pg_stat_file', 'pg_ls_dir', 'pg_ls_waldir', 'pg_ls_logdir', 'pg_ls_tmpdir',
  'pg_ls_archive_statusdir', 'pg_ls_logicalmapdir', 'pg_ls_logicalsnapdir', 'pg_ls_replslotdir', 'pg_current_logfile',
  'pg_relation_size', 'pg_table_size', 'pg_indexes_size', 'pg_total_relation_size', 'pg_database_size', 'pg_tablespace_size',
  'pg_partition_tree', 'pg_partition_ancestors', 'pg_partition_root',
  'txid_status', 'pg_xact_status', 'txid_current_if_assigned', 'pg_current_xact_id_if_assigned', 'currtid2', 'lo_get',
  'pg_stat_clear_snapshot', 'pg_notification_queue_usage', 'pg_stat_have_stats', 'pg_listening_channels',
  'pg_control_checkpoint', 'pg_control_init', 'pg_control_recovery', 'pg_control_system',
  'amvalidate', 'ts_stat', 'pg_lock_status', 'pg_blocking_pids', 'pg_safe_snapshot_blocking_pids', 'pg_isolation_test_session_is_blocked',
  'pg_prepared_xact', 'pg_get_shmem_allocations', 'pg_get_backend_memory_contexts', 'pg_stat_get_wal_receiver', 'pg_stat_get_wal_senders',
  'pg_stat_get_activity', 'pg_stat_get_progress_info', 'pg_stat_get_subscription', 'pg_stat_get_replication_slot', 'pg_get_replication_slots',
  'pg_last_wal_receive_lsn', 'pg_last_wal_replay_lsn', 'pg_last_xact_replay_timestamp', 'pg_is_wal_replay_paused', 'pg_get_wal_replay_pause_state',
  'pg_show_all_settings', 'pg_show_all_file_settings', 'pg_hba_file_rules', 'pg_ident_file_mappings', 'pg_config', 'pg_get_keywords',
  'pg_cursor', 'pg_prepared_statement', 'pg_available_extensions', 'pg_available_extension_versions', 'pg_timezone_names', 'pg_timezone_abbrevs',
  'pg_tablespace_location', 'pg_get_wal_resource_managers', 'pg_ls_waldir', 'pg_stat_get_snapshot_timestamp', 'pg_trigger_depth',
  'pg_get_catalog_foreign_keys', 'pg_get_object_address', 'pg_stat_get_slru', 'pg_stat_get_wal', 'pg_stat_get_archiver', 'pg_stat_get_bgwriter_stat_reset_time',
  'pg_walfile_name', 'pg_walfile_name_offset', 'pg_split_walfile_name', 'pg_stat_get_recovery_prefetch', 'pg_get_wal_replay_pause_state',
  'pg_backend_pid', 'pg_postmaster_start_time', 'pg_conf_load_time', 'pg_jit_available', 'pg_collation_actual_version', 'pg_database_collation_actual_version',
  'pg_visible_in_snapshot', 'pg_snapshot_xmin', 'pg_snapshot_xmax', 'pg_snapshot_xip',
  'current_query', 'pg_is_in_recovery', 'pg_last_committed_xact', 'pg_xact_commit_timestamp', 'pg_xact_commit_timestamp_origin',
  'pg_get_multixact_members', 'pg_show_replication_origin_status', 'ts_rewrite',
  'pg_stat_get_xact_blocks_fetched', 'pg_stat_get_xact_blocks_hit', 'pg_stat_get_xact_function_calls', 'pg_stat_get_xact_function_self_time',
  'pg_stat_get_xact_function_total_time', 'pg_stat_get_xact_numscans', 'pg_stat_get_xact_tuples_deleted', 'pg_stat_get_xact_tuples_fetched',
  'pg_stat_get_xact_tuples_hot_updated', 'pg_stat_get_xact_tuples_inserted', 'pg_stat_get_xact_tuples_returned', 'pg_stat_get_xact_tuples_updated',
]);

/**
 * Read-safe builtins added after PostgreSQL 15 (16, 17): a PostgreSQL 15
 * pg_proc does not have them, but applications talking to newer servers call
 * them. All immutable or stable, or harmless volatile (array_shuffle, random_normal).
 */
const NEWER_READ_SAFE = [
  'any_value', 'pg_input_is_valid', 'pg_input_error_info', 'array_sample', 'array_shuffle', 'random_normal', 'date_add', 'date_subtract',
  'erf', 'erfc', 'pg_split_walfile_name', 'system_user', 'json_array', 'json_object', 'json_arrayagg', 'json_objectagg', 'json_scalar',
  'json_serialize', 'json_query', 'json_value', 'json_exists', 'json_table', 'xmltext', 'to_bin', 'to_oct', 'uuid_extract_timestamp',
  'uuid_extract_version', 'pg_basetype', 'pg_column_toast_chunk_id', 'pg_get_wal_summarizer_state', 'pg_available_wal_summaries',
  'pg_wal_summary_contents', 'pg_sync_replication_slots', 'pg_stat_get_io', 'pg_stat_get_checkpointer_num_timed',
  'has_largeobject_privilege', 'array_reverse', 'array_sort', 'reverse', 'casefold', 'crc32', 'crc32c', 'uuidv4', 'uuidv7',
  'pg_get_acl', 'pg_numa_available', 'gamma', 'lgamma',
];

/**
 * Not volatile in pg_proc but primary-only all the same: they assign a
 * transaction id, which a hot standby refuses.
 */
const STABLE_PRIMARY_ONLY = new Set(['txid_current', 'pg_current_xact_id']);

/** Writers that also pin the session to the node: they take advisory locks that outlive the statement. */
const ADVISORY_LOCKERS = [
  'pg_advisory_lock', 'pg_advisory_lock_shared', 'pg_try_advisory_lock', 'pg_try_advisory_lock_shared',
  'pg_advisory_xact_lock', 'pg_advisory_xact_lock_shared', 'pg_try_advisory_xact_lock', 'pg_try_advisory_xact_lock_shared',
];

interface Row {
  name: string;
  v: string;
  [k: string]: unknown;
}

async function main(): Promise<void> {
  const dump = process.argv.includes('--dump');
  const root = mkdtempSync(join(process.env.PGFAILOVER_TEST_ROOT ?? tmpdir(), 'pgfo-gen-'));
  chmodSync(root, 0o711);
  const server = new PostgresServer({ dataDir: join(root, 'data'), port: await freePort(), user: resolveServerUser() });
  let rows: Row[];
  let version: string;
  let keywords: { word: string; catcode: string }[];
  let types: { name: string }[];
  try {
    await server.initdb({ dataChecksums: false });
    await server.start({ timeoutMillis: 60_000 });
    version = String((await server.query<{ v: string }>("SELECT current_setting('server_version') AS v"))[0].v);
    rows = await server.query<Row>(
      `SELECT p.proname AS name, string_agg(DISTINCT p.provolatile::text, '' ORDER BY p.provolatile::text) AS v
         FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname IN ('pg_catalog', 'information_schema')
        GROUP BY p.proname ORDER BY p.proname`,
    );
    types = await server.query<{ name: string }>(
      `SELECT DISTINCT t.typname AS name FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
        WHERE n.nspname IN ('pg_catalog', 'information_schema') AND t.typname NOT LIKE '\\_%' AND t.typtype IN ('b', 'd', 'e', 'r', 'm')
        ORDER BY 1`,
    );
    keywords = await server.query<{ word: string; catcode: string }>('SELECT word, catcode FROM pg_get_keywords() ORDER BY word');
  } finally {
    await server.stop('fast').catch(() => {});
    rmSync(root, { recursive: true, force: true });
  }
  const safe: string[] = [];
  const writers: string[] = [];
  for (const r of rows) {
    const volatile = r.v.includes('v');
    if (STABLE_PRIMARY_ONLY.has(r.name)) writers.push(r.name);
    else if (!volatile || VOLATILE_READ_ONLY.has(r.name)) safe.push(r.name);
    else writers.push(r.name);
  }
  // "inet(x)", "regclass('t')": a function-style cast when no such function exists; casts are reads.
  const known = new Set([...safe, ...writers]);
  for (const t of types) if (!known.has(t.name)) safe.push(t.name);
  for (const f of NEWER_READ_SAFE) if (!known.has(f)) safe.push(f);
  safe.sort();
  if (dump) {
    console.log(writers.join('\n'));
    return;
  }
  const list = (names: string[]) => names.map((n) => JSON.stringify(n)).join(',');
  const body = `/**
 * GENERATED by scripts/gen-builtin-functions.ts from PostgreSQL ${version} pg_proc — do not edit.
 *
 * BUILTIN_READ_SAFE: pg_catalog functions whose every overload is immutable or
 * stable, plus volatile ones that are harmless on a hot standby (clocks,
 * random(), pg_sleep(), file and size readers, statistics), type names (a
 * call-style cast such as inet(x)), and read-safe builtins of PostgreSQL 16-18.
 * BUILTIN_WRITERS: every other volatile pg_catalog function (nextval, setval,
 * set_config, advisory locks, pg_notify, txid_current, lo_* writers,
 * pg_switch_wal, …); they must run on the primary.
 * ADVISORY_LOCKERS: writers that also pin the session (locks outlive the statement).
 * SQL_KEYWORDS: the server's keywords (pg_get_keywords) by category: U unreserved,
 * C column name, T type or function name, R reserved.
 */
export const BUILTIN_READ_SAFE: ReadonlySet<string> = new Set([${list(safe)}]);

export const BUILTIN_WRITERS: ReadonlySet<string> = new Set([${list(writers)}]);

export const ADVISORY_LOCKERS: ReadonlySet<string> = new Set([${list(ADVISORY_LOCKERS)}]);

export const SQL_KEYWORDS: ReadonlyMap<string, 'U' | 'C' | 'T' | 'R'> = new Map([${keywords.map((k) => `[${JSON.stringify(k.word)},${JSON.stringify(k.catcode)}]`).join(',')}]);
`;
  const out = resolve(__dirname, '../src/routing/builtin-functions.ts');
  writeFileSync(out, body);
  console.log(`wrote ${out}: ${safe.length} read-safe, ${writers.length} writers, ${keywords.length} keywords (PostgreSQL ${version})`);
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
