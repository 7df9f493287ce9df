// The guest's memory as the vhost-user front-end shares it (SET_MEM_TABLE): each region a file descriptor mapped
// into this process (sim/hostio), read and written in place. Addresses are the guest's physical addresses (UML
// gives the same value as guest and user address).
import type { HostIo } from '../hostio';

export interface GuestRegion {
  guestAddr: bigint;
  userAddr: bigint;
  size: number;
  /** The region's bytes, aliasing the shared mapping. */
  bytes: Uint8Array;
}

export class GuestMemoryError extends Error {}

export class GuestMemory {
  constructor(readonly regions: readonly GuestRegion[]) {}

  /** Maps the regions of a SET_MEM_TABLE message: [guestAddr, size, userAddr, mmapOffset] per descriptor. */
  static map(
    io: HostIo,
    table: { guestAddr: bigint; size: bigint; userAddr: bigint; mmapOffset: bigint }[],
    fds: number[],
  ) {
    const page = 4096n;
    const regions = table.map((r, i) => {
      if (r.size === 0n || r.size > 1n << 40n) throw new GuestMemoryError(`memory region ${i}: size ${r.size}`);
      const base = r.mmapOffset & ~(page - 1n);
      const skip = Number(r.mmapOffset - base);
      const ab = io.mmap(fds[i], Number(r.size) + skip, Number(base));
      return {
        guestAddr: r.guestAddr,
        userAddr: r.userAddr,
        size: Number(r.size),
        bytes: new Uint8Array(ab, skip, Number(r.size)),
      };
    });
    for (let i = 0; i < regions.length; i++)
      for (let j = i + 1; j < regions.length; j++) {
        const a = regions[i];
        const b = regions[j];
        if (a.guestAddr < b.guestAddr + BigInt(b.size) && b.guestAddr < a.guestAddr + BigInt(a.size))
          throw new GuestMemoryError(`memory regions ${i} and ${j} overlap`);
      }
    return new GuestMemory(regions);
  }

  /** `len` bytes at guest address `addr`, aliasing the guest's memory; throws when they are not all in one region. */
  view(addr: bigint, len: number, what: string): Uint8Array {
    for (const r of this.regions) {
      if (addr >= r.guestAddr && addr + BigInt(len) <= r.guestAddr + BigInt(r.size)) {
        const off = Number(addr - r.guestAddr);
        return r.bytes.subarray(off, off + len);
      }
    }
    throw new GuestMemoryError(`${what}: 0x${addr.toString(16)}+${len} lies outside the guest's shared memory`);
  }
}
