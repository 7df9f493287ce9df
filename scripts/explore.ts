// npm run explore [-- --rounds N] [vitest filters...]: the randomized tests on fresh seeds instead of the fixed list
// `npm test` uses. Each test prints the seed it tries ("explore: <test> seed <n>"); a failure prints the
// VFPGA_SEED=<n> command that replays it. Stops at the first failing round.
import { spawnSync } from 'node:child_process';

const args = process.argv.slice(2);
let rounds = 1;
const i = args.indexOf('--rounds');
if (i >= 0) {
  rounds = Number(args[i + 1]);
  if (!Number.isInteger(rounds) || rounds < 1)
    throw new Error(`explore: --rounds needs a positive integer, got ${args[i + 1]}`);
  args.splice(i, 2);
}
for (let r = 1; r <= rounds; r++) {
  console.log(`explore: round ${r} of ${rounds}`);
  const res = spawnSync('npx', ['vitest', 'run', ...args], {
    stdio: 'inherit',
    env: { ...process.env, VFPGA_EXPLORE: '1', VFPGA_SEED: '' },
  });
  if (res.status !== 0) process.exit(res.status ?? 1);
}
