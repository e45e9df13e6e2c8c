/**
 * Test harness for the HA agent: a real etcd, real PostgreSQL nodes run by
 * in-process {@link Agent}s, all in one temp directory under
 * PGFAILOVER_TEST_ROOT; close() stops everything by PID and removes the dir.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { Etcd3 } from 'etcd3';
import { EtcdCluster } from '../../src/local/etcd-server';
import { freePort } from '../../src/local/ports';
import { Agent } from '../../src/manager/agent';
import { configFromFlags, type PatroniNodeConfig } from '../../src/manager/config';

export interface HarnessOptions {
  scope?: string;
  ttl?: number;
  loopWait?: number;
  retryTimeout?: number;
}

export class Harness {
  readonly dir: string;
  readonly scope: string;
  etcd!: EtcdCluster;
  kv!: Etcd3;
  readonly agents = new Map<string, Agent>();
  readonly configs = new Map<string, PatroniNodeConfig>();
  readonly lines: string[] = [];
  readonly #o: Required<HarnessOptions>;

  constructor(options: HarnessOptions = {}) {
    this.#o = { scope: 'ha', ttl: 5, loopWait: 1, retryTimeout: 2, ...options };
    this.scope = this.#o.scope;
    const root = process.env.PGFAILOVER_TEST_ROOT;
    if (!root) throw new Error('PGFAILOVER_TEST_ROOT is not set (run through vitest)');
    this.dir = mkdtempSync(join(root, 'agent-'));
    chmodSync(this.dir, 0o711);
  }

  get prefix(): string {
    return `/service/${this.scope}/`;
  }

  async startEtcd(): Promise<void> {
    this.etcd = await EtcdCluster.start({ baseDir: join(this.dir, 'etcd') });
    this.kv = new Etcd3({ hosts: this.etcd.endpoints });
  }

  /** A node configuration as `manager` flags would give it. */
  async config(name: string, extra: Record<string, string | boolean> = {}): Promise<PatroniNodeConfig> {
    const existing = this.configs.get(name);
    if (existing) return existing;
    const { config } = configFromFlags({
      name,
      scope: this.scope,
      etcd: this.etcd.endpoints.map((u) => u.replace(/^https?:\/\//, '')).join(','),
      'data-dir': join(this.dir, name, 'data'),
      'pg-port': String(await freePort()),
      'api-port': String(await freePort()),
      ttl: String(this.#o.ttl),
      'loop-wait': String(this.#o.loopWait),
      'retry-timeout': String(this.#o.retryTimeout),
      ...extra,
    });
    // Patroni's `bootstrap.dcs.postgresql.use_pg_rewind: true` (there is no flag for it).
    config.bootstrap.dcs.postgresql.usePgRewind = true;
    config.bootstrap.dcs.raw = { ...config.bootstrap.dcs.raw, postgresql: { use_pg_rewind: true } };
    const { mkdirSync } = await import('node:fs');
    mkdirSync(join(this.dir, name), { recursive: true });
    chmodSync(join(this.dir, name), 0o711);
    this.configs.set(name, config);
    return config;
  }

  /** Creates (not starts) an agent for `name`, replacing a stopped one. */
  async agent(name: string, extra: Record<string, string | boolean> = {}): Promise<Agent> {
    const agent = Agent.create(await this.config(name, extra), { log: (l) => this.lines.push(`${new Date().toISOString()} ${l}`) });
    this.agents.set(name, agent);
    return agent;
  }

  async startAll(names: string[], extra: Record<string, string | boolean> = {}): Promise<Agent[]> {
    const agents = await Promise.all(names.map((n) => this.agent(n, extra)));
    await Promise.all(agents.map((a) => a.start()));
    return agents;
  }

  async keys(): Promise<Record<string, string>> {
    const all = await this.kv.getAll().prefix(this.prefix).strings();
    return Object.fromEntries(Object.entries(all).map(([k, v]) => [k.slice(this.prefix.length), v]));
  }

  async leader(): Promise<string | undefined> {
    return (await this.kv.get(`${this.prefix}leader`).string()) ?? undefined;
  }

  /** Waits until `pred` returns a truthy value, polling; throws after `timeoutMillis`. */
  async until<T>(what: string, pred: () => Promise<T | undefined | false> | T | undefined | false, timeoutMillis = 30_000): Promise<T> {
    const deadline = Date.now() + timeoutMillis;
    let last: unknown;
    while (Date.now() < deadline) {
      try {
        const v = await pred();
        if (v) return v;
      } catch (e) {
        last = e;
      }
      await sleep(100);
    }
    throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}\n${this.lines.slice(-30).join('\n')}`);
  }

  /** A pg client to a node's PostgreSQL; the caller ends it. */
  async connect(name: string): Promise<pg.Client> {
    const c = this.configs.get(name)!;
    const client = new pg.Client({ host: c.postgresql.connectAddress.host, port: c.postgresql.connectAddress.port, user: 'postgres', database: 'postgres', connectionTimeoutMillis: 3000 });
    client.on('error', () => {});
    await client.connect();
    return client;
  }

  async query<R extends Record<string, unknown>>(name: string, sql: string, values?: unknown[]): Promise<R[]> {
    const client = await this.connect(name);
    try {
      return (await client.query<R>(sql, values)).rows;
    } finally {
      await client.end().catch(() => {});
    }
  }

  /** Stops every agent and server by PID, etcd, and removes the directory. */
  async close(): Promise<void> {
    for (const agent of this.agents.values()) {
      await agent.stop({ release: true }).catch(() => {});
      await agent.postgres.stop('immediate').catch(() => {});
      await agent.postgres.kill9().catch(() => {});
    }
    this.kv?.close();
    if (this.etcd) {
      for (let i = 0; i < this.etcd.members.length; i++) {
        try {
          this.etcd.kill(i, 'SIGCONT');
        } catch {
          /* gone */
        }
      }
      await this.etcd.stop();
    }
    if (process.env.PGFO_KEEP_LOGS) {
      // Post-mortem copy of logs and config (not data, not sockets).
      const { cpSync } = await import('node:fs');
      try {
        cpSync(this.dir, join(process.env.PGFO_KEEP_LOGS, this.scope), { recursive: true, filter: (src) => !/\/(base|global|pg_wal|pg_xact|pg_multixact|pg_subtrans)(\/|$)|\.s\.PGSQL/.test(src) });
      } catch {
        /* best effort */
      }
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
