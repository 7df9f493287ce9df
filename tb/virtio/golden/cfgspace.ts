// The type-0 configuration space of a virtio-pci function, built from a layout: header (IDs, command/status,
// BARs with their size masks), and the capabilities the layout places (PM, PCI Express, MSI-X, the five virtio
// vendor capabilities). Storage is bytes plus per-byte masks (writable bits, write-1-to-clear bits), the usual
// way to state register semantics; the few registers with side effects (FLR, PowerState, pci_cfg_data, MSI-X
// control) are reported to the caller (transport.ts), which owns the behaviour.
import {
  PCI_CAP_ID_EXP,
  PCI_CAP_ID_MSIX,
  PCI_CAP_ID_PM,
  PCI_CAP_ID_VNDR,
  PCI_COMMAND_INTX_DISABLE,
  PCI_COMMAND_MASTER,
  PCI_COMMAND_MEMORY,
  PCI_COMMAND_PARITY,
  PCI_COMMAND_SERR,
  PCI_EXP_DEVCAP,
  PCI_EXP_DEVCTL,
  PCI_EXP_DEVCTL2,
  PCI_EXP_DEVSTA,
  PCI_EXP_FLAGS,
  PCI_EXP_LNKCAP,
  PCI_EXP_LNKCTL,
  PCI_EXP_LNKSTA,
  PCI_MSIX_FLAGS,
  PCI_MSIX_PBA,
  PCI_MSIX_TABLE,
  PCI_STATUS_CAP_LIST,
  PCI_PM_PMC,
  PCI_PM_CTRL,
  PCI_PM_CTRL_STATE_MASK,
  PCI_PM_CTRL_NO_SOFT_RESET,
  PCI_EXP_DEVCAP_FLR,
  PCI_EXP_DEVCAP_RBER,
  PCI_EXP_DEVCTL_RELAX_EN,
  PCI_EXP_DEVCTL_NOSNOOP_EN,
  PCI_EXP_DEVCAP2_COMP_TMOUT_DIS,
  PCI_EXP_LNKCAP2,
  PCI_EXP_LNKCTL2,
  PCI_STATUS_ERROR_BITS,
} from '../../pcie/cfgspace';
import { capLength, capOrder, pciDeviceId, type CapKind, type VirtioPciLayout } from '../../../gen/virtio/layout';
import { DEVICE_TYPES, VIRTIO_CAP_FIELD, VIRTIO_PCI_CAP, VIRTIO_PCI_VENDOR_ID } from '../../../gen/virtio/regmap';

const CFG_TYPE: Record<string, number> = {
  common: VIRTIO_PCI_CAP.COMMON_CFG,
  notify: VIRTIO_PCI_CAP.NOTIFY_CFG,
  isr: VIRTIO_PCI_CAP.ISR_CFG,
  device: VIRTIO_PCI_CAP.DEVICE_CFG,
  pciCfg: VIRTIO_PCI_CAP.PCI_CFG,
};

export interface CfgWriteEffects {
  commandChanged: boolean;
  msixControlChanged: boolean;
  powerStateChanged: boolean;
  /** Initiate Function Level Reset was written with 1. */
  flr: boolean;
  /** Some byte of pci_cfg_data was written. */
  pciCfgData: boolean;
}

export class PciConfigSpace {
  readonly bytes = new Uint8Array(4096);
  /** Per byte: bits software may write, and bits that are write-1-to-clear. */
  private readonly wmask = new Uint8Array(4096);
  private readonly w1c = new Uint8Array(4096);
  /** Offset of each placed capability. */
  readonly cap: Readonly<Partial<Record<CapKind, number>>>;

  constructor(readonly layout: VirtioPciLayout) {
    this.cap = layout.caps.at;
    this.build();
  }

  /** Back to the reset state (FLR), in place; Link Control keeps its value (choices.ts "flr"). */
  reset(): void {
    const lnkctl = this.u16(this.cap.pcie! + PCI_EXP_LNKCTL);
    this.bytes.fill(0);
    this.wmask.fill(0);
    this.w1c.fill(0);
    this.build();
    this.put16(this.cap.pcie! + PCI_EXP_LNKCTL, lnkctl);
  }

  /** Raw byte access for deliberately malformed devices (tests): no masks, no semantics. */
  poke(o: number, v: number): void {
    this.bytes[o] = v & 0xff;
  }

  // ---- typed views

  u8(o: number): number {
    return this.bytes[o];
  }
  u16(o: number): number {
    return this.bytes[o] | (this.bytes[o + 1] << 8);
  }
  u32(o: number): number {
    return (this.u16(o) | (this.u16(o + 2) << 16)) >>> 0;
  }
  get command(): number {
    return this.u16(4);
  }
  get memoryEnabled(): boolean {
    return (this.command & PCI_COMMAND_MEMORY) !== 0;
  }
  get busMaster(): boolean {
    return (this.command & PCI_COMMAND_MASTER) !== 0;
  }
  get intxDisabled(): boolean {
    return (this.command & PCI_COMMAND_INTX_DISABLE) !== 0;
  }
  get msixControl(): number {
    return this.u16(this.cap.msix! + PCI_MSIX_FLAGS);
  }
  get msixEnabled(): boolean {
    return (this.msixControl & 0x8000) !== 0;
  }
  get msixFunctionMasked(): boolean {
    return (this.msixControl & 0x4000) !== 0;
  }
  get devctl(): number {
    return this.u16(this.cap.pcie! + PCI_EXP_DEVCTL);
  }
  /** PowerState (0 = D0, 3 = D3hot); D0 when there is no PM capability. */
  get powerState(): number {
    return this.cap.pm === undefined ? 0 : this.u16(this.cap.pm + PCI_PM_CTRL) & PCI_PM_CTRL_STATE_MASK;
  }
  /** Assigned address of a BAR (0n when unassigned or not a BAR of the layout). */
  barAddress(index: number): bigint {
    const bar = this.layout.bars.find((b) => b.index === index);
    if (!bar) return 0n;
    const lo = BigInt((this.u32(0x10 + 4 * index) & 0xffff_fff0) >>> 0);
    const hi = bar.bits === 64 ? BigInt(this.u32(0x14 + 4 * index)) : 0n;
    return (hi << 32n) | lo;
  }

  /** Sets error bits the device detected (Status register). */
  setStatusBits(bits: number): void {
    this.put16(6, this.u16(6) | bits);
  }
  /** Sets Device Status bits (PCI Express capability). */
  setDevStaBits(bits: number): void {
    const o = this.cap.pcie! + PCI_EXP_DEVSTA;
    this.put16(o, this.u16(o) | bits);
  }

  // ---- access

  read(off: number, len: number): Uint8Array {
    return this.bytes.slice(off, off + len);
  }

  /** Applies a configuration write (enabled bytes only) and says which side effects it asks for. */
  write(off: number, data: Uint8Array, mask?: Uint8Array): CfgWriteEffects {
    const fx: CfgWriteEffects = {
      commandChanged: false,
      msixControlChanged: false,
      powerStateChanged: false,
      flr: false,
      pciCfgData: false,
    };
    const before = { command: this.command, msix: this.msixControl, power: this.powerState };
    const pm = this.cap.pm;
    for (let i = 0; i < data.length; i++) {
      if (mask && !mask[i]) continue;
      const o = off + i;
      const v = data[i];
      if (o === this.cap.pcie! + PCI_EXP_DEVCTL + 1 && v & 0x80 && this.layout.pcie.flr) fx.flr = true;
      const pciCfgData = this.cap.pciCfg! + VIRTIO_CAP_FIELD.PCI_CFG_DATA;
      if (o >= pciCfgData && o < pciCfgData + 4) fx.pciCfgData = true;
      this.bytes[o] = ((this.bytes[o] & ~this.wmask[o]) | (v & this.wmask[o])) & ~(v & this.w1c[o]) & 0xff;
    }
    // PowerState: D1 and D2 are not supported; a write of either leaves the state as it was (choices.ts "powerStates").
    if (pm !== undefined && (this.powerState === 1 || this.powerState === 2))
      this.bytes[pm + PCI_PM_CTRL] = (this.bytes[pm + PCI_PM_CTRL] & ~PCI_PM_CTRL_STATE_MASK) | before.power;
    fx.commandChanged = this.command !== before.command;
    fx.msixControlChanged = this.msixControl !== before.msix;
    fx.powerStateChanged = this.powerState !== before.power;
    return fx;
  }

  // ---- construction

  private put8(o: number, v: number, wm = 0, w1c = 0): void {
    this.bytes[o] = v & 0xff;
    this.wmask[o] = wm & 0xff;
    this.w1c[o] = w1c & 0xff;
  }
  private put16(o: number, v: number, wm?: number, w1c?: number): void {
    this.bytes[o] = v & 0xff;
    this.bytes[o + 1] = (v >>> 8) & 0xff;
    if (wm !== undefined) [this.wmask[o], this.wmask[o + 1]] = [wm & 0xff, (wm >>> 8) & 0xff];
    if (w1c !== undefined) [this.w1c[o], this.w1c[o + 1]] = [w1c & 0xff, (w1c >>> 8) & 0xff];
  }
  private put32(o: number, v: number, wm?: number): void {
    this.put16(o, v & 0xffff, wm === undefined ? undefined : wm & 0xffff);
    this.put16(o + 2, v >>> 16, wm === undefined ? undefined : wm >>> 16);
  }

  private build(): void {
    const l = this.layout;
    const type = DEVICE_TYPES[l.deviceType];
    this.put16(0x00, VIRTIO_PCI_VENDOR_ID);
    this.put16(0x02, pciDeviceId(l));
    this.put16(
      0x04,
      0,
      PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_PARITY | PCI_COMMAND_SERR | PCI_COMMAND_INTX_DISABLE,
    );
    this.put16(0x06, PCI_STATUS_CAP_LIST, 0, PCI_STATUS_ERROR_BITS);
    this.put32(0x08, ((type.classCode << 8) | l.revision) >>> 0);
    this.put8(0x0c, 0, 0xff); // Cache Line Size: read-write, no effect on PCI Express
    for (const bar of l.bars) {
      const o = 0x10 + 4 * bar.index;
      const low = (bar.bits === 64 ? 0x4 : 0) | (bar.prefetchable ? 0x8 : 0);
      this.put32(o, low, ~(bar.size - 1) & 0xffff_fff0);
      if (bar.bits === 64) this.put32(o + 4, 0, 0xffff_ffff);
    }
    this.put16(0x2c, l.subsystemVendorId);
    this.put16(0x2e, l.subsystemId);
    this.put8(0x3c, 0, 0xff); // Interrupt Line
    this.put8(0x3d, 1); // Interrupt Pin: INTA#

    const order = capOrder(l);
    this.put8(0x34, this.cap[order[0]] ?? 0);
    order.forEach((kind, i) => {
      const at = this.cap[kind]!;
      const next = i + 1 < order.length ? this.cap[order[i + 1]]! : 0;
      this.buildCap(kind, at, next);
    });
  }

  private buildCap(kind: CapKind, at: number, next: number): void {
    const l = this.layout;
    const id = { pm: PCI_CAP_ID_PM, pcie: PCI_CAP_ID_EXP, msix: PCI_CAP_ID_MSIX }[kind as string] ?? PCI_CAP_ID_VNDR;
    this.put8(at, id);
    this.put8(at + 1, next);
    switch (kind) {
      case 'pm':
        this.put16(at + PCI_PM_PMC, 0x0003); // version 3, no D1/D2, no PME
        this.put16(at + PCI_PM_CTRL, PCI_PM_CTRL_NO_SOFT_RESET, PCI_PM_CTRL_STATE_MASK);
        return;
      case 'pcie': {
        const p = l.pcie;
        this.put16(at + PCI_EXP_FLAGS, 0x0002); // version 2, PCI Express Endpoint
        const mpsCode = Math.log2(p.mpsSupported / 128);
        this.put32(
          at + PCI_EXP_DEVCAP,
          mpsCode |
            (p.extTag ? 0x20 : 0) |
            (7 << 6) |
            (7 << 9) |
            PCI_EXP_DEVCAP_RBER |
            (p.flr ? PCI_EXP_DEVCAP_FLR : 0),
        );
        // Device Control (stored as written: choices.ts "deviceControlAsWritten"): error reporting enables, Relaxed Ordering, MPS, Extended Tag, No Snoop, MRRS are
        // read-write; Initiate FLR (bit 15) always reads 0. Reset: MRRS 512, RO and No Snoop enabled.
        this.put16(
          at + PCI_EXP_DEVCTL,
          (2 << 12) | PCI_EXP_DEVCTL_RELAX_EN | PCI_EXP_DEVCTL_NOSNOOP_EN | (p.extTag ? 0x100 : 0),
          0x000f | PCI_EXP_DEVCTL_RELAX_EN | 0x00e0 | (p.extTag ? 0x100 : 0) | PCI_EXP_DEVCTL_NOSNOOP_EN | 0x7000,
        );
        this.put16(at + PCI_EXP_DEVSTA, 0, 0, 0x000f);
        this.put32(at + PCI_EXP_LNKCAP, p.linkSpeed | (p.linkWidth << 4));
        this.put16(at + PCI_EXP_LNKCTL, 0, 0x00cb); // ASPM control, RCB, Common Clock, Extended Synch
        this.put16(at + PCI_EXP_LNKSTA, p.linkSpeed | (p.linkWidth << 4) | 0x1000); // slot clock
        this.put32(at + 0x24, PCI_EXP_DEVCAP2_COMP_TMOUT_DIS);
        this.put16(at + PCI_EXP_DEVCTL2, 0, 0x0010);
        this.put32(at + PCI_EXP_LNKCAP2, ((1 << p.linkSpeed) - 1) << 1);
        this.put16(at + PCI_EXP_LNKCTL2, p.linkSpeed, 0x000f);
        return;
      }
      case 'msix': {
        const m = l.msix;
        this.put16(at + PCI_MSIX_FLAGS, m.vectors - 1, 0xc000);
        this.put32(at + PCI_MSIX_TABLE, m.table.offset | m.table.bar);
        this.put32(at + PCI_MSIX_PBA, m.pba.offset | m.pba.bar);
        return;
      }
      default: {
        this.put8(at + VIRTIO_CAP_FIELD.LEN, capLength(l, kind));
        this.put8(at + VIRTIO_CAP_FIELD.CFG_TYPE, CFG_TYPE[kind]);
        if (kind === 'pciCfg') {
          // cap.bar, cap.offset, cap.length and pci_cfg_data are read-write for the driver.
          this.put8(at + VIRTIO_CAP_FIELD.BAR, 0, 0xff);
          this.put32(at + VIRTIO_CAP_FIELD.OFFSET, 0, 0xffff_ffff);
          this.put32(at + VIRTIO_CAP_FIELD.LENGTH, 0, 0xffff_ffff);
          this.put32(at + VIRTIO_CAP_FIELD.PCI_CFG_DATA, 0, 0xffff_ffff);
          return;
        }
        const region = { common: l.common, notify: l.notify, isr: l.isr, device: l.device }[kind as string]!;
        this.put8(at + VIRTIO_CAP_FIELD.BAR, region.bar);
        this.put32(at + VIRTIO_CAP_FIELD.OFFSET, region.offset);
        this.put32(at + VIRTIO_CAP_FIELD.LENGTH, region.length);
        if (kind === 'notify') this.put32(at + VIRTIO_CAP_FIELD.NOTIFY_OFF_MULTIPLIER, l.notify.multiplier);
      }
    }
  }
}
