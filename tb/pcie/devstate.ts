/**
 * The root complex's shadow of the device's control registers: what it read from and wrote to
 * config space (command, device control, MSI-X control) and to the MSI-X table. The request
 * checks use it: "bus mastering disabled" means the RC cleared Bus Master Enable, not that
 * some wire says so.
 *
 * Restrictive changes (clearing Bus Master Enable, masking a vector, disabling MSI-X) take
 * effect for device TLPs that leave the device at least `grace` cycles after the write was
 * sent, since the device cannot have seen the write earlier.
 *
 * A device without configuration space has its settings stated instead (state(): from
 * RootComplexOptions.device or rc.setDeviceControl()); they stand in for Device Control
 * while the RC has not seen it.
 */
import type { StatedDeviceControl } from './options';
import {
  PCI_COMMAND,
  PCI_COMMAND_INTX_DISABLE,
  PCI_COMMAND_MASTER,
  PCI_EXP_DEVCTL,
  PCI_EXP_DEVCTL2,
  PCI_ATS_CTRL,
  PCI_ATS_CTRL_ENABLE,
  PCI_EXP_DEVCTL2_10BIT_TAG_REQ_EN,
  PCI_EXP_DEVCTL2_IDO_CMP_EN,
  PCI_EXP_DEVCTL2_IDO_REQ_EN,
  PCI_EXP_DEVCTL_EXT_TAG,
  PCI_EXP_DEVCTL_NOSNOOP_EN,
  PCI_EXP_DEVCTL_RELAX_EN,
  PCI_MSIX_ENTRY_CTRL_MASKBIT,
  PCI_MSIX_ENTRY_SIZE,
  PCI_MSIX_FLAGS,
  PCI_MSIX_FLAGS_ENABLE,
  PCI_MSIX_FLAGS_MASKALL,
  decodeSize,
} from './cfgspace';

/** Little-endian dword at a byte offset. */
function u32(b: Uint8Array, x: number): number {
  return (b[x] | (b[x + 1] << 8) | (b[x + 2] << 16) | (b[x + 3] << 24)) >>> 0;
}

function mergeBytes(old: number, value: number, be: number): number {
  let cur = old;
  for (let b = 0; b < 4; b++) {
    if (be & (1 << b)) cur = (cur & ~(0xff << (8 * b))) | (((value >>> (8 * b)) & 0xff) << (8 * b));
  }
  return cur >>> 0;
}

/** A boolean control whose restrictive edge is timed. */
class TimedFlag {
  value: boolean;
  /** Cycle of the last change to false (for a flag that must be true to permit something). */
  offSince = -Infinity;
  constructor(initial: boolean) {
    this.value = initial;
  }
  set(v: boolean, cycle: number): void {
    if (this.value && !v) this.offSince = cycle;
    this.value = v;
  }
  /** Whether the device could still legitimately act as if the flag were on, for a TLP sent at `cycle`. */
  permits(cycle: number, grace: number): boolean {
    return this.value || cycle < this.offSince + grace;
  }
}

export interface MsixVectorShadow {
  address: bigint;
  data: number;
  masked: boolean;
  /** Cycle the mask bit was last set. */
  maskedAt: number;
}

export class DeviceShadow {
  /** Config dwords by dword offset, from reads and (merged) writes. */
  private readonly cfg = new Map<number, number>();
  /** Counts changes to `cfg`, so values derived from it can be cached. */
  private changes = 0;
  /** Offsets of capabilities once the RC walked the lists. */
  pcieCap?: number;
  msixCap?: number;
  /** The ATS extended capability, if the device has one. */
  atsCap?: number;

  readonly busMaster = new TimedFlag(false);
  readonly msixEnable = new TimedFlag(false);
  /** Function Mask: true = all vectors masked ("permits" when not masked, so it is stored inverted). */
  readonly msixUnmaskedAll = new TimedFlag(true);
  /** INTx allowed by the Command register: Interrupt Disable clear (stored inverted, like the Function Mask). */
  readonly intxEnabled = new TimedFlag(true);
  /** INTx allowed by MSI-X: MSI-X Enable clear (a function with MSI-X enabled must not use INTx). */
  readonly msixDisabled = new TimedFlag(true);
  /**
   * Whether the device knows its ID, so its requests must carry it: it has seen a type 0 configuration write
   * (and captured its bus/device number), or its settings were stated (it has no config space to capture from).
   */
  idCaptured = false;
  /** Settings stated for a device without configuration space (see state()); empty when none were. */
  private stated: Omit<StatedDeviceControl, 'busMaster'> = {};
  /** Whether settings were stated (the device's ID is then the stated one, not a captured one). */
  isStated = false;

  /** MSI-X table location and per-vector shadow (known after enumeration). */
  msixTable?: { address: bigint; size: number };
  private msixBytes = new Uint8Array(0);

  get(offset: number): number | undefined {
    return this.cfg.get(offset & ~3);
  }

  /** A config read completed with this dword (only the enabled bytes are defined). */
  noteRead(offset: number, value: number, firstBe = 0xf): void {
    this.cfg.set(offset & ~3, mergeBytes(this.cfg.get(offset & ~3) ?? 0, value, firstBe));
    this.changes++;
  }

  /** A config write was sent at `cycle`: merge the enabled bytes and update the derived controls. */
  noteWrite(offset: number, firstBe: number, value: number, cycle: number): void {
    const dw = offset & ~3;
    const cur = mergeBytes(this.cfg.get(dw) ?? 0, value, firstBe);
    this.cfg.set(dw, cur);
    this.changes++;
    this.idCaptured = true;
    if (dw === PCI_COMMAND) {
      this.busMaster.set((cur & PCI_COMMAND_MASTER) !== 0, cycle);
      this.intxEnabled.set((cur & PCI_COMMAND_INTX_DISABLE) === 0, cycle);
    }
    if (this.msixCap !== undefined && dw === ((this.msixCap + PCI_MSIX_FLAGS) & ~3)) {
      const ctrl = this.field16(this.msixCap + PCI_MSIX_FLAGS);
      this.msixEnable.set((ctrl & PCI_MSIX_FLAGS_ENABLE) !== 0, cycle);
      this.msixUnmaskedAll.set((ctrl & PCI_MSIX_FLAGS_MASKALL) === 0, cycle);
      this.msixDisabled.set((ctrl & PCI_MSIX_FLAGS_ENABLE) === 0, cycle);
    }
  }

  /**
   * States the device's control settings at `cycle` without any config traffic, for a device without
   * configuration space: Bus Master Enable, and values that stand in for Device Control (2) while the RC has
   * not seen it. Its Requester ID is checked from now on.
   */
  state(s: StatedDeviceControl, cycle: number): void {
    if (s.busMaster !== undefined) this.busMaster.set(s.busMaster, cycle);
    const st = this.stated;
    st.mps = s.mps ?? st.mps;
    st.mrrs = s.mrrs ?? st.mrrs;
    st.extTags = s.extTags ?? st.extTags;
    st.tenBitTags = s.tenBitTags ?? st.tenBitTags;
    this.isStated = true;
    this.idCaptured = true;
    this.changes++;
  }

  /** A 16-bit field from the shadow (undefined if that dword was never seen). */
  field16(offset: number): number {
    const v = this.cfg.get(offset & ~3) ?? 0;
    return (v >>> (8 * (offset & 2))) & 0xffff;
  }
  private known(offset: number): boolean {
    return this.cfg.has(offset & ~3);
  }

  /** Device Control as programmed, if the RC has seen it. */
  get devctl(): number | undefined {
    return this.pcieCap !== undefined && this.known(this.pcieCap + PCI_EXP_DEVCTL)
      ? this.field16(this.pcieCap + PCI_EXP_DEVCTL)
      : undefined;
  }
  get devctl2(): number | undefined {
    return this.pcieCap !== undefined && this.known(this.pcieCap + PCI_EXP_DEVCTL2)
      ? this.field16(this.pcieCap + PCI_EXP_DEVCTL2)
      : undefined;
  }
  /** The device's Max_Payload_Size (the stated one, else 128 bytes, the reset value, until Device Control is known). */
  get mps(): number {
    return this.sizes().mps;
  }
  /** The device's Max_Read_Request_Size (the stated one, else 512 bytes, the reset value, until Device Control is known). */
  get mrrs(): number {
    return this.sizes().mrrs;
  }
  /** MPS and MRRS decoded from Device Control, kept until the shadow changes (the completer asks for every TLP). */
  private decoded = { changes: -1, pcieCap: undefined as number | undefined, mps: 128, mrrs: 512 };
  private sizes(): { mps: number; mrrs: number } {
    const c = this.decoded;
    if (c.changes !== this.changes || c.pcieCap !== this.pcieCap) {
      const d = this.devctl;
      c.mps = d === undefined ? (this.stated.mps ?? 128) : decodeSize((d >> 5) & 7);
      c.mrrs = d === undefined ? (this.stated.mrrs ?? 512) : decodeSize((d >> 12) & 7);
      c.changes = this.changes;
      c.pcieCap = this.pcieCap;
    }
    return c;
  }
  /** Extended (8-bit) tags allowed: Device Control bit 8, else the stated setting, else true (its reset value is implementation specific). */
  get extTags(): boolean {
    const d = this.devctl;
    return d === undefined ? (this.stated.extTags ?? true) : (d & PCI_EXP_DEVCTL_EXT_TAG) !== 0;
  }
  get tenBitTags(): boolean {
    const d = this.devctl2;
    return d === undefined ? (this.stated.tenBitTags ?? false) : (d & PCI_EXP_DEVCTL2_10BIT_TAG_REQ_EN) !== 0;
  }
  /** Enable Relaxed Ordering (Device Control bit 4; 1 at reset, so true while unknown). */
  get relaxedOrdering(): boolean {
    const d = this.devctl;
    return d === undefined || (d & PCI_EXP_DEVCTL_RELAX_EN) !== 0;
  }
  /** Enable No Snoop (Device Control bit 11; 1 at reset, so true while unknown). */
  get noSnoop(): boolean {
    const d = this.devctl;
    return d === undefined || (d & PCI_EXP_DEVCTL_NOSNOOP_EN) !== 0;
  }
  /** IDO Request Enable (Device Control 2 bit 8; 0 at reset). */
  get idoRequests(): boolean {
    const d = this.devctl2;
    return d !== undefined && (d & PCI_EXP_DEVCTL2_IDO_REQ_EN) !== 0;
  }
  /** IDO Completion Enable (Device Control 2 bit 9; 0 at reset). */
  get idoCompletions(): boolean {
    const d = this.devctl2;
    return d !== undefined && (d & PCI_EXP_DEVCTL2_IDO_CMP_EN) !== 0;
  }
  /** The device has an ATS capability and its Enable bit is set (as the RC wrote or read it). */
  get atsEnabled(): boolean {
    const c = this.atsCap;
    return (
      c !== undefined && this.known(c + PCI_ATS_CTRL) && (this.field16(c + PCI_ATS_CTRL) & PCI_ATS_CTRL_ENABLE) !== 0
    );
  }

  // ---- MSI-X table ----

  /** Sets where the table lives; every entry starts masked (the reset state). */
  setMsixTable(address: bigint, size: number): void {
    this.msixTable = { address, size };
    this.msixBytes = new Uint8Array(size * PCI_MSIX_ENTRY_SIZE);
    for (let i = 0; i < size; i++) this.msixBytes[i * PCI_MSIX_ENTRY_SIZE + 12] = PCI_MSIX_ENTRY_CTRL_MASKBIT;
    this.maskedAt = new Array<number>(size).fill(-Infinity);
  }
  private maskedAt: number[] = [];

  /** An RC memory write: if it overlaps the MSI-X table, update the shadow. */
  noteMemWrite(addr: bigint, data: Uint8Array, cycle: number): void {
    const t = this.msixTable;
    if (!t) return;
    const end = addr + BigInt(data.length);
    const tEnd = t.address + BigInt(this.msixBytes.length);
    if (end <= t.address || addr >= tEnd) return;
    const wasMasked = Array.from({ length: t.size }, (_, i) => this.vectorMaskBit(i));
    for (let i = 0; i < data.length; i++) {
      const a = addr + BigInt(i);
      if (a < t.address || a >= tEnd) continue;
      this.msixBytes[Number(a - t.address)] = data[i];
    }
    for (let i = 0; i < t.size; i++) if (!wasMasked[i] && this.vectorMaskBit(i)) this.maskedAt[i] = cycle;
  }

  private vectorMaskBit(i: number): boolean {
    return (this.msixBytes[i * PCI_MSIX_ENTRY_SIZE + 12] & PCI_MSIX_ENTRY_CTRL_MASKBIT) !== 0;
  }

  vector(i: number): MsixVectorShadow {
    const b = this.msixBytes;
    const o = i * PCI_MSIX_ENTRY_SIZE;
    return {
      address: (BigInt(u32(b, o + 4)) << 32n) | BigInt(u32(b, o)),
      data: u32(b, o + 8),
      masked: this.vectorMaskBit(i),
      maskedAt: this.maskedAt[i],
    };
  }

  /** Vectors whose programmed address and data match a message. */
  findVector(address: bigint, data: number): number[] {
    const out: number[] = [];
    const n = this.msixTable?.size ?? 0;
    for (let i = 0; i < n; i++) {
      const v = this.vector(i);
      if (v.address === address && v.data === data >>> 0) out.push(i);
    }
    return out;
  }
}
