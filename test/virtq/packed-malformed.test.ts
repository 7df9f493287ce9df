// Malformed packed rings against the engine: each case breaks one driver requirement of virtio 1.2 (the golden
// model's RingErrorKind list, tb/virtio/ring/device.ts), and the engine must stop the queue with fatal_error
// and the golden model's kind as its code, hand the device nothing of the bad chain (a good chain before it
// still goes), write nothing, and stay stopped (a later doorbell makes no DMA) while another queue runs on.
import { afterEach, beforeAll, describe, expect, test } from 'vitest';
import { PackedFault } from '../../gen/virtq/packed_params';
import { allocRing } from '../../tb/virtio/ring/create';
import {
  PACKED_AVAIL,
  PACKED_USED,
  ringFeatures,
  VRING_DESC_F_INDIRECT as IND,
  VRING_DESC_F_NEXT as NEXT,
  VRING_DESC_F_WRITE as WRITE,
} from '../../tb/virtio/ring/defs';
import { DeviceQueue, RingError } from '../../tb/virtio/ring/device';
import { caseFeatures, MALFORMED_CASES, RingCrafter } from '../../tb/virtio/ring/malformed';
import {
  bootPacked,
  buildPackedSim,
  closePackedBenches,
  FAULT_KIND,
  GoldenDma,
  packedFeatures,
  packedPorts,
} from './packed-support';

afterEach(closePackedBenches);

interface D {
  addr?: bigint;
  len?: number;
  id?: number;
  flags?: number;
  /** Leave the descriptor unavailable (no AVAIL bit for wrap counter 1). */
  unavailable?: boolean;
}

const W = 64;
let ports = '';
beforeAll(() => {
  ports = packedPorts(W, 2);
  buildPackedSim(ports);
}, 600_000);

function descBytes(d: D, buf: bigint): Uint8Array {
  const b = new Uint8Array(16);
  const v = new DataView(b.buffer);
  v.setBigUint64(0, d.addr ?? buf, true);
  v.setUint32(8, d.len ?? 16, true);
  v.setUint16(12, d.id ?? 0, true);
  v.setUint16(14, (d.flags ?? 0) | (d.unavailable ? 0 : PACKED_AVAIL), true);
  return b;
}

interface Case {
  name: string;
  features?: { indirect?: boolean; inOrder?: boolean };
  size?: number;
  /** Ring descriptors from position 0; `table(entries)` gives an indirect table's address. */
  ring: (table: (entries: D[]) => bigint) => D[];
  /** Chains that are good before the bad one. */
  good?: number;
  code: number;
  /** The ring's address is outside granted memory. */
  unmapped?: boolean;
}

const cases: Case[] = [
  {
    name: 'second descriptor not available',
    ring: () => [{ flags: NEXT }, { unavailable: true }],
    code: PackedFault.DESC_NOT_AVAILABLE,
  },
  {
    name: 'a good chain, then a chain whose third descriptor is not available',
    ring: () => [{ id: 4 }, { flags: NEXT }, { flags: NEXT }, { unavailable: true }],
    good: 1,
    code: PackedFault.DESC_NOT_AVAILABLE,
  },
  {
    name: 'INDIRECT without VIRTIO_F_INDIRECT_DESC',
    features: {},
    ring: (t) => [{ flags: IND, addr: t([{}, {}]), len: 32 }],
    code: PackedFault.INDIRECT_NOT_NEGOTIATED,
  },
  {
    name: 'INDIRECT with NEXT',
    ring: (t) => [{ flags: IND | NEXT, addr: t([{}, {}]), len: 32 }, {}],
    code: PackedFault.INDIRECT_WITH_NEXT,
  },
  {
    name: 'indirect table of 0 bytes',
    ring: (t) => [{ flags: IND, addr: t([{}]), len: 0 }],
    code: PackedFault.INDIRECT_BAD_LENGTH,
  },
  {
    name: 'indirect table of 24 bytes',
    ring: (t) => [{ flags: IND, addr: t([{}, {}]), len: 24 }],
    code: PackedFault.INDIRECT_BAD_LENGTH,
  },
  {
    name: 'indirect table longer than the queue',
    ring: (t) => [{ flags: IND, addr: t(Array.from({ length: 9 }, () => ({}))), len: 16 * 9 }],
    code: PackedFault.CHAIN_TOO_LONG,
  },
  {
    name: 'INDIRECT inside an indirect table',
    ring: (t) => [{ flags: IND, addr: t([{}, { flags: IND }, {}]), len: 48 }],
    code: PackedFault.INDIRECT_IN_INDIRECT,
  },
  {
    name: 'readable after writable in the ring',
    ring: () => [{ flags: WRITE | NEXT }, {}],
    code: PackedFault.READABLE_AFTER_WRITABLE,
  },
  {
    name: 'readable after writable in an indirect table (a batch and more of entries)',
    size: 16,
    ring: (t) => [
      { flags: IND, addr: t([...Array.from({ length: 9 }, () => ({})), { flags: WRITE }, {}]), len: 16 * 11 },
    ],
    code: PackedFault.READABLE_AFTER_WRITABLE,
  },
  {
    name: 'readable after writable across a ring descriptor and its indirect table',
    ring: (t) => [{ flags: WRITE | NEXT }, { flags: IND, addr: t([{}]), len: 16 }],
    code: PackedFault.READABLE_AFTER_WRITABLE,
  },
  {
    name: 'a chain of more than 2^32 bytes',
    ring: () => [{ flags: NEXT, len: 0x8000_0000 }, { len: 0x8000_0001 }],
    code: PackedFault.CHAIN_TOO_BIG,
  },
  {
    name: 'IN_ORDER: a buffer id other than its head position',
    features: { inOrder: true },
    ring: () => [{ id: 0 }, { flags: NEXT, id: 1 }, { id: 7 }],
    good: 1,
    code: PackedFault.IN_ORDER_VIOLATION,
  },
  {
    // the walker finds the ring's fault while the bad table's read is in flight: the table's comes first
    name: 'a bad indirect table, then a ring fault found while its read is in flight: the table fault counts',
    ring: (t) => [
      { flags: IND, addr: t([{}, {}]), len: 32, id: 0 },
      { flags: IND, addr: t([{ flags: WRITE }, {}]), len: 32, id: 1 },
      { flags: IND | NEXT, addr: t([{}]), len: 16 },
      {},
    ],
    good: 1,
    code: PackedFault.READABLE_AFTER_WRITABLE,
  },
  {
    name: 'good indirect chains read ahead, then readable after writable in the ring',
    size: 16,
    ring: (t) => [
      ...Array.from({ length: 10 }, (_, i) => ({ flags: IND, addr: t([{}, { flags: WRITE }]), len: 32, id: i })),
      { flags: WRITE | NEXT },
      {},
    ],
    good: 10,
    code: PackedFault.READABLE_AFTER_WRITABLE,
  },
  { name: 'descriptor ring outside granted memory', ring: () => [{}], unmapped: true, code: PackedFault.DMA_FAULT },
  {
    name: 'an indirect table outside granted memory',
    ring: () => [{ flags: IND, addr: 0x7_0000_0000n, len: 32 }],
    code: PackedFault.DMA_FAULT,
  },
];

describe('packed-ring engine, malformed rings, 64-bit stream', () => {
  for (const c of cases) {
    test(c.name, () => {
      const b = bootPacked(W, 2, ports, 1, c.unmapped || c.name.includes('outside') ? { violations: 'record' } : {});
      const feats = c.features ?? { indirect: true };
      const mask = packedFeatures(feats);
      const features = ringFeatures(mask);
      const size = c.size ?? 8;
      const mem = b.mem;
      const ring = allocRing(mem, size, true, 0);
      const buf = mem.alloc(4096, { perm: 'rw', name: 'buffers' });
      const table = (entries: D[]) => {
        const r = mem.alloc(16 * entries.length, { perm: 'ro', align: 16, name: 'table' });
        entries.forEach((e, j) => r.write(16 * j, descBytes({ ...e, unavailable: true }, buf.addr)));
        return r.addr;
      };
      const descs = c.ring(table);
      // Written back to front: the head's flags last, as a driver does.
      for (let i = descs.length - 1; i >= 0; i--) mem.write(ring.desc + BigInt(16 * i), descBytes(descs[i], buf.addr));
      const programmed = c.unmapped ? { ...ring, desc: 0x6_0000_0000n } : ring;
      const dma = new GoldenDma(mem);
      const golden = new DeviceQueue({ ring: programmed, features, dma });
      // queue 1: a healthy queue next to the broken one
      const ring1 = allocRing(mem, 4, true, 1);
      b.setFeatures(mask);
      b.setQueue(0, programmed);
      b.setQueue(1, ring1);
      b.driverOk(true);
      b.notify(0);
      b.run(3000);

      const chains = b.takeChains();
      expect(chains.length, 'good chains handed out before the bad one').toBe(c.good ?? 0);
      for (const ch of chains) {
        const g = golden.next();
        expect(g).not.toBeInstanceOf(RingError);
        expect(ch.id).toBe((g as { id: number }).id);
      }
      const err = golden.next();
      expect(err, 'the golden model fails too').toBeInstanceOf(RingError);
      expect(b.fatal.count, 'fatal_error pulses').toBe(1);
      expect(FAULT_KIND[b.fatalCode()], 'fault code').toBe((err as RingError).kind);
      expect(b.fatalCode()).toBe(c.code);
      expect(b.ringWrites(), 'nothing written (but the device event structure)').toEqual([]);

      // Stopped: another doorbell makes no DMA; queue 1 still works.
      const n = b.tap.fromDevice.length;
      b.notify(0);
      b.run(2000);
      expect(b.tap.fromDevice.length, 'no DMA for a stopped queue').toBe(n);
      expect(b.fatal.count).toBe(1);
      mem.write(ring1.desc, descBytes({ id: 0, len: 8 }, buf.addr));
      b.notify(1);
      b.run(2000);
      expect(
        b.takeChains().map((x) => [x.queue, x.id]),
        'the other queue runs on',
      ).toEqual([[1, 0]]);
      if (!c.name.includes('outside')) expect(b.rc.violations).toEqual([]);
    });
  }

  test('a chain longer than maxChain is refused (an engine limit: the golden model takes it)', () => {
    const b = bootPacked(W, 2, ports, 1);
    const mem = b.mem;
    const ring = allocRing(mem, 100, true, 0);
    const buf = mem.alloc(4096, { perm: 'rw', name: 'buffers' });
    for (let i = 64; i >= 0; i--)
      mem.write(ring.desc + BigInt(16 * i), descBytes({ flags: i < 64 ? NEXT : 0, len: 4 }, buf.addr));
    b.setFeatures(packedFeatures({}));
    b.setQueue(0, ring);
    b.driverOk(true);
    b.notify(0);
    b.run(5000);
    expect(b.takeChains()).toEqual([]);
    expect(b.fatal.count).toBe(1);
    expect(b.fatalCode()).toBe(PackedFault.MAX_CHAIN);
  });

  test('used flags as the device left them are not available (USED = AVAIL = wrap counter)', () => {
    const b = bootPacked(W, 2, ports, 1);
    const mem = b.mem;
    const ring = allocRing(mem, 8, true, 0);
    const buf = mem.alloc(4096, { perm: 'rw', name: 'buffers' });
    const d = descBytes({}, buf.addr);
    new DataView(d.buffer).setUint16(14, PACKED_AVAIL | PACKED_USED, true);
    mem.write(ring.desc, d);
    b.setFeatures(packedFeatures({}));
    b.setQueue(0, ring);
    b.driverOk(true);
    b.notify(0);
    b.run(3000);
    expect(b.takeChains()).toEqual([]);
    expect(b.fatal.count).toBe(0);
    expect(b.sim.peek('busy')).toBe(0n);
  });
});

describe('packed-ring engine, the shared malformed-ring catalogue (tb/virtio/ring/malformed.ts), 64-bit stream', () => {
  for (const c of MALFORMED_CASES.filter((x) => caseFeatures(x).packed)) {
    test(c.name, () => {
      const features = caseFeatures(c);
      const b = bootPacked(W, 2, ports, 2, { violations: 'record' });
      const crafter = new RingCrafter(b.mem, features, c.num ?? 8);
      c.build(crafter);
      const golden = new DeviceQueue({ ring: crafter.ring, features, dma: new GoldenDma(b.mem) });
      const err = golden.next();
      expect(err).toBeInstanceOf(RingError);
      expect((err as RingError).kind).toBe(c.kind);
      b.setFeatures(packedFeatures(features));
      b.setQueue(0, crafter.ring);
      b.driverOk(true);
      b.notify(0);
      b.run(3000);
      expect(b.takeChains(), 'nothing of the bad chain handed out').toEqual([]);
      expect(b.fatal.count, 'fatal_error pulses').toBe(1);
      expect(FAULT_KIND[b.fatalCode()], 'fault code').toBe(c.kind);
      expect(b.ringWrites(), 'nothing written (but the device event structure)').toEqual([]);
      if (c.kind !== 'dma-fault') expect(b.rc.violations).toEqual([]);
    });
  }
});
