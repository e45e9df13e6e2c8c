/**
 * One short superuser session to another member's PostgreSQL (the address in its `conn_url`),
 * for the few things a node must ask a peer directly: whether the leader has created our slot,
 * a timeline history file. Bounded: 2 s to connect, 2 s per query; always closed.
 */
import pg from 'pg';
import { parseConnUrl } from '../patroni-contract';

/** Who to log in as: the node's own superuser credentials (the same on every member, as Patroni assumes). */
export interface PeerCredentials {
  superuser: string;
  password?: string;
}

/**
 * Runs `fn` on a fresh session to the member at `connUrl`; undefined when the URL names no address.
 * Connection and query errors reject (the caller decides what a silent peer means).
 */
export async function withPeerSession<T>(creds: PeerCredentials, connUrl: unknown, fn: (client: pg.Client) => Promise<T>): Promise<T | undefined> {
  const addr = parseConnUrl(connUrl);
  if (!addr) return undefined;
  const client = new pg.Client({ host: addr.host, port: addr.port, user: creds.superuser, password: creds.password, database: 'postgres', connectionTimeoutMillis: 2000, query_timeout: 2000 });
  client.on('error', () => {});
  try {
    await client.connect();
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}
