// TLP header fields in the DSL: the one place that knows where each field sits in the 128-bit header of the
// project's TLP stream (DW0 in hdr[127:96], DW3 in hdr[31:0]; docs/tlp-stream.md). Every PCIe block reads and
// builds headers through these helpers, never with raw bit positions of its own.
//
// Section numbers are the PCI Express Base Specification's (rev 4.0+ numbering): 2.2.1 common header,
// 2.2.6.2 requester ID / tag, 2.2.7 memory and configuration requests, 2.2.9 completions.
import { cat, type Expr, lit, mux, select } from '../hdl';

/** Fmt[2:0] (2.2.1): bit 1 = with data, bit 0 = 4DW header. Fmt 1xx is a TLP prefix (never on this stream). */
export const Fmt = { NoData3DW: 0b000, NoData4DW: 0b001, Data3DW: 0b010, Data4DW: 0b011 } as const;

/** Type[4:0] (2.2.1, table "Fmt[2:0] and Type[4:0] Field Encodings"). Messages are 10rrr. */
export const Type = {
  Mem: 0b00000,
  MemLk: 0b00001,
  Io: 0b00010,
  Cfg0: 0b00100,
  Cfg1: 0b00101,
  Cpl: 0b01010,
  CplLk: 0b01011,
  FetchAdd: 0b01100,
  Swap: 0b01101,
  Cas: 0b01110,
} as const;

/** Completion Status (2.2.9). */
export const CplStatus = { SC: 0, UR: 1, CRS: 2, CA: 4 } as const;

/** Header dword n (0..3) of a 128-bit header. */
export function hdrDw(hdr: Expr, n: 0 | 1 | 2 | 3): Expr {
  return hdr.bits(127 - 32 * n, 96 - 32 * n);
}

/**
 * Every field a receiver reads, as expressions over one header. Build it once per header; unused fields
 * cost nothing (an expression that nothing reads is never emitted).
 */
export function tlpFields(hdr: Expr) {
  const dw0 = hdrDw(hdr, 0);
  const dw1 = hdrDw(hdr, 1);
  const dw2 = hdrDw(hdr, 2);
  const dw3 = hdrDw(hdr, 3);
  const lengthField = dw0.bits(9, 0);
  const is4dw = dw0.bit(29);
  // 10-bit tags (2.2.6.2): Tag[9] in DW0 bit 23, Tag[8] in DW0 bit 19.
  const tagHi = cat(dw0.bit(23), dw0.bit(19));
  const byteCountField = dw1.bits(11, 0);
  const addr3dw = cat(dw2.bits(31, 2), lit(0, 2));
  const addr4dw = cat(dw2, dw3.bits(31, 2), lit(0, 2));
  return {
    dw0,
    dw1,
    dw2,
    dw3,
    fmt: dw0.bits(31, 29),
    type: dw0.bits(28, 24),
    hasData: dw0.bit(30),
    is4dw,
    tc: dw0.bits(22, 20),
    /** Attr[2:0]: Attr[2] (IDO) in DW0 bit 18, Attr[1:0] (RO, NS) in bits 13:12. */
    attr: cat(dw0.bit(18), dw0.bits(13, 12)),
    tagHi,
    td: dw0.bit(15),
    ep: dw0.bit(14),
    lengthField,
    /** Length in dwords, 1..1024 (field value 0 means 1024): 11 bits. */
    lengthDw: cat(lengthField.eq(0), lengthField),

    // Requests (memory, configuration): DW1 = Requester ID, Tag, Last DW BE, First DW BE.
    requesterId: dw1.bits(31, 16),
    tag: cat(tagHi, dw1.bits(15, 8)),
    lastBe: dw1.bits(7, 4),
    firstBe: dw1.bits(3, 0),
    /** Memory request address (64 bits, bits 1:0 zero): DW2 for a 3DW header, DW2:DW3 for a 4DW one. */
    addr: mux(is4dw, addr4dw, addr3dw.zext(64)),
    /** The address as a 3DW header carries it (32 bits, DW2) and as a 4DW one does (64 bits, DW2:DW3). */
    addr3dw,
    addr4dw,

    // Configuration requests: DW2 = Bus, Device, Function, Ext Register Number, Register Number.
    cfgBus: dw2.bits(31, 24),
    cfgDevice: dw2.bits(23, 19),
    cfgFunction: dw2.bits(18, 16),
    /** Dword index into the 4 KB configuration space (Ext Register Number : Register Number): 10 bits. */
    cfgDword: dw2.bits(11, 2),

    // Completions: DW1 = Completer ID, Status, BCM, Byte Count; DW2 = Requester ID, Tag, Lower Address.
    completerId: dw1.bits(31, 16),
    cplStatus: dw1.bits(15, 13),
    byteCountField,
    /** Byte Count, 1..4096 (field value 0 means 4096): 13 bits. */
    byteCount: cat(byteCountField.eq(0), byteCountField),
    cplRequesterId: dw2.bits(31, 16),
    cplTag: cat(tagHi, dw2.bits(15, 8)),
    lowerAddr: dw2.bits(6, 0),
  };
}

/** Fields of DW0 a transmitter sets (2.2.1). Omitted ones are 0. */
export interface Dw0Fields {
  fmt: Expr | number;
  type: Expr | number;
  /** Length field (10 bits, 0 = 1024 DW). */
  length: Expr;
  tc?: Expr;
  attr?: Expr;
  tagHi?: Expr;
  ep?: Expr;
}

export function makeDw0(f: Dw0Fields): Expr {
  const fmt = typeof f.fmt === 'number' ? lit(f.fmt, 3) : f.fmt;
  const type = typeof f.type === 'number' ? lit(f.type, 5) : f.type;
  const tc = f.tc ?? lit(0, 3);
  const attr = f.attr ?? lit(0, 3);
  const tagHi = f.tagHi ?? lit(0, 2);
  const ep = f.ep ?? lit(0, 1);
  // Fmt[31:29] Type[28:24] T9[23] TC[22:20] T8[19] Attr2[18] LN[17] TH[16] TD[15] EP[14] Attr[13:12] AT[11:10] Length[9:0]
  return cat(
    fmt,
    type,
    tagHi.bit(1),
    tc,
    tagHi.bit(0),
    attr.bit(2),
    lit(0, 3),
    ep,
    attr.bits(1, 0),
    lit(0, 2),
    f.length,
  );
}

/** A memory request header (MRd or MWr): 3DW when the address is below 4 GB (2.2.4.1 requires it), else 4DW. */
export interface MemReqFields {
  write: boolean;
  /** Byte address; bits 1:0 are ignored (the byte enables select bytes). */
  addr: Expr;
  /** Length field (10 bits). */
  length: Expr;
  firstBe: Expr;
  lastBe: Expr;
  requesterId: Expr;
  /** 8-bit tag (T9/T8 zero). */
  tag: Expr;
}

export function memReqHdr(f: MemReqFields): Expr {
  const hi = f.addr.bits(63, 32);
  const four = hi.orR();
  const fmt = cat(lit(0, 1), lit(f.write ? 1 : 0, 1), four);
  const dw0 = makeDw0({ fmt, type: Type.Mem, length: f.length });
  const dw1 = cat(f.requesterId, f.tag, f.lastBe, f.firstBe);
  const lo = cat(f.addr.bits(31, 2), lit(0, 2));
  return cat(dw0, dw1, mux(four, hi, lo), mux(four, lo, lit(0, 32)));
}

/** A completion header (2.2.9): Cpl/CplD, or CplLk/CplDLk for a locked request. */
export interface CplFields {
  withData: Expr;
  locked: Expr;
  /** Length field (10 bits); forced to 0 for completions without data. */
  length: Expr;
  status: Expr;
  /** Byte Count, 13 bits (4096 is sent as 0). */
  byteCount: Expr;
  lowerAddr: Expr;
  completerId: Expr;
  requesterId: Expr;
  /** 10-bit tag. */
  tag: Expr;
  tc: Expr;
  attr: Expr;
}

export function cplHdr(f: CplFields): Expr {
  const fmt = cat(lit(0, 1), f.withData, lit(0, 1));
  const type = mux(f.locked, lit(Type.CplLk, 5), lit(Type.Cpl, 5));
  const length = mux(f.withData, f.length, lit(0, 10));
  const dw0 = makeDw0({ fmt, type, length, tc: f.tc, attr: f.attr, tagHi: f.tag.bits(9, 8) });
  const dw1 = cat(f.completerId, f.status, lit(0, 1), f.byteCount.bits(11, 0));
  const dw2 = cat(f.requesterId, f.tag.bits(7, 0), lit(0, 1), f.lowerAddr);
  return cat(dw0, dw1, dw2, lit(0, 32));
}

// ---------------------------------------------------------------------------------------------------------
// Byte enables, byte count, lower address (2.2.5, 2.2.9)

/** Offset (0..3) of the lowest enabled byte of a BE nibble; 0 for 0000b. */
export function lowestBe(be: Expr): Expr {
  return mux(
    be.bit(0),
    lit(0, 2),
    mux(be.bit(1), lit(1, 2), mux(be.bit(2), lit(2, 2), mux(be.bit(3), lit(3, 2), lit(0, 2)))),
  );
}

/** Offset (0..3) of the highest enabled byte of a BE nibble; 3 for 0000b. */
export function highestBe(be: Expr): Expr {
  return mux(
    be.bit(3),
    lit(3, 2),
    mux(be.bit(2), lit(2, 2), mux(be.bit(1), lit(1, 2), mux(be.bit(0), lit(0, 2), lit(3, 2)))),
  );
}

/**
 * Byte Count of the (first) completion of a memory read, 13 bits (2.2.9, table "Calculating Byte Count from
 * Length and Byte Enables"): a 1 DW read counts the span of its First DW BE (1 for a zero-length read);
 * longer reads count every dword less the disabled bytes at both ends.
 */
export function memReadByteCount(lengthDw: Expr, firstBe: Expr, lastBe: Expr): Expr {
  const lo = lowestBe(firstBe).zext(13);
  const single = mux(firstBe.eq(0), lit(1, 13), highestBe(firstBe).zext(13).sub(lo).add(1));
  const hiGap = lit(3, 13).sub(highestBe(lastBe).zext(13));
  const multi = cat(lengthDw, lit(0, 2)).sub(lo).sub(hiGap);
  return mux(lengthDw.eq(1), single, multi);
}

/** Lower Address of the first completion of a memory read (2.2.9): address bits 6:2 and the first enabled byte. */
export function memReadLowerAddr(addr: Expr, firstBe: Expr): Expr {
  return cat(addr.bits(6, 2), lowestBe(firstBe));
}

/** First DW BE for a transfer starting at byte offset `lead` (0..3) of its first dword: 1111b, 1110b, 1100b, 1000b. */
export function firstBeFrom(lead: Expr): Expr {
  return select(lead, [lit(0xf, 4), lit(0xe, 4), lit(0xc, 4), lit(0x8, 4)]);
}

/** Last DW BE for a transfer whose last byte is at offset `last` (0..3) of its last dword: 0001b .. 1111b. */
export function lastBeFrom(last: Expr): Expr {
  return select(last, [lit(0x1, 4), lit(0x3, 4), lit(0x7, 4), lit(0xf, 4)]);
}

/**
 * Length and byte enables of a memory request for `bytes` (1..4096, 13 bits) starting at byte address `addr`
 * (2.2.5: a 1 DW request carries its enables in First DW BE and Last DW BE is 0000b).
 */
export function requestShape(addr: Expr, bytes: Expr): { lengthDw: Expr; length: Expr; firstBe: Expr; lastBe: Expr } {
  const lead = addr.bits(1, 0);
  const span = lead.zext(14).add(bytes.zext(14)); // bytes from the first dword's start to the end: 1..4099
  const lengthDw = span.add(3).bits(13, 2); // 12 bits, 1..1024
  const fbe = firstBeFrom(lead);
  const lbe = lastBeFrom(span.sub(1).bits(1, 0));
  const single = lengthDw.eq(1);
  return {
    lengthDw,
    length: lengthDw.trunc(10),
    firstBe: mux(single, fbe.and(lbe), fbe),
    lastBe: mux(single, lit(0, 4), lbe),
  };
}

/** Byte-enable mask (32 bits) from a 4-bit dword byte enable. */
export function beMask32(be: Expr): Expr {
  return cat(be.bit(3).rep(8), be.bit(2).rep(8), be.bit(1).rep(8), be.bit(0).rep(8));
}
