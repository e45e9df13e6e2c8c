/**
 * Runs one example app against a cluster and prints where each operation ran:
 *
 *   npx pg-failover up                      # prints the pg-failover connection string
 *   DATABASE_URL='postgresql://…' npm run example -- kysely
 *
 * Apps: kysely, drizzle, typeorm, knex, prisma (generate first: npm run example:prisma:generate),
 * streams, sequelize, mikro-orm, slonik, express (starts the HTTP app and calls it like a browser would).
 */
import type { ExampleApp } from './shared/app';

const LOADERS: Record<string, () => Promise<{ createApp(url: string): ExampleApp }>> = {
  kysely: () => import('./kysely/app'),
  drizzle: () => import('./drizzle/app'),
  typeorm: () => import('./typeorm/app'),
  knex: () => import('./knex/app'),
  prisma: () => import('./prisma/app'),
  streams: () => import('./streams/app'),
  sequelize: () => import('./sequelize/app'),
  'mikro-orm': () => import('./mikro-orm/app'),
  slonik: () => import('./slonik/app'),
  express: () => import('./express/client'),
  fastify: () => import('./fastify/client'),
};

async function main(): Promise<void> {
  const name = process.argv.slice(2).find((a) => a !== '--') ?? '';
  const url = process.env.DATABASE_URL;
  if (!LOADERS[name] || !url) {
    process.stderr.write(`usage: DATABASE_URL=<pg-failover connection string> npm run example -- <${Object.keys(LOADERS).join('|')}>\n`);
    process.exitCode = 2;
    return;
  }
  const app = (await LOADERS[name]!()).createApp(url);
  try {
    await app.setup();
    const id = Date.now() % 1_000_000_000;
    const where = (w: { port: number; standby: boolean }) => `port ${w.port} (${w.standby ? 'standby' : 'primary'})`;
    console.log(`write        → ${where(await app.write(id))}`);
    await new Promise((r) => setTimeout(r, 200)); // let a standby replay it (read-your-writes)
    const r = await app.read();
    console.log(`read         → ${where(r)}: ${r.count} rows`);
    const t = await app.transaction(id + 1);
    console.log(`transaction  → ports ${t.ports.join(', ')}, backend pids ${t.pids.join(', ')} (one session)`);
  } finally {
    await app.close();
  }
}

void main().catch((e) => {
  console.error(`${(e as { code?: string }).code ?? ''} ${(e as Error).message}`);
  process.exitCode = 1;
});
