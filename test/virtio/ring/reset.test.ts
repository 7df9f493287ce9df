// Queue reset (RING_RESET's ring half) with buffers in flight on both sides: the driver detaches every buffer
// still out (each handed back exactly once), both sides start over from index 0, and the queue works again.
import { describe, expect, test } from 'vitest';
import { HostMemory } from '../../../tb/pcie/hostmem';
import { allocRing, createVirtqueue } from '../../../tb/virtio/ring/create';
import { ringFeaturesName, type RingFeatures } from '../../../tb/virtio/ring/defs';
import { DeviceQueue, RingError } from '../../../tb/virtio/ring/device';
import { HostDma } from '../../../tb/virtio/ring/dma';
import { RingInvariants } from '../../../tb/virtio/ring/invariants';

const combos: RingFeatures[] = [
  { packed: false, indirect: false, eventIdx: true, inOrder: false },
  { packed: false, indirect: true, eventIdx: false, inOrder: true },
  { packed: true, indirect: false, eventIdx: true, inOrder: true },
  { packed: true, indirect: true, eventIdx: false, inOrder: false },
];

describe('queue reset with buffers in flight', () => {
  for (const features of combos)
    test(ringFeaturesName(features), () => {
      const num = 16;
      const mem = new HostMemory();
      const ring = allocRing(mem, num, features.packed);
      const dma = new HostDma(mem);
      const inv = new RingInvariants<string>();
      inv.addRing(0, ring, features.packed);
      dma.listen(inv.onDma);
      const dev = new DeviceQueue({ ring, features, dma });
      const reaped: string[] = [];
      const vq = createVirtqueue<string>({
        mem,
        ring,
        features,
        observer: inv,
        notify: () => true,
        callback: (q) => {
          do {
            q.disableCb();
            for (let b = q.getBuf(); b; b = q.getBuf()) reaped.push(b.data);
          } while (!q.enableCb());
        },
      });
      const buf = mem.alloc(4096, { perm: 'rw' });
      // Each buffer its own bytes (the invariant checker attributes writes by address).
      let n = 0;
      const add = (t: string) => {
        const at = buf.addr + BigInt(256 * (n++ % 16));
        const r = vq.add(
          [{ addr: at, len: 8 }],
          [
            { addr: at + 64n, len: 8 },
            { addr: at + 128n, len: 8 },
          ],
          t,
        );
        expect(r).toBe('ok');
      };
      const serve = (take: number, complete: number) => {
        const chains = [];
        for (let i = 0; i < take; i++) {
          const c = dev.next();
          if (!c || c instanceof RingError) throw new Error(`expected a chain, got ${String(c)}`);
          chains.push(c);
        }
        for (const c of chains.slice(0, complete)) {
          dev.writeData(c, 0, Uint8Array.of(1, 2, 3));
          dev.complete(c, 3);
        }
        if (dev.publish().notify) vq.interrupt();
      };
      for (let i = 0; i < 5; i++) add(`a${i}`);
      vq.kick();
      serve(3, 2);
      expect(reaped).toEqual(['a0', 'a1']);
      // Reset: the driver gets back what is still out, whatever the device was doing with it.
      const recycled: string[] = [];
      vq.reset((t) => recycled.push(t));
      dev.reset();
      expect(recycled.sort()).toEqual(['a2', 'a3', 'a4']);
      expect(vq.numFree).toBe(num);
      expect(inv.outstanding()).toBe(0);
      // And the queue works again from the start, wrapping a few times.
      for (let round = 0; round < 6; round++) {
        for (let i = 0; i < 4; i++) add(`b${round}.${i}`);
        vq.kick();
        serve(4, 4);
      }
      expect(reaped.length).toBe(2 + 24);
      expect(reaped.at(-1)).toBe('b5.3');
      expect(vq.numFree).toBe(num);
      inv.assertDrained();
    });
});
