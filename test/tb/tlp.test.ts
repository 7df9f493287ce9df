import { describe, expect, it } from 'vitest';
import { Rng } from '../../sim/random';
import { forEachSeed } from '../support/seeds';
import type { RawTlp } from '../../sim/raw';
import { DwordArena, formatRawTlp } from '../../sim/raw';
import {
  Attr,
  CplStatus,
  MsgCode,
  MsgRouting,
  TlpError,
  byteEnablesValid,
  bytesToDwords,
  completionLowerAddress,
  decodeTlp,
  describeTlp,
  dwordsToBytes,
  encodeCplD,
  encodeTlp,
  formatPcieId,
  memReqByteRange,
  payloadByteMask,
  pcieId,
  readCompletionByteCount,
  tlpLengthDw,
  type CplDDwords,
  type CplDTlp,
  type CplStatusCode,
  type DecodeOptions,
  type MemReadTlp,
  type MemWriteTlp,
  type Tlp,
  type TlpType,
} from '../../tb/pcie/tlp';

// ---------------------------------------------------------------------------------------
// Seeded randomness: every random test runs on the suite's seeds (test/support/seeds.ts), so a failure replays.

/** Runs `body` for `n` iterations per seed; a failure reports the seed, the iteration and the replay command. */
function forEachSeeded(n: number, body: (rng: Rng, i: number) => void): void {
  forEachSeed((seed) => {
    const rng = new Rng(seed);
    for (let i = 0; i < n; i++) {
      try {
        body(rng, i);
      } catch (e) {
        if (e instanceof Error) e.message = `${e.message}\n  [iteration ${i}]`;
        throw e;
      }
    }
  });
}

// ---------------------------------------------------------------------------------------
// Random valid TLPs

const FIRST_CONTIG = [0b1111, 0b1110, 0b1100, 0b1000];
const LAST_CONTIG = [0b0001, 0b0011, 0b0111, 0b1111];

function randCommon(r: Rng) {
  return { tc: r.int(0, 7), attr: r.int(0, 7), td: r.chance(0.2), ep: r.chance(0.2) };
}

function randLength(r: Rng): number {
  const k = r.int(0, 9);
  return k < 5 ? r.int(1, 4) : k < 8 ? r.int(1, 64) : r.int(1, 1024);
}

function randMemReq(r: Rng, type: 'MRd' | 'MRdLk' | 'MWr', above4G: boolean): Tlp {
  const length = randLength(r);
  const offsetDw = r.int(0, (4096 - length * 4) / 4);
  const page = above4G ? (BigInt(r.int(1, 0xfffff)) << 20n) | BigInt(r.u32() >>> 12) : BigInt(r.int(0, 0xfffff));
  const address = (page << 12n) | BigInt(offsetDw * 4);
  let firstBe: number;
  let lastBe: number;
  if (length === 1) {
    firstBe = r.int(0, 15);
    lastBe = 0;
  } else if (length === 2 && (address & 7n) === 0n) {
    firstBe = r.int(1, 15);
    lastBe = r.int(1, 15);
  } else {
    firstBe = r.pick(FIRST_CONTIG);
    lastBe = r.pick(LAST_CONTIG);
  }
  const req = {
    ...randCommon(r),
    requesterId: r.int(0, 0xffff),
    tag: r.int(0, 1023),
    address,
    firstBe,
    lastBe,
    at: r.int(0, 3),
  };
  return type === 'MWr' ? { type, ...req, data: r.bytes(length * 4) } : { type, ...req, length };
}

function randCfg(r: Rng, type: 'CfgRd0' | 'CfgRd1' | 'CfgWr0' | 'CfgWr1'): Tlp {
  const req = {
    tc: 0,
    attr: r.chance(0.5) ? Attr.IDO : 0,
    td: r.chance(0.2),
    ep: r.chance(0.2),
    completerId: r.int(0, 0xffff),
    offset: r.int(0, 1023) * 4,
    firstBe: r.int(0, 15),
    requesterId: r.int(0, 0xffff),
    tag: r.int(0, 1023),
  };
  return type === 'CfgWr0' || type === 'CfgWr1' ? { type, ...req, data: r.bytes(4) } : { type, ...req };
}

const STATUSES: CplStatusCode[] = [CplStatus.SC, CplStatus.UR, CplStatus.CRS, CplStatus.CA];

function randCpl(r: Rng, type: 'Cpl' | 'CplLk' | 'CplD' | 'CplDLk'): Tlp {
  const base = { ...randCommon(r), completerId: r.int(0, 0xffff), requesterId: r.int(0, 0xffff), tag: r.int(0, 1023) };
  if (type === 'Cpl' || type === 'CplLk') {
    return {
      type,
      ...base,
      status: r.pick(STATUSES),
      bcm: r.chance(0.1),
      byteCount: r.int(1, 4096),
      lowerAddress: r.int(0, 127),
    };
  }
  const lowerAddress = r.int(0, 127);
  const lead = lowerAddress & 3;
  let lengthDw: number;
  let byteCount: number;
  if (r.chance(0.5)) {
    // Last (or only) completion: payload ends at the dword holding the last byte.
    lengthDw = randLength(r);
    const maxBytes = lengthDw * 4 - lead;
    const minBytes = Math.max(1, (lengthDw - 1) * 4 - lead + 1);
    byteCount = r.int(minBytes, maxBytes);
  } else {
    // Partial completion: ends on a 64-byte RCB, more bytes remain.
    const start = lowerAddress & 0x7c;
    const end = (Math.floor(start / 64) + r.int(1, 8)) * 64;
    lengthDw = (end - start) / 4;
    byteCount = r.int(lengthDw * 4 - lead + 1, 4096);
  }
  return { type, ...base, status: CplStatus.SC, bcm: false, byteCount, lowerAddress, data: r.bytes(lengthDw * 4) };
}

const KNOWN_NO_DATA_MSGS: [number, number][] = [
  [MsgCode.Assert_INTA, MsgRouting.Local],
  [MsgCode.Deassert_INTD, MsgRouting.Local],
  [MsgCode.ERR_COR, MsgRouting.ToRootComplex],
  [MsgCode.ERR_NONFATAL, MsgRouting.ToRootComplex],
  [MsgCode.ERR_FATAL, MsgRouting.ToRootComplex],
  [MsgCode.PM_PME, MsgRouting.ToRootComplex],
  [MsgCode.PME_Turn_Off, MsgRouting.BroadcastFromRootComplex],
  [MsgCode.PME_TO_Ack, MsgRouting.GatheredToRootComplex],
  [MsgCode.PM_Active_State_Nak, MsgRouting.Local],
  [MsgCode.Unlock, MsgRouting.BroadcastFromRootComplex],
  [MsgCode.LTR, MsgRouting.Local],
];

function randMsg(r: Rng, type: 'Msg' | 'MsgD'): Tlp {
  const base = { ...randCommon(r), requesterId: r.int(0, 0xffff), tag: r.int(0, 1023), dw2: r.u32(), dw3: r.u32() };
  const vendor = () => ({
    code: r.pick([MsgCode.Vendor_Defined_Type0, MsgCode.Vendor_Defined_Type1]),
    routing: r.pick([MsgRouting.ToRootComplex, MsgRouting.ById, MsgRouting.BroadcastFromRootComplex, MsgRouting.Local]),
  });
  const unknown = () => ({ code: r.int(0x40, 0x4f), routing: r.int(0, 7) });
  if (type === 'Msg') {
    const k = r.int(0, 2);
    if (k === 0) {
      const [code, routing] = r.pick(KNOWN_NO_DATA_MSGS);
      return { type, ...base, tc: 0, code, routing };
    }
    return { type, ...base, ...(k === 1 ? vendor() : unknown()) };
  }
  const k = r.int(0, 2);
  if (k === 0) {
    return { type, ...base, tc: 0, code: MsgCode.Set_Slot_Power_Limit, routing: MsgRouting.Local, data: r.bytes(4) };
  }
  return { type, ...base, ...(k === 1 ? vendor() : unknown()), data: r.bytes(randLength(r) * 4) };
}

const ALL_TYPES: TlpType[] = [
  'MRd',
  'MRdLk',
  'MWr',
  'CfgRd0',
  'CfgRd1',
  'CfgWr0',
  'CfgWr1',
  'Cpl',
  'CplLk',
  'CplD',
  'CplDLk',
  'Msg',
  'MsgD',
];

function randTlp(r: Rng, type: TlpType): Tlp {
  switch (type) {
    case 'MRd':
    case 'MRdLk':
    case 'MWr':
      return randMemReq(r, type, r.chance(0.5));
    case 'CfgRd0':
    case 'CfgRd1':
    case 'CfgWr0':
    case 'CfgWr1':
      return randCfg(r, type);
    case 'Cpl':
    case 'CplLk':
    case 'CplD':
    case 'CplDLk':
      return randCpl(r, type);
    case 'Msg':
    case 'MsgD':
      return randMsg(r, type);
  }
}

// ---------------------------------------------------------------------------------------
// Helpers for building raw TLPs by hand

function raw(hdr: number[], data: number[] = []): RawTlp {
  const h = new Uint32Array(4);
  h.set(hdr);
  return { hdr: h, data: Uint32Array.from(data) };
}

function hdrOf(r: RawTlp): number[] {
  return Array.from(r.hdr);
}

/** Asserts fn throws a TlpError with this field, and a message matching `msg`. */
function expectTlpError(fn: () => unknown, field: string, msg?: RegExp | string): TlpError {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err, 'expected a TlpError').toBeInstanceOf(TlpError);
  const e = err as TlpError;
  expect(e.field, `field of "${e.message}"`).toBe(field);
  if (msg !== undefined) {
    if (typeof msg === 'string') expect(e.message).toBe(msg);
    else expect(e.message).toMatch(msg);
  }
  return e;
}

const decodeLoose: DecodeOptions = { strict: false };

// ---------------------------------------------------------------------------------------

describe('golden vectors (hand-computed from the spec header layouts)', () => {
  it('3DW MRd to 0x1000, 1 DW, tag 5, requester 01:00.0', () => {
    const t: Tlp = { type: 'MRd', address: 0x1000n, length: 1, firstBe: 0xf, lastBe: 0, requesterId: 0x0100, tag: 5 };
    const r = encodeTlp(t);
    // DW0: Fmt 000 (3DW, no data), Type 00000 (MRd), Length 1.
    // DW1: Requester ID 0x0100 | Tag 0x05 | Last BE 0000 | First BE 1111.
    // DW2: Address[31:2] = 0x1000 >> 2, PH 00.
    expect(hdrOf(r)).toEqual([0x00000001, 0x0100050f, 0x00001000, 0]);
    expect(r.data.length).toBe(0);
    expect(decodeTlp(r)).toEqual({ ...t, tc: 0, attr: 0, td: false, ep: false, at: 0 });
    expect(describeTlp(t)).toBe('MRd 3DW addr=0x1000 len=1 be=f/0 req=01:00.0 tag=5');
  });

  it('4DW MWr above 4 GB, 2 DW', () => {
    const data = Uint8Array.from([0, 1, 2, 3, 4, 5, 6, 7]);
    const t: Tlp = {
      type: 'MWr',
      address: 0x1_2345_6780n,
      firstBe: 0xf,
      lastBe: 0xf,
      requesterId: 0x0100,
      tag: 0,
      data,
    };
    const r = encodeTlp(t);
    // DW0: Fmt 011 (4DW, data), Type 00000, Length 2. DW2 = Address[63:32], DW3 = Address[31:2].
    expect(hdrOf(r)).toEqual([0x60000002, 0x010000ff, 0x00000001, 0x23456780]);
    expect(Array.from(r.data)).toEqual([0x03020100, 0x07060504]);
  });

  it('DW0 flag bits: T9, TC, T8, Attr[2], TD, EP, Attr[1:0], AT', () => {
    const t: Tlp = {
      type: 'MWr',
      address: 0x1_0000_0000n,
      firstBe: 0xf,
      lastBe: 0xf,
      requesterId: 0xabcd,
      tag: 0x3a5, // T9 = 1, T8 = 1, Tag[7:0] = 0xa5
      tc: 5,
      attr: Attr.RO | Attr.NS | Attr.IDO,
      td: true,
      ep: true,
      at: 2,
      data: new Uint8Array(8),
    };
    const r = encodeTlp(t);
    // 0110_0000 | T9 1 | TC 101 | T8 1 | Attr2 1 | LN 0 | TH 0 | TD 1 | EP 1 | Attr 11 | AT 10 | Length 00_0000_0010
    //   = 0110 0000 1101 1100 1111 1000 0000 0010
    expect(r.hdr[0]).toBe(0x60dcf802);
    expect(r.hdr[1]).toBe(0xabcda5ff);
    expect(decodeTlp(r)).toEqual(t);
  });

  it('CplD with lower address and byte count (read of 2 bytes at 0x1002)', () => {
    const t: Tlp = {
      type: 'CplD',
      completerId: 0x0100,
      status: CplStatus.SC,
      byteCount: readCompletionByteCount(1, 0b1100, 0),
      requesterId: 0x0000,
      tag: 5,
      lowerAddress: completionLowerAddress(0x1000n, 0b1100),
      data: Uint8Array.from([0, 0, 0x34, 0x12]),
    };
    expect(t.byteCount).toBe(2);
    expect(t.lowerAddress).toBe(0x02);
    const r = encodeTlp(t);
    // DW0: Fmt 010, Type 01010 (Cpl), Length 1.
    // DW1: Completer ID 0x0100 | Status 000 | BCM 0 | Byte Count 2.
    // DW2: Requester ID 0x0000 | Tag 0x05 | R | Lower Address 0x02.
    expect(hdrOf(r)).toEqual([0x4a000001, 0x01000002, 0x00000502, 0]);
    expect(Array.from(r.data)).toEqual([0x12340000]);
  });

  it('CplD with 4096 bytes: Length 0 and Byte Count 0 both mean the maximum', () => {
    const t: Tlp = {
      type: 'CplD',
      completerId: 0x0100,
      status: 0,
      byteCount: 4096,
      requesterId: 0,
      tag: 0,
      lowerAddress: 0,
      data: new Uint8Array(4096),
    };
    const r = encodeTlp(t);
    expect(hdrOf(r)).toEqual([0x4a000000, 0x01000000, 0x00000000, 0]);
    expect(decodeTlp(r)).toMatchObject({ byteCount: 4096, data: new Uint8Array(4096) });
  });

  it('Cpl UR, 10-bit tag', () => {
    const t: Tlp = {
      type: 'Cpl',
      completerId: 0x0208,
      status: CplStatus.UR,
      byteCount: 4,
      requesterId: 0x0010,
      tag: 0x2ff,
      lowerAddress: 0,
    };
    // DW0: Fmt 000, Type 01010, T9 = 1 (bit 23), T8 = 0. DW1: Status 001 in bits 15:13.
    expect(hdrOf(encodeTlp(t))).toEqual([0x0a800000, 0x02082004, 0x0010ff00, 0]);
  });

  it('CfgRd0 of BAR0 and CfgWr0 of an extended register', () => {
    const rd: Tlp = {
      type: 'CfgRd0',
      completerId: pcieId(1, 0, 0),
      offset: 0x10,
      firstBe: 0xf,
      requesterId: 0,
      tag: 1,
    };
    // DW0: Fmt 000, Type 00100, Length 1. DW2: Bus 01 | Dev 00000 | Fn 000 | Reg 0x10 >> 2.
    expect(hdrOf(encodeTlp(rd))).toEqual([0x04000001, 0x0000010f, 0x01000010, 0]);
    const wr: Tlp = {
      type: 'CfgWr0',
      completerId: pcieId(2, 3, 1),
      offset: 0x104,
      firstBe: 0x3,
      requesterId: 0,
      tag: 2,
      data: Uint8Array.from([0xaa, 0xbb, 0, 0]),
    };
    // Bus 02, Dev 00011, Fn 001 -> ID 0x0219; Ext Register Number 0001, Register Number 000001.
    expect(hdrOf(encodeTlp(wr))).toEqual([0x44000001, 0x00000203, 0x02190104, 0]);
    expect(Array.from(encodeTlp(wr).data)).toEqual([0x0000bbaa]);
  });

  it('CfgRd1 uses Type 00101', () => {
    const t: Tlp = { type: 'CfgRd1', completerId: 0x0300, offset: 0, firstBe: 0xf, requesterId: 0, tag: 0 };
    expect(encodeTlp(t).hdr[0]).toBe(0x05000001);
  });

  it('messages: ERR_FATAL, Assert_INTA, vendor-defined MsgD routed by ID', () => {
    const err: Tlp = {
      type: 'Msg',
      routing: MsgRouting.ToRootComplex,
      code: MsgCode.ERR_FATAL,
      requesterId: 0x0100,
      tag: 0,
    };
    // DW0: Fmt 001 (4DW), Type 10000 (routed to RC); Length reserved (0). DW1: code 0x33.
    expect(hdrOf(encodeTlp(err))).toEqual([0x30000000, 0x01000033, 0, 0]);
    const inta: Tlp = {
      type: 'Msg',
      routing: MsgRouting.Local,
      code: MsgCode.Assert_INTA,
      requesterId: 0x0100,
      tag: 0,
    };
    expect(hdrOf(encodeTlp(inta))).toEqual([0x34000000, 0x01000020, 0, 0]);
    const vdm: Tlp = {
      type: 'MsgD',
      routing: MsgRouting.ById,
      code: MsgCode.Vendor_Defined_Type1,
      requesterId: 0x0100,
      tag: 0,
      dw2: (0x0000 << 16) | 0x1af4, // destination 00:00.0, vendor ID 0x1af4
      dw3: 0x12345678,
      data: Uint8Array.from([1, 2, 3, 4]),
    };
    // DW0: Fmt 011, Type 10010 (routed by ID), Length 1.
    expect(hdrOf(encodeTlp(vdm))).toEqual([0x72000001, 0x0100007f, 0x00001af4, 0x12345678]);
    expect(describeTlp(err)).toBe('Msg ERR_FATAL route=000b req=01:00.0 tag=0');
  });
});

describe('round trips with seeded random fields', () => {
  it('every type and header size: encode -> decode -> encode', () => {
    const seen = new Set<string>();
    forEachSeeded(3000, (r, i) => {
      const t = randTlp(r, ALL_TYPES[i % ALL_TYPES.length]);
      let rawTlp: RawTlp | undefined;
      try {
        rawTlp = encodeTlp(t);
        const fourDw = (rawTlp.hdr[0] >>> 29) & 1;
        seen.add(`${t.type}/${fourDw ? 4 : 3}DW`);
        if (!fourDw) expect(rawTlp.hdr[3]).toBe(0);
        expect(rawTlp.data.length).toBe(tlpLengthDw(t) * (((rawTlp.hdr[0] >>> 30) & 1) === 1 ? 1 : 0));
        const back = decodeTlp(rawTlp);
        expect(back).toEqual(t);
        const again = encodeTlp(back);
        expect(again).toEqual(rawTlp);
      } catch (e) {
        if (e instanceof Error) {
          e.message += `\n  TLP: ${describeTlp(t)}` + (rawTlp ? `\n  raw: ${formatRawTlp(rawTlp)}` : '');
        }
        throw e;
      }
    });
    const expected = ALL_TYPES.flatMap((ty) =>
      ty.startsWith('MR') || ty === 'MWr'
        ? [`${ty}/3DW`, `${ty}/4DW`]
        : ty.startsWith('Msg')
          ? [`${ty}/4DW`]
          : [`${ty}/3DW`],
    );
    expect([...seen].sort()).toEqual(expected.sort());
  });

  it('single-bit header corruption is either rejected with TlpError or decoded faithfully', () => {
    let rejected = 0;
    forEachSeeded(3000, (r, i) => {
      const t = randTlp(r, ALL_TYPES[i % ALL_TYPES.length]);
      const good = encodeTlp(t);
      const bad: RawTlp = { hdr: good.hdr.slice(), data: good.data.slice() };
      const dw = r.int(0, 3);
      bad.hdr[dw] ^= 1 << r.int(0, 31);
      let back: Tlp;
      try {
        back = decodeTlp(bad);
      } catch (e) {
        expect(e, `non-TlpError for ${formatRawTlp(bad)}`).toBeInstanceOf(TlpError);
        rejected++;
        return;
      }
      const again = encodeTlp(back);
      if (back.type === 'Cpl' || back.type === 'CplLk') {
        // Length is not a field of Cpl; the encoder writes 0 there.
        again.hdr[0] = (again.hdr[0] & ~0x3ff) | (bad.hdr[0] & 0x3ff);
      }
      expect(again, `${describeTlp(back)} from ${formatRawTlp(bad)}`).toEqual(bad);
    });
    expect(rejected).toBeGreaterThan(0);
  });

  it('read completion helpers agree with memReqByteRange for random read requests', () => {
    forEachSeeded(2000, (r) => {
      const t = randMemReq(r, 'MRd', r.chance(0.5));
      if (t.type !== 'MRd') throw new Error('unreachable');
      const range = memReqByteRange(t);
      const bc = readCompletionByteCount(t.length, t.firstBe, t.lastBe);
      expect(bc).toBe(range.bytes === 0 ? 1 : range.bytes);
      expect(completionLowerAddress(t.address, t.firstBe)).toBe(Number(range.addr & 0x7fn));
      // A single completion returning everything must satisfy the codec's CplD checks.
      const cpl: Tlp = {
        type: 'CplD',
        completerId: 0,
        status: 0,
        byteCount: bc,
        requesterId: t.requesterId,
        tag: t.tag,
        lowerAddress: completionLowerAddress(t.address, t.firstBe),
        data: new Uint8Array(t.length * 4),
      };
      expect(() => decodeTlp(encodeTlp(cpl))).not.toThrow();
    });
  });
});

describe('malformed TLPs are rejected naming the field', () => {
  const mrd = (over: Partial<MemReadTlp> = {}): Tlp => ({
    type: 'MRd',
    address: 0x1000n,
    length: 1,
    firstBe: 0xf,
    lastBe: 0,
    requesterId: 0x0100,
    tag: 0,
    ...over,
  });
  const mwr = (dw: number, over: Partial<MemWriteTlp> = {}): Tlp => ({
    type: 'MWr',
    address: 0x1000n,
    firstBe: 0xf,
    lastBe: dw > 1 ? 0xf : 0,
    requesterId: 0x0100,
    tag: 0,
    data: new Uint8Array(dw * 4),
    ...over,
  });

  it('unknown or unsupported Fmt/Type', () => {
    expectTlpError(
      () => decodeTlp(raw([0x1f000000, 0, 0])),
      'type',
      /unknown Fmt\/Type combination Fmt=000b Type=11111b/,
    );
    expectTlpError(() => decodeTlp(raw([0x41000001, 0, 0], [0])), 'type', /unknown Fmt\/Type/); // "MWrLk" does not exist
    expectTlpError(() => decodeTlp(raw([0xa0000000, 0, 0])), 'fmt', /reserved Fmt/);
    expectTlpError(() => decodeTlp(raw([0x80000000, 0, 0])), 'fmt', /prefix/);
    expectTlpError(() => decodeTlp(raw([0x02000001, 0x0f, 0])), 'type', /IORd .*not supported/);
    expectTlpError(() => decodeTlp(raw([0x4c000001, 0, 0], [0])), 'type', /AtomicOp/);
    expectTlpError(
      () => decodeTlp(raw([0x24000001, 0x0f, 0, 0])),
      'fmt',
      /CfgRd0: configuration requests use a 3DW header/,
    );
    expectTlpError(() => decodeTlp(raw([0x2a000000, 0, 0, 0])), 'fmt', /Cpl: completions use a 3DW header/);
    expectTlpError(() => decodeTlp(raw([0x10000000, 0x33, 0])), 'fmt', /Msg: messages use a 4DW header/);
    expectTlpError(() => decodeTlp({ hdr: new Uint32Array(3), data: new Uint32Array(0) }), 'hdr');
  });

  it('payload size vs Length field', () => {
    const good = encodeTlp(mwr(4));
    expectTlpError(
      () => decodeTlp({ hdr: good.hdr, data: good.data.subarray(0, 3) }),
      'length',
      'MWr: length field 4 DW but 3 payload dwords',
    );
    expectTlpError(
      () => decodeTlp(raw([0x00000001, 0x0100000f, 0x1000], [0xdead])),
      'data',
      'MRd: 1 payload dwords on a TLP without data',
    );
    expectTlpError(() => decodeTlp(raw([0x30000000, 0x01000033], [1])), 'data', /Msg: 1 payload dwords/);
    // Length 0 encodes 1024 DW; more than that cannot be expressed.
    const big = encodeTlp(mwr(1024, { address: 0x4000n }));
    expect(big.hdr[0] & 0x3ff).toBe(0);
    expect(decodeTlp(big)).toMatchObject({ type: 'MWr', data: new Uint8Array(4096) });
    expectTlpError(
      () => decodeTlp({ hdr: big.hdr, data: new Uint32Array(1025) }),
      'length',
      'MWr: length field 1024 DW but 1025 payload dwords',
    );
    expectTlpError(() => encodeTlp(mwr(1025, { address: 0x4000n })), 'data', /1025 DW out of range 1\.\.1024/);
    expectTlpError(() => encodeTlp(mrd({ length: 1025 })), 'length', /length 1025 DW out of range/);
    expectTlpError(() => encodeTlp(mrd({ length: 0 })), 'length', /length 0 DW out of range/);
    expectTlpError(
      () => encodeTlp({ ...mwr(1), data: new Uint8Array(3) } as Tlp),
      'data',
      /3 bytes is not a whole number of dwords/,
    );
    expectTlpError(() => encodeTlp({ ...mwr(1), data: new Uint8Array(0) } as Tlp), 'data', /0 DW out of range/);
  });

  it('memory request byte enables (2.2.5)', () => {
    expectTlpError(
      () => encodeTlp(mrd({ lastBe: 0x1 })),
      'lastBe',
      /MRd: last DW BE must be 0000b for a 1 DW request, got 0001b/,
    );
    expectTlpError(
      () => encodeTlp(mrd({ length: 2, firstBe: 0, lastBe: 0xf })),
      'firstBe',
      /non-zero for a 2 DW request/,
    );
    expectTlpError(
      () => encodeTlp(mrd({ length: 3, firstBe: 0xf, lastBe: 0 })),
      'lastBe',
      /non-zero for a 3 DW request/,
    );
    expectTlpError(
      () => encodeTlp(mrd({ length: 3, firstBe: 0b0101, lastBe: 0xf })),
      'firstBe',
      /0101b must be contiguous/,
    );
    expectTlpError(
      () => encodeTlp(mrd({ length: 3, firstBe: 0b0111, lastBe: 0xf })),
      'firstBe',
      /0111b must be contiguous/,
    );
    expectTlpError(
      () => encodeTlp(mrd({ length: 3, firstBe: 0xf, lastBe: 0b1110 })),
      'lastBe',
      /1110b must be contiguous/,
    );
    // 2 DW: non-contiguous only when QW aligned.
    expect(() => encodeTlp(mrd({ address: 0x1008n, length: 2, firstBe: 0b0101, lastBe: 0b1010 }))).not.toThrow();
    expectTlpError(
      () => encodeTlp(mrd({ address: 0x1004n, length: 2, firstBe: 0b0101, lastBe: 0b1111 })),
      'firstBe',
      /not QW aligned/,
    );
    // Zero-length read and non-contiguous 1 DW are fine.
    expect(() => encodeTlp(mrd({ firstBe: 0 }))).not.toThrow();
    expect(() => encodeTlp(mrd({ firstBe: 0b1001 }))).not.toThrow();
    // Decode applies the same rules: hand-built MRd length 3, last BE 0.
    expectTlpError(
      () => decodeTlp(raw([0x00000003, 0x0100000f, 0x1000])),
      'lastBe',
      /MRd: last DW BE must be non-zero/,
    );
  });

  it('4 KB boundary crossing and address alignment', () => {
    expectTlpError(
      () => encodeTlp(mrd({ address: 0x1ffcn, length: 2, lastBe: 0xf })),
      'address',
      /MRd: 2 DW at address 0x1ffc crosses a 4 KB boundary/,
    );
    expect(() => encodeTlp(mrd({ address: 0x1ff8n, length: 2, lastBe: 0xf }))).not.toThrow();
    expectTlpError(() => encodeTlp(mwr(1024, { address: 0x1_0000_0004n })), 'address', /crosses a 4 KB boundary/);
    expectTlpError(
      () => decodeTlp(raw([0x40000002, 0x010000ff, 0x1ffc], [1, 2])),
      'address',
      /MWr: 2 DW at address 0x1ffc crosses/,
    );
    expectTlpError(() => encodeTlp(mrd({ address: 0x1002n })), 'address', /not dword aligned/);
    expectTlpError(() => encodeTlp(mrd({ address: 1n << 64n })), 'address', /not a 64-bit/);
  });

  it('64-bit header for an address below 4 GB (strict)', () => {
    const r = raw([0x20000001, 0x0100000f, 0x00000000, 0x00001000]);
    expectTlpError(() => decodeTlp(r), 'address', /MRd: 4DW header for address 0x1000 below 4 GB/);
    expect(decodeTlp(r, decodeLoose)).toMatchObject({ type: 'MRd', address: 0x1000n });
    // The encoder chooses the header size by itself.
    expect(encodeTlp(mrd({ address: 0xffff_f000n })).hdr[0] >>> 29).toBe(0b000);
    expect(encodeTlp(mrd({ address: 0x1_0000_0000n })).hdr[0] >>> 29).toBe(0b001);
  });

  it('configuration requests', () => {
    expectTlpError(
      () => decodeTlp(raw([0x04000002, 0x0000000f, 0x01000010])),
      'length',
      /CfgRd0: length field 2 DW, configuration requests must be 1 DW/,
    );
    expectTlpError(() => decodeTlp(raw([0x04000001, 0x000000ff, 0x01000010])), 'lastBe', /CfgRd0: last DW BE 1111b/);
    expectTlpError(
      () => decodeTlp(raw([0x44000001, 0x0000000f, 0x01000010], [1, 2])),
      'length',
      /length field 1 DW but 2 payload/,
    );
    expectTlpError(() => decodeTlp(raw([0x04000401, 0x0000000f, 0x01000010])), 'at', /AT 01b/);
    const cfg = (over: object): Tlp =>
      ({ type: 'CfgRd0', completerId: 0x0100, offset: 0, firstBe: 0xf, requesterId: 0, tag: 0, ...over }) as Tlp;
    expectTlpError(
      () => encodeTlp(cfg({ offset: 0x1000 })),
      'offset',
      /register offset 4096 is not a dword offset in 0\.\.0xffc/,
    );
    expectTlpError(() => encodeTlp(cfg({ offset: 0x11 })), 'offset', /register offset 17/);
    expectTlpError(() => encodeTlp(cfg({ offset: -4 })), 'offset');
    expectTlpError(() => encodeTlp(cfg({ tc: 1 })), 'tc', /CfgRd0: configuration requests must use TC0, got TC1/);
    expectTlpError(() => encodeTlp(cfg({ attr: Attr.RO })), 'attr', /Attr\[1:0\] = 00b, got 10b/);
    expectTlpError(
      () => encodeTlp({ ...cfg({}), type: 'CfgWr0', data: new Uint8Array(8) } as Tlp),
      'data',
      /2 DW out of range 1\.\.1/,
    );
    expectTlpError(() => decodeTlp(raw([0x04100001, 0x0000000f, 0x01000010])), 'tc', /TC1/);
  });

  it('completions', () => {
    const cpld = (over: object): Tlp =>
      ({
        type: 'CplD',
        completerId: 0x0100,
        status: 0,
        byteCount: 4,
        requesterId: 0,
        tag: 0,
        lowerAddress: 0,
        data: new Uint8Array(4),
        ...over,
      }) as Tlp;
    expect(() => encodeTlp(cpld({}))).not.toThrow();
    expectTlpError(
      () => encodeTlp(cpld({ data: new Uint8Array(8) })),
      'byteCount',
      /CplD: byte count 4 from lower address 0x00 needs 1 DW but length is 2 DW/,
    );
    expectTlpError(
      () => encodeTlp(cpld({ byteCount: 1, lowerAddress: 2, data: new Uint8Array(8) })),
      'byteCount',
      /needs 1 DW but length is 2 DW/,
    );
    expectTlpError(() => encodeTlp(cpld({ status: CplStatus.UR })), 'status', /status UR on a completion with data/);
    expectTlpError(() => encodeTlp(cpld({ status: 3 })), 'status', /completion status 3 is reserved/);
    expectTlpError(() => decodeTlp(raw([0x0a000000, 0x01006004, 0])), 'status', /Cpl: reserved completion status 011b/);
    expectTlpError(() => encodeTlp(cpld({ byteCount: 0 })), 'byteCount', /byte count 0 out of range 1\.\.4096/);
    expectTlpError(() => encodeTlp(cpld({ byteCount: 4097 })), 'byteCount');
    expectTlpError(
      () => encodeTlp(cpld({ lowerAddress: 128 })),
      'lowerAddress',
      /lowerAddress 128 does not fit in 7 bits/,
    );
    // BCM: byte count is not cross-checked (PCI-X bridges report it differently).
    expect(() => encodeTlp(cpld({ data: new Uint8Array(8), bcm: true }))).not.toThrow();
    // Partial completion: 3 DW from 0x04 ends at 0x10, not on a 64-byte RCB.
    const partial = cpld({ byteCount: 100, lowerAddress: 0x04, data: new Uint8Array(12) });
    expectTlpError(() => encodeTlp(partial), 'length', /does not end on a 64-byte read completion boundary/);
    const rawPartial = encodeTlp(partial, { allowMalformed: true });
    expectTlpError(() => decodeTlp(rawPartial), 'length');
    expect(decodeTlp(rawPartial, decodeLoose)).toMatchObject({ byteCount: 100 });
    // ... while 15 DW from 0x04 ends at 0x40 and is fine.
    expect(() => encodeTlp(cpld({ byteCount: 100, lowerAddress: 0x04, data: new Uint8Array(60) }))).not.toThrow();
  });

  it('messages', () => {
    const msg = (over: object): Tlp =>
      ({
        type: 'Msg',
        routing: MsgRouting.Local,
        code: MsgCode.Assert_INTA,
        requesterId: 0x0100,
        tag: 0,
        ...over,
      }) as Tlp;
    expect(() => encodeTlp(msg({}))).not.toThrow();
    expectTlpError(
      () => encodeTlp(msg({ routing: MsgRouting.ToRootComplex })),
      'routing',
      /Msg: Assert_INTA with routing 000b, spec requires 100b/,
    );
    expectTlpError(() => encodeTlp(msg({ tc: 1 })), 'tc', /Assert_INTA must use TC0, got TC1/);
    expectTlpError(
      () =>
        encodeTlp(
          msg({ type: 'MsgD', code: MsgCode.ERR_FATAL, routing: MsgRouting.ToRootComplex, data: new Uint8Array(4) }),
        ),
      'type',
      /ERR_FATAL carries no data/,
    );
    expectTlpError(
      () => encodeTlp(msg({ code: MsgCode.Set_Slot_Power_Limit })),
      'type',
      /Set_Slot_Power_Limit carries data and must be a MsgD/,
    );
    expectTlpError(
      () => encodeTlp(msg({ type: 'MsgD', code: MsgCode.Set_Slot_Power_Limit, data: new Uint8Array(8) })),
      'length',
      /must carry 1 DW, got 2 DW/,
    );
    expectTlpError(
      () => encodeTlp(msg({ code: MsgCode.Vendor_Defined_Type0, routing: MsgRouting.ByAddress })),
      'routing',
    );
    expectTlpError(() => encodeTlp(msg({ routing: 8 })), 'routing', /does not fit in 3 bits/);
    // Unknown codes pass through with any routing.
    expect(decodeTlp(encodeTlp(msg({ code: 0x42, routing: 0b111, tc: 3 })))).toMatchObject({
      code: 0x42,
      routing: 7,
      tc: 3,
    });
  });

  it('reserved bits (strict by default) and TH', () => {
    const check = (r: RawTlp, field: string, msg: RegExp) => {
      expectTlpError(() => decodeTlp(r), field, msg);
      expect(() => decodeTlp(r, decodeLoose)).not.toThrow();
    };
    check(raw([0x00020001, 0x0100000f, 0x1000]), 'reserved', /MRd: reserved DW0 bit 17 \(LN\)/);
    check(raw([0x00000001, 0x0100000f, 0x1001]), 'reserved', /address bits 1:0/);
    check(raw([0x00000001, 0x0100000f, 0x1000, 0x5]), 'hdr', /MRd: 3DW header but hdr\[3\] = 0x00000005/);
    check(raw([0x04000001, 0x0000000f, 0x01001010]), 'reserved', /CfgRd0: reserved DW2 bits/);
    check(raw([0x0a000000, 0x01000004, 0x00000080]), 'reserved', /Cpl: reserved DW2 bit 7/);
    check(raw([0x0a000400, 0x01000004, 0]), 'reserved', /Cpl: reserved AT/);
    check(raw([0x34000001, 0x01000020, 0, 0]), 'reserved', /Msg: reserved Length \(1\)/);
    // A completion without data: its Length field must be 0 (named 'length'); relaxed decoding takes it as before.
    check(raw([0x0a000001, 0x01002004, 0x00000500]), 'length', /Cpl: length field 1 on a completion without data/);
    check(raw([0x0b000200, 0x01002004, 0x00000500]), 'length', /CplLk: length field 512 on a completion without data/);
    expect(decodeTlp(raw([0x0a000001, 0x01002004, 0x00000500]), decodeLoose)).toEqual(
      decodeTlp(raw([0x0a000000, 0x01002004, 0x00000500])),
    );
    expectTlpError(() => decodeTlp(raw([0x00010001, 0x0100000f, 0x1000])), 'th', /TH=1/);
    expectTlpError(() => decodeTlp(raw([0x00010001, 0x0100000f, 0x1000]), decodeLoose), 'th');
  });

  it('field widths on encode', () => {
    expectTlpError(() => encodeTlp(mrd({ tag: 1024 })), 'tag', /MRd: tag 1024 does not fit in 10 bits/);
    expectTlpError(() => encodeTlp(mrd({ requesterId: 0x10000 })), 'requesterId');
    expectTlpError(() => encodeTlp(mrd({ tc: 8 })), 'tc');
    expectTlpError(() => encodeTlp(mrd({ attr: 8 })), 'attr');
    expectTlpError(() => encodeTlp(mrd({ at: 4 })), 'at');
    expectTlpError(() => encodeTlp(mrd({ firstBe: 16 })), 'firstBe');
    expectTlpError(() => encodeTlp(mrd({ tag: 1.5 })), 'tag');
    expectTlpError(() => encodeTlp({ type: 'Bogus' } as unknown as Tlp), 'type');
  });

  it('allowMalformed lets tests inject TLPs that decode rejects', () => {
    const bad = mrd({ address: 0x1ffcn, length: 2, lastBe: 0xf });
    const r = encodeTlp(bad, { allowMalformed: true });
    expect(hdrOf(r)).toEqual([0x00000002, 0x010000ff, 0x00001ffc, 0]);
    expectTlpError(() => decodeTlp(r), 'address');
    // Field widths are still enforced.
    expectTlpError(() => encodeTlp(mrd({ tag: 4096 }), { allowMalformed: true }), 'tag');
  });
});

describe('byte enable, byte count and lower address helpers', () => {
  /** All BE nibbles matching a spec-table pattern such as "1xx1". */
  const expand = (pattern: string): number[] => {
    const out: number[] = [];
    for (let v = 0; v < 16; v++) {
      if ([...pattern].every((c, i) => c === 'x' || Number(c) === ((v >> (3 - i)) & 1))) out.push(v);
    }
    return out;
  };

  it('readCompletionByteCount follows the spec table for 1 DW reads', () => {
    const table: [string, number][] = [
      ['1xx1', 4],
      ['01x1', 3],
      ['1x10', 3],
      ['0011', 2],
      ['0110', 2],
      ['1100', 2],
      ['0001', 1],
      ['0010', 1],
      ['0100', 1],
      ['1000', 1],
      ['0000', 1],
    ];
    const covered = new Set<number>();
    for (const [pat, bc] of table) {
      for (const be of expand(pat)) {
        covered.add(be);
        expect(readCompletionByteCount(1, be, 0), `firstBe ${pat} -> ${be.toString(2)}`).toBe(bc);
      }
    }
    expect(covered.size).toBe(16);
  });

  it('readCompletionByteCount follows the spec table for multi-DW reads', () => {
    const table: [string, string, number][] = [
      ['xxx1', '1xxx', 0],
      ['xxx1', '01xx', 1],
      ['xxx1', '001x', 2],
      ['xxx1', '0001', 3],
      ['xx10', '1xxx', 1],
      ['xx10', '01xx', 2],
      ['xx10', '001x', 3],
      ['xx10', '0001', 4],
      ['x100', '1xxx', 2],
      ['x100', '01xx', 3],
      ['x100', '001x', 4],
      ['x100', '0001', 5],
      ['1000', '1xxx', 3],
      ['1000', '01xx', 4],
      ['1000', '001x', 5],
      ['1000', '0001', 6],
    ];
    for (const length of [2, 3, 17, 1024]) {
      for (const [fp, lp, minus] of table) {
        for (const first of expand(fp)) {
          for (const last of expand(lp)) {
            expect(readCompletionByteCount(length, first, last), `len ${length} ${fp}/${lp}`).toBe(length * 4 - minus);
          }
        }
      }
    }
  });

  it('completionLowerAddress follows the spec table', () => {
    const table: [string, number][] = [
      ['0000', 0b00],
      ['xxx1', 0b00],
      ['xx10', 0b01],
      ['x100', 0b10],
      ['1000', 0b11],
    ];
    for (const [pat, low] of table) {
      for (const be of expand(pat)) {
        expect(completionLowerAddress(0x1000n, be)).toBe(low);
        expect(completionLowerAddress(0x1_2345_67bcn, be)).toBe(0x3c | low);
      }
    }
    expect(completionLowerAddress(0xffcn, 0b1000)).toBe(0x7f);
  });

  it('memReqByteRange and payloadByteMask', () => {
    expect(memReqByteRange({ address: 0x1000n, length: 1, firstBe: 0xf, lastBe: 0 })).toEqual({
      addr: 0x1000n,
      bytes: 4,
    });
    expect(memReqByteRange({ address: 0x1000n, length: 1, firstBe: 0b0110, lastBe: 0 })).toEqual({
      addr: 0x1001n,
      bytes: 2,
    });
    expect(memReqByteRange({ address: 0x1000n, length: 1, firstBe: 0, lastBe: 0 })).toEqual({
      addr: 0x1000n,
      bytes: 0,
    });
    expect(memReqByteRange({ address: 0x1000n, length: 3, firstBe: 0b1000, lastBe: 0b0001 })).toEqual({
      addr: 0x1003n,
      bytes: 6,
    });
    expect(memReqByteRange({ address: 0x2000n, firstBe: 0b1100, lastBe: 0b0111, data: new Uint8Array(16) })).toEqual({
      addr: 0x2002n,
      bytes: 13,
    });
    expect(Array.from(payloadByteMask(1, 0b1001, 0))).toEqual([1, 0, 0, 1]);
    expect(Array.from(payloadByteMask(3, 0b1100, 0b0011))).toEqual([0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0]);
    expect(Array.from(payloadByteMask(2, 0b0101, 0b1010))).toEqual([1, 0, 1, 0, 0, 1, 0, 1]);
  });

  it('byteEnablesValid', () => {
    expect(byteEnablesValid(1, 0xf, 0)).toBeNull();
    expect(byteEnablesValid(1, 0, 0)).toBeNull();
    expect(byteEnablesValid(1, 0b0101, 0)).toBeNull();
    expect(byteEnablesValid(1, 0xf, 0xf)).toMatch(/last DW BE must be 0000b/);
    expect(byteEnablesValid(2, 0b0101, 0b1010, 0x1000n)).toBeNull();
    expect(byteEnablesValid(2, 0b0101, 0b1010, 0x1004n)).toMatch(/not QW aligned/);
    expect(byteEnablesValid(2, 0b0101, 0b1010)).toMatch(/contiguous/);
    expect(byteEnablesValid(2, 0b1100, 0b0011)).toBeNull();
    expect(byteEnablesValid(2, 0, 0xf)).toMatch(/first DW BE must be non-zero/);
    expect(byteEnablesValid(5, 0xf, 0)).toMatch(/last DW BE must be non-zero/);
    expect(byteEnablesValid(5, 0b1110, 0b0111)).toBeNull();
    expect(byteEnablesValid(5, 0b1101, 0b0111)).toMatch(/first DW BE 1101b/);
    expect(byteEnablesValid(5, 0b1110, 0b1011)).toMatch(/last DW BE 1011b/);
    expect(byteEnablesValid(0, 0xf, 0)).toMatch(/length 0 DW/);
    expect(byteEnablesValid(1025, 0xf, 0xf)).toMatch(/length 1025 DW/);
  });
});

describe('encodeCplD (completions whose payload is already dwords) against encodeTlp', () => {
  /** The CplDDwords twin of a CplD: same fields, payload as dwords. */
  const asDwords = (t: CplDTlp): CplDDwords => ({ ...t, data: bytesToDwords(t.data) });
  /** What an encoder does with a TLP: the raw form, or the TlpError (field and message). */
  const outcome = (f: () => RawTlp): unknown => {
    try {
      const r = f();
      return { hdr: Array.from(r.hdr), data: Array.from(r.data) };
    } catch (e) {
      if (!(e instanceof TlpError)) throw e;
      return { field: e.field, message: e.message };
    }
  };

  it('the same raw TLP for random valid completions, and the same payload dwords (not copied)', () => {
    forEachSeeded(2000, (r) => {
      const t = randCpl(r, r.chance(0.9) ? 'CplD' : 'CplDLk') as CplDTlp;
      const d = asDwords(t);
      const raw = encodeCplD(d);
      expect(outcome(() => raw)).toEqual(outcome(() => encodeTlp(t)));
      expect(raw.data).toBe(d.data);
    });
  });

  it('the same error for every kind of bad field, with and without allowMalformed', () => {
    const bad: Partial<CplDTlp>[] = [
      { status: CplStatus.UR },
      { status: 3 as CplStatusCode },
      { byteCount: 0 },
      { byteCount: 4097 },
      { byteCount: 1.5 },
      { lowerAddress: 128 },
      { completerId: 0x10000 },
      { requesterId: -1 },
      { tag: 1024 },
      { tc: 8 },
      { attr: 8 },
      { byteCount: 4, lowerAddress: 0, data: new Uint8Array(8) }, // length vs byte count
      { byteCount: 100, lowerAddress: 4, data: new Uint8Array(12) }, // partial, not on an RCB
      { data: new Uint8Array(4 * 1025) },
    ];
    forEachSeeded(bad.length * 20, (r, i) => {
      const t = { ...randCpl(r, 'CplD'), ...bad[i % bad.length] } as CplDTlp;
      for (const opts of [{}, { allowMalformed: true }]) {
        const want = outcome(() => encodeTlp(t, opts));
        expect(
          outcome(() => encodeCplD(asDwords(t), opts)),
          JSON.stringify(bad[i % bad.length]),
        ).toEqual(want);
      }
    });
    expectTlpError(
      () => encodeCplD({ ...asDwords(randCpl(new Rng(1), 'CplD') as CplDTlp), data: new Uint32Array(0) }),
      'data',
      /0 DW out of range/,
    );
    expectTlpError(
      () => encodeCplD({ ...asDwords(randCpl(new Rng(1), 'CplD') as CplDTlp), type: 'Cpl' } as unknown as CplDDwords),
      'type',
    );
  });
});

describe('raw payload memory', () => {
  it('decodeTlp payloads are byte views of raw.data (little-endian hosts), equal to dwordsToBytes', () => {
    forEachSeeded(200, (r, i) => {
      const raw = encodeTlp(randTlp(r, (['MWr', 'CplD', 'MsgD', 'CfgWr0'] as const)[i % 4]));
      const t = decodeTlp(raw);
      if (!('data' in t)) throw new Error('expected a payload');
      expect(t.data).toEqual(dwordsToBytes(raw.data));
      expect(t.data.buffer).toBe(raw.data.buffer);
      expect(t.data.byteOffset).toBe(raw.data.byteOffset);
    });
  });

  it('DwordArena: zeroed, disjoint views that stay valid across chunks; free() then alloc() is the same memory', () => {
    const a = new DwordArena(64);
    const views: Uint32Array[] = [];
    for (let n = 1; n <= 100; n += 7) {
      const v = a.alloc(n);
      expect(v.length).toBe(n);
      expect(v.every((x) => x === 0)).toBe(true);
      v.fill(n);
      views.push(v);
    }
    for (const v of views) expect(v.every((x) => x === v.length)).toBe(true); // nobody wrote over anybody
    const room = a.free(10);
    expect(room.length).toBeGreaterThanOrEqual(10);
    expect(a.free(10)).toBe(room); // the same view until something is allocated
    room.set([1, 2, 3]);
    const got = a.alloc(3);
    expect(Array.from(got)).toEqual([1, 2, 3]);
    expect(got.buffer).toBe(room.buffer);
    expect(got.byteOffset).toBe(room.byteOffset);
    expect(a.free(1000).length).toBeGreaterThanOrEqual(1000); // larger than a chunk: a chunk of its own
    expect(a.alloc(1000).every((x) => x === 0)).toBe(true);
  });
});

describe('misc helpers', () => {
  it('bytesToDwords / dwordsToBytes are little-endian and inverse', () => {
    const b = Uint8Array.from([0x78, 0x56, 0x34, 0x12, 0xff, 0xee, 0xdd, 0xcc]);
    const d = bytesToDwords(b);
    expect(Array.from(d)).toEqual([0x12345678, 0xccddeeff]);
    expect(dwordsToBytes(d)).toEqual(b);
    expectTlpError(() => bytesToDwords(new Uint8Array(5)), 'data');
  });

  it('pcieId / formatPcieId', () => {
    expect(pcieId(1, 0, 0)).toBe(0x0100);
    expect(pcieId(0xff, 31, 7)).toBe(0xffff);
    expect(formatPcieId(pcieId(0x3a, 0x1f, 5))).toBe('3a:1f.5');
    expectTlpError(() => pcieId(0, 32, 0), 'id');
  });

  it('describeTlp covers every type and never throws', () => {
    forEachSeeded(ALL_TYPES.length, (r, i) => {
      const s = describeTlp(randTlp(r, ALL_TYPES[i]));
      expect(s.startsWith(ALL_TYPES[i] + ' ')).toBe(true);
    });
    const cpl = describeTlp({
      type: 'CplD',
      completerId: 0x0100,
      status: 0,
      byteCount: 4,
      requesterId: 0,
      tag: 3,
      lowerAddress: 0,
      attr: Attr.RO,
      data: Uint8Array.from([1, 2, 3, 4]),
    });
    expect(cpl).toBe('CplD SC cpl=01:00.0 req=00:00.0 tag=3 bc=4 la=0x00 len=1 data=[04030201] RO');
    expect(describeTlp({ type: 'MRd', address: 'x' } as unknown as Tlp)).toMatch(/^unknown TLP/);
  });
});
