// The codec's well-formedness rules checked against the spec's tables, case by case: which messages may be routed
// how, carry data and use a traffic class other than 0 (2.2.8). Written from the spec, not from tb/pcie/tlp.ts, so
// a rule the codec gets wrong or forgets fails here.
import { describe, expect, test } from 'vitest';
import { MsgCode, MsgRouting, TlpError, decodeTlp, encodeTlp, type Tlp } from '../../tb/pcie/tlp';

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
