/**
 * Patroni's guard against an operator naming two nodes alike (split brain by typo): at startup,
 * when a member key with our name exists and its REST API answers /liveness, refuse to start.
 * A stale key left by a crashed predecessor (its API does not answer) does not block a restart.
 */
import type { DcsSnapshot } from './agent-view';
import { FailoverError } from '../errors';

/** Throws `MANAGER_DUPLICATE_NAME` when another running node already uses `name`. */
export async function ensureUniqueName(snapshot: DcsSnapshot, name: string, opts: { timeoutMillis?: number; ownApiUrl?: string } = {}): Promise<void> {
  const member = snapshot.members.find((m) => m.name === name);
  const apiUrl = member?.data.api_url;
  if (!apiUrl) return;
  const base = apiUrl.replace(/\/patroni\/?$/, '');
  if (opts.ownApiUrl && base === opts.ownApiUrl.replace(/\/$/, '')) return;
  try {
    await fetch(`${base}/liveness`, { signal: AbortSignal.timeout(opts.timeoutMillis ?? 3000) });
  } catch (e) {
    // an HTTPS API whose certificate we cannot verify still answered: a running node
    const code = String(((e as { cause?: { code?: unknown } }).cause ?? {}).code ?? '');
    if (!/CERT|SIGNATURE|ISSUER|ALTNAME/.test(code)) return; // nobody answers: a stale key
  }
  throw new FailoverError('MANAGER_DUPLICATE_NAME', `Can't start; there is already a node named '${name}' running`);
}
