// Combinational loops: a combinational signal that depends on itself within one cycle, through wires,
// defaults, conditions, asynchronous memory reads and instances' input->output paths (registers and
// synchronous reads break loops). One error per strongly connected group of signals, reported at the
// assignment (or instance, or memory read) that closes the cycle the search meets first, with the cycle's path.
//
// Dependencies are tracked per signal, not per bit: `w` built from `w[0]` and another bit counts as a loop
// even when no bit depends on itself (docs/dsl.md shows the workaround: split the signal).
import type { Signal } from '../signal';
import { fmtLoc, HdlError } from '../srcloc';
import type { CheckPass } from './pass';

export const combLoops: CheckPass = {
  name: 'combinational loops',
  run({ mod, graph }, report) {
    const { deps, depLoc, isComb } = graph;
    const succ = new Map<Signal, Signal[]>();
    const next = (s: Signal) => {
      let n = succ.get(s);
      if (!n) succ.set(s, (n = [...(deps.get(s) ?? [])].filter(isComb)));
      return n;
    };
    const group = stronglyConnected(mod.signals.filter(isComb), next);
    const reported = new Set<number>();
    const state = new Map<Signal, 1 | 2>(); // 1: on the stack, 2: done
    const stack: Signal[] = [];
    const visit = (s: Signal) => {
      state.set(s, 1);
      stack.push(s);
      for (const d of next(s)) {
        const st = state.get(d);
        if (st === 1) {
          const g = group.get(d)!;
          if (reported.has(g)) continue;
          reported.add(g);
          const cyc = stack.slice(stack.indexOf(d));
          const path = [...cyc, d].map((x) => `'${x.name}' (${fmtLoc(x.loc)})`).join(' -> ');
          report(new HdlError(`combinational loop: ${path}`, depLoc.get(s)?.get(d) ?? d.loc, 'comb-loop'));
        } else if (st === undefined) visit(d);
      }
      stack.pop();
      state.set(s, 2);
    };
    for (const s of mod.signals) if (isComb(s) && !state.has(s)) visit(s);
  },
};

/** Tarjan's strongly connected components: a group number per node. */
function stronglyConnected(nodes: readonly Signal[], next: (s: Signal) => Signal[]): Map<Signal, number> {
  const index = new Map<Signal, number>();
  const low = new Map<Signal, number>();
  const group = new Map<Signal, number>();
  const stack: Signal[] = [];
  const onStack = new Set<Signal>();
  let counter = 0;
  let groups = 0;
  const connect = (v: Signal) => {
    index.set(v, counter);
    low.set(v, counter++);
    stack.push(v);
    onStack.add(v);
    for (const w of next(v)) {
      if (!index.has(w)) {
        connect(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      let w: Signal;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        group.set(w, groups);
      } while (w !== v);
      groups++;
    }
  };
  for (const v of nodes) if (!index.has(v)) connect(v);
  return group;
}
