/**
 * The ways a Node.js app reaches a failing-over cluster today, run side by
 * side with pg-failover in the same trial: a plain `pg` Pool with the retry
 * loop people hand-roll, postgres.js with multi-host + target_session_attrs,
 * and HAProxy in front of Patroni-style REST health checks.
 */
import pg from 'pg';
import postgres from 'postgres';
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, isListening } from '../../src/local/ports';
import type { StrategyClient } from './workload';

export interface Endpoint {
  host: string;
  port: number;
}

const INSERT = 'INSERT INTO bench_writes (strategy, op_id) VALUES ($1, $2)';
const READ = 'SELECT count(*) FROM bench_reads';

/** Plain pg.Pool on the first writable host; on a failed query, walk all hosts for a new writable one. */
export function naivePg(name: string, hosts: Endpoint[]): StrategyClient {
  let pool: pg.Pool | undefined;
  let finding: Promise<pg.Pool> | undefined;
  const find = () =>
    (finding ??= (async () => {
      for (;;) {
        for (const h of hosts) {
          const c = new pg.Client({ ...h, user: 'postgres', database: 'postgres', connectionTimeoutMillis: 1000 });
          c.on('error', () => {});
          try {
            await c.connect();
            const { rows } = await c.query('SELECT pg_is_in_recovery() AS r');
            await c.end();
            if (!rows[0].r) {
              const p = new pg.Pool({ ...h, user: 'postgres', database: 'postgres', max: 4, connectionTimeoutMillis: 2000 });
              p.on('error', () => {});
              return p;
            }
          } catch {
            await c.end().catch(() => {});
          }
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    })().finally(() => (finding = undefined)));
  const run = async (sql: string, values?: unknown[]) => {
    pool ??= await find();
    try {
      await pool.query(sql, values);
    } catch (e) {
      const old = pool;
      pool = undefined;
      old?.end().catch(() => {});
      throw e;
    }
  };
  return {
    write: (id) => run(INSERT, [name, id]),
    read: () => run(READ),
    close: async () => {
      await pool?.end().catch(() => {});
    },
  };
}

/** postgres.js with every host and target_session_attrs=primary (its own reconnect logic). */
export function postgresJs(name: string, hosts: Endpoint[]): StrategyClient {
  const sql = postgres({
    host: hosts.map((h) => h.host),
    port: hosts.map((h) => h.port),
    user: 'postgres',
    database: 'postgres',
    target_session_attrs: 'primary',
    max: 4,
    connect_timeout: 2,
    onnotice: () => {},
  } as unknown as postgres.Options<{}>);
  return {
    write: async (id) => {
      await sql.unsafe(INSERT, [name, id]);
    },
    read: async () => {
      await sql.unsafe(READ);
    },
    close: () => sql.end({ timeout: 1 }),
  };
}

/** HAProxy routing to the node whose REST API answers 200 on OPTIONS /primary (the Patroni recipe). */
export class HaproxyPeer {
  #child: ChildProcess | undefined;
  port = 0;

  async start(dir: string, nodes: Array<Endpoint & { apiPort: number }>, checkIntervalMillis = 1000): Promise<void> {
    this.port = await freePort();
    const cfg = [
      'global',
      '  maxconn 200',
      'defaults',
      '  mode tcp',
      '  timeout connect 2s',
      '  timeout client 30m',
      '  timeout server 30m',
      '  timeout check 1s',
      'listen primary',
      `  bind 127.0.0.1:${this.port}`,
      '  option httpchk OPTIONS /primary',
      '  http-check expect status 200',
      `  default-server inter ${checkIntervalMillis}ms fall 2 rise 1 on-marked-down shutdown-sessions`,
      ...nodes.map((n, i) => `  server n${i} ${n.host}:${n.port} check port ${n.apiPort}`),
      '',
    ].join('\n');
    const file = join(dir, 'haproxy.cfg');
    writeFileSync(file, cfg);
    this.#child = spawn('haproxy', ['-f', file, '-db'], { cwd: dir, stdio: 'ignore', detached: true });
    this.#child.on('error', () => {});
    for (let i = 0; i < 100 && !(await isListening(this.port)); i++) await new Promise((r) => setTimeout(r, 50));
  }

  client(name: string): StrategyClient {
    const pool = new pg.Pool({ host: '127.0.0.1', port: this.port, user: 'postgres', database: 'postgres', max: 4, connectionTimeoutMillis: 2000 });
    pool.on('error', () => {});
    return {
      write: async (id) => {
        await pool.query(INSERT, [name, id]);
      },
      read: async () => {
        await pool.query(READ);
      },
      close: () => pool.end(),
    };
  }

  async stop(): Promise<void> {
    const pid = this.#child?.pid;
    if (pid) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  }
}
