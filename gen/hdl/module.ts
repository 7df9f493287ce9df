// Modules: a definition is a TypeScript function of ordinary parameters; elaborating it with one set of
// parameters gives one Verilog module with a deterministic name. The builder `m` handed to the body declares
// ports, wires, registers, memories and instances, and records if/switch statements.
import { createHash } from 'node:crypto';
import { type BundleSpec, type Fields, type FieldSpec, isBundleSpec, isFlipped } from './bundle';
import { bitsFor, Expr, type HwType, lift, lit, log2ceil, type Operand, select, uint } from './expr';
import { callerLoc, fmtLoc, HdlError, type SrcLoc } from './srcloc';
import { type ClockDomain, Signal, type SignalKind, type SignalOwner, type Stmt, type SwitchCase } from './signal';
import { checkModule, type CombPaths } from './check';
import { emitModule } from './emit';

// ---------------------------------------------------------------------------------------------------------
// Typed views of bundles

type SignalsOf<F extends Fields> = { readonly [K in keyof F]: FieldValue<F[K]> };
type FieldValue<T> = T extends { flipped: infer U }
  ? FieldValue<U>
  : T extends BundleSpec<infer G>
    ? BundleValue<G>
    : Signal;
/** A bundle as seen in a module: one Signal per field, plus helpers. */
export type BundleValue<F extends Fields> = SignalsOf<F> & BundleHelpers;
export interface BundleHelpers {
  /** valid && ready, for bundles with those fields. */
  fire(): Expr;
}
export type Declared<T> = T extends BundleSpec<infer F> ? BundleValue<F> : Signal;

const bundleSpecOf = new WeakMap<object, BundleSpec>();

/** Apply `f` to every Signal in a port tree (a Signal or a bundle value), keeping the shape. */
function mapShape(v: unknown, f: (s: Signal) => Signal): unknown {
  if (v instanceof Signal) return f(v);
  const spec = bundleSpecOf.get(v as object);
  const out: Record<string, unknown> = {};
  for (const [k, child] of Object.entries(v as object)) out[k] = mapShape(child, f);
  return attachHelpers(out, spec);
}

function attachHelpers(obj: Record<string, unknown>, spec?: BundleSpec): unknown {
  Object.defineProperty(obj, 'fire', {
    enumerable: false,
    value: () => {
      const valid = obj.valid,
        ready = obj.ready;
      if (!(valid instanceof Signal) || !(ready instanceof Signal)) {
        throw new HdlError('fire() needs a bundle with valid and ready fields', callerLoc(), 'type');
      }
      return valid.and(ready);
    },
  });
  if (spec) bundleSpecOf.set(obj, spec);
  return obj;
}

/**
 * Connect two bundles of the same type, field by field: forward fields flow from `source` to `sink`, flipped
 * fields (a stream's `ready`) from `sink` back to `source`. Either side may be ports, wires or instance pins.
 */
export function connect(sink: unknown, source: unknown): void {
  const loc = callerLoc();
  const ss = typeof sink === 'object' && sink ? bundleSpecOf.get(sink) : undefined;
  const sr = typeof source === 'object' && source ? bundleSpecOf.get(source) : undefined;
  if (!ss || !sr)
    throw new HdlError('connect() takes two bundles (ports, wires or instance io of a bundle type)', loc, 'type');
  if (ss.kind !== sr.kind || stableJson(ss.params) !== stableJson(sr.params)) {
    throw new HdlError(
      `connect(): bundle types differ: ${ss.kind} ${stableJson(ss.params)} vs ${sr.kind} ${stableJson(sr.params)}`,
      loc,
      'type',
    );
  }
  connectFields(ss, sink as Record<string, unknown>, source as Record<string, unknown>, false);
}

function connectFields(
  spec: BundleSpec,
  sink: Record<string, unknown>,
  source: Record<string, unknown>,
  flipped: boolean,
): void {
  for (const [k, f0] of Object.entries(spec.fields) as [string, FieldSpec][]) {
    const flip = isFlipped(f0) !== flipped;
    const f = isFlipped(f0) ? f0.flipped : f0;
    if (isBundleSpec(f)) {
      connectFields(f, sink[k] as Record<string, unknown>, source[k] as Record<string, unknown>, flip);
      continue;
    }
    const a = sink[k] as Signal;
    const b = source[k] as Signal;
    if (flip) b.set(a);
    else a.set(b);
  }
}

/** All signals of a port tree, in field order. */
export function signalsOf(v: unknown): Signal[] {
  if (v instanceof Signal) return [v];
  return Object.values(v as object).flatMap(signalsOf);
}

// ---------------------------------------------------------------------------------------------------------
// Elaborated modules

export interface InterfaceDesc {
  name: string;
  kind: string;
  role: 'sink' | 'source' | 'internal';
  params: Record<string, number | string | boolean>;
  fields: Record<string, string>; // field path -> port name
}

/** A memory array with its ports. */
export interface MemoryDesc {
  name: string;
  width: number;
  depth: number;
  /** The clock of the write ports and synchronous reads; none for a ROM read only asynchronously. */
  domain?: ClockDomain;
  writes: { addr: Expr; data: Expr; en: Expr; strb?: Expr; loc: SrcLoc }[];
  reads: { data: Signal; addr: Expr; en?: Expr; sync: boolean; loc: SrcLoc }[];
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

/** A module after elaboration: what the checks and the emitter read. */
export interface HwModule {
  readonly name: string;
  readonly doc?: string;
  readonly loc: SrcLoc;
  readonly blackbox: boolean;
  /** Verilog parameters passed to a black box (only black boxes). */
  readonly verilogParams: Record<string, number | string | bigint>;
  readonly ports: Signal[];
  readonly signals: Signal[]; // every declared signal, ports included, in declaration order
  readonly stmts: Stmt[];
  readonly instances: InstanceDesc[];
  readonly memories: MemoryDesc[];
  readonly domains: ClockDomain[];
  readonly interfaces: InterfaceDesc[];
  readonly localparams: { name: string; width: number; value: bigint; loc: SrcLoc }[];
  /** The ports as the body declared them (Signals and bundle values), for instances to mirror. */
  readonly io: Record<string, unknown>;
  /** For each output port, the input ports it depends on combinationally. */
  combPaths: CombPaths;
}

// ---------------------------------------------------------------------------------------------------------
// The builder

const verilogKeywords = new Set(
  (
    'always and assign automatic begin buf bufif0 bufif1 case casex casez cell cmos config deassign default defparam ' +
    'design disable edge else end endcase endconfig endfunction endgenerate endmodule endprimitive endspecify ' +
    'endtable endtask event for force forever fork function generate genvar highz0 highz1 if ifnone incdir include ' +
    'initial inout input instance integer join large liblist library localparam macromodule medium module nand ' +
    'negedge nmos nor noshowcancelled not notif0 notif1 or output parameter pmos posedge primitive pull0 pull1 ' +
    'pulldown pullup pulsestyle_onevent pulsestyle_ondetect rcmos real realtime reg release repeat rnmos rpmos rtran ' +
    'rtranif0 rtranif1 scalared showcancelled signed small specify specparam strong0 strong1 supply0 supply1 table ' +
    'task time tran tranif0 tranif1 tri tri0 tri1 triand trior trireg unsigned use uwire vectored wait wand weak0 ' +
    'weak1 while wire wor xnor xor logic bit byte int shortint longint always_comb always_ff always_latch interface ' +
    'struct union enum typedef package import export class string void return break continue ' +
    // The rest of the IEEE 1800-2017 keywords: Verilator and iverilog -g2012 parse .v files as SystemVerilog.
    'accept_on alias assert assume before bind bins binsof chandle checker clocking const constraint ' +
    'context cover covergroup coverpoint cross dist do endchecker endclass endclocking endgroup ' +
    'endinterface endpackage endprogram endproperty endsequence eventually expect extends extern final ' +
    'first_match foreach forkjoin global iff ignore_bins illegal_bins implements implies inside ' +
    'interconnect intersect join_any join_none let local matches modport nettype new nexttime null ' +
    'packed priority program property protected pure rand randc randcase randsequence ref reject_on ' +
    'restrict s_always s_eventually s_nexttime s_until s_until_with sequence shortreal soft solve static ' +
    'strong super sync_accept_on sync_reject_on tagged this throughout timeprecision timeunit type ' +
    'unique unique0 until until_with untyped var virtual wait_order weak wildcard with within ' +
    // C++ keywords: Verilator turns names into C++ identifiers and warns (SYMRSVDWORD) on these.
    'alignas alignof asm auto bool case catch char char16_t char32_t compl constexpr const_cast decltype ' +
    'delete double dynamic_cast explicit false float friend goto inline long mutable namespace noexcept ' +
    'nullptr operator private public register reinterpret_cast short sizeof static_assert static_cast switch ' +
    'template thread_local throw true try typeid typename unsigned using volatile wchar_t'
  ).split(' '),
);

const builderStack: ModuleBuilder[] = [];

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
   */
  synchronizer?: boolean;
}

export interface DomainOptions {
  /** Clock port name (default `${name}_clk`). */
  clock?: string;
  /** Reset port name (default `${name}_rst`, or `${name}_rst_n` when active low); null: no reset. */
  reset?: string | null;
  resetActiveLow?: boolean;
  asyncReset?: boolean;
}

export class ModuleBuilder implements SignalOwner {
  readonly signals: Signal[] = [];
  readonly ports: Signal[] = [];
  readonly instances: InstanceDesc[] = [];
  readonly memories: MemoryDesc[] = [];
  readonly domains: ClockDomain[] = [];
  readonly interfaces: InterfaceDesc[] = [];
  readonly localparams: HwModule['localparams'] = [];
  readonly io: Record<string, unknown> = {};
  private readonly names = new Map<string, SrcLoc>();
  private readonly stmtStack: Stmt[][] = [[]];
  private defaultDomain?: ClockDomain;
  private elaborating = true;
  doc?: string;

  constructor(
    readonly moduleName: string,
    readonly loc: SrcLoc,
  ) {}

  // ---- SignalOwner
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
    if (!/^[A-Za-z][A-Za-z0-9_]*$/.test(name)) {
      throw new HdlError(
        `invalid name '${name}': use letters, digits and _, starting with a letter (names starting with _ are the generator's)`,
        loc,
        'name',
      );
    }
    if (verilogKeywords.has(name)) throw new HdlError(`name '${name}' is a Verilog keyword`, loc, 'name');
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
  /** An input port: a plain type, or a bundle (its flipped fields become outputs). */
  input<T extends DeclType | BundleSpec<Fields>>(name: string, t: T): Declared<T> {
    return this.port(name, t, 'input', callerLoc()) as Declared<T>;
  }
  /** An output port: a plain type, or a bundle (its flipped fields become inputs). */
  output<T extends DeclType | BundleSpec<Fields>>(name: string, t: T): Declared<T> {
    return this.port(name, t, 'output', callerLoc()) as Declared<T>;
  }

  private port(name: string, t: DeclType | BundleSpec, dir: 'input' | 'output', loc: SrcLoc): unknown {
    let v: unknown;
    if (isBundleSpec(t)) {
      const fields: Record<string, string> = {};
      v = this.bundleSignals(name, t, dir, loc, name, '', fields);
      this.interfaces.push({ name, kind: t.kind, role: dir === 'input' ? 'sink' : 'source', params: t.params, fields });
    } else {
      v = this.newSignal(name, toType(t), dir, loc);
    }
    this.io[name] = v;
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
  wire<T extends DeclType | BundleSpec<Fields>>(name: string, t: T, opts: { default?: Operand } = {}): Declared<T> {
    const loc = callerLoc();
    if (isBundleSpec(t)) return this.bundleSignals(name, t, 'wire', loc, name, '', {}) as Declared<T>;
    const s = this.newSignal(name, toType(t as DeclType), 'wire', loc);
    if (opts.default !== undefined) s.default = lift(opts.default, s, `default of '${name}'`);
    return s as unknown as Declared<T>;
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
    if (opts.synchronizer) s.synchronizer = true;
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
  /** Instantiate a module definition; returns its ports as parent-side signals (`inst.io`). */
  instance<P, IO = Record<string, unknown>>(
    name: string,
    def: ModuleDef<P, IO>,
    params: P,
    opts: { domain?: ClockDomain } = {},
  ): Instance<IO> {
    const loc = callerLoc();
    const child = def.elaborate(params);
    this.claim(name, loc);
    const pins = new Map<string, Signal>();
    const childClocks = new Map<Signal, Signal>();
    // The child's default clock and reset follow the parent's (or the given domain).
    const cdom = child.domains.find((d) => d.name === 'default');
    if (cdom) {
      const pd = opts.domain ?? this.clockDomain();
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
    const io: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(child.io)) {
      io[k] = mapShape(v, (s) => pins.get(s.name)!);
    }
    return { name, module: child, io: io as IO, pin: (p: string) => pinOf(pins, name, p, callerLoc()) };
  }

  /** A memory (block RAM when read synchronously, distributed RAM when read asynchronously). */
  /**
   * `init` gives initial contents from address 0 (the rest stay unknown): a ROM when there is no write port,
   * or a RAM's power-up contents (FPGA block and distributed RAMs load them with the bitstream).
   */
  memory(
    name: string,
    opts: { width: number; depth: number; domain?: ClockDomain; init?: readonly (number | bigint)[] },
  ): Memory {
    const loc = callerLoc();
    this.claim(name, loc);
    const init = opts.init?.map((v, i) => {
      const b = BigInt(v);
      if (b < 0n || b >= 1n << BigInt(opts.width)) {
        throw new HdlError(`memory '${name}': init[${i}] = ${b} does not fit in ${opts.width} bits`, loc, 'width');
      }
      return b;
    });
    if (init && init.length > opts.depth) {
      throw new HdlError(`memory '${name}': ${init.length} initial words for a depth of ${opts.depth}`, loc, 'range');
    }
    const desc: MemoryDesc = {
      name,
      width: opts.width,
      depth: opts.depth,
      domain: opts.domain,
      writes: [],
      reads: [],
      init,
      loc,
    };
    this.memories.push(desc);
    return new Memory(this, desc);
  }

  /** A state machine with named states, binary encoded, reset to the first state. */
  fsm<S extends string>(name: string, states: readonly S[], opts: { domain?: ClockDomain } = {}): Fsm<S> {
    const loc = callerLoc();
    if (states.length < 2) throw new HdlError(`fsm '${name}' needs at least two states`, loc, 'param');
    const w = log2ceil(states.length);
    const reg = this.reg(name, w, { reset: 0, domain: opts.domain });
    const consts = new Map<S, Expr>();
    states.forEach((s, i) => {
      const pname = `${name.toUpperCase()}_${s.toUpperCase()}`;
      consts.set(s, this.constant(pname, i, w));
    });
    reg.resetSymbol = consts.get(states[0])!.attrs.symbol;
    return new Fsm(this, reg, consts);
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
  /** The child's ports (and bundles) as parent-side signals. */
  readonly io: IO;
  /** A pin by its child port name. */
  pin(port: string): Signal;
}

export class Memory {
  constructor(
    private readonly m: ModuleBuilder,
    readonly desc: MemoryDesc,
  ) {}
  get width(): number {
    return this.desc.width;
  }
  get depth(): number {
    return this.desc.depth;
  }
  get addrWidth(): number {
    return log2ceil(this.desc.depth);
  }
  /** The memory's clock domain (the module's default one unless given), created with the first clocked port. */
  private clocked(): ClockDomain {
    if (!this.desc.domain) this.desc.domain = this.m.clockDomain();
    return this.desc.domain;
  }
  private checkAddr(addr: Expr, loc: SrcLoc): void {
    if (addr.width !== this.addrWidth || addr.signed) {
      throw new HdlError(
        `memory '${this.desc.name}' (depth ${this.desc.depth}) needs a uint${this.addrWidth} address, got ${addr.describe()}`,
        loc,
        'width',
      );
    }
    if (this.desc.reads.length + this.desc.writes.length >= 4) {
      throw new HdlError(`memory '${this.desc.name}' has too many ports (a block RAM has two)`, loc, 'param');
    }
  }
  /** A write port; `strb` gives byte enables (width/8 bits) when the width is a multiple of 8. */
  write(addr: Expr, data: Expr, en: Expr, strb?: Expr): void {
    const loc = callerLoc();
    this.checkAddr(addr, loc);
    if (data.width !== this.width) {
      throw new HdlError(
        `width mismatch in write to memory '${this.desc.name}': ${this.width} bits vs ${data.describe()}`,
        loc,
        'width',
      );
    }
    if (en.width !== 1) throw new HdlError(`memory write enable must be 1 bit, got ${en.describe()}`, loc, 'width');
    if (strb && (this.width % 8 !== 0 || strb.width !== this.width / 8)) {
      throw new HdlError(
        `byte enables of memory '${this.desc.name}' must be ${this.width / 8} bits, got ${strb.describe()}`,
        loc,
        'width',
      );
    }
    this.clocked();
    this.desc.writes.push({ addr, data, en, strb, loc });
  }
  /** A synchronous read port (block RAM): data appears the cycle after `en` (default 1). */
  readSync(addr: Expr, en?: Expr): Signal {
    return this.read(addr, true, en);
  }
  /** An asynchronous read port (distributed RAM). */
  readAsync(addr: Expr): Signal {
    return this.read(addr, false);
  }
  private read(addr: Expr, sync: boolean, en?: Expr): Signal {
    const loc = callerLoc();
    this.checkAddr(addr, loc);
    if (en && en.width !== 1) {
      throw new HdlError(`read enable of memory '${this.desc.name}' must be 1 bit, got ${en.describe()}`, loc, 'width');
    }
    const data = this.m.memReadSignal(`${this.desc.name}_rd${this.desc.reads.length}`, uint(this.width), loc);
    if (sync) data.domain = this.clocked();
    this.desc.reads.push({ data, addr, en, sync, loc });
    return data;
  }
}

export class Fsm<S extends string> {
  constructor(
    private readonly m: ModuleBuilder,
    readonly state: Signal,
    private readonly consts: Map<S, Expr>,
  ) {}
  private c(s: S): Expr {
    const e = this.consts.get(s);
    if (!e) throw new HdlError(`fsm '${this.state.name}' has no state '${s}'`, callerLoc(), 'name');
    return e;
  }
  /** 1 when the machine is in state `s`. */
  is(s: S): Expr {
    return this.state.eq(this.c(s));
  }
  /** Move to `s` at the next clock edge. */
  goto(s: S): void {
    this.state.next(this.c(s));
  }
  /** The constant for state `s`. */
  value(s: S): Expr {
    return this.c(s);
  }
  /** A `case` over the states; states left out hold (no arm). */
  switch(arms: Partial<Record<S, () => void>>): void {
    const sw = this.m.switch(this.state);
    for (const [s, body] of Object.entries(arms) as [S, () => void][]) sw.case(this.c(s), body);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Definitions

export interface ModuleDef<P, IO = Record<string, unknown>> {
  readonly base: string;
  /** Elaborate once per distinct parameter set (cached): same parameters, same module object. */
  elaborate(params: P): HwModule;
  /** The Verilog name for a parameter set. */
  nameFor(params: P): string;
  /** Marker for typed `io` on instances. */
  readonly __io?: IO;
}

export interface DefineOptions<P> {
  /** Name for a parameter set; default: base followed by each parameter as `_<key><value>`. */
  name?: (p: P) => string;
  doc?: string;
}

/**
 * The default module name: the base, then `_<key><value>` per parameter in sorted key order, so that the name
 * is a function of the parameter values alone (`{ w: 8, k: 3 }` and `{ k: 3, w: 8 }` are `s_k3_w8`).
 */
function defaultName(base: string, p: unknown): string {
  if (p === undefined || p === null) return base;
  if (typeof p !== 'object') return `${base}_${sanitize(String(p))}`;
  const parts: string[] = [base];
  const entries = Object.entries(p as object).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  for (const [k, v] of entries) {
    if (v === undefined) continue; // an optional parameter left out
    if (['number', 'string', 'boolean', 'bigint'].includes(typeof v)) parts.push(`${k}${sanitize(String(v))}`);
    else parts.push(`${k}${createHash('sha256').update(stableJson(v)).digest('hex').slice(0, 8)}`);
  }
  return parts.join('_');
}

function sanitize(s: string): string {
  return s.replace(/[^A-Za-z0-9]/g, '_');
}

export function stableJson(v: unknown): string {
  return JSON.stringify(v, (_k, x) =>
    typeof x === 'bigint'
      ? `${x}n`
      : x && typeof x === 'object' && !Array.isArray(x)
        ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => (a < b ? -1 : 1)))
        : x,
  );
}

/**
 * Define a module generator. `body(m, params)` declares the hardware; the result's `elaborate(params)` gives
 * the module for those parameters.
 */
export function defineModule<P = void, IO = Record<string, unknown>>(
  base: string,
  body: (m: ModuleBuilder, params: P) => IO | void,
  opts: DefineOptions<P> = {},
): ModuleDef<P, IO> {
  const defLoc = callerLoc();
  const cache = new Map<string, HwModule>();
  const byName = new Map<string, { key: string; mod: HwModule }>();
  const nameFor = (p: P) => opts.name?.(p) ?? defaultName(base, p);
  return {
    base,
    nameFor,
    elaborate(params: P): HwModule {
      const key = stableJson(params ?? null);
      const hit = cache.get(key);
      if (hit) return hit;
      const name = nameFor(params);
      const mod = elaborateFresh(name, params);
      // Parameter sets that differ only in spelling (a default given explicitly) name the same module: one
      // module object per name, as long as the hardware is the same.
      const same = byName.get(name);
      if (same) {
        if (emitModule(same.mod) !== emitModule(mod)) {
          throw new HdlError(
            `module name '${name}' (defined at ${fmtLoc(defLoc)}) is generated for parameters ${same.key} and ${key}, which give different hardware; include every parameter that changes the hardware in the name`,
            callerLoc(),
            'name',
          );
        }
        cache.set(key, same.mod);
        return same.mod;
      }
      byName.set(name, { key, mod });
      cache.set(key, mod);
      return mod;
    },
  };

  function elaborateFresh(name: string, params: P): HwModule {
    {
      if (!/^[A-Za-z][A-Za-z0-9_]*$/.test(name) || verilogKeywords.has(name)) {
        throw new HdlError(
          `invalid module name '${name}' (letters, digits and _, starting with a letter; not a Verilog keyword)`,
          defLoc,
          'name',
        );
      }
      const m = new ModuleBuilder(name, defLoc);
      m.doc = opts.doc;
      builderStack.push(m);
      try {
        body(m, params);
      } finally {
        builderStack.pop();
        m.finish();
      }
      const mod: HwModule = {
        name,
        doc: m.doc,
        loc: defLoc,
        blackbox: false,
        verilogParams: {},
        ports: m.ports,
        signals: m.signals,
        stmts: m.stmts,
        instances: m.instances,
        memories: m.memories,
        domains: m.domains,
        interfaces: m.interfaces,
        localparams: m.localparams,
        io: m.io,
        combPaths: new Map(),
      };
      checkModule(mod);
      return mod;
    }
  }
}

export interface BlackboxPort {
  dir: 'input' | 'output';
  type: DeclType;
}

/**
 * A module defined elsewhere (a vendor primitive, hard IP): only its ports are known. `verilogParams` become
 * `#(.NAME(value))` on the instance. `combPaths` lists outputs that depend combinationally on inputs (default:
 * none), so loops through the black box are still found.
 */
export function defineBlackbox<P = void>(
  moduleName: string | ((p: P) => string),
  ports: Record<string, BlackboxPort> | ((p: P) => Record<string, BlackboxPort>),
  opts: {
    verilogParams?: (p: P) => Record<string, number | string | bigint>;
    combPaths?: Record<string, string[]>;
    doc?: string;
  } = {},
): ModuleDef<P> {
  const defLoc = callerLoc();
  const cache = new Map<string, HwModule>();
  const nameFor = (p: P) => (typeof moduleName === 'string' ? moduleName : moduleName(p));
  return {
    base: typeof moduleName === 'string' ? moduleName : 'blackbox',
    nameFor,
    elaborate(params: P): HwModule {
      const key = stableJson(params ?? null);
      const hit = cache.get(key);
      if (hit) return hit;
      const name = nameFor(params);
      const m = new ModuleBuilder(name, defLoc);
      builderStack.push(m);
      try {
        const ps = typeof ports === 'function' ? ports(params) : ports;
        for (const [pn, p] of Object.entries(ps)) {
          const s = p.dir === 'input' ? m.input(pn, p.type) : m.output(pn, p.type);
          s.driven = true;
        }
      } finally {
        builderStack.pop();
        m.finish();
      }
      const combPaths = new Map<string, Set<string>>();
      for (const [o, ins] of Object.entries(opts.combPaths ?? {})) combPaths.set(o, new Set(ins));
      const mod: HwModule = {
        name,
        doc: opts.doc,
        loc: defLoc,
        blackbox: true,
        verilogParams: opts.verilogParams?.(params) ?? {},
        ports: m.ports,
        signals: m.signals,
        stmts: [],
        instances: [],
        memories: [],
        domains: [],
        interfaces: [],
        localparams: [],
        io: m.io,
        combPaths,
      };
      cache.set(key, mod);
      return mod;
    },
  };
}
