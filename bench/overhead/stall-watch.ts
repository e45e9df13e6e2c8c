/**
 * The stall watch's own cost per statement (start + end, no I/O): `npx vite-node bench/overhead/stall-watch.ts`.
 * bench:overhead's "small write, stallCheckMillis 0" row prices it end to end, within that bench's noise.
 */
import { Socket } from 'node:net';
import { StallWatch, type StallEntry } from '../../src/pool/stall-watch';

const N = 2_000_000;
const NODE = '127.0.0.1:5432';

async function main(): Promise<void> {
  const w = new StallWatch({ stallCheckMillis: 1000, configFor: () => ({}) });
  const stream = new Socket();
  const client = { processID: 1, connection: { stream } };
  for (let round = 0; round < 5; round++) {
    let t = process.hrtime.bigint();
    for (let i = 0; i < N; i++) w.end(w.start(NODE, client));
    const one = Number(process.hrtime.bigint() - t) / N;
    // 8 outstanding at a time, like 8 workers.
    const open: StallEntry[] = [];
    t = process.hrtime.bigint();
    for (let i = 0; i < N; i++) {
      open.push(w.start(NODE, client));
      if (open.length > 8) w.end(open.shift());
    }
    const eight = Number(process.hrtime.bigint() - t) / N;
    while (open.length) w.end(open.shift());
    console.log(`start+end: ${one.toFixed(0)} ns/statement (one outstanding), ${eight.toFixed(0)} ns (8 outstanding)`);
  }
  await w.close();
  stream.destroy();
}

void main();
