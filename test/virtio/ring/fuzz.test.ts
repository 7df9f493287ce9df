// Robustness of the golden device on garbage: a driver fills the ring with real buffers, then random bytes of the
// descriptor ring, the available ring and the indirect tables are overwritten. Whatever it finds, the device model
// must answer with chains, nothing, or a RingError (the queue then stays stopped): never another exception, never
// an unbounded walk, and with virtio-blk on top a status or a stopped queue.
import { describe, expect } from 'vitest';
import { Rng } from '../../../sim/random';
import { HostMemory } from '../../../tb/pcie/hostmem';
import { BlkDevice } from '../../../tb/virtio/blk/device';
import { allocRing, createVirtqueue } from '../../../tb/virtio/ring/create';
import { ringFeaturesName, splitAreaSizes, type RingFeatures } from '../../../tb/virtio/ring/defs';
import { DeviceQueue, RingError } from '../../../tb/virtio/ring/device';
import { HostDma } from '../../../tb/virtio/ring/dma';
import { seededTest } from '../../support/seeds';

const combos: RingFeatures[] = [];
for (const packed of [false, true])
  for (const inOrder of [false, true]) combos.push({ packed, indirect: true, eventIdx: true, inOrder });

describe('golden device on corrupted rings', () => {
  for (const features of combos)
    seededTest(ringFeaturesName(features), (seed) => {
      const rng = new Rng(seed);
      const kinds = new Map<string, number>();
      let chains = 0;
      for (let trial = 0; trial < 150; trial++) {
        const num = rng.pick([2, 4, 8]);
        const mem = new HostMemory();
        const ring = allocRing(mem, num, features.packed);
        const dev = new DeviceQueue({ ring, features, dma: new HostDma(mem) });
        const vq = createVirtqueue<number>({ mem, ring, features, notify: () => true });
        const data = mem.alloc(4096, { perm: 'rw' });
        for (let i = 0; i < num; i++) {
          const segs = Array.from({ length: rng.int(1, num) }, () => ({
            addr: data.addr + BigInt(rng.below(3000)),
            len: rng.int(0, 64),
          }));
          const nOut = rng.int(0, segs.length);
          if (vq.add(segs.slice(0, nOut), segs.slice(nOut), i) !== 'ok') break;
        }
        // Corrupt: a few random bytes in the ring areas and the indirect tables.
        const areas = features.packed
          ? [{ at: ring.desc, len: 16 * num }]
          : [
              { at: ring.desc, len: 16 * num },
              { at: ring.driver, len: splitAreaSizes(num).avail },
            ];
        for (const r of mem.regions) if (r.name.includes('indirect')) areas.push({ at: r.addr, len: r.size });
        for (let k = rng.int(1, 4); k > 0; k--) {
          const a = rng.pick(areas);
          mem.writeU8(a.at + BigInt(rng.below(a.len)), rng.chance(0.5) ? rng.u32() & 0xff : 0xff);
        }
        const blk = rng.chance(0.5) ? new BlkDevice({ capacity: 64, flush: true }) : undefined;
        let steps = 0;
        for (; steps < 3 * num; steps++) {
          let r;
          if (blk) {
            r = blk.processNext(dev);
          } else {
            r = dev.next();
            if (r && !(r instanceof RingError)) {
              try {
                dev.readData(r, 0, Math.min(r.readable, 4096));
                dev.writeData(r, 0, new Uint8Array(Math.min(r.writable, 4096)));
                dev.complete(r, Math.min(r.writable, 4096));
              } catch (e) {
                if (!(e instanceof RingError)) throw e;
                r = e;
              }
            }
          }
          if (r === null) break;
          if (r instanceof RingError) {
            kinds.set(r.kind, (kinds.get(r.kind) ?? 0) + 1);
            expect(dev.failed).toBe(r);
            expect(dev.next()).toBe(r);
            break;
          }
          chains++;
        }
        expect(steps).toBeLessThanOrEqual(3 * num);
        dev.publish();
      }
      // The corruption was seen: errors of several kinds, and valid chains too.
      expect(kinds.size).toBeGreaterThan(2);
      expect(chains).toBeGreaterThan(50);
    });
});
