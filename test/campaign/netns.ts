/**
 * Nodes with their own network for the fault campaign: one bridge in the root
 * namespace and one network namespace per member (PostgreSQL nodes, etcd
 * members), each with its own 10.x address on the bridge. The workload runs in
 * the root namespace (the bridge's address; the prober on a second address).
 * A partition is real packet loss: an nftables table of DROP rules inside a
 * member's namespace (one table per fault, deleted to heal). Every name
 * starts with a prefix unique to the run; destroy() removes every namespace,
 * link and rule by that prefix and is safe to call twice or after a
 * half-finished create().
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The host refused a facility the campaign needs; `missing` names each one. */
export class CampaignUnsupportedError extends Error {
  readonly code = 'CAMPAIGN_UNSUPPORTED';
  constructor(readonly missing: string[]) {
    super(`the fault campaign cannot run here; missing: ${missing.join('; ')}`);
    this.name = 'CampaignUnsupportedError';
  }
}

/** Finds `program` in `env.PATH` (like `command -v`); undefined when absent. */
export function which(program: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir && existsSync(join(dir, program))) return join(dir, program);
  }
  return undefined;
}

/**
 * What the campaign needs from the host, checked before anything is created:
 * root, `ip` (iproute2), `nft` (nftables), `setpriv` (util-linux), and a
 * namespace the kernel lets us create (tried with a throwaway one, removed
 * again). `tc` is optional (netem delay). Throws {@link CampaignUnsupportedError}
 * naming every missing piece.
 */
export async function precheck(env: NodeJS.ProcessEnv = process.env, uid = process.getuid?.() ?? -1): Promise<{ ip: string; nft: string; tc: string | undefined }> {
  const missing: string[] = [];
  if (uid !== 0) missing.push('root privileges (network namespaces, veth links and nftables rules need CAP_NET_ADMIN/CAP_SYS_ADMIN)');
  const ip = which('ip', env);
  const nft = which('nft', env);
  if (!ip) missing.push('`ip` (iproute2) in PATH: apt-get install -y iproute2');
  if (!nft) missing.push('`nft` (nftables) in PATH: apt-get install -y nftables');
  if (!which('setpriv', env)) missing.push('`setpriv` (util-linux) in PATH');
  if (missing.length === 0) {
    const probe = `pgfcprobe${randomBytes(3).toString('hex')}`;
    try {
      await run(ip!, ['netns', 'add', probe], { env });
      await run(ip!, ['netns', 'exec', probe, nft!, 'add', 'table', 'inet', 'probe'], { env });
    } catch (e) {
      missing.push(`a network namespace with nftables (the kernel refused: ${firstLine(e)})`);
    } finally {
      await run(ip!, ['netns', 'del', probe], { env }).catch(() => {});
    }
  }
  if (missing.length) throw new CampaignUnsupportedError(missing);
  return { ip: ip!, nft: nft!, tc: which('tc', env) };
}

/** One member's place on the bridge. */
export interface NetMember {
  name: string;
  namespace: string;
  address: string;
  /** Root-side veth (tc netem goes here). */
  link: string;
}

export interface CampaignNetworkOptions {
  /** Members to give a namespace each, e.g. `['n0','n1','n2','etcd0']`. */
  members: string[];
  env?: NodeJS.ProcessEnv;
}

/** The bridge, the namespaces and the fault rules of one campaign run. */
export class CampaignNetwork {
  /** Unique to this run; every namespace, link and table name starts with it. */
  readonly prefix: string;
  readonly bridge: string;
  /** The subnet, e.g. `10.201.37.0/24`. */
  readonly cidr: string;
  /** The workload's address (the bridge's own, in the root namespace). */
  readonly clientAddress: string;
  /** A second root-namespace address, for the one-primary prober (so "client cut off" does not blind it). */
  readonly proberAddress: string;
  readonly members = new Map<string, NetMember>();
  /** Whether tc netem works on this kernel (decided by trying it once). */
  netem = false;
  readonly #env: NodeJS.ProcessEnv;
  readonly #tools: { ip: string; nft: string; tc: string | undefined };
  readonly #faults = new Map<string, string>(); // table name → namespace
  readonly #netemLinks = new Set<string>();
  #faultSeq = 0;
  #destroyed = false;

  private constructor(tools: { ip: string; nft: string; tc: string | undefined }, net: number, env: NodeJS.ProcessEnv) {
    this.#tools = tools;
    this.#env = env;
    this.prefix = `pgfc${randomBytes(2).toString('hex')}`;
    this.bridge = `${this.prefix}br`;
    this.cidr = `10.201.${net}.0/24`;
    this.clientAddress = `10.201.${net}.1`;
    this.proberAddress = `10.201.${net}.2`;
  }

  /** Prechecks the host, then builds the bridge and one namespace per member; on any failure removes what it made and rethrows. */
  static async create(options: CampaignNetworkOptions): Promise<CampaignNetwork> {
    const env = options.env ?? process.env;
    const tools = await precheck(env);
    const net = await freeSubnet(tools.ip, env);
    const network = new CampaignNetwork(tools, net, env);
    try {
      await network.#build(options.members, net);
    } catch (e) {
      await network.destroy();
      throw e;
    }
    return network;
  }

  async #build(names: string[], net: number): Promise<void> {
    await this.#ip('link', 'add', this.bridge, 'type', 'bridge');
    await this.#ip('addr', 'add', `${this.clientAddress}/24`, 'dev', this.bridge);
    await this.#ip('addr', 'add', `${this.proberAddress}/24`, 'dev', this.bridge);
    await this.#ip('link', 'set', this.bridge, 'up');
    let host = 10;
    for (const name of names) {
      if (!/^[a-z0-9]{1,6}$/.test(name)) throw new Error(`member name ${JSON.stringify(name)}: 1-6 lowercase letters/digits (interface names are limited to 15 bytes)`);
      const m: NetMember = { name, namespace: `${this.prefix}-${name}`, address: `10.201.${net}.${host++}`, link: `${this.prefix}${name}` };
      this.members.set(name, m);
      const inner = `${m.link}p`;
      await this.#ip('netns', 'add', m.namespace);
      await this.#ip('link', 'add', m.link, 'type', 'veth', 'peer', 'name', inner);
      await this.#ip('link', 'set', inner, 'netns', m.namespace);
      await this.#ip('link', 'set', m.link, 'master', this.bridge, 'up');
      await this.#inNs(m.namespace, this.#tools.ip, 'link', 'set', 'lo', 'up');
      await this.#inNs(m.namespace, this.#tools.ip, 'addr', 'add', `${m.address}/24`, 'dev', inner);
      await this.#inNs(m.namespace, this.#tools.ip, 'link', 'set', inner, 'up');
    }
    const first = [...this.members.values()][0];
    if (first && this.#tools.tc) {
      try {
        await run(this.#tools.tc, ['qdisc', 'add', 'dev', first.link, 'root', 'netem', 'delay', '1ms'], { env: this.#env });
        await run(this.#tools.tc, ['qdisc', 'del', 'dev', first.link, 'root'], { env: this.#env });
        this.netem = true;
      } catch {
        this.netem = false; // e.g. a kernel built without CONFIG_NET_SCH_NETEM
      }
    }
  }

  member(name: string): NetMember {
    const m = this.members.get(name);
    if (!m) throw new Error(`no campaign network member named ${name}`);
    return m;
  }

  /** `ip netns exec <ns>`: the command prefix that runs a program inside `name`'s namespace. */
  prefixFor(name: string): string[] {
    return [this.#tools.ip, 'netns', 'exec', this.member(name).namespace];
  }

  /**
   * Drops every packet between `name` and the given addresses, both ways,
   * inside `name`'s namespace. Returns the fault's id for {@link heal}.
   */
  async drop(name: string, addresses: readonly string[]): Promise<string> {
    if (addresses.length === 0) throw new Error('drop() needs at least one address');
    const set = `{ ${addresses.join(', ')} }`;
    return this.#table(name, [`ip saddr ${set} drop`], [`ip daddr ${set} drop`]);
  }

  /** Cuts `name` off from everyone (all but its loopback). */
  async isolate(name: string): Promise<string> {
    return this.#table(name, ['iifname != "lo" drop'], ['oifname != "lo" drop']);
  }

  /** Drops `percent` % of `name`'s packets at random, both ways (nftables numgen; works without netem). */
  async loss(name: string, percent: number): Promise<string> {
    const p = Math.max(1, Math.min(99, Math.round(percent)));
    return this.#table(name, [`iifname != "lo" numgen random mod 100 < ${p} drop`], [`oifname != "lo" numgen random mod 100 < ${p} drop`]);
  }

  /** tc netem delay on `name`'s link (root side: affects packets towards it). Throws when netem is unavailable. */
  async delay(name: string, millis: number, jitterMillis = 0): Promise<string> {
    if (!this.netem || !this.#tools.tc) throw new Error('tc netem is not available on this kernel');
    const link = this.member(name).link;
    await run(this.#tools.tc, ['qdisc', 'replace', 'dev', link, 'root', 'netem', 'delay', `${millis}ms`, ...(jitterMillis ? [`${jitterMillis}ms`] : [])], { env: this.#env });
    this.#netemLinks.add(link);
    return `netem:${link}`;
  }

  /** Removes one fault made by drop/isolate/loss/delay. */
  async heal(id: string): Promise<void> {
    if (id.startsWith('netem:')) {
      const link = id.slice('netem:'.length);
      this.#netemLinks.delete(link);
      await run(this.#tools.tc!, ['qdisc', 'del', 'dev', link, 'root'], { env: this.#env }).catch(() => {});
      return;
    }
    const ns = this.#faults.get(id);
    if (ns === undefined) return;
    this.#faults.delete(id);
    await this.#inNs(ns, this.#tools.nft, 'delete', 'table', 'inet', id).catch(() => {});
  }

  /** Heals every open fault. */
  async healAll(): Promise<void> {
    for (const id of [...this.#faults.keys()]) await this.heal(id);
    for (const link of [...this.#netemLinks]) await this.heal(`netem:${link}`);
  }

  /** Open faults (nft tables and netem links), for the report and the tests. */
  get openFaults(): string[] {
    return [...this.#faults.keys(), ...[...this.#netemLinks].map((l) => `netem:${l}`)];
  }

  /**
   * Removes every namespace and link whose name starts with this run's prefix
   * (rules go with their namespace). Stop the processes inside first: a
   * namespace with a process in it lives on until that process exits.
   */
  async destroy(): Promise<void> {
    if (this.#destroyed) return;
    this.#destroyed = true;
    await removeByPrefix(this.prefix, this.#tools.ip, this.#env);
  }

  /** Namespaces and links of this run still present (empty after destroy()). */
  async leftovers(): Promise<string[]> {
    return listByPrefix(this.prefix, this.#tools.ip, this.#env);
  }

  async #table(name: string, input: string[], output: string[]): Promise<string> {
    const ns = this.member(name).namespace;
    const id = `f${++this.#faultSeq}`;
    const script = [
      `table inet ${id} {`,
      `  chain input { type filter hook input priority -10; policy accept;`,
      ...input.map((r) => `    ${r}`),
      '  }',
      `  chain output { type filter hook output priority -10; policy accept;`,
      ...output.map((r) => `    ${r}`),
      '  }',
      '}',
    ].join('\n');
    await this.#inNs(ns, this.#tools.nft, '-f', '-', { input: script });
    this.#faults.set(id, ns);
    return id;
  }

  async #ip(...args: string[]): Promise<void> {
    await run(this.#tools.ip, args, { env: this.#env });
  }

  async #inNs(ns: string, ...rest: Array<string | { input: string }>): Promise<void> {
    const last = rest[rest.length - 1];
    const input = typeof last === 'object' ? last.input : undefined;
    const args = rest.filter((x): x is string => typeof x === 'string');
    await new Promise<void>((resolve, reject) => {
      const child = execFile(this.#tools.ip, ['netns', 'exec', ns, ...args], { env: this.#env }, (err, _out, stderr) =>
        err ? reject(new Error(`ip netns exec ${ns} ${args.join(' ')}: ${stderr || err.message}`)) : resolve(),
      );
      if (input !== undefined) child.stdin?.end(input);
    });
  }
}

/** Namespaces and links whose names start with `prefix`. */
export async function listByPrefix(prefix: string, ip = 'ip', env: NodeJS.ProcessEnv = process.env): Promise<string[]> {
  const found: string[] = [];
  const ns = await run(ip, ['netns', 'list'], { env }).catch(() => ({ stdout: '' }));
  for (const line of ns.stdout.split('\n')) {
    const name = line.split(' ')[0];
    if (name?.startsWith(prefix)) found.push(`netns ${name}`);
  }
  const links = await run(ip, ['-o', 'link', 'show'], { env }).catch(() => ({ stdout: '' }));
  for (const line of links.stdout.split('\n')) {
    const name = /^\d+:\s+([^:@]+)/.exec(line)?.[1];
    if (name?.startsWith(prefix)) found.push(`link ${name}`);
  }
  return found;
}

/** Deletes every namespace and link whose name starts with `prefix`. */
export async function removeByPrefix(prefix: string, ip = 'ip', env: NodeJS.ProcessEnv = process.env): Promise<void> {
  for (const item of await listByPrefix(prefix, ip, env)) {
    const [kind, name] = item.split(' ') as [string, string];
    if (kind === 'netns') await run(ip, ['netns', 'del', name], { env }).catch(() => {});
  }
  for (const item of await listByPrefix(prefix, ip, env)) {
    const [kind, name] = item.split(' ') as [string, string];
    if (kind === 'link') await run(ip, ['link', 'del', name], { env }).catch(() => {});
  }
}

/** A third octet for 10.201.X.0/24 that no local interface uses yet. */
async function freeSubnet(ip: string, env: NodeJS.ProcessEnv): Promise<number> {
  const { stdout } = await run(ip, ['-4', '-o', 'addr', 'show'], { env });
  const used = new Set([...stdout.matchAll(/inet 10\.201\.(\d+)\./g)].map((m) => Number(m[1])));
  for (let tries = 0; tries < 500; tries++) {
    const x = Math.floor(Math.random() * 250) + 1;
    if (!used.has(x)) return x;
  }
  throw new CampaignUnsupportedError(['a free 10.201.X.0/24 subnet']);
}

function firstLine(e: unknown): string {
  const err = e as { stderr?: string; message?: string };
  return (err.stderr || err.message || String(e)).split('\n')[0]!.trim();
}
