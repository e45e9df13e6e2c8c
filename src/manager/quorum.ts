/**
 * Quorum commit (`synchronous_mode: quorum`), pure: the ordered steps that take
 * `synchronous_standby_names` ("ANY numsync (sync)") and the `sync` key
 * ("quorum of voters", plus the leader) from where they are to where they should
 * be, without ever claiming more than PostgreSQL guarantees. Patroni 4's
 * `QuorumStateResolver` (patroni/quorum.py) decides the same steps; this is our
 * own rendering of its rules, step for step, so that a cluster driven by either
 * passes through the same states.
 *
 * The invariant: any set of nodes that can acknowledge a commit (numsync of
 * `sync`, plus the leader) overlaps any set a new leader can gather in a race
 * (quorum + 1 of `voters` plus the leader), i.e.
 * `|voters ∪ sync ∪ {leader}| ≤ quorum + numsync + 1`, and one of the two sets
 * contains the other while they change. Growing numsync or quorum happens
 * before shrinking the other one; whether nodes join or leave `sync` or
 * `voters` first depends on whether `sync` is (or becomes) empty.
 *
 * The optimal steady state for the streaming, eligible set `active`:
 * `sync = voters = active`, `numsync = min(synchronous_node_count, |active|)`,
 * `quorum = |active| - numsync`.
 */

/** One step: set the GUC (`sync`), write the key (`quorum`), or re-read and start over (`restart`). */
export type QuorumTransition =
  /** Set `synchronous_standby_names` to `ANY num (names)` (nothing when names is empty). */
  | { kind: 'sync'; leader: string; num: number; names: string[] }
  /** Write `sync` = `{leader, sync_standby: names.join(','), quorum: num}`. */
  | { kind: 'quorum'; leader: string; num: number; names: string[] }
  /** Nothing changed: the caller re-reads the state (standbys may have become synchronous) and resolves again. */
  | { kind: 'restart'; leader: string; num: number; names: string[] };

/** The state the resolver starts from. */
export interface QuorumInput {
  /** `sync` key: its leader. */
  leader: string;
  /** `sync` key: `quorum`. */
  quorum: number;
  /** `sync` key: `sync_standby` as a list. */
  voters: Iterable<string>;
  /** GUC: the number in `ANY n (…)`. */
  numsync: number;
  /** GUC: the names listed. */
  sync: Iterable<string>;
  /** How many listed names are known to have caught up since they were listed. */
  numsyncConfirmed: number;
  /** Streaming members eligible to be synchronous. */
  active: Iterable<string>;
  /** `synchronous_node_count` (the wanted replication factor). */
  syncWanted: number;
  /** This node: the leader the key should name. */
  leaderWanted: string;
}

/** The state cannot be reached safely (a broken invariant); the resolver recovers from it when it can. */
export class QuorumError extends Error {
  override readonly name = 'QuorumError';
}

type Names = ReadonlySet<string>;

const union = (a: Names, b: Iterable<string>): Set<string> => new Set([...a, ...b]);
const minus = (a: Names, b: Names): Set<string> => new Set([...a].filter((x) => !b.has(x)));
const inter = (a: Names, b: Names): Set<string> => new Set([...a].filter((x) => b.has(x)));
const subset = (a: Names, b: Names): boolean => [...a].every((x) => b.has(x));
const same = (a: Names, b: Names): boolean => a.size === b.size && subset(a, b);
const sorted = (a: Names): string[] => [...a].sort();

/**
 * The steps from `input` to the optimal state, merged as Patroni merges them (two
 * consecutive steps of one kind collapse into the last; the list ends at a `restart`).
 * Throws {@link QuorumError} only when the input is broken beyond what it can repair.
 */
export function quorumTransitions(input: QuorumInput): QuorumTransition[] {
  const all = [...new Resolver(input).generate()];
  const out: QuorumTransition[] = [];
  for (let i = 0; i < all.length; i++) {
    const t = all[i]!;
    const next = all[i + 1];
    if (next && next.kind === t.kind) continue;
    out.push(t);
    if (t.kind === 'restart') break;
  }
  return out;
}

class Resolver {
  leader: string;
  quorum: number;
  voters: Set<string>;
  numsync: number;
  sync: Set<string>;
  numsyncConfirmed: number;
  readonly active: Set<string>;
  readonly syncWanted: number;
  readonly leaderWanted: string;

  constructor(i: QuorumInput) {
    this.leader = i.leader;
    this.quorum = i.quorum;
    this.voters = new Set(i.voters);
    this.sync = new Set(i.sync);
    this.numsync = Math.min(i.numsync, this.sync.size); // never more than the names listed
    this.numsyncConfirmed = i.numsyncConfirmed;
    this.active = new Set(i.active);
    this.syncWanted = i.syncWanted;
    this.leaderWanted = i.leaderWanted;
  }

  /** Throws when the commit set and the race set might not overlap, or neither set contains the other. */
  checkInvariants(): void {
    const voters = union(this.voters, [this.leader]);
    const sync = union(this.sync, [this.leaderWanted]);
    const nodes = union(voters, sync).size;
    if (this.voters.size && nodes > this.quorum + this.numsync + 1) {
      throw new QuorumError(`Quorum and sync not guaranteed to overlap: nodes ${nodes} >= quorum ${this.quorum} + sync ${this.numsync} + 1`);
    }
    if (!subset(voters, sync) && !subset(sync, voters)) {
      throw new QuorumError(`Mismatched sets: voter only=${sorted(minus(voters, sync))} sync only=${sorted(minus(sync, voters))}`);
    }
  }

  /** A new `sync` key (quorum, voters, maybe leader); `adjust` raises quorum by the listed-but-unconfirmed count. */
  *quorumUpdate(quorum: number, voters: Set<string>, leader?: string, adjust = true): Generator<QuorumTransition> {
    if (quorum < 0) throw new QuorumError(`Quorum ${quorum} < 0 of (${sorted(voters)})`);
    if (quorum > 0 && quorum >= voters.size) throw new QuorumError(`Quorum ${quorum} >= N of (${sorted(voters)})`);
    const oldLeader = this.leader;
    if (leader !== undefined) this.leader = leader;
    else if (this.numsyncConfirmed === 0 && this.voters.size === 0) {
      // nobody is known to have caught up: the key keeps naming no voters
      quorum = 0;
      voters = new Set();
    } else if (adjust) {
      // standbys listed but not yet confirmed: the race must look at more nodes to find the newest
      quorum += Math.max(this.numsync - this.numsyncConfirmed, 0);
    }
    if (this.leader === oldLeader && quorum === this.quorum && same(voters, this.voters)) {
      if (this.voters.size) return;
      yield { kind: 'restart', leader: this.leader, num: this.quorum, names: sorted(this.voters) };
    }
    this.quorum = quorum;
    this.voters = voters;
    this.checkInvariants();
    yield { kind: 'quorum', leader: this.leader, num: this.quorum, names: sorted(this.voters) };
  }

  /** A new `synchronous_standby_names`. */
  *syncUpdate(numsync: number, sync: Set<string>): Generator<QuorumTransition> {
    if (numsync < 0) throw new QuorumError(`Sync ${numsync} < 0 of (${sorted(sync)})`);
    if (numsync > sync.size) throw new QuorumError(`Sync ${numsync} > N of (${sorted(sync)})`);
    this.numsync = numsync;
    this.sync = sync;
    this.checkInvariants();
    yield { kind: 'sync', leader: this.leader, num: this.numsync, names: sorted(this.sync) };
  }

  *generate(): Generator<QuorumTransition> {
    try {
      if (this.leaderWanted !== this.leader) {
        // after a failover: the old leader becomes a voter, we stop being one
        const voters = union(minus(this.voters, new Set([this.leaderWanted])), [this.leader]);
        if (!this.sync.size) yield* this.syncUpdate(voters.size - this.quorum, voters);
        yield* this.quorumUpdate(this.quorum, voters, this.leaderWanted);
        // right after promotion the standbys may not be connected yet: leave them a loop_wait
        if (!inter(this.sync, this.active).size) return;
      } else {
        this.checkInvariants();
      }
    } catch (e) {
      if (!(e instanceof QuorumError)) throw e;
      yield* this.quorumUpdate(this.sync.size - this.numsync, new Set(this.sync));
    }
    if (this.leader !== this.leaderWanted) throw new QuorumError(`sync key leader ${this.leader} is not ${this.leaderWanted}`);

    // after a restart or failover nothing is confirmed yet: derive it from the quorum
    const syncActive = inter(this.sync, this.active);
    if (this.numsyncConfirmed === 0 && syncActive.size) {
      this.numsyncConfirmed = Math.min(syncActive.size, this.voters.size - this.quorum);
    }
    yield* this.interrupted();
    yield* this.removeGone();
    yield* this.addNew();
    yield* this.replicationFactor();
  }

  /** Finishes a set of steps an earlier cycle left half done. */
  *interrupted(): Generator<QuorumTransition> {
    if (subset(this.sync, this.voters) && this.sync.size < this.voters.size) {
      // voters ⊃ sync: a voters change was under way
      const drop = minus(this.voters, union(this.sync, this.active));
      if (drop.size) {
        yield* this.quorumUpdate(this.voters.size - drop.size - this.numsync, minus(this.voters, drop), undefined, minus(this.sync, this.active).size === 0);
      }
      const add = minus(inter(this.voters, this.active), this.sync);
      if (add.size) yield* this.syncUpdate(this.numsync, union(this.sync, add));
    } else if (subset(this.voters, this.sync) && this.voters.size < this.sync.size) {
      // sync ⊃ voters: a replication factor change was under way
      let gone = minus(this.sync, this.active);
      const kept = minus(this.sync, gone);
      if (gone.size && kept.size && (!this.voters.size || inter(kept, this.voters).size)) {
        yield* this.syncUpdate(Math.min(this.numsync, this.sync.size - gone.size), kept);
      }
      const add = inter(minus(this.sync, this.voters), this.active);
      if (add.size) {
        const voters = union(this.voters, add);
        yield* this.quorumUpdate(voters.size - this.numsync, voters);
      }
      gone = minus(this.sync, this.voters);
      if (gone.size) yield* this.syncUpdate(Math.min(this.numsync, this.sync.size - gone.size), minus(this.sync, gone));
    }
    if (!same(this.voters, this.sync)) throw new QuorumError(`voters ${sorted(this.voters)} and sync ${sorted(this.sync)} still differ`);

    const both = union(this.voters, this.sync).size;
    if (this.quorum + Math.min(this.numsync, this.numsyncConfirmed) - both > 0) {
      if (this.numsync > this.syncWanted) {
        yield* this.syncUpdate(Math.max(this.syncWanted, this.voters.size - this.quorum), this.sync);
      } else {
        yield* this.quorumUpdate(this.sync.size - this.numsync, this.voters);
      }
    } else if (this.numsync === this.syncWanted && this.quorum + this.numsync - both > 0 && this.numsync > this.numsyncConfirmed) {
      yield* this.quorumUpdate(this.sync.size - this.numsync, this.voters);
    }
  }

  /** Members no longer streaming leave `sync` and `voters`. */
  *removeGone(): Generator<QuorumTransition> {
    let gone = minus(this.sync, this.active);
    if (gone.size && same(gone, this.sync)) {
      yield* this.quorumUpdate(0, new Set(), undefined, false);
      yield* this.syncUpdate(0, new Set());
      return;
    }
    if (!gone.size) return;
    if (this.quorum) {
      // shrink the quorum first, dropping the last names (deterministic)
      const remove = new Set([...gone].sort().reverse().slice(0, this.quorum));
      const sync = minus(this.sync, remove);
      const numsync = Math.min(this.syncWanted > this.numsync ? this.syncWanted : this.numsync, sync.size);
      yield* this.syncUpdate(numsync, sync);
      const voters = minus(this.voters, remove);
      gone = inter(gone, this.sync);
      yield* this.quorumUpdate(voters.size - this.numsync, voters, undefined, gone.size === 0);
    }
    if (gone.size) {
      if (this.quorum !== 0) throw new QuorumError(`quorum ${this.quorum} left while removing ${sorted(gone)}`);
      const numsync = this.numsync - gone.size;
      const sync = minus(this.sync, gone);
      const voters = minus(this.voters, gone);
      const decrease = numsync - Math.min(this.syncWanted, sync.size);
      const quorum = decrease ? Math.min(decrease, voters.size - 1) : 0;
      yield* this.quorumUpdate(quorum, voters, undefined, false);
      yield* this.syncUpdate(numsync, sync);
    }
  }

  /** Newly streaming members join `sync` and `voters`. */
  *addNew(): Generator<QuorumTransition> {
    let add = minus(this.active, this.sync);
    if (!add.size) return;
    const wanted = Math.min(this.syncWanted, union(this.sync, add).size);
    let increase = wanted - this.numsync;
    if (increase > 0) {
      // reach the wanted replication factor first; with an empty list all may join at once
      const first = this.sync.size ? new Set([...add].sort().slice(0, increase)) : add;
      if (this.sync.size) increase = first.size;
      yield* this.syncUpdate(this.numsync + increase, union(this.sync, first));
      const voters = union(this.voters, first);
      yield* this.quorumUpdate(voters.size - wanted, voters);
      add = minus(add, this.sync);
    }
    if (add.size) {
      const voters = union(this.voters, add);
      yield* this.quorumUpdate(voters.size - wanted, voters, undefined, wanted > this.numsyncConfirmed);
      yield* this.syncUpdate(wanted, union(this.sync, add));
    }
  }

  /** `synchronous_node_count` changed: raise numsync then lower quorum, or raise quorum then lower numsync. */
  *replicationFactor(): Generator<QuorumTransition> {
    const increase = Math.min(this.syncWanted, this.sync.size) - this.numsync;
    if (increase > 0) {
      yield* this.syncUpdate(this.numsync + increase, this.sync);
      yield* this.quorumUpdate(this.voters.size - this.numsync, this.voters);
    } else if (increase < 0) {
      if (this.quorum - increase < this.voters.size) {
        yield* this.quorumUpdate(this.voters.size - this.numsync - increase, this.voters, undefined, this.syncWanted > this.numsyncConfirmed);
      }
      yield* this.syncUpdate(this.numsync + increase, this.sync);
    }
  }
}
