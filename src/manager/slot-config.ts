/**
 * The replication-slot settings of the dynamic configuration, read the way Patroni 4 reads them
 * (`global_config.permanent_slots`, `ignore_slots_matchers`, `member_slots_ttl`, and the value
 * rules of `Cluster._merge_permanent_slots`), pure:
 *
 * - `slots` (also spelled `permanent_slots` / `permanent_replication_slots`): a mapping of slot
 *   name → `0`/`null`/`{}`/`{type: physical}` (a permanent physical slot) or
 *   `{type: logical, database, plugin}` (a permanent logical slot; `type` may be left out when
 *   both `database` and `plugin` are given). Names are PostgreSQL slot names: `[a-z0-9_]{1,63}`.
 * - `ignore_slots`: a list of matchers, each any subset of `name`, `type`, `database`, `plugin`;
 *   a slot that every given attribute matches is never dropped by the manager.
 * - `member_slots_ttl`: how long the leader keeps the slot of a member that left (Patroni 4.0;
 *   seconds, or a number with a unit `ms`/`s`/`min`/`h`/`d`; default `30min`; `0` turns the
 *   retention off and keeps member slots only where the member streams from).
 *
 * Whatever Patroni would skip with an error line is a {@link SlotConfigProblem} here: the YAML
 * validator refuses it at startup, PATCH/PUT /config answers 400, and a value written straight
 * into etcd is skipped with a log line (Patroni's behaviour).
 */

/** A permanent slot as configured. */
export type PermanentSlot = { type: 'physical' } | { type: 'logical'; database: string; plugin: string };

/** One `ignore_slots` entry: every attribute given must equal the slot's. */
export interface SlotMatcher {
  name?: string;
  type?: string;
  database?: string;
  plugin?: string;
}

/** One invalid slot setting: the key path and what Patroni accepts there. */
export interface SlotConfigProblem {
  key: string;
  message: string;
}

/** The slot settings of one `config` value. */
export interface SlotSettings {
  /** Permanent slots by name (invalid entries left out). */
  permanent: Map<string, PermanentSlot>;
  /** `ignore_slots` matchers (invalid entries left out). */
  ignore: SlotMatcher[];
  /** `member_slots_ttl` in seconds (1800 when unset or invalid). */
  memberSlotsTtlSeconds: number;
  /** What was left out, and why. */
  problems: SlotConfigProblem[];
}

/** The dynamic-configuration keys this module reads. */
export const SLOT_KEYS = ['slots', 'permanent_slots', 'permanent_replication_slots', 'ignore_slots', 'member_slots_ttl'] as const;

/** Patroni's default `member_slots_ttl`: 30 minutes. */
export const DEFAULT_MEMBER_SLOTS_TTL_SECONDS = 1800;

const SLOT_NAME = /^[a-z0-9_]{1,63}$/;
const MATCHER_KEYS = ['name', 'type', 'database', 'plugin'] as const;
const TIME_UNITS: Record<string, number> = { ms: 0.001, s: 1, min: 60, h: 3600, d: 86400 };

/** Python's truthiness, which Patroni's `if not value` applies to a slot's value. */
function falsy(v: unknown): boolean {
  if (v === null || v === undefined || v === false || v === 0 || v === '') return true;
  if (Array.isArray(v)) return v.length === 0;
  return typeof v === 'object' && Object.keys(v as object).length === 0;
}

function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Which key holds the permanent slots: Patroni reads the first non-empty of these. */
function permanentKey(config: Record<string, unknown>): 'permanent_replication_slots' | 'permanent_slots' | 'slots' {
  if (!falsy(config.permanent_replication_slots)) return 'permanent_replication_slots';
  if (!falsy(config.permanent_slots)) return 'permanent_slots';
  return 'slots';
}

/**
 * One permanent slot's value → the slot, or the reason it is not one (Patroni's
 * `_merge_permanent_slots`: a falsy value or a mapping; `type` defaults to logical when both
 * `database` and `plugin` are there, else physical).
 */
export function permanentSlotOf(value: unknown): PermanentSlot | string {
  if (falsy(value)) return { type: 'physical' };
  if (!isMap(value)) return 'must be 0, null, {type: physical} or {type: logical, database: <name>, plugin: <output plugin>}';
  const database = value.database;
  const plugin = value.plugin;
  const type = value.type ?? (database && plugin ? 'logical' : 'physical');
  if (type === 'physical') return { type: 'physical' };
  if (type !== 'logical') return `type must be physical or logical, got ${JSON.stringify(type)}`;
  if (typeof database !== 'string' || database === '' || typeof plugin !== 'string' || plugin === '') {
    return 'a logical slot needs database and plugin (non-empty strings), e.g. {type: logical, database: postgres, plugin: pgoutput}';
  }
  return { type: 'logical', database, plugin };
}

/** `member_slots_ttl` → seconds, or undefined when it is not an integer ≥ 0 with an optional time unit. */
export function parseMemberSlotsTtl(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) && v >= 0 ? Math.round(v) : undefined;
  if (typeof v !== 'string') return undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|min|h|d)?\s*$/.exec(v);
  if (!m) return undefined;
  return Math.round(Number(m[1]) * TIME_UNITS[m[2] ?? 's']!);
}

/**
 * The slot settings of a `config` value (or of `bootstrap.dcs`); `path` prefixes the key paths
 * of the problems (e.g. `bootstrap.dcs.`).
 */
export function slotSettingsOf(config: Record<string, unknown>, path = ''): SlotSettings {
  const problems: SlotConfigProblem[] = [];
  const permanent = new Map<string, PermanentSlot>();
  const key = permanentKey(config);
  const raw = config[key];
  if (!falsy(raw)) {
    if (!isMap(raw)) problems.push({ key: `${path}${key}`, message: `${path}${key} must be a mapping of slot name to slot (e.g. {my_slot: {type: physical}}), got ${Array.isArray(raw) ? 'a list' : typeof raw}` });
    else {
      for (const [name, value] of Object.entries(raw)) {
        const at = `${path}${key}.${name}`;
        if (!SLOT_NAME.test(name)) {
          problems.push({ key: at, message: `${at}: a replication slot name may contain only lower-case letters, digits and underscores (1 to 63 of them)` });
          continue;
        }
        const slot = permanentSlotOf(value);
        if (typeof slot === 'string') problems.push({ key: at, message: `${at}: ${slot}` });
        else permanent.set(name, slot);
      }
    }
  }
  const ignore: SlotMatcher[] = [];
  const rawIgnore = config.ignore_slots;
  if (rawIgnore !== undefined && rawIgnore !== null) {
    if (!Array.isArray(rawIgnore)) problems.push({ key: `${path}ignore_slots`, message: `${path}ignore_slots must be a list of matchers, each any of name, type, database, plugin (e.g. [{name: my_slot}, {type: logical, plugin: pgoutput}])` });
    else {
      rawIgnore.forEach((item, i) => {
        const at = `${path}ignore_slots[${i}]`;
        if (!isMap(item)) {
          problems.push({ key: at, message: `${at} must be a mapping of any of name, type, database, plugin` });
          return;
        }
        const matcher: SlotMatcher = {};
        let bad = false;
        for (const [k, v] of Object.entries(item)) {
          if (!(MATCHER_KEYS as readonly string[]).includes(k)) {
            problems.push({ key: `${at}.${k}`, message: `${at}.${k} is not a slot attribute; a matcher may name only name, type, database, plugin` });
            bad = true;
          } else if (v !== null && v !== undefined && typeof v !== 'string') {
            problems.push({ key: `${at}.${k}`, message: `${at}.${k} must be a string` });
            bad = true;
          } else if (k === 'type' && v && v !== 'physical' && v !== 'logical') {
            problems.push({ key: `${at}.type`, message: `${at}.type must be physical or logical, got ${JSON.stringify(v)}` });
            bad = true;
          } else if (typeof v === 'string' && v !== '') matcher[k as (typeof MATCHER_KEYS)[number]] = v;
        }
        if (!bad) ignore.push(matcher);
      });
    }
  }
  let memberSlotsTtlSeconds = DEFAULT_MEMBER_SLOTS_TTL_SECONDS;
  const ttl = config.member_slots_ttl;
  if (ttl !== undefined && ttl !== null) {
    const seconds = parseMemberSlotsTtl(ttl);
    if (seconds === undefined) problems.push({ key: `${path}member_slots_ttl`, message: `${path}member_slots_ttl must be a duration ≥ 0: seconds or a number with a unit (ms, s, min, h, d), e.g. 30min; 0 turns member slot retention off` });
    else memberSlotsTtlSeconds = seconds;
  }
  return { permanent, ignore, memberSlotsTtlSeconds, problems };
}

/** The slot as `ignore_slots` sees it. */
export interface SlotAttributes {
  name: string;
  type: string;
  database?: string | null;
  plugin?: string | null;
}

/** Does an `ignore_slots` matcher cover this slot (Patroni's `ignore_replication_slot`: every attribute the matcher gives must be equal)? */
export function isIgnored(matchers: readonly SlotMatcher[], slot: SlotAttributes): boolean {
  return matchers.some(
    (m) => (m.name === undefined || m.name === slot.name) && (['database', 'plugin', 'type'] as const).every((a) => !m[a] || m[a] === slot[a]),
  );
}
