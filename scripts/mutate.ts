// npm run mutate [-- [--force] [files...]]: mutation testing of the host model (tb/pcie by default) with Stryker and
// the vitest runner over test/tb (stryker.config.json, vitest.mutate.config.ts), one test process (the machine's two
// cores are shared). Then prints each file's score, and the score leaving out mutants that only change error-message
// text (scripts/mutation-report.ts, which lists the mutants it left out so a reader can check them).
//
// Incremental: build/mutation/incremental.json keeps the latest result of every file measured so far, and a run
// re-tests only the mutants whose code or covering tests changed (--force: everything). Stryker writes back only the
// files of its run, so the results of the others are merged back in afterwards.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { summarize } from './mutation-report';

const INCREMENTAL = 'build/mutation/incremental.json';
const REPORT = 'build/mutation/mutation.json';

const args = process.argv.slice(2);
const force = args.includes('--force');
const files = args.filter((a) => a !== '--force');
for (const f of files) {
  if (f.startsWith('-')) throw new Error(`mutate: unknown option ${f} (only --force and file names)`);
  if (!existsSync(f)) throw new Error(`mutate: ${f} does not exist`);
}

interface Report {
  files: Record<string, unknown>;
  testFiles?: Record<string, unknown>;
}
const before: Report | undefined = existsSync(INCREMENTAL) ? JSON.parse(readFileSync(INCREMENTAL, 'utf8')) : undefined;

const strykerArgs = ['stryker', 'run', 'stryker.config.json'];
if (files.length) strykerArgs.push('--mutate', files.join(','));
if (force) strykerArgs.push('--force');
const start = Date.now();
const res = spawnSync('npx', strykerArgs, { stdio: 'inherit' });
const minutes = ((Date.now() - start) / 60_000).toFixed(1);
if (res.status !== 0) {
  console.error(`mutate: stryker failed (exit ${res.status}) after ${minutes} min`);
  process.exit(res.status ?? 1);
}

if (before && existsSync(INCREMENTAL)) {
  const after = JSON.parse(readFileSync(INCREMENTAL, 'utf8')) as Report;
  // Files that moved or went away since they were measured drop out.
  const kept = Object.entries(before.files).filter(([f]) => existsSync(f));
  after.files = { ...Object.fromEntries(kept), ...after.files };
  after.testFiles = { ...before.testFiles, ...after.testFiles };
  writeFileSync(INCREMENTAL, JSON.stringify(after));
}
console.log(`mutate: stryker took ${minutes} min; report ${REPORT} (and mutation.html beside it)\n`);
summarize(REPORT);
if (files.length) console.log(`\nEvery file measured so far: npx tsx scripts/mutation-report.ts ${INCREMENTAL}`);
