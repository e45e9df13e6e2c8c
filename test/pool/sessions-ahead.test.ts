/**
 * SessionsAhead's loop (src/pool/sessions-ahead.ts), on its hooks alone: it opens what is missing
 * and stops, keeps trying a node that refuses at a bounded pace, never spins when an open adds
 * nothing (pg.Pool hands out an idle session before it opens one: the first version looped
 * without yielding and starved the event loop), and stops once the node is no longer wanted.
 * The real-server behaviour is in test/topology/sessions-ahead.test.ts.
 */
import { describe, it, expect } from 'vitest';
import { AHEAD_RETRY_MILLIS, SessionsAhead } from '../../src/pool/sessions-ahead';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function harness(o: { wanted: number; open: (n: number, s: { sessions: number }) => Promise<void> }) {
  const state = { sessions: 0, wanted: o.wanted, calls: [] as number[] };
  const ahead = new SessionsAhead({
    sessions: () => state.sessions,
    wanted: () => state.wanted,
    open: (_key, n) => {
      state.calls.push(n);
      return o.open(n, state);
    },
  });
  return { state, ahead };
}

describe('SessionsAhead', () => {
  it('opens the missing sessions in one round and stops', async () => {
    const { state, ahead } = harness({ wanted: 4, open: async (n, s) => void (s.sessions += n) });
    state.sessions = 1;
    ahead.poke('n1:5432');
    ahead.poke('n1:5432'); // already under way: no second run
    await sleep(AHEAD_RETRY_MILLIS * 3);
    expect(state.calls).toEqual([3]);
    expect(state.sessions).toBe(4);
    expect(ahead.pending).toBe(0);
  });

  it('tries a node that refuses again, at most every AHEAD_RETRY_MILLIS, until it accepts', async () => {
    let refuse = true;
    const { state, ahead } = harness({ wanted: 2, open: async (n, s) => { if (refuse) throw new Error('connect ECONNREFUSED'); s.sessions += n; } });
    ahead.poke('n0:5432');
    await sleep(AHEAD_RETRY_MILLIS * 6);
    const tries = state.calls.length;
    expect(tries).toBeGreaterThanOrEqual(2);
    expect(tries).toBeLessThanOrEqual(8);
    refuse = false;
    await sleep(AHEAD_RETRY_MILLIS * 3);
    expect(state.sessions).toBe(2);
    expect(ahead.pending).toBe(0);
  });

  it('does not spin when an open adds no session', async () => {
    const { state, ahead } = harness({ wanted: 3, open: async () => {} });
    ahead.poke('n2:5432');
    const t = Date.now();
    await sleep(AHEAD_RETRY_MILLIS * 6);
    const elapsed = Date.now() - t;
    expect(state.calls.length).toBeLessThanOrEqual(Math.ceil(elapsed / AHEAD_RETRY_MILLIS) + 1);
    state.wanted = 0; // no longer wanted: the run ends
    await sleep(AHEAD_RETRY_MILLIS * 3);
    expect(ahead.pending).toBe(0);
  });

  it('does nothing when nothing is missing', async () => {
    const { state, ahead } = harness({ wanted: 0, open: async () => {} });
    ahead.poke('n0:5432');
    await sleep(AHEAD_RETRY_MILLIS * 2);
    expect(state.calls).toEqual([]);
  });
});
