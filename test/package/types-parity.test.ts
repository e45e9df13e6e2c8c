/**
 * Every name @types/pg exports is exported by pg-failover with the same
 * shape: each type is identical to pg's (Pool and Client excepted: they are
 * ours, and must still be usable where pg's are), each value pg has at runtime
 * is there too and the same object. The names are enumerated from @types/pg
 * with the compiler API, so a name added there fails this test until it is
 * exported here.
 */
import ts from 'typescript';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import pg from 'pg';
import * as pgf from '../../src';
import { typeRef, typesPgExports, type ExportedName } from './pg-types';

const root = join(__dirname, '../..');
/** Our own classes in place of pg's: checked for usability where pg's are expected, not identity. */
const OURS = new Set(['Pool', 'Client']);
const names = typesPgExports();
const pgRuntime = pg as unknown as Record<string, unknown>;

/**
 * Type-checks `text` as if it were a file in test/package/ (imports resolve as
 * for the suite) and returns its diagnostics, one per failing line.
 */
function check(text: string): { line: number; message: string }[] {
  const file = join(__dirname, '__types_parity__.ts');
  const options: ts.CompilerOptions = { strict: true, noEmit: true, skipLibCheck: true, esModuleInterop: true, module: ts.ModuleKind.CommonJS, moduleResolution: ts.ModuleResolutionKind.Node10, target: ts.ScriptTarget.ES2022, types: ['node'] };
  const host = ts.createCompilerHost(options);
  const read = host.getSourceFile.bind(host);
  host.getSourceFile = (name, lang, ...rest) => (name === file ? ts.createSourceFile(name, text, lang) : read(name, lang, ...rest));
  const exists = host.fileExists.bind(host);
  host.fileExists = (name) => name === file || exists(name);
  const program = ts.createProgram([file], options, host);
  const sf = program.getSourceFile(file)!;
  return ts.getPreEmitDiagnostics(program, sf).map((d) => ({
    line: d.start === undefined ? -1 : sf.getLineAndCharacterOfPosition(d.start).line,
    message: ts.flattenDiagnosticMessageText(d.messageText, ' '),
  }));
}

/** One line per check, so a diagnostic's line says which name failed. */
function checksFor(e: ExportedName): string[] {
  const lines: string[] = [];
  if (e.isType && !OURS.has(e.name)) lines.push(`same<Same<${typeRef('pgf', e)}, ${typeRef('pg', e)}>>(); // ${e.name}: type`);
  if (e.isType && OURS.has(e.name)) lines.push(`type _${e.name} = ${typeRef('pgf', e)}; // ${e.name}: type (ours)`);
  if (e.isValue && pgRuntime[e.name] !== undefined && !OURS.has(e.name)) lines.push(`same<Same<typeof pgf.${e.name}, typeof pg.${e.name}>>(); // ${e.name}: value`);
  if (e.isValue && OURS.has(e.name)) lines.push(`void pgf.${e.name}; // ${e.name}: value (ours)`);
  return lines;
}

describe('the type names of @types/pg', () => {
  it('are enumerated from @types/pg itself', () => {
    expect(names.length).toBeGreaterThan(30);
    for (const n of ['PoolClient', 'PoolConfig', 'ClientConfig', 'QueryResult', 'QueryResultRow', 'QueryConfig', 'FieldDef', 'Notification', 'Pool', 'Client', 'types']) {
      expect(names.map((e) => e.name)).toContain(n);
    }
  });

  it('are all exported by pg-failover with the same shape (compile-time)', () => {
    const header = [
      "import type * as pg from 'pg';",
      "import * as pgf from '../../src';",
      'type Same<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;',
      'declare function same<T extends true>(): void;',
    ];
    const body = names.flatMap(checksFor);
    const problems = check([...header, ...body].join('\n')).map((d) => `${body[d.line - header.length] ?? `line ${d.line}`}\n    ${d.message}`);
    expect(problems, problems.join('\n')).toEqual([]);
  });

  it('our Pool, Client and checked-out client are usable where pg’s are expected (and assignable to pg’s types)', () => {
    const problems = check(
      [
        "import type * as pg from 'pg';",
        "import * as pgf from '../../src';",
        'async function use(pool: pgf.Pool, client: pgf.Client) {',
        '  const c: pg.PoolClient = await pool.connect();',
        '  const r: pg.QueryResult<{ n: number }> = await pool.query<{ n: number }>("SELECT 1 AS n");',
        '  const r2: pg.QueryResult = await client.query("SELECT 1");',
        '  const r3: pg.QueryResult<{ two: number }> = await client.query<{ two: number }>("SELECT 2 AS two");',
        '  const r4: pg.QueryResult<{ n: number }> = await c.query<{ n: number }>({ text: "SELECT $1::int AS n", values: [1] });',
        '  const a: pg.QueryArrayResult<[number]> = await client.query<[number]>({ text: "SELECT 1", rowMode: "array" });',
        '  void [r3, r4, a];',
        '  const asPg: pg.Pool = pool; // libraries typed against pg.Pool (drizzle, connect-pg-simple …) accept ours',
        '  const asPgClient: pg.Client = client;',
        '  void [asPg, asPgClient];',
        '  const cfg: pg.PoolConfig = { max: 3 };',
        '  new pgf.Pool(cfg);',
        '  const ccfg: pg.ClientConfig = { host: "h" };',
        '  new pgf.Client(ccfg);',
        '  c.release();',
        '  return [r, r2];',
        '}',
        'void use;',
      ].join('\n'),
    ).map((d) => `line ${d.line}: ${d.message}`);
    expect(problems, problems.join('\n')).toEqual([]);
  });

  it('pool.options has pg-pool’s defaults filled in, like pg.Pool’s (its type says they are there)', async () => {
    const keys = ['max', 'min', 'maxUses', 'allowExitOnIdle', 'maxLifetimeSeconds', 'idleTimeoutMillis'] as const;
    for (const config of [{}, { max: 3, idleTimeoutMillis: 0 }, { poolSize: 4 } as pg.PoolConfig]) {
      const theirs = new pg.Pool(config);
      const ours = new pgf.Pool({ ...config, connectionString: 'postgresql://127.0.0.1:1,127.0.0.1:2/db' });
      for (const k of keys) expect(ours.options[k], k).toEqual(theirs.options[k]);
      await Promise.all([theirs.end(), ours.end()]);
    }
  });

  it('values pg has at runtime are the same objects; the types-only classes are not values here either', () => {
    const ours = pgf as unknown as Record<string, unknown>;
    for (const e of names.filter((x) => x.isValue)) {
      if (pgRuntime[e.name] === undefined) {
        expect(ours[e.name], `${e.name} is not a value in pg either`).toBeUndefined();
        continue;
      }
      expect(ours[e.name], e.name).toBeDefined();
      if (!OURS.has(e.name)) expect(ours[e.name], e.name).toBe(pgRuntime[e.name]);
    }
    expect(pgf.native).toBe(pg.native); // null here: pg-native is not installed
    expect(pgf.default.Pool).toBe(pgf.Pool);
  });
});
