// The DMA engines (gen/dma) through the root complex model at every width: seeded random transfers in both
// directions, several commands outstanding at once, against a byte-exact model of device and host memory,
// under completion splitting (every RCB, or at random), reordering across tags, rx idle and tx backpressure,
// with the RC's checks on (no DMA outside the buffer granted for it, MPS, MRRS, 4 KB, byte enables, tags).
import { afterEach, beforeAll, describe, expect } from 'vitest';
import { randomBatch, runBatch, type Xfer } from './batch';
import { Rng } from '../../sim/random';
import { decodeTlp, type MemReadTlp, memReqByteRange, type MemWriteTlp } from '../../tb/pcie/tlp';
import { seededTest } from '../support/seeds';
import { bootDma, buildDmaSim, closeDmaBenches, DEV_BYTES, devFill, DMA_WIDTHS, dmaPorts } from './support';

afterEach(closeDmaBenches);

describe.each(DMA_WIDTHS)('DMA engines, %i-bit stream', (W) => {
  let ports = '';
  beforeAll(() => {
    ports = dmaPorts(W);
    buildDmaSim(ports);
  }, 600_000);

  seededTest('random transfers both ways, several outstanding, byte-exact, completions split and reordered', (seed) => {
    const rng = new Rng(seed);
    let reads = 0;
    let cpls = 0;
    let writes = 0;
    for (let g = 0; g < 4; g++) {
      const mps = rng.pick([128, 256, 512]);
      const mrrs = rng.pick([128, 256, 512, 4096]);
      const d = bootDma(
        W,
        ports,
        seed + g,
        { mps, mrrs },
        { split: g % 2 === 0 ? 'rcb' : 'random', latency: { min: 20, max: 300 } },
        { rxIdle: rng.pick([0, 0.1, 0.5]), txBackpressure: rng.pick([0, 0.3, 0.6]) },
      );
      const model = rng.bytes(DEV_BYTES);
      devFill(d, model);
      for (let b = 0; b < 6; b++) runBatch(d, model, randomBatch(rng, 8 * b), rng);
      const tlps = d.tap.fromDevice.map((t) => decodeTlp(t));
      for (const t of tlps) {
        if (t.type === 'MRd') {
          const r = memReqByteRange(t as MemReadTlp);
          expect(r.bytes).toBeLessThanOrEqual(mrrs);
        } else if (t.type === 'MWr') {
          expect((t as MemWriteTlp).data.length).toBeLessThanOrEqual(mps);
        }
      }
      const s = d.rc.stats();
      reads += s.fromDevice.MRd?.tlps ?? 0;
      writes += s.fromDevice.MWr?.tlps ?? 0;
      cpls += s.toDevice.CplD?.tlps ?? 0;
      expect(d.rc.violations).toEqual([]);
      expect(Number(d.sim.peek('unexpected_count')), 'unexpected completions').toBe(0);
    }
    expect(reads).toBeGreaterThan(20);
    expect(writes).toBeGreaterThan(20);
    expect(cpls, 'completions split').toBeGreaterThan(reads);
  });
});

describe('DMA read engine with 64 tags, 256-bit stream', () => {
  let ports = '';
  beforeAll(() => {
    ports = dmaPorts(256, 64);
    buildDmaSim(ports);
  }, 600_000);

  seededTest('tags from 32 up only with the Extended Tag Field Enable; all 64 in flight with it', (seed) => {
    const rng = new Rng(seed);
    const maxTag = (d: ReturnType<typeof bootDma>, from: number) =>
      Math.max(
        ...d.tap.fromDevice
          .slice(from)
          .map((t) => decodeTlp(t))
          .map((t) => (t.type === 'MRd' ? t.tag : -1)),
      );
    // Long latency and small reads, so that the engine runs out of tags.
    const d = bootDma(256, ports, seed, { extTags: false, mrrs: 128 }, { latency: { min: 400, max: 500 } });
    const model = rng.bytes(DEV_BYTES);
    devFill(d, model);
    const big = (host: bigint): Xfer[] =>
      [0, 1, 2, 3].map((i) => ({ dir: 'read', host: host + BigInt(i) * 0x4000n, dev: 8192 * i, len: 8192 }));
    runBatch(d, model, big(0x1000_0000n), rng);
    expect(maxTag(d, 0), 'without extended tags').toBe(31);
    const n = d.tap.fromDevice.length;
    d.configure({ extTags: true });
    runBatch(d, model, big(0x2000_0000n), rng);
    expect(maxTag(d, n), 'with extended tags').toBe(63);
    expect(d.rc.violations).toEqual([]);
  });
});
