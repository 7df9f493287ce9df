// From a generator to something the simulator can load: emit an elaborated top into build/designs/<top>/
// (rewriting only files whose text changed, so the simulator's content-keyed build cache keeps hitting)
// and return the path of its ports description. Tests and benchmarks use this rather than hdl/, so they
// always simulate what the generators produce now, whether or not `npm run gen` has been run.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { emitDesign, type HwModule } from '../gen/hdl';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export function designPorts(top: HwModule, root = resolve(REPO, 'build', 'designs')): string {
  const dir = resolve(root, top.name);
  mkdirSync(dir, { recursive: true });
  for (const [name, text] of emitDesign(top)) {
    const p = resolve(dir, name);
    if (!existsSync(p) || readFileSync(p, 'utf8') !== text) writeFileSync(p, text);
  }
  return resolve(dir, `${top.name}.ports.json`);
}
