// A randomized workload for the packed-ring engine: the Linux-faithful driver model (tb/virtio/ring) adds seeded
// random scatter lists on several queues and kicks; the test plays the device on the engine's `chain` / `done`
// ports (checks each chain against the golden DeviceQueue, checks the bytes it may read, writes a random prefix
// of the writable bytes, completes in random order, or oldest first under IN_ORDER); the driver reaps only in
// its interrupt callback, so a missing interrupt shows as buffers that never come back. At the end the used
// elements the engine wrote must be the golden model's, element for element.
import { expect } from 'vitest';
import { Rng } from '../../sim/random';
import type { Region } from '../../tb/pcie/hostmem';
import { memReqByteRange } from '../../tb/pcie/tlp';
import { allocRing, createVirtqueue } from '../../tb/virtio/ring/create';
import { ringFeatures, type Sg } from '../../tb/virtio/ring/defs';
import { DeviceQueue, RingError, type Chain } from '../../tb/virtio/ring/device';
import type { UsedBuffer, Virtqueue } from '../../tb/virtio/ring/virtqueue';
import { GoldenDma, packedFeatures, type PackedBench, type RtlChain, type UsedRecord } from './packed-support';

export interface WorkloadOptions {
  features: { indirect?: boolean; eventIdx?: boolean; inOrder?: boolean };
  /** Queue sizes, one per queue (any size: packed rings need no power of two). */
  sizes: number[];
  requests: number;
  seed: number;
  maxSegs?: number;
  maxSegLen?: number;
}

export interface WorkloadStats {
  requests: number;
  kicks: number;
  interrupts: number;
  spurious: number;
  chains: number;
  indirect: number;
  /** Times a queue's available side wrapped. */
  wraps: number;
  /** IN_ORDER: used elements that stood for more than one buffer; buffers returned without an element. */
  batches: number;
  skipped: number;
  /** Writes of several used elements at once (packed_used.ts batches: longer than one element's id and len). */
  usedBatchWrites: number;
  cycles: number;
}

interface Req {
  readonly n: number;
  readonly q: number;
  readonly out: { sg: Sg; data: Uint8Array }[];
  readonly inn: Sg[];
  readonly regions: Region[];
  written?: Uint8Array;
}

export function runWorkload(b: PackedBench, o: WorkloadOptions): WorkloadStats {
  const rng = new Rng(o.seed);
  const mem = b.mem;
  const maxSegs = o.maxSegs ?? 4;
  const maxSegLen = o.maxSegLen ?? 300;
  const mask = packedFeatures(o.features);
  const features = ringFeatures(mask);
  const stats: WorkloadStats = {
    requests: 0,
    kicks: 0,
    interrupts: 0,
    spurious: 0,
    chains: 0,
    indirect: 0,
    wraps: 0,
    batches: 0,
    skipped: 0,
    usedBatchWrites: 0,
    cycles: 0,
  };
  const start = b.sim.cycle;
  const fatals = b.fatal.count;
  b.setFeatures(mask);
  const reaped: UsedBuffer<Req>[] = [];
  const pendingByAddr = new Map<string, Req>();
  const goldenDma = new GoldenDma(mem);
  const queues = o.sizes.map((num, q) => {
    const ring = allocRing(mem, num, true, q);
    const golden = new DeviceQueue({ index: q, ring, features, dma: goldenDma });
    let delayed = false;
    const vq = createVirtqueue<Req>({
      mem,
      index: q,
      ring,
      features,
      notify: () => {
        stats.kicks++;
        b.notify(q);
        return true;
      },
      callback: (v: Virtqueue<Req>) => {
        // virtblk_done (or virtio-net's delayed variant): reap until the callback is back on with nothing pending
        do {
          v.disableCb();
          for (let x = v.getBuf(); x; x = v.getBuf()) reaped.push(x);
          if (v.broken) throw new Error(`driver broke: ${v.brokenReason}`);
        } while (!(delayed ? v.enableCbDelayed() : v.enableCb()));
        if (rng.chance(0.3)) delayed = !delayed;
      },
      observer: {
        added: (_, data, out, inn) => {
          const first = out[0] ?? inn[0];
          pendingByAddr.set(`${first.addr}`, data);
        },
      },
    });
    b.setQueue(q, ring);
    return { ring, golden, vq, lastPos: 0, irqSeen: 0 };
  });
  b.driverOk(true);

  let nextN = 0;
  const driverAdd = (q: number) => {
    const Q = queues[q];
    const count = rng.int(1, Math.max(1, Math.ceil(Q.ring.num / 2)));
    for (let k = 0; k < count && nextN < o.requests; k++) {
      const nSeg = rng.int(1, Math.min(maxSegs, Q.ring.num));
      const nOut = rng.int(0, nSeg);
      const regions: Region[] = [];
      const seg = (write: boolean): Sg => {
        const len = rng.int(0, maxSegLen);
        const r = mem.alloc(len + 16, { perm: write ? 'wo' : 'ro', name: `req${nextN}` });
        regions.push(r);
        return { addr: r.addr + BigInt(rng.int(0, 15)), len };
      };
      const out = Array.from({ length: nOut }, () => {
        const sg = seg(false);
        const data = rng.bytes(sg.len);
        mem.write(sg.addr, data);
        return { sg, data };
      });
      const inn = Array.from({ length: nSeg - nOut }, () => seg(true));
      const req: Req = { n: nextN, q, out, inn, regions };
      const before = Q.vq.numFree;
      const r = Q.vq.add(
        out.map((x) => x.sg),
        inn,
        req,
      );
      if (r === 'ENOSPC') {
        for (const x of regions) mem.unmap(x);
        break;
      }
      expect(r).toBe('ok');
      const descs = before - Q.vq.numFree;
      if (descs === 1 && nSeg > 1) stats.indirect++;
      if (Q.lastPos + descs >= Q.ring.num) stats.wraps++;
      Q.lastPos = (Q.lastPos + descs) % Q.ring.num;
      nextN++;
    }
    Q.vq.kick();
  };

  const inflight: { chain: Chain; rtl: RtlChain; req: Req }[] = [];
  // IN_ORDER: the engine may write one element for a run of buffers; the golden model publishes the same runs
  // at the end, as the engine's elements delimit them (each run checked there).
  const completed: { chain: Chain; len: number }[][] = queues.map(() => []);
  const takeChains = (): boolean => {
    const got = b.takeChains();
    for (const c of got) {
      const g = queues[c.queue].golden.next();
      if (g instanceof RingError) throw new Error(`the engine handed out a chain where the golden model failed: ${g}`);
      expect(g, `queue ${c.queue}: the engine handed out a chain the golden model does not see`).not.toBeNull();
      const chain = g!;
      expect({ id: c.id, slots: c.slots, segments: c.segments }, `queue ${c.queue} chain at ${chain.avail}`).toEqual({
        id: chain.id,
        slots: chain.descs,
        segments: chain.segments.map((s) => ({ addr: s.addr, len: s.len, write: s.write })),
      });
      const first = chain.segments[0];
      const req = pendingByAddr.get(`${first.addr}`);
      if (!req) throw new Error(`a chain the driver did not add (first segment 0x${first.addr.toString(16)})`);
      pendingByAddr.delete(`${first.addr}`);
      // what the device may read is what the driver wrote
      const readable = concat(chain.segments.filter((s) => !s.write).map((s) => mem.read(s.addr, s.len)));
      expect(
        Buffer.from(readable).equals(Buffer.from(concat(req.out.map((x) => x.data)))),
        `readable bytes of request ${req.n}`,
      ).toBe(true);
      inflight.push({ chain, rtl: c, req });
      stats.chains++;
    }
    return got.length > 0;
  };

  const complete = (): boolean => {
    if (!inflight.length) return false;
    const n = rng.int(1, inflight.length);
    for (let k = 0; k < n; k++) {
      let i = rng.below(inflight.length);
      // IN_ORDER: the oldest of its queue first
      if (o.features.inOrder) i = inflight.findIndex((x) => x.rtl.queue === inflight[i].rtl.queue);
      const { chain, rtl, req } = inflight.splice(i, 1)[0];
      const len = rng.chance(0.2) ? chain.writable : rng.int(0, chain.writable);
      const data = rng.bytes(len);
      let pos = 0;
      for (const s of chain.segments) {
        if (!s.write || pos >= len) continue;
        const m = Math.min(s.len, len - pos);
        mem.write(s.addr, data.subarray(pos, pos + m));
        pos += m;
      }
      req.written = data;
      if (o.features.inOrder) completed[rtl.queue].push({ chain, len });
      else {
        const g = queues[rtl.queue].golden;
        g.complete(chain, len);
        g.publishUsed();
      }
      b.done({ queue: rtl.queue, id: rtl.id, slots: rtl.slots, len });
    }
    return true;
  };

  const interrupts = () => {
    queues.forEach((Q, q) => {
      const now = b.irq[q].count;
      for (; Q.irqSeen < now; Q.irqSeen++) {
        stats.interrupts++;
        if (!Q.vq.interrupt()) stats.spurious++;
      }
    });
  };

  const checkReaped = () => {
    for (const x of reaped.splice(0)) {
      const r = x.data;
      expect(r.written, `request ${r.n} came back before the device completed it`).toBeDefined();
      if (x.lenFromDevice) expect(x.len, `used length of request ${r.n}`).toBe(r.written!.length);
      else {
        // returned in an IN_ORDER batch without an element of its own: the device must have used it completely
        expect(o.features.inOrder, `request ${r.n} came back without a used element`).toBe(true);
        const writable = r.inn.reduce((a, sg) => a + sg.len, 0);
        expect(r.written!.length, `request ${r.n} skipped in a batch: bytes written of ${writable}`).toBe(writable);
        stats.skipped++;
      }
      const got = new Uint8Array(r.written!.length);
      let pos = 0;
      for (const s of r.inn) {
        if (pos >= got.length) break;
        const m = Math.min(s.len, got.length - pos);
        got.set(mem.read(s.addr, m), pos);
        pos += m;
      }
      expect(Buffer.from(got).equals(Buffer.from(r.written!)), `data of request ${r.n}`).toBe(true);
      for (const reg of r.regions) mem.unmap(reg);
      stats.requests++;
    }
  };

  let idle = 0;
  while (stats.requests < o.requests) {
    const before = stats.requests + nextN + stats.chains;
    if (nextN < o.requests && rng.chance(0.5)) driverAdd(rng.below(queues.length));
    b.run(rng.int(20, 400));
    const took = takeChains();
    const completed = rng.chance(0.7) || !took ? complete() : false;
    interrupts();
    checkReaped();
    expect(b.fatal.count - fatals, `fatal error, code ${b.fatalCode()}`).toBe(0);
    idle = took || completed || stats.requests + nextN + stats.chains !== before ? 0 : idle + 1;
    if (idle > 100)
      throw new Error(
        `no progress: ${nextN} requests added, ${stats.requests} back, ${inflight.length} at the device, ` +
          `${stats.chains} chains, busy=${b.sim.peek('busy')}, cycle ${b.sim.cycle}`,
      );
  }
  // Quiet: nothing more on the link; then the used elements, queue by queue, must be the golden model's.
  b.run(2000);
  expect(b.sim.peek('busy'), 'engine idle at the end').toBe(0n);
  const rtl = b.usedRecords();
  stats.usedBatchWrites = b.ringWrites().filter((w) => memReqByteRange(w).bytes > 6).length;
  queues.forEach((Q, q) => {
    const inRing = (r: UsedRecord) => r.at >= Q.ring.desc && r.at < Q.ring.desc + BigInt(16 * Q.ring.num);
    if (o.features.inOrder) {
      const runs = completed[q];
      for (const e of rtl.filter(inRing)) {
        const k = runs.findIndex((x) => x.chain.id === e.id);
        expect(
          k,
          `queue ${q}: a used element for buffer ${e.id}, not completed or out of order`,
        ).toBeGreaterThanOrEqual(0);
        for (const x of runs.splice(0, k + 1)) Q.golden.complete(x.chain, x.len);
        Q.golden.publishUsed({ batch: true });
        if (k > 0) stats.batches++;
      }
      expect(runs, `queue ${q}: buffers completed after the last used element`).toEqual([]);
    }
    expect(rtl.filter(inRing), `used elements of queue ${q}`).toEqual(goldenDma.records.filter(inRing));
    expect(Q.vq.numFree).toBe(Q.ring.num);
  });
  expect(b.rc.violations).toEqual([]);
  stats.cycles = b.sim.cycle - start;
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
