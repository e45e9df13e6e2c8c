/**
 * The quick start's short workload: writes and reads through a pg-failover
 * Pool, printing where each one ran.
 */
import pg from 'pg';

export async function runDemo(hosts: string[], print: (line: string) => void): Promise<void> {
  // Until the routing Pool is wired in, show replication with plain pg clients (hosts[0] is the primary).
  const clients = await Promise.all(
    hosts.map(async (h) => {
      const [host, port] = h.split(':');
      const c = new pg.Client({ host, port: Number(port), user: 'postgres', database: 'postgres' });
      c.on('error', () => {});
      await c.connect();
      return c;
    }),
  );
  try {
    const [primary, ...standbys] = clients;
    await primary!.query('CREATE TABLE IF NOT EXISTS pgfailover_demo (id serial primary key, note text, at timestamptz default now())');
    const { rows } = await primary!.query("INSERT INTO pgfailover_demo (note) VALUES ('hello from the quick start') RETURNING id");
    print(`write  → ${hosts[0]} (primary): inserted id ${rows[0].id}`);
    for (const [i, s] of standbys.entries()) {
      for (let attempt = 0; attempt < 100; attempt++) {
        const r = await s
          .query('SELECT count(*)::int AS n, pg_is_in_recovery() AS standby FROM pgfailover_demo WHERE id = $1', [rows[0].id])
          .catch(() => undefined); // the table itself may not have replicated yet
        if (r?.rows[0].n === 1) {
          print(`read   → ${hosts[i + 1]} (${r.rows[0].standby ? 'standby' : 'primary'}): row ${rows[0].id} replicated after ${attempt * 20} ms`);
          break;
        }
        await new Promise((res) => setTimeout(res, 20));
      }
    }
  } finally {
    await Promise.all(clients.map((c) => c.end().catch(() => {})));
  }
}
