/**
 * A file in the data directory saying "this was a primary that stepped down: check for a
 * rewind before following anyone". A demoted primary that runs read-only (failsafe demotion)
 * has a `standby.signal` like any replica, so after a restart of the manager nothing else would
 * tell that its timeline may have forked off the new leader's — and PostgreSQL then refuses to
 * start on the new timeline ("requested timeline is not a child of this server's history").
 * Written before the read-only start, removed once the node follows a leader or is promoted.
 */
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The marker's file name inside the data directory. */
export const REWIND_MARKER = 'pgfailover.rewind_check';

/** Marks the data directory (best effort: a failure only loses the hint). */
export function markRewindCheck(dataDir: string): void {
  try {
    writeFileSync(join(dataDir, REWIND_MARKER), 'this node was a primary that stepped down: check for pg_rewind before following\n');
  } catch {
    /* read-only or gone: nothing to do */
  }
}

/** Whether the data directory carries the marker. */
export function hasRewindCheck(dataDir: string): boolean {
  return existsSync(join(dataDir, REWIND_MARKER));
}

/** Removes the marker. */
export function clearRewindCheck(dataDir: string): void {
  rmSync(join(dataDir, REWIND_MARKER), { force: true });
}
