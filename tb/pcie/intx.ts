/**
 * The root complex's view of the device's INTx virtual wires (PCI Express Base 2.2.8.1, "INTx Interrupt
 * Signaling - Rules"): each of INTA..INTD is a level the device changes with Assert_INTx / Deassert_INTx
 * messages, which the Root Complex tracks per pin. The tracker keeps the four levels and their history and
 * checks each message against the rules a device must keep:
 *  - the pin is the function's Interrupt Pin (configuration byte 0x3d, 1 = INTA; 0 = no INTx at all), once the RC
 *    has read it;
 *  - no Assert while Interrupt Disable (Command bit 10) is set, nor while MSI-X is enabled ("the function is
 *    prohibited from using its INTx pin", PCIe 7.7.2.2), allowing `grace` cycles after the RC changed either;
 *  - a wire that is asserted when Interrupt Disable is set must be deasserted (2.2.8.1), within `grace` cycles;
 *  - every message changes the wire: an Assert of an asserted wire or a Deassert of a deasserted one is reported
 *    as `intx` (2.2.8.1 lets a receiver ignore such duplicates, but a device that sends one has lost track of its
 *    wire; `intxDuplicates: 'allow'` accepts them).
 * Traffic class 0 is the codec's check (a message on another TC is malformed).
 */
import { PCI_INTERRUPT_LINE } from './cfgspace';
import type { DeviceShadow } from './devstate';
import { MsgCode } from './tlp';

export const INTX_PINS = ['A', 'B', 'C', 'D'] as const;
export type IntxPin = (typeof INTX_PINS)[number];

export interface IntxEvent {
  pin: IntxPin;
  asserted: boolean;
  cycle: number;
}

/** A broken rule, for the RC to report. */
export interface IntxProblem {
  reason: string;
}

/** The pin and level an INTx message code means, or undefined for other messages. */
export function intxMessage(code: number): { pin: IntxPin; asserted: boolean } | undefined {
  if (code >= MsgCode.Assert_INTA && code <= MsgCode.Assert_INTA + 3)
    return { pin: INTX_PINS[code - MsgCode.Assert_INTA], asserted: true };
  if (code >= MsgCode.Deassert_INTA && code <= MsgCode.Deassert_INTA + 3)
    return { pin: INTX_PINS[code - MsgCode.Deassert_INTA], asserted: false };
  return undefined;
}

export class IntxWires {
  private readonly level: Record<IntxPin, boolean> = { A: false, B: false, C: false, D: false };
  /** Every change, in arrival order. */
  readonly events: IntxEvent[] = [];
  /** Duplicate messages seen (reported or, with 'allow', only counted). */
  duplicates = 0;
  /** Interrupt Disable was set (as the RC wrote it) while this wire was asserted, since this cycle. */
  private reportedStuck = false;

  constructor(
    private readonly shadow: DeviceShadow,
    private readonly opts: { grace: number; duplicates: 'report' | 'allow' },
  ) {}

  asserted(pin: IntxPin = 'A'): boolean {
    return this.level[pin];
  }

  /** The function's Interrupt Pin as the RC last read it (1..4 = INTA..INTD, 0 none), if it did. */
  private interruptPin(): number | undefined {
    const dw = this.shadow.get(PCI_INTERRUPT_LINE);
    return dw === undefined ? undefined : (dw >>> 8) & 0xff;
  }

  /** An INTx message from the device, sent at `cycle`: updates the wire, returns the rules it broke. */
  onMessage(pin: IntxPin, asserted: boolean, cycle: number): IntxProblem[] {
    const problems: IntxProblem[] = [];
    const name = `${asserted ? 'Assert' : 'Deassert'}_INT${pin}`;
    const ipin = this.interruptPin();
    if (ipin !== undefined && ipin !== INTX_PINS.indexOf(pin) + 1)
      problems.push({
        reason: `${name}, but the function's Interrupt Pin is ${ipin === 0 ? '0 (no INTx)' : `INT${INTX_PINS[ipin - 1]}`}`,
      });
    if (asserted) {
      if (!this.shadow.intxEnabled.permits(cycle, this.opts.grace))
        problems.push({ reason: `${name} while Interrupt Disable is set in the Command register` });
      if (!this.shadow.msixDisabled.permits(cycle, this.opts.grace))
        problems.push({ reason: `${name} while MSI-X is enabled (the function must not use INTx then)` });
    }
    if (this.level[pin] === asserted) {
      this.duplicates++;
      if (this.opts.duplicates === 'report')
        problems.push({
          reason: `${name} although INT${pin} is already ${asserted ? 'asserted' : 'deasserted'} (every message must change the wire)`,
        });
    }
    this.level[pin] = asserted;
    this.events.push({ pin, asserted, cycle });
    if (!asserted) this.reportedStuck = false;
    return problems;
  }

  /**
   * Called as time passes: a wire still asserted `grace` cycles after the RC set Interrupt Disable breaks 2.2.8.1
   * (reported once per such period).
   */
  checkDisabled(now: number): IntxProblem[] {
    const off = this.shadow.intxEnabled; // Interrupt Disable as the RC wrote it, like onMessage's check
    if (this.reportedStuck || off.permits(now, this.opts.grace)) return [];
    const stuck = INTX_PINS.filter((p) => this.level[p]);
    if (!stuck.length) return [];
    this.reportedStuck = true;
    return [
      {
        reason: `INT${stuck.join(', INT')} still asserted ${now - off.offSince} cycles after Interrupt Disable was set (a Deassert_INTx must follow)`,
      },
    ];
  }
}
