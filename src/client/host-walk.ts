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

/** Connects per the plan; throws NO_HOST_AVAILABLE listing every attempt. */
export async function connectFirstMatching(plan: WalkPlan): Promise<Connected> {
  const order = plan.hosts.map((_, i) => i);
  if (plan.loadBalanceHosts === 'random') shuffle(order);
  const attempts: HostAttempt[] = [];
  const passes: TargetSessionAttrs[] = plan.targetSessionAttrs === 'prefer-standby' ? ['standby', 'any'] : [plan.targetSessionAttrs];
  passes: for (const attrs of passes) {
    for (const index of order) {
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
        attempts.push({ ...candidate, reason: describeConnectError(err, config), errorCode: err.code });
        debug('%s:%d: %s', candidate.host, candidate.port, err.message);
        await client.end().catch(() => {});
        if (libpqGivesUp(err)) break passes;
        continue;
      }
      let ok = false;
      try {
        ok = await sessionMatches(client, parameters, attrs);
      } catch (e) {
        const err = e as Error & { code?: string };
        attempts.push({ ...candidate, reason: `checking target_session_attrs failed: ${err.message}`, errorCode: err.code });
        await client.end().catch(() => {});
        continue;
      }
      if (!ok) {
        attempts.push({ ...candidate, reason: `session does not match target_session_attrs=${attrs}` });
        await client.end().catch(() => {});
        continue;
      }
      client.off('error', swallow);
      debug('connected to %s:%d (target_session_attrs=%s)', candidate.host, candidate.port, plan.targetSessionAttrs);
      return { client, index, parameters };
    }
  }
  const list = attempts.map((a) => `  ${a.host}:${a.port}: ${a.reason}`).join('\n');
  throw new FailoverError('NO_HOST_AVAILABLE', `could not connect to any host (target_session_attrs=${plan.targetSessionAttrs}):\n${list}`, {
    detail: { attempts },
  });
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
