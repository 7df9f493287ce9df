// Type-0 configuration space of one PCI Express endpoint function, in soft logic.
//
// The space is described as data (`cfgSpaceLayout`): one entry per implemented dword with its reset value
// and which bits are read-write or write-1-to-clear. The RTL, the tests and docs/testdev.md all read that
// description. Dwords not in it read 0 and ignore writes (7.5.1: unimplemented registers), including all of
// extended configuration space from 0x100, whose first dword of 0 is the null extended capability header
// that ends the (empty) extended capability list (7.6.2).
//
// Layout (offsets in bytes):
//   0x00-0x3F  type-0 header (7.5.1.1, 7.5.1.2): IDs, Command/Status, class, BARs, capabilities pointer
//   0x40       PCI Express capability, version 2, endpoint (7.5.3), 0x3C bytes
//   0x80       MSI-X capability (7.7.2), 12 bytes
//   0x90       Power Management capability (7.5.2; required of every PCI Express function), 8 bytes
//   0x98-0xFF  free (room for the five virtio vendor-specific capabilities, 88 bytes, on a virtio device)
//   0x100      null extended capability header (reads 0), and 0 beyond
//
// Requests: one CfgRd0/CfgWr0 at a time, answered through a one-entry completion register. Writes honour
// First DW BE. Requests to a function number other than 0 get UR (a single-function device, no ARI).
// Every completed type-0 configuration write captures the bus and device number (2.2.6.2), which become
// the function's Completer ID and Requester ID.
import {
  bit,
  cat,
  defineModule,
  type Drivable,
  type Expr,
  lit,
  type ModuleBuilder,
  mux,
  paramError,
  type Signal,
} from '../hdl';
import { cplReqStream, type DataWidth, driveOneBeat, tlpRxStream } from './streams';
import { CplStatus, tlpFields } from './tlp';

// ---------------------------------------------------------------------------------------------------------
// Parameters

export interface BarSpec {
  /** BAR index 0..5; a 64-bit BAR also takes index + 1. */
  index: number;
  kind: 'mem32' | 'mem64';
  prefetchable: boolean;
  /** log2 of the size in bytes (at least 4 KiB = 12 is recommended, 7.5.1.2.1). */
  sizeLog2: number;
}

export interface MsixSpec {
  vectors: number;
  tableBar: number;
  tableOffset: number;
  pbaBar: number;
  pbaOffset: number;
}

export interface CfgSpaceParams {
  /** Distinguishes the Verilog module of each device (`pcie_cfg_space_<name>`). */
  name: string;
  vendorId: number;
  deviceId: number;
  subsystemVendorId: number;
  subsystemId: number;
  revisionId: number;
  /** Class code, 24 bits: base class, subclass, programming interface. */
  classCode: number;
  bars: BarSpec[];
  msix: MsixSpec;
  /** Max_Payload_Size Supported encoding (0 = 128 B .. 5 = 4096 B). */
  mpsSupported: number;
  extTagSupported: boolean;
  /** Link speed encoding (1 = 2.5 GT/s, 2 = 5, 3 = 8, 4 = 16) and width reported in Link Capabilities/Status. */
  linkSpeed: number;
  linkWidth: number;
}

/** Where each capability lives (byte offsets), shared by the RTL and the tests. */
export const CapOffset = { PciExpress: 0x40, Msix: 0x80, PowerManagement: 0x90 } as const;
export const CapId = { PowerManagement: 0x01, PciExpress: 0x10, Msix: 0x11 } as const;

/** Offsets of the registers inside the PCI Express capability (Linux pci_regs.h PCI_EXP_*). */
export const PcieCapReg = {
  Flags: 0x02,
  DevCap: 0x04,
  DevCtl: 0x08,
  DevSta: 0x0a,
  LnkCap: 0x0c,
  LnkCtl: 0x10,
  LnkSta: 0x12,
  DevCap2: 0x24,
  DevCtl2: 0x28,
  LnkCap2: 0x2c,
  LnkCtl2: 0x30,
} as const;

/** Bits of the Command and Status registers (7.5.1.1.3, 7.5.1.1.4). */
export const Command = {
  MemorySpace: 1 << 1,
  BusMaster: 1 << 2,
  ParityErrorResponse: 1 << 6,
  Serr: 1 << 8,
  InterruptDisable: 1 << 10,
} as const;
export const Status = {
  CapabilitiesList: 1 << 4,
  MasterDataParityError: 1 << 8,
  SignaledTargetAbort: 1 << 11,
  ReceivedTargetAbort: 1 << 12,
  ReceivedMasterAbort: 1 << 13,
  DetectedParityError: 1 << 15,
} as const;

// ---------------------------------------------------------------------------------------------------------
// The layout as data

/** One implemented configuration dword. Bits outside rw|w1c are read-only and read `init`. */
export interface CfgDword {
  offset: number;
  name: string;
  /** Reset value (and the value of every read-only bit). */
  init: number;
  /** Read-write bits. */
  rw: number;
  /** Write-1-to-clear status bits (set by hardware events). */
  w1c: number;
  /** Read-only bits that reflect live hardware state (ORed in at read). */
  live: number;
}

function dw(offset: number, name: string, init: number, rw = 0, w1c = 0, live = 0): CfgDword {
  return { offset, name, init: init >>> 0, rw: rw >>> 0, w1c: w1c >>> 0, live: live >>> 0 };
}

/** The implemented dwords of a function's configuration space, in offset order. */
export function cfgSpaceLayout(p: CfgSpaceParams): CfgDword[] {
  const d: CfgDword[] = [];
  // ---- Type-0 header (7.5.1.1)
  d.push(dw(0x00, 'id', (p.deviceId << 16) | p.vendorId));
  // Command: Memory Space, Bus Master, Parity Error Response, SERR# Enable, Interrupt Disable are RW; IO
  // Space is 0 (no IO BARs). Status: Capabilities List = 1; error bits RW1C.
  const statusW1c =
    Status.MasterDataParityError |
    Status.SignaledTargetAbort |
    Status.ReceivedTargetAbort |
    Status.ReceivedMasterAbort |
    Status.DetectedParityError;
  d.push(
    dw(
      0x04,
      'command_status',
      Status.CapabilitiesList << 16,
      Command.MemorySpace | Command.BusMaster | Command.ParityErrorResponse | Command.Serr | Command.InterruptDisable,
      statusW1c << 16,
    ),
  );
  d.push(dw(0x08, 'class_revision', (p.classCode << 8) | p.revisionId));
  // Cache Line Size is RW with no effect on PCI Express (7.5.1.1.7); Header Type 00h: type 0, single function.
  d.push(dw(0x0c, 'header_type', 0, 0xff));
  const used = new Set<number>();
  for (const b of p.bars) {
    if (used.has(b.index) || (b.kind === 'mem64' && used.has(b.index + 1)))
      throw paramError(`cfg space: BAR${b.index} overlaps another BAR`);
    used.add(b.index);
    // Memory BAR (7.5.1.2.1): bit 0 = 0 memory, bits 2:1 = type (00 32-bit, 10 64-bit), bit 3 = prefetchable;
    // the address bits below the size are read-only 0, so writing all ones reads back the size mask.
    const type = (b.kind === 'mem64' ? 0b100 : 0) | (b.prefetchable ? 0b1000 : 0);
    const mask = b.sizeLog2 >= 32 ? 0 : ~((1 << b.sizeLog2) - 1) >>> 0;
    if (b.sizeLog2 < 7) throw paramError(`cfg space: BAR${b.index} smaller than 128 bytes (2^${b.sizeLog2})`);
    d.push(dw(0x10 + 4 * b.index, `bar${b.index}`, type, mask));
    if (b.kind === 'mem64') {
      if (b.index >= 5) throw paramError('cfg space: a 64-bit BAR cannot start at BAR5');
      used.add(b.index + 1);
      const hiMask = b.sizeLog2 <= 32 ? 0xffffffff : ~((1 << (b.sizeLog2 - 32)) - 1) >>> 0;
      d.push(dw(0x10 + 4 * (b.index + 1), `bar${b.index + 1}_upper`, 0, hiMask));
    }
  }
  d.push(dw(0x2c, 'subsystem', (p.subsystemId << 16) | p.subsystemVendorId));
  d.push(dw(0x34, 'cap_ptr', CapOffset.PciExpress));
  // Interrupt Line is a RW scratch byte for software; Interrupt Pin 0: no INTx.
  d.push(dw(0x3c, 'interrupt', 0, 0xff));

  // ---- PCI Express capability (7.5.3), endpoint, version 2, next: MSI-X
  const e = CapOffset.PciExpress;
  d.push(dw(e + 0x00, 'pcie_cap', CapId.PciExpress | (CapOffset.Msix << 8) | (0x0002 << 16)));
  // Device Capabilities: Max_Payload_Size Supported, Extended Tag Field Supported, Role-Based Error Reporting.
  d.push(dw(e + 0x04, 'pcie_devcap', p.mpsSupported | ((p.extTagSupported ? 1 : 0) << 5) | (1 << 15)));
  // Device Control: error reporting enables [3:0], Enable Relaxed Ordering [4] (default 1), Max_Payload_Size
  // [7:5] (default 128 B), Extended Tag Field Enable [8], Enable No Snoop [11] (default 1),
  // Max_Read_Request_Size [14:12] (default 512 B). Device Status: error detected bits RW1C, Transactions
  // Pending [5] live.
  d.push(
    dw(
      e + 0x08,
      'pcie_devctl',
      (1 << 4) | (1 << 11) | (2 << 12),
      0x0f | (1 << 4) | (7 << 5) | ((p.extTagSupported ? 1 : 0) << 8) | (1 << 11) | (7 << 12),
      0xf << 16,
      1 << 21,
    ),
  );
  // Link Capabilities: Max Link Speed, Maximum Link Width, ASPM Optionality Compliance [22].
  d.push(dw(e + 0x0c, 'pcie_lnkcap', p.linkSpeed | (p.linkWidth << 4) | (1 << 22)));
  // Link Control: Common Clock Configuration [6], Extended Synch [7]. Link Status: Current Link Speed,
  // Negotiated Link Width, Slot Clock Configuration [12].
  d.push(dw(e + 0x10, 'pcie_lnkctl', (p.linkSpeed | (p.linkWidth << 4) | (1 << 12)) << 16, (1 << 6) | (1 << 7)));
  // Link Capabilities 2: Supported Link Speeds Vector [7:1]. Link Control 2: Target Link Speed.
  d.push(dw(e + 0x2c, 'pcie_lnkcap2', ((1 << p.linkSpeed) - 1) << 1));
  d.push(dw(e + 0x30, 'pcie_lnkctl2', p.linkSpeed));

  // ---- MSI-X capability (7.7.2): Table Size (N-1), Function Mask [14] and MSI-X Enable [15] of Message
  // Control; table and PBA as BIR + offset. Next: Power Management.
  const x = CapOffset.Msix;
  d.push(
    dw(
      x + 0x00,
      'msix_cap',
      CapId.Msix | (CapOffset.PowerManagement << 8) | ((p.msix.vectors - 1) << 16),
      (1 << 30) | (1 << 31),
    ),
  );
  d.push(dw(x + 0x04, 'msix_table', p.msix.tableOffset | p.msix.tableBar));
  d.push(dw(x + 0x08, 'msix_pba', p.msix.pbaOffset | p.msix.pbaBar));

  // ---- Power Management capability (7.5.2): version 3, D0 and D3hot only; PowerState RW (the RTL ignores
  // writes of the unsupported D1/D2), No_Soft_Reset = 1 (D3hot -> D0 keeps the configuration). Last.
  const pm = CapOffset.PowerManagement;
  d.push(dw(pm + 0x00, 'pm_cap', CapId.PowerManagement | (0x0003 << 16)));
  d.push(dw(pm + 0x04, 'pm_csr', 1 << 3, 0x3));
  return d.sort((a, b) => a.offset - b.offset);
}

// ---------------------------------------------------------------------------------------------------------
// The module

/** The configuration registers as read: a value per implemented dword, and the register behind each writable one. */
interface CfgStorage {
  /** offset -> the dword as read (its writable bits from the register, the rest constant). */
  value: Map<number, Expr>;
  /** offset -> the register holding a dword with writable bits. */
  reg: Map<number, Signal>;
  /** Bits hi..lo of the register at `offset`. */
  field(offset: number, hi: number, lo: number): Expr;
}

/** One register per dword that has writable bits; read-only dwords are constants. */
function cfgStorage(m: ModuleBuilder, layout: CfgDword[]): CfgStorage {
  const value = new Map<number, Expr>();
  const reg = new Map<number, Signal>();
  for (const d of layout) {
    const keep = (d.rw | d.w1c) >>> 0;
    if (keep === 0) {
      value.set(d.offset, lit(d.init, 32));
      continue;
    }
    const r = m.reg(`cfg_${d.name}`, 32, { reset: d.init });
    reg.set(d.offset, r);
    value.set(d.offset, r.and(lit(keep, 32)).or(lit((d.init & ~keep) >>> 0, 32)));
  }
  const field = (offset: number, hi: number, lo: number) => {
    const r = reg.get(offset);
    if (!r) throw paramError(`cfg space: no register at 0x${offset.toString(16)}`);
    return r.bits(hi, lo);
  };
  return { value, reg, field };
}

/**
 * A configuration dword `r` after a write of `data` under the byte enables `be`: RW bits take the enabled bytes,
 * RW1C bits clear where a one is written, the rest keep `r`. Built bit by bit, a RW bit as a mux whose other
 * input is the register, so that synthesis makes the write a flip-flop's clock enable instead of a LUT per bit.
 */
export function cfgWritten(r: Expr, data: Expr, be: Expr, d: Pick<CfgDword, 'rw' | 'w1c'>): Expr {
  const bits: Expr[] = [];
  for (let i = 31; i >= 0; i--) {
    const on = (mask: number) => ((mask >>> i) & 1) === 1;
    const en = be.bit(i >> 3);
    if (on(d.rw)) bits.push(mux(en, data.bit(i), r.bit(i)));
    else if (on(d.w1c)) bits.push(r.bit(i).and(en.and(data.bit(i)).not()));
    else bits.push(r.bit(i));
  }
  return cat(...bits);
}

/** `next` with the RW1C bits of `d` that `set` has set (hardware events), bit by bit as `cfgWritten`. */
export function cfgEventsSet(next: Expr, set: Expr, d: Pick<CfgDword, 'w1c'>): Expr {
  const bits: Expr[] = [];
  for (let i = 31; i >= 0; i--) bits.push((d.w1c >>> i) & 1 ? next.bit(i).or(set.bit(i)) : next.bit(i));
  return cat(...bits);
}

/**
 * Writes: RW bits under the byte enables, RW1C bits cleared by ones; then hardware events (`sets`, per
 * offset) set RW1C bits.
 */
function cfgWrites(
  layout: CfgDword[],
  store: CfgStorage,
  w: { en: Expr; dword: Expr; data: Expr; be: Expr },
  sets: Map<number, Expr>,
): void {
  for (const d of layout) {
    const r = store.reg.get(d.offset);
    if (!r) continue;
    const hit = w.en.and(w.dword.eq(d.offset >> 2));
    let written = cfgWritten(r, w.data, w.be, d);
    if (d.offset === CapOffset.PowerManagement + 4) {
      // PowerState: only D0 (00) and D3hot (11) exist; a write of D1/D2 leaves the state unchanged (7.5.2.2).
      const ps = written.bits(1, 0);
      written = mux(ps.eq(1).or(ps.eq(2)), cat(written.bits(31, 2), r.bits(1, 0)), written);
    }
    const next = mux(hit, written, r);
    const set = sets.get(d.offset);
    r.next(set ? cfgEventsSet(next, set, d) : next);
  }
}

/** Reads: the dword at `dword` (10 bits), live bits ORed in; unimplemented dwords read 0. */
function cfgReadMux(m: ModuleBuilder, layout: CfgDword[], store: CfgStorage, live: Map<number, Expr>, dword: Expr) {
  const rdata = m.wire('rdata', 32, { default: 0 });
  const sw = m.switch(dword);
  for (const d of layout) {
    const l = live.get(d.offset);
    const v = store.value.get(d.offset)!;
    sw.case(lit(d.offset >> 2, 10), () => rdata.set(l ? v.or(l) : v));
  }
  return rdata;
}

/** The settings the rest of the function obeys, from the registers (7.5.1.1.3, 7.5.3.4, 7.7.2.2, 7.5.2.2). */
function driveSettings(
  store: CfgStorage,
  p: CfgSpaceParams,
  out: {
    memEnable: Drivable;
    busMaster: Drivable;
    mps: Drivable;
    mrrs: Drivable;
    extTagEn: Drivable;
    msixEnable: Drivable;
    msixMask: Drivable;
    barOut: Map<number, Drivable>;
  },
): void {
  const { field } = store;
  const cmd = (bit: number) => field(0x04, bit, bit);
  const powerD0 = field(CapOffset.PowerManagement + 4, 1, 0).eq(0);
  out.memEnable.set(cmd(1).and(powerD0)); // Memory Space Enable, and in D0
  out.busMaster.set(cmd(2));
  const devctl = CapOffset.PciExpress + 8;
  out.mps.set(field(devctl, 7, 5));
  out.mrrs.set(field(devctl, 14, 12));
  out.extTagEn.set(p.extTagSupported ? field(devctl, 8, 8) : lit(0, 1));
  out.msixEnable.set(field(CapOffset.Msix, 31, 31));
  out.msixMask.set(field(CapOffset.Msix, 30, 30));
  for (const b of p.bars) {
    const lo = store.value.get(0x10 + 4 * b.index)!;
    const base = cat(lo.bits(31, 4), lit(0, 4));
    out.barOut
      .get(b.index)!
      .set(b.kind === 'mem64' ? cat(store.value.get(0x10 + 4 * (b.index + 1))!, base) : base.zext(64));
  }
}

/** The RW1C bits hardware events set, per dword offset: Status (7.5.1.1.4) and Device Status (7.5.3.5). */
function statusEvents(
  store: CfgStorage,
  ev: { masterAbort: Expr; targetAbort: Expr; poisonedCpl: Expr; poisonedReq: Expr; sentCa: Expr; ur: Expr },
): Map<number, Expr> {
  const parityResp = store.field(0x04, 6, 6);
  const statusSet = cat(
    ev.poisonedCpl.or(ev.poisonedReq), // 15 Detected Parity Error
    lit(0, 1), // 14 Signaled System Error: no error messages are sent
    ev.masterAbort, // 13 Received Master Abort
    ev.targetAbort, // 12 Received Target Abort
    ev.sentCa, // 11 Signaled Target Abort
    lit(0, 2),
    ev.poisonedCpl.and(parityResp), // 8 Master Data Parity Error
    lit(0, 8),
  );
  return new Map<number, Expr>([
    [0x04, cat(statusSet, lit(0, 16))],
    [CapOffset.PciExpress + 8, cat(lit(0, 12), ev.ur, lit(0, 3), lit(0, 16))], // Unsupported Request Detected
  ]);
}

export const CfgSpace = defineModule(
  'pcie_cfg_space',
  (m, p: CfgSpaceParams & { W: DataWidth }) => {
    const req = m.input('req', tlpRxStream(p.W));
    const cpl = m.output('cpl', cplReqStream(p.W));

    // Sideband: the configuration the rest of the function obeys.
    const completerIdOut = m.output('completer_id', 16);
    const memEnable = m.output('mem_enable', bit); // Memory Space Enable, and in D0
    const busMaster = m.output('bus_master', bit);
    const mps = m.output('max_payload', 3);
    const mrrs = m.output('max_read_req', 3);
    const extTagEn = m.output('ext_tag_en', bit);
    const msixEnable = m.output('msix_enable', bit);
    const msixMask = m.output('msix_function_mask', bit);
    const barOut = new Map(p.bars.map((b) => [b.index, m.output(`bar${b.index}_base`, 64)]));

    // Events that set RW1C status bits, and live state.
    const evMasterAbort = m.input('ev_received_master_abort', bit); // a completion with UR status arrived
    const evTargetAbort = m.input('ev_received_target_abort', bit); // a completion with CA status arrived
    const evPoisonedCpl = m.input('ev_poisoned_cpl', bit); // a poisoned completion arrived
    const evPoisonedReq = m.input('ev_poisoned_req', bit); // a poisoned request arrived
    const evSentCa = m.input('ev_sent_completer_abort', bit);
    const evUr = m.input('ev_unsupported_request', bit);
    const txPending = m.input('transactions_pending', bit);

    const layout = cfgSpaceLayout(p);

    // ---- request decode
    const f = tlpFields(req.hdr);
    const isWrite = f.hasData;
    const fnOk = req.func.eq(0); // the receive sideband's function number
    const slotFree = m.wire('slot_free', bit);
    const accept = m.let('accept', req.valid.and(slotFree));
    const doWrite = m.let('do_write', accept.and(isWrite).and(fnOk));
    const wdata = req.data.bits(31, 0);

    // ---- storage: one register per dword that has writable bits
    const store = cfgStorage(m, layout);

    // ---- sideband values, live bits and status events
    const devctl = CapOffset.PciExpress + 8;
    driveSettings(store, p, { memEnable, busMaster, mps, mrrs, extTagEn, msixEnable, msixMask, barOut });
    const live = new Map<number, Expr>([[devctl, cat(lit(0, 10), txPending, lit(0, 21))]]);
    const sets = statusEvents(store, {
      masterAbort: evMasterAbort,
      targetAbort: evTargetAbort,
      poisonedCpl: evPoisonedCpl,
      poisonedReq: evPoisonedReq,
      sentCa: evSentCa,
      ur: evUr,
    });

    // ---- writes
    cfgWrites(layout, store, { en: doWrite, dword: f.cfgDword, data: wdata, be: f.firstBe }, sets);

    // ---- Completer ID: captured from every type-0 configuration write this function completes (2.2.6.2).
    const completerId = m.reg('completer_id_q', 16, { reset: 0 });
    m.if(doWrite, () => completerId.next(cat(f.cfgBus, f.cfgDevice, lit(0, 3))));
    completerIdOut.set(completerId);

    // ---- reads
    const rdata = cfgReadMux(m, layout, store, live, f.cfgDword);

    // ---- the completion register: one request at a time, UR for a function other than 0
    const cplValid = m.reg('resp_valid', bit, { reset: 0 });
    const cplHdr = m.reg('resp_hdr', 128);
    const cplStatus = m.reg('resp_status', 3);
    const cplData = m.reg('resp_data', 32);
    // A request is taken only when the register is empty, so that nothing behind the completion port (its
    // arbiter) reaches the request's ready and the register writes combinationally.
    slotFree.set(cplValid.not());
    req.ready.set(slotFree);
    m.if(accept, () => {
      cplValid.next(1);
      cplHdr.next(req.hdr);
      cplStatus.next(mux(fnOk.not(), lit(CplStatus.UR, 3), lit(CplStatus.SC, 3)));
      cplData.next(rdata);
    }).elseIf(cpl.ready, () => cplValid.next(0));
    driveOneBeat(cpl, { valid: cplValid, hdr: cplHdr, dword: cplData });
    cpl.status.set(cplStatus);
    return {
      req,
      cpl,
      completer_id: completerIdOut,
      mem_enable: memEnable,
      bus_master: busMaster,
      max_payload: mps,
      max_read_req: mrrs,
      ext_tag_en: extTagEn,
      msix_enable: msixEnable,
      msix_function_mask: msixMask,
      /** BAR base addresses by BAR index (ports `bar<i>_base`). */
      bar_base: Object.fromEntries(barOut),
      ev_received_master_abort: evMasterAbort,
      ev_received_target_abort: evTargetAbort,
      ev_poisoned_cpl: evPoisonedCpl,
      ev_poisoned_req: evPoisonedReq,
      ev_sent_completer_abort: evSentCa,
      ev_unsupported_request: evUr,
      transactions_pending: txPending,
    };
  },
  {
    name: (p) => `pcie_cfg_space_${p.name}_w${p.W}`,
    doc: 'Type-0 configuration space: header, BARs, PCI Express, MSI-X and PM capabilities.',
  },
);

/** The implemented dwords as a Markdown table (docs): offset, name, reset value, RW and RW1C masks. */
export function cfgSpaceMarkdown(p: CfgSpaceParams): string {
  const h8 = (v: number) => `0x${(v >>> 0).toString(16).padStart(8, '0')}`;
  const lines = [
    '| offset | dword | reset / read-only value | RW bits | RW1C bits |',
    '| --- | --- | --- | --- | --- |',
  ];
  for (const d of cfgSpaceLayout(p)) {
    lines.push(
      `| 0x${d.offset.toString(16).padStart(3, '0')} | ${d.name} | ${h8(d.init)} | ${d.rw ? h8(d.rw) : ''} | ${d.w1c ? h8(d.w1c) : ''} |`,
    );
  }
  return lines.join('\n');
}
