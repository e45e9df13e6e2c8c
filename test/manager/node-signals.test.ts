/**
 * Finding a node's processes in /proc, with and without blocking the event loop: both find the
 * same children of a real process tree.
 */
import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { childrenOf, childrenOfAsync, signalNodeNow } from '../../src/manager/node-signals';

describe('node signals', () => {
  it('childrenOfAsync finds the same children as childrenOf, and signalNodeNow ends them all', async () => {
    const parent = spawn('sh', ['-c', 'sleep 60 & sleep 60 & sleep 60 & wait'], { stdio: 'ignore' });
    try {
      let sync: number[] = [];
      for (let i = 0; i < 100 && sync.length < 3; i++) {
        await sleep(20);
        sync = childrenOf(parent.pid!);
      }
      expect(sync).toHaveLength(3);
      expect((await childrenOfAsync(parent.pid!)).sort()).toEqual([...sync].sort());
      expect(await childrenOfAsync(2 ** 22 + 7)).toEqual([]); // no such parent
      const exited = new Promise((r) => parent.on('exit', r));
      signalNodeNow(parent.pid!, sync, 'SIGKILL');
      await exited;
      for (let i = 0; i < 100 && sync.some((p) => alive(p)); i++) await sleep(20);
      expect(sync.filter((p) => alive(p))).toEqual([]);
    } finally {
      try {
        process.kill(parent.pid!, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  });
});

/** Running (a zombie waiting for PID 1 to collect it counts as gone). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}
