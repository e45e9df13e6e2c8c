/**
 * Connecting like libpq: walk the hosts of a multi-host connection string in
 * order (or shuffled with `load_balance_hosts=random`), give each host
 * `connect_timeout`, keep the first session that satisfies
 * `target_session_attrs` (with libpq's second pass for `prefer-standby`),
 * and when every host fails, throw one error that lists each host and why.
 */
import pg from 'pg';
import createDebug from 'debug';
import { FailoverError } from '../errors';
import { captureParameterStatus, sessionMatches, type TargetSessionAttrs } from './session-attrs';

const debug = createDebug('pg-failover:connect');

export interface HostCandidate {
  host: string;
  port: number;
}

export interface WalkPlan {
  hosts: readonly HostCandidate[];
  targetSessionAttrs: TargetSessionAttrs;
  loadBalanceHosts: 'disable' | 'random';
  /** The pg.ClientConfig for the i-th host (connect timeout included). */
  configFor(index: number): pg.ClientConfig;
  /** Builds the pg.Client; injectable (e.g. to share type overrides). */
  makeClient?: (config: pg.ClientConfig) => pg.Client;
  /** Try the next host in parallel after this long without an answer (happy eyeballs). Default 250; Infinity: one at a time. */
  staggerMillis?: number;
}

export interface HostAttempt {
  host: string;
  port: number;
  /** Why this host was not used. */
  reason: string;
  /** SQLSTATE or Node error code of the failure, when there was one. */
  errorCode?: string;
}

export interface Connected {
  client: pg.Client;
  index: number;
  /** ParameterStatus values the server reported (in_hot_standby, server_version …), kept up to date. */
  parameters: Map<string, string>;
}

/** Happy-eyeballs delay (RFC 8305's "Connection Attempt Delay"): the next host is tried in parallel after this long. */
export const DEFAULT_STAGGER_MILLIS = 250;

type Try = { ok: Connected } | { fail: HostAttempt; givesUp: boolean };

/**
 * Connects per the plan; throws NO_HOST_AVAILABLE listing every attempt.
 *
 * The outcome is libpq's — hosts are considered in order (or shuffled order),
 * the first that connects and matches wins, and a failure libpq gives up on
 * ends the walk — but the walk does not wait out each dead host in turn:
 * while a host has not answered, the next one is tried in parallel every
 * `staggerMillis` (happy eyeballs). A later host that answers first is kept
 * only once every earlier one has failed; the others are closed.
 */
export async function connectFirstMatching(plan: WalkPlan): Promise<Connected> {
  const order = plan.hosts.map((_, i) => i);
  if (plan.loadBalanceHosts === 'random') shuffle(order);
  const attempts: HostAttempt[] = [];
  const passes: TargetSessionAttrs[] = plan.targetSessionAttrs === 'prefer-standby' ? ['standby', 'any'] : [plan.targetSessionAttrs];
  for (const attrs of passes) {
    const outcome = await walkPass(plan, order, attrs, attempts);
    if (outcome === 'give-up') break;
    if (outcome) {
      debug('connected to %s:%d (target_session_attrs=%s)', plan.hosts[outcome.index]!.host, plan.hosts[outcome.index]!.port, plan.targetSessionAttrs);
      return outcome;
    }
  }
  const list = attempts.map((a) => `  ${a.host}:${a.port}: ${a.reason}`).join('\n');
  throw new FailoverError('NO_HOST_AVAILABLE', `could not connect to any host (target_session_attrs=${plan.targetSessionAttrs}):\n${list}`, {
    detail: { attempts },
  });
}

/** One pass over the hosts in `order`: the first match, 'give-up', or undefined when none matched. */
async function walkPass(plan: WalkPlan, order: readonly number[], attrs: TargetSessionAttrs, attempts: HostAttempt[]): Promise<Connected | 'give-up' | undefined> {
  const stagger = plan.staggerMillis ?? DEFAULT_STAGGER_MILLIS;
  const tries: Array<Promise<Try>> = [];
  const launch = () => {
    const index = order[tries.length]!;
    tries.push(tryHost(plan, index, attrs));
  };
  const closeAfter = (k: number) => {
    for (const t of tries.slice(k + 1)) void t.then((r) => ('ok' in r ? r.ok.client.end().catch(() => {}) : undefined));
  };
  for (let k = 0; k < order.length; k++) {
    while (tries.length <= k) launch();
    let result: Try | undefined;
    while (!result) {
      const canLaunch = tries.length < order.length && Number.isFinite(stagger);
      if (!canLaunch) {
        result = await tries[k]!;
        break;
      }
      let timer: NodeJS.Timeout | undefined;
      const tick = new Promise<undefined>((resolve) => {
        timer = setTimeout(() => resolve(undefined), stagger);
      });
      result = await Promise.race([tries[k]!, tick]);
      clearTimeout(timer);
      if (!result) launch(); // host k is slow: try the next one alongside
    }
    if ('ok' in result) {
      closeAfter(k);
      return result.ok;
    }
    attempts.push(result.fail);
    if (result.givesUp) {
      closeAfter(k);
      return 'give-up';
    }
  }
  return undefined;
}

/** Connects to one host and checks target_session_attrs; a client that is not kept is closed. */
async function tryHost(plan: WalkPlan, index: number, attrs: TargetSessionAttrs): Promise<Try> {
  const candidate = plan.hosts[index]!;
  const config = plan.configFor(index);
  const client = plan.makeClient ? plan.makeClient(config) : new pg.Client(config);
  const parameters = captureParameterStatus(client);
  const swallow = () => {};
  client.on('error', swallow); // an error while we are still deciding must not escape
  try {
    await client.connect();
  } catch (e) {
    const err = e as Error & { code?: string };
    debug('%s:%d: %s', candidate.host, candidate.port, err.message);
    await client.end().catch(() => {});
    return { fail: { ...candidate, reason: describeConnectError(err, config), errorCode: err.code }, givesUp: libpqGivesUp(err) };
  }
  let ok = false;
  try {
    ok = await sessionMatches(client, parameters, attrs);
  } catch (e) {
    const err = e as Error & { code?: string };
    await client.end().catch(() => {});
    return { fail: { ...candidate, reason: `checking target_session_attrs failed: ${err.message}`, errorCode: err.code }, givesUp: false };
  }
  if (!ok) {
    await client.end().catch(() => {});
    return { fail: { ...candidate, reason: `session does not match target_session_attrs=${attrs}` }, givesUp: false };
  }
  client.off('error', swallow);
  return { ok: { client, index, parameters } };
}

/**
 * libpq moves on to the next host when it cannot connect (refused, unreachable,
 * connect_timeout) or when the server answers the startup with an error
 * (e.g. 57P03 "the database system is starting up"); but a connection that is
 * closed or reset in the middle of the startup fails the whole attempt. We
 * keep that behaviour so that a connection string means what it means to psql.
 */
function libpqGivesUp(err: Error & { code?: string; severity?: string }): boolean {
  if (err.severity) return false; // an ErrorResponse from the server
  if (err.code && MOVE_ON_CODES.has(err.code)) return false;
  if (/timeout/i.test(err.message)) return false;
  return true;
}

const MOVE_ON_CODES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'EADDRNOTAVAIL', 'ENOTFOUND', 'EAI_AGAIN', 'ENOENT', 'EACCES']);

function describeConnectError(err: Error & { code?: string }, config: pg.ClientConfig): string {
  if (/timeout/i.test(err.message) && config.connectionTimeoutMillis) return `${err.message} (connect_timeout ${config.connectionTimeoutMillis} ms)`;
  return err.code ? `${err.code}: ${err.message}` : err.message;
}

function shuffle<T>(a: T[]): void {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
}
