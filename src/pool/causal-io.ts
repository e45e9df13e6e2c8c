/**
 * Where the routing engine's causal tracker (causal.ts) reads positions from: the primary's WAL
 * position and timeline, a standby's replay (each on a pooled session of the node's pool,
 * node-pools.ts), and the standbys and their timelines as the topology source reports them.
 */
import { FailoverError } from '../errors';
import { isNoLoadBalance, nodeKey, type Topology } from '../topology/topology';
import type { CausalIo } from './causal';
import type { NodePools } from './node-pools';

/** The timeline a primary writes on: the first 8 hex digits of its current WAL file's name. */
const PRIMARY_TIMELINE_SQL = "SELECT ('x' || substr(pg_catalog.pg_walfile_name(pg_catalog.pg_current_wal_lsn()), 1, 8))::bit(32)::int AS tli";

/** `current`: the topology as the source last reported it. */
export function causalIo(nodes: NodePools, current: () => Topology | undefined): CausalIo {
  return {
    primaryLsn: async () => {
      const p = current()?.primary;
      if (!p) throw new FailoverError('NO_PRIMARY', 'no primary known');
      const { rows } = await nodes.get(nodeKey(p)).pool.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn');
      return rows[0].lsn;
    },
    replayLsn: async (key) => {
      const { rows } = await nodes.get(key).pool.query<{ lsn: string | null }>('SELECT pg_last_wal_replay_lsn()::text AS lsn');
      return rows[0].lsn;
    },
    standbys: () => (current()?.members ?? []).filter((m) => m.role === 'standby' && m.state !== 'unreachable' && !isNoLoadBalance(m)).map(nodeKey),
    primaryTimeline: async (key) => {
      const { rows } = await nodes.get(key).pool.query<{ tli: number }>(PRIMARY_TIMELINE_SQL);
      return Number(rows[0]!.tli);
    },
    standbyFollows: (key, tli) => {
      const members = current()?.members ?? [];
      const m = members.find((x) => nodeKey(x) === key);
      if (m?.timeline !== undefined) return m.timeline >= tli;
      // No word on its timeline. From a source that tells timelines (Patroni, our manager) that
      // means the standby's own status is unknown (Patroni leaves it out while it runs crash
      // recovery, for one): not known to follow. From one that never does (probe): nothing against it.
      return !members.some((x) => x.timeline !== undefined);
    },
  };
}
