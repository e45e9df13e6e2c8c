/**
 * Who may send the REST API's unsafe requests (POST/PUT/PATCH/DELETE), before
 * basic auth is checked — Patroni's `RestApiServer.check_access`, in its order:
 *
 * 1. `restapi.allowlist` (IPs, host names resolved at start, CIDR networks) and,
 *    with `allowlist_include_members`, the hosts of the members' `api_url`s
 *    (resolved at each request, as Patroni does): a request from anywhere else
 *    gets 403 `Access is denied`.
 * 2. With HTTPS and `verify_client` optional or required: a request without a
 *    valid client certificate gets 403 `client certificate required`.
 *
 * Health checks and GETs are never refused here (Patroni's check_access guards
 * only the write handlers).
 */
import { BlockList, isIP, type Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { lookup } from 'node:dns/promises';
import { configError, type ConfigProblem } from './config-validate';

/** A refusal: status and Patroni's text. */
export interface AccessRefusal {
  status: 403;
  message: 'Access is denied' | 'client certificate required';
}

export interface ApiAccessOptions {
  /** `restapi.allowlist` entries (already shape-checked). */
  allowlist?: readonly string[];
  /** `restapi.allowlist_include_members`. */
  includeMembers?: boolean;
  /** The members' `api_url`s now (from the DCS); only called with `includeMembers`. */
  memberApiUrls?: () => Promise<string[]>;
  /** HTTPS with verify_client optional/required: unsafe requests need a verified client certificate. */
  requireClientCert?: boolean;
  /** Resolves a host name to its addresses (default: the system resolver, every address). */
  resolve?: (host: string) => Promise<string[]>;
}

/** The access rule of one API, built once at start ({@link ApiAccess.create}). */
export class ApiAccess {
  readonly #allow: BlockList;
  readonly #restricted: boolean;
  readonly #o: ApiAccessOptions;

  private constructor(allow: BlockList, options: ApiAccessOptions) {
    this.#allow = allow;
    this.#o = options;
    this.#restricted = (options.allowlist?.length ?? 0) > 0 || options.includeMembers === true;
  }

  /**
   * Builds the rule, resolving the allowlist's host names. A network or
   * address that does not parse, or a host name that does not resolve, is a
   * `MANAGER_CONFIG` error naming `restapi.allowlist[i]`.
   */
  static async create(options: ApiAccessOptions): Promise<ApiAccess> {
    const allow = new BlockList();
    const problems: ConfigProblem[] = [];
    const resolve = options.resolve ?? resolveAll;
    for (const [i, raw] of (options.allowlist ?? []).entries()) {
      const entry = raw.trim();
      const key = `restapi.allowlist[${i}]`;
      try {
        if (entry.includes('/')) {
          const [base = '', prefix = ''] = entry.split('/');
          const family = isIP(base);
          if (!family || !/^\d+$/.test(prefix) || Number(prefix) > (family === 4 ? 32 : 128)) throw new Error('not a network');
          allow.addSubnet(base, Number(prefix), family === 4 ? 'ipv4' : 'ipv6');
        } else if (isIP(entry)) {
          addAddress(allow, entry);
        } else {
          const addrs = await resolve(entry);
          if (!addrs.length) throw new Error('no address');
          for (const a of addrs) addAddress(allow, a);
        }
      } catch (e) {
        problems.push({ key, message: `${key} "${entry}": ${entry.includes('/') || isIP(entry) ? 'not a valid address or network' : `host name does not resolve (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`}` });
      }
    }
    if (problems.length) throw configError(problems);
    return new ApiAccess(allow, options);
  }

  /** True when nothing is restricted (no allowlist, no client-certificate rule). */
  get open(): boolean {
    return !this.#restricted && !this.#o.requireClientCert;
  }

  /**
   * Patroni's check for an unsafe request from `socket`; undefined when it may go on to basic auth.
   * `members: false` leaves the members' hosts out (Patroni 4 does so for `POST /failsafe`).
   */
  async check(socket: Socket, opts: { members?: boolean } = {}): Promise<AccessRefusal | undefined> {
    const members = opts.members !== false && this.#o.includeMembers === true;
    if ((this.#o.allowlist?.length ?? 0) > 0 || members) {
      const ip = clientIp(socket);
      if (!ip || !(await this.#allowed(ip, members))) return { status: 403, message: 'Access is denied' };
    }
    if (this.#o.requireClientCert && !hasVerifiedCert(socket)) return { status: 403, message: 'client certificate required' };
    return undefined;
  }

  async #allowed(ip: string, members: boolean): Promise<boolean> {
    const family = isIP(ip) === 6 ? 'ipv6' : 'ipv4';
    if (this.#allow.check(ip, family)) return true;
    if (!members || !this.#o.memberApiUrls) return false;
    const resolve = this.#o.resolve ?? resolveAll;
    let urls: string[];
    try {
      urls = await this.#o.memberApiUrls();
    } catch {
      return false; // no DCS view: only the static list counts
    }
    for (const url of urls) {
      let host: string;
      try {
        host = new URL(url).hostname.replace(/^\[|\]$/g, '');
      } catch {
        continue;
      }
      const addrs = isIP(host) ? [host] : await resolve(host).catch(() => [] as string[]);
      if (addrs.some((a) => normalise(a) === ip)) return true;
    }
    return false;
  }
}

function addAddress(list: BlockList, address: string): void {
  const a = normalise(address);
  list.addAddress(a, isIP(a) === 6 ? 'ipv6' : 'ipv4');
}

/** `::ffff:127.0.0.1` → `127.0.0.1` (a dual-stack socket's view of an IPv4 client). */
function normalise(ip: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  return m ? m[1]! : ip;
}

function clientIp(socket: Socket): string | undefined {
  return socket.remoteAddress ? normalise(socket.remoteAddress) : undefined;
}

/** A TLS socket whose peer sent a certificate that verified against the API's CAs. */
function hasVerifiedCert(socket: Socket): boolean {
  const tls = socket as TLSSocket;
  if (typeof tls.getPeerCertificate !== 'function' || !tls.authorized) return false;
  const cert = tls.getPeerCertificate();
  return !!cert && Object.keys(cert).length > 0;
}

async function resolveAll(host: string): Promise<string[]> {
  return (await lookup(host, { all: true })).map((a) => a.address);
}
