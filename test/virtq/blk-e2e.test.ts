// End to end on the RTL: the whole virtio-blk function (gen/virtq/blk_top.ts) in the shared harness
// (tb/virtio/blk/system.ts): the Linux-faithful probe, then random block requests on both queues with several in
// flight per queue (kicks with the negotiated suppression, completions reaped on the queues' MSI-X messages), each
// checked against the golden BlkDevice (status byte, used length, every byte written), the ring invariants on every
// device access, every register read against the golden transport, the RTL disk against the golden disk at the
// end, then the driver's remove (a device reset that completes only when the queue engines report it). At 64 and
// 256 bits, packed and split rings, with host latency, split and reordered completions and transmit backpressure:
// at 64 bits on the build with both engines (the driver declines packed for split), at 256 bits each format on the
// build with only its engine (the benchmark's builds).
import { afterEach, beforeAll, describe, expect } from 'vitest';
import { STATUS } from '../../gen/virtio/regmap';
import { BlkSystem, BlkSystemFailure, buildBlkTop, type RingFormat } from '../../tb/virtio/blk/system';
import { randomWorkload, sequentialWorkload } from '../../tb/virtio/blk/workload';
import { seededTest } from '../support/seeds';

const open: BlkSystem[] = [];
afterEach(() => {
  for (const s of open.splice(0)) s.close();
});

/** The ring engines of the build a format runs on at a width (undefined: the harness's, both). */
const ringsAt = (W: 64 | 256, ring: RingFormat) => (W === 64 ? undefined : ring);

describe.each([64, 256] as const)('virtio-blk function, %i-bit', (W) => {
  beforeAll(() => {
    for (const rings of new Set((['packed', 'split'] as const).map((r) => ringsAt(W, r))))
      buildBlkTop(W, undefined, undefined, rings);
  }, 1_200_000);

  describe.each(['packed', 'split'] as const)('%s ring', (ring: RingFormat) => {
    seededTest(
      `random requests, 4 in flight per queue on both queues, checked against the golden BlkDevice (rings ${ringsAt(W, ring) ?? 'both'})`,
      (seed) => {
        const sys = new BlkSystem({ W, ring, seed, txBackpressure: 0.2, rings: ringsAt(W, ring) });
        open.push(sys);
        expect(sys.features.packed).toBe(ring === 'packed');
        expect(sys.features.eventIdx).toBe(true);
        expect(sys.queues).toBe(2);
        const st = sys.run(randomWorkload(), { requests: 48, depth: 4 });
        expect(st.ok).toBeGreaterThan(24);
        expect(st.maxInFlight).toBeGreaterThan(4);
        expect(st.interrupts).toBeGreaterThan(0);
        expect(st.doorbells).toBeGreaterThan(0);
        expect(sys.invariants.counts.lengthsChecked).toBe(48);
        expect(sys.invariants.counts.dma).toBeGreaterThan(200);
        sys.finish();
        expect(sys.link.checked.golden.status).toBe(STATUS.ACKNOWLEDGE);
        expect(sys.link.checked.checkedReads).toBeGreaterThan(50);
        expect(sys.rc.violations).toEqual([]);
      },
      { timeout: 600_000 },
    );
  });
});

describe('virtio-blk harness checks', () => {
  beforeAll(() => buildBlkTop(64), 1_200_000);

  seededTest(
    'a disk byte the golden model did not write is found; the watchdog reports a hang with the last TLPs',
    (seed) => {
      const sys = new BlkSystem({ W: 64, ring: 'packed', seed });
      open.push(sys);
      sys.run(sequentialWorkload('write', 4096), { requests: 4, depth: 4, queues: [0] });
      sys.checkDisk();
      // a byte of the golden disk changed behind the RTL's back
      sys.golden.disk.write(4096 + 7, Uint8Array.of(0x5a));
      expect(() => sys.checkDisk()).toThrow(
        /^mismatch: request \d+ \(read sector 8, queue 0\): host byte 0x[0-9a-f]+ is 0x[0-9a-f]+, the golden model wrote 0x5a/,
      );
      // a request that cannot complete within the watchdog: host memory answers reads after 50,000 cycles
      const slow = new BlkSystem({ W: 64, ring: 'packed', seed, rc: { latency: () => 50_000, minLatency: 1 } });
      open.push(slow);
      const e = (() => {
        try {
          slow.run(sequentialWorkload('read', 512), { requests: 1, watchdog: 5_000, queues: [0] });
        } catch (x) {
          return x;
        }
      })();
      expect(e).toBeInstanceOf(BlkSystemFailure);
      expect((e as BlkSystemFailure).kind).toBe('hang');
      expect((e as Error).message).toMatch(/no request completed for 5000 cycles[^]*\n {2}-> @\d+ /);
    },
    { timeout: 600_000 },
  );
});
