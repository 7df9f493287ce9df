// Clock-domain crossings: a register, memory write port or synchronous read clocked in domain D whose inputs
// depend (directly or through combinational logic) on a register of another domain. Such a path needs a
// synchronizer: mark its first register `{ synchronizer: ... }` (gen/lib/cdc.ts builds them; what it may carry
// is checks/synchronizers.ts's). Inputs and instance outputs carry no domain here, so crossings through ports
// are the instantiating designer's to mark.
import type { Expr } from '../expr';
import { type ClockDomain, memReadExprs, memWriteExprs, refsOf, walkStmts } from '../ir';
import type { Signal } from '../signal';
import { HdlError, type SrcLoc } from '../srcloc';
import type { CheckPass } from './pass';

export const clockCrossings: CheckPass = {
  name: 'clock-domain crossings',
  run({ mod, graph }, report) {
    if (mod.domains.length < 2) return;
    const memo = new Map<Signal, Set<ClockDomain>>();
    /** The domains of the registers a signal's value comes from in this cycle. */
    const sourcesOf = (s: Signal): Set<ClockDomain> => {
      const hit = memo.get(s);
      if (hit) return hit;
      const out = new Set<ClockDomain>();
      memo.set(s, out);
      if ((s.kind === 'reg' || s.kind === 'mem-rd') && s.domain) out.add(s.domain);
      else if (s.kind !== 'input' && s.kind !== 'inst-out')
        for (const d of graph.deps.get(s) ?? []) for (const x of sourcesOf(d)) out.add(x);
      return out;
    };
    /** One error per reading site: the first signal it reads from another domain. */
    const check = (reader: string, dom: ClockDomain, exprs: Expr[], loc: SrcLoc) => {
      for (const e of exprs) {
        for (const r of refsOf(e)) {
          for (const d of sourcesOf(r)) {
            if (d === dom) continue;
            report(
              new HdlError(
                `clock-domain crossing: ${reader} (domain '${dom.name}') reads '${r.name}', which depends on domain '${d.name}'; ` +
                  `pass it through a synchronizer (a first register with { synchronizer }, e.g. gen/lib/cdc.ts syncBits)`,
                loc,
                'cdc',
              ),
            );
            return;
          }
        }
      }
    };
    walkStmts(mod.stmts, (s, guards) => {
      if (s.k !== 'assign' || s.target.kind !== 'reg' || s.target.synchronizer) return;
      const t = s.target;
      check(`register '${t.name}'`, t.domain!, [s.value, ...guards, ...(t.enable ? [t.enable] : [])], s.loc);
    });
    // Each clocked port in its own domain. The contents are not a source: a dual-clock memory carries words
    // from one domain to the other by design (see docs/dsl.md on what that does not prove).
    for (const m of mod.memories) {
      for (const w of m.writes) check(`memory '${m.name}' write port`, w.domain, memWriteExprs(w), w.loc);
      for (const r of m.reads) if (r.domain) check(`memory '${m.name}' read port`, r.domain, memReadExprs(r), r.loc);
    }
  },
};
