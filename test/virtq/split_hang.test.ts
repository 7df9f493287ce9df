// A read ahead that ends in error while the split engine walks the descriptors of an earlier slot (main c9850d6,
// gen/virtq/split_engine.ts desc_mem): the error of the pool's reads (pool.err) rising in the cycle after desc_mem
// asked the fetch RAM for a descriptor line used to send the engine to `fatal` with mem_busy still set. The line
// came to no state, mem_busy stayed set for good (a device reset does not clear it) and every later fetch-RAM
// read waited: the engine stopped serving any queue, after the driver reset the device too. Here the error
// completion (UR) of one slot's read is delayed by every offset of a range, so that it lands on each cycle of the
// walks of the slots before it; each time the queue must fail (DEVICE_NEEDS_RESET) and, after a device reset, a
// new ring must be served. Without the fix several offsets hang (the chains of the new ring never come).
import { afterEach, beforeAll, describe, expect, test } from 'vitest';
import { allocRing, createVirtqueue } from '../../tb/virtio/ring/create';
import type { RingFeatures } from '../../tb/virtio/ring/defs';
import type { DeviceRead } from '../../tb/pcie/inject';
import {
  bootSplit,
  buildSplitSim,
  closeSplitBenches,
  type RtlChain,
  type SplitBench,
  splitPorts,
} from './split_support';

afterEach(closeSplitBenches);

const F: RingFeatures = { packed: false, indirect: false, eventIdx: true, inOrder: false };
const W = 256;
const LATENCY = 200;
const NUM = 64;
const REQUESTS = 8;
/**
 * The chains whose head's read ahead fails, one per run, and the delays of its error completion: on 067b731's
 * engine 32 of these 192 runs hang (extra 3, 4, 8, 9, 13, 14 with chain 1; 0, 12, 13, 17, 18, 22, 35, 40, 41, 45, 46
 * with chain 3; 3, 4, 8, 9, 21, 26, 27, 31, 32, 44, 45, 49, 50, 54, 55 with chain 5; measured 7 December 2026).
 */
const BAD = [1, 3, 5];
const EXTRA = 64;

/** A ring at queue 0 with `n` three-descriptor requests (chain k's head is descriptor 3k). */
function ring(b: SplitBench, n: number) {
  const mem = b.rc.mem;
  const r = allocRing(mem, NUM, false, 0);
  b.setFeatures(F);
  b.setQueue(0, r);
  const vq = createVirtqueue<number>({ mem, index: 0, ring: r, features: F, notify: () => (b.kick(0), true) });
  for (let t = 0; t < n; t++) {
    const h = mem.alloc(16, { perm: 'ro', name: `h${t}` });
    const d = mem.alloc(512, { perm: 'wo', name: `d${t}` });
    const s = mem.alloc(1, { perm: 'wo', name: `s${t}` });
    expect(
      vq.add(
        [{ addr: h.addr, len: 16 }],
        [
          { addr: d.addr, len: 512 },
          { addr: s.addr, len: 1 },
        ],
        t,
      ),
    ).toBe('ok');
  }
  vq.kick();
  return r;
}

describe("split queue engine: a read ahead failing during an earlier slot's walk", () => {
  let ports = '';
  beforeAll(() => {
    ports = splitPorts(W);
    buildSplitSim(ports);
  }, 600_000);

  test('fails the queue, and the device serves again after a reset, for every arrival cycle of the error', () => {
    let bad = -1n;
    for (const k of BAD)
      for (let extra = 0; extra < EXTRA; extra++) {
        const isBad = (req: DeviceRead) => req.tlp.address === bad;
        const b = bootSplit(W, ports, 1, {
          latency: (req) => LATENCY + (isBad(req) ? extra : 0),
          onRead: (req) => (isBad(req) ? 'ur' : 'ok'),
          split: 'rcb',
          rcb: 64,
        });
        const where = `(chain ${k}'s read ahead failing, its error completion ${extra} cycles late)`;
        const r = ring(b, REQUESTS);
        bad = r.desc + BigInt(3 * k * 16);
        b.rc.waitFor(`DEVICE_NEEDS_RESET ${where}`, () => (b.takeChains(), b.fatalCount() > 0), { timeout: 20_000 });
        // The driver resets the device (the chains handed over are dropped with the ring: a device reset does not wait).
        b.sim.pulse('reset_req');
        b.sim.poke('driver_ok', 0);
        b.disableQueue(0);
        b.rc.waitFor(`device reset done ${where}`, () => (b.takeChains(), Number(b.sim.peek('reset_count')) === 1), {
          timeout: 20_000,
        });
        b.rc.runFor(2 * LATENCY);
        b.takeChains();
        // A new ring from index 0 is served.
        bad = -1n;
        ring(b, REQUESTS);
        const cs: RtlChain[] = [];
        b.rc.waitFor(
          `the new ring's ${REQUESTS} chains after the reset ${where}`,
          () => (cs.push(...b.takeChains()), cs.length >= REQUESTS),
          { timeout: 20_000 },
        );
        expect(new Set(cs.map((c) => c.id)).size, where).toBe(REQUESTS);
        expect(b.fatalCount(), where).toBe(1);
        expect(b.rc.violations, where).toEqual([]);
        closeSplitBenches();
      }
  }, 1_800_000);
});
