import { describe, test, expect } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { isAlive } from '../../src/manager/postgres';

const bin = join(__dirname, '../../bin/pg-failover.js');

describe('pg-failover up (the built CLI, as a user runs it)', () => {
  test('starts etcd + 2 managed nodes with progress lines on stderr, prints JSON, and Ctrl-C stops every process and removes its dir', async () => {
    expect(existsSync(join(__dirname, '../../dist/cli/main.js'))).toBe(true); // `npm test` builds first
    const child = spawn(process.execPath, [bin, 'up', '--nodes', '2', '--json', '--dir', process.env.PGFAILOVER_TEST_ROOT!], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (b) => (out += b));
    child.stderr.on('data', (b) => (err += b));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    const info = await new Promise<any>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no JSON from up within 60 s: ${out}`)), 60_000);
      child.stdout.on('data', () => {
        const end = out.indexOf('\n}\n');
        if (end >= 0) {
          clearTimeout(t);
          resolve(JSON.parse(out.slice(0, end + 2)));
        }
      });
    });
    expect(info.nodes.map((n: any) => n.role)).toEqual(['primary', 'standby']);
    // Progress of the slow steps, each with its duration, before the table.
    expect(err).toMatch(/\[up\] etcd: \S+ … up in \d+\.\d s\n/);
    expect(err).toMatch(/\[up\] n0: initdb and bootstrap … done in \d+\.\d s: leader on 127\.0\.0\.1:\d+\n/);
    expect(err).toMatch(/\[up\] n1: base backup from n0 … done in \d+\.\d s: streaming on 127\.0\.0\.1:\d+\n/);
    expect(info.etcd).toHaveLength(1);
    expect(info.managed).toBe(true);
    expect(info.nodes.every((n: any) => typeof n.api === 'string')).toBe(true);
    // Patroni's REST API answers on the leader.
    expect((await fetch(`${info.nodes[0].api}/primary`)).status).toBe(200);
    const [host, port] = info.nodes[0].address.split(':');
    const c = new pg.Client({ host, port: Number(port), user: 'postgres' });
    await c.connect();
    expect((await c.query('SELECT pg_is_in_recovery() AS r')).rows[0].r).toBe(false);
    await c.end();

    child.kill('SIGINT');
    expect(await exited).toBe(0);
    for (const n of info.nodes) expect(isAlive(n.pid)).toBe(false);
    expect(existsSync(info.dir)).toBe(false);
  });

  test('--plain --json --demo: stdout is one JSON document, progress and the demo go to stderr', async () => {
    const child = spawn(process.execPath, [bin, 'up', '--plain', '--nodes', '2', '--json', '--demo', '--duration', '1', '--dir', process.env.PGFAILOVER_TEST_ROOT!], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (b) => (out += b));
    child.stderr.on('data', (b) => (err += b));
    const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    expect(code, err).toBe(0);
    const info = JSON.parse(out); // nothing but the document
    expect(err).toMatch(/\[up\] n0: initdb and start … done in \d+\.\d s: primary on /);
    expect(err).toMatch(/\[up\] n1: base backup from n0 … done in \d+\.\d s: standby on /);
    expect(err).toMatch(/Demo: a pg-failover Pool over every node/);
    expect(err).toMatch(/node\s+reads\s+writes/);
    expect(info.managed).toBe(false);
    expect(info.nodes.map((n: any) => n.role)).toEqual(['primary', 'standby']);
    for (const n of info.nodes) expect(isAlive(n.pid)).toBe(false);
  }, 60_000);

  test('a bad flag gets a clear error and a non-zero exit', async () => {
    const child = spawn(process.execPath, [bin, 'up', '--nodes', 'zero'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (b) => (err += b));
    const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    expect(code).not.toBe(0);
    expect(err).toContain('INVALID_OPTION');
  });
});
