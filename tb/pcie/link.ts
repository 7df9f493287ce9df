/**
 * What the root complex needs from the thing it talks to: a TLP link with a cycle clock.
 * `Sim` (sim/index.ts) fits it as is for a device with one rx and one tx stream, delivery reports
 * (sendTracked) included; SimLink adapts devices with several streams; ModelEndpoint (./modeldev) is a pure-TypeScript device
 * behind the same interface. TapLink wraps any of them to see the raw TLP traffic both ways.
 */
import { batchTlp, type RawTlp, type TlpBatch } from '../../sim/raw';
import type { Until } from '../../sim/sideband';

export interface LinkRunOptions {
  cycles?: number;
  maxCycles?: number;
  /** Stop once at least this many finished tx TLPs wait to be taken. */
  untilTx?: number;
  /**
   * A hint with untilTx: memory writes (MWr) need not count unless their address lies in
   * [from, to). A link may ignore it and stop for every TLP (correct, only slower).
   */
  writesCountOnlyIn?: { from: bigint; to: bigint };
  /** Stop once a signal holds a value, changes, or a sideband count gets somewhere (simulators only; see Until). */
  until?: Until;
}

export interface Link {
  /** Cycles clocked so far. */
  readonly cycle: number;
  /** Queues a TLP for the device, injected at `atCycle` (or as soon as possible after it). */
  send(tlp: RawTlp, atCycle?: number): void;
  run(opts: LinkRunOptions): { reason: string; cycles: number };
  /**
   * Every finished TLP from the device, each stamped with the cycle it left (`cycle`), in an array the caller then
   * owns (the root complex appends to it).
   */
  takeTx(): RawTlp[];
  /**
   * Optional: true if send() (and sendTracked()) copies the TLP before it returns and keeps no reference to it,
   * so the caller may reuse its memory at once (Sim packs every send into its staging buffer). The RC then
   * builds its read completions in one reused buffer instead of memory of their own (4 MB per 4 MB of DMA
   * reads, whose allocation also brings V8's full garbage collections sooner). Absent: the link may keep them.
   */
  readonly copiesOnSend?: boolean;
  /**
   * Optional: send(), and once the device has taken the TLP's last beat, `delivered(cycle)` with that cycle
   * (at the latest from the run() that delivers it). The RC uses it for the last completion of each device
   * read: the device may reuse the read's tag from then on, not from when the completion was scheduled
   * (rx idle cycles and queueing delay it). Without it the RC takes the scheduled cycle, the earliest the
   * completion can arrive, and misses a reuse between that and the real delivery.
   */
  sendTracked?(tlp: RawTlp, atCycle: number, delivered: (cycle: number) => void): void;
  /**
   * Optional: send() for each of the first b.count TLPs of a batch (slices of one payload buffer, sim/raw.ts), each
   * at b.cycle[k], copied before it returns; with `delivered` (only on links with sendTracked), sendTracked() for
   * the last one. The RC hands over a read's completions this way: no RawTlp per completion.
   */
  sendBatch?(b: TlpBatch, delivered?: (cycle: number) => void): void;
}

/** The subset of sim/index.ts's Sim that SimLink uses (kept structural so tb/ does not load the addon). */
export interface SimLike {
  readonly cycle: number;
  send(tlp: RawTlp, atCycle?: number, stream?: string): void;
  /** Sim has it: delivery reports (see Link.sendTracked). */
  sendTracked?(tlp: RawTlp, atCycle: number | undefined, delivered: (cycle: number) => void, stream?: string): void;
  run(opts: LinkRunOptions): { reason: string; cycles: number };
  takeTx(stream?: string): RawTlp[];
  /** Sim has it: sends are copied at once (see Link.copiesOnSend). */
  readonly copiesOnSend?: boolean;
  /** Sim has it: see Link.sendBatch. */
  sendBatch?(b: TlpBatch, delivered?: (cycle: number) => void, stream?: string): void;
}

/**
 * A Sim with named streams as a Link: requests and completions to the device go to `rx`
 * (default: the first sink); TLPs are taken from every stream in `tx` (default: the first
 * source) and merged in cycle order. It reports deliveries (sendTracked) when the sim does.
 */
export class SimLink implements Link {
  readonly sendTracked?: Link['sendTracked'];
  readonly sendBatch?: Link['sendBatch'];
  constructor(
    readonly sim: SimLike,
    readonly streams: { rx?: string; tx?: string[] } = {},
  ) {
    if (sim.sendTracked)
      this.sendTracked = (raw, atCycle, delivered) => sim.sendTracked!(raw, atCycle, delivered, streams.rx);
    if (sim.sendBatch) this.sendBatch = (b, delivered) => sim.sendBatch!(b, delivered, streams.rx);
  }
  get cycle(): number {
    return this.sim.cycle;
  }
  get copiesOnSend(): boolean {
    return this.sim.copiesOnSend === true;
  }
  send(tlp: RawTlp, atCycle?: number): void {
    this.sim.send(tlp, atCycle, this.streams.rx);
  }
  run(opts: LinkRunOptions): { reason: string; cycles: number } {
    return this.sim.run(opts);
  }
  takeTx(): RawTlp[] {
    const tx = this.streams.tx;
    if (!tx || tx.length <= 1) return this.sim.takeTx(tx?.[0]);
    const all = tx.flatMap((s) => this.sim.takeTx(s));
    return all.sort((a, b) => (a.cycle ?? 0) - (b.cycle ?? 0)); // stable: per-stream order kept among equals
  }
}

/** A TLP queued for the device: its injection cycle (`at`) and the cycle it was queued (`sentAt`). */
export interface TappedSend {
  raw: RawTlp;
  at: number;
  sentAt: number;
}

export interface TapOptions {
  /** Keep every TLP in `toDevice` / `fromDevice` (default true; false for long runs that only listen). */
  keep?: boolean;
  /** Sees each TLP queued for the device, as it is queued. */
  onToDevice?: (s: TappedSend) => void;
  /** Sees each TLP from the device (stamped with the cycle it left), as the root complex takes it. */
  onFromDevice?: (t: RawTlp) => void;
}

/**
 * A link that shows the raw TLP traffic through it, both ways, for assertions on timing and shape that the
 * root complex's decoded view hides: `new RootComplex(tap)` with `tap = new TapLink(sim)`. Decode with
 * decodeTlp() from ./tlp. What it records are the TLPs themselves, not copies: do not modify them.
 */
export class TapLink implements Link {
  /** TLPs queued for the device, in the order queued. */
  readonly toDevice: TappedSend[] = [];
  /** TLPs from the device, in the order taken (each batch in cycle order). */
  readonly fromDevice: RawTlp[] = [];
  /** Present when the inner link reports deliveries (then the tap does too). */
  readonly sendTracked?: Link['sendTracked'];
  constructor(
    readonly inner: Link,
    readonly opts: TapOptions = {},
  ) {
    if (inner.sendTracked)
      this.sendTracked = (raw, atCycle, delivered) => {
        this.tapped(raw, atCycle);
        inner.sendTracked!(raw, atCycle, delivered);
      };
  }
  get cycle(): number {
    return this.inner.cycle;
  }
  send(raw: RawTlp, atCycle?: number): void {
    this.tapped(raw, atCycle);
    this.inner.send(raw, atCycle);
  }
  private tapped(raw: RawTlp, atCycle: number | undefined): void {
    const s: TappedSend = { raw, at: atCycle ?? this.inner.cycle, sentAt: this.inner.cycle };
    if (this.opts.keep !== false) this.toDevice.push(s);
    this.opts.onToDevice?.(s);
  }
  run(opts: LinkRunOptions): { reason: string; cycles: number } {
    return this.inner.run(opts);
  }
  takeTx(): RawTlp[] {
    const tx = this.inner.takeTx();
    if (this.opts.keep !== false) for (const t of tx) this.fromDevice.push(t);
    if (this.opts.onFromDevice) for (const t of tx) this.opts.onFromDevice(t);
    return tx;
  }
}

/**
 * Link.sendBatch on a link that takes one TLP at a time: send() (sendTracked() for the last one, with
 * `delivered`) of copies of each TLP, so the batch's buffers may be reused at once.
 */
export function sendBatchSingly(link: Link, b: TlpBatch, delivered?: (cycle: number) => void): void {
  for (let k = 0; k < b.count; k++) {
    const v = batchTlp(b, k);
    const raw: RawTlp = { hdr: v.hdr.slice(), data: v.data.slice() };
    if (k === b.count - 1 && delivered && link.sendTracked) link.sendTracked(raw, b.cycle[k], delivered);
    else link.send(raw, b.cycle[k]);
  }
}
