/**
 * The REST API's HTTPS material, read and checked before the API starts, as
 * Patroni's RestApiServer does when `restapi.certfile` is set: the certificate
 * chain (with its key from `keyfile`, or from the certificate file itself),
 * the key's password, the CAs client certificates are verified against, the
 * cipher list, and the client-certificate mode (`verify_client`).
 *
 * Every problem — a file that does not exist or cannot be read, one that holds
 * no certificate or key, a wrong or missing key password, a key that does not
 * match the certificate, an unknown cipher list — is one `MANAGER_CONFIG`
 * error naming the key (`restapi.keyfile` …), never a crash with OpenSSL's
 * stack. Passwords never appear in a message.
 */
import { readFileSync } from 'node:fs';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { createSecureContext, type SecureContextOptions } from 'node:tls';
import type { RestApiTls } from './config';
import { configError, type ConfigProblem } from './config-validate';

/** What `https.createServer` needs, plus the client-certificate mode. */
export interface ApiTlsMaterial {
  /** Passed to `https.createServer` as is. */
  server: SecureContextOptions & { requestCert: boolean; rejectUnauthorized: boolean };
  /** `restapi.verify_client`. */
  verifyClient: RestApiTls['verifyClient'];
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/**
 * Reads and checks the files named by `restapi.certfile` & co.
 * Throws `MANAGER_CONFIG` listing every problem by key.
 *
 * @example
 * const material = loadApiTls(config.restapi.tls!);
 * await startApi({ view, host, port, tls: material });
 */
export function loadApiTls(tls: RestApiTls): ApiTlsMaterial {
  const problems: ConfigProblem[] = [];
  const read = (key: string, path: string): Buffer | undefined => {
    try {
      return readFileSync(path);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      const why = code === 'ENOENT' ? 'does not exist' : code === 'EACCES' ? 'cannot be read (permission denied)' : code === 'EISDIR' ? 'is a directory' : `cannot be read (${code ?? 'error'})`;
      problems.push({ key, message: `${key}: ${path} ${why}` });
      return undefined;
    }
  };
  const cert = read('restapi.certfile', tls.certfile);
  const keyKey = tls.keyfile ? 'restapi.keyfile' : 'restapi.certfile';
  const key = tls.keyfile ? read('restapi.keyfile', tls.keyfile) : cert;
  const ca = tls.cafile ? read('restapi.cafile', tls.cafile) : undefined;

  if (cert) {
    const blocks = cert.toString('latin1').match(PEM_CERT) ?? [];
    const first = blocks[0];
    if (!first || !parses(first)) problems.push({ key: 'restapi.certfile', message: `restapi.certfile: ${tls.certfile} holds no PEM certificate` });
  }
  if (key) {
    const why = keyProblem(key, tls.keyfilePassword);
    if (why === 'password') problems.push({ key: 'restapi.keyfile_password', message: `restapi.keyfile_password is wrong: the private key in ${keyKey} does not decrypt with it (password not shown)` });
    else if (why === 'encrypted') problems.push({ key: 'restapi.keyfile_password', message: `restapi.keyfile_password is required: the private key in ${keyKey} is encrypted` });
    else if (why) problems.push({ key: keyKey, message: `${keyKey}: ${tls.keyfile ?? tls.certfile} ${why}${tls.keyfile ? '' : ' (give the key in restapi.keyfile)'}` });
  }
  if (ca) {
    const blocks = ca.toString('latin1').match(PEM_CERT) ?? [];
    if (!blocks.length || !blocks.every(parses)) problems.push({ key: 'restapi.cafile', message: `restapi.cafile: ${tls.cafile} ${blocks.length ? 'holds a certificate that does not parse' : 'holds no PEM certificate'}` });
  }
  if (problems.length) throw configError(problems);

  const options: ApiTlsMaterial['server'] = {
    cert: cert!,
    key: key!,
    ...(tls.keyfilePassword !== undefined ? { passphrase: tls.keyfilePassword } : {}),
    ...(ca ? { ca } : {}),
    ...(tls.ciphers ? { ciphers: tls.ciphers } : {}),
    requestCert: tls.verifyClient !== 'none',
    rejectUnauthorized: tls.verifyClient === 'required',
  };
  // What is left (a key that does not match the certificate, an unknown cipher list) shows when OpenSSL builds the context
  try {
    createSecureContext(options);
  } catch (e) {
    const code = (e as { code?: string }).code ?? '';
    const text = (e as Error).message;
    if (/cipher/i.test(text) || /CIPHER/.test(code)) throw configError([{ key: 'restapi.ciphers', message: `restapi.ciphers: "${tls.ciphers ?? ''}" selects no cipher OpenSSL knows` }]);
    if (/KEY_VALUES_MISMATCH|key values mismatch/i.test(code + text)) throw configError([{ key: keyKey, message: `${keyKey}: the private key does not match the certificate in restapi.certfile` }]);
    throw configError([{ key: 'restapi.certfile', message: `restapi.certfile: OpenSSL refused the certificate and key (${code || 'error'})` }]);
  }
  return { server: options, verifyClient: tls.verifyClient };
}

function parses(pem: string): boolean {
  try {
    new X509Certificate(pem);
    return true;
  } catch {
    return false;
  }
}

/** Why the private key in `pem` cannot be used with `password` (a sentence, or `password`/`encrypted`), or undefined. */
function keyProblem(pem: Buffer, password: string | undefined): string | undefined {
  const text = pem.toString('latin1');
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text)) return 'holds no PEM private key';
  try {
    createPrivateKey({ key: pem, format: 'pem', ...(password !== undefined ? { passphrase: password } : {}) });
    return undefined;
  } catch (e) {
    const code = (e as { code?: string }).code ?? '';
    const message = (e as Error).message;
    if (code === 'ERR_MISSING_PASSPHRASE' || (password === undefined && /ENCRYPTED/.test(text))) return 'encrypted';
    if (/ENCRYPTED/.test(text) || /bad decrypt|maybe wrong password/i.test(message)) return 'password';
    return `holds a private key that does not parse (${code || 'error'})`;
  }
}
