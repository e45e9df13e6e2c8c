/**
 * The shape checks of the REST API's security settings, as Patroni names them:
 * `restapi.certfile/keyfile/keyfile_password/cafile/ciphers/verify_client`,
 * `restapi.allowlist/allowlist_include_members`, and the `ctl` section
 * (`insecure/certfile/keyfile/keyfile_password/cacert`). Only values are
 * checked here (types, the verify_client word, each allowlist entry's form);
 * the files themselves are read and parsed when the API starts
 * (api-tls.ts), host names resolved there too (api-access.ts).
 */
import { isIP } from 'node:net';
import type { CtlTls, PatroniNodeConfig, RestApiTls } from './config';
import type { Raw, Walker } from './config-validate';

/** The `restapi` keys read here. */
export const RESTAPI_SECURITY_KEYS = ['certfile', 'keyfile', 'keyfile_password', 'cafile', 'ciphers', 'verify_client', 'allowlist', 'allowlist_include_members'] as const;

const VERIFY_CLIENT = ['none', 'optional', 'required'] as const;

type Security = Pick<PatroniNodeConfig['restapi'], 'tls' | 'allowlist' | 'allowlistIncludeMembers'>;

/** Reads the TLS and access-control keys of `restapi`. */
export function validateRestApiSecurity(w: Walker, rest: Raw): Security {
  const out: Security = {};
  const certfile = w.string(rest, 'certfile', 'restapi');
  const keyfile = w.string(rest, 'keyfile', 'restapi');
  const password = secretString(w, rest, 'keyfile_password', 'restapi');
  const cafile = w.string(rest, 'cafile', 'restapi');
  const ciphers = w.string(rest, 'ciphers', 'restapi');
  const verifyRaw = w.string(rest, 'verify_client', 'restapi');
  const verify = verifyRaw?.toLowerCase();
  if (verify !== undefined && !(VERIFY_CLIENT as readonly string[]).includes(verify)) {
    w.problem('restapi.verify_client', `restapi.verify_client must be none, optional or required, got "${verifyRaw}"`);
  }
  if (certfile) {
    const tls = { certfile, verifyClient: (verify ?? 'none') as RestApiTls['verifyClient'] } as RestApiTls;
    if (keyfile) tls.keyfile = keyfile;
    if (cafile) tls.cafile = cafile;
    if (ciphers) tls.ciphers = ciphers;
    if (password !== undefined) Object.defineProperty(tls, 'keyfilePassword', { value: password, enumerable: false });
    out.tls = tls;
  } else {
    // Patroni serves plain HTTP then and ignores these; say so rather than pretend they apply
    for (const k of ['keyfile', 'keyfile_password', 'cafile', 'ciphers', 'verify_client'] as const) {
      if (rest[k] !== undefined && rest[k] !== null) w.warn(`restapi.${k}`, 'has no effect without restapi.certfile (the REST API serves plain HTTP); it is ignored');
    }
  }
  const allowlist = w.stringList(rest, 'allowlist', 'restapi');
  if (allowlist) {
    allowlist.forEach((entry, i) => {
      const why = allowlistEntryProblem(entry);
      if (why) w.problem(`restapi.allowlist[${i}]`, `restapi.allowlist[${i}] "${entry}": ${why}`);
    });
    out.allowlist = allowlist;
  }
  const includeMembers = w.bool(rest, 'allowlist_include_members', 'restapi');
  if (includeMembers !== undefined) out.allowlistIncludeMembers = includeMembers;
  return out;
}

/** The `ctl` section; undefined when absent. */
export function validateCtl(w: Walker, raw: Raw): CtlTls | undefined {
  const sec = w.section(raw, 'ctl', '');
  if (!sec) return undefined;
  w.unknownKeys(sec, 'ctl', ['insecure', 'certfile', 'keyfile', 'keyfile_password', 'cacert'], ['authentication']);
  const ctl = { insecure: w.bool(sec, 'insecure', 'ctl') ?? false } as CtlTls;
  const cacert = w.string(sec, 'cacert', 'ctl');
  const certfile = w.string(sec, 'certfile', 'ctl');
  const keyfile = w.string(sec, 'keyfile', 'ctl');
  const password = secretString(w, sec, 'keyfile_password', 'ctl');
  if (cacert) ctl.cacert = cacert;
  if (certfile) ctl.certfile = certfile;
  if (keyfile) ctl.keyfile = keyfile;
  if (password !== undefined) Object.defineProperty(ctl, 'keyfilePassword', { value: password, enumerable: false });
  return ctl;
}

/**
 * Why an allowlist entry is invalid, or undefined. Entries with a `/` are
 * networks (`10.0.0.0/8`, `fd00::/64`; host bits may be set, as Python's
 * `ip_network(v, strict=False)` allows); the others are IPs or host names.
 */
export function allowlistEntryProblem(entry: string): string | undefined {
  const v = entry.trim();
  if (!v) return 'an empty entry';
  if (v.includes('/')) {
    const [base = '', prefix = '', ...more] = v.split('/');
    const family = isIP(base);
    if (more.length || !family) return 'not a network: expected ADDRESS/PREFIX, e.g. 10.0.0.0/8';
    const max = family === 4 ? 32 : 128;
    if (!/^\d{1,3}$/.test(prefix) || Number(prefix) > max) return `the prefix length must be 0–${max}`;
    return undefined;
  }
  if (isIP(v)) return undefined;
  if (!/^[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*\.?$/.test(v) || v.length > 253) return 'neither an IP address, a network nor a host name';
  return undefined;
}

/** A password-like string: never echoed. */
function secretString(w: Walker, obj: Raw, key: string, path: string): string | undefined {
  const v = obj[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string' && typeof v !== 'number') {
    w.problem(`${path}.${key}`, `${path}.${key} must be a string (value not shown)`);
    return undefined;
  }
  return String(v);
}
