// The builder: the object `m` a module body receives. It declares ports, wires, registers, memories, state
// machines and instances, records if/switch statements, and writes all of it into the module's IR (ir.ts).
// It knows nothing of checks or Verilog: defineModule (define.ts) runs the checks on what it built.
import type { BundleSpec, Fields, FieldSpec } from './bundle';
import { isBundleSpec, isFlipped } from './bundle';
import { bitsFor, Expr, type HwType, lift, lit, type Operand, select, uint } from './expr';
import { buildFsm, type Fsm } from './fsm';
import { attachHelpers, type InstanceIo, leavesOf, mapShape, type PortOf, type WireOf } from './io';
import type {
  ClockDomain,
  HwModule,
  InstanceDesc,
  InterfaceDesc,
  MemoryDesc,
  ModuleIr,
  SignalKind,
  Stmt,
  SwitchCase,
  SyncCarries,
} from './ir';
import { Memory, memoryDesc, type MemoryHost, type MemoryOptions } from './memory';
import type { ModuleDef } from './define';
import { isIdentifier, isKeyword } from './names';
import { Signal, type SignalOwner } from './signal';
import { callerLoc, fmtLoc, HdlError, type SrcLoc } from './srcloc';

/** The modules being elaborated, innermost last (a body elaborates its children while it runs). */
const builderStack: ModuleBuilder[] = [];

/** Run `body` with `m` as the module being elaborated, then close `m` to further declarations. */
export function elaborateWith<T>(m: ModuleBuilder, body: () => T): T {
  builderStack.push(m);
  try {
    return body();
  } finally {
    builderStack.pop();
    m.finish();
  }
}

type DeclType = HwType | number;
function toType(t: DeclType): HwType {
  return typeof t === 'number' ? uint(t) : t;
}

export interface RegOptions {
  /** Reset value; omit for a register without reset (data paths: cheaper, BRAM/SRL friendly). */
  reset?: number | bigint;
  /** Load enable. */
  en?: Expr;
  domain?: ClockDomain;
  /**
   * The register is the first stage of a synchronizer: it samples a signal of another clock domain on
   * purpose. Without this, a register reading another domain's register is a clock-domain-crossing error.
   * The value says what crosses: `true` or `'bit'` single bits (a register of one bit), `'gray'` a register
   * of another domain whose every next value is a `toGray()`, `'quasiStatic'` a value the designer keeps
   * stable while it crosses (unchecked). docs/dsl.md says what each proves.
   */
  synchronizer?: boolean | SyncCarries;
}

export interface DomainOptions {
  /** Clock port name (default `${name}_clk`). */
  clock?: string;
  /** Reset port name (default `${name}_rst`, or `${name}_rst_n` when active low); null: no reset. */
  reset?: string | null;
  resetActiveLow?: boolean;
  asyncReset?: boolean;
}

export class ModuleBuilder implements SignalOwner, MemoryHost {
  readonly signals: Signal[] = [];
  readonly ports: Signal[] = [];
  readonly instances: InstanceDesc[] = [];
  readonly memories: MemoryDesc[] = [];
  readonly domains: ClockDomain[] = [];
  readonly interfaces: InterfaceDesc[] = [];
  readonly localparams: { name: string; width: number; value: bigint; loc: SrcLoc }[] = [];
  private readonly names = new Map<string, SrcLoc>();
  private readonly stmtStack: Stmt[][] = [[]];
  private defaultDomain?: ClockDomain;
  private elaborating = true;
  doc?: string;

  constructor(
    readonly moduleName: string,
    readonly loc: SrcLoc,
  ) {}

  /** Mistakes found while the body ran that did not stop it (see Signal.assign), in the order found. */
  readonly errors: HdlError[] = [];

  // ---- SignalOwner
  report(error: HdlError): void {
    this.errors.push(error);
  }
  record(stmt: Stmt): void {
    if (builderStack[builderStack.length - 1] !== this) {
      throw new HdlError(
        `statement for module '${this.moduleName}' made while another module is being elaborated`,
        stmt.loc,
        'context',
      );
    }
    this.stmtStack[this.stmtStack.length - 1].push(stmt);
  }
  isElaborating(): boolean {
    return this.elaborating && builderStack[builderStack.length - 1] === this;
  }
  get stmts(): Stmt[] {
    return this.stmtStack[0];
  }

  // ---- names
  private claim(name: string, loc: SrcLoc): void {
    if (!this.elaborating) {
      throw new HdlError(
        `'${name}' declared in module '${this.moduleName}', which has finished elaborating (declare it in the body)`,
        loc,
        'context',
      );
    }
    if (!isIdentifier(name)) {
      throw new HdlError(
        `invalid name '${name}': use letters, digits and _, starting with a letter (names starting with _ are the generator's)`,
        loc,
        'name',
      );
    }
    if (isKeyword(name)) throw new HdlError(`name '${name}' is a Verilog keyword`, loc, 'name');
    const prev = this.names.get(name);
    if (prev) {
      throw new HdlError(`name collision: '${name}' is already declared at ${fmtLoc(prev)}`, loc, 'name');
    }
    this.names.set(name, loc);
  }

  private newSignal(name: string, t: HwType, kind: SignalKind, loc: SrcLoc): Signal {
    this.claim(name, loc);
    const s = new Signal(name, t, kind, this, loc);
    this.signals.push(s);
    if (kind === 'input' || kind === 'output') this.ports.push(s);
    return s;
  }

  // ---- declarations
  /**
   * An input port: a plain type, or a bundle (its flipped fields become outputs). The body reads it; a parent
   * drives it through the instance's `io`.
   */
  input<T extends DeclType | BundleSpec<Fields>>(name: string, t: T): PortOf<T, 'in'> {
    return this.port(name, t, 'input', callerLoc()) as PortOf<T, 'in'>;
  }
  /** An output port: a plain type, or a bundle (its flipped fields become inputs). The body drives it. */
  output<T extends DeclType | BundleSpec<Fields>>(name: string, t: T): PortOf<T, 'out'> {
    return this.port(name, t, 'output', callerLoc()) as PortOf<T, 'out'>;
  }

  /** Declare a port (a Signal, or a bundle value of Signals). */
  port(name: string, t: DeclType | BundleSpec, dir: 'input' | 'output', loc: SrcLoc): unknown {
    if (!isBundleSpec(t)) return this.newSignal(name, toType(t), dir, loc);
    const fields: Record<string, string> = {};
    const v = this.bundleSignals(name, t, dir, loc, name, '', fields);
    this.interfaces.push({ name, kind: t.kind, role: dir === 'input' ? 'sink' : 'source', params: t.params, fields });
    return v;
  }

  private bundleSignals(
    prefix: string,
    spec: BundleSpec,
    dir: 'input' | 'output' | 'wire',
    loc: SrcLoc,
    ifName: string,
    path: string,
    fieldMap: Record<string, string>,
  ): unknown {
    const out: Record<string, unknown> = {};
    for (const [k, f0] of Object.entries(spec.fields) as [string, FieldSpec][]) {
      let f: FieldSpec = f0;
      let d = dir;
      if (isFlipped(f)) {
        f = f.flipped;
        d = dir === 'input' ? 'output' : dir === 'output' ? 'input' : 'wire';
      }
      const nm = `${prefix}_${k}`;
      const fp = path ? `${path}.${k}` : k;
      if (isBundleSpec(f)) {
        out[k] = this.bundleSignals(nm, f, d, loc, ifName, fp, fieldMap);
      } else {
        const s = this.newSignal(nm, f as HwType, d, loc);
        if (dir !== 'wire') s.iface = { name: ifName, field: fp };
        fieldMap[fp] = nm;
        out[k] = s;
      }
    }
    return attachHelpers(out, spec);
  }

  /** A combinational signal. With `default`, paths that do not assign it give the default (no latch). */
  wire<T extends DeclType | BundleSpec<Fields>>(name: string, t: T, opts: { default?: Operand } = {}): WireOf<T> {
    const loc = callerLoc();
    if (isBundleSpec(t)) return this.bundleSignals(name, t, 'wire', loc, name, '', {}) as WireOf<T>;
    const s = this.newSignal(name, toType(t as DeclType), 'wire', loc);
    if (opts.default !== undefined) s.default = lift(opts.default, s, `default of '${name}'`);
    return s as unknown as WireOf<T>;
  }

  /** A named combinational value: a wire of the expression's type, driven by it. */
  let(name: string, value: Expr): Signal {
    const s = this.newSignal(name, value, 'wire', callerLoc());
    s.set(value);
    return s;
  }

  /** A flip-flop, clocked by the default domain unless `domain` is given. */
  reg(name: string, t: DeclType, opts: RegOptions = {}): Signal {
    const loc = callerLoc();
    const s = this.newSignal(name, toType(t), 'reg', loc);
    this.configureReg(s, opts, loc);
    return s;
  }

  private configureReg(s: Signal, opts: RegOptions, loc: SrcLoc): void {
    s.domain = opts.domain ?? this.clockDomain();
    if (opts.synchronizer) s.synchronizer = opts.synchronizer === true ? 'bit' : opts.synchronizer;
    if (opts.reset !== undefined) {
      const v = lift(opts.reset, s, `reset value of '${s.name}'`);
      s.resetValue = v.attrs.value;
      if (!s.domain.reset) {
        throw new HdlError(
          `register '${s.name}' has a reset value but domain '${s.domain.name}' has no reset`,
          loc,
          'context',
        );
      }
    }
    if (opts.en) {
      if (opts.en.width !== 1)
        throw new HdlError(`enable of '${s.name}' must be 1 bit, got ${opts.en.describe()}`, loc, 'width');
      s.enable = opts.en;
    }
  }

  /** Registers `name_0` .. `name_{n-1}` with shared options, indexable by constants or expressions. */
  regArray(name: string, n: number, t: DeclType, opts: RegOptions = {}): SignalArray {
    const loc = callerLoc();
    const items: Signal[] = [];
    for (let i = 0; i < n; i++) {
      const s = this.newSignal(`${name}_${i}`, toType(t), 'reg', loc);
      this.configureReg(s, opts, loc);
      items.push(s);
    }
    return new SignalArray(this, name, items);
  }

  /** Wires `name_0` .. `name_{n-1}`, indexable by constants or expressions. */
  wireArray(name: string, n: number, t: DeclType, opts: { default?: Operand } = {}): SignalArray {
    const loc = callerLoc();
    const items: Signal[] = [];
    for (let i = 0; i < n; i++) {
      const s = this.newSignal(`${name}_${i}`, toType(t), 'wire', loc);
      if (opts.default !== undefined) s.default = lift(opts.default, s, `default of '${name}'`);
      items.push(s);
    }
    return new SignalArray(this, name, items);
  }

  /** A constant with a name, emitted as a localparam. */
  constant(name: string, value: number | bigint, t: DeclType): Expr {
    const loc = callerLoc();
    this.claim(name, loc);
    const type = toType(t);
    const e = lit(value, type, name);
    this.localparams.push({ name, width: type.width, value: BigInt(value), loc });
    return e;
  }

  // ---- clock domains
  /** The default domain: ports `clk` and `rst` (synchronous, active high), created on first use. */
  clockDomain(): ClockDomain {
    if (!this.defaultDomain) {
      const loc = this.loc;
      for (const n of ['clk', 'rst']) {
        const prev = this.names.get(n);
        if (prev) {
          throw new HdlError(
            `name collision: '${n}' is already declared at ${fmtLoc(prev)}, but the default clock domain, first used here, needs ports clk and rst`,
            callerLoc(),
            'name',
          );
        }
      }
      const clock = this.newSignal('clk', uint(1), 'input', loc);
      const reset = this.newSignal('rst', uint(1), 'input', loc);
      // clk and rst go first in the port list, as a designer would write them.
      this.ports.splice(this.ports.indexOf(clock), 2);
      this.ports.unshift(clock, reset);
      this.defaultDomain = { name: 'default', clock, reset, resetActiveLow: false, asyncReset: false };
      this.domains.unshift(this.defaultDomain);
    }
    return this.defaultDomain;
  }

  /** An extra clock domain (a hard-IP boundary): its own clock and reset ports. */
  domain(name: string, opts: DomainOptions = {}): ClockDomain {
    const loc = callerLoc();
    // Registers are grouped into always blocks by domain name: a name used twice would share a clock.
    if (name === 'default' || this.domains.some((d) => d.name === name)) {
      throw new HdlError(
        `clock domain name '${name}' is ${name === 'default' ? 'reserved for the default domain (clk, rst)' : 'already used'}`,
        loc,
        'name',
      );
    }
    const clock = this.newSignal(opts.clock ?? `${name}_clk`, uint(1), 'input', loc);
    const resetName = opts.reset === null ? undefined : (opts.reset ?? `${name}_rst${opts.resetActiveLow ? '_n' : ''}`);
    const reset = resetName ? this.newSignal(resetName, uint(1), 'input', loc) : undefined;
    const d: ClockDomain = {
      name,
      clock,
      reset,
      resetActiveLow: !!opts.resetActiveLow,
      asyncReset: !!opts.asyncReset,
    };
    this.domains.push(d);
    return d;
  }

  // ---- control flow
  /** `if (cond) body`; chain `.elseIf(...)` and `.else(...)`. */
  if(cond: Expr, body: () => void): IfChain {
    const loc = callerLoc();
    checkCond(cond, loc);
    const stmt: Stmt = { k: 'if', cond, then: this.collect(body), else: [], loc };
    this.record(stmt);
    return new IfChain(this, stmt);
  }

  /** `case (sel)`; chain `.case(values, body)` and `.default(body)`. */
  switch(sel: Expr): SwitchBuilder {
    const loc = callerLoc();
    const stmt: Stmt = { k: 'switch', sel, cases: [], default: null, loc };
    this.record(stmt);
    return new SwitchBuilder(this, stmt);
  }

  /** Run `body`, collecting its statements into a fresh list. */
  collect(body: () => void): Stmt[] {
    const list: Stmt[] = [];
    this.stmtStack.push(list);
    try {
      body();
    } finally {
      this.stmtStack.pop();
    }
    return list;
  }

  // ---- hierarchy
  /**
   * Instantiate a module definition. `inst.io` is the child's io (what its body returned) as parent-side pins:
   * the child's inputs to drive, its outputs to read, typed with their widths. The child's default clock
   * domain runs on `domain` (default: this module's default domain); its other domains on `domains`, by the
   * child's domain name (`{ domains: { wr: pcie, rd: core } }`).
   */
  instance<P, IO>(
    name: string,
    def: ModuleDef<P, IO>,
    params: P,
    opts: { domain?: ClockDomain; domains?: Record<string, ClockDomain> } = {},
  ): Instance<InstanceIo<IO>> {
    const loc = callerLoc();
    const child = def.elaborate(params);
    this.claim(name, loc);
    const pins = new Map<string, Signal>();
    const childClocks = new Map<Signal, Signal>();
    const inIo = new Set(leavesOf(child.io).map((l) => l.value));
    for (const given of Object.keys(opts.domains ?? {})) {
      if (given === 'default' || !child.domains.some((d) => d.name === given)) {
        const names = child.domains.filter((d) => d.name !== 'default').map((d) => `'${d.name}'`);
        throw new HdlError(
          `instance '${name}': module '${child.name}' has no clock domain '${given}' to map (${names.length ? `its domains: ${names.join(', ')}` : 'it has no extra domains'}; the default domain is { domain })`,
          loc,
          'name',
        );
      }
    }
    // Each child domain's clock and reset follow a parent domain: the default one the parent's default (or
    // `domain`), the others those named in `domains`.
    for (const cdom of child.domains) {
      const pd = cdom.name === 'default' ? (opts.domain ?? this.clockDomain()) : opts.domains?.[cdom.name];
      if (!pd) {
        if (inIo.has(cdom.clock)) continue; // the child hands its clock out: the parent drives it as a pin
        throw new HdlError(
          `instance '${name}': clock domain '${cdom.name}' of module '${child.name}' is not connected: give { domains: { ${cdom.name}: <a domain of this module> } }`,
          loc,
          'context',
        );
      }
      childClocks.set(cdom.clock, pd.clock);
      if (cdom.reset) {
        if (!pd.reset)
          throw new HdlError(`instance '${name}' needs a reset but domain '${pd.name}' has none`, loc, 'context');
        if (pd.resetActiveLow !== cdom.resetActiveLow) {
          throw new HdlError(
            `instance '${name}': reset polarity of domain '${pd.name}' differs from the child's`,
            loc,
            'context',
          );
        }
        childClocks.set(cdom.reset, pd.reset);
      }
    }
    for (const p of child.ports) {
      const clk = childClocks.get(p);
      if (clk) {
        pins.set(p.name, clk);
        continue;
      }
      const kind: SignalKind = p.kind === 'input' ? 'inst-in' : 'inst-out';
      const s = this.newSignal(`${name}_${p.name}`, p, kind, loc);
      if (kind === 'inst-out') s.driven = true;
      pins.set(p.name, s);
    }
    this.instances.push({ name, module: child, pins, loc });
    const io = mapShape(child.io, (s) => pins.get(s.name)!) as InstanceIo<IO>;
    return { name, module: child, io, pin: (p: string) => pinOf(pins, name, p, callerLoc()) };
  }

  /**
   * A memory (block RAM when read synchronously, distributed RAM when read asynchronously). `init` gives
   * initial contents from address 0 (the rest stay unknown): a ROM when there is no write port, or a RAM's
   * power-up contents (FPGA block and distributed RAMs load them with the bitstream).
   */
  memory(name: string, opts: MemoryOptions): Memory {
    const loc = callerLoc();
    this.claim(name, loc);
    const desc = memoryDesc(name, opts, loc);
    this.memories.push(desc);
    return new Memory(this, desc, opts.domain);
  }

  /** A state machine with named states, binary encoded, reset to the first state. */
  fsm<S extends string>(name: string, states: readonly S[], opts: { domain?: ClockDomain } = {}): Fsm<S> {
    return buildFsm(this, name, states, opts);
  }

  /** Internal: used by `Memory` to make read-data signals. */
  memReadSignal(name: string, t: HwType, loc: SrcLoc): Signal {
    const s = this.newSignal(name, t, 'mem-rd', loc);
    s.driven = true;
    return s;
  }

  finish(): void {
    this.elaborating = false;
  }

  /**
   * The io a body returned, checked: a plain object whose members (at any depth: bundles, arrays, objects)
   * are ports of this module (or undefined: an optional port these parameters leave out), holding every port
   * except the default clock and reset, which instances connect themselves. A body that returns nothing has
   * an empty io (its instances reach ports only by `pin(name)`). Mistakes are reported; the body goes on.
   */
  takeIo(returned: unknown, loc: SrcLoc): Record<string, unknown> {
    if (returned === undefined) return {};
    const what = `module '${this.moduleName}': its body must return its ports as an object (e.g. \`return { a, y }\`)`;
    if (returned === null || typeof returned !== 'object' || Array.isArray(returned) || returned instanceof Expr) {
      const got = returned instanceof Expr ? returned.describe() : String(returned);
      this.report(new HdlError(`${what}, not ${got}`, loc, 'io'));
      return {};
    }
    const seen = new Set<Signal>();
    const ports = new Set(this.ports);
    for (const { path, value } of leavesOf(returned)) {
      if (value === undefined) continue; // an optional port not declared for these parameters
      if (value instanceof Signal && ports.has(value)) {
        seen.add(value);
        continue;
      }
      const is = value instanceof Signal ? `${value.describe()} of module '${value.owner.moduleName}'` : String(value);
      this.report(new HdlError(`${what}: io member '${path}' is not one of its ports (it is ${is})`, loc, 'io'));
    }
    // Clocks and resets: instances connect them to the parent's domains.
    const implicit = new Set<Signal | undefined>(this.domains.flatMap((d) => [d.clock, d.reset]));
    const missing = this.ports.filter((p) => !seen.has(p) && !implicit.has(p));
    if (missing.length) {
      this.report(
        new HdlError(
          `module '${this.moduleName}': its body's io leaves out ${missing.length === 1 ? 'port' : 'ports'} ${missing.map((p) => `'${p.name}'`).join(', ')}: return every port (bundles whole), so that instances can reach it`,
          loc,
          'io',
        ),
      );
    }
    return returned as Record<string, unknown>;
  }

  /** What the body built, as the module's IR. */
  ir(
    io: Record<string, unknown>,
    extra: { doc?: string; blackbox?: boolean; verilogParams?: ModuleIr['verilogParams'] } = {},
  ): ModuleIr {
    return {
      name: this.moduleName,
      doc: extra.doc ?? this.doc,
      loc: this.loc,
      blackbox: extra.blackbox ?? false,
      verilogParams: extra.verilogParams ?? {},
      ports: this.ports,
      signals: this.signals,
      stmts: extra.blackbox ? [] : this.stmts,
      instances: this.instances,
      memories: this.memories,
      domains: this.domains,
      interfaces: this.interfaces,
      localparams: this.localparams,
      io,
    };
  }
}

function checkCond(cond: Expr, loc: SrcLoc): void {
  if (cond.width !== 1) {
    throw new HdlError(`condition must be 1 bit, got ${cond.describe()} (compare it, or use orR())`, loc, 'width');
  }
}

function pinOf(pins: Map<string, Signal>, inst: string, p: string, loc: SrcLoc): Signal {
  const s = pins.get(p);
  if (!s) throw new HdlError(`instance '${inst}' has no port '${p}'`, loc, 'name');
  return s;
}

export class IfChain {
  constructor(
    private readonly m: ModuleBuilder,
    private stmt: Extract<Stmt, { k: 'if' }>,
  ) {}
  private closed = false; // else() given (its body may be empty)
  elseIf(cond: Expr, body: () => void): IfChain {
    const loc = callerLoc();
    checkCond(cond, loc);
    if (this.closed) throw new HdlError('elseIf() after else()', loc, 'context');
    const inner: Stmt = { k: 'if', cond, then: this.m.collect(body), else: [], loc };
    this.stmt.else.push(inner);
    this.stmt = inner;
    return this;
  }
  else(body: () => void): void {
    const loc = callerLoc();
    if (this.closed) throw new HdlError('else() given twice', loc, 'context');
    this.closed = true;
    this.stmt.else = this.m.collect(body);
  }
}

export class SwitchBuilder {
  private readonly seen = new Map<bigint, SrcLoc>();
  constructor(
    private readonly m: ModuleBuilder,
    private readonly stmt: Extract<Stmt, { k: 'switch' }>,
  ) {}
  /** A case arm for one value or several. */
  case(values: Operand | readonly Operand[], body: () => void): SwitchBuilder {
    const loc = callerLoc();
    if (this.stmt.default) throw new HdlError('case() after default()', loc, 'context');
    const vs = (Array.isArray(values) ? values : [values]).map((v) => {
      const e = lift(v as Operand, this.stmt.sel, 'case');
      if (e.op !== 'const') throw new HdlError(`case value must be a constant, got ${e.describe()}`, loc, 'type');
      if (e.width !== this.stmt.sel.width) {
        throw new HdlError(
          `width mismatch in case: selector ${this.stmt.sel.describe()} vs value ${e.describe()}`,
          loc,
          'width',
        );
      }
      const prev = this.seen.get(e.attrs.value!);
      if (prev) throw new HdlError(`case value ${e.attrs.value} already handled at ${fmtLoc(prev)}`, loc, 'context');
      this.seen.set(e.attrs.value!, loc);
      return e;
    });
    const c: SwitchCase = { values: vs, body: this.m.collect(body), loc };
    this.stmt.cases.push(c);
    return this;
  }
  default(body: () => void): void {
    const loc = callerLoc();
    if (this.stmt.default) throw new HdlError('default() given twice', loc, 'context');
    this.stmt.default = this.m.collect(body);
  }
}

/** Signals `name_0..name_{n-1}`, indexable by a number or by an expression. */
export class SignalArray {
  constructor(
    private readonly m: ModuleBuilder,
    readonly name: string,
    readonly items: readonly Signal[],
  ) {}
  get length(): number {
    return this.items.length;
  }
  /** Element at a constant index, or an N-way select at a variable index. */
  at(i: number | Expr): Expr {
    if (typeof i === 'number') return this.item(i);
    return select(i, this.items);
  }
  item(i: number): Signal {
    const s = this.items[i];
    if (!s) throw new HdlError(`${this.name}[${i}] out of range (length ${this.items.length})`, callerLoc(), 'range');
    return s;
  }
  /** Drive element `i` (a register: next state) where `i` may be an expression. */
  nextAt(i: number | Expr, v: Operand): void {
    this.write(i, (s) => s.next(v));
  }
  setAt(i: number | Expr, v: Operand): void {
    this.write(i, (s) => s.set(v));
  }
  private write(i: number | Expr, f: (s: Signal) => void): void {
    if (typeof i === 'number') return f(this.item(i));
    const w = bitsFor(this.items.length - 1);
    if (i.width < w) {
      throw new HdlError(
        `index of ${i.width} bits cannot reach all ${this.items.length} elements of '${this.name}'`,
        callerLoc(),
        'width',
      );
    }
    this.items.forEach((s, k) => this.m.if(i.eq(k), () => f(s)));
  }
}

export interface Instance<IO> {
  readonly name: string;
  readonly module: HwModule;
  /** The child's io as parent-side pins (typed from what the child's body returns). */
  readonly io: IO;
  /** A pin by its child port name, untyped: for port names computed at run time. */
  pin(port: string): Signal;
}
