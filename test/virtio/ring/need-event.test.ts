// vring_need_event at the 16-bit wrap, against a brute-force reading of what it means, and the packed ring's
// use of it with off_wrap at ring wrap boundaries (the driver's kick decision and the device's interrupt decision).
import { describe, expect, test } from 'vitest';
import { HostMemory } from '../../../tb/pcie/hostmem';
import { allocRing, createVirtqueue } from '../../../tb/virtio/ring/create';
import { vringNeedEvent, VRING_PACKED_EVENT_FLAG_DESC } from '../../../tb/virtio/ring/defs';
import { DeviceQueue } from '../../../tb/virtio/ring/device';
import { HostDma } from '../../../tb/virtio/ring/dma';

/** Whether one of the indices old, old+1, ..., new-1 (mod 2^16) is `event`. */
function passed(event: number, nw: number, old: number): boolean {
  for (let i = old; i !== nw; i = (i + 1) & 0xffff) if (i === event) return true;
  return false;
}

describe('vring_need_event', () => {
  test('fixed cases at the 16-bit wrap', () => {
    expect(vringNeedEvent(0xffff, 0, 0xfffe)).toBe(true);
    expect(vringNeedEvent(0, 1, 0xffff)).toBe(true);
    expect(vringNeedEvent(0xfffe, 0, 0xffff)).toBe(false);
    expect(vringNeedEvent(0, 0, 0xffff)).toBe(false);
    expect(vringNeedEvent(5, 5, 5)).toBe(false); // nothing moved
    expect(vringNeedEvent(4, 5, 4)).toBe(true);
  });

  test('matches the brute force around the wrap and around zero', () => {
    let checked = 0;
    for (const base of [0xffe0, 0xfff8, 0, 0x7ff8])
      for (let o = 0; o < 24; o++)
        for (let k = 0; k <= 20; k++) {
          const old = (base + o) & 0xffff;
          const nw = (old + k) & 0xffff;
          for (let e = -4; e <= 24; e++) {
            const ev = (old + e) & 0xffff;
            expect(vringNeedEvent(ev, nw, old), `event ${ev} new ${nw} old ${old}`).toBe(passed(ev, nw, old));
            checked++;
          }
        }
    expect(checked).toBeGreaterThan(40000);
  });
});

describe('packed off_wrap arithmetic at ring wraps', () => {
  // Absolute positions: lap L, position p; the driver's wrap counter on lap L is 1 ^ (L & 1).
  const wrapOf = (abs: number, num: number) => 1 ^ (Math.floor(abs / num) & 1);

  for (const num of [1, 2, 3, 5])
    test(`driver kicks exactly when it passes the device's off_wrap (queue ${num})`, () => {
      let kicksChecked = 0;
      for (let start = 0; start < 3 * num; start++)
        for (let k = 1; k <= num; k++)
          for (let evAbs = start - num; evAbs < start + 2 * num; evAbs++) {
            if (evAbs < 0) continue;
            const mem = new HostMemory();
            const ring = allocRing(mem, num, true);
            const vq = createVirtqueue<number>({
              mem,
              ring,
              features: { packed: true, indirect: false, eventIdx: true, inOrder: false },
              notify: () => true,
              callback: () => undefined,
            });
            // Age the ring to `start` (add and reap through a fake used write), then add k buffers.
            const buf = mem.alloc(64, { perm: 'rw' });
            let abs = 0;
            for (; abs < start; abs++) {
              expect(vq.add([{ addr: buf.addr, len: 1 }], [], abs)).toBe('ok');
              const pos = abs % num;
              mem.writeU16(ring.desc + BigInt(16 * pos + 14), wrapOf(abs, num) ? 0x8080 : 0);
              expect(vq.getBuf()?.data).toBe(abs);
            }
            vq.kickPrepare();
            const evPos = evAbs % num;
            mem.writeU16(ring.device, evPos | (wrapOf(evAbs, num) << 15));
            mem.writeU16(ring.device + 2n, VRING_PACKED_EVENT_FLAG_DESC);
            for (let j = 0; j < k; j++) expect(vq.add([{ addr: buf.addr, len: 1 }], [], 1000 + j)).toBe('ok');
            // Only events within one ring's reach are meaningful (a position names one lap of two).
            const want = evAbs >= start && evAbs < start + k;
            if (Math.abs(evAbs - start) < num || want) {
              expect(vq.kickPrepare(), `start ${start} k ${k} event ${evAbs}`).toBe(want);
              kicksChecked++;
            }
          }
      expect(kicksChecked).toBeGreaterThan(num * num);
    });

  test('device interrupts exactly when the used position passes the driver off_wrap', () => {
    const num = 5;
    let checked = 0;
    for (let start = 0; start < 3 * num; start++)
      for (let k = 1; k <= num; k++)
        for (let evAbs = Math.max(0, start - num + 1); evAbs < start + num; evAbs++) {
          const mem = new HostMemory();
          const ring = allocRing(mem, num, true);
          const features = { packed: true, indirect: false, eventIdx: true, inOrder: false };
          const dev = new DeviceQueue({ ring, features, dma: new HostDma(mem) });
          const vq = createVirtqueue<number>({ mem, ring, features, notify: () => true, callback: () => undefined });
          const buf = mem.alloc(64, { perm: 'rw' });
          const take = (n: number) => {
            for (let j = 0; j < n; j++) {
              const c = dev.next();
              if (!c || c instanceof Error) throw new Error(`no chain: ${String(c)}`);
              dev.complete(c, 0);
            }
          };
          for (let j = 0; j < start; j++) {
            vq.add([], [{ addr: buf.addr, len: 4 }], j);
            take(1);
            dev.publish();
            expect(vq.getBuf()?.data).toBe(j);
          }
          for (let j = 0; j < k; j++) vq.add([], [{ addr: buf.addr, len: 4 }], j);
          take(k);
          mem.writeU16(ring.driver, (evAbs % num) | (wrapOf(evAbs, num) << 15));
          mem.writeU16(ring.driver + 2n, VRING_PACKED_EVENT_FLAG_DESC);
          expect(dev.publish().notify, `start ${start} k ${k} event ${evAbs}`).toBe(
            evAbs >= start && evAbs < start + k,
          );
          checked++;
        }
    expect(checked).toBeGreaterThan(200);
  });
});
