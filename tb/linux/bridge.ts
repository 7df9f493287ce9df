// The PCI side of the Linux bridge: the guest's configuration and BAR accesses (sim/vhost PciRequest) become
// CfgRd0/CfgWr0 and MRd/MWr TLPs through the root-complex model into the Verilated virtio endpoint; the device's
// DMA lands in the guest's memory, mapped into the root complex's host memory as caller-backed regions (no copies);
// the device's MSI-X writes become OP_MSI messages with the data the guest programmed. Every check of the root
// complex stays on (a violation throws from the pump with the TLP that caused it), and the CheckedLink compares
// every register read of the RTL with the golden transport.
//
// The data plane is pluggable (DataPlane): the RTL one (rtl-dataplane.ts: the whole virtio-blk function serves its
// queues itself) or the golden one (golden-dataplane.ts: the golden models serve the queues the RTL control plane
// hands over).
import type { VirtioPciLayout } from '../../gen/virtio/layout';
import { PCI_BASE_ADDRESS_0 } from '../pcie/cfgspace';
import type { RootComplex } from '../pcie/rootcomplex';
import type { TapLink } from '../pcie/link';
import type { CheckedLink } from '../virtio/checker';

/** One guest access, as sim/vhost decodes it (kept structural: tb/ does not depend on the back-end). */
export interface GuestPciRequest {
  op: 'cfg-read' | 'cfg-write' | 'mmio-read' | 'mmio-write' | 'mmio-memset';
  bar: number;
  offset: number;
  size: number;
  data: Uint8Array;
}

/**
 * What serves the queues behind the control plane. The golden one (golden-dataplane.ts) serves a queue when the
 * RTL reports its doorbell. The RTL one (rtl-dataplane.ts) is a pump: the whole function does the queue work and
 * its DMA itself (-> the root complex -> the guest's memory), and service() clocks the model while it is busy (the
 * loop clocks it only when the guest asks for something otherwise).
 */
export interface DataPlane {
  readonly name: string;
  /** Called after every batch of guest accesses and whenever the loop is idle: serve what the device may; true if it did anything. */
  service(): boolean;
  /** The disk's bytes, for the host's check of what the guest wrote. */
  readDisk(offset: number, length: number): Uint8Array;
  /** Features negotiated on the queues, for the report. */
  summary(): Record<string, string | number>;
}

export interface BridgeParts {
  rc: RootComplex;
  link: CheckedLink;
  tap: TapLink;
  /** The simulated device: the bridge waits until it took the posted writes queued for it. */
  device: { readonly rxPending: number };
}

/** Config space size a guest may address (PCIe extended configuration space). */
const CFG_SPACE = 4096;

export class PciBridge {
  private readonly bars = new Map<number, bigint>();
  readonly counts = { cfgReads: 0, cfgWrites: 0, mmioReads: 0, mmioWrites: 0, memsets: 0, msi: 0 };
  private postedSinceSync = false;

  constructor(
    readonly parts: BridgeParts,
    private readonly layout: VirtioPciLayout,
    private readonly sendMsi: (data: number) => void,
  ) {
    // The guest enumerates, not the root complex: tell its shadow where the capabilities are (the design's layout),
    // so it follows Device Control and MSI-X Message Control as the guest writes them.
    parts.rc.shadow.pcieCap = layout.caps.at.pcie;
    parts.rc.shadow.msixCap = layout.caps.at.msix;
    parts.rc.onInterrupt((ev) => {
      this.counts.msi++;
      this.sendMsi(ev.data);
    });
  }

  get rc(): RootComplex {
    return this.parts.rc;
  }

  /** One guest access; the answer (little-endian, `size` bytes) for reads. */
  handle(r: GuestPciRequest): Uint8Array | undefined {
    switch (r.op) {
      case 'cfg-read':
        this.counts.cfgReads++;
        this.syncPosted();
        return this.cfgRead(r.offset, r.size);
      case 'cfg-write':
        this.counts.cfgWrites++;
        this.syncPosted();
        this.cfgWrite(r.offset, r.data);
        return undefined;
      case 'mmio-read':
        this.counts.mmioReads++;
        this.syncPosted();
        return this.rc.memRead(this.barAddress(r.bar) + BigInt(r.offset), r.size);
      case 'mmio-write':
        this.counts.mmioWrites++;
        this.rc.memWrite(this.barAddress(r.bar) + BigInt(r.offset), r.data.slice());
        this.postedSinceSync = true;
        return undefined;
      case 'mmio-memset':
        this.counts.memsets++;
        this.rc.memWrite(this.barAddress(r.bar) + BigInt(r.offset), new Uint8Array(r.size).fill(r.data[0]));
        this.postedSinceSync = true;
        return undefined;
    }
  }

  /**
   * Lets posted writes reach the device and act (a doorbell's notify pulse, an MSI-X unmask's pending message):
   * pumps until the RTL took every TLP queued for it, plus a few cycles.
   */
  syncPosted(): void {
    if (!this.postedSinceSync) return;
    this.postedSinceSync = false;
    const ep = this.parts.device;
    // Short steps: a long one would clock the idle model up to the pump's window (4096 cycles) per batch.
    for (let n = 0; ep.rxPending > 0; n++) {
      if (n > 100_000) throw new Error(`bridge: the endpoint has not taken its posted writes in ${n * 16} cycles`);
      this.rc.step({ maxCycles: 16 });
    }
    this.rc.step({ maxCycles: 32 });
  }

  private cfgRead(offset: number, size: number): Uint8Array {
    const out = new Uint8Array(size);
    if (offset + size > CFG_SPACE) return out.fill(0xff);
    // Within one DWORD the root complex reads it as asked; a wider access (size 8) is two.
    for (let at = 0; at < size;) {
      const o = offset + at;
      const n = Math.min(size - at, 4 - (o & 3));
      const len = n === 3 ? 2 : n;
      const v = this.rc.cfgRead(o, len as 1 | 2 | 4);
      for (let i = 0; i < len; i++) out[at + i] = (v >>> (8 * i)) & 0xff;
      at += len;
    }
    return out;
  }

  private cfgWrite(offset: number, data: Uint8Array): void {
    if (offset + data.length > CFG_SPACE) return;
    for (let at = 0; at < data.length;) {
      const o = offset + at;
      const n = Math.min(data.length - at, 4 - (o & 3));
      const len = n === 3 ? 2 : n;
      let v = 0;
      for (let i = 0; i < len; i++) v |= data[at + i] << (8 * i);
      this.rc.cfgWrite(o, v >>> 0, len as 1 | 2 | 4);
      at += len;
    }
    // A BAR may have moved.
    if (offset < PCI_BASE_ADDRESS_0 + 24 && offset + data.length > PCI_BASE_ADDRESS_0) this.bars.clear();
  }

  /** The address the guest gave BAR `bar`, read back from the device's configuration space. */
  private barAddress(bar: number): bigint {
    const known = this.bars.get(bar);
    if (known !== undefined) return known;
    if (bar > 5) throw new Error(`bridge: a BAR access names BAR ${bar}`);
    const lo = this.rc.cfgRead(PCI_BASE_ADDRESS_0 + 4 * bar, 4) >>> 0;
    if (lo & 1) throw new Error(`bridge: BAR ${bar} is an I/O BAR`);
    let addr = BigInt((lo & ~0xf) >>> 0);
    if (((lo >> 1) & 3) === 2) addr |= BigInt(this.rc.cfgRead(PCI_BASE_ADDRESS_0 + 4 * bar + 4, 4) >>> 0) << 32n;
    this.bars.set(bar, addr);
    // The MSI-X table moves with its BAR: the root complex's shadow follows the guest's writes to it.
    const t = this.layout.msix.table;
    const at = addr + BigInt(t.offset);
    if (bar === t.bar && this.rc.shadow.msixTable?.address !== at)
      this.rc.shadow.setMsixTable(at, this.layout.msix.vectors);
    return addr;
  }
}
