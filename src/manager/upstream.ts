/**
 * Who a member clones from and streams from: Patroni's `replicatefrom`,
 * `nostream` and `clonefrom` tags (`ha.py` `_get_node_to_follow`,
 * `Cluster.get_clone_member`, `Cluster._get_members_slots`), as pure
 * functions of one DCS snapshot so that every member (the follower itself, its
 * upstream and the leader, which keep the replication slots) reaches the same
 * answer from the same keys.
 */
import type { DcsSnapshot, MemberData } from './agent-view';

/** The tags that decide where a member's WAL comes from. */
export interface StreamTags {
  /** `replicatefrom`: the member to stream from instead of the leader (a cascading replica). */
  replicatefrom?: string;
  /** `nostream`: no WAL streaming at all; WAL comes from `restore_command` only. */
  nostream?: boolean;
}

/** Where a replica's WAL comes from. */
export type StreamSource =
  /** Stream from this member: the leader, or the `replicatefrom` member (`cascade`). */
  | { kind: 'member'; name: string; data: MemberData | undefined; cascade: boolean }
  /** `nostream`: recover from the archive only, no `primary_conninfo`. */
  | { kind: 'archive' }
  /** No leader key and no usable upstream: nothing to stream from. */
  | { kind: 'none' };

/** A member key's state that can serve WAL (`streaming` is what member keys of Patroni ≥ 3.0.4 may say). */
function isRunning(data: MemberData | undefined): boolean {
  return data?.state === 'running' || data?.state === 'streaming';
}

function truthy(v: unknown): boolean {
  return v === true || v === 'true' || v === 'on' || v === 'yes' || v === 1;
}

/** The stream tags a member publishes in its key. */
export function streamTagsOf(data: MemberData | undefined): StreamTags {
  const tags = data?.tags ?? {};
  const from = tags.replicatefrom;
  return { ...(typeof from === 'string' && from !== '' ? { replicatefrom: from } : {}), nostream: truthy(tags.nostream) };
}

/**
 * Patroni's `_get_node_to_follow` for member `self` with `tags`: nothing with
 * `nostream`; the `replicatefrom` member while its key is there; else the leader.
 *
 * Two additions to Patroni's rule, both so that a cascading replica is never
 * left without WAL while the leader has it: the upstream must also be running
 * (Patroni keeps following a member whose PostgreSQL is down, as long as its
 * manager keeps the key alive), and an upstream whose own chain of
 * `replicatefrom` leads back to `self` is ignored (two members naming each other
 * would both stop receiving WAL).
 */
export function streamSource(self: string, tags: StreamTags, snap: DcsSnapshot): StreamSource {
  if (tags.nostream) return { kind: 'archive' };
  const from = tags.replicatefrom;
  if (from && from !== self && from !== snap.leader) {
    const upstream = snap.members.find((m) => m.name === from);
    if (upstream && isRunning(upstream.data) && reachesLeader(self, from, snap)) return { kind: 'member', name: from, data: upstream.data, cascade: true };
  }
  if (!snap.leader || snap.leader === self) return { kind: 'none' };
  return { kind: 'member', name: snap.leader, data: snap.members.find((m) => m.name === snap.leader)?.data, cascade: false };
}

/** Does `start`'s chain of upstreams end somewhere other than at `self` (the leader, or a member without the tag)? */
function reachesLeader(self: string, start: string, snap: DcsSnapshot): boolean {
  const seen = new Set([self]);
  for (let name: string | undefined = start; name && name !== snap.leader; ) {
    if (seen.has(name)) return false;
    seen.add(name);
    const m = snap.members.find((x) => x.name === name);
    if (!m) return true;
    const t = streamTagsOf(m.data);
    if (t.nostream) return true;
    name = t.replicatefrom;
  }
  return true;
}

/**
 * Patroni's `get_clone_member`: a running member tagged `clonefrom` other than
 * `self` and the leader, chosen at random, else the leader (when its key and
 * member key are there and it runs).
 */
export function cloneSource(self: string, snap: DcsSnapshot, random: () => number = Math.random): { name: string; data: MemberData } | undefined {
  const candidates = snap.members.filter((m) => m.name !== self && m.name !== snap.leader && truthy(m.data.tags?.clonefrom) && isRunning(m.data) && m.data.conn_url);
  if (candidates.length) return candidates[Math.floor(random() * candidates.length)];
  const leader = snap.leader ? snap.members.find((m) => m.name === snap.leader) : undefined;
  return leader && leader.data.state === 'running' && leader.data.conn_url ? leader : undefined;
}

/** What a replica writes as its standby configuration: stream from a member, or recover from the archive. */
export type Upstream = { name: string; data: MemberData } | 'archive';

/** {@link streamSource} reduced to a standby configuration; undefined when the source has no `conn_url` (yet). */
export function upstreamFor(self: string, tags: StreamTags, snap: DcsSnapshot): Upstream | undefined {
  const src = streamSource(self, tags, snap);
  if (src.kind === 'archive') return 'archive';
  return src.kind === 'member' && src.data?.conn_url ? { name: src.name, data: src.data } : undefined;
}
