/**
 * How our etcd clients (the manager's DCS, the pool's etcd topology source)
 * react to etcd faults. etcd3's defaults suit a request/response app, not
 * failover: its per-host circuit breaker opens after 3 failed calls and then
 * refuses every call for 5 s, even with a single host that is back (etcd
 * frozen 3 s and thawed: the first call answered 4.3 s after SIGCONT,
 * measured, test/manager/dcs.test.ts) — a leader could lose its lease to its
 * own client; and its watch reconnects back off up to 30 s. Here the breaker
 * tries a host again after ETCD_HOST_RETRY_AFTER_MILLIS, and watch
 * reconnects back off from 100 ms to 1 s. etcd3's global retry (3 attempts on
 * recoverable errors) is kept.
 */
import { circuitBreaker, ConsecutiveBreaker, ExponentialBackoff, handleWhen } from 'cockatiel';
import type { IOptions } from 'etcd3';
import { etcd3 } from './etcd3-lazy';

type WatchBackoff = NonNullable<NonNullable<IOptions['faultHandling']>['watchBackoff']>;

/** After 3 failed calls in a row, a host is skipped for this long, then tried again. */
export const ETCD_HOST_RETRY_AFTER_MILLIS = 1000;

/**
 * etcd3 `faultHandling` options for a client that must notice etcd's return at once.
 * `skipAfterFailures` (default 3): failed calls in a row after which a host is skipped for
 * ETCD_HOST_RETRY_AFTER_MILLIS. With several members, 1 suits a client whose calls have a short
 * bound: a silent member is then not picked again by the very next attempt.
 */
export function etcdFaultHandling(options: { skipAfterFailures?: number } = {}): NonNullable<IOptions['faultHandling']> {
  const failures = options.skipAfterFailures ?? 3;
  return {
    host: () => circuitBreaker(handleWhen((e) => etcd3().isRecoverableError(e)), { halfOpenAfter: ETCD_HOST_RETRY_AFTER_MILLIS, breaker: new ConsecutiveBreaker(failures) }),
    // etcd3 calls .next() on it for each reconnect chain, as on its own default (a cockatiel ExponentialBackoff);
    // its type names the older IBackoff shape, hence the cast.
    watchBackoff: new ExponentialBackoff({ initialDelay: 100, maxDelay: 1000 }) as unknown as WatchBackoff,
  };
}
