/**
 * The one list of upstream tests that pass with real pg and are allowed to
 * fail with pg-failover, keyed `<file> :: <test title>`, each with its reason.
 * Only tests that read pg's private internals belong here, at most 1% of all
 * tests (run.ts enforces the limit and reports entries that no longer fail).
 */
export const EXCEPTIONS: Readonly<Record<string, string>> = {};
