// The device side of one split virtqueue of the vhost-user transport itself (virt-pci's command and interrupt
// queues; VIRTIO_F_VERSION_1 only: no indirect descriptors, no event index, no packed ring), over the guest's
// shared memory. Every index and address the guest wrote is checked: a malformed ring ends the run with an error
// naming the queue and the field.
import { VRING_DESC_F } from '../../gen/virtio/vring';
import { GuestMemory } from './guestmem';

const DESC_F_NEXT = 1 << VRING_DESC_F.NEXT;
const DESC_F_WRITE = 1 << VRING_DESC_F.WRITE;
const DESC_F_INDIRECT = 1 << VRING_DESC_F.INDIRECT;

export class VringError extends Error {}

/** One descriptor chain: its device-readable bytes (concatenated) and its device-writable buffers. */
export interface Chain {
  head: number;
  readable: Uint8Array;
  writable: Uint8Array[];
}

export interface VringAddr {
  desc: bigint;
  avail: bigint;
  used: bigint;
}

export class SplitVring {
  private desc!: DataView;
  private availIdx!: Uint16Array;
  private availRing!: Uint16Array;
  private usedIdx!: Uint16Array;
  private usedRing!: DataView;
  private lastAvail = 0;
  private usedNext = 0;

  constructor(
    readonly name: string,
    readonly num: number,
    addr: VringAddr,
    mem: GuestMemory,
    base: number,
  ) {
    if (num < 1 || num > 32768 || (num & (num - 1)) !== 0)
      throw new VringError(`${name}: queue size ${num} is not a power of two up to 32768`);
    const d = mem.view(addr.desc, 16 * num, `${name} descriptor table`);
    this.desc = new DataView(d.buffer, d.byteOffset, d.byteLength);
    const a = mem.view(addr.avail, 4 + 2 * num, `${name} available ring`);
    const u = mem.view(addr.used, 4 + 8 * num, `${name} used ring`);
    if ((a.byteOffset & 1) !== 0 || (u.byteOffset & 3) !== 0) throw new VringError(`${name}: misaligned ring`);
    this.availIdx = new Uint16Array(a.buffer, a.byteOffset + 2, 1);
    this.availRing = new Uint16Array(a.buffer, a.byteOffset + 4, num);
    this.usedIdx = new Uint16Array(u.buffer, u.byteOffset + 2, 1);
    this.usedRing = new DataView(u.buffer, u.byteOffset + 4, 8 * num);
    this.mem = mem;
    this.lastAvail = base & 0xffff;
    this.usedNext = base & 0xffff;
  }
  private readonly mem: GuestMemory;

  /** The next chain the driver made available, or undefined. */
  pop(): Chain | undefined {
    // The index first (acquire), then the entries it covers.
    const idx = Atomics.load(this.availIdx, 0);
    const pending = (idx - this.lastAvail) & 0xffff;
    if (pending === 0) return undefined;
    if (pending > this.num)
      throw new VringError(
        `${this.name}: avail idx ${idx} is ${pending} ahead of the ${this.lastAvail} consumed (queue size ${this.num})`,
      );
    const head = this.availRing[this.lastAvail % this.num];
    this.lastAvail = (this.lastAvail + 1) & 0xffff;
    return this.walk(head);
  }

  private walk(head: number): Chain {
    const readable: Uint8Array[] = [];
    const writable: Uint8Array[] = [];
    let i = head;
    for (let n = 0; ; n++) {
      if (i >= this.num) throw new VringError(`${this.name}: descriptor index ${i} beyond the queue size ${this.num}`);
      if (n >= this.num) throw new VringError(`${this.name}: the chain from descriptor ${head} loops`);
      const o = 16 * i;
      const addr = this.desc.getBigUint64(o, true);
      const len = this.desc.getUint32(o + 8, true);
      const flags = this.desc.getUint16(o + 12, true);
      if (flags & DESC_F_INDIRECT) throw new VringError(`${this.name}: descriptor ${i} is indirect (not negotiated)`);
      const buf = this.mem.view(addr, len, `${this.name} descriptor ${i}`);
      if (flags & DESC_F_WRITE) writable.push(buf);
      else if (writable.length) throw new VringError(`${this.name}: descriptor ${i} is readable after a writable one`);
      else readable.push(buf);
      if (!(flags & DESC_F_NEXT)) break;
      i = this.desc.getUint16(o + 14, true);
    }
    const total = readable.reduce((s, b) => s + b.length, 0);
    const joined = readable.length === 1 ? readable[0] : new Uint8Array(total);
    if (readable.length > 1) {
      let at = 0;
      for (const b of readable) {
        joined.set(b, at);
        at += b.length;
      }
    }
    return { head, readable: joined, writable };
  }

  /** Returns a chain to the driver with `written` bytes written into its writable buffers. */
  push(head: number, written: number): void {
    const slot = this.usedNext % this.num;
    this.usedRing.setUint32(8 * slot, head, true);
    this.usedRing.setUint32(8 * slot + 4, written, true);
    this.usedNext = (this.usedNext + 1) & 0xffff;
    // The element before the index (release).
    Atomics.store(this.usedIdx, 0, this.usedNext);
  }
}
