/**
 * Where a launched process runs: the address it listens on and announces,
 * and a command prefix that puts it there (e.g. `ip netns exec <ns>`, so a
 * node gets its own network namespace). Default: 127.0.0.1, no prefix.
 */
export interface Placement {
  /** Listen and connect address (an IPv4 address in the process's namespace). */
  host: string;
  /** Command words run before the program, e.g. `['ip', 'netns', 'exec', 'pgfc-n0']`; it must exec the program (same PID). */
  prefix?: readonly string[];
}

/** `[command, args]` for `program args` run under `placement`'s prefix. */
export function placedCommand(placement: Placement | undefined, program: string, args: readonly string[]): [string, string[]] {
  const prefix = placement?.prefix ?? [];
  if (prefix.length === 0) return [program, [...args]];
  return [prefix[0]!, [...prefix.slice(1), program, ...args]];
}
