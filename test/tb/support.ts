// Shared helpers for the test-bench tests: a scripted device link for feeding crafted TLPs. (The tap that records
// traffic is public: TapLink in tb/pcie/link.ts.)
import type { Link, LinkRunOptions } from '../../tb/pcie/link';
import type { RawTlp } from '../../sim/raw';
import { decodeTlp, encodeTlp, type Tlp } from '../../tb/pcie/tlp';

/** The member of the Tlp union whose `type` can be T (e.g. CfgReadTlp for 'CfgRd0'). */
export type TlpOf<T extends Tlp['type']> = Tlp extends infer U
  ? U extends { type: infer K }
    ? T extends K
      ? U
      : never
    : never
  : never;

/**
 * A scripted device: records what the RC sends (decoded, with the injection cycle); TLPs the
 * test `push`es (or the `responder` returns) come out of the "device" at their cycle stamp and
 * are visible to takeTx() one cycle later, like a one-beat TLP on a real stream.
 */
export class ScriptLink implements Link {
  cycle = 0;
  readonly sent: { tlp: Tlp; at: number }[] = [];
  /** What the RC sent that does not decode even leniently (raw requests), not shown to the responder. */
  readonly undecodable: { raw: RawTlp; at: number }[] = [];
  /** Called for every TLP the RC sends; returned TLPs leave the device `replyDelay` cycles after its injection. */
  responder?: (t: Tlp, at: number) => (Tlp | RawTlp)[] | void;
  replyDelay = 10;
  /** Cycles from a TLP's injection cycle to its delivery, as sendTracked() reports it (at once, when sent). */
  deliveryDelay = 0;
  private queue: RawTlp[] = [];

  /** Reports each delivery at once, `deliveryDelay` after the injection cycle (absent with deliveryReports: false). */
  sendTracked?: (raw: RawTlp, atCycle: number, delivered: (cycle: number) => void) => void;

  constructor(opts: { deliveryReports?: boolean } = {}) {
    if (opts.deliveryReports ?? true)
      this.sendTracked = (raw, atCycle, delivered) => {
        this.send(raw, atCycle);
        delivered(atCycle + this.deliveryDelay);
      };
  }

  send(raw: RawTlp, atCycle?: number): void {
    const at = atCycle ?? this.cycle;
    let t: Tlp;
    try {
      t = decodeTlp(raw, { strict: false });
    } catch {
      this.undecodable.push({ raw, at }); // the RC's raw requests may be anything
      return;
    }
    this.sent.push({ tlp: t, at });
    for (const r of this.responder?.(t, at) ?? []) this.push(r, at + this.replyDelay);
  }
  /** A TLP leaving the device at `cycle` (default now); malformed TLPs may be pushed raw or with allowMalformed. */
  push(t: Tlp | RawTlp, cycle = this.cycle): void {
    const raw = 'hdr' in t ? { hdr: t.hdr, data: t.data } : encodeTlp(t, { allowMalformed: true });
    this.queue.push({ ...raw, cycle });
    this.queue.sort((a, b) => a.cycle! - b.cycle!);
  }
  run(opts: LinkRunOptions): { reason: string; cycles: number } {
    const start = this.cycle;
    const cap = opts.cycles ?? opts.maxCycles ?? 1_000_000;
    if (opts.untilTx !== undefined && this.queue.length >= opts.untilTx) {
      const when = this.queue[opts.untilTx - 1].cycle! + 1;
      if (when <= start + cap) {
        this.cycle = Math.max(this.cycle, when);
        return { reason: 'tx', cycles: this.cycle - start };
      }
    }
    this.cycle = start + cap;
    return { reason: opts.cycles !== undefined ? 'cycles' : 'limit', cycles: cap };
  }
  takeTx(): RawTlp[] {
    const n = this.queue.findIndex((t) => t.cycle! >= this.cycle);
    return this.queue.splice(0, n < 0 ? this.queue.length : n);
  }
  /** Sent TLPs of one type. */
  sentOf<T extends Tlp['type']>(type: T): (TlpOf<T> & { at: number })[] {
    return this.sent.filter((s) => s.tlp.type === type).map((s) => ({ ...(s.tlp as TlpOf<T>), at: s.at }));
  }
}
