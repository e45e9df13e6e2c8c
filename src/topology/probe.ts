/**
 * Topology by probing, like libpq: keep one small monitoring session per host
 * of the connection string and ask each node whether it is in recovery and
 * how far it has replayed. No manager needed.
 *
 * Re-checks every `recheckIntervalMillis` (pgjdbc's hostRecheckSeconds), at
 * once when a monitoring session drops or the server reports an
 * `in_hot_standby` change (PostgreSQL 14+ sends it on promotion), and when
 * the pool calls `refresh()` after a connection error or SQLSTATE
 * 57P01/57P02/57P03/25006. While no primary is known it re-checks every
 * `fastRecheckMillis`.
 */
import { EventEmitter } from 'node:events';
import pg from 'pg';
import createDebug from 'debug';
import { FailoverError } from '../errors';
import { nodeKey, type Member, type Topology, type TopologySource } from './topology';
import { parseLsn } from '../lsn';

const debug = createDebug('pg-failover:topology');

export interface ProbeTopologyOptions {
  /** Hosts to probe, in connection-string order. */
  hosts: ReadonlyArray<{ host: string; port: number }>;
  /** pg connection settings (user, database, password, ssl …) for a host. */
  configFor(host: { host: string; port: number }): pg.ClientConfig;
  /** Periodic re-check. Default 2000 ms. */
  recheckIntervalMillis?: number;
  /** Re-check period while no primary is known. Default 250 ms. */
  fastRecheckMillis?: number;
  /** Bound on connecting to and querying one host. Default 2000 ms. */
  probeTimeoutMillis?: number;
  /** pg.Client class to use (tests may inject). Default pg.Client. */
  Client?: typeof pg.Client;
}

interface HostState {
  host: string;
  port: number;
  client: pg.Client | undefined;
  connecting: Promise<pg.Client> | undefined;
}

interface ProbeRow {
  recovery: boolean;
  lsn: string | null;
  replay_age_ms: number | null;
}

const PROBE_SQL =
  'SELECT pg_is_in_recovery() AS recovery, ' +
  '(CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END)::text AS lsn, ' +
  '(EXTRACT(EPOCH FROM (now() - pg_last_xact_replay_timestamp())) * 1000)::float8 AS replay_age_ms';

export class ProbeTopology extends EventEmitter implements TopologySource {
  readonly name = 'probe';
  readonly #options: Required<Omit<ProbeTopologyOptions, 'Client'>> & { Client: typeof pg.Client };
  readonly #hosts: HostState[];
  #current: Topology | undefined;
  #signature = '';
  #round: Promise<Topology> | undefined;
  #again = false;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: ProbeTopologyOptions) {
    super();
    if (!options.hosts.length) throw new FailoverError('INVALID_OPTION', 'probe topology needs at least one host');
    this.#options = {
      recheckIntervalMillis: 2000,
      fastRecheckMillis: 250,
      probeTimeoutMillis: 2000,
      ...(Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as ProbeTopologyOptions),
      Client: options.Client ?? pg.Client,
    };
    const seen = new Set<string>();
    this.#hosts = [];
    for (const h of options.hosts) {
      const key = nodeKey(h);
      if (seen.has(key)) continue;
      seen.add(key);
      this.#hosts.push({ host: h.host, port: h.port, client: undefined, connecting: undefined });
    }
  }

  current(): Topology | undefined {
    return this.#current;
  }

  async start(): Promise<Topology> {
    const t = await this.#probeAll();
    this.#schedule();
    return t;
  }

  refresh(reason: string): void {
    if (this.#closed) return;
    debug('probe refresh: %s', reason);
    if (this.#round) {
      this.#again = true;
      return;
    }
    void this.#probeAll().then(
      () => this.#schedule(),
      () => this.#schedule(),
    );
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    await Promise.all(this.#hosts.map((h) => this.#dropClient(h)));
  }

  #schedule(): void {
    if (this.#closed) return;
    if (this.#timer) clearTimeout(this.#timer);
    const wait = this.#current?.primary ? this.#options.recheckIntervalMillis : this.#options.fastRecheckMillis;
    this.#timer = setTimeout(() => this.refresh('recheck interval'), wait);
    this.#timer.unref();
  }

  #probeAll(): Promise<Topology> {
    if (this.#round) return this.#round;
    this.#round = (async () => {
      try {
        let t: Topology;
        do {
          this.#again = false;
          const results = await Promise.all(this.#hosts.map((h) => this.#probe(h)));
          t = this.#build(results);
          this.#publish(t);
        } while (this.#again && !this.#closed);
        return t;
      } finally {
        this.#round = undefined;
      }
    })();
    return this.#round;
  }

  #build(results: Array<{ h: HostState; row?: ProbeRow; error?: Error }>): Topology {
    const writable = results.filter((r) => r.row && !r.row.recovery);
    let primaryKey: string | undefined;
    if (writable.length === 1) primaryKey = nodeKey(writable[0].h);
    else if (writable.length > 1) {
      this.#emitError(
        new FailoverError(
          'TOPOLOGY_SOURCE',
          `more than one host accepts writes (${writable.map((r) => nodeKey(r.h)).join(', ')}): holding writes until only one does`,
        ),
      );
    }
    const primaryLsn = primaryKey ? writable[0].row?.lsn ?? null : null;
    const members: Member[] = results.map(({ h, row, error }) => {
      const key = nodeKey(h);
      if (!row) return { name: key, host: h.host, port: h.port, role: 'unknown', state: error ? 'unreachable' : 'unknown' };
      const m: Member = {
        name: key,
        host: h.host,
        port: h.port,
        role: row.recovery ? 'standby' : writable.length > 1 ? 'unknown' : 'primary',
        state: row.recovery ? 'streaming' : 'running',
      };
      if (row.lsn) m.replayLsn = row.lsn;
      if (row.recovery && row.lsn && primaryLsn) {
        const lag = parseLsn(primaryLsn) - parseLsn(row.lsn);
        m.lagBytes = lag > 0n ? Number(lag) : 0;
      }
      if (row.recovery) m.lagMillis = m.lagBytes === 0 ? 0 : Math.max(0, row.replay_age_ms ?? 0);
      return m;
    });
    const primary = primaryKey ? members.find((m) => nodeKey(m) === primaryKey) : undefined;
    return { primary, members, source: 'probe', observedAt: Date.now() };
  }

  #publish(t: Topology): void {
    const previous = this.#current;
    this.#current = t;
    const signature = t.members.map((m) => `${m.name}=${m.role}/${m.state}`).join(',') + `|${t.primary?.name ?? ''}`;
    if (signature !== this.#signature) {
      this.#signature = signature;
      debug('probe topology: primary=%s members=%s', t.primary?.name ?? 'none', signature);
      this.emit('change', t, previous);
    }
  }

  async #probe(h: HostState): Promise<{ h: HostState; row?: ProbeRow; error?: Error }> {
    const timeout = this.#options.probeTimeoutMillis;
    let timer: NodeJS.Timeout | undefined;
    try {
      const work = (async () => {
        const client = await this.#session(h);
        const res = await client.query<ProbeRow>(PROBE_SQL);
        return res.rows[0];
      })();
      work.catch(() => {});
      const row = await Promise.race([
        work,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new FailoverError('TIMEOUT', `probe of ${nodeKey(h)} took longer than ${timeout} ms`)), timeout);
        }),
      ]);
      return { h, row };
    } catch (err) {
      // A hung or dead node: drop its session so the next probe starts clean.
      debug('probe of %s failed: %s', nodeKey(h), (err as Error).message);
      void this.#dropClient(h);
      return { h, error: err as Error };
    } finally {
      if (timer) clearTimeout(timer);
    }
  }

  #session(h: HostState): Promise<pg.Client> {
    if (h.client) return Promise.resolve(h.client);
    if (h.connecting) return h.connecting;
    const config = { ...this.#options.configFor(h), host: h.host, port: h.port, application_name: 'pg-failover probe' };
    config.connectionTimeoutMillis = this.#options.probeTimeoutMillis;
    const client = new this.#options.Client(config);
    const lost = (why: string) => {
      if (h.client !== client) return;
      h.client = undefined;
      this.refresh(`monitoring session to ${nodeKey(h)} ${why}`);
    };
    client.on('error', (err) => {
      debug('probe session %s error: %s', nodeKey(h), err.message);
      lost('failed');
    });
    client.on('end', () => lost('ended'));
    h.connecting = client.connect().then(
      () => {
        h.connecting = undefined;
        if (this.#closed) {
          void client.end().catch(() => {});
          throw new FailoverError('POOL_ENDED', 'probe closed');
        }
        h.client = client;
        // PostgreSQL 14+ reports in_hot_standby changes (promotion) on every session.
        const conn = (client as unknown as { connection?: EventEmitter }).connection;
        conn?.on('parameterStatus', (msg: { parameterName: string; parameterValue: string }) => {
          if (msg.parameterName === 'in_hot_standby' || msg.parameterName === 'default_transaction_read_only') {
            this.refresh(`${nodeKey(h)} reported ${msg.parameterName}=${msg.parameterValue}`);
          }
        });
        return client;
      },
      (err) => {
        h.connecting = undefined;
        void client.end().catch(() => {});
        throw err;
      },
    );
    return h.connecting;
  }

  async #dropClient(h: HostState): Promise<void> {
    const c = h.client;
    h.client = undefined;
    if (!c) return;
    const stream = (c as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream;
    // A frozen server never answers Terminate: destroy the socket rather than wait.
    stream?.destroy();
    await c.end().catch(() => {});
  }

  #emitError(err: Error): void {
    debug('probe: %s', err.message);
    if (this.listenerCount('error')) this.emit('error', err);
  }
}
