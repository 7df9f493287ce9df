// Memories: an array of words with up to four ports (block RAM when read synchronously, distributed RAM when
// read asynchronously), initial contents for ROMs and power-up values. Each clocked port names its clock domain
// (the memory's, else the module's default): ports in two domains make a dual-clock block RAM. The ports are
// recorded in the module's IR (MemoryDesc); the emitter writes one always block per port.
import { Expr, type HwType, log2ceil, uint } from './expr';
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
  /** The clock domain of ports that do not name their own (default: the module's default domain). */
  domain?: ClockDomain;
  /** Initial contents from address 0 (the rest stay unknown). */
  init?: readonly (number | bigint)[];
}

/** Options of a write port. */
export interface WritePortOptions {
  /** Byte enables (width/8 bits) when the width is a multiple of 8. */
  strb?: Expr;
  /** The port's clock domain (default: the memory's). */
  domain?: ClockDomain;
}

/** Options of a synchronous read port. */
export interface ReadPortOptions {
  /** Read enable: the data register loads only when it is 1 (default: every cycle). */
  en?: Expr;
  /** The port's clock domain (default: the memory's). */
  domain?: ClockDomain;
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
  return { name, width: opts.width, depth: opts.depth, writes: [], reads: [], init, loc };
}

export class Memory {
  constructor(
    private readonly m: MemoryHost,
    readonly desc: MemoryDesc,
    /** The domain of ports that name none (the module's default when not given). */
    private readonly domain?: ClockDomain,
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
  /** The clock domains the memory's ports use so far. */
  private domains(): ClockDomain[] {
    const ds = [...this.desc.writes.map((w) => w.domain), ...this.desc.reads.map((r) => r.domain)];
    return [...new Set(ds.filter((d): d is ClockDomain => d !== undefined))];
  }
  /**
   * The clock domain of a new clocked port. A block RAM has two ports, one clock each, so a memory's ports
   * may use at most two domains.
   */
  private portDomain(given: ClockDomain | undefined, loc: SrcLoc): ClockDomain {
    const d = given ?? this.domain ?? this.m.clockDomain();
    const used = this.domains();
    if (!used.includes(d) && used.length >= 2) {
      throw new HdlError(
        `memory '${this.desc.name}': a port in domain '${d.name}' would be its third clock domain (after ${used.map((u) => `'${u.name}'`).join(' and ')}); a block RAM has two ports, one clock each`,
        loc,
        'param',
      );
    }
    return d;
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
  /**
   * A write port: `mem.write(addr, data, en)`, with byte enables `mem.write(addr, data, en, strb)` or options
   * `mem.write(addr, data, en, { strb, domain })`.
   */
  write(addr: Expr, data: Expr, en: Expr, strbOrOpts?: Expr | WritePortOptions): void {
    const loc = callerLoc();
    const opts: WritePortOptions = strbOrOpts instanceof Expr ? { strb: strbOrOpts } : (strbOrOpts ?? {});
    const strb = opts.strb;
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
    const domain = this.portDomain(opts.domain, loc);
    if (this.desc.reads.some((r) => !r.domain) && this.desc.writes.some((w) => w.domain !== domain)) {
      throw this.asyncReadOfTwoWriteClocks(loc);
    }
    this.desc.writes.push({ addr, data, en, strb, domain, loc });
  }
  /**
   * A synchronous read port (block RAM): data appears the cycle after the address, in the port's clock domain.
   * `mem.readSync(addr)`, with a read enable `mem.readSync(addr, en)`, or options `mem.readSync(addr, { en,
   * domain })`.
   */
  readSync(addr: Expr, enOrOpts?: Expr | ReadPortOptions): Signal {
    const loc = callerLoc();
    const opts: ReadPortOptions = enOrOpts instanceof Expr ? { en: enOrOpts } : (enOrOpts ?? {});
    this.checkAddr(addr, loc);
    if (opts.en && opts.en.width !== 1) {
      throw new HdlError(
        `read enable of memory '${this.desc.name}' must be 1 bit, got ${opts.en.describe()}`,
        loc,
        'width',
      );
    }
    const domain = this.portDomain(opts.domain, loc);
    const data = this.readSignal(loc);
    data.domain = domain;
    this.desc.reads.push({ data, addr, en: opts.en, domain, loc });
    return data;
  }
  /** An asynchronous read port (distributed RAM): no clock. */
  readAsync(addr: Expr): Signal {
    const loc = callerLoc();
    this.checkAddr(addr, loc);
    if (new Set(this.desc.writes.map((w) => w.domain)).size > 1) throw this.asyncReadOfTwoWriteClocks(loc);
    const data = this.readSignal(loc);
    this.desc.reads.push({ data, addr, loc });
    return data;
  }
  private asyncReadOfTwoWriteClocks(loc: SrcLoc): HdlError {
    return new HdlError(
      `memory '${this.desc.name}': an asynchronous read and write ports in two clock domains (distributed RAM has one write clock); read it with readSync`,
      loc,
      'param',
    );
  }
  private readSignal(loc: SrcLoc): Signal {
    return this.m.memReadSignal(`${this.desc.name}_rd${this.desc.reads.length}`, uint(this.width), loc);
  }
}
