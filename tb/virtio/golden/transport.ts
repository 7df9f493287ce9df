// The golden model of a virtio-pci function: configuration space, the BAR structures (common, notify, ISR,
// device configuration, MSI-X table and PBA), the status machine, feature negotiation, MSI-X and INTx. It
// predicts every register read. Two ways to use it:
//  - as the device: the endpoint (tb/virtio/endpoint.ts) calls read()/write() for each request it receives;
//  - beside an RTL device: a checker calls predict() or check(access, actual) for each completion the RTL sends
//    and write() for each write it receives, in the order the device receives them.
// The data plane plugs in through the Handover (events, queue state) and DataPlaneInputs (interrupts, config
// changes, fatal errors, reset completion) interfaces of handover.ts.
import { barOf, type VirtioPciLayout } from '../../../gen/virtio/layout';
import { ISR, MAX_MMIO_READ_DW, VIRTIO_CAP_FIELD, VIRTIO_MSI_NO_VECTOR, featureMask } from '../../../gen/virtio/regmap';
import {
  PCI_EXP_DEVSTA,
  PCI_EXP_DEVSTA_TRPND,
  PCI_EXP_DEVSTA_URD,
  PCI_STATUS,
  PCI_STATUS_INTERRUPT,
  PCI_STATUS_SIG_TARGET_ABORT,
} from '../../pcie/cfgspace';
import { leToBigint } from '../../pcie/hostmem';
import { PciConfigSpace } from './cfgspace';
import { CommonConfig } from './common';
import { DeviceConfig, type DeviceConfigValues } from './devcfg';
import { fieldNames, readFields, writeFields, type FieldPort } from './fields';
import type { DataPlaneInputs, Handover, InterruptSink, QueueState, TransportEvent } from './handover';
import { Interrupts } from './interrupts';
import { describeCfg } from './names';
import { notifyWrite } from './notify';

export interface GoldenOptions {
  /** Device configuration values (field name -> value); the device type's defaults otherwise. */
  deviceConfig?: DeviceConfigValues;
  /** Features FEATURES_OK requires the driver to accept besides VERSION_1 (e.g. VIRTIO_F_ACCESS_PLATFORM). */
  requiredFeatures?: readonly string[];
  /** Reads of device_status that still see a reset in progress ('external': until completeReset()). Default 0. */
  resetReads?: number | 'external';
  /** The same for queue_reset. Default 0. */
  queueResetReads?: number | 'external';
  /** Whether an MSI-X vector can be mapped (queue undefined: config_msix_vector). Default: every table entry. */
  vectorAssignable?: (vector: number, queue?: number) => boolean;
  /** Where interrupts go. Default: recorded in `interruptLog`. */
  sink?: InterruptSink;
  /** Deliberate damage for negative tests, applied after every (re)build of configuration space. */
  patchConfig?: (cfg: PciConfigSpace) => void;
}

/** A register access: configuration space (within one DWORD) or BAR-relative memory. */
export type Access =
  | { readonly space: 'cfg'; readonly offset: number; readonly size: number }
  | { readonly space: 'bar'; readonly bar: number; readonly offset: number; readonly size: number };

/** An RTL read that differs from the prediction. */
export class GoldenMismatch extends Error {
  constructor(
    readonly access: Access,
    readonly where: string,
    readonly expected: Uint8Array,
    readonly actual: Uint8Array,
  ) {
    const hex = (b: Uint8Array) =>
      `0x${leToBigint(b)
        .toString(16)
        .padStart(2 * b.length, '0')}`;
    super(`golden model: read of ${where}: device returned ${hex(actual)}, expected ${hex(expected)}`);
    this.name = 'GoldenMismatch';
  }
}

interface BarRegion {
  readonly name: string;
  readonly bar: number;
  readonly offset: number;
  readonly length: number;
  read(off: number, len: number, commit: boolean): Uint8Array;
  write(off: number, data: Uint8Array, mask: Uint8Array): void;
  describe(off: number, len: number): string;
}

export class GoldenTransport implements Handover, DataPlaneInputs {
  readonly cfg: PciConfigSpace;
  readonly common: CommonConfig;
  readonly devcfg: DeviceConfig;
  readonly interrupts: Interrupts;
  /** Every event the transport emitted, in order. */
  readonly events: TransportEvent[] = [];
  /** What the default sink saw. */
  readonly interruptLog: (
    { kind: 'msix'; vector: number; address: bigint; data: number } | { kind: 'intx'; asserted: boolean }
  )[] = [];
  readonly offered: bigint;
  private readonly listeners: ((ev: TransportEvent) => void)[] = [];
  private readonly regions: BarRegion[];

  constructor(
    readonly layout: VirtioPciLayout,
    private readonly opts: GoldenOptions = {},
  ) {
    const type = layout.deviceType;
    this.offered = featureMask(layout.features, type);
    this.cfg = new PciConfigSpace(layout);
    opts.patchConfig?.(this.cfg);
    const sink: InterruptSink = opts.sink ?? {
      msix: (vector, address, data) => this.interruptLog.push({ kind: 'msix', vector, address, data }),
      intx: (asserted) => this.interruptLog.push({ kind: 'intx', asserted }),
    };
    this.interrupts = new Interrupts(this.cfg, sink, layout.msix.vectors);
    const devcfg = new DeviceConfig(type, new Set(layout.features), opts.deviceConfig ?? {}, layout.queues.count);
    this.devcfg = devcfg;
    this.common = new CommonConfig(
      layout,
      {
        offered: this.offered,
        required: featureMask(opts.requiredFeatures ?? [], type),
        resetReads: opts.resetReads ?? 0,
        queueResetReads: opts.queueResetReads ?? 0,
      },
      {
        emit: (ev) => this.emit(ev),
        resetSideEffects: () => {
          this.interrupts.clearPending();
          this.interrupts.clearIsr();
          this.devcfg.reset();
        },
        vectorAssignable: (v, q) => opts.vectorAssignable?.(v, q) ?? true,
        get configGeneration() {
          return devcfg.generation;
        },
      },
    );
    this.regions = this.buildRegions();
  }

  // ==== Handover (the data plane's view)

  get negotiated(): bigint {
    return this.common.negotiated;
  }
  get status(): number {
    return this.common.status;
  }
  get driverOk(): boolean {
    return this.common.driverOk;
  }
  get busMaster(): boolean {
    return this.cfg.busMaster;
  }
  get maxPayload(): number {
    return 128 << ((this.cfg.devctl >> 5) & 7);
  }
  get maxReadRequest(): number {
    return 128 << ((this.cfg.devctl >> 12) & 7);
  }
  get extendedTags(): boolean {
    return (this.cfg.devctl & 0x100) !== 0;
  }
  get queueCount(): number {
    return this.common.queues.length;
  }
  queue(index: number): Readonly<QueueState> {
    const q = this.common.queues[index];
    if (!q) throw new RangeError(`golden model: no queue ${index} (the device has ${this.queueCount})`);
    return q;
  }
  on(listener: (ev: TransportEvent) => void): () => void {
    this.listeners.push(listener);
    return () => {
      const i = this.listeners.indexOf(listener);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }
  private emit(ev: TransportEvent): void {
    this.events.push(ev);
    for (const l of [...this.listeners]) l(ev);
  }

  // ==== DataPlaneInputs

  signalQueue(q: number): void {
    const qs = this.common.queues[q];
    if (!this.common.driverOk || this.common.resetInProgress || !qs?.enabled) return;
    if (!this.cfg.msixEnabled) return this.interrupts.setIsr(ISR.QUEUE);
    if (qs.msixVector !== VIRTIO_MSI_NO_VECTOR) this.interrupts.signalMsix(qs.msixVector);
  }

  changeDeviceConfig(field: string, value: bigint | number): void {
    if (this.devcfg.change(field, value)) this.configInterrupt();
  }

  fatalError(): void {
    this.common.setNeedsReset();
    this.configInterrupt();
  }

  completeReset(): void {
    this.common.completeReset();
  }
  completeQueueReset(q: number): void {
    this.common.completeQueueReset(q);
  }
  setDmaOutstanding(outstanding: boolean): void {
    this.common.setDmaOutstanding(outstanding);
  }

  /** A configuration change notification: ISR bit, then the configuration vector (or INTx). Only after DRIVER_OK. */
  private configInterrupt(): void {
    if (!this.common.driverOk) return;
    this.interrupts.setIsr(ISR.CONFIG);
    if (this.cfg.msixEnabled && this.common.msixConfig !== VIRTIO_MSI_NO_VECTOR)
      this.interrupts.signalMsix(this.common.msixConfig);
  }

  // ==== memory decode

  /** The BAR and offset a memory request hits, or undefined (Unsupported Request): choices.ts "claimWholeRequestOnly". */
  claim(addr: bigint, len: number): { bar: number; offset: number } | undefined {
    if (!this.cfg.memoryEnabled || this.cfg.powerState !== 0) return undefined;
    for (const b of this.layout.bars) {
      const base = this.cfg.barAddress(b.index);
      if (base === 0n) continue;
      const end = base + BigInt(b.size);
      if (addr >= base && addr + BigInt(Math.max(len, 1)) <= end) return { bar: b.index, offset: Number(addr - base) };
    }
    return undefined;
  }

  /** Logs an Unsupported Request the function received (Device Status URD; choices.ts "errorMessages"). */
  noteUnsupportedRequest(): void {
    this.cfg.setDevStaBits(PCI_EXP_DEVSTA_URD);
  }

  /** Whether a claimed memory read is too long to answer (choices.ts "longReads"): Completer Abort. */
  abortsRead(lengthDw: number): boolean {
    return lengthDw > MAX_MMIO_READ_DW;
  }

  /** Logs a Completer Abort the function signalled (Status: Signaled Target Abort). */
  noteCompleterAbort(): void {
    this.cfg.setStatusBits(PCI_STATUS_SIG_TARGET_ABORT);
  }

  // ==== accesses

  /** What a read returns, without its side effects. */
  predict(a: Access): Uint8Array {
    return a.space === 'cfg' ? this.cfgRead(a.offset, a.size, false) : this.barRead(a.bar, a.offset, a.size, false);
  }

  /** A read with its side effects (ISR clear, reset progress, PCI_CFG window): what the device does. */
  read(a: Access): Uint8Array {
    return a.space === 'cfg' ? this.cfgRead(a.offset, a.size, true) : this.barRead(a.bar, a.offset, a.size, true);
  }

  /** A write of the enabled bytes (mask: one entry per byte; default all). */
  write(a: Access, data: Uint8Array, mask?: Uint8Array): void {
    if (data.length !== a.size)
      throw new RangeError(`golden model: ${data.length} data bytes for a ${a.size}-byte access`);
    if (a.space === 'cfg') this.cfgWrite(a.offset, data, mask);
    else this.barWrite(a.bar, a.offset, data, mask);
  }

  /**
   * Checks a read the device under test answered: it must equal the prediction, or the prediction after a
   * reset in progress completed (the RTL may finish sooner than the model's default). Applies the read's side
   * effects; throws GoldenMismatch naming the register otherwise.
   */
  check(a: Access, actual: Uint8Array): void {
    const same = (x: Uint8Array) => x.length === actual.length && x.every((b, i) => b === actual[i]);
    const expected = this.predict(a);
    if (!same(expected)) {
      let explained = false;
      for (const c of this.common.pendingCompletions()) {
        c.complete();
        if (same(this.predict(a))) {
          explained = true;
          break;
        }
      }
      if (!explained) throw new GoldenMismatch(a, this.describe(a), expected, actual);
    }
    this.read(a);
  }

  /** Names an access: "config 0x06 (status)", "BAR0+0x14 (common.device_status)". */
  describe(a: Access): string {
    if (a.space === 'cfg') return `config 0x${a.offset.toString(16)}+${a.size} (${describeCfg(this.layout, a.offset)})`;
    const where = this.regions
      .filter((r) => r.bar === a.bar && r.offset < a.offset + a.size && a.offset < r.offset + r.length)
      .map((r) => r.describe(Math.max(a.offset, r.offset) - r.offset, a.size));
    return `BAR${a.bar}+0x${a.offset.toString(16)}+${a.size} (${where.length ? where.join(' | ') : 'no structure'})`;
  }

  // ==== configuration space

  private cfgRead(off: number, size: number, commit: boolean): Uint8Array {
    const dataAt = this.cfg.cap.pciCfg! + VIRTIO_CAP_FIELD.PCI_CFG_DATA;
    let bytes = this.cfg.read(off, size);
    if (off < dataAt + 4 && dataAt < off + size) {
      const win = this.windowRead(commit);
      if (win) {
        if (commit) bytes = this.cfg.read(off, size);
        else
          for (let i = 0; i < win.length; i++)
            if (dataAt + i >= off && dataAt + i < off + size) bytes[dataAt + i - off] = win[i];
      }
    }
    const devsta = this.cfg.cap.pcie! + PCI_EXP_DEVSTA;
    if (off <= devsta && devsta < off + size && this.common.transactionsPending)
      bytes[devsta - off] |= PCI_EXP_DEVSTA_TRPND;
    if (off <= PCI_STATUS && PCI_STATUS < off + size) {
      const i = PCI_STATUS - off;
      bytes[i] = this.interrupts.interruptStatus ? bytes[i] | PCI_STATUS_INTERRUPT : bytes[i] & ~PCI_STATUS_INTERRUPT;
    }
    return bytes;
  }

  private cfgWrite(off: number, data: Uint8Array, mask?: Uint8Array): void {
    const fx = this.cfg.write(off, data, mask);
    if (fx.flr) return this.functionLevelReset();
    if (fx.commandChanged) this.emit({ kind: 'bus-master', enabled: this.cfg.busMaster });
    if (fx.commandChanged || fx.msixControlChanged || fx.powerStateChanged) {
      this.interrupts.deliverPending();
      this.interrupts.updateIntx();
    }
    if (fx.pciCfgData) this.windowWrite();
  }

  /** The PCI_CFG window's target (choices.ts "pciCfgWindow"), or undefined if the request is invalid. */
  private windowTarget(): { bar: number; offset: number; length: number } | undefined {
    const at = this.cfg.cap.pciCfg!;
    const bar = this.cfg.u8(at + VIRTIO_CAP_FIELD.BAR);
    const offset = this.cfg.u32(at + VIRTIO_CAP_FIELD.OFFSET);
    const length = this.cfg.u32(at + VIRTIO_CAP_FIELD.LENGTH);
    const b = barOf(this.layout, bar);
    if (![1, 2, 4].includes(length) || offset % length || !b || offset + length > b.size) return undefined;
    return { bar, offset, length };
  }

  private windowRead(commit: boolean): Uint8Array | undefined {
    const t = this.windowTarget();
    if (!t) return undefined;
    const got = this.barRead(t.bar, t.offset, t.length, commit);
    if (commit) {
      const dataAt = this.cfg.cap.pciCfg! + VIRTIO_CAP_FIELD.PCI_CFG_DATA;
      got.forEach((b, i) => this.cfg.poke(dataAt + i, b));
    }
    return got;
  }

  private windowWrite(): void {
    const t = this.windowTarget();
    if (!t) return;
    const dataAt = this.cfg.cap.pciCfg! + VIRTIO_CAP_FIELD.PCI_CFG_DATA;
    this.barWrite(t.bar, t.offset, this.cfg.read(dataAt, t.length));
  }

  /** FLR (choices.ts "flr"): configuration space, MSI-X and virtio state back to reset values. */
  functionLevelReset(): void {
    this.cfg.reset();
    this.opts.patchConfig?.(this.cfg);
    this.interrupts.resetTable();
    this.common.startReset('flr');
    this.devcfg.hardReset();
    this.interrupts.updateIntx();
    this.emit({ kind: 'bus-master', enabled: false });
  }

  // ==== BAR structures

  /** Byte by byte, structure by structure; bytes of no structure read 0 (choices.ts "unmappedBarBytes"). */
  private barRead(bar: number, off: number, len: number, commit: boolean): Uint8Array {
    const out = new Uint8Array(len);
    for (const r of this.regions) {
      if (r.bar !== bar) continue;
      const from = Math.max(off, r.offset);
      const to = Math.min(off + len, r.offset + r.length);
      if (from >= to) continue;
      out.set(r.read(from - r.offset, to - from, commit), from - off);
    }
    return out;
  }

  private barWrite(bar: number, off: number, data: Uint8Array, mask?: Uint8Array): void {
    const m = mask ?? new Uint8Array(data.length).fill(1);
    for (const r of this.regions) {
      if (r.bar !== bar) continue;
      const from = Math.max(off, r.offset);
      const to = Math.min(off + data.length, r.offset + r.length);
      if (from >= to) continue;
      r.write(from - r.offset, data.subarray(from - off, to - off), m.subarray(from - off, to - off));
    }
  }

  private buildRegions(): BarRegion[] {
    const l = this.layout;
    const fieldRegion = (
      name: string,
      at: { bar: number; offset: number },
      length: number,
      ports: FieldPort[],
      before?: () => void,
    ): BarRegion => ({
      name,
      bar: at.bar,
      offset: at.offset,
      length,
      read: (off, len, commit) => {
        before?.();
        return readFields(ports, off, len, commit);
      },
      write: (off, data, mask) => {
        before?.();
        writeFields(ports, off, data, mask);
      },
      describe: (off, len) => fieldNames(ports, off, len),
    });
    // choices.ts "isr"
    const isrPort: FieldPort = {
      name: 'isr',
      offset: 0,
      width: 1,
      get: () => BigInt(this.interrupts.isr),
      onRead: () => void this.interrupts.readIsr(true),
    };
    const regions = [
      fieldRegion('common', l.common, l.common.length, this.common.ports(), () => this.common.beginAccess()),
      fieldRegion('isr', l.isr, l.isr.length, [isrPort]),
      fieldRegion('msix table', l.msix.table, 16 * l.msix.vectors, this.interrupts.tableFields()),
      fieldRegion('msix pba', l.msix.pba, 8 * Math.ceil(l.msix.vectors / 64), this.interrupts.pbaFields()),
      {
        name: 'notify',
        bar: l.notify.bar,
        offset: l.notify.offset,
        length: l.notify.length,
        read: (_off: number, len: number) => new Uint8Array(len),
        write: (off: number, data: Uint8Array, mask: Uint8Array) =>
          notifyWrite(this.layout, this.common, off, data, mask, (queue, value) =>
            this.emit({ kind: 'notify', queue, value }),
          ),
        describe: (off: number) => `notify+0x${off.toString(16)}`,
      },
    ];
    if (l.device) regions.push(fieldRegion('device', l.device, l.device.length, this.devcfg.ports()));
    return regions;
  }
}
