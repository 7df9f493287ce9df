// The split queue engine on malformed rings: each case breaks one driver requirement of virtio 1.2 on queue 0
// (the golden model names the same error for the same memory), while queue 1 holds a good buffer. The engine
// must pulse fatal_error once, hand nothing of queue 0 to the device, write nothing into queue 0's used ring,
// keep serving queue 1, and stay stopped on queue 0 when it is kicked again.
import { afterEach, beforeAll, describe, expect, test } from 'vitest';
import { SPLIT_TEST_WIDTHS } from '../../gen/virtq/split_test_top';
import type { Region } from '../../tb/pcie/hostmem';
import { allocRing, createVirtqueue, type RingMemory } from '../../tb/virtio/ring/create';
import {
  SPLIT,
  splitAreaSizes,
  VRING_DESC_F_INDIRECT as IND,
  VRING_DESC_F_NEXT as NEXT,
  VRING_DESC_F_WRITE as WRITE,
  type RingFeatures,
} from '../../tb/virtio/ring/defs';
import { DeviceQueue, RingError, type RingErrorKind } from '../../tb/virtio/ring/device';
import { HostDma } from '../../tb/virtio/ring/dma';
import { bootSplit, buildSplitSim, closeSplitBenches, type SplitBench, splitPorts } from './split_support';

afterEach(closeSplitBenches);

interface RawDesc {
  addr?: bigint;
  len?: number;
  flags?: number;
  next?: number;
}

const NUM = 8;

function descBytes(d: RawDesc, buf: Region): Uint8Array {
  const b = new Uint8Array(16);
  const v = new DataView(b.buffer);
  v.setBigUint64(0, d.addr ?? buf.addr, true);
  v.setUint32(8, d.len ?? 16, true);
  v.setUint16(12, d.flags ?? 0, true);
  v.setUint16(14, d.next ?? 0, true);
  return b;
}

interface Case {
  name: string;
  kind: RingErrorKind | 'max-chain';
  features?: Partial<RingFeatures>;
  num?: number;
  /** Writes the bad ring into queue 0's memory (or moves its areas: returns the addresses to program). */
  setup(r: BadRing): RingMemory | void;
}

interface BadRing {
  b: SplitBench;
  ring: RingMemory;
  buf: Region;
  desc(i: number, d: RawDesc): void;
  avail(heads: number[], idx?: number): void;
  table(descs: RawDesc[]): bigint;
}

const CASES: Case[] = [
  {
    name: 'avail idx more than the queue size ahead',
    kind: 'avail-idx-jump',
    setup: (r) => (r.desc(0, {}), r.avail([0], NUM + 1)),
  },
  { name: 'head outside the descriptor table', kind: 'head-out-of-range', setup: (r) => r.avail([NUM]) },
  {
    name: 'next outside the descriptor table',
    kind: 'next-out-of-range',
    setup: (r) => (r.desc(0, { flags: NEXT, next: NUM + 1 }), r.avail([0])),
  },
  {
    name: 'a descriptor chained to itself',
    kind: 'chain-too-long',
    setup: (r) => (r.desc(3, { flags: NEXT, next: 3 }), r.avail([3])),
  },
  {
    name: 'a loop through three descriptors',
    kind: 'chain-too-long',
    setup: (r) => {
      r.desc(0, { flags: NEXT, next: 1 });
      r.desc(1, { flags: NEXT, next: 2 });
      r.desc(2, { flags: NEXT, next: 0 });
      r.avail([0]);
    },
  },
  {
    name: 'INDIRECT without VIRTIO_F_INDIRECT_DESC',
    kind: 'indirect-not-negotiated',
    features: { indirect: false },
    setup: (r) => (r.desc(0, { flags: IND, addr: r.table([{}]), len: 16 }), r.avail([0])),
  },
  {
    name: 'INDIRECT with NEXT',
    kind: 'indirect-with-next',
    setup: (r) => (r.desc(0, { flags: IND | NEXT, next: 1, addr: r.table([{}]), len: 16 }), r.avail([0])),
  },
  {
    name: 'INDIRECT inside an indirect table',
    kind: 'indirect-in-indirect',
    setup: (r) => {
      const inner = r.table([{}]);
      r.desc(0, {
        flags: IND,
        addr: r.table([
          { flags: NEXT, next: 1 },
          { flags: IND, addr: inner, len: 16 },
        ]),
        len: 32,
      });
      r.avail([0]);
    },
  },
  {
    name: 'an indirect table of 0 bytes',
    kind: 'indirect-bad-length',
    setup: (r) => (r.desc(0, { flags: IND, addr: r.table([{}]), len: 0 }), r.avail([0])),
  },
  {
    name: 'an indirect table of 24 bytes',
    kind: 'indirect-bad-length',
    setup: (r) => (r.desc(0, { flags: IND, addr: r.table([{}, {}]), len: 24 }), r.avail([0])),
  },
  {
    name: 'an indirect table longer than the queue',
    kind: 'chain-too-long',
    setup: (r) => {
      const t = Array.from({ length: NUM + 1 }, () => ({}));
      r.desc(0, { flags: IND, addr: r.table(t), len: 16 * (NUM + 1) });
      r.avail([0]);
    },
  },
  {
    name: 'next outside an indirect table',
    kind: 'next-out-of-range',
    setup: (r) => (r.desc(0, { flags: IND, addr: r.table([{ flags: NEXT, next: 2 }, {}]), len: 32 }), r.avail([0])),
  },
  {
    name: 'a loop inside an indirect table',
    kind: 'chain-too-long',
    setup: (r) => (
      r.desc(0, {
        flags: IND,
        addr: r.table([
          { flags: NEXT, next: 1 },
          { flags: NEXT, next: 0 },
        ]),
        len: 32,
      }),
      r.avail([0])
    ),
  },
  {
    name: 'a readable descriptor after a writable one',
    kind: 'readable-after-writable',
    setup: (r) => (r.desc(0, { flags: NEXT | WRITE, next: 1 }), r.desc(1, {}), r.avail([0])),
  },
  {
    name: 'a readable descriptor after a writable one in an indirect table',
    kind: 'readable-after-writable',
    setup: (r) => (
      r.desc(0, { flags: IND, addr: r.table([{ flags: NEXT | WRITE, next: 1 }, {}]), len: 32 }),
      r.avail([0])
    ),
  },
  {
    name: 'a chain of more than 2^32 bytes',
    kind: 'chain-too-big',
    setup: (r) => (r.desc(0, { flags: NEXT, next: 1, len: 0xffff_ffff }), r.desc(1, { len: 2 }), r.avail([0])),
  },
  {
    name: 'IN_ORDER: a head out of ring order',
    kind: 'in-order-violation',
    features: { inOrder: true },
    setup: (r) => (r.desc(1, {}), r.avail([1])),
  },
  {
    name: 'IN_ORDER: a next out of ring order',
    kind: 'in-order-violation',
    features: { inOrder: true },
    setup: (r) => (r.desc(0, { flags: NEXT, next: 2 }), r.desc(2, {}), r.avail([0])),
  },
  {
    name: 'a descriptor table outside granted memory (UR)',
    kind: 'dma-fault',
    setup: (r) => {
      r.avail([0]);
      return { ...r.ring, desc: 0x7000_0000_0000n };
    },
  },
  {
    name: 'an available ring outside granted memory (UR)',
    kind: 'dma-fault',
    setup: () => ({ ...allocHole(), num: NUM }),
  },
  {
    name: 'an indirect table outside granted memory (UR)',
    kind: 'dma-fault',
    setup: (r) => (r.desc(0, { flags: IND, addr: 0x7000_0000_0000n, len: 32 }), r.avail([0])),
  },
  {
    name: `a chain longer than the engine's maxChain (64), shorter than the queue`,
    kind: 'max-chain',
    num: 128,
    setup: (r) => {
      for (let i = 0; i < 65; i++) r.desc(i, i < 64 ? { flags: NEXT, next: i + 1 } : {});
      r.avail([0]);
    },
  },
];

/** Ring areas nowhere in host memory. */
function allocHole(): Omit<RingMemory, 'num'> {
  return { desc: 0x7000_0000_0000n, driver: 0x7000_0001_0000n, device: 0x7000_0002_0000n, regions: [] };
}

describe.each(SPLIT_TEST_WIDTHS)('split queue engine on malformed rings, %i-bit', (W) => {
  let ports = '';
  beforeAll(() => {
    ports = splitPorts(W);
    buildSplitSim(ports);
  }, 600_000);

  for (const c of CASES)
    test(c.name, () => {
      const features: RingFeatures = { packed: false, indirect: true, eventIdx: false, inOrder: false, ...c.features };
      const b = bootSplit(W, ports, 1, { latency: { min: 20, max: 100 }, violations: 'record' });
      const mem = b.rc.mem;
      const num = c.num ?? NUM;
      b.setFeatures(features);
      // queue 0: the bad ring
      const ring = allocRing(mem, num, false, 0);
      const buf = mem.alloc(4096, { perm: 'rw', name: 'buffers' });
      const r: BadRing = {
        b,
        ring,
        buf,
        desc: (i, d) => mem.write(ring.desc + BigInt(16 * i), descBytes(d, buf)),
        avail: (heads, idx = heads.length) => {
          heads.forEach((h, k) => mem.writeU16(ring.driver + BigInt(SPLIT.availRing(k % num)), h));
          mem.writeU16(ring.driver + BigInt(SPLIT.availIdx), idx);
        },
        table: (descs) => {
          const t = mem.alloc(16 * Math.max(1, descs.length), { perm: 'ro', name: 'table' });
          descs.forEach((d, k) => t.write(16 * k, descBytes(d, buf)));
          return t.addr;
        },
      };
      const programmed = c.setup(r) ?? ring;
      // The golden model finds the same error in the same memory (the engine refuses more: maxChain).
      const golden = new DeviceQueue({ ring: programmed, features, dma: new HostDma(mem) }).next();
      if (c.kind === 'max-chain') expect(golden).not.toBeInstanceOf(RingError);
      else {
        expect(golden, 'the golden model sees the case').toBeInstanceOf(RingError);
        expect((golden as RingError).kind).toBe(c.kind);
      }
      b.setQueue(0, programmed);
      // queue 1: a good buffer
      const good = allocRing(mem, NUM, false, 1);
      b.setQueue(1, good);
      const vq = createVirtqueue<number>({ mem, index: 1, ring: good, features, notify: () => (b.kick(1), true) });
      const wbuf = mem.alloc(64, { perm: 'wo', name: 'good' });
      expect(vq.add([], [{ addr: wbuf.addr, len: 64 }], 7)).toBe('ok');
      b.kick(0);
      vq.kick();
      b.rc.runFor(3000);
      expect(b.fatalCount(), 'one fatal_error').toBe(1);
      const chains = b.takeChains();
      expect(chains.map((x) => x.queue)).toEqual([1]);
      b.complete(chains[0], 5);
      b.rc.runFor(2000);
      expect(mem.readU16(good.device + BigInt(SPLIT.usedIdx)), 'queue 1 still served').toBe(1);
      // Kicked again, queue 0 stays stopped: no second error, nothing handed over, nothing written.
      b.kick(0);
      b.rc.runFor(2000);
      expect(b.fatalCount()).toBe(1);
      expect(b.takeChains()).toEqual([]);
      if (programmed === ring) {
        const used = mem.read(ring.device, splitAreaSizes(num).used);
        expect(
          used.every((x) => x === 0),
          "nothing written into queue 0's used ring",
        ).toBe(true);
      }
      // The only violations: the bad ring's own reads outside granted memory (answered UR).
      const codes = b.rc.violations.map((v) => v.code);
      expect(codes).toEqual(c.kind === 'dma-fault' ? codes.map(() => 'dma-unmapped') : []);
      if (c.kind === 'dma-fault') expect(codes.length).toBeGreaterThan(0);
    });
});
