// The split queue engine on malformed rings: each case of the shared catalogue (tb/virtio/ring/malformed.ts)
// and a few of its own breaks one driver requirement of virtio 1.2 on queue 0 (the golden model names the same
// error for the same memory), while queue 1 holds a good buffer. The engine
// must pulse fatal_error once, hand nothing of queue 0 to the device, write nothing into queue 0's used ring,
// keep serving queue 1, and stay stopped on queue 0 when it is kicked again.
import { afterEach, beforeAll, describe, expect, test } from 'vitest';
import { SPLIT_TEST_WIDTHS } from '../../gen/virtq/split_test_top';
import { allocRing, createVirtqueue, type RingMemory } from '../../tb/virtio/ring/create';
import {
  SPLIT,
  splitAreaSizes,
  VRING_DESC_F_INDIRECT as IND,
  VRING_DESC_F_NEXT as NEXT,
  VRING_DESC_F_WRITE as WRITE,
  type RingFeatures,
} from '../../tb/virtio/ring/defs';
import { caseFeatures, MALFORMED_CASES, type RawDesc, RingCrafter, UNGRANTED } from '../../tb/virtio/ring/malformed';
import { DeviceQueue, RingError, type RingErrorKind } from '../../tb/virtio/ring/device';
import { HostDma } from '../../tb/virtio/ring/dma';
import { bootSplit, buildSplitSim, closeSplitBenches, splitPorts } from './split_support';

afterEach(closeSplitBenches);

/** The cases beyond the shared catalogue: ring areas outside granted memory, and the engine's maxChain. */
interface ExtraCase {
  name: string;
  kind: RingErrorKind | 'max-chain';
  features: Partial<RingFeatures>;
  num?: number;
  /** Writes the ring; returns the addresses to program when they are not the crafted ring's. */
  build(c: RingCrafter): RingMemory | void;
}

const EXTRA: ExtraCase[] = [
  {
    name: 'split: a descriptor table outside granted memory',
    kind: 'dma-fault',
    features: {},
    build: (c) => {
      c.avail([0]);
      return { ...c.ring, desc: UNGRANTED };
    },
  },
  {
    name: 'split: an available ring outside granted memory',
    kind: 'dma-fault',
    features: {},
    build: (c) => ({ ...c.ring, driver: UNGRANTED }),
  },
  {
    name: "split: a chain longer than the engine's maxChain (64), shorter than the queue",
    kind: 'max-chain',
    features: {},
    num: 128,
    build: (c) => {
      for (let i = 0; i < 65; i++) c.desc(i, i < 64 ? { flags: NEXT, next: i + 1 } : {});
      c.avail([0]);
    },
  },
];

const NUM = 8;

const CASES: ExtraCase[] = [
  ...MALFORMED_CASES.filter((c) => !caseFeatures(c).packed).map((c) => ({
    ...c,
    build: (r: RingCrafter) => c.build(r),
  })),
  ...EXTRA,
];

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
      const crafter = new RingCrafter(mem, features, num, 0);
      const ring = crafter.ring;
      const programmed = c.build(crafter) ?? ring;
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

/**
 * Malformed INDIRECT chains met with the tables read ahead: one queue (so it has the read-ahead pool) holds GOOD
 * chains, each one INDIRECT descriptor whose table has 3 or 6 entries (more than a slot holds after the head: the
 * rest read when walked), then one bad chain. The engine hands over the good chains (those the golden model
 * takes), then pulses fatal_error once and reads nothing outside granted memory but the bad case's own table.
 */
interface AheadCase {
  name: string;
  kind: RingErrorKind;
  /** The bad chain's head descriptor (its tables crafted with `c`). */
  head(c: RingCrafter): RawDesc;
}

const GOOD = 8;
const AHEAD_NUM = 16;
/** An indirect table of k entries: readable ones chained by next = i + 1, the last one writable. */
const goodTable = (k: number): RawDesc[] =>
  Array.from({ length: k }, (_, i) => (i < k - 1 ? { flags: NEXT, next: i + 1 } : { flags: WRITE }));
const table = (c: RingCrafter, descs: RawDesc[]): RawDesc => ({
  flags: IND,
  addr: c.table(descs),
  len: 16 * descs.length,
});

const AHEAD_CASES: AheadCase[] = [
  { name: 'a table of 24 bytes', kind: 'indirect-bad-length', head: (c) => ({ ...table(c, goodTable(2)), len: 24 }) },
  {
    name: 'INDIRECT with NEXT',
    kind: 'indirect-with-next',
    head: (c) => ({ ...table(c, goodTable(3)), flags: IND | NEXT }),
  },
  { name: 'a table longer than the queue', kind: 'chain-too-long', head: (c) => table(c, goodTable(AHEAD_NUM + 1)) },
  {
    name: 'INDIRECT inside the table',
    kind: 'indirect-in-indirect',
    head: (c) => table(c, [{ flags: NEXT, next: 1 }, table(c, goodTable(3))]),
  },
  { name: 'a table outside granted memory', kind: 'dma-fault', head: () => ({ flags: IND, addr: UNGRANTED, len: 48 }) },
  {
    name: 'a next outside the table',
    kind: 'next-out-of-range',
    head: (c) => table(c, [{ flags: NEXT, next: 2 }, {}]),
  },
  {
    name: 'readable after writable in the table',
    kind: 'readable-after-writable',
    head: (c) => table(c, [{ flags: WRITE | NEXT, next: 1 }, {}]),
  },
  {
    name: 'a loop past the entries read ahead',
    kind: 'chain-too-long',
    head: (c) => table(c, [...goodTable(5).slice(0, 4), { flags: NEXT, next: 2 }]),
  },
];

describe.each(SPLIT_TEST_WIDTHS)('split queue engine, malformed INDIRECT chains read ahead, %i-bit', (W) => {
  let ports = '';
  beforeAll(() => {
    ports = splitPorts(W);
    buildSplitSim(ports);
  }, 600_000);

  for (const c of AHEAD_CASES)
    test(`${GOOD} good chains, then ${c.name}`, () => {
      const features: RingFeatures = { packed: false, indirect: true, eventIdx: false, inOrder: false };
      const b = bootSplit(W, ports, 1, { latency: { min: 200, max: 300 }, violations: 'record' });
      const mem = b.rc.mem;
      b.setFeatures(features);
      const crafter = new RingCrafter(mem, features, AHEAD_NUM, 0);
      for (let i = 0; i < GOOD; i++) crafter.desc(i, table(crafter, goodTable(i % 2 ? 6 : 3)));
      crafter.desc(GOOD, c.head(crafter));
      crafter.avail(Array.from({ length: GOOD + 1 }, (_, i) => i));
      const golden = new DeviceQueue({ ring: crafter.ring, features, dma: new HostDma(mem) });
      const want = Array.from({ length: GOOD }, () => golden.next());
      const err = golden.next();
      expect(err, 'the golden model sees the case').toBeInstanceOf(RingError);
      expect((err as RingError).kind).toBe(c.kind);
      b.setQueue(0, crafter.ring);
      b.kick(0);
      b.rc.runFor(6000);
      expect(b.fatalCount(), 'one fatal_error').toBe(1);
      const got = b.takeChains();
      // (a DMA error on a table read ahead may stop the queue before the chains ahead of it are handed over)
      if (c.kind === 'dma-fault') expect(got.length).toBeLessThanOrEqual(GOOD);
      else expect(got.length).toBe(GOOD);
      expect(got.map((x) => ({ id: x.id, slots: x.slots, segments: x.segments }))).toEqual(
        want.slice(0, got.length).map((g) => {
          if (!g || g instanceof RingError) throw new Error(`golden: ${String(g)}`);
          return {
            id: g.id,
            slots: g.descs,
            segments: g.segments.map((x) => ({ addr: x.addr, len: x.len, write: x.write })),
          };
        }),
      );
      const codes = b.rc.violations.map((v) => v.code);
      expect(codes).toEqual(c.kind === 'dma-fault' ? codes.map(() => 'dma-unmapped') : []);
      if (c.kind === 'dma-fault') expect(codes.length).toBeGreaterThan(0);
      b.kick(0);
      b.rc.runFor(2000);
      expect(b.fatalCount()).toBe(1);
      expect(b.takeChains()).toEqual([]);
    });
});

/**
 * The engine built without INDIRECT (SplitEngineParams `indirect: false`, a split-only virtio-blk build's, which
 * does not offer VIRTIO_F_INDIRECT_DESC): one queue (the read-ahead pool's) holds GOOD direct chains, then one
 * INDIRECT descriptor naming a well-formed table. The engine hands over the good chains and fails the queue on the
 * INDIRECT one (virtio 1.2 2.7.5.3.1: the driver MUST NOT set INDIRECT unless the feature was negotiated; the
 * golden model's 'indirect-not-negotiated'), also when the features it is given claim the feature (it has no
 * INDIRECT logic to honour it with).
 */
describe('split queue engine without INDIRECT, 64-bit', () => {
  let ports = '';
  beforeAll(() => {
    ports = splitPorts(64, false);
    buildSplitSim(ports);
  }, 600_000);

  for (const claimed of [false, true])
    test(`${GOOD} good chains, then an INDIRECT one${claimed ? ', the feature bit set' : ''}`, () => {
      const features: RingFeatures = { packed: false, indirect: false, eventIdx: false, inOrder: false };
      const b = bootSplit(64, ports, 1, { latency: { min: 200, max: 300 }, violations: 'record' });
      const mem = b.rc.mem;
      b.setFeatures({ ...features, indirect: claimed });
      const crafter = new RingCrafter(mem, features, 2 * AHEAD_NUM, 0);
      for (let i = 0; i < GOOD; i++) {
        crafter.desc(2 * i, { flags: NEXT, next: 2 * i + 1 });
        crafter.desc(2 * i + 1, { flags: WRITE });
      }
      crafter.desc(2 * GOOD, table(crafter, goodTable(3)));
      crafter.avail(Array.from({ length: GOOD + 1 }, (_, i) => 2 * i));
      const golden = new DeviceQueue({ ring: crafter.ring, features, dma: new HostDma(mem) });
      const want = Array.from({ length: GOOD }, () => golden.next());
      const err = golden.next();
      expect(err, 'the golden model sees the case').toBeInstanceOf(RingError);
      expect((err as RingError).kind).toBe('indirect-not-negotiated');
      b.setQueue(0, crafter.ring);
      b.kick(0);
      b.rc.runFor(6000);
      expect(b.fatalCount(), 'one fatal_error').toBe(1);
      expect(b.takeChains().map((x) => ({ id: x.id, slots: x.slots }))).toEqual(
        want.map((g) => {
          if (!g || g instanceof RingError) throw new Error(`golden: ${String(g)}`);
          return { id: g.id, slots: g.descs };
        }),
      );
      expect(b.rc.violations).toEqual([]);
      b.kick(0);
      b.rc.runFor(2000);
      expect(b.fatalCount()).toBe(1);
      expect(b.takeChains()).toEqual([]);
    });
});
