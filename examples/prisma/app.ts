/**
 * Prisma 7 on pg-failover through its driver adapter: `PrismaPgFailover` from
 * `pg-failover/prisma` is @prisma/adapter-pg's `PrismaPg` on our Pool (the plain
 * `new PrismaPg(ourPool)` would not use it: see src/integrations/prisma.ts).
 * No Rust query engine: Prisma 7's client compiles queries in JS.
 * Generate the client first: `npm run example:prisma:generate`.
 */
import { PrismaPgFailover } from 'pg-failover/prisma';
import { PrismaClient } from './generated/client';
import { num, type ExampleApp } from '../shared/app';

export function createApp(connectionString: string): ExampleApp {
  const prisma = new PrismaClient({
    adapter: new PrismaPgFailover(connectionString),
    // Prisma gives up starting an interactive transaction after maxWait (default 2 s, P2028);
    // during a failover our Pool holds BEGIN until a new primary is known: wait as long as it does.
    transactionOptions: { maxWait: 30_000 },
  });
  return {
    name: 'prisma',
    async setup() {
      await prisma.$executeRawUnsafe('CREATE TABLE IF NOT EXISTS prisma_items (id int PRIMARY KEY, note text)');
    },
    async write(id) {
      await prisma.item.create({ data: { id, note: 'w' } });
      // Prisma's create returns the row, not server functions: ask the session that wrote, in the same statement.
      const [r] = await prisma.$queryRaw<Array<{ port: number; standby: boolean }>>`UPDATE prisma_items SET note = 'w' WHERE id = ${id} RETURNING inet_server_port() AS port, pg_is_in_recovery() AS standby`;
      return { port: num(r!.port), standby: r!.standby };
    },
    async read() {
      const [r] = await prisma.$queryRaw<Array<{ n: bigint; port: number; standby: boolean }>>`SELECT count(*) AS n, inet_server_port() AS port, pg_is_in_recovery() AS standby FROM prisma_items`;
      return { count: num(r!.n), port: num(r!.port), standby: r!.standby };
    },
    async transaction(id) {
      return prisma.$transaction(async (tx) => {
        const [a] = await tx.$queryRaw<Array<{ port: number; pid: number }>>`SELECT inet_server_port() AS port, pg_backend_pid() AS pid`;
        await tx.item.create({ data: { id, note: 't' } });
        const [b] = await tx.$queryRaw<Array<{ port: number; pid: number }>>`SELECT inet_server_port() AS port, pg_backend_pid() AS pid`;
        return { ports: [num(a!.port), num(b!.port)], pids: [num(a!.pid), num(b!.pid)] };
      });
    },
    close: () => prisma.$disconnect(),
  };
}
