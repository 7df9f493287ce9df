// Builds a generated Verilog top into a Node addon (N-API) with Verilator, with a content-
// addressed cache: build/sim/<top>-<hash>/sim.node, where the hash covers the Verilog and
// ports JSON contents, the harness generator and C++ sources, all flags and tool versions.
// An unchanged design is never rebuilt. Builds happen in a temp dir that is renamed into
// place, under a lock file, so parallel vitest workers neither clash nor build twice.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  openSync,
  closeSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism, hostname } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ParameterValue } from '../gen/hdl/ports_schema';
import { generateHarness } from './harness';
import type { LoadedPorts } from './ports';
import { checkVerilatedPorts, checkWarnings, designVerilator, parseWarnings, type VerilatorWarning } from './verilator';

const SIM_DIR = dirname(fileURLToPath(import.meta.url));
const CPP_DIR = join(SIM_DIR, 'cpp');
/** C++ sources whose change must rebuild every design (the generated harness is keyed by its text). */
const HARNESS_SOURCES = ['bench.h', 'addon.h', 'sideband.h', 'signals.h', 'axi.h', 'trace.h'].map((f) =>
  join(CPP_DIR, f),
);

export const DEFAULT_CACHE_DIR = resolve(SIM_DIR, '..', 'build', 'sim');

// Flags from /work/shared/notes/toolchain.md: Debian's Verilator builds models with -Os,
// -O2 is 1.6x faster; -fvisibility=hidden -mtls-dialect=gnu2 keep Verilator's thread-locals
// off __tls_get_addr inside a dlopen'ed library (16 -> 26 M cycles/s). -Wno-fatal: Verilator
// reports every warning in one run; they are checked against the design's waivers afterwards.
const VERILATOR_FLAGS = [
  '--cc',
  '-O3',
  '--x-assign',
  'fast',
  '--x-initial',
  'fast',
  '--noassert',
  '--trace-fst',
  '-Wno-fatal',
];
const OPT = ['OPT_FAST=-O2', 'OPT_SLOW=-O2', 'OPT_GLOBAL=-O2'];
export const PIC = ['-fPIC', '-fvisibility=hidden', '-mtls-dialect=gnu2'];
// Must match what verilated.mk passes when compiling the model, so runtime and model agree.
const VL_DEFINES = ['-DVM_COVERAGE=0', '-DVM_SC=0', '-DVM_TRACE=1', '-DVM_TRACE_FST=1', '-DVM_TRACE_VCD=0'];
const VL_CXXFLAGS = [
  '-faligned-new',
  '-fcf-protection=none',
  '-Wno-bool-operation',
  '-Wno-sign-compare',
  '-Wno-uninitialized',
  '-Wno-unused-but-set-variable',
  '-Wno-unused-parameter',
  '-Wno-unused-variable',
  '-Wno-shadow',
];
// The harness replaces $finish/$stop/fatal handlers (which would exit or abort Node).
const RUNTIME_DEFINES = ['-DVL_USER_FINISH', '-DVL_USER_STOP', '-DVL_USER_FATAL'];
const RUNTIME_SOURCES = ['verilated.cpp', 'verilated_fst_c.cpp', 'verilated_threads.cpp'];
export const ADDON_DEFINES = ['-DNAPI_CPP_EXCEPTIONS', '-DNODE_GYP_MODULE_NAME=vfpga_sim', '-DNAPI_VERSION=8'];
const LINK_LIBS = ['-lz', '-pthread'];

export interface BuildOptions {
  /** Extra Verilator arguments after the ports JSON's (e.g. ['--public-flat-rw']); part of the cache key. */
  verilatorFlags?: string[];
  /** Top-level parameters (-G), over the ports JSON's; part of the cache key. */
  parameters?: Record<string, ParameterValue>;
  /** Verilator warnings to accept, besides the ports JSON's: CODE, CODE:file or CODE:file:line. */
  waive?: string[];
  /** Cache root; default build/sim in the repository. */
  cacheDir?: string;
  /** Print nothing while building (default: one line before and one after a build). */
  quiet?: boolean;
}

export interface BuildResult {
  /** Path of the addon (.node). */
  addon: string;
  dir: string;
  hash: string;
  /** True when this call built it; false on a cache hit (also after waiting for another process). */
  built: boolean;
  /** Seconds this call spent building (0 on a cache hit). */
  seconds: number;
  /** Every warning Verilator printed for the design (all waived, or the build would have thrown). */
  warnings: VerilatorWarning[];
}

export interface Tools {
  verilatorRoot: string;
  verilatorVersion: string;
  gxxVersion: string;
  nodeInclude: string;
  napiInclude: string;
}
let toolsCache: Tools | undefined;

export function tools(): Tools {
  if (toolsCache) return toolsCache;
  const run = (cmd: string, args: string[]) => {
    try {
      return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
    } catch (e) {
      throw new Error(
        `sim: cannot run ${cmd} (${(e as Error).message.split('\n')[0]}); install it: apt-get install -y --no-install-recommends verilator zlib1g-dev g++ make`,
        { cause: e },
      );
    }
  };
  const verilatorVersion = run('verilator', ['--version']);
  const verilatorRoot = run('verilator', ['--getenv', 'VERILATOR_ROOT']);
  const gxxVersion = run('g++', ['--version']).split('\n')[0];
  const beside = resolve(dirname(process.execPath), '..', 'include', 'node');
  const nodeInclude = existsSync(join(beside, 'node_api.h')) ? beside : '/usr/include/node';
  const req = createRequire(import.meta.url);
  const napiInclude = dirname(req.resolve('node-addon-api/package.json'));
  toolsCache = { verilatorRoot, verilatorVersion, gxxVersion, nodeInclude, napiInclude };
  return toolsCache;
}

function sha(parts: (string | Buffer)[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(typeof p === 'string' ? p : p).update('\0');
  return h.digest('hex').slice(0, 16);
}

/** Builds (or finds in the cache) the addon for a loaded ports description. */
export function buildSim(ports: LoadedPorts, opts: BuildOptions = {}): BuildResult {
  const t = tools();
  const cacheDir = resolve(opts.cacheDir ?? process.env.VFPGA_SIM_CACHE ?? DEFAULT_CACHE_DIR);
  const design = designVerilator(ports, opts);
  const extra = design.flags;
  const flagsKey = JSON.stringify({
    VERILATOR_FLAGS,
    OPT,
    PIC,
    VL_DEFINES,
    VL_CXXFLAGS,
    RUNTIME_DEFINES,
    ADDON_DEFINES,
    LINK_LIBS,
    extra,
  });
  const toolKey = JSON.stringify([
    t.verilatorVersion,
    t.gxxVersion,
    process.versions.node,
    process.versions.modules,
    process.versions.napi,
  ]);
  const harness = generateHarness(ports);
  const hash = sha([
    flagsKey,
    toolKey,
    ports.raw,
    harness,
    // Contents keyed by file name, not absolute path: the same design elsewhere hits the cache.
    ...ports.files.flatMap((f) => [basename(f), readFileSync(f)]),
    ...HARNESS_SOURCES.map((f) => readFileSync(f)),
  ]);
  const top = ports.desc.top;
  const dir = join(cacheDir, `${top}-${hash}`);
  const addon = join(dir, 'sim.node');
  // A build is kept whatever its warnings; whether they are acceptable is decided at every load.
  const accepted = (r: Omit<BuildResult, 'warnings'>): BuildResult => {
    const file = join(dir, 'warnings.json');
    const warnings = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as VerilatorWarning[]) : [];
    checkWarnings(top, warnings, design.waive);
    return { ...r, warnings };
  };
  if (existsSync(addon)) {
    touch(dir); // marks it in use, so pruning keeps it
    return accepted({ addon, dir, hash, built: false, seconds: 0 });
  }

  mkdirSync(cacheDir, { recursive: true });
  const runtime = buildRuntime(cacheDir, t, opts.quiet);
  return withLock(join(cacheDir, `${top}-${hash}.lock`), () => {
    if (existsSync(addon)) return accepted({ addon, dir, hash, built: false, seconds: 0 });
    const t0 = performance.now();
    if (!opts.quiet) console.error(`sim: building ${top} with Verilator into ${dir}`);
    const tmp = join(cacheDir, `.tmp-${top}-${hash}-${process.pid}-${Date.now()}`);
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { recursive: true });
    try {
      compileDesign(ports, harness, tmp, t, extra, runtime);
      publish(tmp, dir);
    } catch (e) {
      rmSync(tmp, { recursive: true, force: true });
      throw e;
    }
    const seconds = (performance.now() - t0) / 1000;
    writeFileSync(
      join(dir, 'build.json'),
      JSON.stringify({ top, hash, seconds, builtAt: new Date().toISOString(), pid: process.pid }, null, 2) + '\n',
    );
    if (!opts.quiet) console.error(`sim: built ${top} in ${seconds.toFixed(1)} s`);
    prune(cacheDir, top, dir);
    return accepted({ addon, dir, hash, built: true, seconds });
  });
}

/**
 * Verilator's runtime (verilated.cpp, FST writer, thread pool) is the slowest part of a
 * build (~8 CPU-seconds) and the same for every design: compile it once per flag set.
 */
function buildRuntime(cacheDir: string, t: Tools, quiet?: boolean): string[] {
  const inc = join(t.verilatorRoot, 'include');
  const flags = [
    '-O2',
    ...PIC,
    `-I${inc}`,
    `-I${join(inc, 'vltstd')}`,
    ...VL_DEFINES,
    ...VL_CXXFLAGS,
    ...RUNTIME_DEFINES,
  ];
  const hash = sha([
    t.verilatorVersion,
    t.gxxVersion,
    JSON.stringify(flags),
    ...RUNTIME_SOURCES.map((s) => readFileSync(join(inc, s))),
  ]);
  const dir = join(cacheDir, `runtime-${hash}`);
  const objs = RUNTIME_SOURCES.map((s) => join(dir, s.replace(/\.cpp$/, '.o')));
  if (objs.every((o) => existsSync(o))) return objs;
  withLock(join(cacheDir, `runtime-${hash}.lock`), () => {
    if (objs.every((o) => existsSync(o))) return;
    if (!quiet) console.error(`sim: compiling the Verilator runtime into ${dir} (once per toolchain)`);
    const tmp = join(cacheDir, `.tmp-runtime-${hash}-${process.pid}-${Date.now()}`);
    mkdirSync(tmp, { recursive: true });
    try {
      const rules = RUNTIME_SOURCES.map(
        (s) => `${s.replace(/\.cpp$/, '.o')}: ${join(inc, s)}\n\tg++ ${flags.join(' ')} -c -o $@ $<\n`,
      );
      writeFileSync(
        join(tmp, 'Makefile'),
        `all: ${RUNTIME_SOURCES.map((s) => s.replace(/\.cpp$/, '.o')).join(' ')}\n\n${rules.join('\n')}`,
      );
      runStep('make', ['-C', tmp, `-j${availableParallelism()}`], 'compiling the Verilator runtime');
      publish(tmp, dir);
    } catch (e) {
      rmSync(tmp, { recursive: true, force: true });
      throw e;
    }
  });
  return objs;
}

function compileDesign(
  ports: LoadedPorts,
  harness: string,
  tmp: string,
  t: Tools,
  extra: string[],
  runtime: string[],
): void {
  const top = ports.desc.top;
  const obj = join(tmp, 'obj');
  const inc = join(t.verilatorRoot, 'include');
  writeFileSync(join(tmp, 'harness.cpp'), harness);
  const flags = [...VERILATOR_FLAGS, ...extra];
  const log = runStep(
    'verilator',
    [...flags, '--top-module', top, '--Mdir', obj, '-CFLAGS', PIC.join(' '), ...ports.files],
    `verilating ${top}`,
  );
  writeFileSync(join(tmp, 'warnings.json'), JSON.stringify(parseWarnings(log), null, 2) + '\n');
  checkVerilatedPorts(ports, readFileSync(join(obj, `V${top}.h`), 'utf8'), flags);

  // One make run so the model and the harness (the two big compiles) build in parallel.
  const cxx = [
    'g++',
    '-O2',
    '-std=c++17',
    ...PIC,
    `-I${t.nodeInclude}`,
    `-I${t.napiInclude}`,
    `-I${inc}`,
    `-I${join(inc, 'vltstd')}`,
    `-I${obj}`,
    `-I${CPP_DIR}`,
    ...VL_DEFINES,
    ...ADDON_DEFINES,
    ...VL_CXXFLAGS,
  ].join(' ');
  const lib = `obj/V${top}__ALL.a`;
  writeFileSync(
    join(tmp, 'Makefile'),
    [
      `all: sim.node`,
      `sim.node: harness.o ${lib}`,
      `\tg++ -shared -O2 ${PIC.join(' ')} -o $@ harness.o ${lib} ${runtime.join(' ')} ${LINK_LIBS.join(' ')}`,
      `harness.o: harness.cpp`,
      `\t${cxx} -c -o $@ $<`,
      `${lib}:`,
      `\t$(MAKE) -C obj -f V${top}.mk ${OPT.join(' ')} V${top}__ALL.a`,
      ``,
    ].join('\n'),
  );
  runStep('make', ['-C', tmp, `-j${availableParallelism()}`], `compiling ${top}`);
  writeFileSync(
    join(tmp, 'verilator_flags.json'),
    JSON.stringify({ verilator: [...VERILATOR_FLAGS, ...extra], make: OPT }, null, 2) + '\n',
  );
}

/** Runs a build step; returns its stderr (Verilator's warnings) or throws with its messages. */
export function runStep(cmd: string, args: string[], what: string): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 });
  if (r.status === 0) return r.stderr;
  // Verilator and g++ report on stderr; make's own noise goes to stdout. Show the errors.
  const text = [r.stderr, r.stdout].filter(Boolean).join('\n').trim();
  const lines = text.split('\n');
  const shown = lines.length > 80 ? [...lines.slice(0, 80), `... (${lines.length - 80} more lines)`] : lines;
  const why = r.error ? r.error.message : r.signal ? `killed by ${r.signal}` : `exit status ${r.status}`;
  throw new Error(`sim: ${what} failed: ${cmd} ${args.join(' ')}\n${shown.join('\n') || why}`, { cause: r.error });
}

/** Moves a finished temp build into place atomically; if another process won, keeps theirs. */
export function publish(tmp: string, dir: string): void {
  try {
    renameSync(tmp, dir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if ((code === 'ENOTEMPTY' || code === 'EEXIST') && existsSync(dir)) rmSync(tmp, { recursive: true, force: true });
    else throw e;
  }
}

function touch(dir: string): void {
  try {
    const now = new Date();
    utimesSync(dir, now, now);
  } catch {
    // read-only cache: fine, it just may be pruned earlier
  }
}

const DAY = 24 * 3600_000;
/**
 * Every change to a design leaves its old build behind. Remove builds of the same top not
 * used for PRUNE_DAYS (a hit touches its dir) and temp dirs of crashed builds.
 */
function prune(cacheDir: string, top: string, keep: string): void {
  const now = Date.now();
  const mine = new RegExp(`^${top}-[0-9a-f]{16}$`);
  for (const name of readdirSync(cacheDir)) {
    const path = join(cacheDir, name);
    if (path === keep) continue;
    try {
      const age = now - statSync(path).mtimeMs;
      if ((mine.test(name) && age > 3 * DAY) || (name.startsWith('.tmp-') && age > DAY / 24))
        rmSync(path, { recursive: true, force: true });
    } catch {
      // raced with another process's prune: fine
    }
  }
}

function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * Runs `fn` holding an exclusive lock file. A lock whose owner process is gone (or that is
 * older than 30 minutes) is stale and taken over. The temp-dir + rename in the callers keeps
 * the cache consistent even if a lock is broken wrongly.
 */
export function withLock<T>(lock: string, fn: () => T): T {
  const deadline = Date.now() + 30 * 60_000;
  for (;;) {
    let fd: number | undefined;
    try {
      fd = openSync(lock, 'wx');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    if (fd !== undefined) {
      try {
        writeSync(fd, `${process.pid} ${hostname()}\n`);
        closeSync(fd);
        return fn();
      } finally {
        rmSync(lock, { force: true });
      }
    }
    if (isStale(lock)) {
      rmSync(lock, { force: true });
      continue;
    }
    if (Date.now() > deadline) throw new Error(`sim: timed out waiting for build lock ${lock}`);
    sleep(100);
  }
}

function isStale(lock: string): boolean {
  try {
    const [pid, host] = readFileSync(lock, 'utf8').trim().split(' ');
    if (Date.now() - statSync(lock).mtimeMs > 30 * 60_000) return true;
    if (host !== hostname() || !pid) return false;
    try {
      process.kill(Number(pid), 0);
      return false;
    } catch (e) {
      return (e as NodeJS.ErrnoException).code === 'ESRCH';
    }
  } catch {
    return false; // lock vanished or half-written: just retry
  }
}
