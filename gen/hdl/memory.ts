// Memories: an array of words with up to four ports (block RAM when read synchronously, distributed RAM when
// read asynchronously), initial contents for ROMs and power-up values. The ports are recorded in the module's
// IR (MemoryDesc); the emitter writes one always block per port.
import { type Expr, type HwType, log2ceil, uint } from './expr';
import type { ClockDomain, MemoryDesc } from './ir';
import type { Signal } from './signal';
import { callerLoc, HdlError, type SrcLoc } from './srcloc';

/** What a memory needs from the module it lives in. */
export interface MemoryHost {
  /** The module's default clock domain (created on first use). */
  clockDomain(): ClockDomain;
  /** A new signal driven by a memory read port. */
  memReadSignal(name: string, t: HwType, loc: SrcLoc): Signal;
}

export interface MemoryOptions {
  width: number;
  depth: number;
  domain?: ClockDomain;
  /** Initial contents from address 0 (the rest stay unknown). */
  init?: readonly (number | bigint)[];
}

/** A memory's description, its options checked. */
export function memoryDesc(name: string, opts: MemoryOptions, loc: SrcLoc): MemoryDesc {
  const init = opts.init?.map((v, i) => {
    const b = BigInt(v);
    if (b < 0n || b >= 1n << BigInt(opts.width)) {
      throw new HdlError(`memory '${name}': init[${i}] = ${b} does not fit in ${opts.width} bits`, loc, 'width');
    }
    return b;
  });
  if (init && init.length > opts.depth) {
    throw new HdlError(`memory '${name}': ${init.length} initial words for a depth of ${opts.depth}`, loc, 'range');
  }
  return { name, width: opts.width, depth: opts.depth, domain: opts.domain, writes: [], reads: [], init, loc };
}

export class Memory {
  constructor(
    private readonly m: MemoryHost,
    readonly desc: MemoryDesc,
  ) {}
  get width(): number {
    return this.desc.width;
  }
  get depth(): number {
    return this.desc.depth;
  }
  get addrWidth(): number {
    return log2ceil(this.desc.depth);
  }
  /** The memory's clock domain (the module's default one unless given), created with the first clocked port. */
  private clocked(): ClockDomain {
    if (!this.desc.domain) this.desc.domain = this.m.clockDomain();
    return this.desc.domain;
  }
  private checkAddr(addr: Expr, loc: SrcLoc): void {
    if (addr.width !== this.addrWidth || addr.signed) {
      throw new HdlError(
        `memory '${this.desc.name}' (depth ${this.desc.depth}) needs a uint${this.addrWidth} address, got ${addr.describe()}`,
        loc,
        'width',
      );
    }
    if (this.desc.reads.length + this.desc.writes.length >= 4) {
      throw new HdlError(`memory '${this.desc.name}' has too many ports (a block RAM has two)`, loc, 'param');
    }
  }
  /** A write port; `strb` gives byte enables (width/8 bits) when the width is a multiple of 8. */
  write(addr: Expr, data: Expr, en: Expr, strb?: Expr): void {
    const loc = callerLoc();
    this.checkAddr(addr, loc);
    if (data.width !== this.width) {
      throw new HdlError(
        `width mismatch in write to memory '${this.desc.name}': ${this.width} bits vs ${data.describe()}`,
        loc,
        'width',
      );
    }
    if (en.width !== 1) throw new HdlError(`memory write enable must be 1 bit, got ${en.describe()}`, loc, 'width');
    if (strb && (this.width % 8 !== 0 || strb.width !== this.width / 8)) {
      throw new HdlError(
        `byte enables of memory '${this.desc.name}' must be ${this.width / 8} bits, got ${strb.describe()}`,
        loc,
        'width',
      );
    }
    this.clocked();
    this.desc.writes.push({ addr, data, en, strb, loc });
  }
  /** A synchronous read port (block RAM): data appears the cycle after `en` (default 1). */
  readSync(addr: Expr, en?: Expr): Signal {
    return this.read(addr, true, en);
  }
  /** An asynchronous read port (distributed RAM). */
  readAsync(addr: Expr): Signal {
    return this.read(addr, false);
  }
  private read(addr: Expr, sync: boolean, en?: Expr): Signal {
    const loc = callerLoc();
    this.checkAddr(addr, loc);
    if (en && en.width !== 1) {
      throw new HdlError(`read enable of memory '${this.desc.name}' must be 1 bit, got ${en.describe()}`, loc, 'width');
    }
    const data = this.m.memReadSignal(`${this.desc.name}_rd${this.desc.reads.length}`, uint(this.width), loc);
    if (sync) data.domain = this.clocked();
    this.desc.reads.push({ data, addr, en, sync, loc });
    return data;
  }
}
