// Child-process body of otel-pg.test.ts: instrumentation must be registered before `pg` is
// first required (it patches the module on load), so this runs in a fresh Node with the build.
'use strict';
const { NodeTracerProvider } = require('@opentelemetry/sdk-trace-node');
const { InMemorySpanExporter, SimpleSpanProcessor } = require('@opentelemetry/sdk-trace-base');
const { registerInstrumentations } = require('@opentelemetry/instrumentation');
const { PgInstrumentation } = require('@opentelemetry/instrumentation-pg');

const exporter = new InMemorySpanExporter();
const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
provider.register();
registerInstrumentations({ instrumentations: [new PgInstrumentation()] });

const { Pool } = require('pg-failover');

(async () => {
  const pool = new Pool({ connectionString: process.env.URL });
  pool.on('error', () => {});
  await pool.query('CREATE TABLE IF NOT EXISTS traced (id int)');
  await pool.query('INSERT INTO traced VALUES (1)');
  await new Promise((r) => setTimeout(r, 300));
  await pool.query('SELECT count(*) FROM traced /* traced-read */');
  const c = await pool.connect();
  await c.query('BEGIN');
  await c.query('INSERT INTO traced VALUES (2) /* traced-txn */');
  await c.query('COMMIT');
  c.release();
  await pool.end();
  await provider.forceFlush();
  const spans = exporter.getFinishedSpans().map((s) => ({
    name: s.name,
    statement: s.attributes['db.statement'] ?? s.attributes['db.query.text'],
    port: s.attributes['net.peer.port'] ?? s.attributes['server.port'],
  }));
  process.stdout.write(JSON.stringify(spans));
})().catch((e) => {
  process.stderr.write(String(e && e.stack));
  process.exit(1);
});
