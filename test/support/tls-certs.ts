/**
 * Throwaway certificates for the REST API TLS tests, made by the real
 * `openssl` in a temp directory: a CA, a server certificate for 127.0.0.1 /
 * localhost signed by it (plain key and an encrypted copy), a client
 * certificate signed by it, and a second CA plus a client certificate from
 * that one (a certificate the API must not trust).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestCerts {
  dir: string;
  ca: string;
  serverCert: string;
  serverKey: string;
  /** serverKey encrypted with {@link TestCerts.keyPassword}. */
  serverKeyEncrypted: string;
  keyPassword: string;
  /** certificate and key in one file (Patroni's certfile without keyfile). */
  serverCombined: string;
  clientCert: string;
  clientKey: string;
  /** A CA that signed nothing the API trusts. */
  otherCa: string;
  otherClientCert: string;
  otherClientKey: string;
  /** A server certificate for 127.0.0.1 signed by the other CA (a rotated certificate). */
  otherServerCert: string;
  otherServerKey: string;
  /** Removes the directory. */
  remove(): void;
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** Generates the set (about 0.2 s of openssl). */
export function makeTestCerts(): TestCerts {
  const dir = mkdtempSync(join(tmpdir(), 'pgf-tls-'));
  const p = (f: string) => join(dir, f);
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  const caExt = p('ca.ext');
  writeFileSync(caExt, 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n');
  const serverExt = p('server.ext');
  writeFileSync(serverExt, 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n');
  const clientExt = p('client.ext');
  writeFileSync(clientExt, 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n');
  const makeCa = (name: string) => {
    ssl('req', '-x509', ...EC, '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '2', '-subj', `/CN=${name}`, '-extensions', 'v3_ca', '-addext', 'basicConstraints=critical,CA:TRUE');
  };
  const issue = (name: string, ca: string, cn: string, ext: string) => {
    ssl('req', ...EC, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`);
    ssl('x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-out', `${name}.crt`, '-days', '2', '-extfile', ext);
  };
  makeCa('ca');
  makeCa('other-ca');
  issue('server', 'ca', '127.0.0.1', serverExt);
  issue('client', 'ca', 'pgf-client', clientExt);
  issue('other-client', 'other-ca', 'intruder', clientExt);
  issue('other-server', 'other-ca', '127.0.0.1', serverExt);
  const keyPassword = 'tls-key-pw';
  ssl('pkey', '-in', 'server.key', '-aes256', '-passout', `pass:${keyPassword}`, '-out', 'server-enc.key');
  execFileSync('sh', ['-c', 'cat server.crt server.key > server-combined.pem'], { cwd: dir });
  return {
    dir,
    ca: p('ca.crt'),
    serverCert: p('server.crt'),
    serverKey: p('server.key'),
    serverKeyEncrypted: p('server-enc.key'),
    keyPassword,
    serverCombined: p('server-combined.pem'),
    clientCert: p('client.crt'),
    clientKey: p('client.key'),
    otherCa: p('other-ca.crt'),
    otherClientCert: p('other-client.crt'),
    otherClientKey: p('other-client.key'),
    otherServerCert: p('other-server.crt'),
    otherServerKey: p('other-server.key'),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
