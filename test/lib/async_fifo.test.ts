// The asynchronous FIFO in Icarus with two unrelated clocks (periods that are not multiples of each other, so
// the edges drift through every phase; swapped; nearly equal), under seeded random write bursts, read stalls
// and resets of both sides mid-run, against a model of what it must do. A cycle-exact comparison is impossible
// across asynchronous clocks, so the model orders the two sides' events by time and checks:
//  - data: within each reset epoch, what leaves is a prefix of what was accepted, in order, each entry once
//    (all of it once the run drains), and never earlier than the pointer crossing allows;
//  - safety: no write accepted without room, no read without an entry written before it;
//  - bounds, in each side's own cycles: `enq.ready` low only while the write side cannot yet have seen enough
//    reads (syncStages + 2 write cycles), `deq.valid` low only while the read side cannot yet have seen a
//    write (syncStages + 3 read cycles, + 1 with outReg); the levels and almost_full between the true count
//    and the count each side can have seen;
//  - settling: after the drain both sides are empty and idle.
import { describe, expect, it } from 'vitest';
import { defineModule } from '../../gen/hdl';
import { AsyncFifo, type AsyncFifoParams } from '../../gen/lib/async_fifo';
import { Rng } from '../../sim/random';
import { clockSim } from '../support/clocksim';
import type { Vector } from '../support/cyclesim';
import { caseSeed } from '../support/seeds';
import { lint, synthClean } from './support-lint';

interface Clocks {
  /** Write and read clock periods, ns. */
  wr: number;
  rd: number;
}

interface Event {
  t: number; // ps
  epoch: number;
  data: bigint;
}

/** Times (ps) of the rising edges of a clock: the harness's edge i is at first + i * period. */
const edgeTimes = (firstPs: number, periodPs: number, n: number) =>
  Array.from({ length: n }, (_, i) => firstPs + i * periodPs);

/** Per-cycle levels with bursts: runs of on and off cycles whose mean lengths follow a rate that changes by phase. */
function bursts(rng: Rng, times: number[], rateAt: (t: number) => number): boolean[] {
  const out: boolean[] = [];
  let on = false;
  let left = 0;
  for (const t of times) {
    if (left === 0) {
      const rate = rateAt(t);
      on = rng.chance(rate);
      const mean = on ? 1 + 12 * rate : 1 + 12 * (1 - rate);
      left = 1 + rng.below(Math.ceil(mean));
    }
    out.push(on);
    left--;
  }
  return out;
}

interface ResetWindow {
  /** First and last edge index (inclusive) with the reset asserted, per side. */
  wr: [number, number];
  rd: [number, number];
}

/**
 * Resets as the FIFO's rule says: the read side first or together, the write side within two read periods; each
 * held until `stages + 1` of its own edges have passed since the other side's first reset edge (plus a random
 * margin); released in whatever order that gives.
 */
function resetWindow(rng: Rng, atPs: number, wrT: number[], rdT: number[], clocks: Clocks, stages: number) {
  const first = (times: number[], t: number) => times.findIndex((x) => x >= t);
  const rdA = first(rdT, atPs);
  const wrA = first(wrT, rdT[rdA] + rng.below(2 * clocks.rd * 1000));
  const wrB = first(wrT, rdT[rdA] + 1) + stages + rng.below(4); // stages + 1 edges after rd's first reset edge
  const rdB = first(rdT, wrT[wrA] + 1) + stages + rng.below(4);
  return { wr: [wrA, Math.max(wrA, wrB)], rd: [rdA, Math.max(rdA, rdB)] } as ResetWindow;
}

interface RunSpec {
  p: AsyncFifoParams;
  clocks: Clocks;
  /** Run length in ns. */
  spanNs: number;
  /** Mid-run resets, as fractions of the span. */
  resetsAt: number[];
  salt: number;
}

function runAsyncFifo(spec: RunSpec) {
  const { p, clocks } = spec;
  const { seed, replay } = caseSeed(spec.salt);
  const rng = new Rng(seed);
  const S = p.syncStages ?? 2;
  const slice = p.outReg === false ? 0 : 1;
  const mod = AsyncFifo.elaborate(p);
  const Tw = Math.round(clocks.wr * 1000);
  const Tr = Math.round(clocks.rd * 1000);
  const firstW = Tw + rng.below(Tw); // random phases
  const firstR = Tr + rng.below(Tr);
  const span = spec.spanNs * 1000;
  const nW = Math.floor((span - firstW) / Tw);
  const nR = Math.floor((span - firstR) / Tr);
  const wrT = edgeTimes(firstW, Tw, nW);
  const rdT = edgeTimes(firstR, Tr, nR);

  // Phases: the writer faster (fills), the reader faster (empties), both random, both flat out; then a drain
  // (no writes, reads always ready) over the last fifth of the run.
  const drainAt = span * 0.8;
  const phase = (t: number) => Math.floor((t / drainAt) * 8) % 4;
  const wRate = (t: number) => (t >= drainAt ? 0 : [0.9, 0.3, 0.6, 1][phase(t)]);
  const rRate = (t: number) => (t >= drainAt ? 1 : [0.3, 0.9, 0.6, 1][phase(t)]);
  const enqValid = bursts(rng, wrT, wRate).map((v, i) => v && (wrT[i] < drainAt || false));
  const deqReady = bursts(rng, rdT, rRate).map((v, i) => v || rdT[i] >= drainAt);

  // Resets: one from the first edges on (the synchronizers start unknown), then the mid-run ones.
  const start = resetWindow(rng, 0, wrT, rdT, clocks, S);
  start.wr[0] = 0;
  const windows = [start, ...spec.resetsAt.map((f) => resetWindow(rng, f * span, wrT, rdT, clocks, S))];
  const inReset = (side: 'wr' | 'rd', i: number) => windows.some((w) => i >= w[side][0] && i <= w[side][1]);
  const epochOf = (side: 'wr' | 'rd', i: number) => windows.filter((w) => i > w[side][1]).length - 1;

  const wStim: Vector[] = wrT.map((_, i) => ({
    wr_rst: inReset('wr', i),
    enq_valid: enqValid[i],
    enq_data: rng.bits(p.width),
  }));
  const rStim: Vector[] = rdT.map((_, i) => ({ rd_rst: inReset('rd', i), deq_ready: deqReady[i] }));
  const wOuts = [
    'enq_ready',
    ...(p.almostFull !== undefined ? ['almost_full'] : []),
    ...(p.levels ? ['wr_level'] : []),
  ];
  const rOuts = ['deq_valid', 'deq_data', ...(p.levels ? ['rd_level'] : [])];
  const [ws, rs] = clockSim(mod, [
    {
      clock: 'wr_clk',
      periodNs: clocks.wr,
      firstEdgeNs: firstW / 1000,
      inputs: ['wr_rst', 'enq_valid', 'enq_data'],
      outputs: wOuts,
      stimulus: wStim,
    },
    {
      clock: 'rd_clk',
      periodNs: clocks.rd,
      firstEdgeNs: firstR / 1000,
      inputs: ['rd_rst', 'deq_ready'],
      outputs: rOuts,
      stimulus: rStim,
    },
  ]);
  expect(ws.map((s) => s.timePs)).toEqual(wrT);
  expect(rs.map((s) => s.timePs)).toEqual(rdT);

  // The events: writes and reads accepted outside reset, each in the epoch its side is in.
  const writes: Event[] = [];
  const reads: Event[] = [];
  ws.forEach((s, i) => {
    if (!inReset('wr', i) && enqValid[i] && s.out.enq_ready === 1n)
      writes.push({ t: s.timePs, epoch: epochOf('wr', i), data: BigInt(wStim[i].enq_data) });
  });
  rs.forEach((s, i) => {
    if (!inReset('rd', i) && deqReady[i] && s.out.deq_valid === 1n)
      reads.push({ t: s.timePs, epoch: epochOf('rd', i), data: s.out.deq_data });
  });
  const ctx = (what: string) => `${what} (${mod.name}, wr ${clocks.wr} ns, rd ${clocks.rd} ns; ${replay})`;

  // An event is seen by a sample k edges of the other clock after it: an edge exactly at the event's time
  // samples the old value, so that is `t - tEvent > (k - 1) * T`. A read reaches the write side's flags and
  // level at its syncStages + 2nd write edge; a write reaches the read side's level at its syncStages + 2nd read
  // edge and `deq` at its syncStages + 3rd (+ 1 through the output slice).
  const Bw = (S + 1) * Tw;
  const Br = (S + 2 + slice) * Tr;
  const Bl = (S + 1) * Tr;

  // Data: per epoch a prefix, in order, each once; the last epoch drained completely; never early.
  const epochs = windows.length;
  for (let e = 0; e < epochs; e++) {
    const w = writes.filter((x) => x.epoch === e);
    const r = reads.filter((x) => x.epoch === e);
    expect(r.length, ctx(`epoch ${e}: reads beyond the writes`)).toBeLessThanOrEqual(w.length);
    r.forEach((x, k) => {
      expect(x.data, ctx(`epoch ${e}, entry ${k} read at ${x.t} ps`)).toBe(w[k].data);
      expect(x.t - w[k].t, ctx(`epoch ${e}, entry ${k}: read before its pointer could cross`)).toBeGreaterThan(Br);
    });
    if (e === epochs - 1) expect(r.length, ctx('the drain reads everything written')).toBe(w.length);
  }
  expect(reads.length, ctx('enough traffic: the pointers wrap many times')).toBeGreaterThan(300);

  // Counts of an epoch's events before a time (strictly) or up to it.
  const count = (list: Event[], e: number, pred: (t: number) => boolean) =>
    list.reduce((n, x) => n + (x.epoch === e && pred(x.t) ? 1 : 0), 0);
  // Each side's epoch starts at its reset release; bounds hold once the other side's events can have crossed.
  const wrStart = (e: number) => wrT[windows[e].wr[1]];
  const rdStart = (e: number) => rdT[windows[e].rd[1]];
  const settled = (t: number, e: number, b: number) => t - b > Math.max(wrStart(e), rdStart(e));
  let fullSeen = 0;
  let emptySeen = 0;

  // Once the read side is in reset, the write side sees its pointer jump and its flags mean nothing until its
  // own reset (the writes it accepts then are lost: the reset rule in AsyncFifo's documentation).
  const rdResetFrom = (e: number) => (e + 1 < windows.length ? rdT[windows[e + 1].rd[0]] : Infinity);
  ws.forEach((s, i) => {
    if (inReset('wr', i)) return;
    const e = epochOf('wr', i);
    const t = s.timePs;
    if (t > rdResetFrom(e)) return;
    const held = count(writes, e, (x) => x < t) - count(reads, e, (x) => x < t);
    const seen = count(writes, e, (x) => x < t) - count(reads, e, (x) => t - x > Bw);
    const at = `write side at ${t} ps`;
    if (s.out.enq_ready === 1n) expect(held, ctx(`${at}: ready without room`)).toBeLessThan(p.depth);
    else if (settled(t, e, Bw)) {
      expect(seen, ctx(`${at}: not ready although ${held} held`)).toBeGreaterThanOrEqual(p.depth);
      fullSeen++;
    }
    if (p.levels && settled(t, e, Bw)) {
      expect(Number(s.out.wr_level), ctx(`${at}: wr_level`)).toBeGreaterThanOrEqual(held);
      expect(Number(s.out.wr_level), ctx(`${at}: wr_level`)).toBeLessThanOrEqual(seen);
    }
    if (p.almostFull !== undefined && settled(t, e, Bw)) {
      if (s.out.almost_full === 1n) expect(seen, ctx(`${at}: almost_full`)).toBeGreaterThanOrEqual(p.almostFull);
      else expect(held, ctx(`${at}: almost_full low`)).toBeLessThan(p.almostFull);
      if (p.levels) expect(s.out.almost_full, ctx(at)).toBe(s.out.wr_level >= BigInt(p.almostFull) ? 1n : 0n);
    }
  });

  rs.forEach((s, i) => {
    if (inReset('rd', i)) return;
    const e = epochOf('rd', i);
    const t = s.timePs;
    const readBefore = count(reads, e, (x) => x < t);
    const at = `read side at ${t} ps`;
    if (s.out.deq_valid === 1n) {
      expect(readBefore, ctx(`${at}: valid without an entry`)).toBeLessThan(count(writes, e, (x) => x < t));
    } else if (settled(t, e, Br)) {
      expect(readBefore, ctx(`${at}: not valid although an entry is old enough`)).toBeGreaterThanOrEqual(
        count(writes, e, (x) => t - x > Br),
      );
      emptySeen++;
    }
    if (p.levels && settled(t, e, Bl)) {
      const lvl = Number(s.out.rd_level);
      expect(lvl, ctx(`${at}: rd_level`)).toBeLessThanOrEqual(count(writes, e, (x) => x < t) - readBefore);
      expect(lvl, ctx(`${at}: rd_level`)).toBeGreaterThanOrEqual(count(writes, e, (x) => t - x > Bl) - readBefore);
    }
  });
  // The run reached both ends of the range, after settling.
  expect(fullSeen, ctx('full reached')).toBeGreaterThan(0);
  expect(emptySeen, ctx('empty reached')).toBeGreaterThan(0);

  // Settled at the end: empty and idle on both sides.
  const lastW = ws[ws.length - 1].out;
  const lastR = rs[rs.length - 1].out;
  expect(lastW.enq_ready, ctx('ready at the end')).toBe(1n);
  expect(lastR.deq_valid, ctx('empty at the end')).toBe(0n);
  if (p.levels) expect([lastW.wr_level, lastR.rd_level], ctx('levels at the end')).toEqual([0n, 0n]);
  if (p.almostFull !== undefined) expect(lastW.almost_full, ctx('almost_full at the end')).toBe(0n);
  return { writes: writes.length, reads: reads.length, fullSeen, emptySeen };
}

describe('AsyncFifo', () => {
  const cases: [string, RunSpec][] = [
    [
      'w8 d16, almost_full and levels, write 7 ns / read 10.3 ns',
      {
        p: { width: 8, depth: 16, almostFull: 12, levels: true },
        clocks: { wr: 7, rd: 10.3 },
        spanNs: 40000,
        resetsAt: [0.3, 0.55],
        salt: 7001,
      },
    ],
    [
      'the same, clocks swapped (write 10.3 ns / read 7 ns)',
      {
        p: { width: 8, depth: 16, almostFull: 12, levels: true },
        clocks: { wr: 10.3, rd: 7 },
        spanNs: 40000,
        resetsAt: [0.3, 0.55],
        salt: 7002,
      },
    ],
    [
      'w5 d4 without the output slice, 3 synchronizer stages, nearly equal clocks (10 / 10.01 ns: slow drift)',
      {
        p: { width: 5, depth: 4, outReg: false, syncStages: 3, levels: true },
        clocks: { wr: 10, rd: 10.01 },
        spanNs: 40000,
        resetsAt: [0.4],
        salt: 7003,
      },
    ],
    [
      'w16 d2, almost_full without levels, far apart (write 3.3 ns / read 23.7 ns)',
      {
        p: { width: 16, depth: 2, almostFull: 1 },
        clocks: { wr: 3.3, rd: 23.7 },
        spanNs: 60000,
        resetsAt: [0.5],
        salt: 7004,
      },
    ],
  ];
  for (const [name, spec] of cases) {
    it(`keeps order, flags and bounds across unrelated clocks: ${name}`, () => {
      runAsyncFifo(spec);
    });
  }

  it('names its modules by parameters, defaults left out', () => {
    expect(AsyncFifo.nameFor({ width: 64, depth: 512 })).toBe('fifo_async_w64_d512');
    expect(AsyncFifo.nameFor({ width: 8, depth: 16, outReg: true, syncStages: 2, levels: false })).toBe(
      'fifo_async_w8_d16',
    );
    expect(AsyncFifo.nameFor({ width: 8, depth: 16, almostFull: 12, levels: true, outReg: false, syncStages: 3 })).toBe(
      'fifo_async_w8_d16_af12_lv_direct_s3',
    );
    expect(AsyncFifo.elaborate({ width: 8, depth: 16, outReg: true })).toBe(
      AsyncFifo.elaborate({ width: 8, depth: 16 }),
    );
  });

  it('is instantiated with its two domains mapped, and its ports carry no combinational path', () => {
    const Top = defineModule('afifo_user', (m) => {
      const a = m.domain('a');
      const b = m.domain('b');
      const q = m.instance('q', AsyncFifo, { width: 8, depth: 16 }, { domains: { wr: a, rd: b } });
      q.io.enq.valid.set(m.input('v', 1));
      q.io.enq.data.set(m.input('d', 8));
      q.io.deq.ready.set(m.input('r', 1));
      m.output('o', 10).set(q.io.deq.data.cat(q.io.deq.valid, q.io.enq.ready));
    });
    expect(lint(Top.elaborate())).toBe('');
    expect(AsyncFifo.elaborate({ width: 8, depth: 16 }).combPaths.size).toBe(0);
  });

  it('lints clean (several shapes) and synthesizes to one block RAM without latches', () => {
    for (const p of [
      { width: 8, depth: 16, almostFull: 12, levels: true },
      { width: 5, depth: 4, outReg: false, syncStages: 3 },
      { width: 1, depth: 2 },
    ]) {
      expect(lint(AsyncFifo.elaborate(p)), JSON.stringify(p)).toBe('');
    }
    const s = synthClean(AsyncFifo.elaborate({ width: 64, depth: 512, almostFull: 480, levels: true }));
    expect(s.cells.RAMB36E2 ?? 0, 'block RAM').toBe(1);
  });
});
