// The ring driver's memory-level behaviour, case by case against what virtio_ring.c writes and reads: the exact
// descriptors, the order of the publishing writes (ring entries before avail->idx, a packed head's flags last),
// the order of the reads (used->idx before the element, packed flags before id and len, one 32-bit read of the
// device event structure), the free list, indirect tables, the callback controls and their event-index values.
import { describe, expect, test } from 'vitest';
import { HostMemory } from '../../../tb/pcie/hostmem';
import { allocRing, createVirtqueue } from '../../../tb/virtio/ring/create';
import {
  PACKED_AVAIL,
  PACKED_USED,
  SPLIT,
  VRING_AVAIL_F_NO_INTERRUPT,
  VRING_DESC_F_INDIRECT as IND,
  VRING_DESC_F_NEXT as NEXT,
  VRING_DESC_F_WRITE as WRITE,
  VRING_PACKED_EVENT_FLAG_DESC,
  VRING_PACKED_EVENT_FLAG_DISABLE,
  VRING_USED_F_NO_NOTIFY,
  type RingFeatures,
} from '../../../tb/virtio/ring/defs';

type Access = { op: 'r' | 'w'; addr: bigint; len: number };

function setup(f: Partial<RingFeatures> = {}, num = 8, callback = true) {
  const features: RingFeatures = { packed: false, indirect: false, eventIdx: false, inOrder: false, ...f };
  const mem = new HostMemory();
  const ring = allocRing(mem, num, features.packed);
  const log: Access[] = [];
  // Record the driver's CPU-side accesses in order (the ring driver uses read/write underneath every helper).
  const read = mem.read.bind(mem);
  const write = mem.write.bind(mem);
  mem.read = (a, n) => (log.push({ op: 'r', addr: BigInt(a), len: n }), read(a, n));
  mem.write = (a, d) => (log.push({ op: 'w', addr: BigInt(a), len: d.length }), write(a, d));
  let kicks = 0;
  const vq = createVirtqueue<string>({
    mem,
    ring,
    features,
    notify: () => (kicks++, true),
    callback: callback ? () => undefined : undefined,
  });
  const buf = mem.alloc(4096, { perm: 'rw' });
  const sg = (off: number, len: number) => ({ addr: buf.addr + BigInt(off), len });
  const desc = (i: number) => {
    const b = read(ring.desc + BigInt(16 * i), 16);
    const v = new DataView(b.buffer);
    return features.packed
      ? {
          addr: v.getBigUint64(0, true),
          len: v.getUint32(8, true),
          id: v.getUint16(12, true),
          flags: v.getUint16(14, true),
        }
      : {
          addr: v.getBigUint64(0, true),
          len: v.getUint32(8, true),
          flags: v.getUint16(12, true),
          next: v.getUint16(14, true),
        };
  };
  return { mem, ring, vq, buf, sg, desc, log, kicks: () => kicks, read };
}

/** Marks split used elements (id, len) and sets used->idx. */
function splitUse(s: ReturnType<typeof setup>, elems: [number, number][], from = 0) {
  elems.forEach(([id, len], k) => {
    s.mem.writeU32(s.ring.device + BigInt(SPLIT.usedRing((from + k) % s.ring.num)), id);
    s.mem.writeU32(s.ring.device + BigInt(SPLIT.usedRing((from + k) % s.ring.num) + 4), len);
  });
  s.mem.writeU16(s.ring.device + BigInt(SPLIT.usedIdx), from + elems.length);
}

describe('split driver', () => {
  test('a chain: descriptors from the free list, NEXT cleared on the last, head in the ring, then avail->idx', () => {
    const s = setup();
    expect(s.vq.add([s.sg(0, 16)], [s.sg(100, 512), s.sg(700, 1)], 'a')).toBe('ok');
    expect(s.desc(0)).toEqual({ addr: s.buf.addr, len: 16, flags: NEXT, next: 1 });
    expect(s.desc(1)).toEqual({ addr: s.buf.addr + 100n, len: 512, flags: NEXT | WRITE, next: 2 });
    expect(s.desc(2)).toEqual({ addr: s.buf.addr + 700n, len: 1, flags: WRITE, next: 3 });
    expect(s.mem.readU16(s.ring.driver + BigInt(SPLIT.availRing(0)))).toBe(0);
    expect(s.mem.readU16(s.ring.driver + BigInt(SPLIT.availIdx))).toBe(1);
    expect(s.vq.numFree).toBe(5);
    // avail->idx is the last write; the ring entry comes right before it.
    const w = s.log.filter((a) => a.op === 'w');
    expect(w.at(-1)!.addr).toBe(s.ring.driver + BigInt(SPLIT.availIdx));
    expect(w.at(-2)!.addr).toBe(s.ring.driver + BigInt(SPLIT.availRing(0)));
  });

  test('the free list: a detached chain goes back at the head, so the next buffer reuses it', () => {
    const s = setup();
    s.vq.add([s.sg(0, 1)], [], 'a'); // head 0
    s.vq.add([s.sg(0, 1), s.sg(1, 1)], [], 'b'); // heads 1, 2
    s.vq.add([s.sg(0, 1)], [], 'c'); // head 3
    splitUse(s, [[1, 0]]);
    expect(s.vq.getBuf()).toEqual({ data: 'b', len: 0, lenFromDevice: true });
    s.vq.add([s.sg(0, 1), s.sg(1, 1), s.sg(2, 1)], [], 'd');
    // Linux: free_head = 1, the list 1 -> 2 -> 4 -> 5 ...
    expect(s.mem.readU16(s.ring.driver + BigInt(SPLIT.availRing(3)))).toBe(1);
    expect([s.desc(1).next, s.desc(2).next, s.desc(4).flags & NEXT]).toEqual([2, 4, 0]);
  });

  test('indirect: one descriptor for a multi-segment buffer, the table with next = i + 1 in every entry', () => {
    const s = setup({ indirect: true });
    s.vq.add([s.sg(0, 16)], [s.sg(16, 4), s.sg(20, 1)], 'a');
    const d = s.desc(0);
    expect(d.flags).toBe(IND);
    expect(d.len).toBe(48);
    expect(s.vq.numFree).toBe(7);
    const t = s.read(d.addr, 48);
    const v = new DataView(t.buffer);
    expect([0, 1, 2].map((j) => [v.getUint16(16 * j + 12, true), v.getUint16(16 * j + 14, true)])).toEqual([
      [NEXT, 1],
      [NEXT | WRITE, 2],
      [WRITE, 3],
    ]);
    // A single segment never goes indirect.
    s.vq.add([s.sg(0, 16)], [], 'b');
    expect(s.desc(1).flags).toBe(0);
    // The table is freed when the buffer comes back.
    const regions = s.mem.regions.length;
    splitUse(s, [[0, 5]]);
    expect(s.vq.getBuf()?.data).toBe('a');
    expect(s.mem.regions.length).toBe(regions - 1);
  });

  test('ENOSPC: a buffer with readable parts forces a notify first ("for historical reasons")', () => {
    const s = setup({}, 2);
    s.vq.add([s.sg(0, 1)], [], 'a');
    s.vq.kick();
    expect(s.kicks()).toBe(1);
    expect(s.vq.add([s.sg(0, 1), s.sg(1, 1)], [], 'b')).toBe('ENOSPC');
    expect(s.kicks()).toBe(2);
    expect(s.vq.add([], [s.sg(0, 1), s.sg(1, 1)], 'c')).toBe('ENOSPC');
    expect(s.kicks()).toBe(2);
  });

  test('get_buf reads used->idx, then the element; then writes used_event', () => {
    const s = setup({ eventIdx: true });
    s.vq.add([s.sg(0, 1)], [], 'a');
    splitUse(s, [[0, 0]]);
    s.log.length = 0;
    expect(s.vq.getBuf()?.data).toBe('a');
    const used = s.ring.device;
    expect(s.log.filter((a) => a.op === 'r' && a.addr >= used).map((a) => a.addr - used)).toEqual([2n, 4n, 8n]);
    expect(s.mem.readU16(s.ring.driver + BigInt(SPLIT.usedEvent(8)))).toBe(1);
  });

  test('kick: NO_NOTIFY without EVENT_IDX; avail_event with it', () => {
    const s = setup();
    s.vq.add([s.sg(0, 1)], [], 'a');
    s.mem.writeU16(s.ring.device + BigInt(SPLIT.usedFlags), VRING_USED_F_NO_NOTIFY);
    expect(s.vq.kickPrepare()).toBe(false);
    const e = setup({ eventIdx: true });
    e.mem.writeU16(e.ring.device + BigInt(SPLIT.availEvent(8)), 1);
    e.vq.add([e.sg(0, 1)], [], 'a'); // idx 0 -> 1: event 1 not passed
    expect(e.vq.kickPrepare()).toBe(false);
    e.vq.add([e.sg(0, 1)], [], 'b'); // 1 -> 2: passes 1
    expect(e.vq.kickPrepare()).toBe(true);
  });

  test('callbacks: no callback sets NO_INTERRUPT; disable_cb, enable_cb and enable_cb_delayed as Linux writes them', () => {
    const none = setup({}, 8, false);
    expect(none.mem.readU16(none.ring.driver + BigInt(SPLIT.availFlags))).toBe(VRING_AVAIL_F_NO_INTERRUPT);
    const s = setup();
    s.vq.disableCb();
    expect(s.mem.readU16(s.ring.driver + BigInt(SPLIT.availFlags))).toBe(VRING_AVAIL_F_NO_INTERRUPT);
    expect(s.vq.enableCb()).toBe(true);
    expect(s.mem.readU16(s.ring.driver + BigInt(SPLIT.availFlags))).toBe(0);
    const e = setup({ eventIdx: true });
    const usedEvent = e.ring.driver + BigInt(SPLIT.usedEvent(8));
    e.mem.writeU16(usedEvent, 77);
    e.vq.disableCb();
    expect(e.mem.readU16(usedEvent)).toBe(0); // "TODO: this is a hack"
    for (let i = 0; i < 8; i++) e.vq.add([e.sg(i, 1)], [], `b${i}`);
    // 8 outstanding: used_event = last_used (0) + 8 * 3 / 4.
    expect(e.vq.enableCbDelayed()).toBe(true);
    expect(e.mem.readU16(usedEvent)).toBe(6);
    // Buffers already used beyond the threshold: enable_cb_delayed says false (poll again).
    splitUse(
      e,
      Array.from({ length: 7 }, (_, i) => [i, 0] as [number, number]),
    );
    expect(e.vq.enableCbDelayed()).toBe(false);
    expect(e.vq.enableCb()).toBe(false);
    expect(e.mem.readU16(usedEvent)).toBe(0);
  });

  test('an interrupt with nothing used is IRQ_NONE; with EVENT_IDX it marks event_triggered', () => {
    const e = setup({ eventIdx: true });
    expect(e.vq.interrupt()).toBe(false);
    e.vq.add([e.sg(0, 1)], [], 'a');
    splitUse(e, [[0, 0]]);
    expect(e.vq.interrupt()).toBe(true);
    // event_triggered: disable_cb only updates the shadow, used_event stays as it was.
    const usedEvent = e.ring.driver + BigInt(SPLIT.usedEvent(8));
    e.mem.writeU16(usedEvent, 9);
    e.vq.disableCb();
    expect(e.mem.readU16(usedEvent)).toBe(9);
  });

  test('detach_unused_buf: every token back, avail->idx stepped back, the ring whole again', () => {
    const s = setup({ indirect: true });
    s.vq.add([s.sg(0, 1), s.sg(1, 1)], [], 'a');
    s.vq.add([s.sg(0, 1)], [s.sg(1, 1)], 'b');
    s.vq.add([s.sg(0, 1)], [], 'c');
    const got = [s.vq.detachUnusedBuf(), s.vq.detachUnusedBuf(), s.vq.detachUnusedBuf(), s.vq.detachUnusedBuf()];
    expect(got).toEqual(['a', 'b', 'c', null]);
    expect(s.vq.numFree).toBe(8);
    expect(s.mem.readU16(s.ring.driver + BigInt(SPLIT.availIdx))).toBe(0);
  });

  test('IN_ORDER: descriptors in ring order, and a batch element stands for the buffers before it', () => {
    const s = setup({ inOrder: true }, 4);
    s.vq.add([s.sg(0, 10)], [s.sg(10, 5)], 'a'); // descriptors 0, 1
    s.vq.add([s.sg(0, 7)], [], 'b'); // 2
    s.vq.add([], [s.sg(0, 3)], 'c'); // 3
    expect([s.desc(0).next, s.desc(1).flags & NEXT]).toEqual([1, 0]);
    splitUse(s, [[3, 2]]); // one element for three buffers, id of the last
    s.mem.writeU16(s.ring.device + BigInt(SPLIT.usedIdx), 3);
    expect(s.vq.getBuf()).toEqual({ data: 'a', len: 15, lenFromDevice: false });
    expect(s.vq.getBuf()).toEqual({ data: 'b', len: 7, lenFromDevice: false });
    expect(s.vq.getBuf()).toEqual({ data: 'c', len: 2, lenFromDevice: true });
    expect(s.vq.getBuf()).toBeNull();
    // The next buffer starts at descriptor 0 again, chaining 0 -> 1 as "next is x + 1" requires.
    s.vq.add([s.sg(0, 1), s.sg(1, 1)], [], 'd');
    expect(s.mem.readU16(s.ring.driver + BigInt(SPLIT.availRing(3)))).toBe(0);
  });
});

describe('packed driver', () => {
  test('a chain: avail/used bits of the wrap counter, the same id in each descriptor, the head flags written last', () => {
    const s = setup({ packed: true }, 4);
    s.vq.add([s.sg(0, 16)], [s.sg(100, 8)], 'a');
    expect(s.desc(0)).toEqual({ addr: s.buf.addr, len: 16, id: 0, flags: PACKED_AVAIL | NEXT });
    expect(s.desc(1)).toEqual({ addr: s.buf.addr + 100n, len: 8, id: 0, flags: PACKED_AVAIL | WRITE });
    const w = s.log.filter((a) => a.op === 'w');
    expect(w.at(-1)).toEqual({ op: 'w', addr: s.ring.desc + 14n, len: 2 });
    // Across the end of the ring: positions 2, 3, 0 with the bits flipped after the wrap.
    s.vq.add([s.sg(0, 1)], [], 'b');
    s.mem.writeU16(s.ring.desc + 14n, PACKED_AVAIL | PACKED_USED); // device used 'a' (id 0) at position 0
    s.mem.writeU16(s.ring.desc + 12n, 0);
    expect(s.vq.getBuf()?.data).toBe('a');
    s.vq.add([s.sg(0, 1), s.sg(1, 1)], [], 'c'); // positions 3, 0
    expect(s.desc(3).flags).toBe(PACKED_AVAIL | NEXT);
    expect(s.desc(0).flags).toBe(PACKED_USED);
    expect(s.desc(3).id).toBe(s.desc(0).id);
  });

  test('get_buf reads the flags, then id and len; kick reads the device event structure in one 32-bit read', () => {
    const s = setup({ packed: true, eventIdx: true }, 4);
    s.vq.add([s.sg(0, 1)], [], 'a');
    s.log.length = 0;
    s.vq.kickPrepare();
    expect(s.log.filter((a) => a.op === 'r')).toEqual([{ op: 'r', addr: s.ring.device, len: 4 }]);
    s.mem.writeU16(s.ring.desc + 14n, PACKED_AVAIL | PACKED_USED);
    s.log.length = 0;
    expect(s.vq.getBuf()?.data).toBe('a');
    expect(s.log.filter((a) => a.op === 'r').map((a) => [a.addr - s.ring.desc, a.len])).toEqual([
      [14n, 2],
      [12n, 2],
      [8n, 4],
    ]);
  });

  test('callbacks: no callback writes DISABLE; enable_cb with EVENT_IDX writes off_wrap then DESC', () => {
    const none = setup({ packed: true }, 4, false);
    expect(none.mem.readU16(none.ring.driver + 2n)).toBe(VRING_PACKED_EVENT_FLAG_DISABLE);
    const s = setup({ packed: true, eventIdx: true }, 4);
    s.vq.disableCb();
    expect(s.mem.readU16(s.ring.driver + 2n)).toBe(VRING_PACKED_EVENT_FLAG_DISABLE);
    s.log.length = 0;
    expect(s.vq.enableCb()).toBe(true);
    const w = s.log.filter((a) => a.op === 'w').map((a) => a.addr - s.ring.driver);
    expect(w).toEqual([0n, 2n]);
    expect(s.mem.readU16(s.ring.driver)).toBe(0x8000); // position 0, used wrap counter 1
    expect(s.mem.readU16(s.ring.driver + 2n)).toBe(VRING_PACKED_EVENT_FLAG_DESC);
    // enable_cb_delayed: 3/4 of the descriptors in use past the next used position, wrapping the counter.
    for (let i = 0; i < 3; i++) s.vq.add([s.sg(0, 1)], [], `b${i}`);
    s.vq.disableCb();
    s.mem.writeU16(s.ring.desc + 14n, PACKED_AVAIL | PACKED_USED);
    expect(s.vq.getBuf()?.data).toBe('b0');
    for (let i = 3; i < 5; i++) s.vq.add([s.sg(0, 1)], [], `b${i}`); // positions 3, 0
    expect(s.vq.enableCbDelayed()).toBe(true);
    // 4 in use -> bufs 3; next used position 1 (wrap 1) + 3 = 4 -> position 0, wrap 0.
    expect(s.mem.readU16(s.ring.driver)).toBe(0);
  });

  test('the free list of ids: a returned id is reused first', () => {
    const s = setup({ packed: true }, 4);
    s.vq.add([s.sg(0, 1)], [], 'a'); // id 0
    s.vq.add([s.sg(0, 1)], [], 'b'); // id 1
    // The device uses 'b' first, at position 0.
    s.mem.writeU16(s.ring.desc + 12n, 1);
    s.mem.writeU16(s.ring.desc + 14n, PACKED_AVAIL | PACKED_USED);
    expect(s.vq.getBuf()?.data).toBe('b');
    s.vq.add([s.sg(0, 1)], [], 'c');
    expect(s.desc(2).id).toBe(1);
  });
});

describe('notification data (VIRTIO_F_NOTIFICATION_DATA, vring_notification_data)', () => {
  test('split: the next available index above the queue index', () => {
    const { vq, sg } = setup({}, 4);
    expect(vq.notificationData()).toBe(0);
    for (let i = 0; i < 3; i++) expect(vq.add([sg(16 * i, 8)], [], `b${i}`)).toBe('ok');
    expect(vq.notificationData()).toBe(3 << 16);
  });
  test('packed: the next descriptor offset and the wrap counter in bit 15 (0 after the first lap)', () => {
    const { vq, sg } = setup({ packed: true }, 3);
    // Wrap counter 1 at creation, so bit 31 of the data is set.
    expect(vq.notificationData() >>> 0).toBe(0x8000_0000);
    expect(vq.add([sg(0, 8), sg(16, 8)], [], 'a')).toBe('ok');
    expect(vq.notificationData() >>> 16).toBe(0x8002);
    expect(vq.add([sg(32, 8)], [], 'b')).toBe('ok');
    // Three descriptors in a ring of three: the next offset is 0 of the second lap, with wrap counter 0.
    expect(vq.notificationData() >>> 16).toBe(0);
  });
});
