// Malformed rings as data: each case breaks one driver requirement of virtio 1.2 by writing raw descriptors and
// ring entries into host memory, and names the error a device must report (the golden DeviceQueue's RingErrorKind;
// a hardware queue engine reports each as DEVICE_NEEDS_RESET). The same catalogue drives the golden model's tests
// (test/virtio/ring/malformed.test.ts) and the RTL queue engines' fault suites, so both are held to one list.
import type { HostMemory, Region } from '../../pcie/hostmem';
import { allocRing, type RingMemory } from './create';
import {
  PACKED_AVAIL,
  PACKED_USED,
  SPLIT,
  VRING_DESC_F_INDIRECT as IND,
  VRING_DESC_F_NEXT as NEXT,
  VRING_DESC_F_WRITE as WRITE,
  type RingFeatures,
} from './defs';
import type { RingErrorKind } from './device';

/** A descriptor's raw fields; omitted ones default to a 16-byte device-readable buffer at the case's buffer. */
export interface RawDesc {
  addr?: bigint;
  len?: number;
  flags?: number;
  /** split: next; packed: buffer id. */
  next?: number;
}

/** Writes raw ring contents for one queue of `num` entries in `mem` (no driver: nothing is checked). */
export class RingCrafter {
  readonly ring: RingMemory;
  /** A 4 KB device-read/writable buffer the default descriptors point at. */
  readonly buf: Region;
  constructor(
    readonly mem: HostMemory,
    readonly features: RingFeatures,
    readonly num: number,
    index = 0,
  ) {
    this.ring = allocRing(mem, num, features.packed, index);
    this.buf = mem.alloc(4096, { perm: 'rw', name: `vq${index}.buffers` });
  }

  private bytes(d: RawDesc, packed: boolean): Uint8Array {
    const b = new Uint8Array(16);
    const v = new DataView(b.buffer);
    v.setBigUint64(0, d.addr ?? this.buf.addr, true);
    v.setUint32(8, d.len ?? 16, true);
    v.setUint16(packed ? 14 : 12, d.flags ?? 0, true);
    v.setUint16(packed ? 12 : 14, d.next ?? 0, true);
    return b;
  }
  /** A split descriptor table entry. */
  desc(i: number, d: RawDesc): void {
    this.mem.write(this.ring.desc + BigInt(16 * i), this.bytes(d, false));
  }
  /** Split: heads into the available ring from entry 0, and avail->idx (default: the number of heads). */
  avail(heads: number[], idx = heads.length): void {
    heads.forEach((h, k) => this.mem.writeU16(this.ring.driver + BigInt(SPLIT.availRing(k % this.num)), h));
    this.mem.writeU16(this.ring.driver + BigInt(SPLIT.availIdx), idx);
  }
  /** A packed descriptor made available for wrap counter `wrap` (flags get the avail/used bits). */
  packed(i: number, d: RawDesc, wrap = 1): void {
    const flags = (d.flags ?? 0) | (wrap ? PACKED_AVAIL : PACKED_USED);
    this.mem.write(this.ring.desc + BigInt(16 * i), this.bytes({ ...d, flags }, true));
  }
  /** An indirect table in device-readable memory; returns its address. */
  table(descs: RawDesc[]): bigint {
    const r = this.mem.alloc(16 * Math.max(1, descs.length), { perm: 'ro', name: 'table' });
    descs.forEach((d, k) => r.write(16 * k, this.bytes(d, this.features.packed)));
    return r.addr;
  }
}

export interface MalformedCase {
  readonly name: string;
  /** Features beyond the case's defaults (split, INDIRECT_DESC, no EVENT_IDX, no IN_ORDER). */
  readonly features: Partial<RingFeatures>;
  /** Queue size (default 8). */
  readonly num?: number;
  readonly build: (c: RingCrafter) => void;
  readonly kind: RingErrorKind;
  /** What the golden model's message says (checked against it only). */
  readonly message?: RegExp;
}

/** An address no test memory grants (the root complex answers UR). */
export const UNGRANTED = 0x7_0000_0000n;

/** The catalogue, split rings first. */
export const MALFORMED_CASES: readonly MalformedCase[] = [
  {
    name: 'split: avail idx more than the queue size ahead',
    features: {},
    num: 4,
    build: (c) => {
      c.desc(0, {});
      c.avail([0], 5);
    },
    kind: 'avail-idx-jump',
    message: /5 buffers past 0 in a queue of 4/,
  },
  {
    name: 'split: head outside the descriptor table',
    features: {},
    build: (c) => c.avail([8]),
    kind: 'head-out-of-range',
  },
  {
    name: 'split: next outside the descriptor table',
    features: {},
    build: (c) => {
      c.desc(0, { flags: NEXT, next: 9 });
      c.avail([0]);
    },
    kind: 'next-out-of-range',
  },
  {
    name: 'split: a descriptor that chains to itself',
    features: {},
    build: (c) => {
      c.desc(3, { flags: NEXT, next: 3 });
      c.avail([3]);
    },
    kind: 'chain-too-long',
    message: /more than 8 descriptors/,
  },
  {
    name: 'split: a loop through several descriptors',
    features: {},
    build: (c) => {
      c.desc(0, { flags: NEXT, next: 1 });
      c.desc(1, { flags: NEXT, next: 2 });
      c.desc(2, { flags: NEXT, next: 0 });
      c.avail([0]);
    },
    kind: 'chain-too-long',
  },
  {
    name: 'split: INDIRECT without VIRTIO_F_INDIRECT_DESC',
    features: { indirect: false },
    build: (c) => {
      c.desc(0, { flags: IND, addr: c.table([{}]), len: 16 });
      c.avail([0]);
    },
    kind: 'indirect-not-negotiated',
  },
  {
    name: 'split: INDIRECT together with NEXT',
    features: {},
    build: (c) => {
      c.desc(0, { flags: IND | NEXT, addr: c.table([{}]), len: 16, next: 1 });
      c.avail([0]);
    },
    kind: 'indirect-with-next',
  },
  ...[0, 24].map((len): MalformedCase => ({
    name: `split: an indirect table of ${len} bytes`,
    features: {},
    build: (c) => {
      c.desc(0, { flags: IND, addr: c.table([{}, {}]), len });
      c.avail([0]);
    },
    kind: 'indirect-bad-length',
  })),
  {
    name: 'split: an indirect table longer than the queue (refused before it is read)',
    features: {},
    num: 4,
    build: (c) => {
      c.desc(0, { flags: IND, addr: c.table([{}]), len: 0xffff_fff0 });
      c.avail([0]);
    },
    kind: 'chain-too-long',
    message: /indirect table of 268435455 entries in a queue of 4/,
  },
  {
    name: 'split: INDIRECT inside an indirect table',
    features: {},
    build: (c) => {
      const inner = c.table([{}]);
      c.desc(0, {
        flags: IND,
        addr: c.table([
          { flags: NEXT, next: 1 },
          { flags: IND, addr: inner, len: 16 },
        ]),
        len: 32,
      });
      c.avail([0]);
    },
    kind: 'indirect-in-indirect',
  },
  {
    name: 'split: a loop inside an indirect table',
    features: {},
    build: (c) => {
      c.desc(0, {
        flags: IND,
        addr: c.table([
          { flags: NEXT, next: 1 },
          { flags: NEXT, next: 0 },
        ]),
        len: 32,
      });
      c.avail([0]);
    },
    kind: 'chain-too-long',
  },
  {
    name: 'split: an indirect next outside the table',
    features: {},
    build: (c) => {
      c.desc(0, { flags: IND, addr: c.table([{ flags: NEXT, next: 2 }, {}]), len: 32 });
      c.avail([0]);
    },
    kind: 'next-out-of-range',
  },
  {
    name: 'split: a device-readable descriptor after a device-writable one',
    features: {},
    build: (c) => {
      c.desc(0, { flags: NEXT | WRITE, next: 1 });
      c.desc(1, {});
      c.avail([0]);
    },
    kind: 'readable-after-writable',
  },
  {
    name: 'split: readable after writable inside an indirect table',
    features: {},
    build: (c) => {
      c.desc(0, { flags: IND, addr: c.table([{ flags: NEXT | WRITE, next: 1 }, {}]), len: 32 });
      c.avail([0]);
    },
    kind: 'readable-after-writable',
  },
  {
    name: 'split: a chain of more than 2^32 bytes',
    features: {},
    build: (c) => {
      c.desc(0, { flags: NEXT, next: 1, len: 0xffff_ffff });
      c.desc(1, { len: 2 });
      c.avail([0]);
    },
    kind: 'chain-too-big',
  },
  {
    name: 'split IN_ORDER: a head out of ring order',
    features: { inOrder: true },
    build: (c) => {
      c.desc(1, {});
      c.avail([1]);
    },
    kind: 'in-order-violation',
  },
  {
    name: 'split IN_ORDER: a next that is not x + 1',
    features: { inOrder: true },
    build: (c) => {
      c.desc(0, { flags: NEXT, next: 2 });
      c.desc(2, {});
      c.avail([0]);
    },
    kind: 'in-order-violation',
  },
  {
    name: 'split IN_ORDER: indirect entries out of order',
    features: { inOrder: true },
    build: (c) => {
      c.desc(0, { flags: IND, addr: c.table([{ flags: NEXT, next: 2 }, {}, {}]), len: 48 });
      c.avail([0]);
    },
    kind: 'in-order-violation',
  },
  {
    name: 'split: an indirect table outside granted memory',
    features: {},
    build: (c) => {
      c.desc(0, { flags: IND, addr: UNGRANTED, len: 32 });
      c.avail([0]);
    },
    kind: 'dma-fault',
    message: /indirect of queue 0/,
  },
  {
    name: 'packed: a chain whose second descriptor is not available',
    features: { packed: true },
    build: (c) => c.packed(0, { flags: NEXT }),
    kind: 'desc-not-available',
  },
  {
    name: 'packed: a chain as long as the ring runs into its own head',
    features: { packed: true },
    num: 4,
    build: (c) => {
      for (let i = 0; i < 4; i++) c.packed(i, { flags: NEXT });
    },
    kind: 'desc-not-available',
  },
  {
    name: 'packed: INDIRECT without VIRTIO_F_INDIRECT_DESC',
    features: { packed: true, indirect: false },
    build: (c) => c.packed(0, { flags: IND, addr: c.table([{}]), len: 16 }),
    kind: 'indirect-not-negotiated',
  },
  {
    name: 'packed: INDIRECT together with NEXT',
    features: { packed: true },
    build: (c) => c.packed(0, { flags: IND | NEXT, addr: c.table([{}]), len: 16 }),
    kind: 'indirect-with-next',
  },
  {
    name: 'packed: an indirect table of 8 bytes',
    features: { packed: true },
    build: (c) => c.packed(0, { flags: IND, addr: c.table([{}]), len: 8 }),
    kind: 'indirect-bad-length',
  },
  {
    name: 'packed: INDIRECT inside an indirect table',
    features: { packed: true },
    build: (c) =>
      c.packed(0, { flags: IND, addr: c.table([{}, { flags: IND, addr: c.table([{}]), len: 16 }]), len: 32 }),
    kind: 'indirect-in-indirect',
  },
  {
    name: 'packed: readable after writable inside an indirect table',
    features: { packed: true },
    build: (c) => c.packed(0, { flags: IND, addr: c.table([{ flags: WRITE }, {}]), len: 32 }),
    kind: 'readable-after-writable',
  },
  {
    name: 'packed: readable after writable in the ring',
    features: { packed: true },
    build: (c) => {
      c.packed(0, { flags: NEXT | WRITE });
      c.packed(1, {});
    },
    kind: 'readable-after-writable',
  },
  {
    name: 'packed IN_ORDER: a buffer id that is not the head position',
    features: { packed: true, inOrder: true },
    build: (c) => c.packed(0, { next: 5 }),
    kind: 'in-order-violation',
  },
  {
    name: 'packed: an indirect table outside granted memory',
    features: { packed: true },
    build: (c) => c.packed(0, { flags: IND, addr: UNGRANTED, len: 32 }),
    kind: 'dma-fault',
  },
];

/** A case's full feature set. */
export function caseFeatures(c: MalformedCase): RingFeatures {
  return { packed: false, indirect: true, eventIdx: false, inOrder: false, ...c.features };
}
