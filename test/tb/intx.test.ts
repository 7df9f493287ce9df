// The root complex's INTx virtual wires (tb/pcie/intx.ts), fed crafted Assert/Deassert messages through
// rc.receive(): the level per pin, the waits, and each rule of PCIe 2.2.8.1 the RC checks.
import { describe, expect, test } from 'vitest';
import { PCI_COMMAND, PCI_INTERRUPT_LINE } from '../../tb/pcie/cfgspace';
import { MsgCode, MsgRouting, type Tlp } from '../../tb/pcie/tlp';
import { DEV, setup, violation } from './crafted';

const intx = (code: number, extra: Partial<Tlp> = {}): Tlp =>
  ({ type: 'Msg', routing: MsgRouting.Local, code, requesterId: DEV, tag: 0, ...extra }) as Tlp;
const ASSERT_A = intx(MsgCode.Assert_INTA);
const DEASSERT_A = intx(MsgCode.Deassert_INTA);

describe('INTx virtual wires', () => {
  test('Assert/Deassert messages set and clear the wire of their pin; the history is kept', () => {
    const { rc, from } = setup();
    expect(rc.intx.asserted('A')).toBe(false);
    from(ASSERT_A, 10);
    expect(rc.intx.asserted('A')).toBe(true);
    expect(rc.intx.asserted('B')).toBe(false);
    from(intx(MsgCode.Assert_INTB), 12);
    from(DEASSERT_A, 20);
    expect(rc.intx.asserted('A')).toBe(false);
    expect(rc.intx.asserted('B')).toBe(true);
    expect(rc.intx.events).toEqual([
      { pin: 'A', asserted: true, cycle: 10 },
      { pin: 'B', asserted: true, cycle: 12 },
      { pin: 'A', asserted: false, cycle: 20 },
    ]);
    expect(rc.messages).toHaveLength(3); // still recorded as messages
  });

  test('an Assert of an asserted wire, or a Deassert of a deasserted one, is reported (or only counted)', () => {
    const { from } = setup();
    violation(() => from(DEASSERT_A, 5), 'intx', /Deassert_INTA although INTA is already deasserted/);
    from(ASSERT_A, 6);
    violation(() => from(ASSERT_A, 7), 'intx', /Assert_INTA although INTA is already asserted/);
    const lenient = setup({ intxDuplicates: 'allow' });
    lenient.from(ASSERT_A, 1);
    lenient.from(ASSERT_A, 2);
    expect(lenient.rc.intx.duplicates).toBe(1);
  });

  test('the pin must be the Interrupt Pin the function reports, once the RC has read it', () => {
    const { rc, from } = setup();
    rc.shadow.noteRead(PCI_INTERRUPT_LINE, 1 << 8); // Interrupt Pin 1: INTA
    from(ASSERT_A, 10);
    violation(
      () => from(intx(MsgCode.Assert_INTC), 11),
      'intx',
      /Assert_INTC, but the function's Interrupt Pin is INTA/,
    );
    rc.shadow.noteRead(PCI_INTERRUPT_LINE, 0);
    violation(() => from(DEASSERT_A, 12), 'intx', /Interrupt Pin is 0 \(no INTx\)/);
  });

  test('no Assert while Interrupt Disable is set or MSI-X is enabled (after the grace period)', () => {
    const { rc, from } = setup({ grace: 64 });
    rc.shadow.noteWrite(PCI_COMMAND, 0x3, 0x406, 100); // Interrupt Disable
    from(ASSERT_A, 120); // within the grace period: the device may not have seen the write yet
    from(DEASSERT_A, 130);
    violation(() => from(ASSERT_A, 200), 'intx', /Assert_INTA while Interrupt Disable is set/);
    const b = setup({ grace: 64 });
    b.rc.shadow.msixCap = 0x80;
    b.rc.shadow.noteWrite(0x80, 0xc, 0x8000 << 16, 100); // MSI-X Enable
    violation(() => b.from(ASSERT_A, 300), 'intx', /while MSI-X is enabled/);
  });

  test('a wire still asserted after Interrupt Disable was set (plus the grace period) is reported', () => {
    const { rc, link, from } = setup({ grace: 64 });
    from(ASSERT_A, 10);
    rc.shadow.noteWrite(PCI_COMMAND, 0x3, 0x406, link.cycle);
    link.cycle += 10;
    rc.step({ maxCycles: 10 }); // within the grace period: fine
    link.cycle += 100;
    violation(
      () => rc.step({ maxCycles: 10 }),
      'intx',
      /INTA still asserted \d+ cycles after Interrupt Disable was set/,
    );
  });

  test('waitForIntx returns once the wire has the level, and times out naming it', () => {
    const { rc, link, from } = setup();
    from(ASSERT_A, 0);
    rc.waitForIntx(true); // already asserted: returns at once
    link.push(DEASSERT_A, 300);
    rc.waitForIntx(false);
    expect(rc.intx.events.at(-1)).toEqual({ pin: 'A', asserted: false, cycle: 300 });
    expect(() => rc.waitForIntx(true, { timeout: 500 })).toThrow(/timeout after \d+ cycles waiting for INTA asserted/);
  });
});

describe('INTx messages and the stuck-wire report', () => {
  test('the four pins have their Assert and Deassert codes; other messages leave the wires alone', () => {
    const { rc, from } = setup();
    const pins = ['A', 'B', 'C', 'D'] as const;
    pins.forEach((p, i) => from(intx(MsgCode.Assert_INTA + i), 10 + i));
    expect(pins.map((p) => rc.intx.asserted(p))).toEqual([true, true, true, true]);
    expect(rc.intx.asserted()).toBe(true); // INTA by default
    from(intx(MsgCode.PM_PME, { routing: MsgRouting.ToRootComplex }), 20);
    from(intx(MsgCode.ERR_COR, { routing: MsgRouting.ToRootComplex }), 21);
    expect(rc.intx.events).toHaveLength(4);
    pins.forEach((p, i) => from(intx(MsgCode.Deassert_INTA + i), 30 + i));
    expect(pins.map((p) => rc.intx.asserted(p))).toEqual([false, false, false, false]);
    expect(rc.intx.asserted()).toBe(false);
    expect(rc.intx.events.map((e) => [e.pin, e.asserted])).toEqual([
      ...pins.map((p) => [p, true]),
      ...pins.map((p) => [p, false]),
    ]);
    expect(rc.messages).toHaveLength(10);
  });

  test('a stuck wire is reported once until a Deassert, with the cycles since Interrupt Disable was set', () => {
    const { rc, link, from } = setup({ grace: 64, violations: 'record' });
    const later = (cycles: number) => {
      link.cycle += cycles;
      rc.step({ maxCycles: cycles });
    };
    const stuck = () => rc.violations.filter((v) => /still asserted/.test(v.message));
    // Interrupt Disable with no wire asserted: nothing to report.
    rc.shadow.noteWrite(PCI_COMMAND, 0x3, 0x406, link.cycle);
    later(200);
    expect(rc.violations).toEqual([]);
    rc.shadow.noteWrite(PCI_COMMAND, 0x3, 0x006, link.cycle);
    from(ASSERT_A, link.cycle);
    const setAt = link.cycle + 5;
    rc.shadow.noteWrite(PCI_COMMAND, 0x3, 0x406, setAt);
    later(200);
    expect(stuck().map((v) => v.message)).toEqual([
      expect.stringMatching(new RegExp(`INTA still asserted ${rc.now - setAt} cycles after Interrupt Disable was set`)),
    ]);
    later(200);
    from(intx(MsgCode.Assert_INTB), link.cycle); // breaks the rule itself, but is no Deassert
    later(200);
    expect(stuck()).toHaveLength(1);
    expect(rc.violations.map((v) => v.code)).toEqual(['intx', 'intx']);
    from(DEASSERT_A, link.cycle);
    later(200);
    expect(stuck()).toHaveLength(2);
    expect(stuck()[1].message).toMatch(/INTB still asserted/);
  });
});
