/**
 * Secrets in configuration objects: hidden from `util.inspect`, `console.log`
 * and `JSON.stringify` the way pg hides a Client's `password` — by making the
 * property non-enumerable. It stays readable and writable: code that asks for
 * `options.password` (pg itself, pg-pool, ours) still gets it.
 *
 * What counts as a secret: `password`, `ssl.key`, `ssl.passphrase` (libpq's
 * sslpassword), a `connectionString` that carries a password, and a topology
 * source's `auth` and TLS private key.
 */
import { redact } from './errors';

/** Whether a connection string or URL carries a password (`user:pw@` or `password=`). */
export function hasPassword(text: unknown): boolean {
  return typeof text === 'string' && redact(text) !== text;
}

/** Makes `key` of `obj` non-enumerable (keeping value and writability), if present. */
export function hide(obj: object, key: PropertyKey): void {
  const d = Object.getOwnPropertyDescriptor(obj, key);
  if (!d || !d.enumerable) return;
  const value = (obj as Record<PropertyKey, unknown>)[key];
  Object.defineProperty(obj, key, { value, enumerable: false, writable: true, configurable: true });
}

/** A copy of an `ssl` option whose private key and passphrase are non-enumerable (booleans/strings unchanged). */
function concealSsl(ssl: unknown): unknown {
  if (!ssl || typeof ssl !== 'object') return ssl;
  const copy = Object.create(Object.getPrototypeOf(ssl), Object.getOwnPropertyDescriptors(ssl)) as object;
  hide(copy, 'key');
  hide(copy, 'passphrase');
  return copy;
}

/** A copy of a `topology` config whose credentials are non-enumerable (a TopologySource instance is left as is). */
function concealTopology(topology: unknown): unknown {
  if (!topology || typeof topology !== 'object' || typeof (topology as { start?: unknown }).start === 'function') return topology;
  const copy = { ...(topology as Record<string, unknown>) };
  hide(copy, 'auth');
  if (copy.tls && typeof copy.tls === 'object') {
    const tls = { ...(copy.tls as Record<string, unknown>) };
    hide(tls, 'privateKey');
    hide(tls, 'keyPassword'); // patroni-rest's client key password
    copy.tls = tls;
  }
  if (Array.isArray(copy.urls) && copy.urls.some(hasPassword)) hide(copy, 'urls');
  return copy;
}

/**
 * The `ssl` option as pg must receive it: pg copies it into tls.connect()'s
 * options with Object.assign (which skips non-enumerable properties) except for
 * `key`, which it reads by name. So `passphrase` is enumerable again here;
 * `key` stays hidden (pg itself hides it too).
 */
export function sslForPg(ssl: unknown): unknown {
  if (!ssl || typeof ssl !== 'object') return ssl;
  const copy = Object.create(Object.getPrototypeOf(ssl), Object.getOwnPropertyDescriptors(ssl)) as Record<string, unknown>;
  if ('passphrase' in copy) Object.defineProperty(copy, 'passphrase', { value: copy.passphrase, enumerable: true, writable: true, configurable: true });
  hide(copy, 'key');
  return copy;
}

/**
 * Hides, in place, the secrets of an options object we own (a copy of what the
 * caller passed): `password`, `connectionString` when it has a password,
 * `ssl.key` / `ssl.passphrase` (on a copy of `ssl`), `topology.auth` and TLS keys.
 */
export function concealOptions<T extends object>(o: T): T {
  const r = o as Record<string, unknown>;
  hide(o, 'password');
  if (hasPassword(r.connectionString)) hide(o, 'connectionString');
  if ('ssl' in r && r.ssl && typeof r.ssl === 'object') {
    const enumerable = Object.getOwnPropertyDescriptor(o, 'ssl')?.enumerable ?? true;
    Object.defineProperty(o, 'ssl', { value: concealSsl(r.ssl), enumerable, writable: true, configurable: true });
  }
  if ('topology' in r) r.topology = concealTopology(r.topology);
  return o;
}

/** A shallow copy of `o` that keeps non-enumerable properties non-enumerable (spread would drop them). */
export function copyOptions<T extends object>(o: T | undefined): T {
  if (!o) return {} as T;
  const descriptors = Object.getOwnPropertyDescriptors(o) as Record<PropertyKey, PropertyDescriptor>;
  for (const d of Object.values(descriptors)) {
    d.configurable = true;
    if ('value' in d) d.writable = true;
  }
  return Object.defineProperties({}, descriptors) as T;
}
