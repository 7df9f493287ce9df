// npm run mutate [-- [--force] [files...]]: mutation testing of the host model (tb/pcie and sim/raw.ts by default)
// with Stryker and the vitest runner (stryker.config.json, vitest.mutate.config.ts), one test process (the machine's
// two cores are shared). Then prints each file's score, and the score leaving out mutants that only change
// error-message text (scripts/mutation-report.ts, which lists the mutants it left out so a reader can check them).
//
// One Stryker run per file, biggest first, each against the tests of that file only (testsOf below): a mutant runs
// only the tests of those files that cover it, so a mutant of the codec never waits for the simulator-backed suites.
//
// Incremental: build/mutation/incremental.json keeps the latest result of every file measured so far, and a run
// re-tests only the mutants whose code or covering tests changed (--force: everything). Stryker writes back only the
// file of its run, so the results of the others are merged back in after each run.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { summarize } from './mutation-report';

const INCREMENTAL = 'build/mutation/incremental.json';
const REPORT = 'build/mutation/mutation.json';
const MODEL = ['tb/pcie', 'sim/raw.ts'];
const TESTS = 'test/tb';
/** What test files that drive a Verilated design import: they check the hardware against the model. */
const SIMULATOR = 'sim/index.ts';

/** The project files a TypeScript file imports for their values (type-only imports do not run the code). */
function valueImports(file: string): string[] {
  const src = readFileSync(file, 'utf8');
  const found: string[] = [];
  for (const m of src.matchAll(/^import\s+(type\s+)?[^;]*?from\s+'(\.[^']+)'/gms)) {
    if (m[1]) continue;
    const target = resolve(dirname(file), m[2]!);
    for (const candidate of [`${target}.ts`, join(target, 'index.ts')]) {
      if (existsSync(candidate)) found.push(relative(process.cwd(), candidate));
    }
  }
  return found;
}

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .map((f) => join(dir, f));
}

/**
 * The test files that exercise `file`: those of test/tb that import it (directly or through a test helper such as
 * test/tb/support.ts), leaving out the simulator-backed ones. A module no test imports (an internal part of the root
 * complex) is exercised through the modules that import it: their tests, one level up at a time.
 */
function testsOf(file: string): string[] {
  const importsOf = new Map<string, string[]>();
  const imports = (f: string) => importsOf.get(f) ?? importsOf.set(f, valueImports(f)).get(f)!;
  // Whether test file `t` imports one of `targets`, itself or through the helpers under test/.
  const reaches = (t: string, targets: Set<string>, seen = new Set<string>()): boolean => {
    if (seen.has(t)) return false;
    seen.add(t);
    return imports(t).some((i) => targets.has(i) || (i.startsWith('test/') && reaches(i, targets, seen)));
  };
  const candidates = tsFiles(TESTS).filter((t) => t.endsWith('.test.ts') && !reaches(t, new Set([SIMULATOR])));
  const model = MODEL.flatMap((m) => (statSync(m).isDirectory() ? tsFiles(m) : [m]));
  let targets = new Set([file]);
  const done = new Set<string>();
  while (targets.size) {
    const found = candidates.filter((t) => reaches(t, targets));
    if (found.length) return found.sort();
    for (const t of targets) done.add(t);
    targets = new Set(model.filter((m) => !done.has(m) && imports(m).some((i) => targets.has(i))));
  }
  return []; // only imported for its types: nothing runs it
}

const args = process.argv.slice(2);
const force = args.includes('--force');
const listOnly = args.includes('--tests');
let files = args.filter((a) => !a.startsWith('--'));
for (const a of args) {
  if (a.startsWith('-') && a !== '--force' && a !== '--tests')
    throw new Error(`mutate: unknown option ${a} (only --force, --tests and file names)`);
}
for (const f of files) if (!existsSync(f)) throw new Error(`mutate: ${f} does not exist`);
if (!files.length) {
  files = MODEL.flatMap((m) => (statSync(m).isDirectory() ? tsFiles(m) : [m]));
  files.sort((a, b) => statSync(b).size - statSync(a).size);
}

if (listOnly) {
  for (const f of files) console.log(`${f}: ${testsOf(f).join(' ')}`);
  process.exit(0);
}

interface Report {
  files: Record<string, unknown>;
  testFiles?: Record<string, unknown>;
}
const readReport = (path: string): Report | undefined =>
  existsSync(path) ? JSON.parse(readFileSync(path, 'utf8')) : undefined;

const total = Date.now();
for (const file of files) {
  const before = readReport(INCREMENTAL);
  const tests = testsOf(file);
  if (!tests.length) {
    console.log(`mutate: ${file} is only imported for its types (nothing to mutate)`);
    continue;
  }
  console.log(`mutate: ${file} against ${tests.join(' ')}`);
  // The test files go to vitest.mutate.config.ts (VFPGA_MUTATE_TESTS), not to Stryker's --testFiles (see there).
  const strykerArgs = ['stryker', 'run', 'stryker.config.json', '--mutate', file];
  if (force) strykerArgs.push('--force');
  const start = Date.now();
  const res = spawnSync('npx', strykerArgs, {
    stdio: 'inherit',
    env: { ...process.env, VFPGA_MUTATE_TESTS: tests.join(',') },
  });
  const minutes = ((Date.now() - start) / 60_000).toFixed(1);
  if (res.status !== 0) {
    console.error(`mutate: stryker failed on ${file} (exit ${res.status}) after ${minutes} min`);
    process.exit(res.status ?? 1);
  }
  const after = readReport(INCREMENTAL);
  if (before && after) {
    // Files that moved or went away since they were measured drop out.
    const kept = Object.entries(before.files).filter(([f]) => existsSync(f));
    after.files = { ...Object.fromEntries(kept), ...after.files };
    after.testFiles = { ...before.testFiles, ...after.testFiles };
    writeFileSync(INCREMENTAL, JSON.stringify(after));
  }
  console.log(`mutate: ${file} took ${minutes} min`);
  summarize(REPORT);
}
console.log(`\nmutate: ${((Date.now() - total) / 60_000).toFixed(1)} min in all; every file measured so far:\n`);
summarize(INCREMENTAL);
