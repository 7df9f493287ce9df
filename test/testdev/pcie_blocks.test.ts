// The reusable PCIe blocks of gen/pcie on their own:
//  - the completion generator against the TLP codec's byte count / lower address rules, for every First and
//    Last DW BE pattern a request may carry (Icarus, one request per cycle);
//  - the RX demux and the packet arbiter in the Verilator harness, which drives and collects their TLP
//    stream ports with random idle cycles and backpressure and checks the stream protocol.
import { describe, expect, test } from 'vitest';
import { cat, defineModule, HdlError, mux } from '../../gen/hdl';
import { PacketArbiter } from '../../gen/pcie/arbiter';
import { CplGen } from '../../gen/pcie/cpl_gen';
import { CfgSpace } from '../../gen/pcie/cfg_space';
import { DmaRd } from '../../gen/pcie/dma_rd';
import { Msix } from '../../gen/pcie/msix';
import { RxDemux } from '../../gen/pcie/rx_demux';
import { Mmio } from '../../gen/testdev/mmio';
import { TESTDEV_CFG } from '../../gen/testdev/top';
import { type DataWidth, tlpStream } from '../../gen/pcie/streams';
import { designPorts } from '../../sim/design';
import { Sim, type RawTlp } from '../../sim/index';
import { Rng } from '../../sim/random';
import {
  completionLowerAddress,
  CplStatus,
  decodeTlp,
  encodeTlp,
  readCompletionByteCount,
  type Tlp,
} from '../../tb/pcie/tlp';
import { cycleSim, type Vector } from '../support/cyclesim';
import { seededTest } from '../support/seeds';

const WIDTHS: DataWidth[] = [64, 128, 256, 512];

const hdrBig = (h: Uint32Array) => (BigInt(h[0]) << 96n) | (BigInt(h[1]) << 64n) | (BigInt(h[2]) << 32n) | BigInt(h[3]);
const hdrDws = (v: bigint) => Uint32Array.from([3, 2, 1, 0], (i) => Number((v >> BigInt(32 * i)) & 0xffff_ffffn));

describe('pcie_cpl_gen', () => {
  test('byte count, lower address, type and length for every byte-enable pattern (against the codec)', () => {
    const reqs: { tlp: Tlp; status: number }[] = [];
    const rid = 0x0100;
    let tag = 0;
    const next = () => (tag = (tag + 37) & 0x3ff);
    const contiguousFirst = [0xf, 0xe, 0xc, 0x8];
    const contiguousLast = [0x1, 0x3, 0x7, 0xf];
    for (let fbe = 0; fbe < 16; fbe++) {
      for (const a of [0x1000n, 0x1044n, 0x2_0000_007cn]) {
        reqs.push({
          tlp: { type: 'MRd', address: a, length: 1, firstBe: fbe, lastBe: 0, requesterId: rid, tag: next() },
          status: CplStatus.SC,
        });
      }
    }
    for (const length of [2, 3, 4, 17, 32, 128, 1023, 1024]) {
      for (const firstBe of length === 2 ? [...contiguousFirst, 0x5, 0x9] : contiguousFirst) {
        for (const lastBe of length === 2 ? [...contiguousLast, 0xa] : contiguousLast) {
          const address = (0x3000n - BigInt(length * 4)) & ~7n;
          reqs.push({
            tlp: {
              type: 'MRd',
              address,
              length,
              firstBe,
              lastBe,
              requesterId: rid,
              tag: next(),
              tc: length & 7,
              attr: length & 3,
            },
            status: CplStatus.SC,
          });
        }
      }
    }
    const data4 = new Uint8Array(4);
    for (const status of [CplStatus.SC, CplStatus.UR, CplStatus.CA]) {
      reqs.push({
        tlp: {
          type: 'MRd',
          address: 0x1234_5678n & ~3n,
          length: 5,
          firstBe: 0xe,
          lastBe: 0x3,
          requesterId: rid,
          tag: next(),
        },
        status,
      });
      reqs.push({
        tlp: { type: 'CfgRd0', completerId: 0x0100, offset: 0x44, firstBe: 0x3, requesterId: rid, tag: next() },
        status,
      });
      reqs.push({
        tlp: {
          type: 'CfgWr0',
          completerId: 0x0100,
          offset: 0x44,
          firstBe: 0x3,
          requesterId: rid,
          tag: next(),
          data: data4,
        },
        status,
      });
      reqs.push({
        tlp: { type: 'MRdLk', address: 0x2000n, length: 2, firstBe: 0xf, lastBe: 0x1, requesterId: rid, tag: next() },
        status,
      });
    }
    const W = 64;
    const stim: Vector[] = reqs.map(({ tlp, status }) => ({
      req_valid: 1,
      req_hdr: hdrBig(encodeTlp(tlp).hdr),
      req_status: status,
      req_data: 0x1122_3344_5566_7788n,
      req_keep: 0b11,
      req_sop: 1,
      req_eop: 1,
      completer_id: 0x0a08,
      cpl_ready: 1,
    }));
    // One request per cycle, the completion one cycle later (the generator's output register), at full rate.
    const out = cycleSim(CplGen.elaborate({ W }), [...stim, { req_valid: 0 }]);
    expect(out.slice(0, reqs.length).every((o) => o.req_ready === 1n)).toBe(true);
    expect(out[0].cpl_valid).toBe(0n);
    reqs.forEach(({ tlp, status }, i) => {
      const o = out[i + 1];
      expect(o.cpl_valid).toBe(1n);
      const what = `${JSON.stringify(tlp, (_k, v) => (typeof v === 'bigint' ? `0x${v.toString(16)}` : v instanceof Uint8Array ? undefined : v))} status ${status}`;
      const hdr = hdrDws(o.cpl_hdr);
      const withData = status === CplStatus.SC && (tlp.type === 'MRd' || tlp.type === 'MRdLk' || tlp.type === 'CfgRd0');
      const len = tlp.type === 'MRd' || tlp.type === 'MRdLk' ? tlp.length : 1;
      const raw: RawTlp = { hdr, data: new Uint32Array(withData ? len : 0) };
      const c = decodeTlp(raw);
      expect(o.cpl_keep, what).toBe(withData ? 3n : 0n);
      expect(c.type, what).toBe(tlp.type === 'MRdLk' ? (withData ? 'CplDLk' : 'CplLk') : withData ? 'CplD' : 'Cpl');
      if (!('byteCount' in c)) throw new Error(what);
      const isMem = tlp.type === 'MRd' || tlp.type === 'MRdLk';
      expect(c.byteCount, what).toBe(isMem ? readCompletionByteCount(tlp.length, tlp.firstBe, tlp.lastBe) : 4);
      expect(c.lowerAddress, what).toBe(isMem ? completionLowerAddress(tlp.address, tlp.firstBe) : 0);
      expect([c.status, c.completerId, c.requesterId, c.tag, c.tc, c.attr], what).toEqual([
        status,
        0x0a08,
        rid,
        tlp.tag,
        tlp.tc ?? 0,
        tlp.attr ?? 0,
      ]);
    });
  });
});

/** A raw TLP with a consistent Fmt/Length and a marker in DW1 (source, sequence number). */
function markedTlp(rng: Rng, type: number, ndw: number, src: number, seq: number): RawTlp {
  const fmt = ndw > 0 ? 0b010 : 0b000;
  const len = ndw > 0 ? ndw & 0x3ff : 1;
  const hdr = Uint32Array.of(
    ((fmt << 29) | (type << 24) | len) >>> 0,
    ((src << 16) | seq) >>> 0,
    rng.int(0, 0xffff_ffff),
    0,
  );
  const data = Uint32Array.from({ length: ndw }, () => rng.int(0, 0xffff_ffff));
  return { hdr, data };
}
const same = (a: RawTlp, b: RawTlp) =>
  a.hdr.every((v, i) => v === b.hdr[i]) && a.data.length === b.data.length && a.data.every((v, i) => v === b.data[i]);

/**
 * The demux between two plain TLP streams, so the simulator's harness can drive and collect it: each TLP's
 * sideband and selection come from its own header (offset = DW1:DW2, DW3[31:17] = bar, func, error,
 * DW3[16:14] = the one-hot port selection, its complement on the beats after the sop), and each port's
 * header goes out rebuilt from the sideband it carried (DW1:DW2 = offset, DW3[31:17] = bar, func, error).
 * A TLP whose sideband arrives intact arrives unchanged.
 */
const DemuxHarness = defineModule(
  'test_rx_demux_harness',
  (m, p: { W: DataWidth }) => {
    const ports = ['p0', 'p1', 'p2'];
    const rx = m.input('rx', tlpStream(p.W));
    const outs = ports.map((n) => m.output(n, tlpStream(p.W)));
    const d = m.instance('demux', RxDemux, { W: p.W, ports });
    const din = d.io.rx;
    for (const k of ['valid', 'hdr', 'data', 'keep', 'sop', 'eop'] as const) din[k].set(rx[k]);
    rx.ready.set(din.ready);
    const dw3 = rx.hdr.bits(31, 0);
    din.offset.set(rx.hdr.bits(95, 32));
    din.bar.set(dw3.bits(31, 29));
    din.func.set(dw3.bits(28, 21));
    din.error.set(dw3.bits(20, 17));
    // The selection is only valid with the sop beat: later beats offer another one, which must not matter.
    d.io.sel.set(mux(rx.sop, dw3.bits(16, 14), dw3.bits(16, 14).not()));
    ports.forEach((n, i) => {
      const o = d.io.out[n];
      const out = outs[i];
      for (const k of ['valid', 'data', 'keep', 'sop', 'eop'] as const) out[k].set(o[k]);
      o.ready.set(out.ready);
      out.hdr.set(cat(o.hdr.bits(127, 96), o.offset, o.bar, o.func, o.error, o.hdr.bits(16, 0)));
    });
  },
  { name: (p) => `test_rx_demux_harness_w${p.W}` },
);

describe('pcie_rx_demux', () => {
  describe.each(WIDTHS)('W=%i', (W) => {
    seededTest('every TLP reaches the port selected with its sop beat, whole, sideband intact, in order', (seed) => {
      const rng = new Rng(seed);
      const sim = Sim.load({
        ports: designPorts(DemuxHarness.elaborate({ W })),
        quiet: true,
        seed,
        rxIdle: 0.2,
        txBackpressure: 0.3,
      });
      try {
        const want: RawTlp[][] = [[], [], []];
        let dropped = 0;
        for (let i = 0; i < 400; i++) {
          const ndw = rng.chance(0.3) ? 0 : rng.int(1, 40);
          const fmt = ndw > 0 ? 0b010 : 0b000;
          const sel = rng.int(0, 3); // 3: no port selected, discarded
          const hdr = Uint32Array.of(
            ((fmt << 29) | (rng.int(0, 31) << 24) | (ndw & 0x3ff)) >>> 0,
            rng.int(0, 0xffff_ffff),
            rng.int(0, 0xffff_ffff),
            ((rng.int(0, 0x7fff) << 17) | (sel < 3 ? 1 << (14 + sel) : 0) | i) >>> 0,
          );
          const t: RawTlp = { hdr, data: Uint32Array.from({ length: ndw }, () => rng.int(0, 0xffff_ffff)) };
          if (sel === 3) dropped++;
          else want[sel].push(t);
          sim.send(t);
        }
        sim.run({ cycles: 40_000 });
        expect(sim.rxPending, 'every TLP was taken').toBe(0);
        expect(dropped, 'some TLPs were dropped').toBeGreaterThan(20);
        want.forEach((list, p) => {
          const got = sim.takeTx(`p${p}`);
          expect(got.length, `p${p}`).toBe(list.length);
          got.forEach((g, k) => expect(same(g, list[k]), `p${p} TLP ${k}`).toBe(true));
        });
      } finally {
        sim.close();
      }
    });
  });
});

describe('generator parameters', () => {
  /** The error `f` throws: a parameter error located at the caller's line (file:line:col: message). */
  const paramErr = (f: () => unknown): HdlError => {
    try {
      f();
    } catch (e) {
      if (e instanceof HdlError) return e;
      throw e;
    }
    throw new Error('expected a parameter error');
  };
  test.each([
    ['RxDemux, one port', () => RxDemux.elaborate({ W: 64, ports: ['only'] }), /at least 2 ports/],
    ['RxDemux, a repeated name', () => RxDemux.elaborate({ W: 64, ports: ['a', 'a'] }), /port names repeat/],
    [
      'DmaRd, 0 tags',
      () => DmaRd.elaborate({ W: 64, tags: 0, ramLog2: 14, lenBits: 15, timeoutBits: 8 }),
      /1\.\.256 tags, got 0/,
    ],
    [
      'Msix, a table outside the BAR',
      () => Msix.elaborate({ W: 64, vectors: 4, tableOffset: 0x1000, pbaOffset: 0, barLog2: 12 }),
      /outside the 4096-byte BAR/,
    ],
    ['PacketArbiter, one input', () => PacketArbiter.elaborate({ spec: tlpStream(64), n: 1 }), /at least 2, got 1/],
    [
      'CfgSpace, overlapping BARs',
      () =>
        CfgSpace.elaborate({
          ...TESTDEV_CFG,
          W: 64,
          bars: [
            { index: 0, kind: 'mem64', prefetchable: true, sizeLog2: 16 },
            { index: 1, kind: 'mem32', prefetchable: false, sizeLog2: 12 },
          ],
        }),
      /BAR1 overlaps another BAR/,
    ],
    [
      'Mmio, a RAM window not aligned to its size',
      () => Mmio.elaborate({ W: 64, bar0Log2: 16, bar2Log2: 12, ramOffset: 0x2000, ramLog2: 14, maxReadDw: 32 }),
      /RAM window \(0x2000\) must be aligned/,
    ],
  ])('%s: a located parameter error', (_what, f, message) => {
    const e = paramErr(f);
    expect(e.kind).toBe('param');
    expect(e.message).toMatch(message);
    // Reported where the generator was called (here), never inside gen/.
    expect(e.loc.file).toBe('test/testdev/pcie_blocks.test.ts');
    expect(e.message, 'file:line:col first').toMatch(/^test\/testdev\/pcie_blocks\.test\.ts:\d+:\d+: /);
  });
});

describe('pcie_tlp_stream_arbiter', () => {
  seededTest('whole packets, per-source order kept, round robin among busy sources (W=64, 4 inputs)', (seed) => {
    const rng = new Rng(seed);
    // No idle cycles on the inputs: a source that pauses between packets would rightly lose its turn.
    const sim = Sim.load({
      ports: designPorts(PacketArbiter.elaborate({ spec: tlpStream(64), n: 4 })),
      quiet: true,
      seed,
      txBackpressure: 0.3,
    });
    try {
      const sent: RawTlp[][] = [[], [], [], []];
      for (let src = 0; src < 4; src++) {
        for (let i = 0; i < 60; i++) {
          const t = markedTlp(rng, 0, rng.int(0, 11), src, i);
          sent[src].push(t);
          sim.send(t, undefined, `in${src}`);
        }
      }
      sim.run({ cycles: 20_000 });
      const got = sim.takeTx('out');
      expect(got.length).toBe(240);
      const bySrc: RawTlp[][] = [[], [], [], []];
      for (const g of got) bySrc[g.hdr[1] >>> 16].push(g);
      bySrc.forEach((list, src) =>
        list.forEach((g, k) => expect(same(g, sent[src][k]), `in${src} TLP ${k}`).toBe(true)),
      );
      // While every source still has packets queued, no source goes twice before each other had a turn.
      const busy = got.slice(0, 120).map((g) => g.hdr[1] >>> 16);
      for (let i = 0; i + 4 <= busy.length; i += 4)
        expect(new Set(busy.slice(i, i + 4)).size, `grants ${busy.slice(i, i + 4)}`).toBe(4);
    } finally {
      sim.close();
    }
  });
});
