// The sideband helpers' TypeScript side (the C++ side, clocked with the design, is sim/cpp/sideband.h):
// watches that count a signal's events every cycle, valid/ready handshakes driven cycle by cycle on ordinary
// ports, and the `until` conditions run() (and the root complex's pump) can wait for. Created by a Sim:
// sim.watch(), sim.handshakeSender(), sim.handshakeReceiver(). See docs/byo-rtl.md.

/** What run() can wait for besides TLPs and a cycle count. */
export type Until =
  /** A port equal to a value (checked before the first cycle too). */
  | { signal: string; equals: number | bigint }
  /**
   * A port's rise (zero to nonzero), fall (nonzero to zero) or any change, compared after every cycle of this
   * run() with the cycle before. For waits spread over several runs (the root complex's pump), use a watch.
   */
  | { signal: string; edge: 'rise' | 'fall' | 'change' }
  /** A count kept in C++ (a watch's events, a handshake's transfers) reaching a value. */
  | { counter: SidebandCounter; reaches: number };

/** What the sideband objects need from their Sim. */
export interface SidebandHost {
  counter(index: number): number;
  unwatch(index: number): void;
  offer(channel: number, item: Uint32Array): void;
  doneAt(channel: number, k: number): number;
  received(channel: number): Uint32Array;
  closeHandshake(channel: number): void;
  /** A port's value as little-endian words of its width (errors name the port). */
  encode(port: string, value: number | bigint): Uint32Array;
  /** 32-bit words of a port's value back to a bigint (sign-extended if the port is signed). */
  decode(port: string, words: Uint32Array, at: number): bigint;
  words(port: string): number;
}

/** A count C++ keeps every cycle; run({ until: c.reaches(n) }) stops when it gets there. */
export abstract class SidebandCounter {
  constructor(
    protected readonly host: SidebandHost,
    /** Its index among the C++ counters (internal). */
    readonly index: number,
  ) {}
  /** Whether this counter lives in the simulation reached through `host`. */
  belongsTo(host: SidebandHost): boolean {
    return host === this.host;
  }
  /** The count so far (one crossing into C++). */
  get count(): number {
    return this.host.counter(this.index);
  }
  /** An `until` condition: the count reaches `n`. */
  reaches(n: number): Until {
    if (!Number.isSafeInteger(n) || n < 0) throw new Error(`sim: reaches(${n}): must be a non-negative integer`);
    return { counter: this, reaches: n };
  }
}

/**
 * What a watch counts, sampled once per cycle after the rising edge: 'rise' (zero to nonzero), 'fall'
 * (nonzero to zero), 'change' (any bit), 'high' (cycles nonzero).
 */
export type WatchKind = 'rise' | 'fall' | 'change' | 'high';
export const WATCH_KINDS: readonly WatchKind[] = ['rise', 'fall', 'change', 'high'];

/** Counts a signal's events every cycle in C++, so a one-cycle pulse is never missed. */
export class SignalWatch extends SidebandCounter {
  private closed = false;
  constructor(
    host: SidebandHost,
    index: number,
    readonly signal: string,
    readonly kind: WatchKind,
  ) {
    super(host, index);
  }
  /** Stops counting (the count stays readable). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.host.unwatch(this.index);
  }
}

/** The ports of a valid/ready handshake: `valid` and `ready` 1-bit, `data` the ports that travel with it. */
export interface HandshakeSpec {
  valid: string;
  ready: string;
  data?: string[];
}

/** One item offered to the design. */
export class HandshakeItem {
  constructor(
    private readonly sender: HandshakeSender,
    /** Its place among the sender's items (0 = the first). */
    readonly seq: number,
  ) {}
  /** Whether the design took it (valid and ready high at a rising edge). */
  get done(): boolean {
    return this.sender.count > this.seq;
  }
  /** The cycle whose rising edge transferred it, once done. */
  get cycle(): number | undefined {
    const c = this.sender.doneAt(this.seq);
    return c < 0 ? undefined : c;
  }
  /** An `until` condition: this item transferred. */
  get transferred(): Until {
    return this.sender.reaches(this.seq + 1);
  }
}

/**
 * Drives a valid/ready handshake into the design from C++: items queue up and go one per transfer, valid and
 * the data held until ready is high at a rising edge, back to back while items wait; valid drops when none do.
 * Its count is the number of transfers.
 */
export class HandshakeSender extends SidebandCounter {
  private sent = 0;
  private closed = false;
  constructor(
    host: SidebandHost,
    index: number,
    private readonly channel: number,
    readonly spec: Required<HandshakeSpec>,
  ) {
    super(host, index);
  }
  /** Queues an item: a value for every data port. */
  send(values: Record<string, number | bigint> = {}): HandshakeItem {
    if (this.closed) throw new Error(`sim: handshake on ${this.spec.valid} is closed`);
    for (const k of Object.keys(values))
      if (!this.spec.data.includes(k))
        throw new Error(`sim: handshake on ${this.spec.valid}: ${k} is not one of its data ports (${this.spec.data})`);
    const item = new Uint32Array(this.spec.data.reduce((n, p) => n + this.host.words(p), 0));
    let at = 0;
    for (const p of this.spec.data) {
      const v = values[p];
      if (v === undefined) throw new Error(`sim: handshake on ${this.spec.valid}: no value for ${p}`);
      item.set(this.host.encode(p, v), at);
      at += this.host.words(p);
    }
    this.host.offer(this.channel, item);
    return new HandshakeItem(this, this.sent++);
  }
  /** Items sent and not yet taken by the design. */
  get pending(): number {
    return this.sent - this.count;
  }
  /** The cycle item `k` transferred, or -1. */
  doneAt(k: number): number {
    return this.host.doneAt(this.channel, k);
  }
  /** Drops valid and any items not yet taken. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.host.closeHandshake(this.channel);
  }
}

/** One item the design sent: the cycle it transferred and the data ports' values. */
export interface ReceivedItem {
  cycle: number;
  values: Record<string, bigint>;
}

/**
 * Takes a valid/ready handshake out of the design in C++: holds ready high and records every transfer (valid
 * high at a rising edge) with the data ports' values. Its count is the number of transfers.
 */
export class HandshakeReceiver extends SidebandCounter {
  private closed = false;
  constructor(
    host: SidebandHost,
    index: number,
    private readonly channel: number,
    readonly spec: Required<HandshakeSpec>,
  ) {
    super(host, index);
  }
  /** The items received since the last take(), oldest first. */
  take(): ReceivedItem[] {
    const w = this.host.received(this.channel);
    const out: ReceivedItem[] = [];
    for (let o = 0; o < w.length;) {
      const cycle = w[o] + w[o + 1] * 0x1_0000_0000;
      o += 2;
      const values: Record<string, bigint> = {};
      for (const p of this.spec.data) {
        values[p] = this.host.decode(p, w, o);
        o += this.host.words(p);
      }
      out.push({ cycle, values });
    }
    return out;
  }
  /** Drops ready (what was received stays to be taken). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.host.closeHandshake(this.channel);
  }
}
