/** Entry of `npm run test:patroni-acceptance` (see run.ts). */
import { main } from './run';

if (process.env.PGF_SKIP_ACCEPTANCE === '1') {
  console.log('Patroni acceptance suite: NOT RUN (PGF_SKIP_ACCEPTANCE=1)');
} else main(process.argv.slice(2).filter((a) => a !== '--')).then(
  (c) => { process.exitCode = c; },
  (e: Error & { code?: string }) => { console.error(`${e.code ?? 'ERROR'}: ${e.message}`); process.exitCode = 1; },
);
