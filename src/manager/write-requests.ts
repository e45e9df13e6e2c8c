/**
 * The REST API's write requests other than switchover/failover (PATCH/PUT /config, POST /reload,
 * /restart, /reinitialize, DELETE /restart, /switchover), answered the way Patroni answers them.
 * Anything that touches PostgreSQL runs through the executor, one action at a time with the HA
 * cycle's. The agent exposes these as its AgentView methods.
 */
import { rmSync } from 'node:fs';
import type { DcsSnapshot, WriteOutcome } from './agent-view';
import { patchConfig } from './config-patch';
import { slotSettingsOf } from './slot-config';
import type { Executor } from './executor';
import { errText, type NodeContext } from './node-context';
import { cloneSource } from './upstream';
import { cloneFrom } from './actions/bootstrap';

/** Carries out the write requests for one node. */
export class WriteRequests {
  readonly #ctx: NodeContext;
  readonly #executor: Executor;

  constructor(ctx: NodeContext, executor: Executor) {
    this.#ctx = ctx;
    this.#executor = executor;
  }

  /** PATCH /config (JSON merge, null deletes) or PUT /config (`replace`): compare-and-set on the key read. */
  async patchConfig(patch: Record<string, unknown>, replace = false): Promise<WriteOutcome> {
    let snap: DcsSnapshot;
    try {
      snap = await this.#ctx.dcs.snapshot();
    } catch {
      return { status: 503, body: 'DCS is not accessible' };
    }
    if (!replace && snap.revisions.config === '0') return { status: 503, body: 'the cluster has no dynamic configuration yet' };
    const next = replace ? { config: patch, changed: JSON.stringify(patch) !== JSON.stringify(snap.config) } : patchConfig(snap.config, patch);
    // Patroni stores any value and skips a bad slot at run time with an error line; a new bad value is refused here instead.
    const before = new Set(slotSettingsOf(snap.config).problems.map((p) => p.message));
    const introduced = slotSettingsOf(next.config).problems.filter((p) => !before.has(p.message));
    if (introduced.length) return { status: 400, body: introduced.map((p) => p.message).join('; ') };
    if (next.changed && !(await this.#ctx.dcs.setConfig(next.config, snap.revisions.config))) return { status: 409, body: 'the configuration changed meanwhile; re-read it and try again' };
    this.#ctx.wakeUp();
    return { status: 200, body: next.config };
  }

  /** POST /reload: re-read the node configuration (tags, …) and wake the loop; 202 like Patroni. */
  async reload(): Promise<WriteOutcome> {
    if (this.#ctx.options.reloadConfig) {
      try {
        this.#ctx.config = this.#ctx.options.reloadConfig();
      } catch (e) {
        this.#ctx.log(`reload: the configuration is invalid, keeping the running one: ${errText(e)}`);
        return { status: 202, body: 'reload scheduled' };
      }
    }
    this.#ctx.log('reload: configuration re-read');
    this.#ctx.wakeUp();
    return { status: 202, body: 'reload scheduled' };
  }

  /**
   * POST /restart (Patroni's body: `schedule`, `role`, `restart_pending`, `postgres_version`, `timeout`):
   * restarts PostgreSQL in the same role now, or at `schedule` (202); the conditions are checked when it
   * runs: `role` must be this node's, `restart_pending` needs a pending restart.
   */
  async restart(req: Record<string, unknown>): Promise<WriteOutcome> {
    for (const k of ['postgres_version', 'timeout']) {
      if (req[k] !== undefined) return { status: 501, body: `restart with "${k}" is not supported by this manager` };
    }
    const role = req.role === undefined ? undefined : String(req.role);
    if (role !== undefined && !['primary', 'master', 'replica'].includes(role)) return { status: 400, body: `PostgreSQL role should be either primary or replica` };
    const onlyPending = req.restart_pending === true || (typeof req.restart_pending === 'string' && /^(true|yes|on|1)$/i.test(req.restart_pending));
    const conditions = { ...(role ? { role } : {}), onlyPending };
    if (req.schedule !== undefined) {
      const at = Date.parse(String(req.schedule));
      if (Number.isNaN(at)) return { status: 400, body: 'Unable to parse scheduled timestamp. It should be in an unambiguous format, e.g. ISO 8601' };
      if (this.#ctx.scheduledRestart) return { status: 409, body: 'Cannot schedule restart: another restart is already scheduled' };
      const timer = setTimeout(() => {
        this.#ctx.scheduledRestart = undefined;
        if (!this.#ctx.running) return; // stopped meanwhile: never start PostgreSQL again
        void this.#restartIf(conditions).then((r) => this.#ctx.log(`scheduled restart: ${r.body}`));
      }, Math.max(0, at - Date.now()));
      timer.unref();
      this.#ctx.scheduledRestart = { at, timer };
      this.#ctx.wakeUp();
      return { status: 202, body: 'Restart scheduled' };
    }
    return this.#restartIf(conditions);
  }

  /** DELETE /restart: cancel a scheduled restart. */
  async cancelRestart(): Promise<WriteOutcome> {
    if (!this.#ctx.scheduledRestart) return { status: 404, body: 'no restarts are scheduled' };
    clearTimeout(this.#ctx.scheduledRestart.timer);
    this.#ctx.scheduledRestart = undefined;
    this.#ctx.wakeUp();
    return { status: 200, body: 'scheduled restart deleted' };
  }

  /** Restarts PostgreSQL (fast stop, start) through the executor when the request's conditions hold now. */
  async #restartIf(c: { role?: string; onlyPending: boolean }): Promise<WriteOutcome> {
    const local = await this.#ctx.localStatus();
    const isPrimary = this.#ctx.node.role === 'primary';
    if (c.role && (c.role === 'replica') === isPrimary) return { status: 503, body: 'restart conditions are not satisfied' };
    if (c.onlyPending && local?.pending_restart !== true) return { status: 503, body: 'restart conditions are not satisfied' };
    const done = await this.#executor.attempt(async () => {
      this.#ctx.log('restart requested: restarting PostgreSQL');
      this.#ctx.state = 'restarting';
      await this.#ctx.postgres.stop('fast');
      await this.#ctx.withHeartbeat(() => this.#ctx.postgres.start());
      this.#ctx.state = 'running';
      return 'restarted PostgreSQL';
    });
    // Patroni's answer to a restart that did not bring PostgreSQL back: 503 "restart failed"
    if (!done.ok) return { status: 503, body: `restart failed: ${errText(done.error)}` };
    return { status: 200, body: 'restarted successfully' };
  }

  /** POST /reinitialize: a replica wipes its data directory and clones again (a `clonefrom` member or the leader, as Patroni). */
  async reinitialize(req: { force: boolean; fromLeader?: boolean }): Promise<WriteOutcome> {
    if (this.#ctx.holdsLock || this.#ctx.node.role === 'primary') return { status: 503, body: 'I am the leader, can not reinitialize' };
    const snap = await this.#ctx.dcs.snapshot().catch(() => undefined);
    const leader = snap?.leader ? snap.members.find((m) => m.name === snap.leader) : undefined;
    if (!snap?.leader || !leader?.data.conn_url) return { status: 503, body: 'Cluster has no leader, can not reinitialize' };
    const source = (req.fromLeader ? undefined : cloneSource(this.#ctx.name, snap)) ?? { name: snap.leader, data: leader.data };
    void this.#executor.run(async () => {
      this.#ctx.log(`reinitialize: removing the data directory and cloning from ${source.name}`);
      await this.#ctx.postgres.stop('immediate').catch(() => {});
      rmSync(this.#ctx.postgres.dataDir, { recursive: true, force: true });
      await cloneFrom(this.#ctx, source.name, source.data, source.name === snap.leader ? 'leader' : 'replica');
      return `reinitialized from ${source.name}`;
    });
    return { status: 200, body: 'reinitialize started' };
  }

  /** DELETE /switchover: cancel a scheduled switchover (compare-and-set on the request read). */
  async cancelSwitchover(): Promise<WriteOutcome> {
    const snap = await this.#ctx.dcs.snapshot().catch(() => undefined);
    if (!snap) return { status: 503, body: 'DCS is not accessible' };
    if (!snap.failover?.scheduled_at) return { status: 404, body: 'No switchover is scheduled' };
    if (!(await this.#ctx.dcs.clearFailover(snap.revisions.failover))) return { status: 409, body: 'the switchover request changed meanwhile' };
    return { status: 200, body: 'scheduled switchover deleted' };
  }
}
