/**
 * Everything the REST API needs from `restapi.certfile` … `allowlist_include_members`,
 * prepared before the node starts: the HTTPS material (files read and checked)
 * and the access rule (host names resolved). A problem is a `MANAGER_CONFIG`
 * error naming its key, raised before the agent touches PostgreSQL or etcd.
 */
import { buildApiUrl } from '../patroni-contract';
import type { PatroniNodeConfig } from './config';
import { ApiAccess } from './api-access';
import { loadApiTls, type ApiTlsMaterial } from './api-tls';

/** The `tls` and `access` options of startApi. */
export interface ApiSecurity {
  tls?: ApiTlsMaterial;
  access?: ApiAccess;
}

/**
 * Reads the certificate files and resolves the allowlist.
 * `memberApiUrls` gives the members' `api_url`s (for `allowlist_include_members`), read at each unsafe request.
 *
 * @example
 * const security = await prepareApiSecurity(config.restapi, async () => (await agent.cluster()).members.map((m) => m.data.api_url ?? ''));
 * const api = await startApi({ view: agent, host, port, ...security });
 */
export async function prepareApiSecurity(restapi: PatroniNodeConfig['restapi'], memberApiUrls: () => Promise<string[]>): Promise<ApiSecurity> {
  const tls = restapi.tls ? loadApiTls(restapi.tls) : undefined;
  const access = await ApiAccess.create({
    ...(restapi.allowlist ? { allowlist: restapi.allowlist } : {}),
    includeMembers: restapi.allowlistIncludeMembers === true,
    memberApiUrls,
    requireClientCert: tls !== undefined && tls.verifyClient !== 'none',
  });
  return { ...(tls ? { tls } : {}), ...(access.open ? {} : { access }) };
}

/** `http(s)://host:port/patroni` for this node's `restapi.connect_address`: https exactly when `restapi.certfile` is set (Patroni's rule). */
export function restApiUrl(restapi: PatroniNodeConfig['restapi']): string {
  const { host, port } = restapi.connectAddress;
  return buildApiUrl(host, port, restapi.tls ? 'https' : 'http');
}
