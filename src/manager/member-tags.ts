/**
 * The `tags` a member publishes in its key, as Patroni does (patroni/tags.py `_filter_tags`).
 */
import type { PatroniNodeConfig } from './config';

const BOOLEAN_TAGS = new Set(['nofailover', 'noloadbalance', 'clonefrom', 'nosync', 'nostream']);

/**
 * The `tags` a member publishes, as Patroni does: boolean tags only when true (`nosync: false`
 * too while `sync_priority` is set, both being needed to read the node), custom tags as given,
 * in the configuration file's order.
 */
export function memberTags(t: PatroniNodeConfig['tags']): Record<string, unknown> {
  const custom = Object.fromEntries(Object.entries(t.custom).filter(([k, v]) => !(BOOLEAN_TAGS.has(k) && !v)));
  const tags: Record<string, unknown> = {
    ...custom,
    ...(t.nofailover ? { nofailover: true } : {}),
    ...(t.noloadbalance ? { noloadbalance: true } : {}),
    ...(t.clonefrom ? { clonefrom: true } : {}),
    ...(t.replicatefrom !== undefined ? { replicatefrom: t.replicatefrom } : {}),
    ...(t.nostream ? { nostream: true } : {}),
    ...(t.nosync ? { nosync: true } : {}),
    ...(t.failoverPriority !== undefined ? { failover_priority: t.failoverPriority } : {}),
  };
  if (!t.nosync && 'sync_priority' in t.custom && t.order?.includes('nosync')) tags.nosync = false;
  return orderedLike(tags, t.order);
}

/** `tags` with its keys in `order` first (the configuration file's order), the rest after. */
function orderedLike(tags: Record<string, unknown>, order: readonly string[] | undefined): Record<string, unknown> {
  if (!order) return tags;
  const out: Record<string, unknown> = {};
  for (const k of order) if (k in tags) out[k] = tags[k];
  return Object.assign(out, tags);
}

