// Elaboration checks: every design mistake the DSL can see is reported at the designer's source line.
// Run once per elaborated module: cross-module references, undriven signals, latches (a combinational signal
// not assigned on every path), combinational loops (also through instances), and the module's own
// input->output combinational paths, which its parents need for their loop check.
import type { Expr } from './expr';
import type { HwModule } from './module';
import { fmtLoc, HdlError, type SrcLoc } from './srcloc';
import { type ClockDomain, Signal, type Stmt } from './signal';

/** For each output port name, the input port names it depends on combinationally. */
export type CombPaths = Map<string, Set<string>>;

/** Every signal an expression reads (each shared subexpression visited once: expressions are DAGs). */
export function refsOf(e: Expr, out: Signal[] = [], seen = new Set<Expr>()): Signal[] {
  if (seen.has(e)) return out;
  seen.add(e);
  if (e instanceof Signal) out.push(e);
  else for (const a of e.args) refsOf(a, out, seen);
  return out;
}

/** Visit every statement, with the conditions (and switch selectors) that enclose it. */
export function walkStmts(
  stmts: readonly Stmt[],
  f: (s: Stmt, guards: readonly Expr[]) => void,
  guards: Expr[] = [],
): void {
  for (const s of stmts) {
    f(s, guards);
    if (s.k === 'if') {
      guards.push(s.cond);
      walkStmts(s.then, f, guards);
      walkStmts(s.else, f, guards);
      guards.pop();
    } else if (s.k === 'switch') {
      guards.push(s.sel);
      for (const c of s.cases) walkStmts(c.body, f, guards);
      if (s.default) walkStmts(s.default, f, guards);
      guards.pop();
    }
  }
}

/** Whether a statement list touches `t` at all. */
export function touches(stmts: readonly Stmt[], t: Signal): boolean {
  return stmts.some((s) =>
    s.k === 'assign'
      ? s.target === t
      : s.k === 'if'
        ? touches(s.then, t) || touches(s.else, t)
        : s.cases.some((c) => touches(c.body, t)) || (s.default !== null && touches(s.default, t)),
  );
}

/** Whether every path through `stmts` assigns `t`. */
export function covers(stmts: readonly Stmt[], t: Signal): boolean {
  return stmts.some((s) => coversStmt(s, t));
}

function coversStmt(s: Stmt, t: Signal): boolean {
  if (s.k === 'assign') return s.target === t;
  if (s.k === 'if') return covers(s.then, t) && covers(s.else, t);
  const full = s.default !== null || s.cases.reduce((n, c) => n + c.values.length, 0) >= 2 ** s.sel.width;
  return full && s.cases.every((c) => covers(c.body, t)) && (s.default === null || covers(s.default, t));
}

/** Where a path that misses `t` leaves: the if/case whose branch does not assign it. */
function witness(stmts: readonly Stmt[], t: Signal): SrcLoc | undefined {
  for (const s of stmts) {
    if (s.k === 'assign' || !touches([s], t)) continue;
    if (s.k === 'if') {
      if (!covers(s.then, t)) return witness(s.then, t) ?? s.loc;
      return witness(s.else, t) ?? s.loc;
    }
    for (const c of s.cases) if (!covers(c.body, t)) return witness(c.body, t) ?? c.loc;
    if (!s.default) return s.loc;
    return witness(s.default, t) ?? s.loc;
  }
  return undefined;
}

const combKinds = new Set(['wire', 'output', 'inst-in']);

export function checkModule(mod: HwModule): void {
  const mine = new Set<Signal>(mod.signals);
  const foreign = (e: Expr, loc: SrcLoc) => {
    for (const r of refsOf(e)) {
      if (!mine.has(r)) {
        throw new HdlError(
          `${r.describe()} belongs to module '${r.owner.moduleName}', not to '${mod.name}' (connect it through a port)`,
          loc,
          'context',
        );
      }
    }
  };

  // Combinational dependencies: target -> signals read by its assignments and the conditions around them.
  const deps = new Map<Signal, Set<Signal>>();
  const depOf = (s: Signal) => {
    let d = deps.get(s);
    if (!d) deps.set(s, (d = new Set()));
    return d;
  };
  // Where each dependency was written, so that a loop is reported at a statement, not at a declaration.
  const depLoc = new Map<Signal, Map<Signal, SrcLoc>>();
  const noteDep = (t: Signal, r: Signal, loc: SrcLoc) => {
    depOf(t).add(r);
    let at = depLoc.get(t);
    if (!at) depLoc.set(t, (at = new Map()));
    if (!at.has(r)) at.set(r, loc);
  };
  walkStmts(mod.stmts, (s, guards) => {
    if (s.k === 'if') foreign(s.cond, s.loc);
    if (s.k === 'switch') foreign(s.sel, s.loc);
    if (s.k !== 'assign') return;
    foreign(s.value, s.loc);
    if (s.target.kind === 'reg') return;
    for (const r of refsOf(s.value)) noteDep(s.target, r, s.loc);
    for (const g of guards) for (const r of refsOf(g)) noteDep(s.target, r, s.loc);
  });
  for (const s of mod.signals) {
    if (s.default) foreign(s.default, s.loc);
    if (s.default) for (const r of refsOf(s.default)) noteDep(s, r, s.loc); // the default is combinational too
    if (s.enable) foreign(s.enable, s.loc);
  }
  for (const mem of mod.memories) {
    for (const w of mem.writes) for (const e of [w.addr, w.data, w.en, ...(w.strb ? [w.strb] : [])]) foreign(e, w.loc);
    for (const r of mem.reads) {
      foreign(r.addr, r.loc);
      if (r.en) foreign(r.en, r.loc);
      if (!r.sync) for (const x of refsOf(r.addr)) noteDep(r.data, x, r.loc);
    }
  }
  for (const inst of mod.instances) {
    for (const [out, ins] of inst.module.combPaths) {
      const o = inst.pins.get(out)!;
      for (const i of ins) noteDep(o, inst.pins.get(i)!, inst.loc);
    }
  }

  // Undriven signals and latches.
  for (const s of mod.signals) {
    if (s.kind === 'input' || s.kind === 'inst-out' || s.kind === 'mem-rd') continue;
    if (!s.driven && !s.default) {
      const what =
        s.kind === 'reg'
          ? `register '${s.name}' is never assigned a next value`
          : s.kind === 'inst-in'
            ? `instance input '${s.name}' is never driven`
            : `${s.kind} '${s.name}' is never driven`;
      throw new HdlError(what, s.loc, 'undriven');
    }
    if (combKinds.has(s.kind) && !s.default && !covers(mod.stmts, s)) {
      const w = witness(mod.stmts, s);
      throw new HdlError(
        `${s.describe()} declared at ${fmtLoc(s.loc)} is not assigned on every path and has no default: it would infer a latch` +
          (w ? ` (a path through this branch leaves it unassigned)` : '') +
          `; assign it in every branch or give it a default`,
        w ?? s.loc, // the if/case that leaves it unassigned: where the fix goes
        'latch',
      );
    }
  }

  checkCrossings(mod, deps);

  // Combinational loops.
  const isComb = (s: Signal) => combKinds.has(s.kind) || s.kind === 'inst-out' || (s.kind === 'mem-rd' && deps.has(s));
  const state = new Map<Signal, 1 | 2>(); // 1: on the stack, 2: done
  const stack: Signal[] = [];
  const visit = (s: Signal) => {
    state.set(s, 1);
    stack.push(s);
    for (const d of deps.get(s) ?? []) {
      if (!isComb(d)) continue;
      const st = state.get(d);
      if (st === 1) {
        const cyc = stack.slice(stack.indexOf(d));
        const path = [...cyc, d].map((x) => `'${x.name}' (${fmtLoc(x.loc)})`).join(' -> ');
        // Reported at the assignment (or instance, or memory read) that closes the loop.
        throw new HdlError(`combinational loop: ${path}`, depLoc.get(s)?.get(d) ?? d.loc, 'comb-loop');
      }
      if (st === undefined) visit(d);
    }
    stack.pop();
    state.set(s, 2);
  };
  for (const s of mod.signals) if (isComb(s) && !state.has(s)) visit(s);

  // This module's input -> output combinational paths.
  const reach = new Map<Signal, Set<string>>();
  const inputsReached = (s: Signal): Set<string> => {
    const hit = reach.get(s);
    if (hit) return hit;
    const r = new Set<string>();
    reach.set(s, r);
    for (const d of deps.get(s) ?? []) {
      if (d.kind === 'input') r.add(d.name);
      else if (isComb(d)) for (const x of inputsReached(d)) r.add(x);
    }
    return r;
  };
  for (const p of mod.ports) {
    if (p.kind !== 'output') continue;
    const r = inputsReached(p);
    if (r.size) mod.combPaths.set(p.name, r);
  }
}

/**
 * Clock-domain crossings: a register, memory write port or synchronous read clocked in domain D whose inputs
 * depend (directly or through combinational logic) on a register of another domain. Such a path needs a
 * synchronizer: mark its first register `{ synchronizer: true }` (gen/lib/cdc.ts builds them). Inputs and
 * instance outputs carry no domain here, so crossings through ports are the instantiating designer's to mark.
 */
function checkCrossings(mod: HwModule, deps: Map<Signal, Set<Signal>>): void {
  if (mod.domains.length < 2) return;
  const memo = new Map<Signal, Set<ClockDomain>>();
  const sourcesOf = (s: Signal): Set<ClockDomain> => {
    const hit = memo.get(s);
    if (hit) return hit;
    const out = new Set<ClockDomain>();
    memo.set(s, out);
    if ((s.kind === 'reg' || s.kind === 'mem-rd') && s.domain) out.add(s.domain);
    else if (s.kind !== 'input' && s.kind !== 'inst-out')
      for (const d of deps.get(s) ?? []) for (const x of sourcesOf(d)) out.add(x);
    return out;
  };
  const check = (reader: string, dom: ClockDomain, exprs: Expr[], loc: SrcLoc) => {
    for (const e of exprs) {
      for (const r of refsOf(e)) {
        for (const d of sourcesOf(r)) {
          if (d === dom) continue;
          throw new HdlError(
            `clock-domain crossing: ${reader} (domain '${dom.name}') reads '${r.name}', which depends on domain '${d.name}'; ` +
              `pass it through a synchronizer (a first register with { synchronizer: true }, e.g. gen/lib/cdc.ts)`,
            loc,
            'cdc',
          );
        }
      }
    }
  };
  walkStmts(mod.stmts, (s, guards) => {
    if (s.k !== 'assign' || s.target.kind !== 'reg' || s.target.synchronizer) return;
    const t = s.target;
    check(`register '${t.name}'`, t.domain!, [s.value, ...guards, ...(t.enable ? [t.enable] : [])], s.loc);
  });
  for (const m of mod.memories) {
    if (!m.domain) continue;
    for (const w of m.writes)
      check(`memory '${m.name}' write port`, m.domain, [w.addr, w.data, w.en, ...(w.strb ? [w.strb] : [])], w.loc);
    for (const r of m.reads)
      if (r.sync) check(`memory '${m.name}' read port`, m.domain, [r.addr, ...(r.en ? [r.en] : [])], r.loc);
  }
}
