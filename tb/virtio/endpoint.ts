// A virtio-pci function in TypeScript behind the root complex's Link interface: the golden model answers every
// configuration and memory request, and its interrupts leave as MSI-X memory writes or INTx messages. With it the
// driver model (tb/virtio/driver) runs without RTL, on any layout. The link timing is tb/pcie's TimedEndpoint
// (lanes per cycle, a fixed processing latency), the same as ModelEndpoint's.
import { splitReadCompletions } from '../pcie/completions';
import { leBytes } from '../pcie/hostmem';
import type { RawTlp } from '../../sim/raw';
import { TimedEndpoint } from '../pcie/timedendpoint';
import {
  CplStatus,
  MsgCode,
  MsgRouting,
  completionLowerAddress,
  decodeTlp,
  memReqByteRange,
  payloadByteMask,
  readCompletionByteCount,
  type CfgReadTlp,
  type CfgWriteTlp,
  type MemReadTlp,
  type MemWriteTlp,
  type Tlp,
} from '../pcie/tlp';
import type { VirtioPciLayout } from '../../gen/virtio/layout';
import { GoldenTransport, type GoldenOptions } from './golden/transport';

export interface VirtioEndpointOptions extends Omit<GoldenOptions, 'sink'> {
  /** Dwords per cycle on each link direction. Default 8 (256-bit). */
  lanes?: number;
  /** Cycles from receiving a request to starting its answer. Default 4. */
  latency?: number;
}

export class VirtioEndpoint extends TimedEndpoint {
  readonly golden: GoldenTransport;
  /** Bus/device/function captured from configuration writes. */
  id = 0;
  /** Every TLP received, decoded (tests). */
  readonly received: Tlp[] = [];

  constructor(
    readonly layout: VirtioPciLayout,
    opts: VirtioEndpointOptions = {},
  ) {
    super({ lanes: opts.lanes ?? 8, latency: opts.latency ?? 4 }, 'VirtioEndpoint');
    this.golden = new GoldenTransport(layout, {
      ...opts,
      sink: {
        msix: (_vector, address, data) =>
          this.emit({
            type: 'MWr',
            address,
            firstBe: 0xf,
            lastBe: 0,
            requesterId: this.id,
            tag: 0,
            data: leBytes(BigInt(data), 4),
          }),
        intx: (asserted) =>
          this.emit({
            type: 'Msg',
            routing: MsgRouting.Local,
            code: asserted ? MsgCode.Assert_INTA : MsgCode.Deassert_INTA,
            requesterId: this.id,
            tag: 0,
          }),
      },
    });
  }

  // ==== requests

  protected receive(raw: RawTlp): void {
    let t: Tlp;
    try {
      t = decodeTlp(raw);
    } catch {
      return; // malformed: a real device logs and drops it
    }
    this.received.push(t);
    switch (t.type) {
      case 'CfgRd0':
      case 'CfgWr0':
        return this.config(t);
      case 'MRd':
        return this.memRead(t);
      case 'MWr':
        return this.memWrite(t);
      case 'MRdLk':
      case 'CfgRd1':
      case 'CfgWr1':
        this.golden.noteUnsupportedRequest();
        return this.emit({
          type: 'Cpl',
          completerId: this.id,
          requesterId: t.requesterId,
          tag: t.tag,
          status: CplStatus.UR,
          byteCount: t.type === 'MRdLk' ? readCompletionByteCount(t.length, t.firstBe, t.lastBe) : 4,
          lowerAddress: t.type === 'MRdLk' ? completionLowerAddress(t.address, t.firstBe) : 0,
        });
      default:
        return; // completions (this function never requests), messages
    }
  }

  private config(t: CfgReadTlp | CfgWriteTlp): void {
    const be = t.firstBe;
    let lo = 0;
    while (lo < 4 && !(be & (1 << lo))) lo++;
    let hi = 3;
    while (hi >= 0 && !(be & (1 << hi))) hi--;
    const access = { space: 'cfg' as const, offset: t.offset + lo, size: hi - lo + 1 };
    const cpl = { completerId: this.id, requesterId: t.requesterId, tag: t.tag, byteCount: 4, lowerAddress: 0 };
    if (t.completerId & 7) {
      // One function: a request to another is an Unsupported Request.
      this.golden.noteUnsupportedRequest();
      this.emit({ type: 'Cpl', ...cpl, status: CplStatus.UR });
      return;
    }
    if (t.type === 'CfgWr0') {
      this.id = t.completerId;
      if (be) {
        const mask = payloadByteMask(1, be, 0).subarray(lo, hi + 1);
        this.golden.write(access, t.data.slice(lo, hi + 1), mask);
      }
      this.emit({ type: 'Cpl', ...cpl, completerId: this.id, status: CplStatus.SC });
      return;
    }
    const data = new Uint8Array(4);
    if (be) data.set(this.golden.read(access), lo);
    this.emit({ type: 'CplD', ...cpl, status: CplStatus.SC, data });
  }

  private memRead(t: MemReadTlp): void {
    const range = memReqByteRange(t);
    const hit = this.golden.claim(range.addr, range.bytes);
    const base = { completerId: this.id, requesterId: t.requesterId, tag: t.tag, tc: t.tc, attr: t.attr };
    if (!hit) {
      this.golden.noteUnsupportedRequest();
      this.emit({
        type: 'Cpl',
        ...base,
        status: CplStatus.UR,
        byteCount: readCompletionByteCount(t.length, t.firstBe, t.lastBe),
        lowerAddress: completionLowerAddress(t.address, t.firstBe),
      });
      return;
    }
    if (this.golden.abortsRead(t.length)) {
      // choices.ts "longReads"
      this.golden.noteCompleterAbort();
      this.emit({
        type: 'Cpl',
        ...base,
        status: CplStatus.CA,
        byteCount: readCompletionByteCount(t.length, t.firstBe, t.lastBe),
        lowerAddress: completionLowerAddress(t.address, t.firstBe),
      });
      return;
    }
    const buf = new Uint8Array(t.length * 4); // choices.ts "readSpan"
    if (range.bytes > 0)
      buf.set(this.golden.read({ space: 'bar', ...hit, size: range.bytes }), Number(range.addr - t.address));
    for (const c of splitReadCompletions(t, { rcb: 128, mps: this.golden.maxPayload, mode: 'max' }))
      this.emit({
        type: 'CplD',
        ...base,
        status: CplStatus.SC,
        byteCount: c.byteCount,
        lowerAddress: c.lowerAddress,
        data: buf.slice(c.offset, c.offset + 4 * c.lengthDw),
      });
  }

  private memWrite(t: MemWriteTlp): void {
    const range = memReqByteRange(t);
    if (range.bytes === 0) return;
    const hit = this.golden.claim(range.addr, range.bytes);
    if (!hit) return this.golden.noteUnsupportedRequest(); // posted: dropped
    const from = Number(range.addr - t.address);
    const mask = payloadByteMask(t.data.length / 4, t.firstBe, t.lastBe).subarray(from, from + range.bytes);
    this.golden.write({ space: 'bar', ...hit, size: range.bytes }, t.data.slice(from, from + range.bytes), mask);
  }
}
