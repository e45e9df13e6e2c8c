/**
 * Patroni 3-shaped etcd values for tests that point a Pool's etcd source at
 * real nodes of the local cluster without running a manager.
 */
import type { LocalNode } from './cluster';

/** The JSON Patroni 3.0.2 writes to `members/<name>` for this node. */
export function patroniMemberValue(n: LocalNode, role: string, xlogLocation = 1): string {
  return JSON.stringify({
    conn_url: `postgres://${n.server.host}:${n.server.port}/postgres`,
    api_url: 'http://127.0.0.1:1/patroni',
    state: 'running',
    role,
    version: '3.0.2',
    xlog_location: xlogLocation,
    timeline: 1,
  });
}
