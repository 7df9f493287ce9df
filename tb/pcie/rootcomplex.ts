/**
 * Root complex bus functional model: host memory, the RC's requests (config, MMIO), its
 * answers to the device's requests (DMA, MSI-X), enumeration, and the checks on everything
 * the device sends. See docs/rootcomplex.md.
 *
 * The event loop is an explicit pump: step() runs the link for one window, takes every TLP the
 * device sent, processes them in cycle order and schedules the answers at their future cycles
 * (link.send(raw, atCycle)). Everything else is built on it:
 *  - blocking helpers (cfgRead, memRead, wait, waitFor) loop step() until a condition holds,
 *    each bounded by a cycle limit;
 *  - start* methods return a Pending handle without pumping, for an external event source
 *    (e.g. a bridge forwarding a real kernel's MMIO) that drives step() itself and listens to
 *    interrupts with onInterrupt().
 */
import { Completer, type InterruptEvent } from './completer';
import type { RcCore } from './core';
import { DeviceShadow } from './devstate';
import {
  enumerate,
  setDeviceControl,
  type BarInfo,
  type DeviceControlSettings,
  type DeviceInfo,
  type EnumerateOptions,
} from './enumerate';
import { PcieViolation, RcTimeoutError, sketchRaw, type TlpContext, type ViolationCode } from './errors';
import { HostMemory, leBytes, leToBigint, toAddr, type Addr } from './hostmem';
import { FaultInjector, type FaultRates, type ReadHook } from './inject';
import { intxMessage, IntxWires, type IntxPin } from './intx';
import { sendBatchSingly, type Link, type LinkRunOptions } from './link';
import { MsixController } from './msix';
import { resolveOptions, type ResolvedOptions, type RootComplexOptions } from './options';
import { Rng, defaultSeed } from '../../sim/random';
import { batchTlp, formatRawTlp, type RawTlp, type TlpBatch } from '../../sim/raw';
import { Pending, Requester, type Completion } from './requester';
import {
  CplStatus,
  TlpError,
  decodeTlp,
  describeTlp,
  encodeTlp,
  type MsgDTlp,
  type MsgTlp,
  type Tlp,
  type TlpType,
} from './tlp';

export { Pending, type Completion } from './requester';
export type { InterruptEvent } from './completer';

/**
 * Whether TLPs are already in cycle order (a stable sort would leave them as they are): the link hands them over in
 * the order they left the device, so the sort in step() is mostly for the batches of several runs, and checking
 * first spares a sort with a comparator call per pair on every step.
 */
function inCycleOrder(tx: readonly RawTlp[]): boolean {
  for (let i = 1; i < tx.length; i++) if ((tx[i - 1].cycle ?? 0) > (tx[i].cycle ?? 0)) return false;
  return true;
}

/** A message TLP the device sent (ERR_*, PM_PME, vendor-defined, ...). */
export interface MessageEvent {
  tlp: MsgTlp | MsgDTlp;
  cycle: number;
}

export interface TlpCounter {
  tlps: number;
  /** Payload bytes. */
  bytes: number;
}

export interface RcStats {
  cycle: number;
  /** TLPs the device sent, by type. */
  fromDevice: Partial<Record<TlpType, TlpCounter>>;
  /** TLPs the RC sent to the device, by type. */
  toDevice: Partial<Record<TlpType, TlpCounter>>;
  /** Pump windows and link.run() calls. */
  steps: number;
  runCalls: number;
  interrupts: number;
  violations: number;
  requester: Requester['stats'];
  completer: Completer['stats'];
  faults: FaultInjector['counts'];
}

export interface StepOptions {
  /** Run at most this many cycles in this step (default: options.window). */
  maxCycles?: number;
  /** Also stop when a simulator signal equals a value. */
  until?: LinkRunOptions['until'];
  /**
   * Do not stop for each plain memory write from the device (one outside the MSI window): let
   * them pile up and process them, in cycle order, with whatever ends the step. Only for
   * callers that look at nothing such a write changes before the step returns (waits for an
   * interrupt, a request, the traffic to settle); writes to host memory still land before
   * anything that came after them, so completions and interrupt listeners see memory exactly
   * as without it. Saves a link crossing per DMA write.
   */
  batchWrites?: boolean;
}

export interface StepResult {
  /** Device TLPs processed. */
  tlps: number;
  cycles: number;
  /** Why the link stopped first: 'tx', 'cycles', 'until', ... */
  reason: string;
}

export interface WaitOptions {
  /** Cycle limit (default options.waitTimeout). */
  timeout?: number;
}

export class RootComplex implements RcCore {
  readonly opts: ResolvedOptions;
  readonly mem: HostMemory;
  readonly shadow = new DeviceShadow();
  readonly rng: Rng;
  readonly seed: number;
  readonly requester: Requester;
  readonly completer: Completer;
  readonly injector: FaultInjector;
  readonly msix: MsixController;
  /** Every MSI-X message the device sent, in arrival order (a log: taking does not remove). */
  readonly interrupts: InterruptEvent[] = [];
  /** Message TLPs the device sent. */
  readonly messages: MessageEvent[] = [];
  /** The device's INTx virtual wires as its Assert/Deassert messages left them (2.2.8.1), with their history. */
  readonly intx: IntxWires;
  /** Violations seen with options.violations = 'record'. */
  readonly violations: PcieViolation[] = [];
  /** What enumerate() found. */
  device?: DeviceInfo;

  private readonly interruptListeners: ((ev: InterruptEvent) => void)[] = [];
  /** Writes here are MSI-X messages: they always end a step. */
  private readonly msiWindow: { from: bigint; to: bigint };
  private readonly fromDevice: RcStats['fromDevice'] = {};
  private readonly toDevice: RcStats['toDevice'] = {};
  private steps = 0;
  private runCalls = 0;
  /** Messages not yet taken by takeInterrupts() / waitForInterrupt(). */
  private untaken: InterruptEvent[] = [];
  /** 'throw' mode: violations of the TLPs being handled, thrown once they all are. */
  private readonly unthrown: PcieViolation[] = [];

  constructor(
    readonly link: Link,
    options: RootComplexOptions & { mem?: HostMemory } = {},
  ) {
    this.opts = resolveOptions(options);
    this.mem = options.mem ?? new HostMemory();
    this.seed = options.seed ?? defaultSeed();
    this.rng = new Rng(this.seed);
    this.injector = new FaultInjector(this.rng.fork(1), options.onRead, options.faults);
    this.requester = new Requester(this);
    this.completer = new Completer(this, this.injector, (ev) => {
      this.interrupts.push(ev);
      this.untaken.push(ev);
      for (const f of this.interruptListeners) f(ev);
    });
    this.msix = new MsixController(this);
    this.intx = new IntxWires(this.shadow, { grace: this.opts.grace, duplicates: this.opts.intxDuplicates });
    if (this.opts.device) this.shadow.state(this.opts.device, 0);
    this.msiWindow = { from: this.opts.msiBase, to: this.opts.msiBase + this.opts.msiSize };
  }

  /** The link's cycle. */
  get now(): number {
    return this.link.cycle;
  }
  get cycle(): number {
    return this.link.cycle;
  }

  // ==== sending and reporting (RcCore) ====

  get deliveryReports(): boolean {
    return this.link.sendTracked !== undefined;
  }

  get sendCopies(): boolean {
    return this.link.copiesOnSend === true;
  }

  send(t: Tlp, atCycle?: number, delivered?: (cycle: number) => void): void {
    this.queue(encodeTlp(t), t.type, atCycle, t, delivered);
  }

  sendEncoded(raw: RawTlp, type: TlpType, atCycle?: number, delivered?: (cycle: number) => void): void {
    this.queue(raw, type, atCycle, undefined, delivered);
  }

  get batchSends(): boolean {
    return this.link.sendBatch !== undefined && !this.opts.trace;
  }

  sendBatch(b: TlpBatch, type: TlpType, delivered?: (cycle: number) => void): void {
    const now = this.now;
    const c = (this.toDevice[type] ??= { tlps: 0, bytes: 0 });
    for (let k = 0; k < b.count; k++) {
      b.cycle[k] = Math.max(b.cycle[k], now);
      c.tlps++;
      c.bytes += b.length[k] * 4;
      if (this.opts.trace)
        this.opts.trace(`rc @${now}: -> dev @${b.cycle[k]}: ${describeTlp(decodeTlp(batchTlp(b, k)))}`);
    }
    const tracked = delivered && this.link.sendTracked ? delivered : undefined;
    if (this.link.sendBatch) this.link.sendBatch(b, tracked);
    else sendBatchSingly(this.link, b, tracked);
  }

  /** Counts, traces (describing `t`, else the decoded raw form) and queues an encoded TLP. */
  private queue(
    raw: RawTlp,
    type: TlpType,
    atCycle: number | undefined,
    t: Tlp | undefined,
    delivered: ((cycle: number) => void) | undefined,
  ): void {
    const at = Math.max(atCycle ?? this.now, this.now);
    const c = (this.toDevice[type] ??= { tlps: 0, bytes: 0 });
    c.tlps++;
    c.bytes += raw.data.length * 4;
    if (this.opts.trace) this.opts.trace(`rc @${this.now}: -> dev @${at}: ${describeTlp(t ?? decodeTlp(raw))}`);
    if (delivered && this.link.sendTracked) this.link.sendTracked(raw, at, delivered);
    else this.link.send(raw, at);
  }

  /** Sends a raw TLP as is (for tests injecting malformed or unexpected TLPs); counted by its type if it decodes. */
  sendRaw(raw: RawTlp, atCycle?: number): void {
    let type = 'malformed' as TlpType;
    try {
      type = decodeTlp(raw, { strict: false }).type;
    } catch (e) {
      if (!(e instanceof TlpError)) throw e;
    }
    const at = Math.max(atCycle ?? this.now, this.now);
    const c = (this.toDevice[type] ??= { tlps: 0, bytes: 0 });
    c.tlps++;
    c.bytes += raw.data.length * 4;
    this.opts.trace?.(`rc @${this.now}: -> dev @${at}: raw ${formatRawTlp(raw)}`);
    this.link.send(raw, at);
  }

  /**
   * Sends any non-posted request (a TLP, encoded even if malformed, or raw dwords: type-1 configuration,
   * MRdLk, IO, AtomicOps, ...) with the RC's Requester ID and a tag of its own, and returns its completions
   * as they came, unchecked, once the last one arrived (a status other than SC, a Cpl, or a CplD whose byte
   * count fits in its payload). Fails with RcTimeoutError after `timeout` cycles (default completionTimeout),
   * which is what a device that drops a malformed request earns.
   */
  startRawRequest(req: Tlp | RawTlp, opts: WaitOptions = {}): Pending<Completion[]> {
    const raw = 'hdr' in req ? req : encodeTlp(req, { allowMalformed: true });
    return this.requester.rawRequest(raw, opts.timeout ?? this.opts.completionTimeout);
  }
  rawRequest(req: Tlp | RawTlp, opts: WaitOptions = {}): Completion[] {
    return this.wait(this.startRawRequest(req, opts), { timeout: (opts.timeout ?? this.opts.completionTimeout) + 1 });
  }

  /**
   * Reports a rule the device broke. The TLP is handled the same way in both modes (see docs/rootcomplex.md,
   * "what the RC does with it"); in 'throw' mode the violation is thrown once the TLPs being processed
   * (receive(), or a step's whole batch) have all been handled, so none is lost.
   */
  violation(code: ViolationCode, reason: string, cycle: number, tlp: TlpContext): void {
    const v = new PcieViolation(code, `${reason} (seed ${this.seed})`, cycle, tlp);
    this.opts.trace?.(v.message);
    if (this.opts.violations === 'throw') this.unthrown.push(v);
    else this.violations.push(v);
  }

  /** In 'throw' mode: throws the first violation of the TLPs just handled, naming the others. */
  private throwViolations(): void {
    if (this.unthrown.length === 0) return;
    const [first, ...more] = this.unthrown.splice(0);
    if (more.length > 0) first.alsoSeen(more);
    throw first;
  }

  // ==== the pump ====

  /**
   * One window: runs the link until the device sends something (or `maxCycles` pass), keeps
   * running up to the shortest completion latency past the first TLP to batch more, then
   * processes them all. Violations throw from here (options.violations = 'throw').
   */
  step(opts: StepOptions = {}): StepResult {
    this.requester.drain();
    const start = this.now;
    // Stop in time to notice a completion timeout.
    const toDeadline = this.requester.nextDeadline() - start;
    const win = Math.max(1, Math.min(opts.maxCycles ?? this.opts.window, this.opts.window, toDeadline));
    const r = this.link.run({
      cycles: win,
      untilTx: 1,
      until: opts.until,
      writesCountOnlyIn: opts.batchWrites ? this.msiWindow : undefined,
    });
    this.runCalls++;
    this.steps++;
    if (r.reason === 'finish')
      throw new Error(`rc: cycle ${this.now}: the simulation executed $finish; nothing more can happen`);
    const tx = this.link.takeTx();
    const first = r.reason !== 'until' ? firstReadRequest(tx, this.now) : Infinity;
    if (first !== Infinity) {
      // Answers go out at (request cycle + latency >= first read + minLatency): the link may run
      // that far without any answer landing in the past, and more TLPs join the batch.
      const room = Math.min(first + this.opts.minLatency - this.now, (opts.maxCycles ?? Infinity) - (this.now - start));
      if (room > 1) {
        this.link.run({ cycles: room, until: opts.until });
        this.runCalls++;
        const more = this.link.takeTx();
        // takeTx() hands over an array of its own: appended to, not copied with concat() (a C++ builtin call per step)
        for (let i = 0; i < more.length; i++) tx.push(more[i]);
      }
    }
    if (tx.length > 1 && !inCycleOrder(tx)) tx.sort((a, b) => (a.cycle ?? 0) - (b.cycle ?? 0));
    for (const t of tx) this.handle(t);
    for (const p of this.intx.checkDisabled(this.now)) this.violation('intx', p.reason, this.now, { desc: 'INTx' });
    this.requester.checkTimeouts(this.now);
    this.requester.drain();
    this.throwViolations();
    if (tx.length === 0 && this.now === start && r.reason !== 'until') {
      throw new Error(
        `rc: cycle ${this.now}: the link did not advance (run() stopped with '${r.reason}' after 0 cycles and no TLP)`,
      );
    }
    return { tlps: tx.length, cycles: this.now - start, reason: r.reason };
  }

  /**
   * Processes one TLP from the device (its `cycle` stamp is when it left the device); in 'throw' mode a
   * violation it breaks is thrown after it was handled.
   */
  receive(raw: RawTlp): void {
    this.handle(raw);
    this.throwViolations();
  }

  /** Checks a device TLP and does what a root complex does with it (violations are reported, not thrown). */
  private handle(raw: RawTlp): void {
    const cycle = raw.cycle ?? this.now;
    let t: Tlp;
    try {
      t = decodeTlp(raw);
    } catch (e) {
      if (!(e instanceof TlpError)) throw e;
      const code: ViolationCode =
        e.field === 'address' && /4 KB/.test(e.message)
          ? '4k-boundary'
          : e.field === 'firstBe' || e.field === 'lastBe'
            ? 'byte-enables'
            : 'malformed';
      this.countRaw(raw);
      const ctx = { desc: sketchRaw(raw), raw, cycle };
      const request = unsupportedRequest(raw);
      if (request) {
        // Well formed, but nothing this root complex completes: Unsupported Request (2.3.1).
        this.violation('unsupported', `${request} from an endpoint (${e.message})`, cycle, ctx);
        this.completer.unsupported(raw, cycle);
        return;
      }
      // Malformed: discarded, so a request gets no completion (the device's completion timeout fires).
      this.violation(
        code,
        `${code === 'malformed' ? `malformed TLP (field ${e.field}): ` : ''}${e.message}`,
        cycle,
        ctx,
      );
      return;
    }
    this.count(this.fromDevice, t);
    if (this.opts.trace) this.opts.trace(`rc @${this.now}: <- dev @${cycle}: ${describeTlp(t)}`);
    const ctx: TlpContext = { tlp: t, raw, cycle };
    switch (t.type) {
      case 'MRd':
        this.completer.onRead(t, cycle, ctx);
        break;
      case 'MWr':
        this.completer.onWrite(t, cycle, ctx);
        break;
      case 'Cpl':
      case 'CplD':
      case 'CplLk':
      case 'CplDLk':
        this.requester.onCompletion(t, cycle, ctx);
        break;
      case 'Msg':
      case 'MsgD': {
        this.messages.push({ tlp: t, cycle });
        const wire = t.type === 'Msg' ? intxMessage(t.code) : undefined;
        if (wire)
          for (const p of this.intx.onMessage(wire.pin, wire.asserted, cycle))
            this.violation('intx', p.reason, cycle, ctx);
        break;
      }
      default:
        this.violation(
          'unsupported',
          `${t.type} from an endpoint (endpoints must not send ${t.type === 'MRdLk' ? 'locked requests' : 'configuration requests'})`,
          cycle,
          ctx,
        );
        this.completer.unsupported(raw, cycle);
    }
  }

  /** Pumps for `cycles` cycles, processing everything the device sends meanwhile. */
  runFor(cycles: number): void {
    const end = this.now + cycles;
    while (this.now < end) this.step({ maxCycles: end - this.now, batchWrites: true });
  }

  /** Pumps until `cond()` holds; throws RcTimeoutError naming `what` after the limit. Returns the cycles waited. */
  waitFor(what: string, cond: () => boolean, opts: WaitOptions = {}): number {
    return this.pumpUntil(what, cond, opts, false);
  }

  /** waitFor(); `batchWrites` (see StepOptions) when `cond` cannot depend on what a DMA write changes. */
  private pumpUntil(what: string, cond: () => boolean, opts: WaitOptions, batchWrites: boolean): number {
    const start = this.now;
    const limit = opts.timeout ?? this.opts.waitTimeout;
    while (!cond()) {
      const left = start + limit - this.now;
      if (left <= 0) throw new RcTimeoutError(what, this.now, this.now - start);
      this.step({ maxCycles: left, batchWrites });
    }
    return this.now - start;
  }

  /** Pumps until a simulator signal equals a value (checked every cycle by the simulator). */
  waitForSignal(signal: string, equals: number | bigint, opts: WaitOptions = {}): number {
    const start = this.now;
    const limit = opts.timeout ?? this.opts.waitTimeout;
    for (;;) {
      const left = start + limit - this.now;
      if (left <= 0) throw new RcTimeoutError(`${signal} == ${equals}`, this.now, this.now - start);
      const r = this.step({ maxCycles: left, until: { signal, equals } });
      if (r.reason === 'until') return this.now - start;
    }
  }

  /** Pumps until a request completes; returns its value or throws its error. */
  wait<T>(p: Pending<T>, opts: WaitOptions = {}): T {
    this.pumpUntil(p.what, () => p.done, opts, true);
    return p.result();
  }

  /**
   * Pumps until the traffic settles: no RC request outstanding and every completion the RC
   * scheduled for the device's reads delivered (plus `quiet` idle cycles, default 0).
   */
  settle(opts: WaitOptions & { quiet?: number } = {}): void {
    this.pumpUntil('the traffic to settle (RC requests completed, device reads answered)', () => this.idle, opts, true);
    if (opts.quiet) this.runFor(opts.quiet);
  }

  // ==== configuration space ====

  startCfgRead(offset: number, size: 1 | 2 | 4 = 4): Pending<number> {
    return this.requester.cfgRead(offset, size);
  }
  startCfgWrite(offset: number, value: number, size: 1 | 2 | 4 = 4): Pending<void> {
    return this.requester.cfgWrite(offset, value, size);
  }
  cfgRead(offset: number, size: 1 | 2 | 4 = 4): number {
    return this.wait(this.startCfgRead(offset, size));
  }
  cfgWrite(offset: number, value: number, size: 1 | 2 | 4 = 4): void {
    this.wait(this.startCfgWrite(offset, value, size));
  }
  cfgRead8(offset: number): number {
    return this.cfgRead(offset, 1);
  }
  cfgRead16(offset: number): number {
    return this.cfgRead(offset, 2);
  }
  cfgRead32(offset: number): number {
    return this.cfgRead(offset, 4);
  }
  cfgWrite8(offset: number, v: number): void {
    this.cfgWrite(offset, v, 1);
  }
  cfgWrite16(offset: number, v: number): void {
    this.cfgWrite(offset, v, 2);
  }
  cfgWrite32(offset: number, v: number): void {
    this.cfgWrite(offset, v >>> 0, 4);
  }

  // ==== MMIO ====

  /** Starts a read of `len` bytes (any alignment; 0 = zero-length flush read); split at MRRS / 4 KB. */
  startMemRead(addr: Addr, len: number): Pending<Uint8Array> {
    return this.requester.memRead(toAddr(addr), len);
  }
  memRead(addr: Addr, len: number, opts?: WaitOptions): Uint8Array {
    return this.wait(this.startMemRead(addr, len), opts);
  }
  /** Posted write (returns at once; split at MPS / 4 KB). */
  memWrite(addr: Addr, data: Uint8Array): void {
    const a = toAddr(addr);
    this.shadow.noteMemWrite(a, data, this.now);
    this.requester.memWrite(a, data);
  }
  read8(addr: Addr): number {
    return this.memRead(addr, 1)[0];
  }
  read16(addr: Addr): number {
    return Number(leToBigint(this.memRead(addr, 2)));
  }
  read32(addr: Addr): number {
    return Number(leToBigint(this.memRead(addr, 4)));
  }
  read64(addr: Addr): bigint {
    return leToBigint(this.memRead(addr, 8));
  }
  write8(addr: Addr, v: number): void {
    this.memWrite(addr, leBytes(BigInt(v), 1));
  }
  write16(addr: Addr, v: number): void {
    this.memWrite(addr, leBytes(BigInt(v), 2));
  }
  write32(addr: Addr, v: number): void {
    this.memWrite(addr, leBytes(BigInt(v), 4));
  }
  write64(addr: Addr, v: bigint | number): void {
    this.memWrite(addr, leBytes(BigInt(v), 8));
  }
  /** A zero-length read at `addr`: returns once every earlier posted write to the device has landed. */
  flush(addr: Addr): void {
    this.memRead(addr, 0);
  }

  // ==== enumeration and device helpers ====

  /** Enumerates the device: IDs, BAR sizing and assignment, capability walk, PCIe and command setup. */
  enumerate(opts: EnumerateOptions = {}): DeviceInfo {
    this.device = enumerate(this, opts);
    return this.device;
  }

  /**
   * Rewrites Device Control (MPS, MRRS, extended tags) / Device Control 2 (10-bit tags) / Command (bus
   * mastering); for a device not enumerated, states them instead (see RootComplexOptions.device).
   */
  setDeviceControl(s: DeviceControlSettings): void {
    setDeviceControl(this, s);
  }

  /** Accessor for an assigned BAR. */
  bar(index: number): BarHandle {
    const b = this.device?.bars[index];
    if (!b) throw new Error(`rc: BAR ${index} is not implemented${this.device ? '' : ' (enumerate first)'}`);
    return new BarHandle(this, b);
  }

  // ==== interrupts ====

  /** Calls `f` for every MSI-X message from now on; returns a function that removes it. */
  onInterrupt(f: (ev: InterruptEvent) => void): () => void {
    this.interruptListeners.push(f);
    return () => {
      const i = this.interruptListeners.indexOf(f);
      if (i >= 0) this.interruptListeners.splice(i, 1);
    };
  }

  /** Interrupts not taken yet, in arrival order; they count as taken afterwards. */
  takeInterrupts(): InterruptEvent[] {
    const out = this.untaken;
    this.untaken = [];
    return out;
  }

  /** Pumps until an MSI-X message (for `vector`, or any) not yet taken arrives; takes and returns it. */
  waitForInterrupt(vector?: number, opts: WaitOptions = {}): InterruptEvent {
    this.pumpUntil(
      `an MSI-X interrupt${vector === undefined ? '' : ` on vector ${vector}`}`,
      () => this.untakenIndex(vector) >= 0,
      opts,
      true,
    );
    return this.untaken.splice(this.untakenIndex(vector), 1)[0];
  }
  /**
   * Pumps until the device's INTx wire `pin` (default A) is asserted (or, with `asserted` false, deasserted), as
   * its Assert/Deassert messages say; returns at once if it already is.
   */
  waitForIntx(asserted = true, opts: WaitOptions & { pin?: IntxPin } = {}): void {
    const pin = opts.pin ?? 'A';
    this.pumpUntil(
      `INT${pin} ${asserted ? 'asserted' : 'deasserted'}`,
      () => this.intx.asserted(pin) === asserted,
      opts,
      true,
    );
  }

  private untakenIndex(vector: number | undefined): number {
    for (let i = 0; i < this.untaken.length; i++)
      if (vector === undefined || this.untaken[i].vector === vector) return i;
    return -1;
  }

  // ==== error injection ====

  /** Replaces the per-read fault hook and/or the random fault rates. */
  setFaults(f: { onRead?: ReadHook; rates?: FaultRates }): void {
    if ('onRead' in f) this.injector.hook = f.onRead;
    if (f.rates) this.injector.rates = f.rates;
  }

  /**
   * Sends the device a completion it did not ask for (error injection: the device must drop it
   * and flag an unexpected completion). Default: a 1 DW CplD for `tag` to the device's ID.
   */
  sendUnexpectedCompletion(o: {
    tag: number;
    requesterId?: number;
    atCycle?: number;
    status?: 'SC' | 'UR' | 'CA';
    bytes?: number;
  }): void {
    const base = {
      completerId: this.opts.rcId,
      requesterId: o.requesterId ?? this.opts.deviceId,
      tag: o.tag,
      lowerAddress: 0,
    };
    const status = o.status ?? 'SC';
    if (status === 'SC') {
      const bytes = o.bytes ?? 4;
      this.send(
        {
          type: 'CplD',
          ...base,
          status: CplStatus.SC,
          byteCount: bytes,
          data: new Uint8Array(Math.ceil(bytes / 4) * 4),
        },
        o.atCycle,
      );
    } else {
      this.send(
        { type: 'Cpl', ...base, status: status === 'UR' ? CplStatus.UR : CplStatus.CA, byteCount: o.bytes ?? 4 },
        o.atCycle,
      );
    }
  }

  /** Nothing in flight: no RC request outstanding, every scheduled answer delivered. */
  get idle(): boolean {
    return this.requester.outstanding === 0 && this.now > this.completer.lastScheduled;
  }

  // ==== statistics ====

  stats(): RcStats {
    return {
      cycle: this.now,
      fromDevice: structuredClone(this.fromDevice),
      toDevice: structuredClone(this.toDevice),
      steps: this.steps,
      runCalls: this.runCalls,
      interrupts: this.interrupts.length,
      violations: this.violations.length,
      requester: { ...this.requester.stats },
      completer: { ...this.completer.stats },
      faults: { ...this.injector.counts },
    };
  }

  private count(table: RcStats['fromDevice'], t: Tlp): void {
    const c = (table[t.type] ??= { tlps: 0, bytes: 0 });
    c.tlps++;
    if ('data' in t) c.bytes += t.data.length;
  }
  private countRaw(raw: RawTlp): void {
    const c = (this.fromDevice['malformed' as TlpType] ??= { tlps: 0, bytes: 0 });
    c.tlps++;
    c.bytes += raw.data.length * 4;
  }
}

/** MMIO access to one BAR by offset, bounds-checked against its size. */
export class BarHandle {
  constructor(
    private readonly rc: RootComplex,
    readonly info: BarInfo,
  ) {}
  get address(): bigint {
    return this.info.address;
  }
  get size(): bigint {
    return this.info.size;
  }
  addr(offset: number, len = 0): bigint {
    if (!Number.isSafeInteger(offset) || offset < 0 || BigInt(offset + len) > this.info.size) {
      throw new RangeError(
        `rc: BAR ${this.info.index}: ${len} bytes at offset 0x${offset.toString(16)} outside its ${this.info.size} bytes`,
      );
    }
    return this.info.address + BigInt(offset);
  }
  read(offset: number, len: number): Uint8Array {
    return this.rc.memRead(this.addr(offset, len), len);
  }
  startRead(offset: number, len: number): Pending<Uint8Array> {
    return this.rc.startMemRead(this.addr(offset, len), len);
  }
  write(offset: number, data: Uint8Array): void {
    this.rc.memWrite(this.addr(offset, data.length), data);
  }
  read8(offset: number): number {
    return this.rc.read8(this.addr(offset, 1));
  }
  read16(offset: number): number {
    return this.rc.read16(this.addr(offset, 2));
  }
  read32(offset: number): number {
    return this.rc.read32(this.addr(offset, 4));
  }
  read64(offset: number): bigint {
    return this.rc.read64(this.addr(offset, 8));
  }
  write8(offset: number, v: number): void {
    this.rc.write8(this.addr(offset, 1), v);
  }
  write16(offset: number, v: number): void {
    this.rc.write16(this.addr(offset, 2), v);
  }
  write32(offset: number, v: number): void {
    this.rc.write32(this.addr(offset, 4), v);
  }
  write64(offset: number, v: bigint | number): void {
    this.rc.write64(this.addr(offset, 8), v);
  }
}

/** Cycle of the earliest memory read request (3DW or 4DW, from the Fmt/Type in DW0) among the TLPs, or Infinity. */
function firstReadRequest(tx: readonly RawTlp[], now: number): number {
  let first = Infinity;
  for (let i = 0; i < tx.length; i++)
    if (((tx[i].hdr[0] >>> 24) & 0xdf) === 0) first = Math.min(first, tx[i].cycle ?? now);
  return first;
}

/**
 * The name of a well-formed non-posted request the codec does not decode and the RC does not serve (IO,
 * AtomicOps), from its Fmt/Type; undefined for anything else.
 */
function unsupportedRequest(raw: RawTlp): string | undefined {
  const fmt = raw.hdr[0] >>> 29;
  const type = (raw.hdr[0] >>> 24) & 0x1f;
  if (type === 0b00010 && (fmt === 0b000 || fmt === 0b010)) return fmt === 0b000 ? 'IORd' : 'IOWr';
  if (type >= 0b01100 && type <= 0b01110 && (fmt === 0b010 || fmt === 0b011))
    return ['FetchAdd', 'Swap', 'CAS'][type - 0b01100];
  return undefined;
}
