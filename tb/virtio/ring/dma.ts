// The device's window on host memory: every access the golden queue engine makes, with what it was for. The
// trace is what a comparison with RTL looks at (which bytes were read and written, in which order matters only
// where the spec orders it), and what the invariant checkers (invariants.ts) judge.
import { DmaFault, type HostMemory } from '../../pcie/hostmem';

/** What a device access is for. */
export type DmaPurpose =
  | 'avail-idx'
  | 'avail-ring'
  | 'used-event'
  | 'avail-flags'
  | 'desc'
  | 'indirect'
  | 'used-elem'
  | 'used-idx'
  | 'used-flags'
  | 'avail-event'
  | 'driver-event'
  | 'device-event'
  | 'data';

export interface DmaAccess {
  readonly dir: 'read' | 'write';
  readonly addr: bigint;
  readonly len: number;
  readonly purpose: DmaPurpose;
  readonly queue: number;
  /** The bytes read or written. */
  readonly data: Uint8Array;
}

export interface DmaPort {
  read(addr: bigint, len: number, purpose: DmaPurpose, queue: number): Uint8Array;
  write(addr: bigint, data: Uint8Array, purpose: DmaPurpose, queue: number): void;
}

/**
 * Device DMA on a HostMemory: permission-checked (a DmaFault for anything outside granted memory), each access
 * handed to the listeners (before a write lands, after a read) and optionally kept in `trace`.
 */
export class HostDma implements DmaPort {
  readonly trace: DmaAccess[] = [];
  private readonly listeners: ((a: DmaAccess) => void)[] = [];

  constructor(
    readonly mem: HostMemory,
    private readonly keepTrace = false,
  ) {}

  /** Adds a listener; returns the function that removes it. */
  listen(f: (a: DmaAccess) => void): () => void {
    this.listeners.push(f);
    return () => this.listeners.splice(this.listeners.indexOf(f), 1);
  }

  /**
   * Runs `f` and returns what it returned with the DMA accesses it made, in order: e.g. one request of a device
   * model, `dma.capture(() => blk.processNext(q))`, for a comparison with what the RTL did for the same request.
   */
  capture<R>(f: () => R): { result: R; dma: DmaAccess[] } {
    const dma: DmaAccess[] = [];
    const stop = this.listen((a) => dma.push(a));
    try {
      return { result: f(), dma };
    } finally {
      stop();
    }
  }

  read(addr: bigint, len: number, purpose: DmaPurpose, queue: number): Uint8Array {
    const data = this.mem.dmaRead(addr, len, `${purpose} of queue ${queue}`);
    this.emit({ dir: 'read', addr, len, purpose, queue, data });
    return data;
  }

  write(addr: bigint, data: Uint8Array, purpose: DmaPurpose, queue: number): void {
    const f = this.mem.checkDma('write', addr, data.length);
    if (f) throw new DmaFault(f.kind, f.dir, f.addr, f.length, f.region, f.faultAddr, `${purpose} of queue ${queue}`);
    this.emit({ dir: 'write', addr, len: data.length, purpose, queue, data: data.slice() });
    this.mem.dmaWrite(addr, data);
  }

  private emit(a: DmaAccess): void {
    if (this.keepTrace) this.trace.push(a);
    for (const l of this.listeners) l(a);
  }
}

export const le16 = (b: Uint8Array, o = 0): number => b[o] | (b[o + 1] << 8);
export const le32 = (b: Uint8Array, o = 0): number =>
  (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0;
export const le64 = (b: Uint8Array, o = 0): bigint => BigInt(le32(b, o)) | (BigInt(le32(b, o + 4)) << 32n);

export function u16le(v: number): Uint8Array {
  return Uint8Array.of(v & 0xff, (v >> 8) & 0xff);
}
export function u32le(v: number): Uint8Array {
  return Uint8Array.of(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff);
}
