/**
 * The campaign's faults: each kind injects one real failure on the
 * namespaced cluster and returns how to heal it. Targets (the primary, a
 * standby, a random node) are chosen with the campaign's seeded PRNG at the
 * moment of injection, from the cluster's current view.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { dirname } from 'node:path';
import { isAlive } from '../../src/manager/postgres';
import { fillDisk, freeDisk } from './node-disks';
import type { NamespacedCluster } from './ns-cluster';
import type { Prng } from './prng';

export type FaultKind =
  | 'kill-node'
  | 'freeze-node'
  | 'crash-postgres'
  | 'primary-etcd-cut'
  | 'primary-standbys-cut'
  | 'standby-cut'
  | 'client-primary-cut'
  | 'switchover'
  | 'packet-loss'
  | 'packet-delay'
  | 'etcd-restart'
  | 'etcd-isolate'
  | 'etcd-leader-kill'
  | 'manual-failover'
  | 'disk-full';

/** Every kind, in the order the report lists them. */
export const FAULT_KINDS: readonly FaultKind[] = [
  'kill-node',
  'freeze-node',
  'crash-postgres',
  'primary-etcd-cut',
  'primary-standbys-cut',
  'standby-cut',
  'client-primary-cut',
  'switchover',
  'packet-loss',
  'packet-delay',
  'etcd-restart',
  'etcd-isolate',
  'etcd-leader-kill',
  'manual-failover',
  'disk-full',
];

/** Kinds that may start while another fault is active (network faults touch no process). */
export const OVERLAPPING_KINDS: readonly FaultKind[] = ['primary-etcd-cut', 'primary-standbys-cut', 'standby-cut', 'client-primary-cut', 'packet-loss', 'packet-delay', 'etcd-isolate'];

/** An injected fault: what, where, when, and how to undo it (a no-op for instant ones). */
export interface ActiveFault {
  kind: FaultKind;
  target: string;
  /** ms since epoch at injection. */
  start: number;
  /** True for faults that are over once injected (a crash the manager repairs, a switchover). */
  instant: boolean;
  heal(): Promise<void>;
}

export interface FaultContext {
  c: NamespacedCluster;
  prng: Prng;
  log: (line: string) => void;
}

/** Kinds this cluster can run (packet-delay needs netem; the etcd member faults a 3-member etcd, which keeps its quorum through them). */
export function availableKinds(c: NamespacedCluster): FaultKind[] {
  const quorumSurvives = c.etcd.members.length >= 3;
  return FAULT_KINDS.filter((k) => (k !== 'packet-delay' || c.net.netem) && ((k !== 'etcd-isolate' && k !== 'etcd-leader-kill') || quorumSurvives) && (k !== 'disk-full' || c.nodeDisks));
}

/** The index of etcd's current raft leader, asked of any member that answers (its gRPC gateway's maintenance status). */
export async function etcdLeaderIndex(c: NamespacedCluster): Promise<number | undefined> {
  for (const m of c.etcd.members) {
    try {
      const res = await fetch(`${m.clientUrl}/v3/maintenance/status`, { method: 'POST', body: '{}', signal: AbortSignal.timeout(1000) });
      const st = (await res.json()) as { header?: { member_id?: string }; leader?: string };
      if (!st.leader) continue;
      // ask each member for its own id until one matches the leader's
      for (let i = 0; i < c.etcd.members.length; i++) {
        const r = await fetch(`${c.etcd.members[i]!.clientUrl}/v3/maintenance/status`, { method: 'POST', body: '{}', signal: AbortSignal.timeout(1000) }).catch(() => undefined);
        const own = r ? ((await r.json()) as { header?: { member_id?: string } }).header?.member_id : undefined;
        if (own === st.leader) return i;
      }
    } catch {
      /* that member is down or cut off: ask the next */
    }
  }
  return undefined;
}

/** The current leader (etcd's key, else a member's /cluster view), or undefined during an election. */
export async function currentLeader(c: NamespacedCluster): Promise<string | undefined> {
  const fromEtcd = await c.cluster.leaderFromEtcd().catch(() => undefined);
  if (fromEtcd) return fromEtcd;
  const view = await c.cluster.clusterView();
  return view?.members.find((m) => m.role === 'leader')?.name;
}

/** Injects one fault of `kind`. */
export async function inject(kind: FaultKind, ctx: FaultContext): Promise<ActiveFault> {
  const { c, prng } = ctx;
  const nodes = c.nodeNames;
  const leader = (await currentLeader(c)) ?? prng.pick(nodes);
  const standbys = nodes.filter((n) => n !== leader);
  const anyNode = () => (prng.chance(0.6) ? leader : prng.pick(nodes));
  const start = Date.now();
  const done = (target: string, heal: () => Promise<void>, instant = false): ActiveFault => ({ kind, target, start, instant, heal });
  const net = c.net;
  switch (kind) {
    case 'kill-node': {
      const t = anyNode();
      await c.cluster.killNode(t);
      return done(t, async () => c.cluster.startNode(t));
    }
    case 'freeze-node': {
      const t = anyNode();
      c.cluster.freezeNode(t);
      return done(t, async () => c.cluster.thawNode(t));
    }
    case 'crash-postgres': {
      const t = anyNode();
      await c.cluster.killPostgres(t);
      return done(t, async () => {}, true);
    }
    case 'primary-etcd-cut': {
      const id = await net.drop(leader, c.etcdNames.map((e) => net.member(e).address));
      return done(leader, () => net.heal(id));
    }
    case 'primary-standbys-cut': {
      const id = await net.drop(leader, standbys.map((s) => net.member(s).address));
      return done(leader, () => net.heal(id));
    }
    case 'standby-cut': {
      const t = prng.pick(standbys.length ? standbys : nodes);
      const id = await net.isolate(t);
      return done(t, () => net.heal(id));
    }
    case 'client-primary-cut': {
      const id = await net.drop(leader, [net.clientAddress]);
      return done(leader, () => net.heal(id));
    }
    case 'switchover': {
      await c.cluster.switchover().catch((e) => ctx.log(`switchover refused: ${(e as Error).message.split('\n')[0]}`));
      return done(leader, async () => {}, true);
    }
    case 'packet-loss': {
      const t = anyNode();
      const percent = prng.int(10, 40);
      const id = await net.loss(t, percent);
      return done(`${t} ${percent}%`, () => net.heal(id));
    }
    case 'packet-delay': {
      const t = anyNode();
      const ms = prng.int(50, 400);
      const id = await net.delay(t, ms, Math.floor(ms / 4));
      return done(`${t} ${ms} ms`, () => net.heal(id));
    }
    case 'etcd-isolate': {
      // one member of a 3-member etcd cut off from everyone: the other two keep the quorum
      const t = prng.pick(c.etcdNames);
      const id = await net.isolate(t);
      return done(t, () => net.heal(id));
    }
    case 'etcd-leader-kill': {
      const i = (await etcdLeaderIndex(c)) ?? prng.int(0, c.etcd.members.length - 1);
      const pid = c.etcd.members[i]!.pid;
      c.etcd.kill(i, 'SIGKILL');
      for (let t = 0; t < 100 && pid !== undefined && isAlive(pid); t++) await sleep(20);
      return done(`${c.etcd.members[i]!.name} (raft leader)`, () => c.etcd.startMember(i));
    }
    case 'manual-failover': {
      // POST /failover naming a standby, under load (Patroni's manual failover; the leader is healthy)
      const candidate = standbys.length ? prng.pick(standbys) : undefined;
      if (candidate) await c.cluster.failover(candidate).catch((e) => ctx.log(`failover refused: ${(e as Error).message.split('\n')[0]}`));
      return done(candidate ?? leader, async () => {}, true);
    }
    case 'disk-full': {
      // the primary's disk (its own tmpfs) filled to the last byte, then freed
      const dir = dirname(c.cluster.member(leader).dataDir);
      const bytes = fillDisk(dir);
      return done(`${leader} (${Math.round(bytes / 1048576)} MiB filled)`, async () => freeDisk(dir));
    }
    case 'etcd-restart': {
      const i = prng.int(0, c.etcd.members.length - 1);
      const pid = c.etcd.members[i]!.pid;
      c.etcd.kill(i, 'SIGKILL');
      for (let t = 0; t < 100 && pid !== undefined && isAlive(pid); t++) await sleep(20);
      return done(c.etcd.members[i]!.name, () => c.etcd.startMember(i));
    }
  }
}

/**
 * Best-effort repair after a fault whose heal left the cluster unhealthy:
 * thaw everything, heal every rule, start daemons and etcd members that are
 * not running.
 */
export async function repairAll(c: NamespacedCluster, log: (line: string) => void): Promise<void> {
  await c.net.healAll();
  for (const m of c.cluster.members) {
    try {
      c.cluster.thawNode(m.name);
    } catch {
      /* not running */
    }
    if (m.pid === undefined || !isAlive(m.pid)) {
      log(`repair: starting ${m.name} again`);
      m.pid = undefined;
      try {
        c.cluster.startNode(m.name);
      } catch (e) {
        log(`repair: ${m.name}: ${(e as Error).message}`);
      }
    }
  }
  for (let i = 0; i < c.etcd.members.length; i++) {
    const pid = c.etcd.members[i]!.pid;
    if (pid === undefined || !isAlive(pid)) await c.etcd.startMember(i).catch((e) => log(`repair: etcd member ${i}: ${(e as Error).message}`));
  }
}
