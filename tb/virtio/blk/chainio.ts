// A chain's buffers served straight from host memory, for running the golden BlkDevice on chains that did not
// come from a golden queue (a test that plays the queue engine itself hands the RTL device the same chains).
// Writes can be kept aside instead of stored, so the golden model can run first on the memory the device
// will see, and its writes be compared afterwards with what the device wrote.
import type { HostMemory } from '../../pcie/hostmem';
import { chainPieces, RingError, type Chain } from '../ring/device';
import type { BlkChainIo } from './device';

export class MemoryChainIo implements BlkChainIo {
  /** Writes kept aside (with `store` false): host address and bytes, in order. */
  readonly writes: { addr: bigint; data: Uint8Array }[] = [];

  constructor(
    private readonly mem: HostMemory,
    private readonly opts: { store?: boolean; queue?: number } = {},
  ) {}

  readData(chain: Chain, off: number, len: number): Uint8Array {
    this.check(chain, false, off, len);
    const out = new Uint8Array(len);
    // straight into the result: one copy per piece (4 KiB per request in the virtio-blk bench)
    for (const p of chainPieces(chain, false, off, len)) this.mem.readInto(p.addr, out.subarray(p.pos, p.pos + p.n));
    return out;
  }

  writeData(chain: Chain, off: number, data: Uint8Array): void {
    this.check(chain, true, off, data.length);
    for (const p of chainPieces(chain, true, off, data.length)) {
      // Kept aside as views, not copies: the golden model hands over arrays it does not change afterwards (BlkChainIo).
      const bytes = data.subarray(p.pos, p.pos + p.n);
      if (this.opts.store ?? true) this.mem.write(p.addr, bytes);
      else this.writes.push({ addr: p.addr, data: bytes });
    }
  }

  abort(chain: Chain, detail: string): RingError {
    return new RingError('bad-request', this.opts.queue ?? 0, `buffer ${chain.id}`, detail);
  }

  private check(chain: Chain, write: boolean, off: number, len: number): void {
    const room = write ? chain.writable : chain.readable;
    if (off < 0 || off + len > room)
      throw new RingError(
        'device-misuse',
        this.opts.queue ?? 0,
        `buffer ${chain.id}`,
        `${len} bytes at ${off} of ${room} ${write ? 'writable' : 'readable'} bytes`,
      );
  }
}
