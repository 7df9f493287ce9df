/**
 * MSI-X from the host side: program table entries (message address in the RC's MSI window +
 * data), enable / function-mask through the capability's Message Control, mask / unmask
 * vectors, read the Pending Bit Array. The device's messages are captured by the completer as
 * InterruptEvents (rc.interrupts, rc.waitForInterrupt, rc.onInterrupt).
 *
 * Table and PBA accesses are aligned DWORD MMIO, as the spec requires of software.
 */
import {
  PCI_MSIX_ENTRY_CTRL_MASKBIT,
  PCI_MSIX_ENTRY_DATA,
  PCI_MSIX_ENTRY_LOWER_ADDR,
  PCI_MSIX_ENTRY_SIZE,
  PCI_MSIX_ENTRY_UPPER_ADDR,
  PCI_MSIX_ENTRY_VECTOR_CTRL,
  PCI_MSIX_FLAGS,
  PCI_MSIX_FLAGS_ENABLE,
  PCI_MSIX_FLAGS_MASKALL,
} from './cfgspace';
import type { MsixInfo } from './enumerate';
import type { RootComplex } from './rootcomplex';

export interface MsixMessage {
  address: bigint;
  data: number;
}

export interface MsixSetupOptions {
  /** Vectors to program and unmask (default: the whole table). The rest stay masked. */
  vectors?: number;
  /** Leave the programmed vectors masked (default false). */
  masked?: boolean;
  /** Message per vector (default: defaultMessage). */
  message?: (vector: number) => MsixMessage;
}

export class MsixController {
  constructor(private readonly rc: RootComplex) {}

  get info(): MsixInfo {
    const m = this.rc.device?.msix;
    if (!m) throw new Error(`rc: the device has no MSI-X capability${this.rc.device ? '' : ' (enumerate first)'}`);
    if (m.tableAddress === 0n) throw new Error('rc: MSI-X table BAR is not assigned');
    return m;
  }

  /**
   * Default message of a vector, distinct per vector in both address and data so a device
   * that sends the wrong one is caught: address = MSI window + (vector & 0xff) << 12 (like an
   * x86 destination ID), data = 0x4000 + vector.
   */
  defaultMessage(vector: number): MsixMessage {
    return { address: this.rc.opts.msiBase + (BigInt(vector & 0xff) << 12n), data: 0x4000 + vector };
  }

  /** Programs the table with the function masked, then enables MSI-X and clears the function mask. */
  setup(opts: MsixSetupOptions = {}): void {
    const m = this.info;
    const n = opts.vectors ?? m.tableSize;
    if (n < 0 || n > m.tableSize)
      throw new RangeError(`rc: ${n} MSI-X vectors requested, the table has ${m.tableSize}`);
    this.setControl(true, true);
    for (let v = 0; v < m.tableSize; v++) {
      if (v < n) this.program(v, (opts.message ?? ((i) => this.defaultMessage(i)))(v), !!opts.masked);
      else this.mask(v);
    }
    this.setControl(true, false);
  }

  /** Writes one entry: address, data, then the mask bit. */
  program(vector: number, msg: MsixMessage, masked = false): void {
    const e = this.entry(vector);
    this.rc.write32(e + BigInt(PCI_MSIX_ENTRY_LOWER_ADDR), Number(msg.address & 0xffff_ffffn));
    this.rc.write32(e + BigInt(PCI_MSIX_ENTRY_UPPER_ADDR), Number(msg.address >> 32n));
    this.rc.write32(e + BigInt(PCI_MSIX_ENTRY_DATA), msg.data >>> 0);
    this.rc.write32(e + BigInt(PCI_MSIX_ENTRY_VECTOR_CTRL), masked ? PCI_MSIX_ENTRY_CTRL_MASKBIT : 0);
  }

  mask(vector: number): void {
    this.rc.write32(this.entry(vector) + BigInt(PCI_MSIX_ENTRY_VECTOR_CTRL), PCI_MSIX_ENTRY_CTRL_MASKBIT);
  }
  unmask(vector: number): void {
    this.rc.write32(this.entry(vector) + BigInt(PCI_MSIX_ENTRY_VECTOR_CTRL), 0);
  }

  /** MSI-X Enable and Function Mask in Message Control (read-modify-write). */
  setControl(enable: boolean, functionMask: boolean): void {
    const off = this.info.offset + PCI_MSIX_FLAGS;
    let ctrl = this.rc.cfgRead(off, 2);
    ctrl = enable ? ctrl | PCI_MSIX_FLAGS_ENABLE : ctrl & ~PCI_MSIX_FLAGS_ENABLE;
    ctrl = functionMask ? ctrl | PCI_MSIX_FLAGS_MASKALL : ctrl & ~PCI_MSIX_FLAGS_MASKALL;
    this.rc.cfgWrite(off, ctrl, 2);
  }

  /** Reads an entry back from the device. */
  readEntry(vector: number): MsixMessage & { masked: boolean } {
    const e = this.entry(vector);
    const lo = this.rc.read32(e + BigInt(PCI_MSIX_ENTRY_LOWER_ADDR));
    const hi = this.rc.read32(e + BigInt(PCI_MSIX_ENTRY_UPPER_ADDR));
    const data = this.rc.read32(e + BigInt(PCI_MSIX_ENTRY_DATA));
    const ctrl = this.rc.read32(e + BigInt(PCI_MSIX_ENTRY_VECTOR_CTRL));
    return { address: (BigInt(hi) << 32n) | BigInt(lo), data, masked: (ctrl & PCI_MSIX_ENTRY_CTRL_MASKBIT) !== 0 };
  }

  /** The vector's Pending bit, read from the PBA. */
  pending(vector: number): boolean {
    this.checkVector(vector);
    const dw = this.rc.read32(this.info.pbaAddress + BigInt(4 * (vector >> 5)));
    return ((dw >>> (vector & 31)) & 1) === 1;
  }

  private entry(vector: number): bigint {
    this.checkVector(vector);
    return this.info.tableAddress + BigInt(vector * PCI_MSIX_ENTRY_SIZE);
  }
  private checkVector(v: number): void {
    const n = this.info.tableSize;
    if (!Number.isInteger(v) || v < 0 || v >= n)
      throw new RangeError(`rc: MSI-X vector ${v} outside the table of ${n}`);
  }
}
