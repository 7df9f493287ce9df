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
