/**
 * Patroni's merge of a PATCH /config body (and `patronictl edit-config -s/-p`) into the
 * dynamic configuration: mappings merge key by key, `null` deletes a key, anything else
 * replaces it. Pure; the caller writes the result compare-and-set.
 */

export type ConfigTree = Record<string, unknown>;

const isMap = (v: unknown): v is ConfigTree => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Applies `patch` to a deep copy of `config`; `changed` says whether anything differs. */
export function patchConfig(config: ConfigTree, patch: ConfigTree): { config: ConfigTree; changed: boolean } {
  const out = structuredClone(config);
  const changed = apply(out, patch);
  return { config: out, changed };
}

function apply(target: ConfigTree, patch: ConfigTree): boolean {
  let changed = false;
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) {
      if (k in target) {
        delete target[k];
        changed = true;
      }
    } else if (isMap(v)) {
      if (!isMap(target[k])) {
        target[k] = {};
        changed = true;
      }
      if (apply(target[k] as ConfigTree, v)) changed = true;
    } else if (JSON.stringify(target[k]) !== JSON.stringify(v)) {
      target[k] = v;
      changed = true;
    }
  }
  return changed;
}
