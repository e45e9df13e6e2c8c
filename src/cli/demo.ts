/**
 * The quick start's short workload: writes, reads and a transaction through
 * a pg-failover Pool, printing where each one ran and a per-node summary.
 */
import { Pool } from '../pool/pool';

export interface DemoNode {
  name: string;
  /** host:port */
  address: string;
}

/** What the demo runs against: a connection string, the nodes, and (with managers) a way to switch over. */
export interface DemoCluster {
  connectionString: string;
  nodes: DemoNode[];
  /** Planned switchover through the managers' REST API; resolves with who led before and after. */
  switchover?: () => Promise<{ from: string; to: string }>;
}

export async function runDemo(cluster: DemoCluster, print: (line: string) => void): Promise<void> {
  const { connectionString, nodes } = cluster;
  const pool = new Pool({ connectionString, failoverTimeoutMillis: 20_000 });
  pool.on('error', () => {}); // idle-session errors are already handled by the pool; nothing to add in a demo
  const nameOf = (port: number) => nodes.find((n) => n.address.endsWith(`:${port}`))?.name ?? `port ${port}`;
  const tally = new Map<string, { reads: number; writes: number }>();
  const count = (port: number, kind: 'reads' | 'writes') => {
    const k = nameOf(port);
    const t = tally.get(k) ?? { reads: 0, writes: 0 };
    t[kind]++;
    tally.set(k, t);
  };
  const where = 'inet_server_port() AS port, pg_is_in_recovery() AS standby';
  try {
    print('');
    print('Demo: a pg-failover Pool over every node (reads → standbys, writes → primary)');
    await pool.query('CREATE TABLE IF NOT EXISTS pgfailover_demo (id serial PRIMARY KEY, note text, at timestamptz DEFAULT now())');
    for (let i = 1; i <= 3; i++) {
      const { rows } = await pool.query(`INSERT INTO pgfailover_demo (note) VALUES ($1) RETURNING id, ${where}`, [`hello ${i}`]);
      count(rows[0].port, 'writes');
      print(`  write  INSERT … RETURNING id           → ${nameOf(rows[0].port)} (${rows[0].standby ? 'standby' : 'primary'}): id ${rows[0].id}`);
      // Read-your-writes: this read never misses the row just written, wherever it runs.
      const before = pool.causalStats;
      const r = await pool.query(`SELECT count(*)::int AS n, ${where} FROM pgfailover_demo WHERE id = $1`, [rows[0].id]);
      count(r.rows[0].port, 'reads');
      const after = pool.causalStats;
      const why = r.rows[0].standby
        ? after.standbyWaits > before.standbyWaits
          ? '  ← read-your-writes: the standby waited until it had replayed the write'
          : after.standbyLooks > before.standbyLooks
            ? '  ← read-your-writes: the standby was checked to have replayed the write'
            : ''
        : after.standbyWaitTimeouts > before.standbyWaitTimeouts
          ? '  ← read-your-writes: no standby replayed the write within causalWaitMillis'
          : '  ← read-your-writes: no standby could be shown to have the write';
      print(`  read   SELECT … WHERE id = ${rows[0].id}`.padEnd(40) + ` → ${nameOf(r.rows[0].port)} (${r.rows[0].standby ? 'standby' : 'primary'}): ${r.rows[0].n} row${why}`);
    }
    await new Promise((r) => setTimeout(r, 50)); // standbys catch up; reads spread over them
    for (let i = 0; i < 6; i++) {
      const r = await pool.query(`SELECT count(*)::int AS n, ${where} FROM pgfailover_demo`);
      count(r.rows[0].port, 'reads');
      print(`  read   SELECT count(*)`.padEnd(40) + ` → ${nameOf(r.rows[0].port)} (${r.rows[0].standby ? 'standby' : 'primary'}): ${r.rows[0].n} rows`);
    }
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      const { rows } = await client.query(`UPDATE pgfailover_demo SET note = note || ' (updated)' WHERE id = (SELECT max(id) FROM pgfailover_demo) RETURNING ${where}`);
      await client.query('COMMIT');
      if (rows[0]) count(rows[0].port, 'writes');
      print(`  txn    BEGIN; UPDATE …; COMMIT`.padEnd(40) + ` → ${rows[0] ? nameOf(rows[0].port) : '?'} (one session, the primary)`);
    } finally {
      client.release();
    }
    if (cluster.switchover) await switchoverUnderLoad(pool, cluster.switchover, nameOf, print);
    print('');
    print('  node  reads  writes');
    for (const n of nodes) {
      const t = tally.get(n.name) ?? { reads: 0, writes: 0 };
      print(`  ${n.name.padEnd(5)} ${String(t.reads).padStart(5)}  ${String(t.writes).padStart(6)}`);
    }
    print('');
  } finally {
    await pool.end();
  }
}

/**
 * A planned switchover while the pool writes every 10 ms and reads in
 * between: prints how long writes stalled and how many statements failed.
 */
async function switchoverUnderLoad(
  pool: Pool,
  switchover: () => Promise<{ from: string; to: string }>,
  nameOf: (port: number) => string,
  print: (line: string) => void,
): Promise<void> {
  print('');
  print('  switchover under load: writing every 10 ms while the managers hand over the primary …');
  let running = true;
  let ok = 0;
  let failed = 0;
  let lastOk = Date.now();
  let stall = 0;
  const errors = new Map<string, number>();
  const writer = (async () => {
    for (let i = 0; running; i++) {
      try {
        await pool.query('INSERT INTO pgfailover_demo (note) VALUES ($1)', [`load ${i}`]);
        const now = Date.now();
        stall = Math.max(stall, now - lastOk);
        lastOk = now;
        ok++;
      } catch (e) {
        failed++;
        const code = (e as { code?: string }).code ?? (e as Error).message;
        errors.set(code, (errors.get(code) ?? 0) + 1);
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  let reads = 0;
  const reader = (async () => {
    while (running) {
      await pool.query('SELECT count(*) FROM pgfailover_demo').then(
        () => reads++,
        () => {},
      );
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  const primaries: string[] = [];
  const onChange = (info: { current: string | undefined }) => {
    if (info.current) primaries.push(nameOf(Number(info.current.split(':').pop())));
  };
  pool.on('primaryChanged', onChange);
  await new Promise((r) => setTimeout(r, 500));
  const t0 = Date.now();
  let outcome: { from: string; to: string } | undefined;
  try {
    outcome = await switchover();
  } catch (e) {
    print(`  switchover failed: ${(e as Error).message}`);
  }
  const took = Date.now() - t0;
  await new Promise((r) => setTimeout(r, 1000));
  running = false;
  await Promise.all([writer, reader]);
  pool.off('primaryChanged', onChange);
  if (outcome) print(`  ${outcome.from} → ${outcome.to} in ${(took / 1000).toFixed(1)} s (the pool followed: ${primaries.join(' → ') || 'no change seen'})`);
  print(`  writes: ${ok} ok, ${failed} failed${errors.size ? ` (${[...errors].map(([k, n]) => `${k}×${n}`).join(', ')})` : ''}; longest write stall ${stall} ms; ${reads} reads`);
}
