// The intermediate representation: an elaborated module as plain data (signals, statements, memories,
// instances, clock domains), which the check passes, the analyses and the emitter read and never change.
// The builder (builder.ts) writes it while a module body runs; nothing after elaboration writes to it.
import { createHash } from 'node:crypto';
import type { Expr } from './expr';
import { Signal } from './signal';
import { fmtLine, type SrcLoc } from './srcloc';

export type SignalKind =
  | 'input' // module input port: driven from outside
  | 'output' // module output port: driven by this module's combinational logic
  | 'wire' // internal combinational signal
  | 'reg' // flip-flop
  | 'inst-in' // an instance's input pin, seen from the parent: the parent drives it
  | 'inst-out' // an instance's output pin, seen from the parent: the instance drives it
  | 'mem-rd'; // a memory read port's data: the memory drives it

/** A clock domain: a clock, an optional reset, and the reset's polarity and kind. */
export interface ClockDomain {
  readonly name: string;
  readonly clock: Signal;
  readonly reset?: Signal;
  readonly resetActiveLow: boolean;
  readonly asyncReset: boolean;
}

/**
 * What a synchronizer's first register carries across (checks/synchronizers.ts): single bits, a Gray-coded
 * register of another domain (checked), or a value held stable while it crosses (the designer's promise).
 */
export type SyncCarries = 'bit' | 'gray' | 'quasiStatic';

/** Membership of a port in a bundle, for the port description (ports.json). */
export interface InterfaceRef {
  name: string; // the bundle instance name, e.g. "rx"
  field: string; // the field path, e.g. "valid" or "hdr"
}

export type Stmt =
  | { k: 'assign'; target: Signal; value: Expr; loc: SrcLoc }
  | { k: 'if'; cond: Expr; then: Stmt[]; else: Stmt[]; loc: SrcLoc }
  | { k: 'switch'; sel: Expr; cases: SwitchCase[]; default: Stmt[] | null; loc: SrcLoc };

export interface SwitchCase {
  values: Expr[]; // constants of the selector's type
  body: Stmt[];
  loc: SrcLoc;
}

/** A bundle port of a module, for the port description. */
export interface InterfaceDesc {
  name: string;
  kind: string;
  role: 'sink' | 'source' | 'internal';
  params: Record<string, number | string | boolean>;
  fields: Record<string, string>; // field path -> port name
}

/**
 * A memory array with its ports. Each clocked port (write, synchronous read) has its own clock domain: a
 * memory whose ports are in two domains is a dual-clock block RAM. Asynchronous reads have no clock.
 */
export interface MemoryDesc {
  name: string;
  width: number;
  depth: number;
  writes: { addr: Expr; data: Expr; en: Expr; strb?: Expr; domain: ClockDomain; loc: SrcLoc }[];
  /** `domain`: the clock of a synchronous read; none for an asynchronous read. */
  reads: { data: Signal; addr: Expr; en?: Expr; domain?: ClockDomain; loc: SrcLoc }[];
  /** Initial contents from address 0. */
  init?: bigint[];
  loc: SrcLoc;
}

export interface InstanceDesc {
  name: string;
  module: HwModule;
  /** child port name -> parent-side signal (inst-in / inst-out), or the parent's clock/reset. */
  pins: Map<string, Signal>;
  loc: SrcLoc;
}

/** For each output port name, the input port names it depends on combinationally. */
export type CombPaths = ReadonlyMap<string, ReadonlySet<string>>;

/** A module as the body built it, before its summary (combinational paths) is computed. */
export interface ModuleIr {
  readonly name: string;
  readonly doc?: string;
  readonly loc: SrcLoc;
  readonly blackbox: boolean;
  /** Verilog parameters passed to a black box (only black boxes). */
  readonly verilogParams: Record<string, number | string | bigint>;
  readonly ports: readonly Signal[];
  readonly signals: readonly Signal[]; // every declared signal, ports included, in declaration order
  readonly stmts: readonly Stmt[];
  readonly instances: readonly InstanceDesc[];
  readonly memories: readonly MemoryDesc[];
  readonly domains: readonly ClockDomain[];
  readonly interfaces: readonly InterfaceDesc[];
  readonly localparams: readonly { name: string; width: number; value: bigint; loc: SrcLoc }[];
  /** The ports as the body returned them (Signals, bundle values, arrays), for instances to mirror. */
  readonly io: Record<string, unknown>;
}

/** A module after elaboration: what the checks and the emitter read. */
export interface HwModule extends ModuleIr {
  /**
   * For each output port, the input ports it depends on combinationally: computed by the combinational
   * analysis (analysis/comb.ts) for generated modules, declared for black boxes. Parents use it to find
   * loops through their instances.
   */
  readonly combPaths: CombPaths;
}

// ---------------------------------------------------------------------------------------------------------
// Queries over expressions and statements

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

/** Every expression a module reads besides its statements: defaults, enables, memory ports. */
export function sideExprs(mod: ModuleIr): { e: Expr; loc: SrcLoc }[] {
  const out: { e: Expr; loc: SrcLoc }[] = [];
  for (const s of mod.signals) {
    if (s.default) out.push({ e: s.default, loc: s.loc });
    if (s.enable) out.push({ e: s.enable, loc: s.loc });
  }
  for (const m of mod.memories) {
    for (const w of m.writes) for (const e of memWriteExprs(w)) out.push({ e, loc: w.loc });
    for (const r of m.reads) for (const e of memReadExprs(r)) out.push({ e, loc: r.loc });
  }
  return out;
}

export function memWriteExprs(w: MemoryDesc['writes'][number]): Expr[] {
  return [w.addr, w.data, w.en, ...(w.strb ? [w.strb] : [])];
}
export function memReadExprs(r: MemoryDesc['reads'][number]): Expr[] {
  return [r.addr, ...(r.en ? [r.en] : [])];
}

// ---------------------------------------------------------------------------------------------------------
// Fingerprint

const fingerprints = new WeakMap<ModuleIr, string>();

/**
 * A canonical digest of everything the emitted file of a module is made of: ports, signals, statements,
 * memories, instances (by their modules' fingerprints), constants, and the source lines the file's comments
 * name. Two modules with one fingerprint emit the same text, so elaborations that share a name can be
 * compared without emitting them. Expressions are written in first-visit order, shared nodes once, so the
 * digest depends on the structure alone, never on object identity.
 */
export function fingerprint(mod: ModuleIr): string {
  const hit = fingerprints.get(mod);
  if (hit) return hit;
  const h = createHash('sha256');
  const put = (...parts: (string | number | bigint | boolean | undefined)[]) => h.update(parts.join('\u0001') + '\n');
  const ids = new Map<Expr, number>();
  /** The node's number, writing it (and, first, its operands) when it is new. Iterative: chains can be deep. */
  const expr = (root: Expr): number => {
    const stack: [Expr, boolean][] = [[root, false]];
    while (stack.length) {
      const [e, ready] = stack.pop()!;
      if (ids.has(e)) continue;
      if (!ready && !(e instanceof Signal)) {
        stack.push([e, true]);
        for (const a of e.args) if (!ids.has(a)) stack.push([a, false]);
        continue;
      }
      const id = ids.size;
      ids.set(e, id);
      if (e instanceof Signal) put('ref', id, e.name);
      else {
        const a = e.attrs;
        put('expr', id, e.op, e.width, e.signed, a.value, a.symbol, a.hi, a.lo, a.amount, fmtLine(e.loc));
        put('args', ...e.args.map((x) => ids.get(x)!));
      }
    }
    return ids.get(root)!;
  };
  const stmts = (list: readonly Stmt[]) => {
    put('{', list.length);
    for (const s of list) {
      if (s.k === 'assign') put('assign', s.target.name, expr(s.value), fmtLine(s.loc));
      else if (s.k === 'if') {
        put('if', expr(s.cond), fmtLine(s.loc));
        stmts(s.then);
        stmts(s.else);
      } else {
        put('switch', expr(s.sel), fmtLine(s.loc), s.default !== null);
        for (const c of s.cases) {
          put('case', ...c.values.map(expr), fmtLine(c.loc));
          stmts(c.body);
        }
        if (s.default) stmts(s.default);
      }
    }
    put('}');
  };
  put('module', mod.name, mod.doc, fmtLine(mod.loc), mod.blackbox);
  for (const [k, v] of Object.entries(mod.verilogParams)) put('param', k, typeof v, String(v));
  for (const p of mod.ports) put('port', p.name);
  for (const s of mod.signals) {
    put('signal', s.name, s.kind, s.width, s.signed, s.resetValue, s.resetSymbol, s.domain?.name, s.note);
    put('at', fmtLine(s.loc), s.synchronizer, s.iface?.name, s.iface?.field);
    if (s.default) put('default', expr(s.default));
    if (s.enable) put('enable', expr(s.enable));
  }
  for (const d of mod.domains) put('domain', d.name, d.clock.name, d.reset?.name, d.resetActiveLow, d.asyncReset);
  for (const lp of mod.localparams) put('localparam', lp.name, lp.width, lp.value, fmtLine(lp.loc));
  for (const i of mod.interfaces) put('interface', JSON.stringify(i));
  stmts(mod.stmts);
  for (const m of mod.memories) {
    put('memory', m.name, m.width, m.depth, fmtLine(m.loc), m.init?.join(','));
    for (const w of m.writes) {
      put('write', ...memWriteExprs(w).map(expr), w.strb !== undefined, w.domain.name, fmtLine(w.loc));
    }
    for (const r of m.reads) put('read', r.data.name, r.domain?.name, ...memReadExprs(r).map(expr), fmtLine(r.loc));
  }
  for (const i of mod.instances) {
    put('instance', i.name, i.module.name, fingerprint(i.module), fmtLine(i.loc));
    for (const [p, s] of i.pins) put('pin', p, s.name);
  }
  const digest = h.digest('hex');
  fingerprints.set(mod, digest);
  return digest;
}
