// The simulator boundary's import rule: sim/ depends on nothing of the test bench (tb/) or the tests; the
// test bench imports the boundary's shapes (sim/raw.ts) from sim/. gen/hdl depends on nothing else.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? tsFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** Every relative import of a file, resolved to a path relative to the repository root. */
function imports(file: string): string[] {
  const src = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of src.matchAll(/(?:import|export)[^'"]*?from\s+'(\.[^']+)'/g))
    out.push(relative(ROOT, resolve(dirname(file), m[1])));
  return out;
}

describe('import direction', () => {
  test('sim/ imports nothing from tb/ or test/', () => {
    const bad = tsFiles(join(ROOT, 'sim')).flatMap((f) =>
      imports(f)
        .filter((i) => i.startsWith('tb/') || i.startsWith('test/'))
        .map((i) => `${relative(ROOT, f)} -> ${i}`),
    );
    expect(bad).toEqual([]);
  });

  test('gen/hdl imports nothing outside gen/hdl', () => {
    const bad = tsFiles(join(ROOT, 'gen', 'hdl')).flatMap((f) =>
      imports(f)
        .filter((i) => !i.startsWith('gen/hdl/'))
        .map((i) => `${relative(ROOT, f)} -> ${i}`),
    );
    expect(bad).toEqual([]);
  });
});
