/**
 * The campaign's network: namespaces on a bridge, real packet loss from
 * nftables rules inside a namespace, and nothing left behind — after
 * destroy(), after SIGTERM, and when the host lacks a facility.
 */
import { describe, it, expect, afterAll } from 'vitest';
import { execFile, spawn } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { promisify } from 'node:util';
import { CampaignNetwork, CampaignUnsupportedError, listByPrefix, precheck } from './netns';

const run = promisify(execFile);
const isRoot = process.getuid?.() === 0;

/** Can `ns` open a TCP connection to host:port within 1.5 s? */
async function canConnect(net: CampaignNetwork, from: string, host: string, port: number): Promise<boolean> {
  const [ip, ...pre] = net.prefixFor(from);
  try {
    await run(ip!, [...pre, 'timeout', '1.5', 'bash', '-c', `exec 3<>/dev/tcp/${host}/${port}`]);
    return true;
  } catch {
    return false;
  }
}

describe('precheck', () => {
  it('names `ip` when PATH lacks it, and creates nothing', async () => {
    const err = await precheck({ PATH: '/nonexistent' }, 0).catch((e) => e);
    expect(err).toBeInstanceOf(CampaignUnsupportedError);
    expect(err.code).toBe('CAMPAIGN_UNSUPPORTED');
    expect(err.missing.some((m: string) => m.includes('`ip`'))).toBe(true);
    expect(err.missing.some((m: string) => m.includes('`nft`'))).toBe(true);
    if (isRoot) expect(await listByPrefix('pgfcprobe')).toEqual([]);
  });

  it('names root privileges when not root', async () => {
    const err = await precheck(process.env, 1000).catch((e) => e);
    expect(err).toBeInstanceOf(CampaignUnsupportedError);
    expect(err.missing.join('\n')).toMatch(/root privileges/);
  });

  it('CampaignNetwork.create with a PATH lacking `ip` fails before creating anything', async () => {
    const err = await CampaignNetwork.create({ members: ['n0'], env: { PATH: '/nonexistent' } }).catch((e) => e);
    expect(err).toBeInstanceOf(CampaignUnsupportedError);
  });
});

describe.runIf(isRoot)('namespaces on a bridge', () => {
  let net: CampaignNetwork;
  let server: Server;
  let n1Server: ReturnType<typeof spawn> | undefined;
  afterAll(async () => {
    n1Server?.kill('SIGKILL');
    server?.close();
    await net?.destroy();
  });

  it('connects, drops for real, heals, and leaves nothing after destroy()', async () => {
    net = await CampaignNetwork.create({ members: ['n0', 'n1'] });
    server = createServer((s) => s.end()).listen(0, net.clientAddress);
    await new Promise((r) => server.once('listening', r));
    const port = (server.address() as { port: number }).port;
    const n1 = net.member('n1');
    const [ip, ...pre] = net.prefixFor('n1');
    n1Server = spawn(ip!, [...pre, process.execPath, '-e', `require('net').createServer(s=>s.end()).listen(7000,'${n1.address}');setTimeout(()=>{},30000)`], { stdio: 'ignore' });
    let up = false;
    for (let i = 0; i < 50 && !up; i++) up = await canConnect(net, 'n0', n1.address, 7000);
    expect(up).toBe(true);
    expect(await canConnect(net, 'n0', net.clientAddress, port)).toBe(true);

    const cut = await net.drop('n0', [net.clientAddress]);
    expect(await canConnect(net, 'n0', net.clientAddress, port)).toBe(false); // real packet loss
    expect(await canConnect(net, 'n0', n1.address, 7000)).toBe(true); // only that address
    await net.heal(cut);
    expect(await canConnect(net, 'n0', net.clientAddress, port)).toBe(true);

    const iso = await net.isolate('n0');
    expect(await canConnect(net, 'n0', n1.address, 7000)).toBe(false);
    expect(await canConnect(net, 'n1', net.clientAddress, port)).toBe(true);
    expect(net.openFaults).toEqual([iso]);
    await net.healAll();
    expect(net.openFaults).toEqual([]);
    expect(await canConnect(net, 'n0', n1.address, 7000)).toBe(true);

    n1Server.kill('SIGKILL');
    await new Promise((r) => n1Server!.once('exit', r));
    n1Server = undefined;
    expect((await net.leftovers()).length).toBeGreaterThan(0);
    await net.destroy();
    expect(await net.leftovers()).toEqual([]);
  }, 60_000);

  it('SIGTERM in the middle of a run removes every namespace and link of the run', async () => {
    const child = spawn(process.execPath, ['node_modules/vite-node/vite-node.mjs', 'test/campaign/netns-child.ts'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const prefix = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout!.on('data', (d) => {
        out += d;
        const m = /^(pgfc[0-9a-f]{4})$/m.exec(out);
        if (m) resolve(m[1]!);
      });
      child.once('exit', (code) => reject(new Error(`child exited ${code} before printing its prefix`)));
    });
    expect((await listByPrefix(prefix)).length).toBeGreaterThan(0);
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    child.kill('SIGTERM');
    await exited;
    await new Promise((r) => setTimeout(r, 500));
    expect(await listByPrefix(prefix)).toEqual([]);
  }, 60_000);
});
