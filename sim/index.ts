// Run-time API: load a generated top as a Verilated Node addon and drive its TLP streams.
//
// The clock, every valid/ready handshake, idle/backpressure randomness, tx collection and
// tx protocol checks run in C++ (sim/cpp/bench.h). TypeScript crosses into C++ once per
// batch: sends are queued here and handed over in one packed Uint32Array when run() starts;
// run() clocks until a stop condition; takeTx() fetches all finished TLPs in one buffer.
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSim, type BuildResult } from './build';
import type { ParameterValue } from '../gen/hdl/ports_schema';
import { loadPorts, type LoadedPorts, type PortJson } from './ports';
import { DwordArena } from './raw';
import { defaultSeed } from './random';
import { SLOT, STATE_SLOTS } from './state';
import { MAX_PACKED_TLP, packedLength, packTlps, unpackTlps, type RawTlp } from './tlp';

export type { RawTlp } from './tlp';
export type { PortsJson, PortJson, InterfaceJson } from './ports';
export type { VerilatorWarning } from './verilator';

export interface SimOptions {
  /** Path to the top's `<top>.ports.json`. */
  ports: string;
  /** FST waveform: true = build/waves/<top>.fst, a string = that path. Default: env VFPGA_TRACE (1/true or a path), else off (tracing costs ~30x). */
  trace?: string | boolean;
  /** PRNG seed for idle cycles and backpressure. Default: VFPGA_SEED, else DEFAULT_SEED (read it back from sim.seed). */
  seed?: number;
  /** Probability (0..1) of an idle cycle before each rx beat. */
  rxIdle?: number;
  /** Probability (0..1) that tx_ready is low on a cycle. */
  txBackpressure?: number;
  /** Cycles of reset applied by load(); 0 leaves the model un-reset. Default 4. */
  resetCycles?: number;
  /** Record the stimulus so replay()/runFree() can re-run it in pure C++. Default true. */
  record?: boolean;
  /** Extra Verilator arguments, after the ports JSON's `verilator.flags` (part of the build cache key). */
  verilatorFlags?: string[];
  /** Top-level parameters (-G<name>=<value>), over the ports JSON's `verilator.parameters`. */
  parameters?: Record<string, ParameterValue>;
  /** Verilator warnings to accept, besides the ports JSON's `verilator.waive`: CODE, CODE:file or CODE:file:line. */
  waive?: string[];
  /** Do not print build progress. */
  quiet?: boolean;
}

export interface RunOptions {
  /** Run exactly this many cycles (unless another condition stops it first: reason 'cycles'). */
  cycles?: number;
  /** Give up after this many cycles when waiting for a condition (reason 'limit'). Default 1,000,000. */
  maxCycles?: number;
  /** Stop once at least this many finished tx TLPs are waiting to be taken (reason 'tx'). */
  untilTx?: number;
  /**
   * With untilTx: memory writes (MWr) count only if their address lies in [from, to); other
   * memory writes pile up without stopping the run. For a waiter that no plain DMA write can
   * wake: the root complex waiting for an MSI-X message passes its MSI window.
   */
  writesCountOnlyIn?: { from: bigint; to: bigint };
  /** Stop once a signal equals a value, checked at the start and after every cycle (reason 'until'). */
  until?: { signal: string; equals: number | bigint };
}

/** 'finish': the design executed $finish. */
export type StopReason = 'cycles' | 'tx' | 'until' | 'limit' | 'finish';
export interface RunResult {
  reason: StopReason;
  cycles: number;
}

export interface ReplayResult {
  /** Wall time of the pure C++ loop (model construction excluded). */
  seconds: number;
  cycles: number;
  cyclesPerSecond: number;
  /** tx TLPs the replay collected, and a hash over them (cycle stamps included). */
  tx: number;
  hash: bigint;
  /** When replaying up to the live cycle: whether the replay produced exactly the live tx traffic. */
  matchesLive?: boolean;
}

export interface SimStats {
  cycles: number;
  /** Wall seconds spent inside C++ run()/reset() loops (model eval + harness), summed. */
  cppSeconds: number;
  runCalls: number;
  /** tx TLPs completed since load (taken or not). */
  txTotal: number;
}

/** A protocol violation seen on a source stream, or a fatal error in the model. */
export class SimError extends Error {
  constructor(
    message: string,
    readonly cycle: number,
  ) {
    super(message);
    this.name = 'SimError';
  }
}

// The native class generated in sim/cpp/addon.h.
interface Harness {
  enqueue(stream: number, packed: Uint32Array, words: number): void;
  run(
    cycles: number,
    maxCycles: number,
    untilTx: number,
    untilPort: number,
    untilValue: Uint32Array | null,
    room: Uint32Array | null,
    writeLo?: bigint,
    writeHi?: bigint,
  ): number;
  reset(cycles: number): void;
  setRxIdle(stream: number, p: number): void;
  setTxBackpressure(stream: number, p: number): void;
  poke(port: number, value: Uint32Array): void;
  peek(port: number, out: Uint32Array): void;
  takeTx(stream: number, room: Uint32Array): number;
  lastError(): { cycle: number; message: string };
  replay(cycles: number): { seconds: number; cycles: number; tx: number; hash: bigint; error?: string };
  txHash(): bigint;
  close(): void;
}
interface AddonModule {
  Harness: new (seed: number, trace: string, state: Float64Array, record: boolean) => Harness;
  top: string;
  portCount: number;
  /** The state slots this build's C++ uses, by name (generated from sim/state.ts). */
  stateSlots: string[];
}

// Slots of the state array C++ writes after each call (one table, sim/state.ts, generates the C++ side too).
const S_CYCLE = SLOT.cycle;
const S_TX_PENDING = SLOT.txPending;
const S_RX_PENDING = SLOT.rxPending;
const S_CPP_SECONDS = SLOT.cppSeconds;
const S_RUN_CALLS = SLOT.runCalls;
const S_TX_TOTAL = SLOT.txTotal;
const S_TX_LEFT = SLOT.txLeft;
const S_TX_WORDS = SLOT.txWords;
const REASONS: StopReason[] = ['cycles', 'tx', 'until', 'limit', 'error' as StopReason, 'finish'];
const REASON_ERROR = 4;
const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);

interface PortEntry {
  index: number;
  desc: PortJson;
  words: number;
  pokable: boolean;
}

export class Sim {
  readonly top: string;
  readonly seed: number;
  /** Where the FST waveform goes, if tracing. */
  readonly tracePath: string | undefined;
  /** How the addon was obtained (built: false on a cache hit). */
  readonly build: BuildResult;
  readonly portsInfo: LoadedPorts;

  private readonly h: Harness;
  // Off-heap (new ArrayBuffer) so the pointer C++ keeps stays valid.
  private readonly state = new Float64Array(new ArrayBuffer(8 * STATE_SLOTS.length));
  private readonly portMap = new Map<string, PortEntry>();
  private readonly sinkIndex = new Map<string, number>();
  private readonly sourceIndex = new Map<string, number>();
  /** Per sink stream: it has no data field (header-only TLPs). */
  private readonly headerOnly: boolean[];
  // Sends not yet handed to C++: flushed as one packed batch per stream at the next call.
  private pending: { tlps: RawTlp[]; cycles: number[] }[];
  private closed = false;
  // Reused, off-V8-heap buffers for data crossing into C++ (see packTlps for why).
  private stage = new Uint32Array(new ArrayBuffer(1 << 16));
  private readonly scratch: Uint32Array;
  // Where C++ copies finished tx TLPs (run() and takeTx()): the views handed out point into it.
  private readonly inbox = new DwordArena();
  // Finished TLPs of the first source stream that run() already moved out of C++ (it does so on
  // return, which saves the pump a takeTx() crossing per step), oldest first, not yet taken.
  private moved: RawTlp[] = [];

  private constructor(opts: SimOptions, ports: LoadedPorts, build: BuildResult) {
    this.portsInfo = ports;
    this.build = build;
    this.top = ports.desc.top;
    this.seed = opts.seed ?? defaultSeed();
    if (!Number.isSafeInteger(this.seed) || this.seed < 0)
      throw new Error(`sim: seed must be a non-negative integer, got ${this.seed}`);
    const mod = require(build.addon) as AddonModule;
    if (mod.top !== this.top || mod.portCount !== ports.desc.ports.length)
      throw new Error(`sim: addon ${build.addon} does not match ${ports.path}`);
    if (mod.stateSlots.join() !== STATE_SLOTS.join())
      throw new Error(`sim: addon ${build.addon} has state slots [${mod.stateSlots}], sim/state.ts [${STATE_SLOTS}]`);

    const owned = new Set<string>([ports.clock]);
    for (const s of [...ports.sinks, ...ports.sources])
      for (const f of Object.values(s.fields)) if (f !== undefined) owned.add(f);
    ports.desc.ports.forEach((desc, index) => {
      this.portMap.set(desc.name, {
        index,
        desc,
        words: Math.ceil(desc.width / 32),
        pokable: desc.direction === 'input' && !owned.has(desc.name),
      });
    });
    ports.sinks.forEach((s, i) => this.sinkIndex.set(s.name, i));
    this.headerOnly = ports.sinks.map((s) => s.fields.data === undefined);
    ports.sources.forEach((s, i) => this.sourceIndex.set(s.name, i));
    this.pending = ports.sinks.map(() => ({ tlps: [], cycles: [] }));
    const maxWords = Math.max(4, ...[...this.portMap.values()].map((p) => p.words));
    this.scratch = new Uint32Array(new ArrayBuffer(4 * maxWords));

    this.tracePath = resolveTrace(opts.trace, this.top);
    if (this.tracePath) {
      mkdirSync(dirname(this.tracePath), { recursive: true });
      console.error(`sim: writing waveform of ${this.top} to ${this.tracePath}`);
    }
    this.h = new mod.Harness(this.seed, this.tracePath ?? '', this.state, opts.record ?? true);
    if (opts.rxIdle !== undefined) this.setRxIdle(opts.rxIdle);
    if (opts.txBackpressure !== undefined) this.setTxBackpressure(opts.txBackpressure);
    const rc = opts.resetCycles ?? 4;
    if (rc > 0) this.reset(rc);
  }

  /** Builds the top if needed (cached; synchronous) and loads a fresh model instance. */
  static load(opts: SimOptions): Sim {
    const ports = loadPorts(opts.ports);
    const build = buildSim(ports, {
      verilatorFlags: opts.verilatorFlags,
      parameters: opts.parameters,
      waive: opts.waive,
      quiet: opts.quiet,
    });
    return new Sim(opts, ports, build);
  }

  /** Cycles clocked since load (reset cycles included). */
  get cycle(): number {
    return this.state[S_CYCLE];
  }
  /** Finished tx TLPs waiting for takeTx(). */
  get txPending(): number {
    return this.state[S_TX_PENDING] + this.moved.length;
  }
  /** rx TLPs queued (in C++ or not yet flushed) that have not fully transferred. */
  get rxPending(): number {
    return this.state[S_RX_PENDING] + this.pending.reduce((n, p) => n + p.tlps.length, 0);
  }

  /** Holds reset for `cycles` cycles with the streams idle. A partly sent rx TLP and a partly received tx TLP are dropped; queued rx TLPs not yet started stay queued. */
  reset(cycles = 4): void {
    this.flush();
    this.h.reset(checkCount(cycles, 'reset cycles'));
  }

  /**
   * Queues a TLP for a sink stream (default: the first). TLPs are injected in order of their
   * injection cycle (atCycle, else tlp.cycle, else now), FIFO among equals, never earlier.
   */
  send(tlp: RawTlp, atCycle?: number, stream?: string): void {
    const i = this.streamIndex(this.sinkIndex, stream, 'sink');
    if (tlp.hdr.length !== 4) throw new Error(`sim: send: hdr must have 4 dwords, has ${tlp.hdr.length}`);
    if (tlp.data.length > 0 && this.headerOnly[i])
      throw new Error(
        `sim: send: sink stream ${this.portsInfo.sinks[i].name} has no data field; a TLP with ${tlp.data.length} payload dwords cannot go on it`,
      );
    const at = atCycle ?? tlp.cycle ?? this.cycle;
    checkCount(at, 'atCycle');
    this.pending[i].tlps.push(tlp);
    this.pending[i].cycles.push(at);
  }

  run(opts: RunOptions): RunResult {
    this.flush();
    const cycles = opts.cycles !== undefined ? checkCount(opts.cycles, 'cycles') : 0;
    const hasCond = opts.untilTx !== undefined || opts.until !== undefined;
    if (opts.cycles === undefined && !hasCond) throw new Error('sim: run() needs cycles, untilTx or until');
    if (opts.cycles === 0) return { reason: 'cycles', cycles: 0 };
    const maxCycles =
      opts.maxCycles !== undefined
        ? checkCount(opts.maxCycles, 'maxCycles')
        : opts.cycles !== undefined
          ? Number.MAX_SAFE_INTEGER
          : 1_000_000;
    // C++ counts the finished TLPs it still holds; those already moved here count too.
    const w = opts.writesCountOnlyIn;
    const untilTx =
      opts.untilTx !== undefined ? Math.max(0, checkCount(opts.untilTx, 'untilTx') - countingTlps(this.moved, w)) : -1;
    let untilPort = -1;
    let untilValue: Uint32Array | null = null;
    if (opts.until) {
      const p = this.port(opts.until.signal);
      untilPort = p.index;
      untilValue = toWords(opts.until.equals, p.desc, this.scratch);
    }
    const start = this.cycle;
    const room = this.sourceIndex.size > 0 ? this.inbox.free(MAX_PACKED_TLP) : null;
    const r = w
      ? this.h.run(cycles, maxCycles, untilTx, untilPort, untilValue, room, w.from, w.to)
      : this.h.run(cycles, maxCycles, untilTx, untilPort, untilValue, room);
    const words = this.state[S_TX_WORDS];
    if (words > 0) {
      const got = unpackTlps(this.inbox.alloc(words));
      this.moved = this.moved.length === 0 ? got : this.moved.concat(got);
    }
    if (r === REASON_ERROR) {
      const e = this.h.lastError();
      throw new SimError(`sim ${this.top}: cycle ${e.cycle}: ${e.message} (seed ${this.seed})`, e.cycle);
    }
    return { reason: REASONS[r], cycles: this.cycle - start };
  }

  /** Finished TLPs from a source stream (default: the first), each stamped with the cycle its sop beat transferred. */
  takeTx(stream?: string): RawTlp[] {
    const i = this.streamIndex(this.sourceIndex, stream, 'source');
    let out: RawTlp[] = [];
    if (i === 0 && this.moved.length > 0) {
      out = this.moved;
      this.moved = [];
    }
    // Nothing finished in C++ (the common case after run() moved stream 0's): no crossing.
    while (this.state[S_TX_PENDING] > 0) {
      // Room for at least the largest TLP, so every call moves at least one.
      const words = this.h.takeTx(i, this.inbox.free(MAX_PACKED_TLP));
      if (words > 0)
        out = out.length === 0 ? unpackTlps(this.inbox.alloc(words)) : out.concat(unpackTlps(this.inbox.alloc(words)));
      if (this.state[S_TX_LEFT] === 0) break;
    }
    return out;
  }

  /** Sets a sideband input (stream ports and the clock belong to the harness). Negative values are two's complement. */
  poke(signal: string, value: number | bigint): void {
    const p = this.port(signal);
    if (!p.pokable)
      throw new Error(
        `sim: ${signal} is ${p.desc.direction === 'output' ? 'an output' : 'driven by the harness'} and cannot be poked`,
      );
    this.flush();
    this.h.poke(p.index, toWords(value, p.desc, this.scratch));
  }

  /** Reads any port (signed ports come back sign-extended). Combinational outputs reflect pokes made since the last cycle. */
  peek(signal: string): bigint {
    const p = this.port(signal);
    const w = this.scratch;
    this.h.peek(p.index, w);
    let v = 0n;
    for (let i = p.words - 1; i >= 0; i--) v = (v << 32n) | BigInt(w[i]);
    if (p.desc.signed && (v >> BigInt(p.desc.width - 1)) & 1n) v -= 1n << BigInt(p.desc.width);
    return v;
  }

  /** Probability of an idle cycle before each rx beat, for one sink stream or all. */
  setRxIdle(p: number, stream?: string): void {
    checkProbability(p);
    this.flush();
    for (const i of this.streams(this.sinkIndex, stream, 'sink')) this.h.setRxIdle(i, p);
  }

  /** Probability that tx_ready is low on a cycle, for one source stream or all. */
  setTxBackpressure(p: number, stream?: string): void {
    checkProbability(p);
    this.flush();
    for (const i of this.streams(this.sourceIndex, stream, 'source')) this.h.setTxBackpressure(i, p);
  }

  /**
   * Clocks a fresh model instance through the stimulus recorded so far (sends with their
   * injection cycles, resets, pokes, idle/backpressure settings, same seed) in pure C++,
   * with no TypeScript involved, for `cycles` cycles (default: up to the live cycle).
   * The benchmark compares this with the TypeScript-driven run on the same traffic.
   */
  runFree(cycles = this.cycle): ReplayResult {
    this.flush();
    const r = this.h.replay(checkCount(cycles, 'cycles'));
    if (r.error) throw new Error(`sim ${this.top}: replay failed: ${r.error}`);
    const out: ReplayResult = {
      seconds: r.seconds,
      cycles: r.cycles,
      cyclesPerSecond: r.cycles / r.seconds,
      tx: r.tx,
      hash: r.hash,
    };
    if (cycles === this.cycle) out.matchesLive = r.hash === this.h.txHash() && r.tx === this.state[S_TX_TOTAL];
    return out;
  }
  /** Same as runFree(). */
  replay(cycles?: number): ReplayResult {
    return this.runFree(cycles);
  }

  stats(): SimStats {
    return {
      cycles: this.cycle,
      cppSeconds: this.state[S_CPP_SECONDS],
      runCalls: this.state[S_RUN_CALLS],
      txTotal: this.state[S_TX_TOTAL],
    };
  }

  /** Ends the simulation: runs final blocks and flushes/closes the waveform. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.h.close();
  }

  private flush(): void {
    for (let i = 0; i < this.pending.length; i++) {
      const p = this.pending[i];
      if (p.tlps.length === 0) continue;
      const n = packedLength(p.tlps);
      if (n > this.stage.length) this.stage = new Uint32Array(new ArrayBuffer(4 * Math.max(n, 2 * this.stage.length)));
      packTlps(p.tlps, p.cycles, this.stage);
      p.tlps.length = 0;
      p.cycles.length = 0;
      this.h.enqueue(i, this.stage, n);
    }
  }

  private port(name: string): PortEntry {
    const p = this.portMap.get(name);
    if (!p) throw new Error(`sim: ${this.top} has no port ${name}`);
    return p;
  }

  private streamIndex(map: Map<string, number>, name: string | undefined, role: string): number {
    if (name === undefined) {
      if (map.size === 0) throw new Error(`sim: ${this.top} has no ${role} TLP stream`);
      return 0;
    }
    const i = map.get(name);
    if (i === undefined) throw new Error(`sim: ${this.top} has no ${role} TLP stream ${name}`);
    return i;
  }

  private streams(map: Map<string, number>, name: string | undefined, role: string): number[] {
    return name === undefined ? [...map.values()] : [this.streamIndex(map, name, role)];
  }
}

function resolveTrace(opt: string | boolean | undefined, top: string): string | undefined {
  let v: string | boolean | undefined = opt;
  if (v === undefined) {
    const env = process.env.VFPGA_TRACE;
    if (env === undefined || env === '' || env === '0' || env.toLowerCase() === 'false') return undefined;
    v = env === '1' || env.toLowerCase() === 'true' ? true : env;
  }
  if (v === false) return undefined;
  return v === true ? resolve(REPO, 'build', 'waves', `${top}.fst`) : resolve(v);
}

/** How many of these TLPs count for untilTx under writesCountOnlyIn (all of them without it). */
function countingTlps(tlps: readonly RawTlp[], w: RunOptions['writesCountOnlyIn']): number {
  if (!w) return tlps.length;
  let n = 0;
  for (const t of tlps) {
    const fmtType = t.hdr[0] >>> 24;
    if (fmtType !== 0x40 && fmtType !== 0x60)
      n++; // not a memory write (Fmt 010/011, Type 00000)
    else {
      const addr =
        fmtType === 0x60 ? (BigInt(t.hdr[2]) << 32n) | BigInt((t.hdr[3] & ~3) >>> 0) : BigInt((t.hdr[2] & ~3) >>> 0);
      if (addr >= w.from && addr < w.to) n++;
    }
  }
  return n;
}

function checkCount(n: number, what: string): number {
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`sim: ${what} must be a non-negative integer, got ${n}`);
  return n;
}

function checkProbability(p: number): void {
  if (!(p >= 0 && p <= 1)) throw new Error(`sim: probability must be within 0..1, got ${p}`);
}

/** A value as little-endian 32-bit words of the port's width (two's complement if negative). */
function toWords(value: number | bigint, port: PortJson, out: Uint32Array): Uint32Array {
  if (typeof value === 'number' && !Number.isSafeInteger(value))
    throw new Error(`sim: ${port.name}: ${value} is not an integer`);
  let v = BigInt(value);
  const w = BigInt(port.width);
  if (v < 0n) {
    if (v < -(1n << (w - 1n)) && port.signed)
      throw new Error(`sim: ${port.name}: ${value} does not fit ${port.width} signed bits`);
    v += 1n << w;
  }
  if (v < 0n || v >> w !== 0n) throw new Error(`sim: ${port.name}: ${value} does not fit ${port.width} bits`);
  for (let i = 0; i < Math.ceil(port.width / 32); i++) {
    out[i] = Number(v & 0xffff_ffffn);
    v >>= 32n;
  }
  return out;
}
