// Interrupt delivery of the function: the MSI-X table and Pending Bit Array (function mask, per-vector mask,
// pending bits, delivery on unmask), and INTx driven by the virtio ISR when MSI-X is off. Which event goes to
// which vector is the transport's business (transport.ts); this file only delivers.
import type { PciConfigSpace } from './cfgspace';
import type { FieldPort } from './fields';
import type { InterruptSink } from './handover';

interface MsixEntry {
  addrLo: number;
  addrHi: number;
  data: number;
  /** Vector Control: bit 0 = mask. */
  ctrl: number;
}

export class Interrupts {
  private entries: MsixEntry[] = [];
  private pending: boolean[] = [];
  /** The virtio ISR status byte (bit 0 queue, bit 1 configuration). */
  isr = 0;
  /** What INTx currently signals (the last Assert/Deassert sent). */
  private intxLevel = false;

  constructor(
    private readonly cfg: PciConfigSpace,
    private readonly sink: InterruptSink,
    readonly vectors: number,
  ) {
    this.resetTable();
  }

  /** FLR: every entry 0 and masked, nothing pending (choices.ts "resetClearsPending"). */
  resetTable(): void {
    this.entries = Array.from({ length: this.vectors }, () => ({ addrLo: 0, addrHi: 0, data: 0, ctrl: 1 }));
    this.pending = new Array(this.vectors).fill(false);
  }
  clearPending(): void {
    this.pending.fill(false);
  }
  isPending(v: number): boolean {
    return this.pending[v];
  }

  /**
   * The MSI-X table as fields (16 bytes per vector); writes re-evaluate delivery (an unmask sends what is pending).
   * choices.ts "msixTableWrites".
   */
  tableFields(): FieldPort[] {
    const out: FieldPort[] = [];
    this.entries.forEach((_e, v) => {
      const entry = () => this.entries[v];
      const dw = (name: string, off: number, key: keyof MsixEntry, writable: number) =>
        out.push({
          name: `msix[${v}].${name}`,
          offset: 16 * v + off,
          width: 4,
          get: () => BigInt(entry()[key] >>> 0),
          set: (x) => {
            entry()[key] = Number(x) & writable;
            this.deliverPending();
          },
        });
      dw('addr_lo', 0, 'addrLo', 0xffff_fffc);
      dw('addr_hi', 4, 'addrHi', 0xffff_ffff);
      dw('data', 8, 'data', 0xffff_ffff);
      dw('vector_ctrl', 12, 'ctrl', 1);
    });
    return out;
  }

  /** The Pending Bit Array as read-only DWORD fields. */
  pbaFields(): FieldPort[] {
    return Array.from({ length: Math.ceil(this.vectors / 32) }, (_x, i) => ({
      name: `pba[${i}]`,
      offset: 4 * i,
      width: 4,
      get: () => {
        let v = 0;
        for (let b = 0; b < 32 && 32 * i + b < this.vectors; b++) if (this.pending[32 * i + b]) v |= 1 << b;
        return BigInt(v >>> 0);
      },
    }));
  }

  /** choices.ts "msixPendingWithoutBusMaster". */
  private canSend(v: number): boolean {
    const c = this.cfg;
    return c.msixEnabled && !c.msixFunctionMasked && !(this.entries[v].ctrl & 1) && c.busMaster && c.powerState === 0;
  }

  /** Requests MSI-X vector v: sent now if possible, else its Pending bit is set. */
  signalMsix(v: number): void {
    if (v < 0 || v >= this.vectors) return;
    if (!this.canSend(v)) {
      this.pending[v] = true;
      return;
    }
    this.pending[v] = false;
    const e = this.entries[v];
    this.sink.msix(v, (BigInt(e.addrHi >>> 0) << 32n) | BigInt(e.addrLo >>> 0), e.data >>> 0);
  }

  /** Sends every pending vector that can be sent now (after an unmask, MSI-X enable, Bus Master Enable, D0). */
  deliverPending(): void {
    for (let v = 0; v < this.vectors; v++) if (this.pending[v] && this.canSend(v)) this.signalMsix(v);
  }

  // ---- ISR and INTx

  /** The Interrupt Status bit of the PCI Status register: the OR of the ISR bits while MSI-X is off. */
  get interruptStatus(): boolean {
    return this.isr !== 0 && !this.cfg.msixEnabled;
  }

  setIsr(bits: number): void {
    this.isr |= bits;
    this.updateIntx();
  }

  /** Reading the ISR returns it and (with commit) clears it, deasserting INTx. */
  readIsr(commit: boolean): number {
    const v = this.isr;
    if (commit) {
      this.isr = 0;
      this.updateIntx();
    }
    return v;
  }

  clearIsr(): void {
    this.isr = 0;
    this.updateIntx();
  }

  /** Sends Assert_INTA / Deassert_INTA when the level INTx should have changes. */
  updateIntx(): void {
    const c = this.cfg;
    const level = this.interruptStatus && !c.intxDisabled && c.powerState === 0;
    if (level === this.intxLevel) return;
    this.intxLevel = level;
    this.sink.intx(level);
  }
}
