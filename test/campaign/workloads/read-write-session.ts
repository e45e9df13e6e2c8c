/**
 * What a typical non-pg-failover app does to find the primary, since
 * node-postgres (8.x) takes neither a multi-host connection string nor
 * `target_session_attrs`: the hosts of a libpq multi-host string, tried in
 * order, each with a short connect timeout, keeping the first session where
 * `SHOW transaction_read_only` is `off` (libpq's `target_session_attrs=read-write`).
 */
import type pg from 'pg';
import { plainClient } from './common';

export interface HostPort {
  host: string;
  port: number;
}

/**
 * The hosts of a libpq multi-host URL (`postgresql://user@h1:5432,h2:5433/db?…`),
 * in order, and its `target_session_attrs` (libpq's default `any` when absent).
 */
export function parseMultiHostUrl(url: string): { hosts: HostPort[]; targetSessionAttrs: string } {
  const m = /^postgres(?:ql)?:\/\/(?:[^@/]*@)?([^/?]+)(?:\/[^?]*)?(?:\?(.*))?$/.exec(url);
  if (!m) throw new Error(`not a postgresql:// URL with hosts: ${JSON.stringify(url.replace(/:[^@/]*@/, ':***@'))}`);
  const hosts = m[1]!.split(',').map((hp) => {
    const i = hp.lastIndexOf(':');
    const host = i < 0 ? hp : hp.slice(0, i);
    const port = i < 0 ? 5432 : Number(hp.slice(i + 1));
    if (!host || !Number.isInteger(port) || port <= 0 || port > 65535) throw new Error(`bad host:port ${JSON.stringify(hp)} in a multi-host URL`);
    return { host, port };
  });
  const targetSessionAttrs = new URLSearchParams(m[2] ?? '').get('target_session_attrs') ?? 'any';
  return { hosts, targetSessionAttrs };
}

export interface ReadWriteSessionOptions {
  /** Source address of every socket (the campaign's client address, so "client cut off" faults cut it). */
  localAddress?: string;
  /** Per host, for the connection and the `SHOW` (default 1000). */
  connectTimeoutMillis?: number;
  /** pg's client-side `query_timeout` of the session kept (default none). */
  queryTimeoutMillis?: number;
}

/**
 * One pass over `hosts` in order: the first session that is not read-only,
 * or undefined when none is (every other session is closed).
 */
export async function connectReadWrite(hosts: readonly HostPort[], o: ReadWriteSessionOptions = {}): Promise<pg.Client | undefined> {
  const timeout = o.connectTimeoutMillis ?? 1000;
  for (const h of hosts) {
    const client = plainClient(h.host, h.port, o.localAddress, timeout, o.queryTimeoutMillis);
    try {
      await client.connect();
      // pg types QueryConfig without its per-query query_timeout, which pg honours
      const show = { text: 'SHOW transaction_read_only', query_timeout: timeout } as pg.QueryConfig;
      const { rows } = await client.query<{ transaction_read_only: string }>(show);
      if (rows[0]?.transaction_read_only === 'off') return client;
    } catch {
      /* down, cut off or frozen: the next host */
    }
    discard(client);
  }
  return undefined;
}

/** Closes a session without waiting (a frozen server never answers the goodbye). */
export function discard(client: pg.Client | undefined): void {
  void client?.end().catch(() => {});
}
