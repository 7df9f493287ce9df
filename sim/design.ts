// From a generator to something the simulator can load: emit an elaborated top into
// build/designs/<top>/<content hash>/ and return the path of its ports description. Tests and benchmarks use
// this rather than hdl/, so they always simulate what the generators produce now, whether or not `npm run gen`
// has been run.
//
// The directory is keyed by the emitted text, not only by the top's name: a top's name hashes its non-default
// parameters, not the generator's code, so two processes simulating different versions of one top (an A/B
// experiment, a worktree changing under a running benchmark) would otherwise overwrite each other's Verilog
// between emitting and building. A directory, once written, never changes; files are written to a temporary
// name and renamed, so a concurrent reader never sees half a file.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { emitDesign, type HwModule } from '../gen/hdl';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Versions of one top kept beside the one in use (the least recently used beyond these are removed). */
const KEEP_VERSIONS = 8;

export function designPorts(top: HwModule, root = resolve(REPO, 'build', 'designs')): string {
  const files = [...emitDesign(top)];
  const h = createHash('sha256');
  for (const [name, text] of files) h.update(name).update('\0').update(text).update('\0');
  const topDir = resolve(root, top.name);
  const dir = join(topDir, h.digest('hex').slice(0, 16));
  mkdirSync(dir, { recursive: true });
  for (const [name, text] of files) {
    const p = join(dir, name);
    if (existsSync(p)) continue;
    const tmp = `${p}.tmp-${process.pid}`;
    writeFileSync(tmp, text);
    renameSync(tmp, p);
  }
  const now = new Date();
  utimesSync(dir, now, now); // marks this version as in use for pruning
  prune(topDir, dir);
  return join(dir, `${top.name}.ports.json`);
}

function prune(topDir: string, keep: string): void {
  const versions = readdirSync(topDir, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => join(topDir, e.name))
    .filter((d) => d !== keep)
    .map((d) => ({ d, t: mtime(d) }))
    .sort((a, b) => b.t - a.t);
  for (const { d } of versions.slice(KEEP_VERSIONS - 1)) rmSync(d, { recursive: true, force: true });
}

/** A directory's modification time, or 0 if another process removed it meanwhile. */
function mtime(d: string): number {
  try {
    return statSync(d).mtimeMs;
  } catch {
    return 0;
  }
}
