// The codec's well-formedness rules case by case: which messages may be routed how, carry data and use a traffic
// class other than 0 (2.2.8, written from the spec's table, not from tb/pcie/tlp.ts); every TLP type checking its
// own fields (a check that holds for MRd but was forgotten for MRdLk or CfgWr1 fails here); the small exported
// helpers at their edges. Written for behaviour the mutation run (npm run mutate) found untested.
import { describe, expect, test } from 'vitest';
import {
  CplStatus,
  MsgCode,
  MsgRouting,
  TlpError,
  byteEnablesValid,
  decodeTlp,
  describeTlp,
  encodeCplD,
  encodeTlp,
  memReqByteRange,
  tlpLengthDw,
  type Tlp,
} from '../../tb/pcie/tlp';

const R = MsgRouting;

/** 2.2.8: each message's routing, whether it carries data, and (Set_Slot_Power_Limit) how much. */
const MESSAGES: [code: number, routings: number[], data: 'none' | 'required' | 'either', tc0: boolean][] = [
  [MsgCode.Unlock, [R.BroadcastFromRootComplex], 'none', true],
  [MsgCode.LTR, [R.Local], 'none', true],
  [MsgCode.PM_Active_State_Nak, [R.Local], 'none', true],
  [MsgCode.PM_PME, [R.ToRootComplex], 'none', true],
  [MsgCode.PME_Turn_Off, [R.BroadcastFromRootComplex], 'none', true],
  [MsgCode.PME_TO_Ack, [R.GatheredToRootComplex], 'none', true],
  ...[0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27].map(
    (c) => [c, [R.Local], 'none', true] as [number, number[], 'none', boolean],
  ),
  [MsgCode.ERR_COR, [R.ToRootComplex], 'none', true],
  [MsgCode.ERR_NONFATAL, [R.ToRootComplex], 'none', true],
  [MsgCode.ERR_FATAL, [R.ToRootComplex], 'none', true],
  [MsgCode.Set_Slot_Power_Limit, [R.Local], 'required', true],
  [MsgCode.Vendor_Defined_Type0, [R.ToRootComplex, R.ById, R.BroadcastFromRootComplex, R.Local], 'either', false],
  [MsgCode.Vendor_Defined_Type1, [R.ToRootComplex, R.ById, R.BroadcastFromRootComplex, R.Local], 'either', false],
];

/** The field encodeTlp names when it refuses `t`, or undefined when it takes it (and decode gives it back). */
function refusal(t: Tlp): string | undefined {
  try {
    const raw = encodeTlp(t);
    expect(decodeTlp(raw)).toMatchObject({ type: t.type, code: (t as { code: number }).code });
    return undefined;
  } catch (e) {
    if (!(e instanceof TlpError)) throw e;
    return e.field;
  }
}

describe('message rules (2.2.8)', () => {
  test.each(MESSAGES.map((m) => [`0x${m[0].toString(16)}`, ...m] as const))(
    'code %s: its routings only, data as the spec says, TC0 where required',
    (_name, code, routings, data, tc0) => {
      const msg = (type: 'Msg' | 'MsgD', routing: number, tc = 0): Tlp =>
        type === 'Msg'
          ? { type, routing, code, requesterId: 0x0100, tag: 1, tc }
          : { type, routing, code, requesterId: 0x0100, tag: 1, tc, data: new Uint8Array(4) };
      const type = data === 'required' ? 'MsgD' : 'Msg';
      for (let routing = 0; routing < 8; routing++) {
        expect(refusal(msg(type, routing)), `routing ${routing}`).toBe(
          routings.includes(routing) ? undefined : 'routing',
        );
      }
      const ok = routings[0];
      expect(refusal(msg('Msg', ok)), 'without data').toBe(data === 'required' ? 'type' : undefined);
      expect(refusal(msg('MsgD', ok)), 'with data').toBe(data === 'none' ? 'type' : undefined);
      for (let tc = 1; tc < 8; tc++) expect(refusal(msg(type, ok, tc)), `TC${tc}`).toBe(tc0 ? 'tc' : undefined);
    },
  );

  test('Set_Slot_Power_Limit carries exactly 1 DW; vendor-defined messages any length', () => {
    const mk = (code: number, routing: number, dw: number): Tlp => ({
      type: 'MsgD',
      routing,
      code,
      requesterId: 0x0100,
      tag: 1,
      data: new Uint8Array(4 * dw),
    });
    expect(refusal(mk(MsgCode.Set_Slot_Power_Limit, R.Local, 1))).toBeUndefined();
    expect(refusal(mk(MsgCode.Set_Slot_Power_Limit, R.Local, 2))).toBe('length');
    expect(refusal(mk(MsgCode.Vendor_Defined_Type0, R.ById, 2))).toBeUndefined();
    expect(refusal(mk(MsgCode.Vendor_Defined_Type1, R.Local, 16))).toBeUndefined();
  });
});

/** The field a TlpError from `fn` names (fails the test if `fn` does not throw a TlpError). */
function fieldOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(TlpError);
    return (e as TlpError).field;
  }
  throw new Error('expected a TlpError');
}

const mrd = (over: object): Tlp =>
  ({ type: 'MRd', address: 0x1000n, length: 1, firstBe: 0xf, lastBe: 0, requesterId: 0x0100, tag: 1, ...over }) as Tlp;
const cfg = (over: object): Tlp =>
  ({ type: 'CfgRd0', completerId: 0x0100, offset: 0x10, firstBe: 0xf, requesterId: 0, tag: 1, ...over }) as Tlp;
const cpl = (over: object): Tlp =>
  ({
    type: 'Cpl',
    completerId: 0x0100,
    status: CplStatus.UR,
    byteCount: 4,
    requesterId: 0,
    tag: 1,
    lowerAddress: 0,
    ...over,
  }) as Tlp;
const msg = (over: object): Tlp =>
  ({ type: 'Msg', routing: R.Local, code: MsgCode.Assert_INTA, requesterId: 0, tag: 1, ...over }) as Tlp;

describe('every type checks its own fields, naming the field (also with allowMalformed)', () => {
  const both = (t: Tlp) => [fieldOf(() => encodeTlp(t)), fieldOf(() => encodeTlp(t, { allowMalformed: true }))];

  test('memory reads, locked reads and writes', () => {
    for (const type of ['MRd', 'MRdLk'] as const) {
      expect(both(mrd({ type, address: 0x1001n }))).toEqual(['address', 'address']);
      expect(both(mrd({ type, address: 0x1000 }))).toEqual(['address', 'address']);
      expect(both(mrd({ type, address: -4n }))).toEqual(['address', 'address']);
      expect(both(mrd({ type, lastBe: 16 }))).toEqual(['lastBe', 'lastBe']);
      for (const length of [0, 1025, 1.5])
        expect(both(mrd({ type, length })), `length ${length}`).toEqual(['length', 'length']);
      // The rules of 2.2.5 for a locked read as for a read; allowMalformed lets it through.
      expect(fieldOf(() => encodeTlp(mrd({ type, length: 2, firstBe: 0, lastBe: 0xf })))).toBe('firstBe');
      expect(() =>
        encodeTlp(mrd({ type, length: 2, firstBe: 0, lastBe: 0xf }), { allowMalformed: true }),
      ).not.toThrow();
    }
    expect(decodeTlp(encodeTlp(mrd({ address: 0n }))).type).toBe('MRd');
    const mwr = mrd({ type: 'MWr', length: undefined, data: [1, 2, 3, 4] });
    expect(both(mwr)).toEqual(['data', 'data']);
  });

  test('configuration requests of both types', () => {
    for (const type of ['CfgRd0', 'CfgRd1', 'CfgWr0', 'CfgWr1'] as const) {
      const data = type.startsWith('CfgWr') ? { data: new Uint8Array(4) } : {};
      expect(both(cfg({ type, ...data, offset: 0x1001 }))).toEqual(['offset', 'offset']);
      expect(both(cfg({ type, ...data, completerId: 0x10000 }))).toEqual(['completerId', 'completerId']);
      expect(both(cfg({ type, ...data, firstBe: 16 }))).toEqual(['firstBe', 'firstBe']);
      // 2.2.7: TC0 only (a rule: allowMalformed lets it through).
      expect(fieldOf(() => encodeTlp(cfg({ type, ...data, tc: 1 })))).toBe('tc');
      expect(() => encodeTlp(cfg({ type, ...data, tc: 1 }), { allowMalformed: true })).not.toThrow();
    }
    expect(both(cfg({ type: 'CfgWr1', data: new Uint8Array(8) }))).toEqual(['data', 'data']);
  });

  test('completions with and without data, locked or not', () => {
    for (const type of ['Cpl', 'CplLk', 'CplD', 'CplDLk'] as const) {
      const data = type.startsWith('CplD') ? { status: CplStatus.SC, data: new Uint8Array(4) } : {};
      expect(both(cpl({ type, ...data, completerId: 0x10000 }))).toEqual(['completerId', 'completerId']);
      expect(both(cpl({ type, ...data, status: 3 }))).toEqual(['status', 'status']);
      // Byte count 1 and 4096 are in range: the bad lower address is what is named.
      for (const byteCount of [1, 4096]) {
        expect(both(cpl({ type, ...data, byteCount, lowerAddress: 0x80 }))).toEqual(['lowerAddress', 'lowerAddress']);
      }
    }
    expect(both(cpl({ type: 'CplDLk', status: CplStatus.SC, data: new Uint8Array(0) }))).toEqual(['data', 'data']);
    // 2.2.9: only a successful completion carries data, locked or not.
    expect(fieldOf(() => encodeTlp(cpl({ type: 'CplDLk', data: new Uint8Array(4) })))).toBe('status');
  });

  test('messages with and without data', () => {
    for (const type of ['Msg', 'MsgD'] as const) {
      const data = type === 'MsgD' ? { code: MsgCode.Vendor_Defined_Type0, data: new Uint8Array(4) } : {};
      expect(both(msg({ type, ...data, routing: 8 }))).toEqual(['routing', 'routing']);
      expect(both(msg({ type, ...data, code: 256 }))).toEqual(['code', 'code']);
      expect(both(msg({ type, ...data, dw2: -1 }))).toEqual(['dw2', 'dw2']);
      expect(both(msg({ type, ...data, dw3: 2 ** 32 }))).toEqual(['dw3', 'dw3']);
      expect(both(msg({ type, ...data, dw3: 0.5 }))).toEqual(['dw3', 'dw3']);
    }
    expect(both(msg({ type: 'MsgD', code: MsgCode.Vendor_Defined_Type0, data: new Uint8Array(0) }))).toEqual([
      'data',
      'data',
    ]);
  });

  test('fields of the wrong kind, and every common field out of range at once', () => {
    expect(fieldOf(() => encodeTlp(mrd({ tc: 1n })))).toBe('tc');
    expect(fieldOf(() => encodeTlp(mrd({ firstBe: 1n })))).toBe('firstBe');
    expect(fieldOf(() => encodeTlp(mrd({ tc: 8, attr: 8, requesterId: 0x10000, tag: 1024 })))).toBe('tc');
  });
});

describe('encodeCplD and decodeTlp take their own raw forms only', () => {
  const cpld = {
    type: 'CplD',
    completerId: 0x0100,
    status: CplStatus.SC,
    requesterId: 0,
    tag: 1,
    lowerAddress: 0,
  } as const;
  test('encodeCplD: a Uint32Array payload of 1..1024 DW', () => {
    expect(
      fieldOf(() => encodeCplD({ ...cpld, byteCount: 4, data: new Uint8Array(4) as unknown as Uint32Array })),
    ).toBe('data');
    const max = encodeCplD({ ...cpld, byteCount: 4096, data: new Uint32Array(1024) });
    expect(decodeTlp(max)).toMatchObject({ type: 'CplD', byteCount: 4096 });
    expect(fieldOf(() => encodeCplD({ ...cpld, byteCount: 4096, data: new Uint32Array(1025) }))).toBe('data');
  });
  test('decodeTlp: the payload must be a Uint32Array', () => {
    const r = encodeTlp(mrd({ type: 'MWr', length: undefined, data: new Uint8Array(4) }));
    expect(fieldOf(() => decodeTlp({ hdr: r.hdr, data: Array.from(r.data) as unknown as Uint32Array }))).toBe('data');
  });
});

describe('small exported helpers', () => {
  test('TlpError is named TlpError', () => {
    expect(new TlpError('tag', 'x').name).toBe('TlpError');
    expect(String(new TlpError('tag', 'x'))).toMatch(/^TlpError: /);
  });
  test('tlpLengthDw: the Length field of every type', () => {
    expect(tlpLengthDw(cfg({ type: 'CfgRd0' }))).toBe(1);
    expect(tlpLengthDw(cfg({ type: 'CfgRd1' }))).toBe(1);
    expect(tlpLengthDw(cfg({ type: 'CfgWr1', data: new Uint8Array(4) }))).toBe(1);
    expect(tlpLengthDw(cpl({}))).toBe(0);
    expect(tlpLengthDw(msg({}))).toBe(0);
    expect(tlpLengthDw(mrd({ length: 7 }))).toBe(7);
  });
  test('byteEnablesValid: BEs that are not 4-bit values, and the case it names', () => {
    expect(byteEnablesValid(1, 16, 0)).toMatch(/first DW BE 16 is not a 4-bit value/);
    expect(byteEnablesValid(2, 0xf, 16)).toMatch(/last DW BE 16 is not a 4-bit value/);
    expect(byteEnablesValid(3, 0b0110, 0xf)).toMatch(/for a 3 DW request$/);
    expect(byteEnablesValid(2, 0b0110, 0xf)).toMatch(/for a 2 DW request that is not QW aligned$/);
  });
  test('memReqByteRange of a multi-dword request spans to the last enabled byte', () => {
    expect(memReqByteRange({ address: 0x1000n, length: 2, firstBe: 0xe, lastBe: 0x1 })).toEqual({
      addr: 0x1001n,
      bytes: 4,
    });
  });
  test('describeTlp shows AT on every memory request, and a type-1 configuration write with its data', () => {
    expect(describeTlp(mrd({ type: 'MRdLk', at: 1 }))).toMatch(/ at=1$/);
    expect(describeTlp(mrd({ type: 'MWr', length: undefined, data: new Uint8Array(4), at: 2 }))).toMatch(/ at=2$/);
    expect(describeTlp(cfg({ type: 'CfgWr1', data: Uint8Array.of(1, 2, 3, 4) }))).toMatch(/ data=\[04030201\]$/);
  });
});
