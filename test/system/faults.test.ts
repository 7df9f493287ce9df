// The malicious-driver and fault suite of issue 8 on the whole virtio-blk function (VirtioBlkTop: endpoint, queue
// engines, virtio-blk, DMA fabric, disk), through the root complex. Every case ends with the same checks
// (test/system/blk-function.ts): the function still answers (configuration space, common and device
// configuration), it reports what the spec prescribes (DEVICE_NEEDS_RESET with a configuration interrupt for
// a fatal error, or the request's status byte: IOERR / UNSUPP for a request-level one), a device reset (status
// 0) brings it back (a clean write and read-back on every queue), and the root complex saw no DMA outside the
// regions the driver granted, each in its direction (no write to a device-readable buffer), and every register
// read matched the golden transport.
//
// Fatal errors: virtio 1.2 2.1.2 "The device SHOULD set DEVICE_NEEDS_RESET when it enters an error state that a
// reset is needed. If DRIVER_OK is set, after it sets DEVICE_NEEDS_RESET, the device MUST send a device
// configuration change notification to the driver." The function treats as fatal a malformed ring (either
// engine), a DMA error (UR, CA, poisoned or timed-out completion) on a ring access or on a request's data, and a
// request it cannot complete (no device-writable byte for the status); a request it can complete but not serve
// gets its status byte (blk 5.2.6: IOERR, UNSUPP) and no reset is needed.
import { afterEach, beforeAll, describe, expect, test } from 'vitest';
import type { DataWidth } from '../../gen/pcie/streams';
import type { RingEngines } from '../../gen/virtq/dataplane';
import {
  PACKED,
  PACKED_EVENT_SIZE,
  SPLIT,
  splitAreaSizes,
  VRING_DESC_F_INDIRECT,
  VRING_DESC_F_NEXT,
  VRING_PACKED_EVENT_FLAG_DESC,
} from '../../tb/virtio/ring/defs';
import { caseFeatures, MALFORMED_CASES, RingCrafter, UNGRANTED } from '../../tb/virtio/ring/malformed';
import { RingError } from '../../tb/virtio/ring/device';
import type { RootComplexOptions } from '../../tb/pcie/options';
import {
  BLK_S,
  BLK_T,
  BlkFunction,
  type BringUpOptions,
  buildFunction,
  SECTOR_SIZE,
  type RingChoice,
} from './blk-function';
import { testSeeds } from '../support/seeds';

const open: BlkFunction[] = [];
afterEach(() => {
  for (const f of open.splice(0)) f.close();
});

const SEED = testSeeds(1)[0];
const PACKED_RING: RingChoice = { packed: true, indirect: true, eventIdx: true };
const SPLIT_PLAIN: RingChoice = { packed: false };
const SPLIT_INDIRECT: RingChoice = { packed: false, indirect: true };

/** Cycles to wait for a fault's report (the DMA completion timeout is about 1M cycles: DATA_PLANE_TIMEOUT). */
const REPORT = 60_000;
const TIMEOUT_REPORT = 1_500_000;

interface CaseOptions {
  rc?: RootComplexOptions;
  /** RC violation codes the case expects (its own ungranted addresses). */
  allowed?: string[];
  /** Test timeout, ms. */
  timeout?: number;
  /** Also run at 256 bits (a few cases: the data paths differ, the control does not). */
  wide?: boolean;
  bringUp?: BringUpOptions;
}

/** The descriptor a split ring's first available entry heads: its address, length and flags. */
function splitHead(f: BlkFunction, q = 0): { addr: bigint; len: number; flags: number } {
  const r = f.queues[q].ring;
  const head = f.rc.mem.readU16(r.driver + BigInt(SPLIT.availRing(0)));
  const d = r.desc + BigInt(SPLIT.desc(head));
  return { addr: f.rc.mem.readU64(d), len: f.rc.mem.readU32(d + 8n), flags: f.rc.mem.readU16(d + 12n) };
}

/** The packed ring's descriptor 0. */
function packedHead(f: BlkFunction, q = 0): { addr: bigint; len: number; flags: number } {
  const d = f.queues[q].ring.desc;
  return {
    addr: f.rc.mem.readU64(d + BigInt(PACKED.addr)),
    len: f.rc.mem.readU32(d + BigInt(PACKED.len)),
    flags: f.rc.mem.readU16(d + BigInt(PACKED.flags)),
  };
}

/**
 * Waits for a fatal error's report. A ring error stops the queue: kicked again, it reads and writes nothing more
 * and reports no second error (`stopped`; not for errors virtio-blk reports, whose queue goes on).
 */
function expectFatal(f: BlkFunction, what: string, o: { timeout?: number; stopped?: boolean } = {}): void {
  expect(
    f.serve(() => f.configIrqs > 0, o.timeout ?? REPORT),
    `${what}: a configuration interrupt`,
  ).toBe(true);
  f.rc.runFor(3000);
  f.expectNeedsReset(true, what);
  if (o.stopped === false) return;
  const before = f.dmaCounts();
  f.kick(0);
  f.rc.runFor(10_000);
  expect(f.dmaCounts(), `${what}: the stopped queue kicked again`).toEqual(before);
  expect(f.configIrqs, `${what}: one report`).toBe(1);
}

// At 64 bits on the build with both engines; at 256 bits each case on the build with only its ring format's engine
// (the benchmark's builds: docs/data-plane.md "Ring formats of a build").
const ringsFor = (W: DataWidth, choice: RingChoice): RingEngines | undefined =>
  W === 64 ? undefined : choice.packed ? 'packed' : 'split';

describe.each([64, 256] as DataWidth[])('virtio-blk function fault suite, %i-bit', (W) => {
  beforeAll(() => {
    if (W === 64) buildFunction(W);
    else for (const rings of ['split', 'packed'] as const) buildFunction(W, rings);
  }, 1_200_000);

  /** A named case: a fresh function brought up with `choice`; `body` injects the fault and checks the report. */
  function fault(name: string, choice: RingChoice, body: (f: BlkFunction) => void, o: CaseOptions = {}) {
    if (W !== 64 && !o.wide) return;
    test(
      name,
      () => {
        const f = new BlkFunction(W, SEED, o.rc, ringsFor(W, choice));
        open.push(f);
        f.bringUp(choice, o.bringUp);
        body(f);
        f.expectResponsive();
        f.resetAndRecover();
        f.expectClean(o.allowed);
      },
      o.timeout ?? 120_000,
    );
  }

  // ---------------------------------------------------------------- UR / CA / poisoned on ring reads: fatal
  fault('split: UR on the available ring read', SPLIT_PLAIN, (f) => {
    const r = f.queues[0].ring;
    const hit = f.failReads(r.driver, splitAreaSizes(r.num).avail, 'ur');
    const req = f.submit(f.dataOp('read', 0n, 1).op);
    expectFatal(f, 'UR on avail');
    expect(hit.reads).toBe(1);
    expect(req.status, 'nothing completed').toBeUndefined();
    expect(f.rc.mem.readU16(r.device + BigInt(SPLIT.usedIdx)), 'used idx untouched').toBe(0);
  });

  fault('split: CA on the descriptor table read', SPLIT_PLAIN, (f) => {
    const r = f.queues[0].ring;
    const hit = f.failReads(r.desc, 16 * r.num, 'ca');
    const req = f.submit(f.dataOp('write', 3n, 2).op);
    expectFatal(f, 'CA on desc');
    expect(hit.reads).toBe(1);
    expect(req.status).toBeUndefined();
    expect(f.rc.mem.readU16(r.device + BigInt(SPLIT.usedIdx))).toBe(0);
  });

  fault('split: UR on an indirect table read', SPLIT_INDIRECT, (f) => {
    const req = f.submit(f.dataOp('read', 7n, 2, 2).op);
    const d = splitHead(f);
    expect(d.flags & VRING_DESC_F_INDIRECT, 'the driver used an indirect table').toBeTruthy();
    const hit = f.failReads(d.addr, d.len, 'ur');
    expectFatal(f, 'UR on the indirect table');
    expect(hit.reads).toBeGreaterThan(0);
    expect(req.status).toBeUndefined();
  });

  fault('split: poisoned completion of the available ring read', SPLIT_PLAIN, (f) => {
    const r = f.queues[0].ring;
    f.failReads(r.driver, splitAreaSizes(r.num).avail, 'poison');
    const req = f.submit(f.dataOp('read', 0n, 1).op);
    expectFatal(f, 'poisoned avail');
    expect(req.status).toBeUndefined();
  });

  fault(
    'packed: CA on the descriptor ring read',
    PACKED_RING,
    (f) => {
      const r = f.queues[0].ring;
      const hit = f.failReads(r.desc, 16 * r.num, 'ca');
      const req = f.submit(f.dataOp('write', 9n, 1).op);
      expectFatal(f, 'CA on the packed ring');
      expect(hit.reads).toBe(1);
      expect(req.status).toBeUndefined();
    },
    { wide: true },
  );

  fault('packed: UR on an indirect table read', PACKED_RING, (f) => {
    const req = f.submit(f.dataOp('write', 11n, 3, 3).op);
    const d = packedHead(f);
    expect(d.flags & VRING_DESC_F_INDIRECT, 'the driver used an indirect table').toBeTruthy();
    f.failReads(d.addr, d.len, 'ur');
    expectFatal(f, 'UR on the indirect table');
    expect(req.status).toBeUndefined();
  });

  fault('packed: poisoned completion of the descriptor ring read', PACKED_RING, (f) => {
    const r = f.queues[0].ring;
    f.failReads(r.desc, 16 * r.num, 'poison');
    const req = f.submit(f.dataOp('read', 5n, 1).op);
    expectFatal(f, 'poisoned packed ring');
    expect(req.status).toBeUndefined();
  });

  // ---------------------------------------------------------------- errors on a request's own reads
  /** The request completes with IOERR (used length 1) and the function needs a reset. */
  function expectIoerrFatal(f: BlkFunction, req: { status?: number; len?: number }, what: string, timeout = REPORT) {
    expect(
      f.serve(() => req.status !== undefined && f.configIrqs > 0, timeout),
      `${what}: completed and reported`,
    ).toBe(true);
    expect({ status: req.status, len: req.len }, what).toEqual({ status: BLK_S.IOERR, len: 1 });
    f.expectNeedsReset(true, what);
  }

  fault(
    'UR on an OUT request data read',
    PACKED_RING,
    (f) => {
      const w = f.dataOp('write', 20n, 4);
      const hit = f.failReads(w.bufs[0].addr, w.bufs[0].size, 'ur');
      const req = f.submit(w.op);
      expectIoerrFatal(f, req, 'UR on data');
      expect(hit.reads).toBe(1);
    },
    { wide: true },
  );

  fault('CA on a request header read', SPLIT_PLAIN, (f) => {
    const w = f.dataOp('read', 2n, 1);
    const req = f.submit(w.op);
    f.failReads(splitHead(f).addr, 16, 'ca');
    expectIoerrFatal(f, req, 'CA on the header');
    expect(
      w.bufs[0].read(0, SECTOR_SIZE).every((x) => x === 0),
      'no data written for a failed header',
    ).toBe(true);
  });

  fault(
    'poisoned completion in the middle of an OUT request data read',
    PACKED_RING,
    (f) => {
      const w = f.dataOp('write', 40n, 8);
      f.failReads(w.bufs[0].addr + 1024n, 512, 'poison', { completion: 1 });
      const req = f.submit(w.op);
      expectIoerrFatal(f, req, 'poisoned data');
    },
    { wide: true },
  );

  fault('UR on a DISCARD segment read', PACKED_RING, (f) => {
    const req = f.submit({ type: 'discard', ranges: [{ sector: 10n, numSectors: 4 }] });
    f.failReads(req.regions[2].addr, req.regions[2].size, 'ur');
    expectIoerrFatal(f, req, 'UR on the segment');
  });

  fault(
    'an OUT request whose data lies outside granted memory (the IOMMU answers UR)',
    SPLIT_PLAIN,
    (f) => {
      const hdr = f.header(BLK_T.OUT, 8n);
      const st = f.statusByte();
      const r = f.submitRaw(
        0,
        [
          { addr: hdr.addr, len: 16 },
          { addr: UNGRANTED, len: SECTOR_SIZE },
        ],
        [{ addr: st.addr, len: 1 }],
        st.addr,
        false,
      );
      expectIoerrFatal(f, r.req, 'ungranted data');
      expect(f.rc.violations.length, 'the ungranted read, refused').toBeGreaterThan(0);
    },
    { allowed: ['dma-unmapped'] },
  );

  // ---------------------------------------------------------------- dropped completions: the completion timeout
  fault(
    'dropped completion of an OUT request data read (completion timeout)',
    PACKED_RING,
    (f) => {
      const w = f.dataOp('write', 60n, 2);
      f.failReads(w.bufs[0].addr, w.bufs[0].size, 'drop');
      const req = f.submit(w.op);
      f.rc.runFor(500_000);
      expect(req.status, 'still waiting at half the timeout').toBeUndefined();
      f.expectResponsive();
      expectIoerrFatal(f, req, 'dropped data', TIMEOUT_REPORT);
    },
    { timeout: 600_000 },
  );

  fault(
    'dropped completion of the split descriptor table read (completion timeout)',
    SPLIT_PLAIN,
    (f) => {
      const r = f.queues[0].ring;
      f.failReads(r.desc, 16 * r.num, 'drop');
      const req = f.submit(f.dataOp('read', 0n, 1).op);
      expectFatal(f, 'dropped ring read', { timeout: TIMEOUT_REPORT });
      expect(req.status).toBeUndefined();
    },
    { timeout: 600_000 },
  );

  // ---------------------------------------------------------------- resets with DMA in flight
  /** Host latency long enough to catch the device with reads outstanding. */
  const SLOW = { latency: { min: 3000, max: 4000 } };

  /**
   * Waits until a device read of [addr, addr + len) is outstanding, resets (the whole device, or queue q), and
   * checks that once the reset reads complete the device touches host memory no more.
   */
  function resetDuring(f: BlkFunction, addr: bigint, len: number, queue?: number): void {
    let seen = false;
    f.rc.setFaults({
      onRead: (r) => {
        const a = r.tlp.address;
        if (a < addr + BigInt(len) && a + BigInt(4 * r.tlp.length) > addr) seen = true;
        return undefined;
      },
    });
    expect(
      f.serve(() => seen, 50_000),
      'the read is outstanding',
    ).toBe(true);
    if (queue === undefined) f.io.reset(2000);
    else f.resetQueue(queue);
    const before = f.dmaCounts();
    f.rc.runFor(20_000);
    expect(f.dmaCounts(), 'no DMA once the reset reads complete').toEqual(before);
  }

  fault(
    'device reset (status 0) with a request data read in flight',
    PACKED_RING,
    (f) => {
      const w = f.dataOp('write', 100n, 16);
      const req = f.submit(w.op);
      resetDuring(f, w.bufs[0].addr, w.bufs[0].size);
      expect(f.status).toBe(0);
      // The driver may free everything now: any later DMA would hit unmapped memory.
      for (const g of [...w.bufs, ...req.regions]) f.rc.mem.unmap(g);
    },
    { rc: SLOW, timeout: 300_000, wide: true },
  );

  fault(
    'device reset (status 0) with a descriptor ring read in flight',
    PACKED_RING,
    (f) => {
      const r = f.queues[0].ring;
      f.submit(f.dataOp('read', 0n, 2).op);
      resetDuring(f, r.desc, 16 * r.num);
    },
    { rc: SLOW, timeout: 300_000 },
  );

  // (split at 256 bits: on the split-only build, which does not offer INDIRECT_DESC, gen/virtq/blk_top.ts `indirect`)
  for (const [ring, choice] of [
    ['split', W === 64 ? SPLIT_INDIRECT : SPLIT_PLAIN],
    ['packed', PACKED_RING],
  ] as const)
    fault(
      `${ring}: queue reset (RING_RESET) with a request data read in flight; the other queue keeps working`,
      choice,
      (f) => {
        const w = f.dataOp('write', 200n, 16);
        f.submit(w.op, 0);
        resetDuring(f, w.bufs[0].addr, w.bufs[0].size, 0);
        f.io.write('queue_select', 0);
        expect(f.io.read('queue_enable'), 'queue 0 disabled by its reset').toBe(0);
        // A doorbell for the reset (disabled) queue: nothing read.
        const before = f.dmaCounts();
        f.kick(0);
        f.rc.runFor(10_000);
        expect(f.dmaCounts()).toEqual(before);
        f.expectNeedsReset(false, 'a queue reset');
        f.cleanRoundTrip(1);
        // virtqueue_reset's ring half, then the queue enabled again on the same ring memory
        f.blk.vqs[0].reset();
        f.queues[0] = f.programQueue(0, f.queues[0].ring);
        f.cleanRoundTrip(0);
      },
      { rc: SLOW, timeout: 300_000, wide: ring === 'split' },
    );

  // ---------------------------------------------------------------- doorbells
  fault(
    'doorbell for a queue that is not enabled',
    SPLIT_PLAIN,
    (f) => {
      // queue 1 exists but was never set up or enabled
      const before = f.dmaCounts();
      f.rc.write16(f.doorbell(1), 1);
      f.rc.runFor(10_000);
      expect(f.dmaCounts(), 'nothing read for queue 1').toEqual(before);
      f.expectNeedsReset(false, 'a doorbell');
      f.cleanRoundTrip(0);
    },
    { bringUp: { queues: 1 } },
  );

  fault('doorbells for queue indices the device does not have', PACKED_RING, (f) => {
    const nq = f.io.read('num_queues');
    f.io.write('queue_select', nq + 3);
    expect(f.io.read('queue_size'), 'no such queue').toBe(0);
    f.io.write('queue_enable', 1);
    expect(f.io.read('queue_enable')).toBe(0);
    const before = f.dmaCounts();
    // past the notify region (each queue's doorbell 4 bytes apart), with their index, 16 and 32 bits wide
    const base = f.queues[0].notify;
    for (let q = nq; q < nq + 4; q++) {
      f.rc.write16(base + BigInt(4 * q), q);
      f.rc.write32(base + BigInt(4 * q), q);
    }
    f.rc.runFor(10_000);
    expect(f.dmaCounts(), 'nothing read').toEqual(before);
    f.expectNeedsReset(false, 'doorbells');
    f.cleanRoundTrip(0);
    f.cleanRoundTrip(1);
  });

  fault('a NOTIFICATION_DATA-style 32-bit doorbell value without the feature', SPLIT_PLAIN, (f) => {
    // the request made available without a doorbell, then rung with the next avail index in the high half
    const w = f.dataOp('write', 30n, 1);
    const req = f.blk.submit(w.op, 0, false);
    if (typeof req === 'string') throw new Error(req);
    f.rc.write32(f.queues[0].notify, (1 << 16) | 0);
    expect(f.serve(() => req.status !== undefined, REPORT)).toBe(true);
    expect(req.status).toBe(BLK_S.OK);
    f.expectNeedsReset(false, 'a 32-bit doorbell');
  });

  // ---------------------------------------------------------------- features used without being negotiated
  fault('split: used_event set to suppress the interrupt without EVENT_IDX negotiated', SPLIT_PLAIN, (f) => {
    const r = f.queues[0].ring;
    // With EVENT_IDX, used_event 0x8000 would hold back the interrupt for the first used buffer.
    f.rc.mem.writeU16(r.driver + BigInt(SPLIT.usedEvent(r.num)), 0x8000);
    const req = f.submit(f.dataOp('read', 1n, 1).op);
    expect(
      f.serve(() => req.status !== undefined, REPORT),
      'interrupted: the flags rule applies',
    ).toBe(true);
    expect(req.status).toBe(BLK_S.OK);
    f.expectNeedsReset(false, 'used_event');
  });

  fault('packed: driver event suppression DESC without EVENT_IDX negotiated', { packed: true }, (f) => {
    const r = f.queues[0].ring;
    const req = f.submit(f.dataOp('write', 1n, 1).op);
    // flags DESC (reserved without EVENT_IDX), off_wrap naming a far descriptor (after the driver's own writes)
    f.rc.mem.write(r.driver, new Uint8Array([0x40, 0x00, VRING_PACKED_EVENT_FLAG_DESC, 0]));
    expect(PACKED_EVENT_SIZE).toBe(4);
    // The used descriptor is written whether or not the device interrupts; nothing fatal.
    f.serve(() => req.status !== undefined, REPORT);
    f.blk.vqs[0].interrupt();
    expect(req.status).toBe(BLK_S.OK);
    f.expectNeedsReset(false, 'reserved event flags');
  });

  fault('DISCARD and FLUSH without their features negotiated: UNSUPP', PACKED_RING, (f) => {
    // brought up again without DISCARD and FLUSH
    f.restart(PACKED_RING, { without: ['VIRTIO_BLK_F_DISCARD', 'VIRTIO_BLK_F_FLUSH'] });
    expect(f.has('VIRTIO_BLK_F_DISCARD')).toBe(false);
    const d = f.submit({ type: 'discard', ranges: [{ sector: 0n, numSectors: 1 }] });
    const fl = f.submit({ type: 'flush' });
    expect(f.serve(() => d.status !== undefined && fl.status !== undefined, REPORT)).toBe(true);
    expect([d.status, fl.status]).toEqual([BLK_S.UNSUPP, BLK_S.UNSUPP]);
    f.expectNeedsReset(false, 'UNSUPP requests');
  });

  // ---------------------------------------------------------------- malformed requests (request level)
  /** A raw request's outcome equals the golden device's and `want`; no reset needed. */
  function expectRequest(f: BlkFunction, r: ReturnType<BlkFunction['submitRaw']>, want: number, what: string) {
    expect(r.golden, `${what}: the golden device completes it`).not.toBeInstanceOf(RingError);
    const g = r.golden as { status: number; len: number };
    expect(g.status, `${what}: golden status`).toBe(want);
    expect(
      f.serve(() => r.req.status !== undefined, REPORT),
      `${what}: completed`,
    ).toBe(true);
    expect({ status: r.req.status, len: r.req.len }, what).toEqual({ status: g.status, len: g.len });
    f.expectNeedsReset(false, what);
  }

  fault('a request whose header is in a device-writable buffer: IOERR', PACKED_RING, (f) => {
    const hdr = f.header(BLK_T.IN, 0n, 'wo');
    const st = f.statusByte();
    const r = f.submitRaw(
      0,
      [],
      [
        { addr: hdr.addr, len: 16 },
        { addr: st.addr, len: 1 },
      ],
      st.addr,
    );
    expectRequest(f, r, BLK_S.IOERR, 'writable header');
  });

  fault('zero-length descriptors in a request', SPLIT_PLAIN, (f) => {
    const hdr = f.header(BLK_T.IN, 4n);
    const st = f.statusByte();
    const data = f.rc.mem.alloc(SECTOR_SIZE, { perm: 'wo', name: 'data' });
    const empty = f.rc.mem.alloc(16, { perm: 'none', name: 'empty' });
    const r = f.submitRaw(
      0,
      [
        { addr: empty.addr, len: 0 },
        { addr: hdr.addr, len: 16 },
      ],
      [
        { addr: empty.addr, len: 0 },
        { addr: data.addr, len: SECTOR_SIZE },
        { addr: st.addr, len: 1 },
      ],
      st.addr,
    );
    expectRequest(f, r, BLK_S.OK, 'zero-length descriptors');
  });

  fault('a data descriptor longer than size_max: IOERR', PACKED_RING, (f) => {
    const sizeMax = f.cfg.dataPlane.blk.sizeMax!;
    const sectors = Math.ceil((sizeMax + 1) / SECTOR_SIZE);
    const hdr = f.header(BLK_T.IN, 0n);
    const st = f.statusByte();
    const data = f.rc.mem.alloc(sectors * SECTOR_SIZE, { perm: 'wo', name: 'data' });
    const r = f.submitRaw(
      0,
      [{ addr: hdr.addr, len: 16 }],
      [
        { addr: data.addr, len: sectors * SECTOR_SIZE },
        { addr: st.addr, len: 1 },
      ],
      st.addr,
    );
    expectRequest(f, r, BLK_S.IOERR, 'oversized descriptor');
    expect(
      data.read(0, data.size).every((x) => x === 0),
      'nothing written',
    ).toBe(true);
  });

  fault('a request with more data descriptors than seg_max: IOERR', SPLIT_INDIRECT, (f) => {
    const segMax = f.cfg.dataPlane.blk.segMax!;
    const hdr = f.header(BLK_T.IN, 0n);
    const st = f.statusByte();
    const inn = Array.from({ length: segMax + 1 }, () => {
      const g = f.rc.mem.alloc(SECTOR_SIZE, { perm: 'wo', name: 'data' });
      return { addr: g.addr, len: SECTOR_SIZE };
    });
    const r = f.submitRaw(0, [{ addr: hdr.addr, len: 16 }], [...inn, { addr: st.addr, len: 1 }], st.addr);
    expectRequest(f, r, BLK_S.IOERR, 'too many segments');
  });

  fault(
    'requests past the capacity: IOERR, storage untouched',
    PACKED_RING,
    (f) => {
      const cap = BigInt(f.cfg.dataPlane.blk.capacity);
      // a write straddling the end, and a read at the largest sector number
      const w = f.dataOp('write', cap - 1n, 2);
      const wr = f.submit(w.op);
      const rd = f.dataOp('read', (1n << 64n) - 1n, 1);
      const rr = f.submit(rd.op);
      expect(f.serve(() => wr.status !== undefined && rr.status !== undefined, REPORT)).toBe(true);
      expect([wr.status, wr.len, rr.status, rr.len]).toEqual([BLK_S.IOERR, 1, BLK_S.IOERR, 1]);
      expect(rd.bufs[0].read(0, SECTOR_SIZE).every((x) => x === 0)).toBe(true);
      // the last sector of the disk is still zero (read back through the device)
      const back = f.dataOp('read', cap - 1n, 1);
      const br = f.submit(back.op);
      expect(f.serve(() => br.status !== undefined, REPORT)).toBe(true);
      expect([br.status, br.len]).toEqual([BLK_S.OK, SECTOR_SIZE + 1]);
      expect(
        back.bufs[0].read(0, SECTOR_SIZE).every((x) => x === 0),
        'the last sector is zero',
      ).toBe(true);
      f.expectNeedsReset(false, 'past the capacity');
    },
    { wide: true },
  );

  fault('a request of an unknown type: UNSUPP', SPLIT_PLAIN, (f) => {
    const hdr = f.header(0x7f, 0n);
    const st = f.statusByte();
    const r = f.submitRaw(0, [{ addr: hdr.addr, len: 16 }], [{ addr: st.addr, len: 1 }], st.addr);
    expectRequest(f, r, BLK_S.UNSUPP, 'unknown type');
  });

  fault('a request without a device-writable byte: NEEDS_RESET', PACKED_RING, (f) => {
    const hdr = f.header(BLK_T.OUT, 0n);
    const data = f.rc.mem.alloc(SECTOR_SIZE, { perm: 'ro', name: 'data' });
    const r = f.submitRaw(
      0,
      [
        { addr: hdr.addr, len: 16 },
        { addr: data.addr, len: SECTOR_SIZE },
      ],
      [],
      hdr.addr,
    );
    expect(r.golden, 'the golden device cannot complete it').toBeInstanceOf(RingError);
    expectFatal(f, 'no status byte', { stopped: false });
  });

  // ---------------------------------------------------------------- malformed rings: the shared catalogue
  for (const c of MALFORMED_CASES) {
    const feats = caseFeatures(c);
    const choice: RingChoice = feats;
    fault(
      `catalogue: ${c.name}`,
      choice,
      (f) => {
        const crafter = new RingCrafter(f.rc.mem, f.ringFeatures, c.num ?? 8, 0);
        c.build(crafter);
        f.replaceRing(0, crafter.ring);
        f.kick(0);
        expectFatal(f, c.kind);
        if (!feats.packed)
          expect(f.rc.mem.readU16(crafter.ring.device + BigInt(SPLIT.usedIdx)), 'used idx untouched').toBe(0);
      },
      { allowed: c.kind === 'dma-fault' ? ['dma-unmapped'] : [] },
    );
  }

  fault("split: a chain longer than the engine's limit (64 descriptors), shorter than the queue", SPLIT_PLAIN, (f) => {
    const crafter = new RingCrafter(f.rc.mem, f.ringFeatures, 128, 0);
    for (let i = 0; i < 65; i++) crafter.desc(i, i < 64 ? { flags: VRING_DESC_F_NEXT, next: i + 1 } : {});
    crafter.avail([0]);
    f.replaceRing(0, crafter.ring);
    f.kick(0);
    expectFatal(f, 'max chain');
  });
});
