// The guest kernel of the Linux bridge: User Mode Linux 6.1 built from Debian's linux-source-6.1 with the
// options of uml.config and the project's patch (uml-6.1.patch, GPL-2.0, applied at build time), cached outside
// the work tree under ~/.cache/virtio-fpga/linux/<key>/ where the key hashes the kernel package's version, the
// options and the patch. The Debian packages it needs are installed when missing (as root, with apt-get).
//
//   npx tsx scripts/linux/kernel.ts     build the kernel unless cached; print its path
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const patchFile = path.join(here, 'uml-6.1.patch');
export const configFile = path.join(here, 'uml.config');
const sourcePackage = 'linux-source-6.1';
const tarball = `/usr/src/${sourcePackage}.tar.xz`;

/** Debian packages the kernel and the guest's userland need: the command (or file) that shows each is there. */
const packages: { pkg: string; present: () => boolean }[] = [
  { pkg: sourcePackage, present: () => fs.existsSync(tarball) },
  { pkg: 'busybox-static', present: () => fs.existsSync(busyboxPath) },
  ...['make', 'gcc', 'flex', 'bison', 'bc', 'patch', 'xz-utils:xz'].map((p) => {
    const [pkg, cmd] = p.split(':');
    return { pkg, present: () => hasCommand(cmd ?? pkg) };
  }),
];
export const busyboxPath = '/bin/busybox';

function hasCommand(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

export function cacheRoot(): string {
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'virtio-fpga', 'linux');
}

/** Installs the missing Debian packages (root only; otherwise says what to install). */
export function ensurePackages(log: (s: string) => void = console.log): void {
  const missing = packages.filter((p) => !p.present()).map((p) => p.pkg);
  if (!missing.length) return;
  // busybox-static provides /bin/busybox; the dynamically linked busybox would not run in the initramfs.
  if (process.getuid?.() !== 0)
    throw new Error(
      `the Linux bridge needs the Debian packages ${missing.join(', ')}: install them with\n` +
        `  sudo apt-get install -y --no-install-recommends ${missing.join(' ')}`,
    );
  log(`linux: installing ${missing.join(', ')} from Debian's packages`);
  const apt = (args: string[]) => {
    const r = spawnSync('apt-get', ['-o', 'DPkg::Lock::Timeout=600', ...args], {
      stdio: 'inherit',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
    if (r.status !== 0) throw new Error(`apt-get ${args.join(' ')} failed (exit ${r.status})`);
  };
  apt(['update', '-qq']);
  apt(['install', '-y', '-qq', '--no-install-recommends', ...missing]);
}

function packageVersion(): string {
  const r = spawnSync('dpkg-query', ['-W', '-f', '${Version}', sourcePackage], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${sourcePackage} is not installed (dpkg-query: ${r.stderr.trim()})`);
  return r.stdout.trim();
}

export interface Kernel {
  /** The UML executable. */
  linux: string;
  /** Debian's version of the kernel source package (e.g. 6.1.192-3). */
  version: string;
  key: string;
  /** Seconds the build took now, or undefined when it came from the cache. */
  buildSeconds?: number;
}

/** The options uml.config asks for, as [name, value] ("n" for "is not set"). */
export function requestedOptions(): [string, string][] {
  const out: [string, string][] = [];
  for (const line of fs.readFileSync(configFile, 'utf8').split('\n')) {
    const set = /^(CONFIG_\w+)=(.*)$/.exec(line);
    const unset = /^# (CONFIG_\w+) is not set$/.exec(line);
    if (set) out.push([set[1], set[2]]);
    else if (unset) out.push([unset[1], 'n']);
  }
  return out;
}

function kernelKey(version: string): string {
  const h = createHash('sha256');
  h.update(`${sourcePackage} ${version}\n`);
  h.update(fs.readFileSync(configFile));
  h.update(fs.readFileSync(patchFile));
  return h.digest('hex').slice(0, 16);
}

/** The cached kernel, building it when the cache has none for this version, configuration and patch. */
export async function ensureKernel(log: (s: string) => void = console.log): Promise<Kernel> {
  ensurePackages(log);
  const version = packageVersion();
  const key = kernelKey(version);
  const dir = path.join(cacheRoot(), `${version}-${key}`);
  const linux = path.join(dir, 'linux');
  if (fs.existsSync(linux)) return { linux, version, key };

  fs.mkdirSync(dir, { recursive: true });
  const lock = path.join(dir, 'lock');
  await acquire(lock, log);
  try {
    if (fs.existsSync(linux)) return { linux, version, key };
    const t0 = performance.now();
    await build(dir, log);
    return { linux, version, key, buildSeconds: (performance.now() - t0) / 1000 };
  } finally {
    fs.rmSync(lock, { recursive: true, force: true });
  }
}

/** A lock directory, so that two runs (test workers, a test and `npm run linux`) never build at once. */
async function acquire(lock: string, log: (s: string) => void): Promise<void> {
  let said = false;
  for (;;) {
    try {
      fs.mkdirSync(lock);
      fs.writeFileSync(path.join(lock, 'pid'), String(process.pid));
      return;
    } catch {
      const pid = Number(fs.readFileSync(path.join(lock, 'pid'), { encoding: 'utf8', flag: 'a+' }) || 0);
      if (pid && !alive(pid)) {
        fs.rmSync(lock, { recursive: true, force: true });
        continue;
      }
      if (!said) log(`linux: waiting for the kernel build of process ${pid || '?'} (${lock})`);
      said = true;
      await new Promise((r) => setTimeout(r, 2000));
    }
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function build(dir: string, log: (s: string) => void): Promise<void> {
  const src = path.join(dir, 'src');
  const logFile = path.join(dir, 'build.log');
  fs.rmSync(src, { recursive: true, force: true });
  fs.mkdirSync(src);
  fs.writeFileSync(logFile, '');
  const step = async (what: string, cmd: string, args: string[], cwd = src) => {
    fs.appendFileSync(logFile, `\n$ ${cmd} ${args.join(' ')}\n`);
    const out = fs.openSync(logFile, 'a');
    const code = await new Promise<number>((resolve, reject) => {
      const p = spawn('nice', ['-n', '10', cmd, ...args], { cwd, stdio: ['ignore', out, out] });
      p.on('error', (e) => reject(new Error(`cannot run ${cmd}: ${e.message}`)));
      p.on('close', (c) => resolve(c ?? 1));
    });
    fs.closeSync(out);
    if (code !== 0) {
      const tail = fs.readFileSync(logFile, 'utf8').split('\n').slice(-30).join('\n');
      throw new Error(`kernel build: ${what} failed (exit ${code}); log ${logFile}:\n${tail}`);
    }
  };
  const jobs = String(Math.max(1, os.availableParallelism()));
  log(`linux: building the UML kernel in ${dir} (a few minutes; log: ${logFile})`);
  await step('unpacking the source', 'tar', ['-xJf', tarball, '--strip-components=1', '-C', src], dir);
  await step('applying uml-6.1.patch', 'patch', ['-p1', '--forward', '-i', patchFile]);
  const make = (target: string[]) => ['ARCH=um', ...target];
  await step('make defconfig', 'make', make(['defconfig']));
  fs.appendFileSync(path.join(src, '.config'), fs.readFileSync(configFile));
  await step('make olddefconfig', 'make', make(['olddefconfig']));
  checkConfig(fs.readFileSync(path.join(src, '.config'), 'utf8'));
  await step('make linux', 'make', make([`-j${jobs}`, 'linux']));
  fs.copyFileSync(path.join(src, '.config'), path.join(dir, 'config'));
  fs.copyFileSync(path.join(src, 'linux'), path.join(dir, 'linux.tmp'));
  fs.renameSync(path.join(dir, 'linux.tmp'), path.join(dir, 'linux'));
  fs.rmSync(src, { recursive: true, force: true });
}

/** Fails when Kconfig dropped a requested option (a missing dependency). */
function checkConfig(config: string): void {
  const bad: string[] = [];
  for (const [name, value] of requestedOptions()) {
    const has =
      value === 'n'
        ? !new RegExp(`^${name}=`, 'm').test(config)
        : new RegExp(`^${name}=${value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm').test(config);
    if (!has) bad.push(`${name}=${value}`);
  }
  if (bad.length) throw new Error(`kernel build: Kconfig did not keep ${bad.join(', ')} (see uml.config)`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  ensureKernel().then(
    (k) =>
      console.log(
        `linux: ${k.linux} (linux-source ${k.version}${k.buildSeconds ? `, built in ${k.buildSeconds.toFixed(0)} s` : ', cached'})`,
      ),
    (e: Error) => {
      console.error(e.message);
      process.exit(1);
    },
  );
}
