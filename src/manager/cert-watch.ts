/**
 * Patroni re-reads the REST API's certificate, key and CA when the files change on disk (each
 * HA cycle compares their modification times), so a certificate renewed by an ACME client or a
 * secrets agent takes effect without a reload. This watches the same files by mtime and size.
 */
import { statSync } from 'node:fs';

/** A file's identity for change detection: mtime and size, or 'missing'. */
function stamp(path: string): string {
  try {
    const s = statSync(path);
    return `${s.mtimeMs}:${s.size}`;
  } catch {
    return 'missing';
  }
}

/**
 * Calls `onChange` (at most once per check) when any of `files` changed since the last check.
 * A file replaced in two steps (certificate, then key) may fire twice; `onChange` must tolerate
 * a half-written pair (api-security's loader refuses a key that is not the certificate's, and the
 * running settings stay). Returns a function that stops watching.
 */
export function watchCertificateFiles(files: readonly string[], intervalMillis: number, onChange: () => void): () => void {
  const watched = [...new Set(files)];
  if (!watched.length) return () => {};
  let last = watched.map(stamp).join('|');
  const timer = setInterval(() => {
    const now = watched.map(stamp).join('|');
    if (now === last) return;
    last = now;
    onChange();
  }, intervalMillis);
  timer.unref();
  return () => clearInterval(timer);
}
