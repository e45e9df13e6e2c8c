/**
 * Patroni's tag rules (its `Tags` class), in one place: which configured tags a member key
 * publishes, and how `nofailover` and `failover_priority` are read back from a member's tags.
 *
 * A member key carries the `tags` section as the node's configuration gives it — same order,
 * same values (`failover_priority: '1'` stays a string) — except that the boolean tags
 * (`clonefrom`, `nofailover`, `noloadbalance`, `nosync`, `nostream`) appear only when set,
 * and `nofailover` (`nosync`) also when false if `failover_priority` (`sync_priority`) is
 * configured beside it: a reader needs both to resolve a conflict. So a reader must not expect
 * `nofailover` for a node configured with `failover_priority: 0` alone; {@link tagNoFailover}
 * derives it like Patroni does.
 */

const BOOLEAN_TAGS = new Set(['clonefrom', 'nofailover', 'noloadbalance', 'nosync', 'nostream']);

/** The tags a member key publishes, from the `tags` section as configured (Patroni's `_filter_tags`). */
export function publishedTags(configured: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [tag, value] of Object.entries(configured)) {
    if (value === undefined) continue;
    const keep =
      !BOOLEAN_TAGS.has(tag) ||
      pythonTruthy(value) ||
      (tag === 'nofailover' && 'failover_priority' in configured) ||
      (tag === 'nosync' && 'sync_priority' in configured);
    if (keep) out[tag] = value;
  }
  return out;
}

/**
 * Whether a member with these tags may not be promoted: `nofailover` when given (it wins a
 * conflict), else a `failover_priority` of 0 or less (Patroni's `Tags.nofailover`).
 */
export function tagNoFailover(tags: Readonly<Record<string, unknown>> | undefined): boolean {
  const given = tags?.nofailover;
  if (given !== undefined && given !== null) return boolTag(given);
  const priority = intTag(tags?.failover_priority);
  return priority !== undefined && priority <= 0;
}

/** A member's failover priority: 0 when `nofailover`, else `failover_priority` (default 1) (Patroni's `Tags.failover_priority`). */
export function tagFailoverPriority(tags: Readonly<Record<string, unknown>> | undefined): number {
  if (tags?.nofailover !== undefined && tags.nofailover !== null && boolTag(tags.nofailover)) return 0;
  return intTag(tags?.failover_priority) ?? 1;
}

/** The node's tags as the agent holds them (config.ts `tags`), for {@link configuredTags}. */
export interface NodeTags {
  nofailover: boolean;
  noloadbalance: boolean;
  clonefrom: boolean;
  nosync: boolean;
  nostream: boolean;
  failoverPriority?: number;
  replicatefrom?: string;
  custom: Record<string, unknown>;
  asGiven?: Record<string, unknown>;
}

/**
 * The `tags` section to publish by {@link publishedTags}: the section as the file gave it (order,
 * `failover_priority: '1'` as a string), with the typed fields winning where they were changed
 * since (by code, not the file). A `nofailover` that is only derived from `failover_priority: 0`
 * is not added, as Patroni would not publish it.
 */
export function configuredTags(t: NodeTags): Record<string, unknown> {
  const given = t.asGiven ?? {};
  const out: Record<string, unknown> = { ...given, ...t.custom };
  const priorityGiven = intTag(given.failover_priority);
  if (t.failoverPriority !== undefined) out.failover_priority = priorityGiven === t.failoverPriority ? given.failover_priority : t.failoverPriority;
  else delete out.failover_priority;
  const derivedNoFailover = !('nofailover' in given) && t.failoverPriority !== undefined && t.failoverPriority <= 0;
  if ('nofailover' in given || (t.nofailover && !derivedNoFailover)) out.nofailover = boolTag(given.nofailover) === t.nofailover && 'nofailover' in given ? given.nofailover : t.nofailover;
  for (const k of ['noloadbalance', 'clonefrom', 'nosync', 'nostream'] as const) {
    if (k in given || t[k]) out[k] = boolTag(given[k]) === t[k] && k in given ? given[k] : t[k];
  }
  if (t.replicatefrom !== undefined) out.replicatefrom = t.replicatefrom;
  else delete out.replicatefrom;
  return out;
}

/** Python's truth of a YAML/JSON value (what Patroni's filter tests): '', 0, false, null, [] and {} are false. */
function pythonTruthy(v: unknown): boolean {
  if (v === null || v === undefined || v === false || v === 0 || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'object') return Object.keys(v).length > 0;
  return true;
}

/** A boolean tag read back: real booleans, and the words Patroni's `parse_bool` knows. */
function boolTag(v: unknown): boolean {
  if (typeof v === 'string') return ['true', 'on', 'yes', '1'].includes(v.trim().toLowerCase());
  return pythonTruthy(v);
}

/** An integer tag read back (`'2'` → 2); undefined when absent or not an integer. */
function intTag(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? Math.trunc(v) : undefined;
  if (typeof v === 'string' && /^\s*[-+]?\d+\s*$/.test(v)) return Number(v);
  return undefined;
}
