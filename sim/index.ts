// Run-time API: load a generated top as a Verilated Node addon and drive its TLP streams.
//
// The clock, every valid/ready handshake, idle/backpressure randomness, tx collection and
// tx protocol checks run in C++ (sim/cpp/bench.h). TypeScript crosses into C++ once per
// batch: sends are queued here and handed over in one packed Uint32Array when run() starts;
// run() clocks until a stop condition; takeTx() fetches all finished TLPs in one buffer.
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AXI_SLAVE_FIELDS, AxiMemory, axiKnobs, type AxiHost, type AxiMemoryOptions } from './axi';
import { buildSim, type BuildResult } from './build';
import type { ParameterValue } from '../gen/hdl/ports_schema';
import { loadPorts, type LoadedPorts, type PortJson } from './ports';
import { DwordArena } from './raw';
import { defaultSeed } from './random';
import { SLOT, STATE_SLOTS } from './state';
import {
  HandshakeReceiver,
  HandshakeSender,
  SignalWatch,
  WATCH_KINDS,
  type HandshakeSpec,
  type SidebandHost,
  type Until,
  type WatchKind,
} from './sideband';
import { MAX_PACKED_TLP, packBatchTlp, packTlp, TLP_HEAD, unpackTlps, type RawTlp, type TlpBatch } from './tlp';

export type { RawTlp, TlpBatch } from './tlp';
export type { PortsJson, PortJson, InterfaceJson } from './ports';
export type { VerilatorWarning } from './verilator';
export { AxiMemory, type AxiMemoryOptions, type AxiStats } from './axi';
export {
  HandshakeItem,
  HandshakeReceiver,
  HandshakeSender,
  SidebandCounter,
  SignalWatch,
  type HandshakeSpec,
  type ReceivedItem,
  type Until,
  type WatchKind,
} from './sideband';

export interface SimOptions {
  /** Path to the top's `<top>.ports.json`. */
  ports: string;
  /** FST waveform: true = build/waves/<top>.fst, a string = that path. Default: env VFPGA_TRACE (1/true or a path), else off (tracing costs ~30x). */
  trace?: string | boolean;
  /**
   * Keep only a window of the waveform: FST segments of `traceWindow` cycles, named after the trace path
   * (`<dir>/<stem>.<first cycle>.fst`), of which the two newest stay on disk, so that any stop (a failure, the
   * end) leaves the last `traceWindow` to 2 x `traceWindow` cycles in two standalone files (sim.waveform() lists
   * them). Turns tracing on (at the default path) if `trace` does not say otherwise. Default: env
   * VFPGA_TRACE_WINDOW, else 0 (the whole run in one file).
   */
  traceWindow?: number;
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
  /**
   * Settings of the sparse AXI4 memory on each AXI4 master port, by interface name (sim/axi.ts; every port has one,
   * with AXI_KNOBS' defaults and its whole address space as capacity unless set here).
   */
  axi?: Record<string, AxiMemoryOptions>;
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
  /**
   * Stop once a condition holds (reason 'until'): a signal equals a value (checked at the start and after every
   * cycle), a signal's edge or change during this run, or a sideband count (a watch, a handshake) reaching a
   * value. Checked before untilTx, so an edge is never lost to a stop for a TLP in the same cycle.
   */
  until?: Until;
}

/** A public variable of the design (see Sim.publicSignals()). */
export interface PublicSignal {
  /** Its path below the top: "count", "u_fifo.mem". */
  name: string;
  width: number;
  /** A memory's index range [low, high]; absent for a register. */
  range?: [number, number];
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

/** One FST file of a run's waveform: the cycles [from, to) it holds (time 10 x cycle; clk rises at +5). */
export interface WaveformFile {
  path: string;
  from: number;
  to: number;
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
    untilKind: number,
    until: number,
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
  takeDeliveries(): void;
  lastError(): { cycle: number; message: string };
  replay(cycles: number): { seconds: number; cycles: number; tx: number; hash: bigint; error?: string };
  txHash(): bigint;
  close(): void;
  waveform(): WaveformFile[];
  pulse(port: number, value: Uint32Array, cycles: number): void;
  watch(port: number, kind: number): number;
  unwatch(counter: number): void;
  counter(index: number): number;
  openHandshake(toDevice: boolean, valid: number, ready: number, fields: number[]): [number, number];
  closeHandshake(channel: number): void;
  offer(channel: number, item: Uint32Array): void;
  doneAt(channel: number, k: number): number;
  received(channel: number): Uint32Array;
  vars(): { name: string; width: number; array: boolean; lo: number; hi: number }[];
  varRead(index: number, element: number, out: Uint32Array): void;
  varWrite(index: number, element: number, value: Uint32Array): void;
  axiConfigure(memory: number, knobs: Float64Array): void;
  axiRead(memory: number, addr: number, out: Uint8Array): void;
  axiWrite(memory: number, addr: number, bytes: Uint8Array): void;
  axiStats(memory: number, out: Float64Array): void;
}
interface AddonModule {
  Harness: new (
    seed: number,
    trace: string,
    state: Float64Array,
    record: boolean,
    deliveries: Float64Array,
    traceWindow: number,
  ) => Harness;
  top: string;
  portCount: number;
  /** The state slots this build's C++ uses, by name (generated from sim/state.ts). */
  stateSlots: string[];
  /** AXI4 memories this build serves (one per AXI4 master port). */
  axiMemories: number;
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
const S_DELIVERED = SLOT.delivered;
const S_DELIVERIES_LEFT = SLOT.deliveriesLeft;
/** Delivery reports C++ hands over per run() without a crossing of their own (more wait for takeDeliveries()). */
const DELIVERY_BATCH = 1024;
const REASONS: StopReason[] = ['cycles', 'tx', 'until', 'limit', 'error' as StopReason, 'finish'];
// UntilKind in sim/cpp/bench.h.
const UNTIL_NONE = -1;
const UNTIL_EQUALS = 0;
const UNTIL_EDGE = { rise: 1, fall: 2, change: 3 } as const;
const UNTIL_COUNT = 4;
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
  /** Where the FST waveform goes, if tracing (with a window: the name its segments are named after). */
  readonly tracePath: string | undefined;
  /** The window's segment length in cycles (SimOptions.traceWindow); 0: the whole run in one file. */
  readonly traceWindow: number;
  /** How the addon was obtained (built: false on a cache hit). */
  readonly build: BuildResult;
  readonly portsInfo: LoadedPorts;
  /** send() and sendTracked() copy the TLP before they return (packed into the stream's staging buffer). */
  readonly copiesOnSend = true;

  private readonly h: Harness;
  // Off-heap (new ArrayBuffer) so the pointer C++ keeps stays valid.
  private readonly state = new Float64Array(new ArrayBuffer(8 * STATE_SLOTS.length));
  private readonly portMap = new Map<string, PortEntry>();
  private readonly sinkIndex = new Map<string, number>();
  private readonly sourceIndex = new Map<string, number>();
  /** Per sink stream: it has no data field (header-only TLPs). */
  private readonly headerOnly: boolean[];
  // Per sink stream: sends not yet handed to C++, packed as they are sent (sim/tlp.ts) into a reused off-V8-heap
  // buffer (a fresh small typed array would live on the V8 heap and cost a copy when C++ asks for its data), and
  // handed over as one batch at the next call. Packing at once keeps no RawTlp alive until then.
  private readonly staged: StagedSends[];
  // Per sink stream: TLPs sent so far (C++ numbers them the same way), and the sendTracked() callbacks by number.
  private readonly sent: number[];
  private readonly tracked: Map<number, (cycle: number) => void>[];
  // Where C++ puts delivery reports after run(): [stream, seq, cycle] triples (off-heap, like `state`).
  private readonly deliveries = new Float64Array(new ArrayBuffer(8 * 3 * DELIVERY_BATCH));
  private closed = false;
  // Reused, off-V8-heap buffer for port values crossing into C++.
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

    if (mod.axiMemories !== ports.axiMasters.length)
      throw new Error(
        `sim: addon ${build.addon} serves ${mod.axiMemories} AXI4 memories, ${ports.path} has ${ports.axiMasters.length}`,
      );
    const owned = new Set<string>([ports.clock]);
    for (const s of [...ports.sinks, ...ports.sources])
      for (const f of Object.values(s.fields)) if (f !== undefined) owned.add(f);
    for (const a of ports.axiMasters) for (const f of AXI_SLAVE_FIELDS) owned.add(a.fields[f]);
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
    this.staged = ports.sinks.map(() => new StagedSends());
    this.sent = ports.sinks.map(() => 0);
    this.tracked = ports.sinks.map(() => new Map());
    const maxWords = Math.max(4, ...[...this.portMap.values()].map((p) => p.words));
    this.scratch = new Uint32Array(new ArrayBuffer(4 * maxWords));

    const window = resolveTraceWindow(opts.traceWindow);
    // A window turns tracing on at the default path unless the option or VFPGA_TRACE says where (or false).
    const tracePath =
      resolveTrace(opts.trace, this.top) ??
      (window > 0 && opts.trace === undefined ? resolveTrace(true, this.top) : undefined);
    this.tracePath = tracePath && claimTracePath(tracePath, typeof opts.trace === 'string');
    this.traceWindow = this.tracePath ? window : 0;
    if (this.tracePath) {
      mkdirSync(dirname(this.tracePath), { recursive: true });
      console.error(
        this.traceWindow
          ? `sim: writing a waveform window of ${this.top} (the last ${this.traceWindow} to ${2 * this.traceWindow} cycles) to ${segmentPattern(this.tracePath)}`
          : `sim: writing waveform of ${this.top} to ${this.tracePath}`,
      );
    }
    // A Sim that fails to start releases its waveform path (claimTracePath), or no later Sim could name it.
    try {
      this.h = new mod.Harness(
        this.seed,
        this.tracePath ?? '',
        this.state,
        opts.record ?? true,
        this.deliveries,
        this.traceWindow,
      );
      for (const name of Object.keys(opts.axi ?? {}))
        if (!ports.axiMasters.some((a) => a.name === name))
          throw new Error(
            `sim: ${this.top} has no AXI4 master port ${name}` +
              (ports.axiMasters.length ? ` (its AXI4 ports: ${ports.axiMasters.map((a) => a.name).join(', ')})` : ''),
          );
      ports.axiMasters.forEach((a, i) => {
        const knobs = axiKnobs(a, opts.axi?.[a.name]);
        this.h.axiConfigure(i, knobs);
        this.axiMemories.set(a.name, new AxiMemory(this.axiHost, i, a, knobs));
      });
      if (opts.rxIdle !== undefined) this.setRxIdle(opts.rxIdle);
      if (opts.txBackpressure !== undefined) this.setTxBackpressure(opts.txBackpressure);
      const rc = opts.resetCycles ?? 4;
      if (rc > 0) this.reset(rc);
    } catch (e) {
      if (this.tracePath) tracePathsInUse.delete(this.tracePath);
      throw e;
    }
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
    return this.state[S_RX_PENDING] + this.staged.reduce((n, p) => n + p.tlps, 0);
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
    this.queue(this.streamIndex(this.sinkIndex, stream, 'sink'), tlp, atCycle, false);
  }

  /**
   * send(), and once the design has taken the TLP's last beat (valid && ready && eop), `delivered(cycle)` with
   * the cycle of that beat, called from the run() in which it happened (before run() returns). The root complex
   * frees a device read's tag this way when its last completion reaches the device (Link.sendTracked). The
   * reports come back in batches with run()'s result: no crossing of their own. A TLP that a reset cuts short is
   * never reported.
   */
  sendTracked(tlp: RawTlp, atCycle: number | undefined, delivered: (cycle: number) => void, stream?: string): void {
    const i = this.streamIndex(this.sinkIndex, stream, 'sink');
    this.tracked[i].set(this.queue(i, tlp, atCycle, true), delivered);
  }

  /**
   * Queues the first b.count TLPs of a batch (sim/raw.ts TlpBatch: slices of one payload buffer) as send() queues
   * each (copied at once, injected at b.cycle[k], same order and checks); with `delivered`, the last one's delivery
   * is reported as sendTracked() reports it. For a completer answering a read with many completions: no RawTlp,
   * header array or payload view per TLP.
   */
  sendBatch(b: TlpBatch, delivered?: (cycle: number) => void, stream?: string): void {
    const i = this.streamIndex(this.sinkIndex, stream, 'sink');
    const last = b.count - 1;
    // Every TLP checked before any is queued.
    for (let k = 0; k <= last; k++) {
      const n = b.length[k];
      if (n > 0 && this.headerOnly[i])
        throw new Error(
          `sim: send: sink stream ${this.portsInfo.sinks[i].name} has no data field; a TLP with ${n} payload dwords cannot go on it`,
        );
      if (!(n >= 0 && b.offset[k] >= 0 && b.offset[k] + n <= b.data.length))
        throw new Error(`sim: sendBatch: TLP ${k}'s payload [${b.offset[k]}, +${n}) is outside the batch's data`);
      checkCount(b.cycle[k], 'atCycle');
    }
    const staged = this.staged[i];
    for (let k = 0; k <= last; k++) {
      const report = k === last && delivered !== undefined;
      staged.addBatchTlp(b, k, b.cycle[k], report);
      if (report) this.tracked[i].set(this.sent[i], delivered);
      this.sent[i]++;
    }
  }

  /** Queues a TLP for sink stream `i`; returns the TLP's number on it. */
  private queue(i: number, tlp: RawTlp, atCycle: number | undefined, report: boolean): number {
    if (tlp.hdr.length !== 4) throw new Error(`sim: send: hdr must have 4 dwords, has ${tlp.hdr.length}`);
    if (tlp.data.length > 0 && this.headerOnly[i])
      throw new Error(
        `sim: send: sink stream ${this.portsInfo.sinks[i].name} has no data field; a TLP with ${tlp.data.length} payload dwords cannot go on it`,
      );
    const at = atCycle ?? tlp.cycle ?? this.cycle;
    checkCount(at, 'atCycle');
    this.staged[i].add(tlp, at, report);
    return this.sent[i]++;
  }

  /** Calls the sendTracked() callbacks of the deliveries C++ reported after run(). */
  private deliver(): void {
    const d = this.deliveries;
    for (;;) {
      const n = this.state[S_DELIVERED];
      for (let k = 0; k < 3 * n; k += 3) {
        const tracked = this.tracked[d[k]];
        const f = tracked.get(d[k + 1]);
        if (f === undefined) continue;
        tracked.delete(d[k + 1]);
        f(d[k + 2]);
      }
      if (this.state[S_DELIVERIES_LEFT] === 0) return;
      this.h.takeDeliveries();
    }
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
    let untilKind = UNTIL_NONE;
    let until = -1;
    let untilValue: Uint32Array | null = null;
    if (opts.until) [untilKind, until, untilValue] = this.untilArgs(opts.until);
    const start = this.cycle;
    const room = this.sourceIndex.size > 0 ? this.inbox.free(MAX_PACKED_TLP) : null;
    const r = w
      ? this.h.run(cycles, maxCycles, untilTx, untilKind, until, untilValue, room, w.from, w.to)
      : this.h.run(cycles, maxCycles, untilTx, untilKind, until, untilValue, room);
    const words = this.state[S_TX_WORDS];
    if (words > 0) {
      const got = unpackTlps(this.inbox.alloc(words));
      this.moved = this.moved.length === 0 ? got : this.moved.concat(got);
    }
    if (this.state[S_DELIVERED] > 0) this.deliver();
    if (r === REASON_ERROR) {
      const e = this.h.lastError();
      // When tracing, say where the waveform of the cycles before the error is.
      const waves = this.tracePath ? `\n${this.waveformNote()}` : '';
      throw new SimError(`sim ${this.top}: cycle ${e.cycle}: ${e.message} (seed ${this.seed})${waves}`, e.cycle);
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
    return fromWords(w, 0, p.desc.width, p.desc.signed);
  }

  // ---- sideband helpers (sim/sideband.ts, sim/cpp/sideband.h)

  /**
   * Drives `value` (default 1) on a sideband input for `cycles` cycles (default 1) from the next cycle on, then
   * puts back the value it had. Clocks nothing itself: the pulse happens in whatever runs next (run(), or a root
   * complex's pump).
   */
  pulse(signal: string, opts: { value?: number | bigint; cycles?: number } = {}): void {
    const p = this.pokable(signal, 'pulse');
    const cycles = checkCount(opts.cycles ?? 1, 'pulse cycles');
    if (cycles < 1) throw new Error('sim: pulse cycles must be at least 1');
    this.flush();
    this.h.pulse(p.index, toWords(opts.value ?? 1, p.desc, this.scratch), cycles);
  }

  /**
   * Counts a signal's events (WatchKind, default 'rise') in C++ once per cycle, after the rising edge, from now
   * on: `watch.count` is exact however rarely it is read, and run({ until: watch.reaches(n) }) stops on the
   * cycle it gets there.
   */
  watch(signal: string, kind: WatchKind = 'rise'): SignalWatch {
    const p = this.port(signal);
    const k = WATCH_KINDS.indexOf(kind);
    if (k < 0) throw new Error(`sim: watch ${signal}: kind must be one of ${WATCH_KINDS.join(', ')}, got ${kind}`);
    this.flush();
    return new SignalWatch(this.side, this.h.watch(p.index, k), signal, kind);
  }

  /** Offers items to the design on a valid/ready handshake of sideband ports (valid and data are inputs). */
  handshakeSender(spec: HandshakeSpec): HandshakeSender {
    const s = this.handshake(spec, true);
    return new HandshakeSender(this.side, s.counter, s.channel, s.spec);
  }

  /** Takes items from the design on a valid/ready handshake of sideband ports (ready is an input, held high). */
  handshakeReceiver(spec: HandshakeSpec): HandshakeReceiver {
    const s = this.handshake(spec, false);
    return new HandshakeReceiver(this.side, s.counter, s.channel, s.spec);
  }

  private handshake(spec: HandshakeSpec, toDevice: boolean) {
    const data = spec.data ?? [];
    const what = `handshake on ${spec.valid}/${spec.ready}`;
    const bit = (name: string, role: string) => {
      const p = toDevice === (role === 'valid') ? this.pokable(name, what) : this.port(name);
      if (p.desc.width !== 1) throw new Error(`sim: ${what}: ${role} ${name} must be 1 bit wide (is ${p.desc.width})`);
      return p.index;
    };
    const valid = bit(spec.valid, 'valid');
    const ready = bit(spec.ready, 'ready');
    const fields = data.map((d) => (toDevice ? this.pokable(d, what) : this.port(d)).index);
    this.flush();
    const [channel, counter] = this.h.openHandshake(toDevice, valid, ready, fields);
    return { channel, counter, spec: { valid: spec.valid, ready: spec.ready, data: [...data] } };
  }

  /** The object the sideband classes reach C++ through. */
  private readonly side: SidebandHost = {
    counter: (i) => this.h.counter(i),
    unwatch: (i) => this.h.unwatch(i),
    offer: (ch, item) => {
      this.flush();
      this.h.offer(ch, item);
    },
    doneAt: (ch, k) => this.h.doneAt(ch, k),
    received: (ch) => this.h.received(ch),
    closeHandshake: (ch) => {
      this.flush();
      this.h.closeHandshake(ch);
    },
    encode: (name, v) =>
      Uint32Array.from(toWords(v, this.port(name).desc, this.scratch).subarray(0, this.port(name).words)),
    decode: (name, w, at) => fromWords(w, at, this.port(name).desc.width, this.port(name).desc.signed),
    words: (name) => this.port(name).words,
  };

  /** The run() arguments for an `until` condition. */
  private untilArgs(u: Until): [number, number, Uint32Array | null] {
    if ('counter' in u) {
      if (!u.counter.belongsTo(this.side))
        throw new Error(`sim: ${this.top}: until: the counter belongs to another simulation`);
      const n = checkCount(u.reaches, 'until reaches');
      return [UNTIL_COUNT, u.counter.index, new Uint32Array([n % 0x1_0000_0000, Math.floor(n / 0x1_0000_0000)])];
    }
    const p = this.port(u.signal);
    if ('equals' in u) return [UNTIL_EQUALS, p.index, toWords(u.equals, p.desc, this.scratch)];
    const kind = UNTIL_EDGE[u.edge];
    if (kind === undefined) throw new Error(`sim: until: edge must be rise, fall or change, got ${u.edge}`);
    return [kind, p.index, null];
  }

  // ---- AXI4 memories (sim/axi.ts, sim/cpp/axi.h)

  /** The memory behind an AXI4 master port (default: the first); read, write, configure it, read its statistics. */
  axi(port?: string): AxiMemory {
    const ports = this.portsInfo.axiMasters;
    if (ports.length === 0) throw new Error(`sim: ${this.top} has no AXI4 master port`);
    const m = this.axiMemories.get(port ?? ports[0].name);
    if (!m)
      throw new Error(
        `sim: ${this.top} has no AXI4 master port ${port} (its AXI4 ports: ${ports.map((a) => a.name).join(', ')})`,
      );
    return m;
  }

  private readonly axiMemories = new Map<string, AxiMemory>();
  /** The object the AXI4 memories reach C++ through (flushing staged sends first, as every recorded call does). */
  private readonly axiHost: AxiHost = {
    configure: (i, k) => {
      this.flush();
      this.h.axiConfigure(i, k);
    },
    read: (i, a, out) => this.h.axiRead(i, a, out),
    write: (i, a, bytes) => {
      this.flush();
      this.h.axiWrite(i, a, bytes);
    },
    stats: (i, out) => this.h.axiStats(i, out),
  };

  // ---- public signals (sim/cpp/signals.h)

  /**
   * The design's public variables (made public by --public-flat-rw in its Verilator flags, or a
   * /*verilator public_flat_rw*\/ comment): registers and memories by their path below the top.
   */
  publicSignals(): PublicSignal[] {
    return this.publicTable().list.map(({ name, width, array, lo, hi }) =>
      array ? { name, width, range: [lo, hi] as [number, number] } : { name, width },
    );
  }

  /** Reads a public register, or one element of a public memory. */
  readSignal(path: string, index?: number): bigint {
    const v = this.publicVar(path, index);
    const w = new Uint32Array(Math.ceil(v.width / 32));
    this.flush();
    this.h.varRead(v.index, index ?? 0, w);
    return fromWords(w, 0, v.width, false);
  }

  /**
   * Writes a public register, or one element of a public memory, between cycles (recorded: a replay does it
   * too). Combinational logic follows at once (peek sees it); a register keeps the value until the design
   * changes it.
   */
  writeSignal(path: string, value: number | bigint, index?: number): void {
    const v = this.publicVar(path, index);
    this.flush();
    this.h.varWrite(
      v.index,
      index ?? 0,
      toWords(value, { name: path, width: v.width, signed: false }, this.scratchFor(v.width)),
    );
  }

  /** Elements of a public memory, from `start` (default its lowest index), `count` of them (default: to the end). */
  readMemory(path: string, start?: number, count?: number): bigint[] {
    const v = this.publicVar(path, start, true);
    const from = start ?? v.lo;
    const n = count ?? v.hi - from + 1;
    if (n > 0) this.publicVar(path, from + n - 1, true);
    return Array.from({ length: n }, (_, i) => this.readSignal(path, from + i));
  }

  /** Writes consecutive elements of a public memory from `start` (default its lowest index). */
  writeMemory(path: string, values: readonly (number | bigint)[], start?: number): void {
    const v = this.publicVar(path, start, true);
    const from = start ?? v.lo;
    if (values.length > 0) this.publicVar(path, from + values.length - 1, true);
    values.forEach((x, i) => this.writeSignal(path, x, from + i));
  }

  private publicCache?: { list: ReturnType<Harness['vars']>; byName: Map<string, number> };
  private publicTable() {
    if (!this.publicCache) {
      const list = this.h.vars();
      this.publicCache = { list, byName: new Map(list.map((v, i) => [v.name, i])) };
    }
    return this.publicCache;
  }
  private publicVar(path: string, index: number | undefined, memory = false) {
    const t = this.publicTable();
    const i = t.byName.get(path);
    if (i === undefined) {
      const names = t.list.map((v) => v.name);
      const last = path.split('.').pop()!;
      const near = names.filter(
        (n) => n.split('.').pop() === last || editDistance(n, path) <= Math.max(1, path.length >> 2),
      );
      throw new Error(
        `sim: ${this.top} has no public signal '${path}'` +
          (near.length ? ` (did you mean ${near.map((n) => `'${n}'`).join(', ')}?)` : '') +
          (names.length
            ? `; its public signals: ${names.slice(0, 30).join(', ')}${names.length > 30 ? ', ...' : ''}`
            : '; it has none') +
          `. Make signals public with --public-flat-rw in the Verilator flags, or a /*verilator public_flat_rw*/ comment`,
      );
    }
    const v = { ...t.list[i], index: i };
    if (memory && !v.array) throw new Error(`sim: ${this.top}: ${path} is a register, not a memory`);
    if (v.array) {
      if (index !== undefined && (!Number.isSafeInteger(index) || index < v.lo || index > v.hi))
        throw new Error(`sim: ${this.top}: ${path}[${index}]: the index must lie in [${v.lo}:${v.hi}]`);
      if (index === undefined && !memory)
        throw new Error(`sim: ${this.top}: ${path} is a memory [${v.lo}:${v.hi}]: give an index`);
    } else if (index !== undefined) throw new Error(`sim: ${this.top}: ${path} is a register, not a memory: no index`);
    return v;
  }
  private scratchFor(width: number): Uint32Array {
    const n = Math.ceil(width / 32);
    return n <= this.scratch.length ? this.scratch : new Uint32Array(n);
  }

  private pokable(signal: string, what: string): PortEntry {
    const p = this.port(signal);
    if (!p.pokable)
      throw new Error(
        `sim: ${what}: ${signal} is ${p.desc.direction === 'output' ? 'an output' : 'driven by the harness'}; only sideband inputs can be driven`,
      );
    return p;
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

  /**
   * The waveform's files on disk, oldest first, and the cycles each holds: the whole run's one file, or the
   * window's segments (the last one still being written until close(), which completes it). Empty if not tracing.
   */
  waveform(): WaveformFile[] {
    if (this.closed) return this.finalWaveform;
    return this.tracePath ? this.h.waveform() : [];
  }

  /**
   * Where the waveform is, for a failure's message: the files and the cycles they hold ("" if not tracing). A run
   * that fails should close() the Sim (a test's afterEach, a finally) so that the file being written is complete.
   */
  waveformNote(): string {
    return describeWaveform(this.waveform(), this.traceWindow);
  }

  /** Ends the simulation: runs final blocks and flushes/closes the waveform. */
  close(): void {
    if (this.closed) return;
    if (this.tracePath) this.finalWaveform = this.h.waveform();
    this.closed = true;
    this.h.close();
    if (this.tracePath) tracePathsInUse.delete(this.tracePath);
  }
  private finalWaveform: WaveformFile[] = [];

  private flush(): void {
    for (let i = 0; i < this.staged.length; i++) {
      const p = this.staged[i];
      if (p.tlps === 0) continue;
      this.h.enqueue(i, p.buf, p.words);
      p.words = 0;
      p.tlps = 0;
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

/** One sink stream's sends, packed, not yet handed to C++. */
class StagedSends {
  buf = new Uint32Array(new ArrayBuffer(1 << 16));
  words = 0;
  tlps = 0;
  add(tlp: RawTlp, cycle: number, report: boolean): void {
    this.room(TLP_HEAD + tlp.data.length);
    this.words += packTlp(tlp, cycle, this.buf, this.words, report);
    this.tlps++;
  }
  addBatchTlp(b: TlpBatch, k: number, cycle: number, report: boolean): void {
    this.room(TLP_HEAD + b.length[k]);
    this.words += packBatchTlp(b, k, cycle, this.buf, this.words, report);
    this.tlps++;
  }
  private room(words: number): void {
    const need = this.words + words;
    if (need > this.buf.length) {
      const bigger = new Uint32Array(new ArrayBuffer(4 * Math.max(need, 2 * this.buf.length)));
      bigger.set(this.buf.subarray(0, this.words));
      this.buf = bigger;
    }
  }
}

function resolveTraceWindow(opt: number | undefined): number {
  const env = process.env.VFPGA_TRACE_WINDOW;
  const v = opt ?? (env === undefined || env === '' ? 0 : Number(env));
  if (!Number.isSafeInteger(v) || v < 0)
    throw new Error(
      `sim: ${opt === undefined ? 'VFPGA_TRACE_WINDOW' : 'traceWindow'} must be a non-negative integer (cycles), got ${opt ?? env}`,
    );
  return v;
}

/** How the window's segments of a trace path are named (sim/cpp/trace.h names them). */
export function segmentPattern(tracePath: string): string {
  // C++ takes std::filesystem's stem: the name without its last extension.
  return `${join(dirname(tracePath), basename(tracePath).replace(/(?<=.)\.[^.]*$/, ''))}.<first cycle>.fst`;
}

/**
 * A waveform's files and the cycles they hold, in a line for a failure's message: "waveform (FST) of the window of
 * the last 6000 cycles (segments of 4000): cycles 4000-9999 in build/waves/x.4000.fst (4000-7999),
 * build/waves/x.8000.fst (8000-9999)", or "waveform (FST) of the whole run: ...". "" for none.
 */
export function describeWaveform(files: readonly WaveformFile[], window = 0): string {
  const held = files.filter((f) => f.to > f.from);
  if (held.length === 0)
    return files.length ? `waveform (FST): ${files.map((f) => f.path).join(', ')} (no cycle yet)` : '';
  const range = (f: { from: number; to: number }) => `${f.from}-${f.to - 1}`;
  const all = { from: held[0].from, to: held[held.length - 1].to };
  const what = window ? `the window of the last ${all.to - all.from} cycles (segments of ${window})` : 'the whole run';
  return `waveform (FST) of ${what}: cycles ${range(all)} in ${held.map((f) => `${f.path} (${range(f)})`).join(', ')}`;
}

/** Waveform paths written by this process's open Sims: a second Sim must not write over the first's file. */
const tracePathsInUse = new Set<string>();

/**
 * Reserves a waveform path for a Sim until it closes. A path given in the options is the caller's choice: a second
 * open Sim asking for it is an error. A default or VFPGA_TRACE path (every Sim of a test run gets the same one) is
 * made unique instead: x.fst, then x-2.fst, x-3.fst.
 */
function claimTracePath(path: string, explicit: boolean): string {
  let p = path;
  if (tracePathsInUse.has(p)) {
    if (explicit) throw new Error(`sim: trace path ${p} is already being written by another open Sim of this process`);
    const stem = path.replace(/(?<=.)\.[^./]*$/, '');
    const ext = path.slice(stem.length);
    for (let k = 2; tracePathsInUse.has(p); k++) p = `${stem}-${k}${ext}`;
  }
  tracePathsInUse.add(p);
  return p;
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

/** Levenshtein distance (for "did you mean" in errors about names). */
function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++)
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length];
}

/** A port's value from little-endian 32-bit words at `at` (sign-extended when `signed`). */
function fromWords(w: Uint32Array, at: number, width: number, signed: boolean): bigint {
  let v = 0n;
  for (let i = Math.ceil(width / 32) - 1; i >= 0; i--) v = (v << 32n) | BigInt(w[at + i]);
  if (signed && (v >> BigInt(width - 1)) & 1n) v -= 1n << BigInt(width);
  return v;
}

/** A value as little-endian 32-bit words of the port's width (two's complement if negative). */
function toWords(
  value: number | bigint,
  port: Pick<PortJson, 'name' | 'width' | 'signed'>,
  out: Uint32Array,
): Uint32Array {
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
