/** Child for netns.test.ts: builds a network, prints its prefix, and waits to be signalled (Cleanup must remove everything). */
import { Cleanup } from './cleanup';
import { CampaignNetwork } from './netns';

async function main(): Promise<void> {
  const cleanup = new Cleanup();
  const net = await CampaignNetwork.create({ members: ['n0', 'n1'] });
  cleanup.add('network', () => net.destroy());
  await net.isolate('n0');
  process.stdout.write(`${net.prefix}\n`);
  setTimeout(() => process.exit(3), 60_000); // bounded: the test signals long before this
}
void main();
