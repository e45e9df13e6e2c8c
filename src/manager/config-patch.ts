/**
 * Patroni's merge of a PATCH /config body (and `patronictl edit-config -s/-p`) into the
 * dynamic configuration: mappings merge key by key, `null` deletes a key, anything else
 * replaces it (a new mapping is stored as given). Pure; the caller writes the result compare-and-set.
 */

export type ConfigTree = Record<string, unknown>;

const isMap = (v: unknown): v is ConfigTree => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Applies `patch` to a deep copy of `config`; `changed` says whether anything differs. */
export function patchConfig(config: ConfigTree, patch: ConfigTree): { config: ConfigTree; changed: boolean } {
  const out = structuredClone(config);
  const changed = apply(out, patch);
  return { config: out, changed };
}

/**
 * Patroni's `patch_config`, rule for rule: `null` pops the key; a mapping merges into a mapping that
 * is there; anything else — including a mapping where there was none — is stored as given, nulls
 * inside it kept (PATCH {"slots": {"s1": null}} on a config without `slots` makes a permanent
 * physical slot s1, which is how Patroni's own suite creates one).
 */
function apply(target: ConfigTree, patch: ConfigTree): boolean {
  let changed = false;
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) {
      if (k in target) {
        if (target[k] !== null && target[k] !== undefined) changed = true;
        delete target[k];
      }
    } else if (k in target && isMap(v) && isMap(target[k])) {
      if (apply(target[k] as ConfigTree, v)) changed = true;
    } else if (!(k in target) || JSON.stringify(target[k]) !== JSON.stringify(v)) {
      target[k] = structuredClone(v);
      changed = true;
    }
  }
  return changed;
}
