/**
 * What the root complex needs from the thing it talks to: a TLP link with a cycle clock.
 * `Sim` (sim/index.ts) fits it as is for a device with one rx and one tx stream; SimLink
 * adapts devices with several streams; ModelEndpoint (./modeldev) is a pure-TypeScript device
 * behind the same interface.
 */
import type { RawTlp } from './raw';

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
  /** Stop once a signal equals a value (simulators only). */
  until?: { signal: string; equals: number | bigint };
}

export interface Link {
  /** Cycles clocked so far. */
  readonly cycle: number;
  /** Queues a TLP for the device, injected at `atCycle` (or as soon as possible after it). */
  send(tlp: RawTlp, atCycle?: number): void;
  run(opts: LinkRunOptions): { reason: string; cycles: number };
  /** Every finished TLP from the device, each stamped with the cycle it left (`cycle`). */
  takeTx(): RawTlp[];
  /**
   * Optional: send(), and once the device has taken the TLP's last beat, `delivered(cycle)` with that cycle
   * (at the latest from the run() that delivers it). The RC uses it for the last completion of each device
   * read: the device may reuse the read's tag from then on, not from when the completion was scheduled
   * (rx idle cycles and queueing delay it). Without it the RC takes the scheduled cycle, the earliest the
   * completion can arrive, and misses a reuse between that and the real delivery.
   */
  sendTracked?(tlp: RawTlp, atCycle: number, delivered: (cycle: number) => void): void;
}

/** The subset of sim/index.ts's Sim that SimLink uses (kept structural so tb/ does not load the addon). */
export interface SimLike {
  readonly cycle: number;
  send(tlp: RawTlp, atCycle?: number, stream?: string): void;
  run(opts: LinkRunOptions): { reason: string; cycles: number };
  takeTx(stream?: string): RawTlp[];
}

/**
 * A Sim with named streams as a Link: requests and completions to the device go to `rx`
 * (default: the first sink); TLPs are taken from every stream in `tx` (default: the first
 * source) and merged in cycle order.
 */
export class SimLink implements Link {
  constructor(
    readonly sim: SimLike,
    readonly streams: { rx?: string; tx?: string[] } = {},
  ) {}
  get cycle(): number {
    return this.sim.cycle;
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
