// The packed-ring engine's device event structure (the driver's kick suppression), directed: DISABLE once a
// turn finds work, ENABLE (DESC at the next position with EVENT_IDX) when the queue has nothing in flight and the
// ring is empty, and the ring read again after that write, so that a buffer the driver makes available while it
// still reads DISABLE (it then does not kick) is served all the same. The driver is the Linux-faithful model
// (tb/virtio/ring/packed.ts: kickPrepare reads the structure).
import { afterEach, beforeAll, describe, expect, test } from 'vitest';
import type { Addr } from '../../tb/pcie/hostmem';
import { allocRing, createVirtqueue } from '../../tb/virtio/ring/create';
import {
  ringFeatures,
  VRING_PACKED_EVENT_FLAG_DESC,
  VRING_PACKED_EVENT_FLAG_DISABLE,
  VRING_PACKED_EVENT_FLAG_ENABLE,
} from '../../tb/virtio/ring/defs';
import { bootPacked, buildPackedSim, closePackedBenches, packedFeatures, packedPorts } from './packed-support';

afterEach(closePackedBenches);

const W = 64;
let ports = '';
beforeAll(() => {
  ports = packedPorts(W, 2);
  buildPackedSim(ports);
}, 600_000);

const WRAP = 1 << 15;

/**
 * Queue 0 (size 8) with the Linux-faithful driver; each request is a readable 16-byte buffer and a writable
 * 64-byte one (two ring descriptors). `race`: when the engine's write of off_wrap and flags (the ENABLE or DESC
 * after the first request) reaches host memory, just before it lands, the driver adds a second request and
 * kicks: it still reads DISABLE, so it does not ring the doorbell.
 */
function run(eventIdx: boolean, race: boolean) {
  const b = bootPacked(W, 2, ports, 1);
  const mem = b.mem;
  const mask = packedFeatures({ eventIdx });
  b.setFeatures(mask);
  const ring = allocRing(mem, 8, true, 0);
  let kicks = 0;
  const vq = createVirtqueue<number>({
    mem,
    index: 0,
    ring,
    features: ringFeatures(mask),
    notify: () => {
      kicks++;
      b.notify(0);
      return true;
    },
  });
  b.setQueue(0, ring);
  b.driverOk(true);
  const hdr = mem.alloc(16, { perm: 'ro', name: 'hdr' });
  const data = mem.alloc(64, { perm: 'wo', name: 'data' });
  const add = (n: number) => {
    expect(vq.add([{ addr: hdr.addr, len: 16 }], [{ addr: data.addr, len: 64 }], n)).toBe('ok');
    vq.kick();
  };
  const structure = () => ({ offWrap: mem.readU16(ring.device), flags: mem.readU16(ring.device + 2n) });

  let raced = false;
  if (race) {
    const dmaWrite = mem.dmaWrite.bind(mem);
    mem.dmaWrite = (addr: Addr, bytes: Uint8Array, m?: Uint8Array, context?: string) => {
      if (!raced && BigInt(addr) === ring.device && bytes.length === 4) {
        raced = true;
        expect(structure().flags, 'the driver reads DISABLE').toBe(VRING_PACKED_EVENT_FLAG_DISABLE);
        add(1);
      }
      dmaWrite(addr, bytes, m, context);
    };
  }

  add(0);
  expect(kicks, 'the first request: the structure is zero (ENABLE)').toBe(1);
  b.run(2000);
  const first = b.takeChains();
  expect(first.map((c) => c.id)).toEqual([0]);
  expect(structure().flags, 'DISABLE while the device has the chain').toBe(VRING_PACKED_EVENT_FLAG_DISABLE);
  b.done({ queue: 0, id: first[0].id, slots: first[0].slots, len: 64 });
  b.run(3000);
  const second = b.takeChains();
  if (race) {
    expect(raced, 'the driver added its request as the engine enabled kicks').toBe(true);
    expect(kicks, 'no doorbell for the second request').toBe(1);
    expect(
      second.map((c) => c.segments.map((x) => x.addr)),
      'served all the same',
    ).toEqual([[hdr.addr, data.addr]]);
    b.done({ queue: 0, id: second[0].id, slots: second[0].slots, len: 64 });
    b.run(3000);
  } else expect(second).toEqual([]);
  // idle: kicks enabled, with EVENT_IDX at the next position (2 descriptors per request)
  const next = race ? 4 : 2;
  expect(structure()).toEqual(
    eventIdx
      ? { offWrap: WRAP | next, flags: VRING_PACKED_EVENT_FLAG_DESC }
      : { offWrap: WRAP | next, flags: VRING_PACKED_EVENT_FLAG_ENABLE },
  );
  const writes = b.eventWrites();
  expect(writes[0], 'the first write: DISABLE, the flags alone').toEqual({
    queue: 0,
    flags: VRING_PACKED_EVENT_FLAG_DISABLE,
  });
  expect(b.fatal.count).toBe(0);
  expect(b.rc.violations).toEqual([]);
  expect(b.sim.peek('busy'), 'idle at the end').toBe(0n);
  return { kicks, writes };
}

describe('packed-ring engine, device event structure (kick suppression), 64-bit stream', () => {
  for (const eventIdx of [false, true]) {
    const mode = eventIdx ? 'EVENT_IDX: DESC at the next position' : 'ENABLE';
    test(`DISABLE while busy, ${mode} when idle`, () => {
      const r = run(eventIdx, false);
      expect(r.writes.length, 'DISABLE, then the re-enable').toBe(2);
    });
    test(`${mode}: a buffer made available as the engine re-enables kicks is served without a doorbell`, () => {
      run(eventIdx, true);
    });
  }
});
