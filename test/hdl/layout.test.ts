// The layering of gen/hdl: the IR is plain data the builder writes and the checks, analyses and emitter read;
// the builder knows nothing of checks or Verilog; checks are named passes run in a fixed order; the
// combinational summary is an analysis, not a check's side effect.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { combGraph, combPathSummary } from '../../gen/hdl/analysis/comb';
import { checkPasses, runChecks } from '../../gen/hdl/checks';
import { defineModule, type HwModule } from '../../gen/hdl';
import { fingerprint } from '../../gen/hdl/ir';

const hdlDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'gen', 'hdl');

/** Every gen/hdl source file, relative to gen/hdl, with the gen/hdl files it imports (type-only ones too). */
function importGraph(): Map<string, string[]> {
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts')) files.push(p);
    }
  };
  walk(hdlDir);
  const graph = new Map<string, string[]>();
  for (const f of files) {
    const text = fs.readFileSync(f, 'utf8');
    const deps: string[] = [];
    for (const m of text.matchAll(/^(?:import|export)[^;]*?from '(\.[^']*)';/gms)) {
      let target = path.resolve(path.dirname(f), m[1]);
      target = fs.existsSync(`${target}.ts`) ? `${target}.ts` : path.join(target, 'index.ts');
      deps.push(path.relative(hdlDir, target));
    }
    graph.set(path.relative(hdlDir, f), deps);
  }
  return graph;
}

/** Everything `file` imports, directly or not. */
function reach(graph: Map<string, string[]>, file: string): Set<string> {
  const seen = new Set<string>();
  const todo = [file];
  while (todo.length) {
    for (const d of graph.get(todo.pop()!) ?? []) {
      if (seen.has(d)) continue;
      seen.add(d);
      todo.push(d);
    }
  }
  return seen;
}

describe('gen/hdl layering', () => {
  const graph = importGraph();

  it('only the public index imports the emitter', () => {
    const importers = [...graph].filter(([, deps]) => deps.includes('emit.ts')).map(([f]) => f);
    expect(importers).toEqual(['index.ts']);
    for (const f of ['builder.ts', 'define.ts', 'memory.ts', 'fsm.ts', 'connect.ts', 'checks/index.ts']) {
      expect(reach(graph, f).has('emit.ts'), f).toBe(false);
    }
  });

  it('the IR, the analyses, the checks and the emitter never reach the builder', () => {
    for (const f of ['ir.ts', 'analysis/comb.ts', 'checks/index.ts', 'emit.ts']) {
      const r = reach(graph, f);
      expect(r.has('builder.ts') || r.has('define.ts'), f).toBe(false);
    }
  });

  it('checks are named passes in a fixed order', () => {
    expect(checkPasses.map((p) => p.name)).toEqual([
      'foreign signals',
      'undriven signals',
      'latches',
      'clock-domain crossings',
      'synchronizers',
      'combinational loops',
    ]);
  });
});

/** y = a + b, z = registered a; `k` changes a constant. */
const makeDef = () =>
  defineModule('fp', (m, k: number) => {
    const a = m.input('a', 8);
    const b = m.input('b', 8);
    const y = m.output('y', 8);
    const z = m.output('z', 8);
    const r = m.reg('r', 8, { reset: 0 });
    r.next(a.add(k));
    y.set(a.add(b));
    z.set(r);
    return { a, b, y, z };
  });

describe('the combinational summary and the fingerprint', () => {
  it('the input->output paths come from the analysis, and the checks do not write them', () => {
    const mod = makeDef().elaborate(1);
    const paths = combPathSummary(mod, combGraph(mod));
    expect([...paths].map(([o, ins]) => [o, [...ins].sort()])).toEqual([['y', ['a', 'b']]]);
    expect(mod.combPaths).toEqual(paths);
    const before = [...mod.combPaths];
    expect(runChecks(mod)).toEqual([]);
    expect([...mod.combPaths]).toEqual(before);
  });

  it('is a function of the structure: equal for two elaborations of one body, different for other hardware', () => {
    const a = makeDef().elaborate(1);
    const b = makeDef().elaborate(1);
    expect(a).not.toBe(b);
    expect(fingerprint(a)).toBe(fingerprint(b));
    expect(fingerprint(makeDef().elaborate(2))).not.toBe(fingerprint(a));
    // The same hardware written on another line is another file (its comments name the line).
    const other: HwModule = makeDef2().elaborate(1);
    expect(fingerprint(other)).not.toBe(fingerprint(a));
  });
});

const makeDef2 = () =>
  defineModule('fp', (m, k: number) => {
    const a = m.input('a', 8);
    const b = m.input('b', 8);
    const y = m.output('y', 8);
    const z = m.output('z', 8);
    const r = m.reg('r', 8, { reset: 0 });
    r.next(a.add(k));
    y.set(a.add(b));
    z.set(r);
    return { a, b, y, z };
  });
