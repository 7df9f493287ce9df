// The soft endpoint's receive classifier (gen/pcie/rx_demux.ts RxClassifier, with gen/pcie/bar_match.ts) on
// its own, in Icarus at every stream width: the port each TLP is sent to (one-hot) and the sideband it gets
// (BAR, offset, function, error code) two cycles later, against a TypeScript model, for memory requests at the edges of both of
// the testdev's BARs (the first dword, the dword holding the last byte, one dword past, one dword before),
// with BAR0 above and below 4 GB, BAR2 right after BAR0, Memory Space Enable off, and the other TLP kinds.
import { describe, expect, test } from 'vitest';
import { RxClassifier, RxPort } from '../../gen/pcie/rx_demux';
import { type DataWidth, RxError } from '../../gen/pcie/streams';
import { TESTDEV_CFG } from '../../gen/testdev/top';
import { Rng } from '../../sim/random';
import { CplStatus, encodeTlp, type Tlp } from '../../tb/pcie/tlp';
import { cycleSim, type Vector } from '../support/cyclesim';
import { caseSeed } from '../support/seeds';

const WIDTHS: DataWidth[] = [64, 128, 256, 512];
const BARS = TESTDEV_CFG.bars.map((b) => ({ index: b.index, sizeLog2: b.sizeLog2 }));
const hdrBig = (h: Uint32Array) => (BigInt(h[0]) << 96n) | (BigInt(h[1]) << 64n) | (BigInt(h[2]) << 32n) | BigInt(h[3]);

interface Setup {
  memEnable: boolean;
  bases: bigint[]; // per BARS entry
}
interface Expected {
  sel: number;
  bar?: number;
  offset?: bigint;
  func: number;
  error: number;
}
interface Case {
  what: string;
  setup: Setup;
  tlp: Tlp;
  want: Expected;
}

/** What the classifier must say about a memory request at `address`. */
function memExpect(setup: Setup, address: bigint, ep: boolean): Expected {
  const error = ep ? RxError.POISONED : RxError.NONE;
  if (setup.memEnable) {
    for (const [i, b] of BARS.entries()) {
      const base = setup.bases[i];
      const size = 1n << BigInt(b.sizeLog2);
      if (address >= base && address < base + size)
        return { sel: RxPort.Mem, bar: b.index, offset: address - base, func: 0, error };
    }
  }
  return { sel: RxPort.Other, func: 0, error };
}

function cases(rng: Rng): Case[] {
  const out: Case[] = [];
  const base0s = [0x3_0004_0000n, 0xe000_0000n]; // BAR0 above and below 4 GB (64 KiB aligned)
  for (const base0 of base0s) {
    // BAR2 (4 KiB) right after BAR0, so that one past BAR0's end is BAR2's first byte, and elsewhere.
    for (const base2 of [base0 < 1n << 32n ? base0 + 0x1_0000n : 0xe010_0000n, 0xf000_3000n]) {
      for (const memEnable of [true, false]) {
        const setup: Setup = { memEnable, bases: [base0, base2] };
        for (const [i, b] of BARS.entries()) {
          const base = setup.bases[i];
          const size = 1n << BigInt(b.sizeLog2);
          const edges: [string, bigint, number, number][] = [
            ['first byte', base, 0x1, 0],
            ['last byte', base + size - 4n, 0x8, 0],
            ['one past the end', base + size, 0x1, 0],
            ['one dword before', base - 4n, 0xf, 0],
            ['a 2-dword read ending at the last byte', base + size - 8n, 0xf, 0xf],
          ];
          for (const [edge, address, firstBe, lastBe] of edges) {
            const ep = rng.chance(0.2);
            const what = `BAR${b.index} @0x${base.toString(16)} ${edge}, memory ${memEnable ? 'on' : 'off'}`;
            const common = { address, firstBe, lastBe, requesterId: 0x0100, tag: rng.int(0, 255), ep };
            const len = lastBe ? 2 : 1;
            out.push({
              what: `MRd ${what}`,
              setup,
              tlp: { type: 'MRd', length: len, ...common },
              want: memExpect(setup, address, ep),
            });
            out.push({
              what: `MWr ${what}`,
              setup,
              tlp: { type: 'MWr', data: rng.bytes(4 * len), ...common },
              want: memExpect(setup, address, ep),
            });
          }
        }
        // Random addresses near and inside the BARs.
        for (let k = 0; k < 20; k++) {
          const near = setup.bases[rng.int(0, 1)] + BigInt(rng.int(-0x2000, 0x12000) & ~3);
          const address = near & 0xffff_ffff_ffff_fffcn;
          out.push({
            what: `MRd at 0x${address.toString(16)}, memory ${memEnable ? 'on' : 'off'}`,
            setup,
            tlp: { type: 'MRd', address, length: 1, firstBe: 0xf, lastBe: 0, requesterId: 1, tag: 2 },
            want: memExpect(setup, address, false),
          });
        }
      }
    }
  }
  // The other kinds: routed by type, whatever their address bits look like to the BAR matcher.
  const setup: Setup = { memEnable: true, bases: [0xe000_0000n, 0xe001_0000n] };
  for (let fn = 0; fn < 8; fn++) {
    const completerId = (3 << 8) | (1 << 3) | fn;
    out.push({
      what: `CfgRd0 function ${fn}`,
      setup,
      tlp: { type: 'CfgRd0', completerId, offset: 0x10, firstBe: 0xf, requesterId: 0, tag: fn },
      want: { sel: RxPort.Cfg, func: fn, error: RxError.NONE },
    });
    out.push({
      what: `CfgWr1 function ${fn}`,
      setup,
      tlp: { type: 'CfgWr1', completerId, offset: 0x10, firstBe: 0xf, requesterId: 0, tag: fn, data: rng.bytes(4) },
      want: { sel: RxPort.Other, func: fn, error: RxError.NONE },
    });
  }
  const cpl = { completerId: 0, status: CplStatus.SC, byteCount: 4, requesterId: 0x0100, tag: 5, lowerAddress: 0 };
  out.push({ what: 'Cpl', setup, tlp: { type: 'Cpl', ...cpl }, want: { sel: RxPort.Cpl, func: 0, error: 0 } });
  out.push({
    what: 'poisoned CplD',
    setup,
    tlp: { type: 'CplD', ...cpl, ep: true, data: rng.bytes(4) },
    want: { sel: RxPort.Cpl, func: 0, error: RxError.POISONED },
  });
  out.push({ what: 'CplLk', setup, tlp: { type: 'CplLk', ...cpl }, want: { sel: RxPort.Other, func: 0, error: 0 } });
  out.push({
    what: 'MRdLk inside BAR0',
    setup,
    tlp: { type: 'MRdLk', address: 0xe000_0100n, length: 1, firstBe: 0xf, lastBe: 0, requesterId: 1, tag: 1 },
    want: { sel: RxPort.Other, func: 0, error: 0 },
  });
  return out;
}

describe('pcie_rx_classifier', () => {
  test.each(WIDTHS)('W=%i: port, BAR, offset, function and error code of every TLP kind at the BAR edges', (W) => {
    const { seed, replay } = caseSeed(W);
    const list = cases(new Rng(seed));
    const stim: Vector[] = list.map((c) => ({
      rx_valid: 1,
      rx_sop: 1,
      rx_eop: 1,
      rx_hdr: hdrBig(encodeTlp(c.tlp).hdr),
      out_ready: 1,
      mem_enable: c.setup.memEnable ? 1 : 0,
      bar0_base: c.setup.bases[0],
      bar2_base: c.setup.bases[1],
    }));
    // The classification leaves from the second of two pipeline registers: case i is on the outputs two
    // cycles later, one case per cycle.
    const out = cycleSim(RxClassifier.elaborate({ W, bars: BARS }), [...stim, { rx_valid: 0 }, { rx_valid: 0 }]);
    expect([out[0].out_valid, out[1].out_valid], 'nothing before the first TLP').toEqual([0n, 0n]);
    let hits = 0;
    list.forEach((c, i) => {
      const o = out[i + 2];
      const what = `${c.what} (${replay})`;
      expect(o.out_valid, `${what}: valid`).toBe(1n);
      expect(Number(o.sel), `${what}: port (one-hot)`).toBe(1 << c.want.sel);
      expect(o.out_hdr, `${what}: header`).toBe(stim[i].rx_hdr);
      expect([Number(o.out_func), Number(o.out_error)], `${what}: function, error`).toEqual([
        c.want.func,
        c.want.error,
      ]);
      if (c.want.bar !== undefined) {
        hits++;
        expect([Number(o.out_bar), o.out_offset], `${what}: BAR, offset`).toEqual([c.want.bar, c.want.offset]);
      }
    });
    expect(hits, 'memory requests that hit a BAR').toBeGreaterThan(50);
    expect(
      list.filter((c) => c.want.sel === RxPort.Other && c.tlp.type.startsWith('M')).length,
      'memory requests that hit none',
    ).toBeGreaterThan(50);
  });
});
