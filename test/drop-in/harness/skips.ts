/**
 * Vendored tests we do not run, by full title, each with its reason. Keep it
 * short and honest: only tests that depend on internals pg-failover
 * legitimately differs in, or on tooling this project does not have.
 */
export const SKIPS: Readonly<Record<string, string>> = {
  // pg-pool (full title = describe path + test name)
  'idle timeout unrefs the connections and timeouts so the program can exit when idle when the `allowExitOnIdle` option is set':
    'forks a child process that requires pg-pool by relative path; not substitutable without editing the file',
};
