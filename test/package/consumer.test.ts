/**
 * A project that installs only pg-failover (the PACKED tarball, as npm would
 * publish it) and typescript compiles in strict mode — as an ES module
 * (module: nodenext) and as CommonJS (module: commonjs) — against every type
 * name @types/pg exports, through named imports and through the default
 * import; then the compiled programs run (import, require) against a real
 * primary + standby; and (opt-in, PGF_PACKAGE_DEMO=1 or `npm run test:package`:
 * ~45 s more) `npx pg-failover up --demo` runs from that project (its managers
 * from the installed package), prints its progress, the demo and the final
 * table, and stops everything it started. Needs `npm run build` first (`npm
 * test` does it).
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { useCluster } from '../support/cluster';
import { typeRef, typesPgExports } from './pg-types';

const root = join(__dirname, '../..');
/** `npx pg-failover up --demo` from the installed package: a whole managed cluster, so opt-in. */
const withDemo = process.env.PGF_PACKAGE_DEMO === '1';
const h = useCluster({ standbys: 1 });
let dir = '';
let project = '';

/** Every @types/pg name, as a type, through the named-import namespace and through the default import. */
function allTypesFile(): string {
  const names = typesPgExports();
  const refs: string[] = [];
  const runtime = pg as unknown as Record<string, unknown>;
  for (const e of names) {
    for (const ns of ['pgf', 'pgd']) {
      if (e.isType) refs.push(typeRef(ns, e));
      if (e.isValue && runtime[e.name] !== undefined) refs.push(`typeof ${ns}.${e.name}`);
    }
  }
  return [
    "import type * as pgf from 'pg-failover';",
    "import type pgd from 'pg-failover';",
    `export type AllTypes = [\n  ${refs.join(',\n  ')},\n];`,
    '',
  ].join('\n');
}

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): { status: number | null; out: string } {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', env: { ...process.env, ...env }, timeout: 180_000 });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

beforeAll(() => {
  if (!existsSync(join(root, 'dist/index.d.ts')) || !existsSync(join(root, 'dist/index.d.mts'))) {
    throw new Error('dist/ is missing: run `npm run build` first (npm test does)');
  }
  dir = mkdtempSync(join(tmpdir(), 'pgfo-consumer-'));
  const packed = JSON.parse(execFileSync('npm', ['pack', '--json', '--pack-destination', dir], { cwd: root, encoding: 'utf8' })) as Array<{ filename: string }>;
  const tarball = join(dir, packed[0].filename);
  project = join(dir, 'project');
  cpSync(join(__dirname, 'consumer'), project, { recursive: true });
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true }));
  const tsVersion = JSON.parse(readFileSync(join(root, 'node_modules/typescript/package.json'), 'utf8')).version as string;
  // --prefer-offline: the dependencies are in npm's cache from installing this repository.
  const install = run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', tarball, `typescript@${tsVersion}`], project);
  if (install.status !== 0) throw new Error(`npm install failed:\n${install.out}`);
  for (const sub of ['esm', 'cjs']) writeFileSync(join(project, sub, 'all-types.ts'), allTypesFile());
}, 240_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const tsc = () => join(project, 'node_modules/typescript/bin/tsc');

describe('a fresh project with only pg-failover and typescript', () => {
  it('installed nothing else directly, and has @types/pg through pg-failover', () => {
    const pkg = JSON.parse(readFileSync(join(project, 'package.json'), 'utf8'));
    expect(Object.keys(pkg.dependencies).sort()).toEqual(['pg-failover', 'typescript']);
    expect(existsSync(join(project, 'node_modules/@types/pg/index.d.ts'))).toBe(true);
  });

  it('ES module, strict, module nodenext: compiles, then runs with import (and require) like pg', () => {
    const build = run(process.execPath, [tsc(), '-p', 'esm'], project);
    expect(build.out).toBe('');
    expect(build.status).toBe(0);
    const r = run(process.execPath, ['esm/dist/main.js'], project, { DATABASE_URL: h.cluster.connectionString() });
    expect(r.status, r.out).toBe(0);
    expect(JSON.parse(r.out)).toEqual({
      standby: true,
      n: 2,
      fields: ['n'],
      databaseError: true,
      literal: "'it''s'",
      identifier: '"a""b"',
      native: null,
      sameDefault: true,
      sameRequire: true,
      helpers: ['function', 'object', 'function', 'function', 'function', 'function'],
      everyType: true,
    });
  }, 180_000);

  it('CommonJS, strict, module commonjs: compiles, then runs with require and the default import', () => {
    const build = run(process.execPath, [tsc(), '-p', 'cjs'], project);
    expect(build.out).toBe('');
    expect(build.status).toBe(0);
    const r = run(process.execPath, ['cjs/dist/main.js'], project, { DATABASE_URL: h.cluster.connectionString() });
    expect(r.status, r.out).toBe(0);
    expect(JSON.parse(r.out)).toEqual({
      standby: true,
      fields: ['one'],
      two: 2,
      native: null,
      sameDefault: true,
      literal: "'it''s'",
      databaseError: 'function',
      everyType: true,
    });
  }, 180_000);

  it.runIf(withDemo)('npx pg-failover up --demo: progress, the demo (writes → primary, reads → standbys, a switchover), the final table; then it stops', async () => {
    if (process.getuid?.() === 0) {
      // As root the managers run as `postgres`, who cannot enter the 0700 temp dir the package is installed in: said at once, by name.
      const refused = run('npx', ['--no-install', 'pg-failover', 'up', '--nodes', '1', '--duration', '1', '--dir', process.env.PGFAILOVER_TEST_ROOT!], project);
      expect(refused.status, refused.out).not.toBe(0);
      expect(refused.out).toContain('INVALID_OPTION');
      expect(refused.out).toContain(`cannot enter ${dir} (mode 700)`);
      chmodSync(dir, 0o711);
    }
    const child = spawn('npx', ['--no-install', 'pg-failover', 'up', '--nodes', '2', '--ttl', '5', '--demo', '--duration', '1', '--dir', process.env.PGFAILOVER_TEST_ROOT!], {
      cwd: project,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (b) => (out += b));
    child.stderr.on('data', (b) => (err += b));
    // Bounded: after 120 s it is stopped like a user would (Ctrl-C), then killed, by PID.
    const code = await new Promise<number | null>((resolve) => {
      const soft = setTimeout(() => child.kill('SIGINT'), 120_000);
      const hard = setTimeout(() => child.kill('SIGKILL'), 140_000);
      child.on('exit', (c) => {
        clearTimeout(soft);
        clearTimeout(hard);
        resolve(c);
      });
    });
    expect(code, `${out}\n${err}`).toBe(0);
    // It ran the installed package, not this checkout.
    expect(existsSync(join(project, 'node_modules/pg-failover/bin/pg-failover.js'))).toBe(true);
    expect(err).toMatch(/n0: initdb and bootstrap … done in \d+\.\d s/);
    expect(err).toMatch(/n1: base backup from n0 … done in \d+\.\d s/);
    expect(out).toMatch(/Local cluster up in \d+\.\d s/);
    expect(out).toMatch(/^ {2}n0 +primary +127\.0\.0\.1:\d+/m);
    expect(out).toMatch(/^ {2}n1 +standby +127\.0\.0\.1:\d+/m);
    expect(out).toMatch(/ {2}pg-failover: postgresql:\/\/postgres@127\.0\.0\.1:\d+,127\.0\.0\.1:\d+\/postgres\?pgfailover\.etcd=/);
    expect(out).toMatch(/write {2}INSERT … RETURNING id +→ n0 \(primary\)/);
    expect(out).toMatch(/read {3}SELECT count\(\*\) +→ n1 \(standby\)/);
    expect(out).toMatch(/writes: \d+ ok, 0 failed/);
    expect(out).toMatch(/^ {2}node +reads +writes$/m);
    expect(out).toMatch(/^ {2}n0 +\d+ +\d+$/m);
    expect(err).toMatch(/\[up\] stopped/);
  }, 180_000);

  it('the check has teeth: a name @types/pg lacks does not compile', () => {
    writeFileSync(join(project, 'esm', 'broken.ts'), "import type * as pgf from 'pg-failover';\nexport type X = pgf.NoSuchPgType;\n");
    try {
      const build = run(process.execPath, [tsc(), '-p', 'esm', '--noEmit'], project);
      expect(build.status).not.toBe(0);
      expect(build.out).toContain('NoSuchPgType');
    } finally {
      rmSync(join(project, 'esm', 'broken.ts'));
    }
  }, 180_000);
});
