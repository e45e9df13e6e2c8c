/** True when a real Patroni can be found (tests comparing with Patroni skip without it). */
import { findPatroni } from '../../src/local/patroni-cluster';

export const havePatroni = (() => {
  try {
    findPatroni();
    return true;
  } catch {
    return false;
  }
})();
