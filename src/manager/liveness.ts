/**
 * GET /liveness, Patroni's rule: 200 while the HA loop ran within `ttl` seconds on a primary
 * (or standby leader) and within 2 × `ttl` on a replica, whose stall hurts nobody as fast;
 * always 200 in maintenance mode (`pause`), where a stuck loop must not get the node restarted.
 * The clock starts when the agent starts, so a replica busy with its first clone is live.
 */
export interface LivenessInput {
  /** Date.now() when the HA loop last completed a cycle (or the agent started). */
  lastCycleAt: number;
  now: number;
  ttlSeconds: number;
  /** This node holds the leader key. */
  leader: boolean;
  paused: boolean;
}

export function livenessStatusCode(input: LivenessInput): 200 | 503 {
  if (input.paused) return 200;
  if (!Number.isFinite(input.lastCycleAt) || input.lastCycleAt <= 0) return 503;
  const threshold = input.ttlSeconds * 1000 * (input.leader ? 1 : 2);
  return input.now - input.lastCycleAt <= threshold ? 200 : 503;
}
