// A randomized workload on the split queue engine: the Linux-faithful driver model (tb/virtio/ring) adds seeded
// random scatter lists on every queue and kicks; the test plays the device: each chain the engine hands over is
// compared with what the golden DeviceQueue takes next from the same ring (id, segments, descriptors), then
// completed in random order (oldest first under IN_ORDER) after writing a random prefix of its writable bytes
// into host memory. The driver reaps only in its interrupt callback, run when the engine's irq_queue fired, so
// a missing interrupt (or a missing kick) shows as buffers that never come back; every byte and length is
// checked, and the root complex checks every DMA against the memory's permissions.
import { expect } from 'vitest';
import { Rng } from '../../sim/random';
import type { HostMemory, Region } from '../../tb/pcie/hostmem';
import { allocRing, createVirtqueue } from '../../tb/virtio/ring/create';
import type { RingFeatures, Sg } from '../../tb/virtio/ring/defs';
import { type Chain, DeviceQueue, RingError } from '../../tb/virtio/ring/device';
import { HostDma } from '../../tb/virtio/ring/dma';
import type { UsedBuffer, Virtqueue } from '../../tb/virtio/ring/virtqueue';
import { QUEUES, type RtlChain, type SplitBench } from './split_support';

export interface SplitLoopOptions {
  features: RingFeatures;
  /** Queue size of each queue (powers of two). */
  nums: readonly number[];
  seed: number;
  requests: number;
  maxSegs?: number;
  maxSegLen?: number;
  /** Probability that the device completes nothing in a round (lets completions pile up). */
  hold?: number;
}

export interface SplitLoopStats {
  requests: number;
  kicks: number;
  interrupts: number;
  indirect: number;
  cycles: number;
}

interface Req {
  readonly n: number;
  readonly queue: number;
  readonly out: { sg: Sg; data: Uint8Array }[];
  readonly inn: Sg[];
  written?: Uint8Array;
  readonly regions: Region[];
}

interface QueueSide {
  vq: Virtqueue<Req>;
  golden: DeviceQueue;
  inflight: { chain: RtlChain; golden: Chain; req: Req }[];
  irqSeen: number;
}

export function runSplitLoop(b: SplitBench, o: SplitLoopOptions): SplitLoopStats {
  const rng = new Rng(o.seed);
  const maxSegs = o.maxSegs ?? 4;
  const maxSegLen = o.maxSegLen ?? 300;
  const mem: HostMemory = b.rc.mem;
  const dma = new HostDma(mem);
  const stats: SplitLoopStats = { requests: 0, kicks: 0, interrupts: 0, indirect: 0, cycles: 0 };
  const start = b.rc.now;
  const reaped: UsedBuffer<Req>[] = [];
  const byAddr = new Map<string, Req>();
  b.setFeatures(o.features);
  const qs: QueueSide[] = o.nums.map((num, i) => {
    const ring = allocRing(mem, num, false, i);
    b.setQueue(i, ring);
    const vq = createVirtqueue<Req>({
      mem,
      index: i,
      ring,
      features: o.features,
      observer: {
        added: (_q, data, out, inn) => {
          const first = out[0] ?? inn[0];
          byAddr.set(`${i}:${first.addr}:${out.length === 0}`, data);
        },
      },
      notify: () => {
        stats.kicks++;
        b.kick(i);
        return true;
      },
      callback: (q) => {
        do {
          q.disableCb();
          for (let x = q.getBuf(); x; x = q.getBuf()) reaped.push(x);
          if (q.broken) throw new Error(`driver broke: ${q.brokenReason}`);
        } while (!q.enableCb());
      },
    });
    const golden = new DeviceQueue({ index: i, ring, features: o.features, dma });
    return { vq, golden, inflight: [], irqSeen: 0 };
  });

  const checkReaped = () => {
    for (const x of reaped.splice(0)) {
      const r = x.data;
      expect(r.written, `buffer ${r.n} came back before the device completed it`).toBeDefined();
      if (x.lenFromDevice) expect(x.len, `used length of buffer ${r.n}`).toBe(r.written!.length);
      else
        expect(x.len, `IN_ORDER batched buffer ${r.n}: Linux reports the total length`).toBe(
          r.inn.reduce((a, s) => a + s.len, 0) + r.out.reduce((a, s) => a + s.sg.len, 0),
        );
      const got = new Uint8Array(r.written!.length);
      let pos = 0;
      for (const s of r.inn) {
        if (pos >= got.length) break;
        const n = Math.min(s.len, got.length - pos);
        got.set(mem.read(s.addr, n), pos);
        pos += n;
      }
      expect(Buffer.from(got).equals(Buffer.from(r.written!)), `data of buffer ${r.n}`).toBe(true);
      for (const g of r.regions) mem.unmap(g);
      stats.requests++;
    }
  };

  let nextN = 0;
  const driverAdd = () => {
    const qi = rng.below(QUEUES);
    const q = qs[qi];
    const count = rng.int(1, Math.max(1, Math.ceil(q.vq.num / 2)));
    for (let k = 0; k < count && nextN < o.requests; k++) {
      const nSeg = rng.int(1, Math.min(maxSegs, q.vq.num));
      const nOut = rng.int(0, nSeg);
      const regions: Region[] = [];
      const seg = (perm: 'ro' | 'wo', len: number) => {
        // A buffer of its own at a random byte offset: the root complex faults any access outside it.
        const off = rng.below(64);
        const r = mem.alloc(off + len + 1, { perm, align: 64, name: `buf${nextN}` });
        regions.push(r);
        return r.addr + BigInt(off);
      };
      const out = Array.from({ length: nOut }, () => {
        const len = rng.int(0, maxSegLen);
        const addr = seg('ro', len);
        const data = rng.bytes(len);
        mem.write(addr, data);
        return { sg: { addr, len }, data };
      });
      const inn = Array.from({ length: nSeg - nOut }, () => {
        const len = rng.int(0, maxSegLen);
        return { addr: seg('wo', len), len };
      });
      const req: Req = { n: nextN, queue: qi, out, inn, regions };
      const before = q.vq.numFree;
      const r = q.vq.add(
        out.map((x) => x.sg),
        inn,
        req,
      );
      if (r === 'ENOSPC') {
        for (const g of regions) mem.unmap(g);
        break;
      }
      expect(r).toBe('ok');
      if (before - q.vq.numFree === 1 && nSeg > 1) stats.indirect++;
      nextN++;
    }
    q.vq.kick();
  };

  const takeChains = (): boolean => {
    const got = b.takeChains();
    for (const c of got) {
      const q = qs[c.queue];
      const g = q.golden.next();
      if (g instanceof RingError) throw g;
      expect(g, `queue ${c.queue}: the engine handed over a chain the golden model does not see`).not.toBeNull();
      const gc = g!;
      expect({ id: c.id, slots: c.slots, segments: c.segments }, `queue ${c.queue} chain`).toEqual({
        id: gc.id,
        slots: gc.descs,
        segments: gc.segments.map((s) => ({ addr: s.addr, len: s.len, write: s.write })),
      });
      const first = gc.segments[0];
      const key = `${c.queue}:${first.addr}:${first.write}`;
      const req = byAddr.get(key);
      if (!req) throw new Error(`the engine handed over a chain the driver did not add (${key})`);
      byAddr.delete(key);
      q.inflight.push({ chain: c, golden: gc, req });
    }
    return got.length > 0;
  };

  const deviceComplete = (): boolean => {
    if (rng.chance(o.hold ?? 0.3)) return false;
    let any = false;
    for (const q of qs) {
      let n = rng.int(0, q.inflight.length);
      while (n-- > 0) {
        const k = o.features.inOrder ? 0 : rng.below(q.inflight.length);
        const [x] = q.inflight.splice(k, 1);
        const writable = x.golden.writable;
        const len = rng.chance(0.2) ? writable : rng.int(0, writable);
        const data = rng.bytes(len);
        let pos = 0;
        for (const s of x.golden.segments) {
          if (!s.write || pos >= len) continue;
          const m = Math.min(s.len, len - pos);
          mem.write(s.addr, data.subarray(pos, pos + m));
          pos += m;
        }
        x.req.written = data;
        b.complete(x.chain, len);
        any = true;
      }
    }
    return any;
  };

  const interrupts = (): boolean => {
    let any = false;
    qs.forEach((q, i) => {
      const c = b.irqCount(i);
      if (c === q.irqSeen) return;
      // The test top does not hold the interrupt behind the transmit path (the data-plane top does): let the
      // publishing write reach host memory first.
      b.rc.runFor(40);
      q.irqSeen = b.irqCount(i);
      stats.interrupts++;
      q.vq.interrupt();
      any = true;
    });
    return any;
  };

  let idle = 0;
  while (stats.requests < o.requests) {
    const before = stats.requests + nextN;
    if (nextN < o.requests && rng.chance(0.5)) driverAdd();
    b.rc.runFor(rng.int(20, 400));
    let progress = takeChains();
    progress = deviceComplete() || progress;
    progress = interrupts() || progress;
    checkReaped();
    expect(b.fatalCount(), 'fatal_error on a well-formed ring').toBe(0);
    idle = progress || stats.requests + nextN !== before ? 0 : idle + 1;
    if (idle > 200)
      throw new Error(
        `no progress at cycle ${b.rc.now}: ${nextN} buffers added, ${stats.requests} back, in the device ` +
          `${qs.map((q) => q.inflight.length).join('/')}, busy ${b.sim.peek('busy')}`,
      );
  }
  for (const q of qs) {
    expect(q.inflight.length).toBe(0);
    expect(q.vq.numFree).toBe(q.vq.num);
    expect(q.golden.next(), 'nothing left for the golden model').toBeNull();
  }
  expect(b.rc.violations).toEqual([]);
  stats.cycles = b.rc.now - start;
  return stats;
}
