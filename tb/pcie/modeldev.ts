/**
 * ModelEndpoint: a behavioral PCIe endpoint in TypeScript behind the Link interface, so the
 * root complex can be exercised (and a test written) without Verilator. It is a discrete-event
 * model with a cycle clock: TLPs occupy the rx/tx links for ceil(dwords / lanes) cycles, the
 * device answers after a fixed processing latency.
 *
 * What it implements (a small "test device", like the hardware testdev in spirit, not its map):
 *  - type 0 config space: IDs, command/status (error bits RW1C), BARs with size masks,
 *    capabilities PCIe (0x40) -> MSI-X (0x80) -> vendor (0x90), extended DSN (0x100) ->
 *    vendor-specific (0x140); bus/device number captured from type 0 config writes;
 *    optional CRS answers to the first N config requests.
 *  - BAR0 (16 KB, 64-bit): registers (below), MSI-X table at 0x2000, PBA at 0x3000.
 *    BAR2 (64 KB, 64-bit prefetchable): SRAM. BAR4 (4 KB, 32-bit): scratch SRAM.
 *    Any MMIO width and alignment; reads completed at a 128 B RCB, within MPS.
 *  - A DMA engine copying between host memory and BAR2's SRAM: reads split at MRRS and 4 KB
 *    with up to `dmaTags` tags outstanding, completions reassembled and checked; writes split
 *    at MPS and 4 KB. Errors (UR, CA, poisoned, completion timeout, unexpected completion,
 *    bad completion) end up in DMA_STATUS and the PCI status register.
 *  - MSI-X with per-vector and function masks and pending bits.
 *
 * BAR0 registers (32-bit unless noted):
 *   0x00 ID (RO 0x7e570001)   0x04 SCRATCH   0x08 SCRATCH64 (64-bit)
 *   0x10 DMA_HOST_LO  0x14 DMA_HOST_HI  0x18 DMA_DEV (SRAM offset)  0x1c DMA_LEN (bytes)
 *   0x20 DMA_CTRL (write: bits 1:0 = 1 host->SRAM, 2 SRAM->host; bit 8 = MSI-X on completion,
 *        bits 23:16 = its vector)
 *   0x24 DMA_STATUS (bit 0 busy, 1 done, 2 UR, 3 CA, 4 poisoned, 5 timeout, 6 unexpected
 *        completion, 7 bad completion, 8 bus mastering off; bits 1..8 write-1-to-clear)
 *   0x28 DMA_DONE_COUNT (RO)   0x2c IRQ (write v: signal MSI-X vector v)
 */
import { ReadReassembly, splitReadCompletions } from './completions';
import { TimedEndpoint, type TimedEvent } from './timedendpoint';
import type { RawTlp } from '../../sim/raw';
import { byteRangeToDwords, splitAccess } from './requester';
import {
  CplStatus,
  decodeTlp,
  memReqByteRange,
  payloadByteMask,
  readCompletionByteCount,
  completionLowerAddress,
  type CplDTlp,
  type CplTlp,
  type MemReadTlp,
  type MemWriteTlp,
  type Tlp,
} from './tlp';

export const MODEL_REGS = {
  ID: 0x00,
  SCRATCH: 0x04,
  SCRATCH64: 0x08,
  DMA_HOST_LO: 0x10,
  DMA_HOST_HI: 0x14,
  DMA_DEV: 0x18,
  DMA_LEN: 0x1c,
  DMA_CTRL: 0x20,
  DMA_STATUS: 0x24,
  DMA_DONE_COUNT: 0x28,
  IRQ: 0x2c,
  MSIX_TABLE: 0x2000,
  MSIX_PBA: 0x3000,
} as const;
export const MODEL_ID = 0x7e57_0001;
export const DMA_TO_DEVICE = 1;
export const DMA_FROM_DEVICE = 2;
export const DMA_IRQ = 1 << 8;
export const DMA_STATUS = {
  BUSY: 1,
  DONE: 2,
  UR: 4,
  CA: 8,
  POISON: 16,
  TIMEOUT: 32,
  UNEXPECTED: 64,
  BAD_CPL: 128,
  NO_BME: 256,
} as const;

export interface ModelEndpointOptions {
  vendorId?: number;
  deviceId?: number;
  /** Dwords per cycle on each link direction (8 = 256-bit). Default 8. */
  lanes?: number;
  /** Cycles from receiving a request to starting its answer. Default 4. */
  latency?: number;
  /** Max_Payload_Size the device supports. Default 512. */
  mpsSupported?: number;
  /** Tags the DMA engine uses (at most 32 unless extended tags are enabled, then up to 256). Default 32. */
  dmaTags?: number;
  /** Device completion timeout for DMA reads, cycles. Default 20,000. */
  completionTimeout?: number;
  /** Answer the first N config requests with CRS. Default 0. */
  crs?: number;
  msixVectors?: number;
  /** Misbehaviours for negative tests. */
  quirks?: {
    /** Split MMIO read completions at 64 B (an endpoint must use 128 B). */
    rcb64?: boolean;
    /** DMA writes ignore MPS (up to 1024 bytes per TLP, still within 4 KB). */
    ignoreMps?: boolean;
    /** Send MSI-X messages even when masked. */
    ignoreMask?: boolean;
  };
}

interface DmaRead {
  tag: number;
  poisoned?: boolean;
  reasm: ReadReassembly;
  sramOff: number;
  len: number;
  deadline: number;
  timer: TimedEvent;
}

const u32 = (b: Uint8Array, o: number) => (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0;
const put32 = (b: Uint8Array, o: number, v: number) => {
  b[o] = v & 0xff;
  b[o + 1] = (v >>> 8) & 0xff;
  b[o + 2] = (v >>> 16) & 0xff;
  b[o + 3] = (v >>> 24) & 0xff;
};

export class ModelEndpoint extends TimedEndpoint {
  readonly cfg = new Uint8Array(4096);
  /** Per config byte: bits software may write (1) and bits that are write-1-to-clear (w1c). Tests may change `cfg`
   * and `wmask` to shape the config space (a BAR size, a hardwired control bit). */
  readonly wmask = new Uint8Array(4096);
  private readonly w1c = new Uint8Array(4096);
  readonly regs = new Uint8Array(0x4000); // BAR0
  readonly sram = new Uint8Array(0x1_0000); // BAR2
  readonly scratch = new Uint8Array(0x1000); // BAR4
  readonly barSizes = [0x4000n, 0n, 0x1_0000n, 0n, 0x1000n, 0n];
  /** Bus/device/function captured from config writes. */
  id = 0;
  private readonly o: Required<Omit<ModelEndpointOptions, 'quirks'>> & {
    quirks: NonNullable<ModelEndpointOptions['quirks']>;
  };
  private crsLeft: number;
  private readonly pending: boolean[];
  // DMA engine state
  private dma?: {
    dir: number;
    host: bigint;
    dev: number;
    len: number;
    ctrl: number;
    reads: Map<number, DmaRead>;
    queue: { addr: bigint; len: number; sramOff: number }[];
    failed: boolean;
  };
  private readonly freeTags: number[] = [];
  /** Every TLP the model received, decoded (for tests). */
  readonly received: Tlp[] = [];

  constructor(opts: ModelEndpointOptions = {}) {
    super({ lanes: opts.lanes ?? 8, latency: opts.latency ?? 4 }, 'ModelEndpoint');
    this.o = {
      vendorId: opts.vendorId ?? 0x1234,
      deviceId: opts.deviceId ?? 0x5678,
      lanes: opts.lanes ?? 8,
      latency: opts.latency ?? 4,
      mpsSupported: opts.mpsSupported ?? 512,
      dmaTags: opts.dmaTags ?? 32,
      completionTimeout: opts.completionTimeout ?? 20_000,
      crs: opts.crs ?? 0,
      msixVectors: opts.msixVectors ?? 8,
      quirks: opts.quirks ?? {},
    };
    this.crsLeft = this.o.crs;
    this.pending = new Array(this.o.msixVectors).fill(false);
    this.buildConfig();
    put32(this.regs, MODEL_REGS.ID, MODEL_ID);
    for (let v = 0; v < this.o.msixVectors; v++) this.regs[MODEL_REGS.MSIX_TABLE + 16 * v + 12] = 1; // masked at reset
  }

  // ==== config space ====

  private buildConfig(): void {
    const c = this.cfg;
    const set16 = (o: number, v: number) => {
      c[o] = v & 0xff;
      c[o + 1] = v >> 8;
    };
    const mask16 = (o: number, m: number, w1c = 0) => {
      this.wmask[o] = m & 0xff;
      this.wmask[o + 1] = m >> 8;
      this.w1c[o] = w1c & 0xff;
      this.w1c[o + 1] = w1c >> 8;
    };
    set16(0x00, this.o.vendorId);
    set16(0x02, this.o.deviceId);
    mask16(0x04, 0x0546); // MEM, MASTER, PARITY, SERR, INTX_DISABLE
    set16(0x06, 0x0010); // capability list
    mask16(0x06, 0, 0xf900); // error bits RW1C
    put32(c, 0x08, 0xff00_0001); // class ff0000 (unassigned), revision 1
    c[0x0c] = 0x10; // cache line size (RW)
    this.wmask[0x0c] = 0xff;
    c[0x0e] = 0x00; // header type 0
    // BARs: 0 = 64-bit non-prefetchable, 2 = 64-bit prefetchable, 4 = 32-bit.
    c[0x10] = 0x04;
    c[0x18] = 0x0c;
    c[0x20] = 0x00;
    for (const [i, size] of this.barSizes.entries()) {
      if (size === 0n) continue;
      const m = Number(~(size - 1n) & 0xffff_fff0n);
      put32(this.wmask, 0x10 + 4 * i, m);
      if (c[0x10 + 4 * i] & 4) put32(this.wmask, 0x14 + 4 * i, 0xffff_ffff);
    }
    set16(0x2c, 0x1af4);
    set16(0x2e, 0x0001);
    c[0x34] = 0x40;
    c[0x3c] = 0;
    this.wmask[0x3c] = 0xff;
    // PCI Express capability (version 2, endpoint).
    c[0x40] = 0x10;
    c[0x41] = 0x80;
    set16(0x42, 0x0002);
    put32(c, 0x44, Math.log2(this.o.mpsSupported / 128) | 0x20); // MPS supported, extended tag
    set16(0x48, 2 << 12); // MRRS 512 at reset, MPS 128, extended tags off
    mask16(0x48, 0x7fff); // DevCtl: all but FLR
    mask16(0x4a, 0, 0x000f); // DevSta error bits RW1C
    put32(c, 0x4c, 0x0000_0081); // link cap: x8? (informational)
    mask16(0x50, 0x0008); // LnkCtl RCB
    put32(c, 0x64, 0x0003_0000); // DevCap2: 10-bit tag completer + requester
    mask16(0x68, 0x1000); // DevCtl2: 10-bit tag requester enable
    // MSI-X.
    c[0x80] = 0x11;
    c[0x81] = 0x90;
    set16(0x82, this.o.msixVectors - 1);
    mask16(0x82, 0xc000);
    put32(c, 0x84, MODEL_REGS.MSIX_TABLE | 0);
    put32(c, 0x88, MODEL_REGS.MSIX_PBA | 0);
    // Vendor-specific capability, 16 bytes.
    c[0x90] = 0x09;
    c[0x91] = 0x00;
    c[0x92] = 0x10;
    put32(c, 0x94, 0x7e57_cafe);
    // Extended: Device Serial Number -> vendor-specific extended capability.
    put32(c, 0x100, 0x0003 | (1 << 16) | (0x140 << 20));
    put32(c, 0x104, 0x89ab_cdef);
    put32(c, 0x108, 0x0123_4567);
    put32(c, 0x140, 0x000b | (1 << 16) | (0 << 20));
    put32(c, 0x144, 0x0010_0001);
  }

  private get command(): number {
    return this.cfg[4] | (this.cfg[5] << 8);
  }
  private get devctl(): number {
    return this.cfg[0x48] | (this.cfg[0x49] << 8);
  }
  /** MPS the device must respect (its Device Control). */
  get mps(): number {
    return 128 << ((this.devctl >> 5) & 7);
  }
  get mrrs(): number {
    return 128 << ((this.devctl >> 12) & 7);
  }
  private get rcRcb(): number {
    return this.cfg[0x50] & 8 ? 128 : 64;
  }
  private setStatus(bits: number): void {
    this.cfg[6] |= bits & 0xff;
    this.cfg[7] |= bits >> 8;
  }

  private cfgWrite(off: number, be: number, data: Uint8Array): void {
    for (let b = 0; b < 4; b++) {
      if (!(be & (1 << b))) continue;
      const o = off + b;
      const v = data[b];
      this.cfg[o] = ((this.cfg[o] & ~this.wmask[o]) | (v & this.wmask[o])) & ~(v & this.w1c[o]) & 0xff;
    }
    this.deliverPending();
  }

  // ==== receive ====

  protected receive(raw: RawTlp): void {
    let t: Tlp;
    try {
      t = decodeTlp(raw);
    } catch {
      return; // a real device would log a malformed TLP; the model drops it
    }
    this.received.push(t);
    switch (t.type) {
      case 'CfgRd0':
      case 'CfgWr0': {
        const cpl = { completerId: this.id, requesterId: t.requesterId, tag: t.tag, byteCount: 4, lowerAddress: 0 };
        if (this.crsLeft > 0) {
          this.crsLeft--;
          this.emit({ type: 'Cpl', ...cpl, status: CplStatus.CRS });
          return;
        }
        if (t.type === 'CfgWr0') {
          this.id = t.completerId; // capture bus/device/function
          this.cfgWrite(t.offset, t.firstBe, t.data);
          this.emit({ type: 'Cpl', ...cpl, completerId: this.id, status: CplStatus.SC });
        } else {
          this.emit({ type: 'CplD', ...cpl, status: CplStatus.SC, data: this.cfg.slice(t.offset, t.offset + 4) });
        }
        return;
      }
      case 'MRd':
        return this.mmioRead(t);
      case 'MWr':
        return this.mmioWrite(t);
      case 'Cpl':
      case 'CplD':
        return this.dmaCompletion(t);
      default:
        return; // config type 1, messages: ignored
    }
  }

  /** The BAR and offset an address hits, if memory decoding is on. */
  private decode(addr: bigint, len: number): { bar: number; off: number } | undefined {
    if (!(this.command & 2)) return undefined;
    for (const bar of [0, 2, 4]) {
      const lo = u32(this.cfg, 0x10 + 4 * bar) & ~0xf;
      const hi = this.cfg[0x10 + 4 * bar] & 4 ? u32(this.cfg, 0x14 + 4 * bar) : 0;
      const base = (BigInt(hi) << 32n) | BigInt(lo >>> 0);
      const size = this.barSizes[bar];
      if (base !== 0n && addr >= base && addr + BigInt(len) <= base + size) return { bar, off: Number(addr - base) };
    }
    return undefined;
  }

  private mmioRead(t: MemReadTlp): void {
    const range = memReqByteRange(t);
    const hit = this.decode(t.address, t.length * 4);
    const cplBase = { completerId: this.id, requesterId: t.requesterId, tag: t.tag, tc: t.tc, attr: t.attr };
    if (!hit) {
      this.emit({
        type: 'Cpl',
        ...cplBase,
        status: CplStatus.UR,
        byteCount: readCompletionByteCount(t.length, t.firstBe, t.lastBe),
        lowerAddress: completionLowerAddress(t.address, t.firstBe),
      });
      return;
    }
    const buf = new Uint8Array(t.length * 4);
    if (range.bytes > 0)
      buf.set(
        this.barRead(hit.bar, hit.off + Number(range.addr - t.address), range.bytes),
        Number(range.addr - t.address),
      );
    for (const c of splitReadCompletions(t, { rcb: this.o.quirks.rcb64 ? 64 : 128, mps: this.mps, mode: 'max' })) {
      this.emit({
        type: 'CplD',
        ...cplBase,
        status: CplStatus.SC,
        byteCount: c.byteCount,
        lowerAddress: c.lowerAddress,
        data: buf.slice(c.offset, c.offset + 4 * c.lengthDw),
      });
    }
  }

  private mmioWrite(t: MemWriteTlp): void {
    const hit = this.decode(t.address, t.data.length);
    if (!hit) return; // posted: an unsupported write is dropped (and would be logged)
    const mask = payloadByteMask(t.data.length / 4, t.firstBe, t.lastBe);
    for (let i = 0; i < t.data.length; i++) if (mask[i]) this.barWriteByte(hit.bar, hit.off + i, t.data[i]);
    if (hit.bar === 0) this.afterRegWrite(hit.off, t.data.length, mask);
  }

  private barRead(bar: number, off: number, len: number): Uint8Array {
    if (bar === 2) return this.sram.slice(off, off + len);
    if (bar === 4) return this.scratch.slice(off, off + len);
    // PBA is computed.
    for (let v = 0; v < this.o.msixVectors; v++) {
      const bit = MODEL_REGS.MSIX_PBA * 8 + v;
      if (this.pending[v]) this.regs[bit >> 3] |= 1 << (bit & 7);
      else this.regs[bit >> 3] &= ~(1 << (bit & 7));
    }
    return this.regs.slice(off, off + len);
  }

  private barWriteByte(bar: number, off: number, v: number): void {
    if (bar === 2) this.sram[off] = v;
    else if (bar === 4) this.scratch[off] = v;
    else {
      if (
        off < 4 ||
        (off >= MODEL_REGS.DMA_DONE_COUNT && off < MODEL_REGS.DMA_DONE_COUNT + 4) ||
        off >= MODEL_REGS.MSIX_PBA
      )
        return; // RO
      if (off >= MODEL_REGS.DMA_STATUS && off < MODEL_REGS.DMA_STATUS + 4) {
        this.regs[off] &= ~v; // W1C (busy is not clearable)
        this.regs[MODEL_REGS.DMA_STATUS] |= this.dma ? DMA_STATUS.BUSY : 0;
        return;
      }
      this.regs[off] = v;
    }
  }

  private afterRegWrite(off: number, len: number, mask: Uint8Array): void {
    const touched = (reg: number) => {
      for (let i = 0; i < len; i++) if (mask[i] && off + i >= reg && off + i < reg + 4) return true;
      return false;
    };
    if (touched(MODEL_REGS.DMA_CTRL)) this.startDma(u32(this.regs, MODEL_REGS.DMA_CTRL));
    if (touched(MODEL_REGS.IRQ)) this.signal(u32(this.regs, MODEL_REGS.IRQ));
    if (off < MODEL_REGS.MSIX_PBA && off + len > MODEL_REGS.MSIX_TABLE) this.deliverPending();
  }

  // ==== MSI-X ====

  private signal(vector: number): void {
    if (vector >= this.o.msixVectors) return;
    const ctrl = this.cfg[0x82] | (this.cfg[0x83] << 8);
    if (!(ctrl & 0x8000)) return; // MSI-X disabled (no INTx in this model)
    const e = MODEL_REGS.MSIX_TABLE + 16 * vector;
    const masked = (ctrl & 0x4000) !== 0 || (this.regs[e + 12] & 1) !== 0;
    if (masked && !this.o.quirks.ignoreMask) {
      this.pending[vector] = true;
      return;
    }
    if (!(this.command & 4)) {
      this.pending[vector] = true; // cannot send without bus mastering
      return;
    }
    this.pending[vector] = false;
    const address = (BigInt(u32(this.regs, e + 4)) << 32n) | BigInt(u32(this.regs, e));
    this.emit({
      type: 'MWr',
      address,
      firstBe: 0xf,
      lastBe: 0,
      requesterId: this.id,
      tag: 0,
      data: this.regs.slice(e + 8, e + 12),
    });
  }

  private deliverPending(): void {
    for (let v = 0; v < this.o.msixVectors; v++) if (this.pending[v]) this.signal(v);
  }

  // ==== DMA engine ====

  private setDmaStatus(bits: number): void {
    put32(this.regs, MODEL_REGS.DMA_STATUS, u32(this.regs, MODEL_REGS.DMA_STATUS) | bits);
  }

  private startDma(ctrl: number): void {
    if (this.dma) return; // busy: ignored
    const dir = ctrl & 3;
    if (dir !== DMA_TO_DEVICE && dir !== DMA_FROM_DEVICE) return;
    const host =
      (BigInt(u32(this.regs, MODEL_REGS.DMA_HOST_HI)) << 32n) | BigInt(u32(this.regs, MODEL_REGS.DMA_HOST_LO));
    const dev = u32(this.regs, MODEL_REGS.DMA_DEV) % this.sram.length;
    const len = Math.min(u32(this.regs, MODEL_REGS.DMA_LEN), this.sram.length - dev);
    if (!(this.command & 4)) {
      this.setDmaStatus(DMA_STATUS.NO_BME | DMA_STATUS.DONE);
      return;
    }
    this.dma = { dir, host, dev, len, ctrl, reads: new Map(), queue: [], failed: false };
    this.setDmaStatus(DMA_STATUS.BUSY);
    if (len === 0) return this.finishDma();
    if (dir === DMA_FROM_DEVICE) {
      const max = this.o.quirks.ignoreMps ? 1024 : this.mps;
      for (const p of splitAccess(host, len, max)) {
        const off = dev + Number(p.addr - host);
        const d = byteRangeToDwords(p.addr, p.len);
        const data = new Uint8Array(d.length * 4);
        data.set(this.sram.subarray(off, off + p.len), Number(p.addr & 3n));
        this.emit({ type: 'MWr', ...d, requesterId: this.id, tag: 0, data });
      }
      this.finishDma();
      return;
    }
    // Reads: queue the pieces, issue as tags allow.
    const ext = (this.devctl & 0x100) !== 0;
    const ntags = Math.min(this.o.dmaTags, ext ? 256 : 32);
    this.freeTags.length = 0;
    for (let i = 0; i < ntags; i++) this.freeTags.push(i);
    for (const p of splitAccess(host, len, this.mrrs))
      this.dma.queue.push({ addr: p.addr, len: p.len, sramOff: dev + Number(p.addr - host) });
    this.issueReads();
  }

  private issueReads(): void {
    const d = this.dma;
    if (!d) return;
    while (!d.failed && d.queue.length && this.freeTags.length) {
      const p = d.queue.shift()!;
      const tag = this.freeTags.shift()!;
      const req = { type: 'MRd' as const, ...byteRangeToDwords(p.addr, p.len), requesterId: this.id, tag };
      const deadline = this.cycle + this.o.completionTimeout;
      const entry: DmaRead = {
        tag,
        reasm: new ReadReassembly(req, { rcb: this.rcRcb, mps: this.mps }),
        sramOff: p.sramOff,
        len: p.len,
        deadline,
        timer: this.schedule(deadline, () => {
          // Completion timeout: give up on this tag.
          d.reads.delete(tag);
          this.freeTags.push(tag);
          this.fail(DMA_STATUS.TIMEOUT);
        }),
      };
      d.reads.set(tag, entry);
      this.emit(req);
    }
    if (d.reads.size === 0 && (d.queue.length === 0 || d.failed)) this.finishDma();
  }

  private fail(bit: number): void {
    if (!this.dma) return;
    this.setDmaStatus(bit);
    this.dma.failed = true;
    this.issueReads();
  }

  private dmaCompletion(t: CplTlp | CplDTlp): void {
    const d = this.dma;
    const r = d?.reads.get(t.tag);
    if (!d || !r || t.requesterId !== this.id) {
      this.setDmaStatus(DMA_STATUS.UNEXPECTED);
      this.cfg[0x4a] |= 0x01; // correctable error detected (unexpected completion is advisory)
      return;
    }
    const done = () => {
      this.cancel(r.timer);
      d.reads.delete(t.tag);
      this.freeTags.push(t.tag);
    };
    if (t.status !== CplStatus.SC) {
      done();
      if (t.status === CplStatus.UR)
        this.setStatus(0x2000); // received master abort
      else this.setStatus(0x1000); // received target abort
      this.fail(t.status === CplStatus.UR ? DMA_STATUS.UR : DMA_STATUS.CA);
      return;
    }
    if (t.type !== 'CplD') {
      done();
      this.fail(DMA_STATUS.BAD_CPL);
      return;
    }
    const p = r.reasm.accept(t);
    if (p) {
      done();
      this.fail(DMA_STATUS.BAD_CPL);
      return;
    }
    if (t.ep && !r.poisoned) {
      // The data is bad, but the rest of the request's completions still belong to this tag.
      r.poisoned = true;
      this.setStatus(0x8000 | (this.command & 0x40 ? 0x0100 : 0)); // detected parity error (+ master data parity error)
      this.setDmaStatus(DMA_STATUS.POISON);
      d.failed = true;
    }
    if (r.reasm.done) {
      done();
      if (!d.failed) this.sram.set(r.reasm.data.subarray(0, r.len), r.sramOff);
    }
    this.issueReads();
  }

  private finishDma(): void {
    const d = this.dma!;
    this.dma = undefined;
    put32(
      this.regs,
      MODEL_REGS.DMA_STATUS,
      (u32(this.regs, MODEL_REGS.DMA_STATUS) & ~DMA_STATUS.BUSY) | DMA_STATUS.DONE,
    );
    put32(this.regs, MODEL_REGS.DMA_DONE_COUNT, u32(this.regs, MODEL_REGS.DMA_DONE_COUNT) + 1);
    if (d.ctrl & DMA_IRQ) this.signal((d.ctrl >>> 16) & 0xff);
  }
}
