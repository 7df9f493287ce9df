// The combinational structure of a module: which signals each combinational signal depends on within one
// clock cycle (through assignments, the conditions around them, defaults, asynchronous memory reads and the
// instances' own input->output paths), and the summary a parent needs: the module's input->output paths.
// Analyses report nothing; the check passes (checks/) read them.
import type { CombPaths, ModuleIr } from '../ir';
import { refsOf, walkStmts } from '../ir';
import type { Signal } from '../signal';
import type { SrcLoc } from '../srcloc';

/** Kinds whose value is computed combinationally from other signals in this module. */
const combKinds = new Set(['wire', 'output', 'inst-in']);

export interface CombGraph {
  /** Combinational signal -> the signals its value depends on in the same cycle. */
  readonly deps: ReadonlyMap<Signal, ReadonlySet<Signal>>;
  /** Where each dependency was first written, so that a loop is reported at a statement. */
  readonly depLoc: ReadonlyMap<Signal, ReadonlyMap<Signal, SrcLoc>>;
  /** Whether a signal's value is combinational (can be part of a loop). */
  isComb(s: Signal): boolean;
}

const graphs = new WeakMap<ModuleIr, CombGraph>();

/** The module's combinational dependency graph (computed once per module). */
export function combGraph(mod: ModuleIr): CombGraph {
  const hit = graphs.get(mod);
  if (hit) return hit;
  const deps = new Map<Signal, Set<Signal>>();
  const depLoc = new Map<Signal, Map<Signal, SrcLoc>>();
  const note = (t: Signal, r: Signal, loc: SrcLoc) => {
    let d = deps.get(t);
    if (!d) deps.set(t, (d = new Set()));
    d.add(r);
    let at = depLoc.get(t);
    if (!at) depLoc.set(t, (at = new Map()));
    if (!at.has(r)) at.set(r, loc);
  };
  walkStmts(mod.stmts, (s, guards) => {
    if (s.k !== 'assign' || s.target.kind === 'reg') return;
    for (const r of refsOf(s.value)) note(s.target, r, s.loc);
    for (const g of guards) for (const r of refsOf(g)) note(s.target, r, s.loc);
  });
  for (const s of mod.signals) {
    if (s.default) for (const r of refsOf(s.default)) note(s, r, s.loc); // the default is combinational too
  }
  for (const mem of mod.memories) {
    for (const r of mem.reads) if (!r.domain) for (const x of refsOf(r.addr)) note(r.data, x, r.loc);
  }
  for (const inst of mod.instances) {
    for (const [out, ins] of inst.module.combPaths) {
      const o = inst.pins.get(out)!;
      for (const i of ins) note(o, inst.pins.get(i)!, inst.loc);
    }
  }
  const isComb = (s: Signal) => combKinds.has(s.kind) || s.kind === 'inst-out' || (s.kind === 'mem-rd' && deps.has(s));
  const g: CombGraph = { deps, depLoc, isComb };
  graphs.set(mod, g);
  return g;
}

/** For each output port, the input ports it reaches combinationally (outputs with none are left out). */
export function combPathSummary(mod: ModuleIr, g: CombGraph = combGraph(mod)): CombPaths {
  const reach = new Map<Signal, Set<string>>();
  const inputsReached = (s: Signal): Set<string> => {
    const hit = reach.get(s);
    if (hit) return hit;
    const r = new Set<string>();
    reach.set(s, r); // before the recursion: a loop (rejected by its check) ends here
    for (const d of g.deps.get(s) ?? []) {
      if (d.kind === 'input') r.add(d.name);
      else if (g.isComb(d)) for (const x of inputsReached(d)) r.add(x);
    }
    return r;
  };
  const paths = new Map<string, Set<string>>();
  for (const p of mod.ports) {
    if (p.kind !== 'output') continue;
    const r = inputsReached(p);
    if (r.size) paths.set(p.name, r);
  }
  return paths;
}
