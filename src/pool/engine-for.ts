/**
 * From a Pool's options to its engine: the single-host pass-through when pg alone can serve
 * them (direct-engine.ts), else the routing engine with its topology source, router policy,
 * classifier and per-node session config (routing-engine.ts).
 */
import type { EventEmitter } from 'node:events';
import type pg from 'pg';
import { Classifier } from '../routing/classify';
import { nodeKey, type TopologySource } from '../topology/topology';
import { ProbeTopology } from '../topology/probe';
import { PromotionWatch } from '../topology/promotion';
import { FallbackTopology } from '../topology/fallback';
import { planFor, type ClientOptions } from '../client/plan';
import { parseConnectionString } from '../connection';
import { pgAloneCanServe, pgAccepts } from '../client/pg-alone';
import { concealOptions } from '../secrets';
import { promiseClassOf } from '../custom-promise';
import { DirectEngine, directPoolFor, pgPoolConfig } from './direct-engine';
import { OWN_KEYS, topologyFromExtensions, type PoolOptions, type TopologyConfig } from './options';
import { createTopologySource } from './topology-factory';
import { RoutingEngine } from './routing-engine';
import type { PoolEngine } from './engine';

/**
 * causalWaitMillis' default. On loopback a standby replays a commit within ~0.1–1 ms; on a LAN a few ms.
 * Past 20 ms a standby is lagging, and the primary answers sooner than waiting longer would.
 */
const DEFAULT_CAUSAL_WAIT_MILLIS = 20;
/** failoverTimeoutMillis' default. */
const DEFAULT_FAILOVER_TIMEOUT_MILLIS = 30_000;
/** pg.Pool options each node's session pool takes as given. */
const PG_POOL_KEYS = ['max', 'min', 'idleTimeoutMillis', 'maxUses', 'allowExitOnIdle', 'maxLifetimeSeconds', 'log', 'Promise'] as const;

/** `o`: validated options, secrets concealed. `front`: the Pool the events go out on. */
export function engineFor(front: EventEmitter, o: PoolOptions): PoolEngine {
  const clientOptions: ClientOptions = {};
  for (const [k, v] of Object.entries(o)) if (!(OWN_KEYS as readonly string[]).includes(k)) (clientOptions as Record<string, unknown>)[k] = v;
  if (o.password !== undefined) clientOptions.password = o.password; // hidden again below
  clientOptions.connectionString = o.connectionString;
  clientOptions.env = o.env;
  clientOptions.connect_timeout = o.connect_timeout;
  if (o.connect_timeout === undefined && o.connectionTimeoutMillis === undefined) clientOptions.connectionTimeoutMillis = 5000;
  const conn = concealOptions(clientOptions);
  // One plain host that pg alone can serve (pg-alone.ts): a pg.Pool with the options as given, pg's parsing and defaults.
  const alone = pgAloneCanServe(conn) && pgAccepts(pgPoolConfig(o) as pg.ClientConfig);
  let plan: ReturnType<typeof planFor>;
  let parsed: ReturnType<typeof parseConnectionString>;
  try {
    plan = planFor(conn); // validates the connection string now, like pg
    parsed = parseConnectionString(o.connectionString ?? '', { env: o.env ?? process.env });
  } catch (e) {
    // pg's own form (pg://, socket:, ?ssl=true …): libpq's rules do not apply, pg.Pool serves it as is.
    const d = alone ? directPoolFor(o, 1, { extensions: {} }) : undefined;
    if (d) return new DirectEngine(d, front, o.readYourWrites);
    throw e; // pg's form, but routing options need libpq's
  }
  const direct = directPoolFor(o, alone ? 1 : plan.hosts.length, parsed);
  if (direct) return new DirectEngine(direct, front, o.readYourWrites);

  const tsa = o.target_session_attrs ?? parsed.target_session_attrs;
  const readFrom =
    o.readFrom ?? (tsa === 'primary' || tsa === 'read-write' ? 'primary' : tsa === 'standby' || tsa === 'read-only' ? 'standby' : 'prefer-standby');
  const poolPart: Record<string, unknown> = {};
  for (const k of PG_POOL_KEYS) if (o[k as keyof PoolOptions] !== undefined) poolPart[k] = o[k as keyof PoolOptions];
  const indexOf = (host: string, port: number) => {
    const i = plan.hosts.findIndex((h) => h.host === host && h.port === port);
    return i < 0 ? 0 : i;
  };
  const topo: TopologyConfig | TopologySource = o.topology ?? topologyFromExtensions(parsed.extensions) ?? { source: 'probe' };
  const probing = () =>
    new ProbeTopology({
      hosts: plan.hosts,
      configFor: (h) => plan.configFor(indexOf(h.host, h.port)),
      recheckIntervalMillis: (topo as { recheckIntervalMillis?: number }).recheckIntervalMillis ?? o.recheckIntervalMillis,
      probeTimeoutMillis: (topo as { probeTimeoutMillis?: number }).probeTimeoutMillis,
      Client: o.Client as typeof pg.Client | undefined,
    });
  const managed = (source: TopologySource): TopologySource =>
    o.fallbackToProbingMillis === false ? source : new FallbackTopology(source, { probe: probing, silentAfterMillis: o.fallbackToProbingMillis ?? 3000 });

  return new RoutingEngine(
    { front, options: o },
    {
      policy: {
        readFrom,
        balance: o.load_balance_hosts ?? (parsed.load_balance_hosts === 'random' ? 'random' : 'least-busy'),
        maxReplicaLagBytes: o.maxReplicaLagBytes,
        maxReplicaLagMillis: o.maxReplicaLagMillis,
      },
      classifier: o.classifier ?? new Classifier({ readOnlyFunctions: o.readOnlyFunctions, writeFunctions: o.writeFunctions }),
      readYourWrites: o.readYourWrites,
      causalWaitMillis: o.causalWaitMillis ?? DEFAULT_CAUSAL_WAIT_MILLIS,
      // Reads after writes wait on a standby unless the readFrom option says otherwise (the default prefers standbys).
      waitOnStandby: (o.causalWaitMillis ?? DEFAULT_CAUSAL_WAIT_MILLIS) > 0 && (o.readFrom ?? 'prefer-standby') === 'prefer-standby',
      failoverTimeoutMillis: o.failoverTimeoutMillis ?? DEFAULT_FAILOVER_TIMEOUT_MILLIS,
      promiseClass: promiseClassOf(o),
      configFor: ({ host, port }) => ({ ...plan.configFor(indexOf(host, port)), ...poolPart, Client: o.Client }) as pg.PoolConfig,
      topology: (isWritable) =>
        typeof (topo as TopologySource).start === 'function'
          ? (topo as TopologySource)
          : (topo as TopologyConfig).source === 'probe'
            ? probing()
            : new PromotionWatch(managed(createTopologySource(topo as TopologyConfig)), { isWritable: (m) => isWritable(nodeKey(m)) }),
    },
  );
}
