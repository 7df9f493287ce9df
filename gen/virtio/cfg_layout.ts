// The type-0 configuration space of the virtio-pci function as data: one CfgDword (gen/pcie/cfg_space.ts) per
// implemented dword, built from a VirtioPciLayout (IDs, BARs, where each capability sits and what it says). The
// RTL (cfg_space.ts) stores and decodes exactly these dwords; docs/virtio-layout.md shows them as a
// table ("Configuration space").
//
// Register semantics (PCI Express Base 6.x chapter 7; virtio 1.2 transport-pci.tex "Virtio Structure PCI
// Capabilities"): bits outside a dword's RW and RW1C masks are read-only and read `init`; `live` bits are ORed in
// at read time from hardware state. The few registers whose writes do more than store bits (Initiate FLR,
// PowerState, pci_cfg_data, MSI-X Message Control) are named in `VirtioCfgMap` so the RTL can find them.
// The golden model (tb/virtio/golden/cfgspace.ts) builds the same space independently, byte by byte; the tests
// compare every read of the RTL with it.
import { paramError } from '../hdl/params';
import { CapId, Command, type CfgDword, PcieCapReg, Status } from '../pcie/cfg_space';
import { capLength, capOrder, pciDeviceId, type CapKind, type VirtioPciLayout } from './layout';
import { DEVICE_TYPES, VIRTIO_CAP_FIELD, VIRTIO_PCI_CAP, VIRTIO_PCI_VENDOR_ID } from './regmap';

/** The vendor-specific capability ID (PCI Code and ID Assignment): what every virtio capability uses. */
const CAP_ID_VENDOR = 0x09;

/** Power Management capability registers (7.5.2): PMC at +2, PMCSR at +4. */
export const PmReg = { Pmc: 0x02, Pmcsr: 0x04 } as const;
/** PMCSR: PowerState [1:0] (0 = D0, 3 = D3hot), No_Soft_Reset [3]. */
export const PMCSR_NO_SOFT_RESET = 0x8;

/** Device Control bit 15: Initiate Function Level Reset (write 1; reads 0). */
export const DEVCTL_INITIATE_FLR = 0x8000;
/** Device Status (upper half of the Device Control dword): Transactions Pending [5], live. */
export const DEVSTA_TRANSACTIONS_PENDING = 0x20;
/** Device Status: Unsupported Request Detected [3] (RW1C). */
export const DEVSTA_URD = 0x8;
/** Status register bit 3: Interrupt Status (live: an INTx interrupt is pending in the function). */
export const STATUS_INTERRUPT = 0x8;

const VIRTIO_CFG_TYPE: Readonly<Record<string, number>> = {
  common: VIRTIO_PCI_CAP.COMMON_CFG,
  notify: VIRTIO_PCI_CAP.NOTIFY_CFG,
  isr: VIRTIO_PCI_CAP.ISR_CFG,
  device: VIRTIO_PCI_CAP.DEVICE_CFG,
  pciCfg: VIRTIO_PCI_CAP.PCI_CFG,
};

/** Where the registers with side effects are (byte offsets of their dwords). */
export interface VirtioCfgMap {
  command: number;
  /** Device Control (low half) + Device Status (high half). */
  devctl: number;
  /** Link Control: kept across FLR. */
  lnkctl: number;
  /** MSI-X capability header + Message Control. */
  msixCtl: number;
  /** PMCSR, when there is a PM capability. */
  pmcsr?: number;
  /** The PCI_CFG access capability's cap.bar, cap.offset, cap.length and pci_cfg_data dwords. */
  pciCfgBar: number;
  pciCfgOffset: number;
  pciCfgLength: number;
  pciCfgData: number;
}

export function virtioCfgMap(layout: VirtioPciLayout): VirtioCfgMap {
  const at = layout.caps.at;
  if (at.pcie === undefined || at.msix === undefined || at.pciCfg === undefined)
    throw paramError(`virtio layout '${layout.name}': the PCI Express, MSI-X and PCI_CFG capabilities need offsets`);
  return {
    command: 0x04,
    devctl: at.pcie + PcieCapReg.DevCtl,
    lnkctl: at.pcie + PcieCapReg.LnkCtl,
    msixCtl: at.msix,
    pmcsr: at.pm === undefined ? undefined : at.pm + PmReg.Pmcsr,
    pciCfgBar: at.pciCfg + VIRTIO_CAP_FIELD.BAR,
    pciCfgOffset: at.pciCfg + VIRTIO_CAP_FIELD.OFFSET,
    pciCfgLength: at.pciCfg + VIRTIO_CAP_FIELD.LENGTH,
    pciCfgData: at.pciCfg + VIRTIO_CAP_FIELD.PCI_CFG_DATA,
  };
}

function dw(offset: number, name: string, init: number, rw = 0, w1c = 0, live = 0): CfgDword {
  return { offset, name, init: init >>> 0, rw: rw >>> 0, w1c: w1c >>> 0, live: live >>> 0 };
}

/** The dwords of one capability at `at`, linked to `next`. */
function capDwords(l: VirtioPciLayout, kind: CapKind, at: number, next: number): CfgDword[] {
  switch (kind) {
    case 'pm':
      // Version 3, no D1/D2, no PME (PMC); PowerState RW (D1/D2 writes are ignored by the RTL), No_Soft_Reset.
      return [
        dw(at, 'pm_cap', CapId.PowerManagement | (next << 8) | (0x0003 << 16)),
        dw(at + PmReg.Pmcsr, 'pm_csr', PMCSR_NO_SOFT_RESET, 0x3),
      ];
    case 'pcie': {
      const p = l.pcie;
      const mpsCode = Math.log2(p.mpsSupported / 128);
      const extTag = p.extTag ? 0x100 : 0;
      return [
        // Capability version 2, device/port type 0: PCI Express Endpoint.
        dw(at, 'pcie_cap', CapId.PciExpress | (next << 8) | (0x0002 << 16)),
        // Device Capabilities: MPS supported, Extended Tag, L0s/L1 acceptable latency 7 (no limit), Role-Based
        // Error Reporting, Function Level Reset Capability.
        dw(
          at + PcieCapReg.DevCap,
          'pcie_devcap',
          mpsCode | (p.extTag ? 0x20 : 0) | (7 << 6) | (7 << 9) | 0x8000 | (p.flr ? 0x1000_0000 : 0),
        ),
        // Device Control: error reporting enables [3:0], Relaxed Ordering [4] (1), MPS [7:5], Extended Tag [8],
        // No Snoop [11] (1), MRRS [14:12] (512 B); Initiate FLR [15] reads 0. Device Status: CED/NFED/FED/URD
        // RW1C, Transactions Pending live.
        dw(
          at + PcieCapReg.DevCtl,
          'pcie_devctl',
          (2 << 12) | 0x10 | 0x800 | extTag,
          0x000f | 0x10 | 0x00e0 | extTag | 0x800 | 0x7000,
          0x000f << 16,
          DEVSTA_TRANSACTIONS_PENDING << 16,
        ),
        dw(at + PcieCapReg.LnkCap, 'pcie_lnkcap', p.linkSpeed | (p.linkWidth << 4)),
        // Link Control: ASPM Control [1:0], RCB [3], Common Clock [6], Extended Synch [7]. Link Status: current
        // speed and width, Slot Clock Configuration [12].
        dw(at + PcieCapReg.LnkCtl, 'pcie_lnkctl', (p.linkSpeed | (p.linkWidth << 4) | 0x1000) << 16, 0x00cb),
        dw(at + PcieCapReg.DevCap2, 'pcie_devcap2', 0x10), // Completion Timeout Disable Supported
        dw(at + PcieCapReg.DevCtl2, 'pcie_devctl2', 0, 0x0010), // Completion Timeout Disable
        dw(at + PcieCapReg.LnkCap2, 'pcie_lnkcap2', ((1 << p.linkSpeed) - 1) << 1),
        dw(at + PcieCapReg.LnkCtl2, 'pcie_lnkctl2', p.linkSpeed, 0x000f), // Target Link Speed
      ];
    }
    case 'msix': {
      const m = l.msix;
      return [
        // Message Control: Table Size (N - 1); Function Mask [14] and MSI-X Enable [15] RW.
        dw(at, 'msix_cap', CapId.Msix | (next << 8) | ((m.vectors - 1) << 16), 0xc000_0000),
        dw(at + 4, 'msix_table', m.table.offset | m.table.bar),
        dw(at + 8, 'msix_pba', m.pba.offset | m.pba.bar),
      ];
    }
    default: {
      const head = dw(
        at,
        `${kind}_cap`,
        CAP_ID_VENDOR | (next << 8) | (capLength(l, kind) << 16) | (VIRTIO_CFG_TYPE[kind] << 24),
      );
      if (kind === 'pciCfg')
        // cap.bar, cap.offset, cap.length and pci_cfg_data are the driver's (transport-pci.tex "PCI configuration
        // access capability"); the rest of the structure is read-only 0.
        return [
          head,
          dw(at + VIRTIO_CAP_FIELD.BAR, 'pci_cfg_bar', 0, 0xff),
          dw(at + VIRTIO_CAP_FIELD.OFFSET, 'pci_cfg_offset', 0, 0xffff_ffff),
          dw(at + VIRTIO_CAP_FIELD.LENGTH, 'pci_cfg_length', 0, 0xffff_ffff),
          dw(at + VIRTIO_CAP_FIELD.PCI_CFG_DATA, 'pci_cfg_data', 0, 0xffff_ffff),
        ];
      const region = { common: l.common, notify: l.notify, isr: l.isr, device: l.device }[kind as string];
      if (!region) throw paramError(`virtio layout '${l.name}': no region for the ${kind} capability`);
      const out = [
        head,
        dw(at + VIRTIO_CAP_FIELD.BAR, `${kind}_bar`, region.bar),
        dw(at + VIRTIO_CAP_FIELD.OFFSET, `${kind}_offset`, region.offset),
        dw(at + VIRTIO_CAP_FIELD.LENGTH, `${kind}_length`, region.length),
      ];
      if (kind === 'notify')
        out.push(dw(at + VIRTIO_CAP_FIELD.NOTIFY_OFF_MULTIPLIER, 'notify_multiplier', l.notify.multiplier));
      return out;
    }
  }
}

/** Every implemented dword of the function's configuration space, in offset order. Others read 0. */
export function virtioCfgDwords(l: VirtioPciLayout): CfgDword[] {
  const type = DEVICE_TYPES[l.deviceType];
  const d: CfgDword[] = [];
  d.push(dw(0x00, 'id', (pciDeviceId(l) << 16) | VIRTIO_PCI_VENDOR_ID));
  // Command: Memory Space, Bus Master, Parity Error Response, SERR# Enable, Interrupt Disable RW (no IO space).
  // Status: Capabilities List; the error bits RW1C; Interrupt Status live.
  d.push(
    dw(
      0x04,
      'command_status',
      Status.CapabilitiesList << 16,
      Command.MemorySpace | Command.BusMaster | Command.ParityErrorResponse | Command.Serr | Command.InterruptDisable,
      0xf900 << 16,
      STATUS_INTERRUPT << 16,
    ),
  );
  d.push(dw(0x08, 'class_revision', (type.classCode << 8) | l.revision));
  d.push(dw(0x0c, 'header_type', 0, 0xff)); // Cache Line Size RW (no effect on PCI Express); type 0, one function
  for (const b of l.bars) {
    const low = (b.bits === 64 ? 0x4 : 0) | (b.prefetchable ? 0x8 : 0);
    d.push(dw(0x10 + 4 * b.index, `bar${b.index}`, low, ~(b.size - 1) & 0xffff_fff0));
    if (b.bits === 64) d.push(dw(0x14 + 4 * b.index, `bar${b.index + 1}_upper`, 0, 0xffff_ffff));
  }
  d.push(dw(0x2c, 'subsystem', (l.subsystemId << 16) | l.subsystemVendorId));
  const order = capOrder(l);
  d.push(dw(0x34, 'cap_ptr', order.length ? l.caps.at[order[0]]! : 0));
  d.push(dw(0x3c, 'interrupt', 1 << 8, 0xff)); // Interrupt Line RW; Interrupt Pin 1: INTA
  order.forEach((kind, i) => {
    const next = i + 1 < order.length ? l.caps.at[order[i + 1]]! : 0;
    d.push(...capDwords(l, kind, l.caps.at[kind]!, next));
  });
  d.sort((a, b) => a.offset - b.offset);
  for (let i = 1; i < d.length; i++)
    if (d[i].offset === d[i - 1].offset)
      throw paramError(
        `virtio layout '${l.name}': ${d[i - 1].name} and ${d[i].name} both at 0x${d[i].offset.toString(16)}`,
      );
  if (!l.bars.length) throw paramError(`virtio layout '${l.name}': no BARs`);
  return d;
}

/**
 * A range of configuration space [from, to) that a hard IP forwards to user logic (Xilinx 7-series: every access
 * at and above EXT_CFG_CAP_PTR; the hard IP answers the rest: header, PCI Express, PM, MSI-X capabilities).
 */
export interface CfgForward {
  from: number;
  to: number;
}

/**
 * The forwarded range for the default layout: its virtio capabilities (common at 0x90 .. PCI_CFG ending at 0xe8)
 * and the rest of the standard space; a Xilinx 7-series core with EXT_CFG_CAP_PTR = 0x24 forwards exactly that.
 */
export const DEFAULT_FORWARD: CfgForward = { from: 0x90, to: 0x100 };

/** Why `range` cannot be the forwarded part of `l`'s configuration space (empty if it can). */
export function forwardProblems(l: VirtioPciLayout, range: CfgForward): string[] {
  const p: string[] = [];
  const hex = (n: number) => `0x${n.toString(16)}`;
  if (range.from % 4 || range.to % 4 || range.from < 0x40 || range.to > 0x1000 || range.from >= range.to)
    p.push(
      `forwarded range [${hex(range.from)}, ${hex(range.to)}) must be dword aligned, non-empty and above the header`,
    );
  const order = capOrder(l);
  const inside = (k: CapKind) => l.caps.at[k]! >= range.from && l.caps.at[k]! + capLength(l, k) <= range.to;
  const outside = (k: CapKind) => l.caps.at[k]! + capLength(l, k) <= range.from || l.caps.at[k]! >= range.to;
  for (const k of order) {
    if (!inside(k) && !outside(k)) p.push(`the ${k} capability at ${hex(l.caps.at[k]!)} straddles the forwarded range`);
    if (inside(k) && !(k in VIRTIO_CFG_TYPE))
      p.push(`the ${k} capability is the hard IP's: it cannot be in the forwarded range`);
  }
  if (!inside('pciCfg')) p.push('the PCI_CFG capability must be in the forwarded range (its window reaches the BARs)');
  // The hard IP's list links into the forwarded one: every capability outside comes first.
  const firstIn = order.findIndex(inside);
  if (firstIn >= 0 && order.slice(firstIn).some((k) => !inside(k)))
    p.push(`capability order [${order.join(', ')}]: the forwarded capabilities must end the list`);
  return p;
}
