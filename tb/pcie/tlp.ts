/**
 * PCIe Transaction Layer Packet codec: RawTlp (header dwords + payload dwords, see ./raw)
 * <-> a typed, discriminated `Tlp` union.
 *
 * Section references are to the PCI Express Base Specification (rev 4.0+ numbering where
 * it matters; 10-bit tags appeared in 4.0). The codec covers the TLPs this project uses:
 * memory read/write (3DW and 4DW), configuration type 0/1, completions, and messages.
 * IO requests, AtomicOps and TLP prefixes are rejected as unsupported.
 *
 * Strictness levels:
 *  - decodeTlp always rejects TLPs the spec calls Malformed (bad Fmt/Type, payload vs
 *    Length mismatch, byte-enable rules, 4 KB crossing, config Length/Last BE, ...).
 *  - decodeTlp with `strict` (the default) also rejects things a well-behaved transmitter
 *    must not send but a receiver is not required to flag: reserved bits set, a 64-bit
 *    header for an address below 4 GB, a split completion not ending on an RCB, a Length
 *    field on a completion without data.
 *  - encodeTlp always checks that every field fits its bits, and by default applies all of
 *    the rules above; `allowMalformed` skips the rules so tests can inject bad TLPs.
 */
import { DwordArena, type RawTlp } from '../../sim/raw';

export type { RawTlp } from '../../sim/raw';

// ---------------------------------------------------------------------------------------
// Errors

/** A TLP that cannot be encoded or is malformed on decode. `field` names the culprit. */
export class TlpError extends Error {
  readonly field: string;
  constructor(field: string, message: string) {
    super(message);
    this.name = 'TlpError';
    this.field = field;
  }
}

// ---------------------------------------------------------------------------------------
// Constants

/** Attr[2:0] bits (2.2.6.3-2.2.6.5): Attr[0] No Snoop, Attr[1] Relaxed Ordering, Attr[2] ID-Based Ordering. */
export const Attr = { NS: 1, RO: 2, IDO: 4 } as const;

/** Completion Status field (2.2.9). CRS is called RRS from rev 6.0 on; same encoding. */
export const CplStatus = { SC: 0, UR: 1, CRS: 2, CA: 4 } as const;
export type CplStatusCode = (typeof CplStatus)[keyof typeof CplStatus];

/** Message routing subfield r[2:0], the low bits of the Msg/MsgD Type field (2.2.8, Table "Message Routing"). */
export const MsgRouting = {
  ToRootComplex: 0b000,
  ByAddress: 0b001,
  ById: 0b010,
  BroadcastFromRootComplex: 0b011,
  Local: 0b100,
  GatheredToRootComplex: 0b101,
} as const;

/** Message codes (2.2.8.x). */
export const MsgCode = {
  Unlock: 0x00,
  LTR: 0x10,
  PM_Active_State_Nak: 0x14,
  PM_PME: 0x18,
  PME_Turn_Off: 0x19,
  PME_TO_Ack: 0x1b,
  Assert_INTA: 0x20,
  Assert_INTB: 0x21,
  Assert_INTC: 0x22,
  Assert_INTD: 0x23,
  Deassert_INTA: 0x24,
  Deassert_INTB: 0x25,
  Deassert_INTC: 0x26,
  Deassert_INTD: 0x27,
  ERR_COR: 0x30,
  ERR_NONFATAL: 0x31,
  ERR_FATAL: 0x33,
  Set_Slot_Power_Limit: 0x50,
  Vendor_Defined_Type0: 0x7e,
  Vendor_Defined_Type1: 0x7f,
} as const;

// ---------------------------------------------------------------------------------------
// Decoded form

/**
 * Header fields common to all TLPs. Optional on input to encodeTlp (default 0 / false);
 * always present on the result of decodeTlp.
 */
interface TlpCommon {
  /** Traffic Class 0..7. */
  tc?: number;
  /** Attr[2:0]: see `Attr` (NS = 1, RO = 2, IDO = 4). */
  attr?: number;
  /** TLP Digest present. Only the flag: RawTlp has no slot for the ECRC dword itself. */
  td?: boolean;
  /** Poisoned (Error Poisoned). */
  ep?: boolean;
}

/** Memory read request (MRdLk: locked variant, legacy). 3DW header iff address < 4 GB. */
export interface MemReadTlp extends TlpCommon {
  type: 'MRd' | 'MRdLk';
  /** Dword-aligned byte address (bits 1:0 zero); bytes within the first/last dword are chosen by the BEs. */
  address: bigint;
  /** Dwords requested, 1..1024. */
  length: number;
  firstBe: number;
  lastBe: number;
  requesterId: number;
  /** Tag, 0..1023 (10-bit tags use header bits T9/T8). */
  tag: number;
  /** Address Type 0..3 (0 = untranslated). */
  at?: number;
}

/** Memory write request. Length is data.length / 4. */
export interface MemWriteTlp extends TlpCommon {
  type: 'MWr';
  address: bigint;
  firstBe: number;
  lastBe: number;
  requesterId: number;
  tag: number;
  at?: number;
  /** Payload, a whole number of dwords; byte 0 sits at `address` (disabled bytes included). */
  data: Uint8Array;
}

/** Configuration read, type 0 or 1. Length is always 1 and Last DW BE always 0000b. */
export interface CfgReadTlp extends TlpCommon {
  type: 'CfgRd0' | 'CfgRd1';
  /** Target Bus/Device/Function as a 16-bit ID (see pcieId). */
  completerId: number;
  /** Byte offset of the register dword, 0..0xFFC, multiple of 4 (Ext Register Number : Register Number). */
  offset: number;
  firstBe: number;
  requesterId: number;
  tag: number;
}

/** Configuration write, type 0 or 1; data is exactly 4 bytes. */
export interface CfgWriteTlp extends TlpCommon {
  type: 'CfgWr0' | 'CfgWr1';
  completerId: number;
  offset: number;
  firstBe: number;
  requesterId: number;
  tag: number;
  data: Uint8Array;
}

/** Completion without data (CplLk: locked variant). */
export interface CplTlp extends TlpCommon {
  type: 'Cpl' | 'CplLk';
  completerId: number;
  status: CplStatusCode;
  /** Byte Count Modified (only PCI-X bridges set it). */
  bcm?: boolean;
  /** Remaining byte count 1..4096 (field value 0 means 4096). */
  byteCount: number;
  requesterId: number;
  tag: number;
  /** Lower 7 bits of the byte address of the first byte returned. */
  lowerAddress: number;
}

/** Completion with data (CplDLk: locked variant). Length is data.length / 4. */
export interface CplDTlp extends TlpCommon {
  type: 'CplD' | 'CplDLk';
  completerId: number;
  status: CplStatusCode;
  bcm?: boolean;
  byteCount: number;
  requesterId: number;
  tag: number;
  lowerAddress: number;
  /** Payload dwords as bytes; byte 0 is at dword address (lowerAddress & ~3). */
  data: Uint8Array;
}

/**
 * Message without data (always a 4DW header). `dw2`/`dw3` are header bytes 8..15, whose
 * meaning depends on routing and code: the address for routing ByAddress, the target ID in
 * dw2[31:16] for routing ById, the Vendor ID in dw2[15:0] for vendor-defined messages.
 */
export interface MsgTlp extends TlpCommon {
  type: 'Msg';
  /** r[2:0], see MsgRouting. */
  routing: number;
  /** Message code, see MsgCode. */
  code: number;
  requesterId: number;
  tag: number;
  dw2?: number;
  dw3?: number;
}

/** Message with data. */
export interface MsgDTlp extends TlpCommon {
  type: 'MsgD';
  routing: number;
  code: number;
  requesterId: number;
  tag: number;
  dw2?: number;
  dw3?: number;
  data: Uint8Array;
}

export type Tlp = MemReadTlp | MemWriteTlp | CfgReadTlp | CfgWriteTlp | CplTlp | CplDTlp | MsgTlp | MsgDTlp;
export type TlpType = Tlp['type'];

const ALL_TYPES: ReadonlySet<string> = new Set<TlpType>([
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
]);

// ---------------------------------------------------------------------------------------
// Small helpers

/** Bus/Device/Function -> 16-bit Requester/Completer ID (bus[15:8], dev[7:3], fn[2:0]). */
export function pcieId(bus: number, dev: number, fn: number): number {
  if (!isUint(bus, 8) || !isUint(dev, 5) || !isUint(fn, 3)) {
    throw new TlpError('id', `pcieId: bus ${bus} / device ${dev} / function ${fn} out of range (8/5/3 bits)`);
  }
  return (bus << 8) | (dev << 3) | fn;
}

/** 16-bit ID -> "bb:dd.f" (hex bus and device, as lspci prints them). */
export function formatPcieId(id: number): string {
  const bus = (id >>> 8) & 0xff;
  const dev = (id >>> 3) & 0x1f;
  return `${hex(bus, 2)}:${hex(dev, 2)}.${id & 7}`;
}

/**
 * Whether this host stores a Uint32Array little-endian (every Node platform but s390x). Then a
 * payload's bytes lie in memory exactly as its dwords' bytes (byte 4i in bits 7:0 of dword i),
 * and the conversions below are plain copies or views instead of byte loops.
 */
const LITTLE_ENDIAN = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1;

/** Encoded payloads come from here (see DwordArena: a fresh array over 64 bytes costs ~0.5 us). */
const payloadArena = new DwordArena();

/** Payload bytes -> little-endian dwords (byte 4i in bits 7:0 of dword i), in memory of their own. */
export function bytesToDwords(bytes: Uint8Array): Uint32Array {
  if (bytes.length % 4 !== 0) {
    throw new TlpError('data', `payload of ${bytes.length} bytes is not a whole number of dwords`);
  }
  const out = payloadArena.alloc(bytes.length / 4);
  if (LITTLE_ENDIAN) {
    new Uint8Array(out.buffer, out.byteOffset, bytes.length).set(bytes);
    return out;
  }
  for (let i = 0; i < out.length; i++) {
    const b = 4 * i;
    out[i] = (bytes[b] | (bytes[b + 1] << 8) | (bytes[b + 2] << 16) | (bytes[b + 3] << 24)) >>> 0;
  }
  return out;
}

/** Little-endian dwords -> payload bytes (a copy). */
export function dwordsToBytes(dwords: Uint32Array): Uint8Array {
  const out = new Uint8Array(dwords.length * 4);
  if (LITTLE_ENDIAN) {
    out.set(new Uint8Array(dwords.buffer, dwords.byteOffset, out.length));
    return out;
  }
  for (let i = 0; i < dwords.length; i++) {
    const d = dwords[i];
    out[4 * i] = d & 0xff;
    out[4 * i + 1] = (d >>> 8) & 0xff;
    out[4 * i + 2] = (d >>> 16) & 0xff;
    out[4 * i + 3] = (d >>> 24) & 0xff;
  }
  return out;
}

/** The payload bytes of raw dwords for a decoded TLP: a view sharing their memory where the host is little-endian, else a copy. */
function payloadBytes(dwords: Uint32Array): Uint8Array {
  return LITTLE_ENDIAN ? new Uint8Array(dwords.buffer, dwords.byteOffset, dwords.byteLength) : dwordsToBytes(dwords);
}

/** Value of the Length field in dwords: data size for TLPs with data, requested size for MRd, 1 for config, 0 otherwise (Cpl, Msg: Length reserved). */
export function tlpLengthDw(t: Tlp): number {
  switch (t.type) {
    case 'MRd':
    case 'MRdLk':
      return t.length;
    case 'CfgRd0':
    case 'CfgRd1':
      return 1;
    case 'Cpl':
    case 'CplLk':
    case 'Msg':
      return 0;
    default:
      return t.data.length / 4;
  }
}

/** An integer in 0..mask, for a mask of the form 2^n - 1 with n <= 31 (see isUint). */
function fits(v: unknown, mask: number): boolean {
  return typeof v === 'number' && (v & mask) === v;
}

/** An integer in 0..2^bits-1 (bits <= 32). */
function isUint(v: unknown, bits: number): v is number {
  // Masking keeps exactly the integers in range (fractions, negatives, NaN and larger values
  // change), with no Math.pow or Number.isInteger call: the encoder runs this per field per TLP.
  return typeof v === 'number' && (bits < 32 ? (v & ((1 << bits) - 1)) === v : v >>> 0 === v);
}
function hex(v: number | bigint, width = 0): string {
  return v.toString(16).padStart(width, '0');
}
function bin(v: number, width: number): string {
  return v.toString(2).padStart(width, '0') + 'b';
}
/** Index of the lowest set bit of a BE nibble (0 for 0). */
export function lowestBe(be: number): number {
  for (let i = 0; i < 4; i++) if (be & (1 << i)) return i;
  return 0;
}
/** Index of the highest set bit of a BE nibble (3 for 0). */
export function highestBe(be: number): number {
  for (let i = 3; i >= 0; i--) if (be & (1 << i)) return i;
  return 3;
}

// ---------------------------------------------------------------------------------------
// Byte enables, byte count, lower address (2.2.5, 2.2.9)

/** First DW BE patterns whose enabled bytes run contiguously up to byte 3 of the dword. */
const FIRST_BE_CONTIGUOUS = new Set([0b1111, 0b1110, 0b1100, 0b1000]);
/** Last DW BE patterns whose enabled bytes run contiguously from byte 0 of the dword. */
const LAST_BE_CONTIGUOUS = new Set([0b0001, 0b0011, 0b0111, 0b1111]);

interface Problem {
  field: string;
  reason: string;
}

/**
 * First/Last DW Byte Enable rules for memory requests (2.2.5):
 *  - 1 DW: Last DW BE must be 0000b; any First DW BE (0000b is a zero-length request).
 *  - 2 DW or more: both non-zero.
 *  - Non-contiguous enables are allowed only for 1 DW and for QW-aligned 2 DW requests;
 *    otherwise the enabled bytes must be contiguous between first and last dword.
 * `qwAligned` (address bits 2:0 zero) decides the 2 DW case.
 */
function byteEnableProblem(lengthDw: number, firstBe: number, lastBe: number, qwAligned: boolean): Problem | null {
  if (!isUint(lengthDw, 11) || lengthDw < 1 || lengthDw > 1024) {
    return { field: 'length', reason: `length ${lengthDw} DW out of range 1..1024` };
  }
  if (!isUint(firstBe, 4)) return { field: 'firstBe', reason: `first DW BE ${firstBe} is not a 4-bit value` };
  if (!isUint(lastBe, 4)) return { field: 'lastBe', reason: `last DW BE ${lastBe} is not a 4-bit value` };
  if (lengthDw === 1) {
    if (lastBe !== 0) {
      return { field: 'lastBe', reason: `last DW BE must be 0000b for a 1 DW request, got ${bin(lastBe, 4)}` };
    }
    return null;
  }
  if (firstBe === 0) {
    return { field: 'firstBe', reason: `first DW BE must be non-zero for a ${lengthDw} DW request` };
  }
  if (lastBe === 0) {
    return { field: 'lastBe', reason: `last DW BE must be non-zero for a ${lengthDw} DW request` };
  }
  if (lengthDw === 2 && qwAligned) return null;
  if (!FIRST_BE_CONTIGUOUS.has(firstBe)) {
    return {
      field: 'firstBe',
      reason: `first DW BE ${bin(firstBe, 4)} must be contiguous up to byte 3 (1111b/1110b/1100b/1000b) for ${contiguousCase(lengthDw)}`,
    };
  }
  if (!LAST_BE_CONTIGUOUS.has(lastBe)) {
    return {
      field: 'lastBe',
      reason: `last DW BE ${bin(lastBe, 4)} must be contiguous from byte 0 (0001b/0011b/0111b/1111b) for ${contiguousCase(lengthDw)}`,
    };
  }
  return null;
}

function contiguousCase(lengthDw: number): string {
  return lengthDw === 2 ? 'a 2 DW request that is not QW aligned' : `a ${lengthDw} DW request`;
}

/**
 * Checks First/Last DW BE against the memory request rules (2.2.5). Returns null if valid,
 * else the reason. Pass the request address so a QW-aligned 2 DW request may use
 * non-contiguous enables; without it 2 DW requests are held to the contiguous rule.
 */
export function byteEnablesValid(lengthDw: number, firstBe: number, lastBe: number, address?: bigint): string | null {
  return byteEnableProblem(lengthDw, firstBe, lastBe, address !== undefined && (address & 7n) === 0n)?.reason ?? null;
}

/** What the byte-range helpers need from a memory request: an MRd, an MWr, or a bare shape. */
export type MemReqShape = { address: bigint; firstBe: number; lastBe: number } & (
  { length: number } | { data: Uint8Array }
);

/**
 * Bytes a memory request covers given its BEs: address of the first enabled byte and the
 * span up to the last enabled byte (for non-contiguous BEs the span includes the disabled
 * bytes in between; use payloadByteMask for the exact set). A zero-length request
 * (1 DW, First DW BE 0000b) covers 0 bytes at `address`.
 */
export function memReqByteRange(req: MemReqShape): { addr: bigint; bytes: number } {
  const lengthDw = 'length' in req ? req.length : req.data.length / 4;
  const { firstBe, lastBe } = req;
  if (lengthDw === 1 && firstBe === 0) return { addr: req.address, bytes: 0 };
  const lo = lowestBe(firstBe);
  const hi = lengthDw === 1 ? highestBe(firstBe) : 4 * (lengthDw - 1) + highestBe(lastBe);
  // the address as it is when the range starts at it (no BigInt arithmetic: this runs per device request)
  return { addr: lo === 0 ? req.address : req.address + BigInt(lo), bytes: hi - lo + 1 };
}

/** Per payload byte, 1 if its byte enable is set (First DW BE for dword 0, Last DW BE for the last, all in between). */
export function payloadByteMask(lengthDw: number, firstBe: number, lastBe: number): Uint8Array {
  const mask = new Uint8Array(lengthDw * 4);
  for (let dw = 0; dw < lengthDw; dw++) {
    const be = dw === 0 ? firstBe : dw === lengthDw - 1 ? lastBe : 0xf;
    for (let b = 0; b < 4; b++) mask[4 * dw + b] = (be >> b) & 1;
  }
  return mask;
}

/**
 * Byte Count of the (first) completion for a memory read, from Length and the BEs
 * (2.2.9, table "Calculating Byte Count from Length and Byte Enables"). A zero-length read
 * (1 DW, First DW BE 0000b) reports 1. Completions of IO/config requests use 4 instead.
 */
export function readCompletionByteCount(lengthDw: number, firstBe: number, lastBe: number): number {
  if (lengthDw === 1) {
    if (firstBe === 0) return 1;
    return highestBe(firstBe) - lowestBe(firstBe) + 1;
  }
  return lengthDw * 4 - lowestBe(firstBe) - (3 - highestBe(lastBe));
}

/**
 * Lower Address of the first completion for a memory read (2.2.9, table "Calculating
 * Lower Address from First DW BE"): address bits 6:2 plus the offset of the first enabled
 * byte (00b for First DW BE 0000b). Later completions of a split read carry the low 7 bits
 * of their own start address; completions of IO/config requests carry 0.
 */
export function completionLowerAddress(addr: bigint, firstBe: number): number {
  return Number(addr & 0x7cn) | lowestBe(firstBe);
}

// ---------------------------------------------------------------------------------------
// Message rules (2.2.8)

interface MsgRule {
  name: string;
  routing: readonly number[];
  data: 'none' | 'required' | 'either';
  /** Message must use TC0, and receivers treat other TCs as Malformed. */
  tc0: boolean;
  lengthDw?: number;
}

const MSG_RULES = new Map<number, MsgRule>();
{
  const r = MsgRouting;
  const add = (code: number, name: string, routing: number[], data: MsgRule['data'], tc0: boolean, lengthDw?: number) =>
    MSG_RULES.set(code, { name, routing, data, tc0, lengthDw });
  add(MsgCode.Unlock, 'Unlock', [r.BroadcastFromRootComplex], 'none', true);
  add(MsgCode.LTR, 'LTR', [r.Local], 'none', true);
  add(MsgCode.PM_Active_State_Nak, 'PM_Active_State_Nak', [r.Local], 'none', true);
  add(MsgCode.PM_PME, 'PM_PME', [r.ToRootComplex], 'none', true);
  add(MsgCode.PME_Turn_Off, 'PME_Turn_Off', [r.BroadcastFromRootComplex], 'none', true);
  add(MsgCode.PME_TO_Ack, 'PME_TO_Ack', [r.GatheredToRootComplex], 'none', true);
  for (const [i, x] of ['A', 'B', 'C', 'D'].entries()) {
    add(MsgCode.Assert_INTA + i, `Assert_INT${x}`, [r.Local], 'none', true);
    add(MsgCode.Deassert_INTA + i, `Deassert_INT${x}`, [r.Local], 'none', true);
  }
  add(MsgCode.ERR_COR, 'ERR_COR', [r.ToRootComplex], 'none', true);
  add(MsgCode.ERR_NONFATAL, 'ERR_NONFATAL', [r.ToRootComplex], 'none', true);
  add(MsgCode.ERR_FATAL, 'ERR_FATAL', [r.ToRootComplex], 'none', true);
  add(MsgCode.Set_Slot_Power_Limit, 'Set_Slot_Power_Limit', [r.Local], 'required', true, 1);
  const vendorRouting = [r.ToRootComplex, r.ById, r.BroadcastFromRootComplex, r.Local];
  add(MsgCode.Vendor_Defined_Type0, 'Vendor_Defined_Type0', vendorRouting, 'either', false);
  add(MsgCode.Vendor_Defined_Type1, 'Vendor_Defined_Type1', vendorRouting, 'either', false);
}

/** Name of a message code, e.g. "ERR_FATAL", or "code 0x42" if unknown. */
export function msgCodeName(code: number): string {
  return MSG_RULES.get(code)?.name ?? `code 0x${hex(code, 2)}`;
}

// ---------------------------------------------------------------------------------------
// Validation shared by encode and decode

const STATUS_NAME: Record<number, string> = { 0: 'SC', 1: 'UR', 2: 'CRS', 4: 'CA' };
const ADDRESS_LIMIT = 1n << 64n;
/** Addresses from here on need a 4DW header. */
const ABOVE_4G = 1n << 32n;

function fail(t: { type: string }, field: string, what: string): never {
  throw new TlpError(field, `${t.type}: ${what}`);
}

function requireUint(t: { type: string }, field: string, v: unknown, bits: number): void {
  if (!isUint(v, bits)) fail(t, field, `${field} ${String(v)} does not fit in ${bits} bits`);
}

function requireData(t: Tlp, data: unknown, minDw: number, maxDw: number): void {
  if (!(data instanceof Uint8Array)) fail(t, 'data', 'data must be a Uint8Array');
  if (data.length % 4 !== 0) fail(t, 'data', `payload of ${data.length} bytes is not a whole number of dwords`);
  const dw = data.length / 4;
  if (dw < minDw || dw > maxDw) {
    fail(
      t,
      'data',
      `payload of ${dw} DW out of range ${minDw}..${maxDw}` + (dw > 1024 ? ' (Length field max 1024 DW)' : ''),
    );
  }
}

/** The fields every TLP has fit their bits. */
function checkCommonFields(t: Tlp | CplDDwords | CplDHeader): void {
  // All at once first (the encoders run this per TLP); field by field only to name the culprit.
  const tc = t.tc ?? 0;
  const attr = t.attr ?? 0;
  if (fits(tc, 7) && fits(attr, 7) && fits(t.requesterId, 0xffff) && fits(t.tag, 0x3ff)) return;
  requireUint(t, 'tc', t.tc ?? 0, 3);
  requireUint(t, 'attr', t.attr ?? 0, 3);
  requireUint(t, 'requesterId', t.requesterId, 16);
  requireUint(t, 'tag', t.tag, 10);
}

/** A completion's own fields fit their bits (or ranges). */
function checkCompletionFields(t: CplTlp | CplDTlp | CplDDwords | CplDHeader): void {
  const bc = t.byteCount;
  if (
    fits(t.completerId, 0xffff) &&
    t.status in STATUS_NAME &&
    fits(bc, 0x1fff) &&
    bc >= 1 &&
    bc <= 4096 &&
    fits(t.lowerAddress, 0x7f)
  )
    return;
  requireUint(t, 'completerId', t.completerId, 16);
  if (!(t.status in STATUS_NAME)) fail(t, 'status', `completion status ${t.status} is reserved`);
  if (!Number.isInteger(t.byteCount) || t.byteCount < 1 || t.byteCount > 4096) {
    fail(t, 'byteCount', `byte count ${t.byteCount} out of range 1..4096`);
  }
  requireUint(t, 'lowerAddress', t.lowerAddress, 7);
}

/** Every field fits its header bits: the TLP can be represented at all. */
function checkRepresentable(t: Tlp): void {
  if (!ALL_TYPES.has(t.type)) throw new TlpError('type', `unknown TLP type ${String((t as { type: unknown }).type)}`);
  checkCommonFields(t);
  switch (t.type) {
    case 'MRd':
    case 'MRdLk':
    case 'MWr':
      requireUint(t, 'at', t.at ?? 0, 2);
      requireUint(t, 'firstBe', t.firstBe, 4);
      requireUint(t, 'lastBe', t.lastBe, 4);
      if (typeof t.address !== 'bigint' || t.address < 0n || t.address >= ADDRESS_LIMIT) {
        fail(t, 'address', `address ${String(t.address)} is not a 64-bit bigint`);
      }
      if ((t.address & 3n) !== 0n) {
        fail(t, 'address', `address 0x${hex(t.address)} is not dword aligned (select bytes with the BEs)`);
      }
      if (t.type === 'MWr') requireData(t, t.data, 1, 1024);
      else if (!Number.isInteger(t.length) || t.length < 1 || t.length > 1024) {
        fail(t, 'length', `length ${t.length} DW out of range 1..1024`);
      }
      break;
    case 'CfgRd0':
    case 'CfgRd1':
    case 'CfgWr0':
    case 'CfgWr1':
      requireUint(t, 'completerId', t.completerId, 16);
      requireUint(t, 'firstBe', t.firstBe, 4);
      if (!isUint(t.offset, 12) || t.offset % 4 !== 0) {
        fail(t, 'offset', `register offset ${String(t.offset)} is not a dword offset in 0..0xffc`);
      }
      if (t.type === 'CfgWr0' || t.type === 'CfgWr1') requireData(t, t.data, 1, 1);
      break;
    case 'Cpl':
    case 'CplLk':
    case 'CplD':
    case 'CplDLk':
      checkCompletionFields(t);
      if (t.type === 'CplD' || t.type === 'CplDLk') requireData(t, t.data, 1, 1024);
      break;
    case 'Msg':
    case 'MsgD':
      requireUint(t, 'routing', t.routing, 3);
      requireUint(t, 'code', t.code, 8);
      requireUint(t, 'dw2', t.dw2 ?? 0, 32);
      requireUint(t, 'dw3', t.dw3 ?? 0, 32);
      if (t.type === 'MsgD') requireData(t, t.data, 1, 1024);
      break;
  }
}

/**
 * The spec's rules for well-formed TLPs. `strict` adds the rules a receiver need not check
 * (split completions ending on a Read Completion Boundary).
 */
function checkRules(t: Tlp, strict: boolean, pageOffset?: number): void {
  switch (t.type) {
    case 'MRd':
    case 'MRdLk':
    case 'MWr': {
      const lengthDw = tlpLengthDw(t);
      // offset within the 4 KB page (decodeTlp has it from the header: no BigInt operation per TLP)
      const page = pageOffset ?? Number(t.address & 0xfffn);
      const p = byteEnableProblem(lengthDw, t.firstBe, t.lastBe, (page & 7) === 0);
      if (p) fail(t, p.field, p.reason);
      // 2.2.7: a memory request must not cross a 4 KB address boundary.
      if (page + lengthDw * 4 > 0x1000) {
        fail(t, 'address', `${lengthDw} DW at address 0x${hex(t.address)} crosses a 4 KB boundary`);
      }
      break;
    }
    case 'CfgRd0':
    case 'CfgRd1':
    case 'CfgWr0':
    case 'CfgWr1':
      // 2.2.7: configuration requests use TC0 and Attr[1:0] = 00b.
      if ((t.tc ?? 0) !== 0) fail(t, 'tc', `configuration requests must use TC0, got TC${t.tc}`);
      if (((t.attr ?? 0) & (Attr.RO | Attr.NS)) !== 0) {
        fail(t, 'attr', `configuration requests must have Attr[1:0] = 00b, got ${bin((t.attr ?? 0) & 3, 2)}`);
      }
      break;
    case 'Cpl':
    case 'CplLk':
      break;
    case 'CplD':
    case 'CplDLk':
      checkCplDRules(t, t.data.length / 4, strict);
      break;
    case 'Msg':
    case 'MsgD': {
      const rule = MSG_RULES.get(t.code);
      if (!rule) break;
      if (!rule.routing.includes(t.routing)) {
        fail(
          t,
          'routing',
          `${rule.name} with routing ${bin(t.routing, 3)}, spec requires ${rule.routing.map((r) => bin(r, 3)).join(' or ')}`,
        );
      }
      if (rule.data === 'none' && t.type === 'MsgD') fail(t, 'type', `${rule.name} carries no data and must be a Msg`);
      if (rule.data === 'required' && t.type === 'Msg') fail(t, 'type', `${rule.name} carries data and must be a MsgD`);
      if (rule.lengthDw !== undefined && t.type === 'MsgD' && t.data.length / 4 !== rule.lengthDw) {
        fail(t, 'length', `${rule.name} must carry ${rule.lengthDw} DW, got ${t.data.length / 4} DW`);
      }
      if (rule.tc0 && (t.tc ?? 0) !== 0) fail(t, 'tc', `${rule.name} must use TC0, got TC${t.tc}`);
      break;
    }
  }
}

// ---------------------------------------------------------------------------------------
// Encode

/** 2.2.9 / 2.3.1.1: a completion with `lengthDw` payload dwords (encode and decode of CplD, and encodeCplD). */
function checkCplDRules(t: CplDTlp | CplDDwords | CplDHeader, lengthDw: number, strict: boolean): void {
  checkCplDRulesOf(t, t.status, t.bcm, t.lowerAddress, t.byteCount, lengthDw, strict);
}
/** checkCplDRules() from the fields' values (`t` names the type in the error). */
function checkCplDRulesOf(
  t: { type: string },
  status: CplStatusCode,
  bcm: boolean | undefined,
  lowerAddress: number,
  byteCount: number,
  lengthDw: number,
  strict: boolean,
): void {
  // 2.2.9: only Successful Completions carry data; error statuses use Cpl.
  if (status !== CplStatus.SC) {
    fail(t, 'status', `status ${STATUS_NAME[status]} on a completion with data (only SC completions carry data)`);
  }
  if (bcm) return; // PCI-X bridges report a byte count that need not match; nothing to cross-check.
  const lead = lowerAddress & 3;
  const carried = lengthDw * 4 - lead;
  if (byteCount <= carried) {
    // The last (or only) completion: its payload ends at the dword holding the last byte.
    const needDw = Math.ceil((lead + byteCount) / 4);
    if (needDw !== lengthDw) {
      fail(
        t,
        'byteCount',
        `byte count ${byteCount} from lower address 0x${hex(lowerAddress, 2)} needs ${needDw} DW but length is ${lengthDw} DW`,
      );
    }
  } else if (strict) {
    // 2.3.1.1: a completion that does not finish the request must end on a naturally aligned
    // RCB (64 or 128 bytes; any 128-byte boundary is also a 64-byte one).
    const end = (lowerAddress & 0x7c) + lengthDw * 4;
    if (end % 64 !== 0) {
      fail(
        t,
        'length',
        `partial completion (byte count ${byteCount} > ${carried} bytes carried) of ${lengthDw} DW from lower address ` +
          `0x${hex(lowerAddress, 2)} does not end on a 64-byte read completion boundary`,
      );
    }
  }
}

const FMT_DATA = 0b010;
const FMT_4DW = 0b001;

const TYPE_MEM = 0b00000;
const TYPE_MEM_LOCKED = 0b00001;
const TYPE_IO = 0b00010;
const TYPE_CFG0 = 0b00100;
const TYPE_CFG1 = 0b00101;
const TYPE_CPL = 0b01010;
const TYPE_CPL_LOCKED = 0b01011;
const TYPE_MSG = 0b10000; // | r[2:0]

export interface EncodeOptions {
  /** Skip the well-formedness rules (BEs, 4 KB, ...) so tests can inject malformed TLPs. Fields must still fit their bits. */
  allowMalformed?: boolean;
}
/**
 * The default options, one frozen object: a `= {}` default allocates an object per call, and the codec runs per TLP
 * (encodeCplDHeader per read completion, decodeTlp per device TLP: ~2 MB of garbage per run of the virtio-blk
 * bench's mix, a tenth of what the root complex allocates).
 */
const ENCODE_DEFAULTS: EncodeOptions = Object.freeze({});

/**
 * DW0 (2.2.1): Fmt[31:29] Type[28:24] T9[23] TC[22:20] T8[19] Attr[2][18] LN[17] TH[16]
 * TD[15] EP[14] Attr[1:0][13:12] AT[11:10] Length[9:0].
 */
function packDw0(fmt: number, type: number, t: Tlp | CplDDwords | CplDHeader, lengthDw: number, at: number): number {
  return packDw0Of(fmt, type, t.tag, t.tc ?? 0, t.attr ?? 0, t.td, t.ep, lengthDw, at);
}
/** packDw0() from the fields' values. */
function packDw0Of(
  fmt: number,
  type: number,
  tag: number,
  tc: number,
  attr: number,
  td: boolean | undefined,
  ep: boolean | undefined,
  lengthDw: number,
  at: number,
): number {
  return (
    ((fmt << 29) |
      (type << 24) |
      (((tag >> 9) & 1) << 23) |
      (tc << 20) |
      (((tag >> 8) & 1) << 19) |
      (((attr >> 2) & 1) << 18) |
      ((td ? 1 : 0) << 15) |
      ((ep ? 1 : 0) << 14) |
      ((attr & 3) << 12) |
      (at << 10) |
      (lengthDw & 0x3ff)) >>>
    0
  );
}

/** Request DW1 (2.2.6.2, 2.2.7): Requester ID[31:16] Tag[7:0] at [15:8] Last DW BE[7:4] First DW BE[3:0]. */
function packRequestDw1(requesterId: number, tag: number, lastBe: number, firstBe: number): number {
  return ((requesterId << 16) | ((tag & 0xff) << 8) | (lastBe << 4) | firstBe) >>> 0;
}

/** Completion header (2.2.9) into `hdr` from dword `at` on (DW3 untouched); `lengthDw` payload dwords (0 for Cpl). */
function packCompletion(
  hdr: Uint32Array,
  t: CplTlp | CplDTlp | CplDDwords | CplDHeader,
  lengthDw: number,
  at = 0,
): void {
  const hasData = t.type === 'CplD' || t.type === 'CplDLk';
  const type = t.type === 'CplLk' || t.type === 'CplDLk' ? TYPE_CPL_LOCKED : TYPE_CPL;
  hdr[at] = packDw0(hasData ? FMT_DATA : 0, type, t, lengthDw, 0);
  // DW1: Completer ID[31:16] Status[15:13] BCM[12] Byte Count[11:0] (4096 -> 0).
  hdr[at + 1] = ((t.completerId << 16) | (t.status << 13) | ((t.bcm ? 1 : 0) << 12) | (t.byteCount & 0xfff)) >>> 0;
  // DW2: Requester ID[31:16] Tag[7:0] at [15:8] R[7] Lower Address[6:0].
  hdr[at + 2] = ((t.requesterId << 16) | ((t.tag & 0xff) << 8) | t.lowerAddress) >>> 0;
}

/**
 * A CplD (or CplDLk) whose payload is already dwords, as the raw form carries it: what
 * encodeCplD takes. A root complex answering a DMA read holds the data as dwords anyway.
 */
export interface CplDDwords extends Omit<CplDTlp, 'data'> {
  data: Uint32Array;
}

/**
 * encodeTlp for a completion with data whose payload is already dwords: the same checks, the
 * same header, but no conversion from bytes, and `data` becomes the raw payload as is (not
 * copied: do not change it afterwards). The root complex's read completions, the bulk of a
 * DMA-heavy simulation, take this path.
 */
export function encodeCplD(t: CplDDwords, opts: EncodeOptions = ENCODE_DEFAULTS): RawTlp {
  if (t.type !== 'CplD' && t.type !== 'CplDLk')
    throw new TlpError('type', `encodeCplD: ${String(t.type)} is not a completion with data`);
  const data = t.data;
  if (!(data instanceof Uint32Array)) fail(t, 'data', 'data must be a Uint32Array');
  const hdr = new Uint32Array(4);
  encodeCplDHeader(t, data.length, hdr, 0, opts);
  return { hdr, data };
}

/** A CplD (or CplDLk) without its payload: what encodeCplDHeader() takes with the payload's length. */
export type CplDHeader = Omit<CplDDwords, 'data'>;

/**
 * encodeCplD()'s checks and header for a completion of `lengthDw` payload dwords, written into hdr[at..at+3]
 * (DW3 = 0): the header encodeCplD() gives. For a completer that hands over a read's completions at once
 * (RcCore.sendBatch), one reused header array and fields object for all of them.
 */
export function encodeCplDHeader(
  t: CplDHeader,
  lengthDw: number,
  hdr: Uint32Array,
  at = 0,
  opts: EncodeOptions = ENCODE_DEFAULTS,
): void {
  const type = t.type;
  if (type !== 'CplD' && type !== 'CplDLk')
    throw new TlpError('type', `encodeCplD: ${String(type)} is not a completion with data`);
  // Every field read once, here: the shared checkers and packers see every TLP type (megamorphic loads), and this
  // runs per read completion. They still decide and word every error (called when the quick test fails).
  const tc = t.tc ?? 0;
  const attr = t.attr ?? 0;
  const requesterId = t.requesterId;
  const tag = t.tag;
  const completerId = t.completerId;
  const status = t.status;
  const bcm = t.bcm;
  const byteCount = t.byteCount;
  const lowerAddress = t.lowerAddress;
  if (!(fits(tc, 7) && fits(attr, 7) && fits(requesterId, 0xffff) && fits(tag, 0x3ff))) checkCommonFields(t);
  if (!(
    fits(completerId, 0xffff) &&
    (status === 0 || status === 1 || status === 2 || status === 4) &&
    fits(byteCount, 0x1fff) &&
    byteCount >= 1 &&
    byteCount <= 4096 &&
    fits(lowerAddress, 0x7f)
  ))
    checkCompletionFields(t);
  if (!(lengthDw >= 1 && lengthDw <= 1024)) {
    fail(
      t,
      'data',
      `payload of ${lengthDw} DW out of range 1..1024` + (lengthDw > 1024 ? ' (Length field max 1024 DW)' : ''),
    );
  }
  if (!opts.allowMalformed) checkCplDRulesOf(t, status, bcm, lowerAddress, byteCount, lengthDw, true);
  // packCompletion() for a CplD / CplDLk, from the values read above
  hdr[at] = packDw0Of(FMT_DATA, type === 'CplDLk' ? TYPE_CPL_LOCKED : TYPE_CPL, tag, tc, attr, t.td, t.ep, lengthDw, 0);
  hdr[at + 1] = ((completerId << 16) | (status << 13) | ((bcm ? 1 : 0) << 12) | (byteCount & 0xfff)) >>> 0;
  hdr[at + 2] = ((requesterId << 16) | ((tag & 0xff) << 8) | lowerAddress) >>> 0;
  hdr[at + 3] = 0;
}

/** Encodes a TLP; throws TlpError naming the field if it cannot be encoded or breaks a spec rule. */
export function encodeTlp(t: Tlp, opts: EncodeOptions = ENCODE_DEFAULTS): RawTlp {
  checkRepresentable(t);
  if (!opts.allowMalformed) checkRules(t, true);

  const hdr = new Uint32Array(4);
  let data: Uint32Array = new Uint32Array(0);
  switch (t.type) {
    case 'MRd':
    case 'MRdLk':
    case 'MWr': {
      // 2.2.4.1: requesters must use the 3DW (32-bit) format for addresses below 4 GB.
      const fourDw = t.address >= ABOVE_4G;
      const hasData = t.type === 'MWr';
      const fmt = (hasData ? FMT_DATA : 0) | (fourDw ? FMT_4DW : 0);
      hdr[0] = packDw0(fmt, t.type === 'MRdLk' ? TYPE_MEM_LOCKED : TYPE_MEM, t, tlpLengthDw(t), t.at ?? 0);
      hdr[1] = packRequestDw1(t.requesterId, t.tag, t.lastBe, t.firstBe);
      if (fourDw) {
        hdr[2] = Number(t.address >> 32n);
        hdr[3] = Number(t.address & 0xffff_fffcn);
      } else {
        hdr[2] = Number(t.address);
      }
      if (hasData) data = bytesToDwords(t.data);
      break;
    }
    case 'CfgRd0':
    case 'CfgRd1':
    case 'CfgWr0':
    case 'CfgWr1': {
      const hasData = t.type === 'CfgWr0' || t.type === 'CfgWr1';
      const type = t.type.endsWith('0') ? TYPE_CFG0 : TYPE_CFG1;
      hdr[0] = packDw0(hasData ? FMT_DATA : 0, type, t, 1, 0);
      hdr[1] = packRequestDw1(t.requesterId, t.tag, 0, t.firstBe);
      // DW2 (2.2.7): Bus[31:24] Device[23:19] Function[18:16] Ext Register[11:8] Register[7:2].
      hdr[2] = ((t.completerId << 16) | t.offset) >>> 0;
      if (hasData) data = bytesToDwords(t.data);
      break;
    }
    case 'Cpl':
    case 'CplLk':
      packCompletion(hdr, t, 0);
      break;
    case 'CplD':
    case 'CplDLk':
      data = bytesToDwords(t.data);
      packCompletion(hdr, t, data.length);
      break;
    case 'Msg':
    case 'MsgD': {
      const hasData = t.type === 'MsgD';
      // 2.2.8: messages always use a 4DW header.
      hdr[0] = packDw0(FMT_4DW | (hasData ? FMT_DATA : 0), TYPE_MSG | t.routing, t, tlpLengthDw(t), 0);
      // DW1: Requester ID[31:16] Tag[7:0] at [15:8] Message Code[7:0].
      hdr[1] = ((t.requesterId << 16) | ((t.tag & 0xff) << 8) | t.code) >>> 0;
      hdr[2] = t.dw2 ?? 0;
      hdr[3] = t.dw3 ?? 0;
      if (hasData) data = bytesToDwords(t.data);
      break;
    }
  }
  return { hdr, data };
}

// ---------------------------------------------------------------------------------------
// Decode

export interface DecodeOptions {
  /**
   * Default true: also reject reserved bits set, a 4DW header for an address below 4 GB,
   * a 3DW header with hdr[3] != 0, split completions not ending on an RCB, and a nonzero
   * Length field on a completion without data (Cpl, CplLk).
   */
  strict?: boolean;
}
/** The default options (see ENCODE_DEFAULTS). */
const DECODE_DEFAULTS: DecodeOptions = Object.freeze({});

/** Fmt/Type -> TLP type (2.2.1, table "Fmt[2:0] and Type[4:0] Field Encodings"). Builds no string unless it throws. */
function classify(fmt: number, type: number): TlpType {
  const hasData = (fmt & FMT_DATA) !== 0;
  const fourDw = (fmt & FMT_4DW) !== 0;
  if (fmt === 0b100) throw new TlpError('fmt', `TLP prefix (${fmtType(fmt, type)}) is not supported on this stream`);
  if (fmt > 0b100) throw new TlpError('fmt', `reserved Fmt in ${fmtType(fmt, type)}`);
  switch (type) {
    case TYPE_MEM:
      return hasData ? 'MWr' : 'MRd';
    case TYPE_MEM_LOCKED:
      if (hasData) break;
      return 'MRdLk';
    case TYPE_IO:
      if (fourDw) break;
      throw new TlpError('type', `${hasData ? 'IOWr' : 'IORd'} (${fmtType(fmt, type)}) is not supported by this codec`);
    case TYPE_CFG0:
    case TYPE_CFG1: {
      const name: TlpType = hasData
        ? type === TYPE_CFG0
          ? 'CfgWr0'
          : 'CfgWr1'
        : type === TYPE_CFG0
          ? 'CfgRd0'
          : 'CfgRd1';
      if (fourDw) throw new TlpError('fmt', `${name}: configuration requests use a 3DW header (${fmtType(fmt, type)})`);
      return name;
    }
    case TYPE_CPL:
    case TYPE_CPL_LOCKED: {
      const name: TlpType = hasData ? (type === TYPE_CPL ? 'CplD' : 'CplDLk') : type === TYPE_CPL ? 'Cpl' : 'CplLk';
      if (fourDw) throw new TlpError('fmt', `${name}: completions use a 3DW header (${fmtType(fmt, type)})`);
      return name;
    }
    case 0b01100:
    case 0b01101:
    case 0b01110:
      throw new TlpError('type', `AtomicOp (${fmtType(fmt, type)}) is not supported by this codec`);
    default:
      if ((type & 0b11000) === TYPE_MSG) {
        const name: TlpType = hasData ? 'MsgD' : 'Msg';
        if (!fourDw) throw new TlpError('fmt', `${name}: messages use a 4DW header (${fmtType(fmt, type)})`);
        return name;
      }
  }
  throw new TlpError('type', `unknown Fmt/Type combination ${fmtType(fmt, type)}`);
}

function fmtType(fmt: number, type: number): string {
  return `Fmt=${bin(fmt, 3)} Type=${bin(type, 5)}`;
}

function reservedSet(type: TlpType, what: string): TlpError {
  return new TlpError('reserved', `${type}: reserved ${what} is set`);
}

/**
 * Decodes a TLP; throws TlpError naming the field if it is malformed (see DecodeOptions for
 * the extra checks of strict mode, on by default). All optional fields are filled in.
 *
 * The payload (`data`) of the result is a byte view of `raw.data` on little-endian hosts,
 * not a copy: the two share memory.
 *
 * This sits on the simulator's hot path (every TLP a device sends), so each type's object is
 * built in one literal and nothing is allocated or formatted unless it throws: no closures
 * (tsx compiles with keepNames, which makes every named closure cost a defineProperty), no
 * object spreads (in Node 20's V8 `{ ...a, x }` takes a ~2.5 us slow path).
 */
export function decodeTlp(raw: RawTlp, opts: DecodeOptions = DECODE_DEFAULTS): Tlp {
  const strict = opts.strict ?? true;
  const hdr = raw.hdr;
  const rawData = raw.data;
  if (!(hdr instanceof Uint32Array) || hdr.length !== 4) {
    throw new TlpError('hdr', `raw TLP header must be a Uint32Array of 4 dwords`);
  }
  if (!(rawData instanceof Uint32Array)) throw new TlpError('data', `raw TLP payload must be a Uint32Array`);
  const dw0 = hdr[0];
  const dw1 = hdr[1];
  const dw2 = hdr[2];
  const dw3 = hdr[3];
  const fmt = dw0 >>> 29;
  const type = classify(fmt, (dw0 >>> 24) & 0x1f);
  const hasData = (fmt & FMT_DATA) !== 0;
  const fourDw = (fmt & FMT_4DW) !== 0;

  const lengthField = dw0 & 0x3ff;
  const lengthDw = lengthField === 0 ? 1024 : lengthField;
  if (hasData && rawData.length !== lengthDw) {
    throw new TlpError('length', `${type}: length field ${lengthDw} DW but ${rawData.length} payload dwords`);
  }
  if (!hasData && rawData.length !== 0) {
    throw new TlpError('data', `${type}: ${rawData.length} payload dwords on a TLP without data`);
  }
  // TPH (2.2.7.1) would reinterpret address bits and add prefixes; nothing here produces it.
  if (dw0 & (1 << 16)) throw new TlpError('th', `${type}: TH=1 (TLP processing hints) is not supported`);
  if (strict && dw0 & (1 << 17)) throw reservedSet(type, 'DW0 bit 17 (LN)');
  if (strict && !fourDw && dw3 !== 0) {
    throw new TlpError('hdr', `${type}: 3DW header but hdr[3] = 0x${hex(dw3, 8)} (must be 0)`);
  }

  const at = (dw0 >>> 10) & 3;
  const tc = (dw0 >>> 20) & 7;
  const attr = (((dw0 >>> 18) & 1) << 2) | ((dw0 >>> 12) & 3);
  const td = (dw0 & (1 << 15)) !== 0;
  const ep = (dw0 & (1 << 14)) !== 0;
  // 10-bit tags (2.2.6.2, rev 4.0): Tag[9] in DW0 bit 23, Tag[8] in DW0 bit 19.
  const tagHigh = (((dw0 >>> 23) & 1) << 9) | (((dw0 >>> 19) & 1) << 8);

  let t: Tlp;
  let pageOffset: number | undefined;
  switch (type) {
    case 'MRd':
    case 'MRdLk':
    case 'MWr': {
      const addrDw = fourDw ? dw3 : dw2;
      const low = (addrDw & ~3) >>> 0;
      pageOffset = low & 0xfff;
      if (strict && fourDw && dw2 === 0) {
        throw new TlpError('address', `${type}: 4DW header for address 0x${hex(low)} below 4 GB (must use 3DW)`);
      }
      if (strict && addrDw & 3) throw reservedSet(type, 'address bits 1:0 (PH, with TH=0)');
      const address = fourDw ? (BigInt(dw2) << 32n) | BigInt(low) : BigInt(low);
      const requesterId = dw1 >>> 16;
      const tag = tagHigh | ((dw1 >>> 8) & 0xff);
      const firstBe = dw1 & 0xf;
      const lastBe = (dw1 >>> 4) & 0xf;
      t =
        type === 'MWr'
          ? { type, address, firstBe, lastBe, requesterId, tag, at, tc, attr, td, ep, data: payloadBytes(rawData) }
          : { type, address, length: lengthDw, firstBe, lastBe, requesterId, tag, at, tc, attr, td, ep };
      break;
    }
    case 'CfgRd0':
    case 'CfgRd1':
    case 'CfgWr0':
    case 'CfgWr1': {
      // 2.2.7: Length must be 1, Last DW BE 0000b, AT 00b for configuration requests.
      if (lengthField !== 1)
        throw new TlpError('length', `${type}: length field ${lengthDw} DW, configuration requests must be 1 DW`);
      if ((dw1 >>> 4) & 0xf) {
        throw new TlpError(
          'lastBe',
          `${type}: last DW BE ${bin((dw1 >>> 4) & 0xf, 4)}, configuration requests must use 0000b`,
        );
      }
      if (at !== 0) throw new TlpError('at', `${type}: AT ${bin(at, 2)}, configuration requests must use 00b`);
      if (strict && dw2 & 0xf003) throw reservedSet(type, `DW2 bits 15:12 / 1:0 (0x${hex(dw2, 8)})`);
      const completerId = dw2 >>> 16;
      const offset = dw2 & 0xffc;
      const firstBe = dw1 & 0xf;
      const requesterId = dw1 >>> 16;
      const tag = tagHigh | ((dw1 >>> 8) & 0xff);
      t =
        type === 'CfgWr0' || type === 'CfgWr1'
          ? { type, completerId, offset, firstBe, requesterId, tag, tc, attr, td, ep, data: payloadBytes(rawData) }
          : { type, completerId, offset, firstBe, requesterId, tag, tc, attr, td, ep };
      break;
    }
    case 'Cpl':
    case 'CplLk':
    case 'CplD':
    case 'CplDLk': {
      const status = (dw1 >>> 13) & 7;
      if (!(status in STATUS_NAME))
        throw new TlpError('status', `${type}: reserved completion status ${bin(status, 3)}`);
      if (strict && at !== 0) throw reservedSet(type, `AT (${bin(at, 2)})`);
      if (strict && dw2 & 0x80) throw reservedSet(type, 'DW2 bit 7');
      // A completion without data has no payload to size: its Length field is reserved (2.2.9).
      if (strict && !hasData && lengthField !== 0)
        throw new TlpError('length', `${type}: length field ${lengthField} on a completion without data (must be 0)`);
      const byteCountField = dw1 & 0xfff;
      const completerId = dw1 >>> 16;
      const bcm = (dw1 & (1 << 12)) !== 0;
      const byteCount = byteCountField === 0 ? 4096 : byteCountField;
      const requesterId = dw2 >>> 16;
      const tag = tagHigh | ((dw2 >>> 8) & 0xff);
      const lowerAddress = dw2 & 0x7f;
      const st = status as CplStatusCode;
      t =
        type === 'CplD' || type === 'CplDLk'
          ? {
              type,
              completerId,
              status: st,
              bcm,
              byteCount,
              requesterId,
              tag,
              lowerAddress,
              tc,
              attr,
              td,
              ep,
              data: payloadBytes(rawData),
            }
          : { type, completerId, status: st, bcm, byteCount, requesterId, tag, lowerAddress, tc, attr, td, ep };
      break;
    }
    case 'Msg':
    case 'MsgD': {
      if (strict && at !== 0) throw reservedSet(type, `AT (${bin(at, 2)})`);
      // 2.2.2: Length is reserved for messages without data.
      if (strict && type === 'Msg' && lengthField !== 0) throw reservedSet(type, `Length (${lengthField})`);
      const routing = (dw0 >>> 24) & 7;
      const code = dw1 & 0xff;
      const requesterId = dw1 >>> 16;
      const tag = tagHigh | ((dw1 >>> 8) & 0xff);
      t =
        type === 'MsgD'
          ? { type, routing, code, requesterId, tag, dw2, dw3, tc, attr, td, ep, data: payloadBytes(rawData) }
          : { type, routing, code, requesterId, tag, dw2, dw3, tc, attr, td, ep };
      break;
    }
  }
  checkRules(t, strict, pageOffset);
  return t;
}

// ---------------------------------------------------------------------------------------
// Human-readable form

function describeData(data: Uint8Array, maxDw = 4): string {
  if (data.length % 4 !== 0) return ` data=<${data.length} bytes>`;
  const dws = bytesToDwords(data.subarray(0, Math.min(data.length, maxDw * 4)));
  const more = data.length > maxDw * 4 ? ` ...+${data.length / 4 - maxDw}dw` : '';
  return ` data=[${Array.from(dws, (d) => hex(d, 8)).join(' ')}${more}]`;
}

function describeCommon(t: Tlp): string {
  const parts: string[] = [];
  if (t.tc) parts.push(`tc=${t.tc}`);
  const attr = t.attr ?? 0;
  const names = [attr & Attr.RO ? 'RO' : '', attr & Attr.NS ? 'NS' : '', attr & Attr.IDO ? 'IDO' : ''].filter(Boolean);
  if (names.length) parts.push(names.join('|'));
  if (t.td) parts.push('TD');
  if (t.ep) parts.push('EP');
  if ((t.type === 'MRd' || t.type === 'MRdLk' || t.type === 'MWr') && t.at) parts.push(`at=${t.at}`);
  return parts.length ? ' ' + parts.join(' ') : '';
}

/**
 * One line for logs and test failures, e.g.
 * `MRd 3DW addr=0x1000 len=1 be=f/0 req=01:00.0 tag=5`. Never throws: a TLP with fields
 * of the wrong kind is shown as JSON.
 */
export function describeTlp(t: Tlp): string {
  try {
    return describeValid(t);
  } catch {
    return `unknown TLP ${JSON.stringify(t, (_k, v) => (typeof v === 'bigint' ? `0x${hex(v)}` : v))}`;
  }
}

function describeValid(t: Tlp): string {
  let s: string;
  switch (t.type) {
    case 'MRd':
    case 'MRdLk':
    case 'MWr': {
      const size = t.address >= 1n << 32n ? '4DW' : '3DW';
      s = `${t.type} ${size} addr=0x${hex(t.address)} len=${tlpLengthDw(t)} be=${hex(t.firstBe)}/${hex(t.lastBe)} req=${formatPcieId(t.requesterId)} tag=${t.tag}`;
      if (t.type === 'MWr') s += describeData(t.data);
      break;
    }
    case 'CfgRd0':
    case 'CfgRd1':
    case 'CfgWr0':
    case 'CfgWr1':
      s = `${t.type} dst=${formatPcieId(t.completerId)} off=0x${hex(t.offset, 3)} be=${hex(t.firstBe)} req=${formatPcieId(t.requesterId)} tag=${t.tag}`;
      if (t.type === 'CfgWr0' || t.type === 'CfgWr1') s += describeData(t.data);
      break;
    case 'Cpl':
    case 'CplLk':
    case 'CplD':
    case 'CplDLk':
      s =
        `${t.type} ${STATUS_NAME[t.status] ?? `status=${t.status}`} cpl=${formatPcieId(t.completerId)} req=${formatPcieId(t.requesterId)} ` +
        `tag=${t.tag} bc=${t.byteCount} la=0x${hex(t.lowerAddress, 2)}${t.bcm ? ' BCM' : ''}`;
      if (t.type === 'CplD' || t.type === 'CplDLk') s += ` len=${t.data.length / 4}` + describeData(t.data);
      break;
    case 'Msg':
    case 'MsgD':
      s = `${t.type} ${msgCodeName(t.code)} route=${bin(t.routing, 3)} req=${formatPcieId(t.requesterId)} tag=${t.tag}`;
      if (t.dw2 || t.dw3) s += ` dw2=${hex(t.dw2 ?? 0, 8)} dw3=${hex(t.dw3 ?? 0, 8)}`;
      if (t.type === 'MsgD') s += ` len=${t.data.length / 4}` + describeData(t.data);
      break;
    default:
      throw new TypeError('unknown TLP type');
  }
  return s + describeCommon(t);
}
