/**
 * `pg-failover/prisma`: Prisma's driver adapter on a pg-failover Pool.
 *
 * `@prisma/adapter-pg` (Prisma 7) accepts a pool only when it is
 * `instanceof pg.Pool` from its own `pg`; anything else it treats as a
 * *config* and builds its own `pg.Pool` from it — handed our Pool, it would
 * silently connect to localhost:5432 with no routing. `PrismaPgFailover` is
 * that adapter with our Pool put in its place:
 *
 * ```ts
 * import { PrismaClient } from './generated/client';
 * import { PrismaPgFailover } from 'pg-failover/prisma';
 *
 * const prisma = new PrismaClient({ adapter: new PrismaPgFailover(process.env.DATABASE_URL!) });
 * await prisma.item.create({ data: { id: 1 } });   // → the primary
 * await prisma.item.count();                       // → a standby
 * await prisma.$transaction(async (tx) => { … });  // → one primary session
 * ```
 *
 * Pass a connection string / PoolOptions (the adapter then owns the Pool and
 * ends it on `$disconnect()`), or a Pool you own. Loaded only through this sub-path.
 */
import { Pool } from '../pool/pool';
import type { PoolOptions } from '../pool/options';
import { FailoverError } from '../errors';
import type { PrismaPg as PrismaPgType } from '@prisma/adapter-pg';

/** @prisma/adapter-pg's options (second argument of `new PrismaPg`). */
export type PrismaPgOptions = NonNullable<ConstructorParameters<typeof PrismaPgType>[1]>;

type PrismaPgClass = new (poolOrConfig: unknown, options?: PrismaPgOptions) => { externalPool: unknown; config: unknown; connect(): Promise<unknown> };

function loadPrismaPg(): PrismaPgClass {
  let mod: { PrismaPg?: unknown };
  try {
    mod = require('@prisma/adapter-pg');
  } catch (e) {
    throw new FailoverError('INVALID_OPTION', 'pg-failover/prisma needs @prisma/adapter-pg (npm install @prisma/adapter-pg)', { cause: e });
  }
  if (typeof mod.PrismaPg !== 'function') throw new FailoverError('INVALID_OPTION', 'pg-failover/prisma: @prisma/adapter-pg exports no PrismaPg class (unsupported version)');
  return mod.PrismaPg as PrismaPgClass;
}

const PrismaPg = loadPrismaPg();

class PrismaPgFailoverImpl extends PrismaPg {
  /** The pg-failover Pool Prisma runs on. */
  readonly failoverPool: Pool;

  constructor(pool: Pool | PoolOptions | string, options: PrismaPgOptions = {}) {
    const owns = !(pool instanceof Pool);
    const p = pool instanceof Pool ? pool : new Pool(typeof pool === 'string' ? { connectionString: pool } : pool);
    if (owns) p.on('error', () => {}); // idle sessions of a failed node; Prisma adds its own listener on connect
    super({}, { ...options, disposeExternalPool: options.disposeExternalPool ?? owns });
    if (!('externalPool' in this) || !('config' in this)) {
      throw new FailoverError('INVALID_OPTION', 'pg-failover/prisma: this @prisma/adapter-pg version has no externalPool/config fields (tested with 7.x); please report it');
    }
    this.externalPool = p;
    this.config = p.options;
    this.failoverPool = p;
  }
}

/** `@prisma/adapter-pg`'s `PrismaPg`, running on a pg-failover Pool (see the module comment). */
export const PrismaPgFailover = PrismaPgFailoverImpl as unknown as new (pool: Pool | PoolOptions | string, options?: PrismaPgOptions) => PrismaPgType & { readonly failoverPool: Pool };
export default PrismaPgFailover;
