// The split queue engine's reads ahead (gen/virtq/split_engine.ts, docs/queue-engine.md "Split rings"): many
// chains' descriptors read at once, so a full ring goes to the device in a few host round trips rather than one
// or more per chain; the entries' window and slots reused across the ring's end with small queues; and queue and
// device resets taking hold while many reads ahead are outstanding (the engine waits for them, forgets the
// queue, and a ring set up again afterwards is served from index 0 with nothing stale). Each with INDIRECT_DESC
// declined and negotiated (then every chain is one INDIRECT descriptor, as Linux's virtio-blk requests: the
// tables are read ahead too, so the first test fails if each chain waits a round trip for its table).
import { afterEach, beforeAll, describe, expect, test } from 'vitest';
import { SPLIT_TEST_WIDTHS } from '../../gen/virtq/split_test_top';
import { allocRing, createVirtqueue, type RingMemory } from '../../tb/virtio/ring/create';
import { SPLIT, type RingFeatures } from '../../tb/virtio/ring/defs';
import { DeviceQueue, RingError } from '../../tb/virtio/ring/device';
import { HostDma } from '../../tb/virtio/ring/dma';
import type { Virtqueue } from '../../tb/virtio/ring/virtqueue';
import {
  bootSplit,
  buildSplitSim,
  closeSplitBenches,
  type RtlChain,
  type SplitBench,
  splitPorts,
} from './split_support';
import { runSplitStream } from './split_stream';

afterEach(closeSplitBenches);

const FEATURES: RingFeatures[] = [
  { packed: false, indirect: false, eventIdx: true, inOrder: false },
  { packed: false, indirect: true, eventIdx: true, inOrder: false },
];
const LATENCY = 250;

interface Q {
  vq: Virtqueue<number>;
  ring: RingMemory;
  golden: DeviceQueue;
  got: number[];
}

function queue(b: SplitBench, num: number, F: RingFeatures): Q {
  const mem = b.rc.mem;
  const ring = allocRing(mem, num, false, 0);
  b.setQueue(0, ring);
  const got: number[] = [];
  const vq = createVirtqueue<number>({
    mem,
    index: 0,
    ring,
    features: F,
    notify: () => (b.kick(0), true),
    callback: (q) => {
      do {
        q.disableCb();
        for (let x = q.getBuf(); x; x = q.getBuf()) got.push(x.data);
      } while (!q.enableCb());
    },
  });
  return { vq, ring, got, golden: new DeviceQueue({ index: 0, ring, features: F, dma: new HostDma(mem) }) };
}

/** virtio-blk shaped requests: a readable header, a writable data buffer, a writable status byte. */
function addRequests(b: SplitBench, q: Q, tokens: number[]): void {
  const mem = b.rc.mem;
  for (const t of tokens) {
    const h = mem.alloc(16, { perm: 'ro', name: `h${t}` });
    const d = mem.alloc(512, { perm: 'wo', name: `d${t}` });
    const s = mem.alloc(1, { perm: 'wo', name: `s${t}` });
    const r = q.vq.add(
      [{ addr: h.addr, len: 16 }],
      [
        { addr: d.addr, len: 512 },
        { addr: s.addr, len: 1 },
      ],
      t,
    );
    expect(r).toBe('ok');
  }
  q.vq.kick();
}

function checkGolden(q: Q, cs: RtlChain[]): void {
  for (const c of cs) {
    const g = q.golden.next();
    if (g instanceof RingError) throw g;
    expect({ id: c.id, slots: c.slots, segments: c.segments }).toEqual({
      id: g?.id,
      slots: g?.descs,
      segments: g?.segments.map((x) => ({ addr: x.addr, len: x.len, write: x.write })),
    });
  }
}

const usedIdx = (b: SplitBench, q: Q) => b.rc.mem.readU16(q.ring.device + BigInt(SPLIT.usedIdx));

describe.each(
  SPLIT_TEST_WIDTHS.flatMap((W) =>
    FEATURES.map((F) => ({ W, F, name: `${W}-bit, INDIRECT ${F.indirect ? 'on' : 'off'}` })),
  ),
)('split queue engine reading ahead, $name', ({ W, F }) => {
  let ports = '';
  beforeAll(() => {
    ports = splitPorts(W);
    buildSplitSim(ports);
  }, 600_000);

  test('32 chains reach the device in a few round trips, not one each', () => {
    const b = bootSplit(W, ports, 1, { latency: { min: LATENCY, max: LATENCY }, split: 'rcb', rcb: 64 });
    b.setFeatures(F);
    const q = queue(b, 128, F);
    const tokens = Array.from({ length: 32 }, (_, i) => i);
    const start = b.rc.now;
    addRequests(b, q, tokens);
    const cs: RtlChain[] = [];
    b.rc.waitFor('32 chains', () => (cs.push(...b.takeChains()), cs.length >= 32), { timeout: 20_000 });
    const cycles = b.rc.now - start;
    // One chain at a time takes at least a round trip for its descriptors (and one for its table): 32 x 250 cycles.
    expect(cycles, 'cycles until the device had all 32 chains').toBeLessThan((32 * LATENCY) / 3);
    checkGolden(q, cs);
    for (const c of cs) b.complete(c, 1);
    b.rc.waitFor('used->idx 32', () => usedIdx(b, q) === 32, { timeout: 20_000 });
    b.rc.runFor(100);
    q.vq.interrupt();
    expect(q.got.sort((x, y) => x - y)).toEqual(tokens);
    expect(b.fatalCount()).toBe(0);
    expect(b.rc.violations).toEqual([]);
  });

  // The entries' window holds availBatch (16) entries at entry mod 16: a read of new entries is cut at the
  // window's end, and the entries after the cut used to wait for the first part's read to end (one read of
  // entries outstanding at a time), a host round trip more for them than for those before the cut.
  test("new entries across the window's end reach the device without a round trip more for those after it", () => {
    const b = bootSplit(W, ports, 3, { latency: { min: LATENCY, max: LATENCY }, split: 'rcb', rcb: 64 });
    b.setFeatures(F);
    const q = queue(b, 128, F);
    const first = Array.from({ length: 12 }, (_, i) => i);
    addRequests(b, q, first);
    const cs: RtlChain[] = [];
    b.rc.waitFor('12 chains', () => (cs.push(...b.takeChains()), cs.length >= 12), { timeout: 20_000 });
    // (checked before their descriptors are reused)
    checkGolden(q, cs);
    for (const c of cs) b.complete(c, 1);
    b.rc.waitFor('used->idx 12', () => usedIdx(b, q) === 12, { timeout: 20_000 });
    b.rc.runFor(1000);
    q.vq.interrupt();
    // entries 12..19: the window's end is between 15 and 16
    const next = Array.from({ length: 8 }, (_, i) => 12 + i);
    addRequests(b, q, next);
    const at: number[] = [];
    b.rc.waitFor(
      '8 chains',
      () => {
        for (const c of b.takeChains()) at[cs.push(c) - 1] = b.rc.now;
        return cs.length >= 20;
      },
      { timeout: 20_000 },
    );
    // (chains reach the device in ring order: entry 16's after entry 15's)
    expect(at[16] - at[15], "entry 16's chain after entry 15's (cycles)").toBeLessThan(LATENCY / 2);
    checkGolden(q, cs.slice(12));
    for (const c of cs.slice(12)) b.complete(c, 1);
    b.rc.waitFor('used->idx 20', () => usedIdx(b, q) === 20, { timeout: 20_000 });
    b.rc.runFor(100);
    q.vq.interrupt();
    expect(q.got.sort((x, y) => x - y)).toEqual([...first, ...next]);
    expect(b.fatalCount()).toBe(0);
    expect(b.rc.violations).toEqual([]);
  });

  test('a completion is published without waiting for the notification read of the one before', () => {
    const b = bootSplit(W, ports, 2, { latency: { min: LATENCY, max: LATENCY }, split: 'rcb', rcb: 64 });
    b.setFeatures(F);
    const q = queue(b, 128, F);
    const tokens = Array.from({ length: 8 }, (_, i) => i);
    addRequests(b, q, tokens);
    const cs: RtlChain[] = [];
    b.rc.waitFor('8 chains', () => (cs.push(...b.takeChains()), cs.length >= 8), { timeout: 20_000 });
    checkGolden(q, cs);
    // The first completion is published, then its used_event is read (a host round trip) to decide the
    // notification; the second, 20 cycles later, must not wait for that read.
    b.complete(cs[0], 1);
    b.rc.waitFor('used->idx 1', () => usedIdx(b, q) === 1, { timeout: 20_000 });
    b.rc.runFor(20);
    b.complete(cs[1], 1);
    const start = b.rc.now;
    b.rc.waitFor('used->idx 2', () => usedIdx(b, q) === 2, { timeout: 20_000 });
    expect(b.rc.now - start, 'cycles from the second completion to its publication').toBeLessThan(LATENCY / 2);
    for (const c of cs.slice(2)) b.complete(c, 1);
    b.rc.waitFor('used->idx 8', () => usedIdx(b, q) === 8, { timeout: 20_000 });
    b.rc.runFor(2 * LATENCY);
    q.vq.interrupt();
    expect(q.got.sort((x, y) => x - y)).toEqual(tokens);
    expect(b.irqCount(0), 'a used buffer notification').toBeGreaterThan(0);
    expect(b.fatalCount()).toBe(0);
    expect(b.rc.violations).toEqual([]);
  });

  for (const num of [4, 8, 16])
    test(`queue of ${num}: the window and slots reused across the ring's end`, () => {
      const b = bootSplit(W, ports, num, { latency: { min: 50, max: 300 }, split: 'random' });
      const s = runSplitStream(b, { features: F, num, depth: num, requests: 12 * num, warmup: num, step: 5 });
      expect(s.requests).toBeGreaterThanOrEqual(11 * num);
      expect(b.fatalCount()).toBe(0);
      expect(b.rc.violations).toEqual([]);
    });

  for (const kind of ['queue', 'device'] as const)
    test(`${kind} reset with many reads ahead outstanding`, () => {
      for (let delay = 40; delay < 1200; delay += 97) {
        const b = bootSplit(W, ports, delay, { latency: { min: LATENCY, max: LATENCY + 40 }, split: 'rcb' });
        b.setFeatures(F);
        const q = queue(b, 128, F);
        addRequests(
          b,
          q,
          Array.from({ length: 32 }, (_, i) => i),
        );
        const before: RtlChain[] = [];
        for (let t = 0; t < delay; t += 10) {
          b.rc.runFor(10);
          before.push(...b.takeChains());
        }
        if (kind === 'queue') {
          b.sim.pulse('q0_reset_req');
          b.disableQueue(0);
        } else {
          b.sim.pulse('reset_req');
          b.sim.poke('driver_ok', 0);
          b.disableQueue(0);
        }
        const counter = kind === 'queue' ? 'qreset_count_q0' : 'reset_count';
        // What was handed over before the reset took hold comes back from the device (a queue reset waits for it).
        b.rc.waitFor(
          `${kind} reset done (delay ${delay})`,
          () => {
            const cs = b.takeChains();
            before.push(...cs);
            for (const c of before.splice(0)) if (kind === 'queue') b.complete(c, 0);
            return Number(b.sim.peek(counter)) === 1;
          },
          { timeout: 20_000 },
        );
        b.rc.runFor(2 * LATENCY);
        expect(b.takeChains(), `nothing handed over after the reset (delay ${delay})`).toEqual([]);
        expect(b.sim.peek('busy'), `idle after the reset (delay ${delay})`).toBe(0n);
        expect(usedIdx(b, q), `nothing published after the reset (delay ${delay})`).toBe(0);
        // A new ring (new memory) from index 0: nothing stale from the reads of the old one.
        b.setFeatures(F);
        const n = queue(b, 128, F);
        addRequests(
          b,
          n,
          Array.from({ length: 20 }, (_, i) => 100 + i),
        );
        const cs: RtlChain[] = [];
        b.rc.waitFor('20 chains', () => (cs.push(...b.takeChains()), cs.length >= 20), { timeout: 20_000 });
        checkGolden(n, cs);
        for (const c of cs) b.complete(c, 1);
        b.rc.waitFor('used->idx 20', () => usedIdx(b, n) === 20, { timeout: 20_000 });
        expect(b.fatalCount()).toBe(0);
        expect(b.rc.violations).toEqual([]);
        closeSplitBenches();
      }
    });
});
