// Past the 16-bit index wrap: 70,000 buffers through a small split ring with EVENT_IDX, so avail->idx, used->idx,
// used_event and avail_event all wrap at 65536 (and 12,000 through a packed ring: its wrap counters flip 3,000 times).
// Each round adds three buffers, kicks, lets the device take and use them, and reaps on the interrupt: with
// EVENT_IDX and the device re-arming avail_event, every round must cost exactly one kick and one interrupt.
import { describe, expect, test } from 'vitest';
import { HostMemory } from '../../../tb/pcie/hostmem';
import { allocRing, createVirtqueue } from '../../../tb/virtio/ring/create';
import { SPLIT } from '../../../tb/virtio/ring/defs';
import { DeviceQueue, RingError } from '../../../tb/virtio/ring/device';
import { HostDma } from '../../../tb/virtio/ring/dma';

describe('16-bit index wrap', () => {
  for (const packed of [false, true])
    test(`${packed ? 'packed: 12,000' : 'split: 70,000'} buffers, one kick and one interrupt per round`, () => {
      const mem = new HostMemory();
      const num = 4;
      const ring = allocRing(mem, num, packed);
      const features = { packed, indirect: true, eventIdx: true, inOrder: false };
      const dev = new DeviceQueue({ ring, features, dma: new HostDma(mem) });
      let kicks = 0;
      let reaped = 0;
      const vq = createVirtqueue<number>({
        mem,
        ring,
        features,
        notify: () => (kicks++, true),
        callback: (q) => {
          do {
            q.disableCb();
            // (Plain checks: expect() per buffer would triple the run time.)
            for (let b = q.getBuf(); b; b = q.getBuf())
              if (b.data !== reaped++ || b.len !== 2)
                throw new Error(`buffer ${b.data} len ${b.len}, expected ${reaped - 1} len 2`);
          } while (!q.enableCb());
        },
      });
      const buf = mem.alloc(64, { perm: 'rw' });
      let added = 0;
      let interrupts = 0;
      const rounds = Math.ceil((packed ? 12_000 : 70_000) / 3);
      for (let r = 0; r < rounds; r++) {
        for (let k = 0; k < 3; k++) {
          // Alternate direct two-segment chains and indirect ones by segment count.
          const segs = k === 1 ? [{ addr: buf.addr + 8n, len: 4 }] : [];
          if (vq.add(segs, [{ addr: buf.addr, len: 2 }], added++) !== 'ok') throw new Error(`add ${added - 1} failed`);
        }
        vq.kick();
        dev.setNotify(false);
        for (let c = dev.next(); c; c = dev.next()) {
          if (c instanceof RingError) throw c;
          dev.writeData(c, 0, Uint8Array.of(1, 2));
          dev.complete(c, 2);
        }
        dev.setNotify(true);
        if (dev.publish().notify) {
          interrupts++;
          vq.interrupt();
        }
      }
      expect(reaped).toBe(added);
      expect(kicks).toBe(rounds);
      expect(interrupts).toBe(rounds);
      if (!packed) {
        // The indices really wrapped.
        expect(mem.readU16(ring.driver + BigInt(SPLIT.availIdx))).toBe(added & 0xffff);
        expect(mem.readU16(ring.device + BigInt(SPLIT.usedIdx))).toBe(added & 0xffff);
        expect(added).toBeGreaterThan(65536);
      }
    });
});
