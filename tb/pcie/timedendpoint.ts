// A PCIe function modelled in TypeScript behind the root complex's Link interface: the timing every model
// function shares, with the function itself plugged in by a subclass (receive()). tb/pcie/modeldev.ts's
// ModelEndpoint (the fixed test device) and tb/virtio/endpoint.ts (the virtio golden model as a device) are two.
//
// Timing: each link direction moves `lanes` dwords per cycle; a received TLP is handed to receive() when its
// last beat has arrived (one TLP at a time, in order); a TLP the function emits starts `latency` cycles later,
// or when the transmit side is free, and takeTx() returns it once its last beat has left. Between TLPs the
// model jumps from event to event, so idle cycles cost nothing.
import type { RawTlp } from '../../sim/raw';
import type { Link, LinkRunOptions } from './link';
import { encodeTlp, type Tlp } from './tlp';

/** Something the function scheduled (cancel() takes it back). */
export interface TimedEvent {
  at: number;
  fn: () => void;
}

export interface EndpointTiming {
  /** Dwords per cycle on each link direction (8 for a 256-bit interface). */
  lanes: number;
  /** Cycles from handling a request to starting its answer. */
  latency: number;
}

export abstract class TimedEndpoint implements Link {
  cycle = 0;
  /** In the order of scheduling, so of events at one cycle the first scheduled wins. */
  private events: TimedEvent[] = [];
  private readonly rxQueue: { tlp: RawTlp; at: number; delivered?: (cycle: number) => void }[] = [];
  private rxFreeAt = 0;
  private txFreeAt = 0;
  private readonly txDone: RawTlp[] = [];

  constructor(
    private readonly timing: EndpointTiming,
    /** For messages: what the model is. */
    private readonly what: string,
  ) {}

  /** The function: a TLP whose last beat has just arrived. */
  protected abstract receive(raw: RawTlp): void;

  // ==== Link

  send(tlp: RawTlp, atCycle?: number, delivered?: (cycle: number) => void): void {
    this.rxQueue.push({ tlp, at: Math.max(atCycle ?? this.cycle, this.cycle), delivered });
    this.rxQueue.sort((a, b) => a.at - b.at); // a stable sort: TLPs of one cycle stay in the order sent
  }

  sendTracked(tlp: RawTlp, atCycle: number, delivered: (cycle: number) => void): void {
    this.send(tlp, atCycle, delivered);
  }

  takeTx(): RawTlp[] {
    return this.txDone.splice(0);
  }

  run(opts: LinkRunOptions): { reason: string; cycles: number } {
    if (opts.until) throw new Error(`${this.what}: run({ until }) needs a simulator`);
    const start = this.cycle;
    const stop = start + (opts.cycles ?? opts.maxCycles ?? 1_000_000);
    for (;;) {
      if (opts.untilTx !== undefined && this.txDone.length >= opts.untilTx)
        return { reason: 'tx', cycles: this.cycle - start };
      // Next thing to happen: an internal event, or the head of the rx queue starting to transfer.
      let ev: TimedEvent | undefined;
      for (const e of this.events) if (!ev || e.at < ev.at) ev = e;
      const rx = this.rxQueue[0];
      const rxAt = rx ? Math.max(rx.at, this.rxFreeAt) : Infinity;
      const at = Math.min(ev?.at ?? Infinity, rxAt);
      if (at > stop || at === Infinity) {
        this.cycle = stop;
        return { reason: opts.cycles !== undefined ? 'cycles' : 'limit', cycles: this.cycle - start };
      }
      this.cycle = Math.max(this.cycle, at);
      if (rxAt <= (ev?.at ?? Infinity)) {
        this.rxQueue.shift();
        const beats = this.beats(rx!.tlp);
        this.rxFreeAt = rxAt + beats;
        const { tlp, delivered } = rx!;
        this.schedule(rxAt + beats, () => {
          delivered?.(rxAt + beats);
          this.receive(tlp);
        });
      } else {
        this.events.splice(this.events.indexOf(ev!), 1);
        ev!.fn();
      }
    }
  }

  // ==== for the function

  protected beats(t: RawTlp): number {
    return Math.max(1, Math.ceil(t.data.length / this.timing.lanes));
  }

  protected schedule(at: number, fn: () => void): TimedEvent {
    const e = { at, fn };
    this.events.push(e);
    return e;
  }

  protected cancel(e: TimedEvent): void {
    const i = this.events.indexOf(e);
    if (i >= 0) this.events.splice(i, 1);
  }

  /** Queues a TLP on tx after the processing latency; takeTx() returns it once fully sent. */
  protected emit(t: Tlp): void {
    const raw = encodeTlp(t);
    const start = Math.max(this.cycle + this.timing.latency, this.txFreeAt);
    const beats = this.beats(raw);
    this.txFreeAt = start + beats;
    raw.cycle = start;
    this.schedule(start + beats, () => this.txDone.push(raw));
  }
}
