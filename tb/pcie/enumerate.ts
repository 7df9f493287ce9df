/**
 * Enumeration as host software does it (Linux drivers/pci/probe.c, setup-bus.c in spirit):
 * read the IDs and header type, size the BARs with all-ones writes while decoding is off,
 * assign naturally aligned addresses (32-bit window below 4 GB; prefetchable 64-bit BARs in a
 * window above 4 GB), walk the capability and extended capability lists, program Device
 * Control (MPS, MRRS, extended tags), Device Control 2 (10-bit tags) and the Link Control RCB
 * bit, locate the MSI-X table, and finally enable memory decoding and bus mastering.
 */
import {
  PCI_BASE_ADDRESS_0,
  PCI_BASE_ADDRESS_MEM_PREFETCH,
  PCI_BASE_ADDRESS_MEM_TYPE_64,
  PCI_BASE_ADDRESS_MEM_TYPE_MASK,
  PCI_BASE_ADDRESS_SPACE_IO,
  PCI_CAP_ID_EXP,
  PCI_CAP_ID_MSIX,
  PCI_CAPABILITY_LIST,
  PCI_COMMAND,
  PCI_COMMAND_IO,
  PCI_COMMAND_MASTER,
  PCI_COMMAND_MEMORY,
  PCI_EXP_DEVCAP,
  PCI_EXP_DEVCAP2,
  PCI_EXP_DEVCAP2_10BIT_TAG_REQ,
  PCI_EXP_DEVCAP_EXT_TAG,
  PCI_EXP_DEVCAP_PAYLOAD,
  PCI_EXP_DEVCTL,
  PCI_EXP_DEVCTL2,
  PCI_EXP_DEVCTL2_10BIT_TAG_REQ_EN,
  PCI_EXP_DEVCTL_EXT_TAG,
  PCI_EXP_DEVCTL_PAYLOAD,
  PCI_EXP_DEVCTL_READRQ,
  PCI_EXP_FLAGS,
  PCI_EXT_CAP_ID_ATS,
  PCI_EXP_LNKCTL,
  PCI_EXP_LNKCTL_RCB,
  PCI_HEADER_TYPE,
  PCI_MSIX_FLAGS,
  PCI_MSIX_FLAGS_QSIZE,
  PCI_MSIX_PBA,
  PCI_MSIX_TABLE,
  PCI_REVISION_ID,
  PCI_STATUS,
  PCI_STATUS_CAP_LIST,
  PCI_SUBSYSTEM_VENDOR_ID,
  PCI_VENDOR_ID,
  encodeSize,
} from './cfgspace';
import { CompletionStatusError } from './errors';
import type { StatedDeviceControl } from './options';
import type { RootComplex } from './rootcomplex';

export interface BarInfo {
  index: number;
  kind: 'mem32' | 'mem64' | 'io';
  prefetchable: boolean;
  /** Bytes (a power of two). */
  size: bigint;
  /** Assigned address (0n if not assigned: IO BARs, or assign: false). */
  address: bigint;
}

export interface CapInfo {
  id: number;
  offset: number;
}
export interface ExtCapInfo {
  id: number;
  version: number;
  offset: number;
}

export interface PcieCapInfo {
  offset: number;
  /** Capability version (PCI_EXP_FLAGS bits 3:0). */
  version: number;
  devcap: number;
  devcap2: number;
  mpsSupported: number;
  extTagSupported: boolean;
  tenBitTagRequesterSupported: boolean;
}

export interface MsixInfo {
  offset: number;
  tableSize: number;
  tableBir: number;
  tableOffset: number;
  pbaBir: number;
  pbaOffset: number;
  /** Table / PBA addresses (BAR address + offset) when the BARs are assigned, else 0. */
  tableAddress: bigint;
  pbaAddress: bigint;
}

export interface DeviceInfo {
  vendorId: number;
  deviceId: number;
  revision: number;
  /** 24-bit class code (base class, sub class, prog-if). */
  classCode: number;
  headerType: number;
  multiFunction: boolean;
  subsystemVendorId: number;
  subsystemId: number;
  /** Indexed by BAR number; the upper half of a 64-bit BAR is undefined. */
  bars: (BarInfo | undefined)[];
  /** Standard capabilities in list order, and by ID (first occurrence). */
  capList: CapInfo[];
  caps: Map<number, number>;
  extCapList: ExtCapInfo[];
  extCaps: Map<number, number>;
  pcie?: PcieCapInfo;
  msix?: MsixInfo;
  /** What was programmed. */
  mps?: number;
  mrrs?: number;
  extTags?: boolean;
  tenBitTags?: boolean;
}

export interface EnumerateOptions {
  /** Assign BAR addresses (default true). */
  assign?: boolean;
  /** Set Memory Space Enable / Bus Master Enable at the end (default true / true). */
  memory?: boolean;
  busMaster?: boolean;
  /** Program Device Control / Device Control 2 / Link Control (default true). */
  configurePcie?: boolean;
  /** Place 64-bit prefetchable BARs below 4 GB too (default false). */
  below4G?: boolean;
}

/** What setDeviceControl() changes; unset fields stay as they are. */
export type DeviceControlSettings = StatedDeviceControl;

class EnumerationError extends Error {
  constructor(msg: string) {
    super(`rc: enumeration: ${msg}`);
    this.name = 'EnumerationError';
  }
}

const hex = (v: number | bigint, w = 0) => `0x${v.toString(16).padStart(w, '0')}`;

export function enumerate(rc: RootComplex, opts: EnumerateOptions = {}): DeviceInfo {
  const id = rc.cfgRead(PCI_VENDOR_ID, 4);
  const vendorId = id & 0xffff;
  if (vendorId === 0xffff || vendorId === 0)
    throw new EnumerationError(`no device: vendor ID reads ${hex(vendorId, 4)}`);
  const classRev = rc.cfgRead(PCI_REVISION_ID, 4);
  const hdr = rc.cfgRead(PCI_HEADER_TYPE, 1);
  if ((hdr & 0x7f) !== 0)
    throw new EnumerationError(`header type ${hex(hdr & 0x7f, 2)} is not a type 0 (endpoint) header`);
  const subsys = rc.cfgRead(PCI_SUBSYSTEM_VENDOR_ID, 4);
  const info: DeviceInfo = {
    vendorId,
    deviceId: id >>> 16,
    revision: classRev & 0xff,
    classCode: classRev >>> 8,
    headerType: hdr & 0x7f,
    multiFunction: (hdr & 0x80) !== 0,
    subsystemVendorId: subsys & 0xffff,
    subsystemId: subsys >>> 16,
    bars: [],
    capList: [],
    caps: new Map(),
    extCapList: [],
    extCaps: new Map(),
  };

  // Decoding off while the BARs hold all-ones.
  const cmd = rc.cfgRead(PCI_COMMAND, 2);
  rc.cfgWrite(PCI_COMMAND, cmd & ~(PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER), 2);
  info.bars = sizeBars(rc);
  if (opts.assign ?? true) assignBars(rc, info.bars, opts.below4G ?? false);

  walkCaps(rc, info);
  rc.shadow.atsCap = info.extCaps.get(PCI_EXT_CAP_ID_ATS);

  if (info.caps.has(PCI_CAP_ID_EXP)) {
    const off = info.caps.get(PCI_CAP_ID_EXP)!;
    rc.shadow.pcieCap = off;
    const flags = rc.cfgRead(off + PCI_EXP_FLAGS, 2);
    const version = flags & 0xf;
    const devcap = rc.cfgRead(off + PCI_EXP_DEVCAP, 4);
    const devcap2 = version >= 2 ? rc.cfgRead(off + PCI_EXP_DEVCAP2, 4) : 0;
    info.pcie = {
      offset: off,
      version,
      devcap,
      devcap2,
      mpsSupported: 128 << (devcap & PCI_EXP_DEVCAP_PAYLOAD),
      extTagSupported: (devcap & PCI_EXP_DEVCAP_EXT_TAG) !== 0,
      tenBitTagRequesterSupported: (devcap2 & PCI_EXP_DEVCAP2_10BIT_TAG_REQ) !== 0,
    };
    // Read the controls once so the shadow knows them even if we do not write them.
    rc.cfgRead(off + PCI_EXP_DEVCTL, 2);
    if (version >= 2) rc.cfgRead(off + PCI_EXP_DEVCTL2, 2);
    if (opts.configurePcie ?? true) {
      const p = info.pcie;
      setDeviceControl(rc, {
        mps: Math.min(rc.opts.mps, p.mpsSupported),
        mrrs: rc.opts.mrrs,
        extTags: rc.opts.extTags && p.extTagSupported,
        tenBitTags: rc.opts.tenBitTags && p.tenBitTagRequesterSupported,
      });
      const lnk = rc.cfgRead(off + PCI_EXP_LNKCTL, 2);
      rc.cfgWrite(off + PCI_EXP_LNKCTL, rc.opts.rcb === 128 ? lnk | PCI_EXP_LNKCTL_RCB : lnk & ~PCI_EXP_LNKCTL_RCB, 2);
    }
    info.mps = rc.shadow.mps;
    info.mrrs = rc.shadow.mrrs;
    info.extTags = rc.shadow.extTags;
    info.tenBitTags = rc.shadow.tenBitTags;
  }

  if (info.caps.has(PCI_CAP_ID_MSIX)) {
    const off = info.caps.get(PCI_CAP_ID_MSIX)!;
    rc.shadow.msixCap = off;
    const ctrl = rc.cfgRead(off + PCI_MSIX_FLAGS, 2);
    const table = rc.cfgRead(off + PCI_MSIX_TABLE, 4);
    const pba = rc.cfgRead(off + PCI_MSIX_PBA, 4);
    const m: MsixInfo = {
      offset: off,
      tableSize: (ctrl & PCI_MSIX_FLAGS_QSIZE) + 1,
      tableBir: table & 7,
      tableOffset: table & (~7 >>> 0),
      pbaBir: pba & 7,
      pbaOffset: pba & (~7 >>> 0),
      tableAddress: 0n,
      pbaAddress: 0n,
    };
    for (const [what, bir, o, len] of [
      ['table', m.tableBir, m.tableOffset, 16 * m.tableSize],
      ['PBA', m.pbaBir, m.pbaOffset, 8 * Math.ceil(m.tableSize / 64)],
    ] as const) {
      const bar = info.bars[bir];
      if (!bar || bar.kind === 'io')
        throw new EnumerationError(`MSI-X ${what} is in BAR ${bir}, which is not a memory BAR`);
      if (BigInt(o + len) > bar.size)
        throw new EnumerationError(
          `MSI-X ${what} (${len} bytes at offset ${hex(o)}) does not fit BAR ${bir} of ${bar.size} bytes`,
        );
    }
    // Addresses stay 0 while a BAR is unassigned (assign: false), which MsixController checks for.
    const tableBar = info.bars[m.tableBir]!.address;
    const pbaBar = info.bars[m.pbaBir]!.address;
    if (tableBar !== 0n) m.tableAddress = tableBar + BigInt(m.tableOffset);
    if (pbaBar !== 0n) m.pbaAddress = pbaBar + BigInt(m.pbaOffset);
    info.msix = m;
    if (tableBar !== 0n) rc.shadow.setMsixTable(m.tableAddress, m.tableSize);
  }

  let newCmd = rc.cfgRead(PCI_COMMAND, 2);
  if (opts.memory ?? true) newCmd |= PCI_COMMAND_MEMORY;
  if (opts.busMaster ?? true) newCmd |= PCI_COMMAND_MASTER;
  rc.cfgWrite(PCI_COMMAND, newCmd, 2);
  return info;
}

/** BAR sizing: write all-ones, read back, restore. */
function sizeBars(rc: RootComplex): (BarInfo | undefined)[] {
  const bars: (BarInfo | undefined)[] = [];
  for (let i = 0; i < 6; i++) {
    const off = PCI_BASE_ADDRESS_0 + 4 * i;
    const orig = rc.cfgRead(off);
    rc.cfgWrite(off, 0xffff_ffff);
    const lo = rc.cfgRead(off);
    rc.cfgWrite(off, orig);
    if (lo === 0) continue;
    if (orig & PCI_BASE_ADDRESS_SPACE_IO) {
      const mask = (lo & ~3) >>> 0;
      bars[i] = {
        index: i,
        kind: 'io',
        prefetchable: false,
        size: BigInt(((~mask >>> 0) + 1) & 0xffff_ffff || 0x1_0000_0000),
        address: 0n,
      };
      continue;
    }
    const type = lo & PCI_BASE_ADDRESS_MEM_TYPE_MASK;
    if (type !== 0 && type !== PCI_BASE_ADDRESS_MEM_TYPE_64)
      throw new EnumerationError(`BAR ${i}: reserved memory type ${(type >> 1).toString(2).padStart(2, '0')}b`);
    const prefetchable = (lo & PCI_BASE_ADDRESS_MEM_PREFETCH) !== 0;
    if (type === PCI_BASE_ADDRESS_MEM_TYPE_64) {
      if (i === 5) throw new EnumerationError('BAR 5 claims to be 64-bit, but there is no BAR 6 for its upper half');
      const origHi = rc.cfgRead(off + 4);
      rc.cfgWrite(off + 4, 0xffff_ffff);
      const hi = rc.cfgRead(off + 4);
      rc.cfgWrite(off + 4, origHi);
      const mask = (BigInt(hi) << 32n) | BigInt((lo & ~0xf) >>> 0);
      const size = (~mask & 0xffff_ffff_ffff_ffffn) + 1n;
      checkSize(i, size, mask);
      bars[i] = { index: i, kind: 'mem64', prefetchable, size, address: 0n };
      i++;
    } else {
      const mask = BigInt((lo & ~0xf) >>> 0);
      const size = (~mask & 0xffff_ffffn) + 1n;
      checkSize(i, size, mask);
      bars[i] = { index: i, kind: 'mem32', prefetchable, size, address: 0n };
    }
  }
  return bars;
}

function checkSize(i: number, size: bigint, mask: bigint): void {
  if (size < 16n || (size & (size - 1n)) !== 0n) {
    throw new EnumerationError(
      `BAR ${i}: all-ones write reads back address mask ${hex(mask)}, which is not a power-of-two size of at least 16 bytes`,
    );
  }
}

/** Natural alignment, biggest first, in the 32-bit or 64-bit window. */
function assignBars(rc: RootComplex, bars: (BarInfo | undefined)[], below4G: boolean): void {
  const w32 = { ...rc.opts.mem32, next: rc.opts.mem32.base, name: '32-bit' };
  const w64 = { ...rc.opts.mem64, next: rc.opts.mem64.base, name: '64-bit' };
  const mem = bars
    .filter((b): b is BarInfo => !!b && b.kind !== 'io')
    .sort((a, b) => (b.size > a.size ? 1 : b.size < a.size ? -1 : a.index - b.index));
  for (const b of mem) {
    const w = b.kind === 'mem64' && b.prefetchable && !below4G ? w64 : w32;
    const addr = (w.next + b.size - 1n) & ~(b.size - 1n);
    if (addr + b.size > w.limit)
      throw new EnumerationError(
        `BAR ${b.index} (${b.size} bytes) does not fit the ${w.name} window [${hex(w.base)}, ${hex(w.limit)})`,
      );
    w.next = addr + b.size;
    const off = PCI_BASE_ADDRESS_0 + 4 * b.index;
    const flags = rc.cfgRead(off) & 0xf;
    rc.cfgWrite(off, (Number(addr & 0xffff_fff0n) | flags) >>> 0);
    if (b.kind === 'mem64') rc.cfgWrite(off + 4, Number(addr >> 32n));
    const back = rc.cfgRead(off) & ~0xf;
    const backHi = b.kind === 'mem64' ? rc.cfgRead(off + 4) : 0;
    const got = (BigInt(backHi >>> 0) << 32n) | BigInt(back >>> 0);
    if (got !== addr) throw new EnumerationError(`BAR ${b.index}: wrote address ${hex(addr)}, reads back ${hex(got)}`);
    b.address = addr;
  }
}

function walkCaps(rc: RootComplex, info: DeviceInfo): void {
  const status = rc.cfgRead(PCI_STATUS, 2);
  if (status & PCI_STATUS_CAP_LIST) {
    let ptr = rc.cfgRead(PCI_CAPABILITY_LIST, 1) & 0xfc;
    const seen = new Set<number>();
    while (ptr) {
      if (ptr < 0x40)
        throw new EnumerationError(`capability pointer ${hex(ptr, 2)} points into the header (must be 0x40..0xfc)`);
      if (seen.has(ptr))
        throw new EnumerationError(
          `capability list loops back to ${hex(ptr, 2)} (after ${[...seen].map((p) => hex(p, 2)).join(' -> ')})`,
        );
      seen.add(ptr);
      const h = rc.cfgRead(ptr, 2);
      const id = h & 0xff;
      info.capList.push({ id, offset: ptr });
      if (!info.caps.has(id)) info.caps.set(id, ptr);
      ptr = (h >> 8) & 0xfc;
    }
  }
  // Extended capabilities exist only on PCI Express functions.
  if (!info.caps.has(PCI_CAP_ID_EXP)) return;
  let off = 0x100;
  const seen = new Set<number>();
  while (off) {
    let h: number;
    try {
      h = rc.cfgRead(off);
    } catch (e) {
      if (e instanceof CompletionStatusError && off === 0x100) return; // no extended config space
      throw e;
    }
    if (h === 0 || h === 0xffff_ffff) {
      if (off === 0x100) return;
      throw new EnumerationError(
        `extended capability at ${hex(off, 3)} reads ${hex(h, 8)} but was linked from the previous one`,
      );
    }
    if (seen.has(off)) throw new EnumerationError(`extended capability list loops back to ${hex(off, 3)}`);
    seen.add(off);
    const id = h & 0xffff;
    info.extCapList.push({ id, version: (h >>> 16) & 0xf, offset: off });
    if (!info.extCaps.has(id)) info.extCaps.set(id, off);
    const next = (h >>> 20) & 0xffc;
    if (next !== 0 && next < 0x100)
      throw new EnumerationError(`extended capability at ${hex(off, 3)} links to ${hex(next, 3)}, below 0x100`);
    off = next;
  }
}

/**
 * Read-modify-write of Device Control (and Device Control 2 for 10-bit tags, the Command register for bus
 * mastering). For a device the RC has not enumerated (one without configuration space) the settings are
 * stated instead, with no config traffic (see DeviceShadow.state()).
 */
export function setDeviceControl(rc: RootComplex, s: DeviceControlSettings): void {
  if (s.mps !== undefined) encodeSize(s.mps, 'MPS');
  if (s.mrrs !== undefined) encodeSize(s.mrrs, 'MRRS');
  const off = rc.shadow.pcieCap;
  if (off === undefined) {
    if (rc.device)
      throw new Error('rc: setDeviceControl: the enumerated device has no PCI Express capability to program');
    rc.shadow.state(s, rc.now);
    return;
  }
  if (s.busMaster !== undefined) {
    const cmd = rc.cfgRead(PCI_COMMAND, 2);
    rc.cfgWrite(PCI_COMMAND, s.busMaster ? cmd | PCI_COMMAND_MASTER : cmd & ~PCI_COMMAND_MASTER, 2);
  }
  let devctl = rc.cfgRead(off + PCI_EXP_DEVCTL, 2);
  if (s.mps !== undefined) devctl = (devctl & ~PCI_EXP_DEVCTL_PAYLOAD) | (encodeSize(s.mps, 'MPS') << 5);
  if (s.mrrs !== undefined) devctl = (devctl & ~PCI_EXP_DEVCTL_READRQ) | (encodeSize(s.mrrs, 'MRRS') << 12);
  if (s.extTags !== undefined) devctl = s.extTags ? devctl | PCI_EXP_DEVCTL_EXT_TAG : devctl & ~PCI_EXP_DEVCTL_EXT_TAG;
  rc.cfgWrite(off + PCI_EXP_DEVCTL, devctl, 2);
  if (s.tenBitTags !== undefined) {
    let d2 = rc.cfgRead(off + PCI_EXP_DEVCTL2, 2);
    d2 = s.tenBitTags ? d2 | PCI_EXP_DEVCTL2_10BIT_TAG_REQ_EN : d2 & ~PCI_EXP_DEVCTL2_10BIT_TAG_REQ_EN;
    rc.cfgWrite(off + PCI_EXP_DEVCTL2, d2, 2);
  }
  // What the device actually holds (read-only or hardwired fields win over what we wrote).
  rc.cfgRead(off + PCI_EXP_DEVCTL, 2);
  if (s.tenBitTags !== undefined) rc.cfgRead(off + PCI_EXP_DEVCTL2, 2);
}
