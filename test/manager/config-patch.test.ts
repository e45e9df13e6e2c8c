/**
 * PATCH /config merges like Patroni's patch_config (patroni/utils.py), rule for rule — pure, no servers.
 * Regression: a new mapping's nulls were dropped, so PATCH {"slots": {"dcs_slot_1": null}} (how
 * Patroni's dcs_failsafe_mode feature makes a permanent physical slot) created no slot.
 */
import { describe, expect, it } from 'vitest';
import { patchConfig } from '../../src/manager/config-patch';

describe('patchConfig (Patroni patch_config)', () => {
  it('a mapping where there was none is stored as given, nulls inside kept', () => {
    const r = patchConfig({ ttl: 30 }, { slots: { dcs_slot_1: null, postgres_0: null } });
    expect(r.config).toEqual({ ttl: 30, slots: { dcs_slot_1: null, postgres_0: null } });
    expect(r.changed).toBe(true);
  });

  it('a mapping merges into an existing mapping, where null pops a key', () => {
    const r = patchConfig({ slots: { a: null, b: { type: 'physical' } } }, { slots: { a: null, c: { type: 'logical', database: 'postgres', plugin: 'test_decoding' } } });
    expect(r.config).toEqual({ slots: { b: { type: 'physical' }, c: { type: 'logical', database: 'postgres', plugin: 'test_decoding' } } });
    expect(r.changed).toBe(true);
  });

  it('null pops a top-level key; popping what is absent (or null) changes nothing', () => {
    expect(patchConfig({ pause: true, ttl: 30 }, { pause: null })).toEqual({ config: { ttl: 30 }, changed: true });
    expect(patchConfig({ ttl: 30 }, { pause: null })).toEqual({ config: { ttl: 30 }, changed: false });
  });

  it('a scalar replaces; the same value is no change; a mapping replaces a scalar whole', () => {
    expect(patchConfig({ ttl: 30 }, { ttl: 20 })).toEqual({ config: { ttl: 20 }, changed: true });
    expect(patchConfig({ ttl: 30 }, { ttl: 30 }).changed).toBe(false);
    expect(patchConfig({ standby_cluster: 'x' }, { standby_cluster: { host: 'h', port: null } }).config).toEqual({ standby_cluster: { host: 'h', port: null } });
  });

  it('never modifies its inputs', () => {
    const base = { postgresql: { parameters: { a: 1 } } };
    const patch = { postgresql: { parameters: { b: 2 } } };
    const r = patchConfig(base, patch);
    expect(base).toEqual({ postgresql: { parameters: { a: 1 } } });
    (r.config.postgresql as { parameters: Record<string, unknown> }).parameters.c = 3;
    expect(patch).toEqual({ postgresql: { parameters: { b: 2 } } });
  });
});
