// The driver model against the golden device model in one host memory, with the invariant checkers on: the
// driver adds seeded random scatter lists and kicks; the device takes chains only when it was kicked or polls
// (its notifications off), checks the bytes it reads, writes a random prefix of the writable bytes, completes
// in random order (in order under IN_ORDER, sometimes batched), publishes, and interrupts when the driver's
// suppression requires it; the driver reaps only in its interrupt callback. So a missing kick or a missing
// interrupt shows as buffers that never come back, and every byte and length is checked.
import { expect } from 'vitest';
import { Rng } from '../../../sim/random';
import { HostMemory, type Region } from '../../../tb/pcie/hostmem';
import { allocRing, createVirtqueue } from '../../../tb/virtio/ring/create';
import type { RingFeatures, Sg } from '../../../tb/virtio/ring/defs';
import { DeviceQueue, RingError, type Chain } from '../../../tb/virtio/ring/device';
import { HostDma } from '../../../tb/virtio/ring/dma';
import { RingInvariants } from '../../../tb/virtio/ring/invariants';
import type { UsedBuffer, Virtqueue } from '../../../tb/virtio/ring/virtqueue';

export interface LoopOptions {
  features: RingFeatures;
  num: number;
  seed: number;
  /** Buffers to push through. */
  requests: number;
  /** Segments per buffer: 1..maxSegs (default 4). */
  maxSegs?: number;
  /** Bytes per segment: 0..maxSegLen (default 300). */
  maxSegLen?: number;
}

export interface LoopStats {
  requests: number;
  kicks: number;
  interrupts: number;
  spurious: number;
  batches: number;
  indirect: number;
  dma: number;
  /** Times the driver's ring position wrapped (available side). */
  wraps: number;
}

interface Req {
  readonly n: number;
  readonly out: { sg: Sg; data: Uint8Array }[];
  readonly inn: Sg[];
  /** Set by the device when it completes the buffer. */
  written?: Uint8Array;
  slots: number[];
}

/** Fixed slots in two arenas (device-readable, device-writable), each segment at a random byte offset in its slot. */
class Arenas {
  private readonly free: number[][] = [[], []];
  readonly regions: Region[];
  constructor(
    mem: HostMemory,
    private readonly slotSize: number,
    slots: number,
  ) {
    this.regions = (['ro', 'wo'] as const).map((perm) =>
      mem.alloc(slotSize * slots, { perm, name: `arena-${perm}`, align: 4096 }),
    );
    for (let i = slots - 1; i >= 0; i--) {
      this.free[0].push(i);
      this.free[1].push(i);
    }
  }
  take(write: boolean, len: number, rng: Rng): { addr: bigint; slot: number } {
    const slot = this.free[write ? 1 : 0].pop();
    if (slot === undefined) throw new Error('harness: arena exhausted');
    const off = slot * this.slotSize + rng.below(this.slotSize - len);
    return { addr: this.regions[write ? 1 : 0].addr + BigInt(off), slot };
  }
  give(write: boolean, slot: number): void {
    this.free[write ? 1 : 0].push(slot);
  }
}

export function runLoop(o: LoopOptions): LoopStats {
  const rng = new Rng(o.seed);
  const maxSegs = o.maxSegs ?? 4;
  const maxSegLen = o.maxSegLen ?? 300;
  const mem = new HostMemory();
  const ring = allocRing(mem, o.num, o.features.packed);
  const dma = new HostDma(mem);
  const inv = new RingInvariants<Req>();
  inv.addRing(0, ring, o.features.packed);
  dma.listen(inv.onDma);
  const dev = new DeviceQueue({ ring, features: o.features, dma });
  // Enough slots for every descriptor of a full ring, or every segment of `num` indirect buffers.
  const arenas = new Arenas(mem, maxSegLen + 64, o.num * maxSegs + 8);
  const stats: LoopStats = {
    requests: 0,
    kicks: 0,
    interrupts: 0,
    spurious: 0,
    batches: 0,
    indirect: 0,
    dma: 0,
    wraps: 0,
  };
  let kicked = false;
  let delayedCb = false;
  const reaped: UsedBuffer<Req>[] = [];

  const reap = (vq: Virtqueue<Req>) => {
    // virtblk_done, or virtio-net's delayed variant: reap until the callback can be re-enabled with nothing pending.
    do {
      vq.disableCb();
      for (let b = vq.getBuf(); b; b = vq.getBuf()) reaped.push(b);
      if (vq.broken) throw new Error(`driver broke: ${vq.brokenReason}`);
    } while (!(delayedCb ? vq.enableCbDelayed() : vq.enableCb()));
  };
  // The device learns which request a chain is by its first readable or writable segment's address.
  const pendingByAddr = new Map<string, Req>();
  const vq = createVirtqueue<Req>({
    mem,
    ring,
    features: o.features,
    // The checker hears the driver; so does the harness, to know which request a chain the device takes is.
    observer: {
      added: (q, data, out, inn, indirect) => {
        inv.added(q, data, out, inn, indirect);
        const first = out[0] ?? inn[0];
        pendingByAddr.set(`${first.addr}:${out.length === 0}`, data);
      },
      returned: (q, data, len, fromDevice) => inv.returned(q, data, len, fromDevice),
    },
    notify: () => {
      stats.kicks++;
      kicked = true;
      return true;
    },
    callback: reap,
  });

  const checkReaped = () => {
    for (const b of reaped.splice(0)) {
      const r = b.data;
      expect(r.written, `buffer ${r.n} came back before the device completed it`).toBeDefined();
      const writable = r.inn.reduce((a, s) => a + s.len, 0);
      if (b.lenFromDevice) expect(b.len, `used length of buffer ${r.n}`).toBe(r.written!.length);
      else
        expect(b.len, `IN_ORDER batched buffer ${r.n}: Linux reports the total length`).toBe(
          writable + r.out.reduce((a, s) => a + s.sg.len, 0),
        );
      // The driver sees exactly the bytes the device wrote, from the first writable segment on.
      const got = new Uint8Array(r.written!.length);
      let pos = 0;
      for (const s of r.inn) {
        if (pos >= got.length) break;
        const n = Math.min(s.len, got.length - pos);
        got.set(mem.read(s.addr, n), pos);
        pos += n;
      }
      expect(Buffer.from(got).equals(Buffer.from(r.written!)), `data of buffer ${r.n}`).toBe(true);
      r.out.forEach((s, k) => arenas.give(false, r.slots[k]));
      r.inn.forEach((_, k) => arenas.give(true, r.slots[r.out.length + k]));
      stats.requests++;
    }
  };

  let nextN = 0;
  let lastAvailPos = 0;
  const driverAdd = () => {
    const count = rng.int(1, Math.max(1, Math.ceil(o.num / 2)));
    for (let k = 0; k < count && nextN < o.requests; k++) {
      // At most the queue size (a device driver keeps its segments to seg_max <= queue size: the spec bounds chains,
      // indirect ones included, by the queue size, and virtqueue_add does not check it).
      const nSeg = rng.int(1, Math.min(maxSegs, o.num));
      const nOut = rng.int(0, nSeg);
      const slots: number[] = [];
      const out = Array.from({ length: nOut }, () => {
        const len = rng.int(0, maxSegLen);
        const a = arenas.take(false, len, rng);
        slots.push(a.slot);
        const data = rng.bytes(len);
        mem.write(a.addr, data);
        return { sg: { addr: a.addr, len }, data };
      });
      const inn = Array.from({ length: nSeg - nOut }, () => {
        const len = rng.int(0, maxSegLen);
        const a = arenas.take(true, len, rng);
        slots.push(a.slot);
        return { addr: a.addr, len };
      });
      const req: Req = { n: nextN, out, inn, slots };
      const before = vq.numFree;
      const r = vq.add(
        out.map((x) => x.sg),
        inn,
        req,
      );
      if (r === 'ENOSPC') {
        out.forEach((_, j) => arenas.give(false, slots[j]));
        inn.forEach((_, j) => arenas.give(true, slots[out.length + j]));
        break;
      }
      expect(r).toBe('ok');
      if (before - vq.numFree === 1 && nSeg > 1) stats.indirect++;
      const descs = before - vq.numFree;
      if (lastAvailPos + descs >= o.num) stats.wraps++;
      lastAvailPos = (lastAvailPos + descs) % o.num;
      nextN++;
    }
    vq.kick();
  };

  const inflight: { chain: Chain; req: Req }[] = [];

  const deviceWork = (): boolean => {
    let progress = false;
    // New buffers only after a kick, or while the device polls (its notifications off).
    const take = !dev.notifyEnabled || kicked ? rng.int(1, o.num) : 0;
    for (let k = 0; k < take; k++) {
      const c = dev.next();
      if (c instanceof RingError) throw c;
      if (!c) {
        // Out of work: ask for kicks again, then look once more (a buffer may have come in between).
        kicked = false;
        dev.setNotify(true);
        if (!dev.hasAvailable()) break;
        continue;
      }
      if (rng.chance(0.5)) dev.setNotify(false);
      progress = true;
      // Check what the device reads against what the driver wrote (found by the chain's segments).
      const readable = dev.readData(c, 0, c.readable);
      const req = findReq(c);
      const expected = concat(req.out.map((x) => x.data));
      expect(Buffer.from(readable).equals(Buffer.from(expected)), `readable bytes of buffer ${req.n}`).toBe(true);
      inflight.push({ chain: c, req });
    }
    // Complete some: any order, or the oldest first under IN_ORDER.
    let n = rng.int(0, inflight.length);
    if (!progress && inflight.length) n = Math.max(n, 1);
    const done: { chain: Chain; req: Req }[] = [];
    for (let k = 0; k < n; k++) done.push(inflight.splice(o.features.inOrder ? 0 : rng.below(inflight.length), 1)[0]);
    for (const { chain, req } of done) {
      const len = rng.chance(0.2) ? chain.writable : rng.int(0, chain.writable);
      const data = rng.bytes(len);
      dev.writeData(chain, 0, data);
      req.written = data;
      dev.complete(chain, len);
      progress = true;
    }
    if (done.length) {
      const batch = o.features.inOrder && done.length > 1 && rng.chance(0.5);
      if (batch) stats.batches++;
      dev.publishUsed({ batch });
      if (dev.failed) throw dev.failed;
      // The driver may look at the ring between the device's used index write and its notification decision.
      if (nextN < o.requests && rng.chance(0.3)) for (let b = vq.getBuf(); b; b = vq.getBuf()) reaped.push(b);
      if (dev.notifyDecision()) {
        stats.interrupts++;
        if (rng.chance(0.3)) delayedCb = !delayedCb;
        if (!vq.interrupt()) stats.spurious++;
      }
    }
    return progress;
  };

  function findReq(c: Chain): Req {
    const first = c.segments[0];
    const key = first ? `${first.addr}:${first.write}` : '';
    const r = pendingByAddr.get(key);
    if (!r) throw new Error(`harness: the device took a chain the driver did not add (first segment ${key})`);
    pendingByAddr.delete(key);
    return r;
  }
  let idle = 0;
  while (stats.requests < o.requests) {
    const before = stats.requests + nextN + stats.kicks;
    if (nextN < o.requests && rng.chance(0.6)) driverAdd();
    const worked = deviceWork();
    checkReaped();
    // Reaping outside the callback with callbacks on (virtio-net's transmit path does): get_buf must keep the
    // event index moving. Only while buffers are still being added, so the end relies on interrupts alone.
    if (nextN < o.requests && rng.chance(0.3)) for (let b = vq.getBuf(); b; b = vq.getBuf()) reaped.push(b);
    checkReaped();
    // A spurious interrupt now and then: the driver must say IRQ_NONE or cope.
    // (Only when nothing is used: an extra interrupt with work pending would hide a missing one.)
    if (rng.chance(0.02) && !vq.moreUsed()) {
      expect(vq.interrupt(), 'IRQ_NONE for an interrupt with nothing used').toBe(false);
      stats.spurious++;
    }
    checkReaped();
    idle = worked || stats.requests + nextN + stats.kicks !== before ? 0 : idle + 1;
    if (idle > 200)
      throw new Error(
        `no progress: ${nextN} buffers added, ${stats.requests} back, ${inflight.length} in the device, ` +
          `${inv.outstanding()} outstanding, kicked=${kicked}, device notifications ${dev.notifyEnabled ? 'on' : 'off'}`,
      );
  }
  expect(inflight.length).toBe(0);
  expect(vq.numFree).toBe(o.num);
  inv.assertDrained();
  expect(inv.counts.returned).toBe(o.requests);
  stats.dma = inv.counts.dma;
  return stats;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
