/**
 * The node state union and its transition rule (pure): which Patroni callbacks each move fires,
 * and that impossible moves throw INTERNAL_STATE instead of being carried out.
 */
import { describe, expect, it } from 'vitest';
import { isFailoverError } from '../../src/errors';
import { NodeStateMachine, transition, type CallbackCall } from '../../src/manager/node-state';

function machine() {
  const fired: CallbackCall[] = [];
  const m = new NodeStateMachine((c) => fired.push(c));
  return { m, fired };
}

describe('node state transitions', () => {
  it('first start as a replica fires on_start replica; promotion fires on_role_change primary', () => {
    const { m, fired } = machine();
    m.moveTo({ role: 'replica', following: 'n0' });
    m.moveTo({ role: 'primary' });
    expect(fired).toEqual([
      { action: 'on_start', role: 'replica' },
      { action: 'on_role_change', role: 'primary' },
    ]);
  });

  it('a primary that is demoted fires on_stop primary; rejoining as a replica fires on_role_change replica', () => {
    const { m, fired } = machine();
    m.moveTo({ role: 'primary' });
    m.moveTo({ role: 'demoted' });
    m.moveTo({ role: 'replica', following: 'n1' });
    expect(fired).toEqual([
      { action: 'on_start', role: 'primary' },
      { action: 'on_stop', role: 'primary' },
      { action: 'on_role_change', role: 'replica' },
    ]);
  });

  it('a fenced primary that starts again as the primary fires on_start primary (same role, back from demoted)', () => {
    const { m, fired } = machine();
    m.moveTo({ role: 'primary' });
    m.moveTo({ role: 'demoted' });
    m.moveTo({ role: 'primary' });
    expect(fired.map((c) => c.action)).toEqual(['on_start', 'on_stop', 'on_start']);
  });

  it('staying in a role fires nothing, and a replica re-pointed keeps its role silently', () => {
    const { m, fired } = machine();
    m.moveTo({ role: 'replica', following: 'n0' });
    m.moveTo({ role: 'replica', following: 'n0' });
    m.follow('n2');
    expect(m.following).toBe('n2');
    expect(fired).toEqual([{ action: 'on_start', role: 'replica' }]);
  });

  it('stopping fires on_stop with the role left; stopping from uninitialized fires nothing', () => {
    const a = machine();
    a.m.moveTo({ role: 'replica', following: undefined });
    a.m.moveTo({ role: 'stopped' });
    expect(a.fired.at(-1)).toEqual({ action: 'on_stop', role: 'replica' });
    const b = machine();
    b.m.moveTo({ role: 'stopped' });
    expect(b.fired).toEqual([]);
  });

  it('only a replica has something it follows', () => {
    const { m } = machine();
    m.moveTo({ role: 'primary' });
    expect(m.following).toBeUndefined();
    expect(m.state).toEqual({ role: 'primary' });
  });

  it('refuses impossible moves with INTERNAL_STATE and leaves the state as it was', () => {
    for (const [from, to] of [
      ['replica', 'demoted'],
      ['uninitialized', 'demoted'],
      ['primary', 'uninitialized'],
    ] as const) {
      let err: unknown;
      try {
        transition(from, to, undefined);
      } catch (e) {
        err = e;
      }
      expect(isFailoverError(err) && err.code).toBe('INTERNAL_STATE');
    }
    const { m, fired } = machine();
    m.moveTo({ role: 'replica', following: 'n0' });
    expect(() => m.moveTo({ role: 'demoted' })).toThrow(/no transition from replica to demoted/);
    expect(m.role).toBe('replica');
    expect(() => machine().m.follow('n0')).toThrow(/cannot follow/);
    expect(fired.length).toBe(1);
  });

  it('a crashed primary that fails to start fires on_role_change demoted (not on_stop), then rejoining fires on_role_change replica', () => {
    const { m, fired } = machine();
    m.moveTo({ role: 'primary' });
    m.failedToStart();
    expect(m.role).toBe('demoted');
    m.moveTo({ role: 'replica', following: 'n1' });
    expect(fired).toEqual([
      { action: 'on_start', role: 'primary' },
      { action: 'on_role_change', role: 'demoted' },
      { action: 'on_role_change', role: 'replica' },
    ]);
    expect(() => m.failedToStart()).toThrow(/no transition from replica to demoted/);
  });

  it('standby cluster: replica → standby_leader → replica fire on_role_change each way; a standby leader may be demoted (switchover)', () => {
    const { m, fired } = machine();
    m.moveTo({ role: 'replica', following: 'n0' });
    m.moveTo({ role: 'standby_leader', source: 'remote' });
    m.moveTo({ role: 'demoted' });
    m.moveTo({ role: 'replica', following: 'n2' });
    m.moveTo({ role: 'standby_leader', source: 'remote' });
    m.moveTo({ role: 'primary' });
    expect(fired.map((c) => `${c.action} ${c.role}`)).toEqual([
      'on_start replica',
      'on_role_change standby_leader',
      'on_stop standby_leader',
      'on_role_change replica',
      'on_role_change standby_leader',
      'on_role_change primary',
    ]);
  });
});
