// The DMA engines' edge cases at every width, both directions: host start offsets 0-3 and 4092-4095 within a
// 4 KB page, every device offset within a line (0..W/8-1), lengths of 1 byte and around the RCB, MPS and MRRS
// multiples, and transfers ending exactly on a 4 KB boundary; byte-exact against the model, the RC's checks on
// (buffers granted exactly, MPS/MRRS/4 KB), and the request shapes checked TLP by TLP.
import { afterEach, beforeAll, describe, expect, test } from 'vitest';
import { Rng } from '../../sim/random';
import { decodeTlp, memReqByteRange, type MemReadTlp, type MemWriteTlp } from '../../tb/pcie/tlp';
import { runBatch, type Xfer } from './batch';
import { bootDma, buildDmaSim, closeDmaBenches, DEV_BYTES, devFill, DMA_WIDTHS, dmaPorts } from './support';

afterEach(closeDmaBenches);

const LENGTHS = [1, 2, 3, 4, 5, 63, 64, 65, 127, 128, 129, 255, 256, 257, 511, 512, 513, 1024, 4095, 4096];
const HOST_OFFSETS = [0, 1, 2, 3, 4092, 4093, 4094, 4095];

/**
 * Every (host offset, device offset) pair with a length from LENGTHS, both directions; then transfers ending on
 * 4 KB. `host` is an offset into a host window (the 4 KB page at 0x1000 is where the offsets apply), `dev` one
 * into a line.
 */
function edgeCases(W: number): Xfer[] {
  const B = W / 8;
  const xs: Xfer[] = [];
  let k = 0;
  for (const h of HOST_OFFSETS)
    for (let d = 0; d < B; d++) {
      const len = LENGTHS[k % LENGTHS.length];
      xs.push({ dir: k % 2 === 0 ? 'read' : 'write', host: BigInt(0x1000 + h), dev: d, len });
      xs.push({ dir: k % 2 === 0 ? 'write' : 'read', host: BigInt(0x1000 + h), dev: d, len });
      k++;
    }
  // Ending exactly on a 4 KB boundary (the page after stays unmapped: a byte more would fault).
  for (const len of LENGTHS)
    for (const dir of ['read', 'write'] as const) xs.push({ dir, host: BigInt(0x2000 - len), dev: (len * 7) % B, len });
  return xs;
}

describe.each(DMA_WIDTHS)('DMA engines, %i-bit stream: edges', (W) => {
  let ports = '';
  beforeAll(() => {
    ports = dmaPorts(W);
    buildDmaSim(ports);
  }, 600_000);

  for (const [mps, mrrs] of [
    [128, 128],
    [256, 512],
  ]) {
    test(`host offsets 0-3 / 4092-4095, every device offset in a line, lengths around RCB/MPS/MRRS, 4 KB ends (MPS ${mps}, MRRS ${mrrs})`, () => {
      const rng = new Rng(W + mps);
      const d = bootDma(
        W,
        ports,
        W + mps,
        { mps, mrrs },
        { split: 'rcb', latency: { min: 10, max: 60 } },
        { rxIdle: 0.2, txBackpressure: 0.3 },
      );
      const model = rng.bytes(DEV_BYTES);
      devFill(d, model);
      const cases = edgeCases(W);
      // Batches of up to 8 in disjoint 8 KiB device windows; host slots of their own.
      for (let i = 0; i < cases.length; i += 8) {
        const batch = cases.slice(i, i + 8).map((x, j) => ({
          ...x,
          host: 0x1000_0000n + BigInt(j) * 0x2_0000n + x.host,
          dev: j * 8192 + x.dev,
        }));
        runBatch(d, model, batch, rng);
      }
      // Request shapes: reads within MRRS, those after a command's first aligned to it; writes within MPS.
      let reads = 0;
      let writes = 0;
      for (const raw of d.tap.fromDevice) {
        const t = decodeTlp(raw);
        if (t.type === 'MRd') {
          const r = memReqByteRange(t as MemReadTlp);
          expect(r.bytes).toBeLessThanOrEqual(mrrs);
          expect(Number(r.addr % 4096n) + r.bytes, 'a read crosses 4 KB').toBeLessThanOrEqual(4096);
          reads++;
        } else if (t.type === 'MWr') {
          const w = t as MemWriteTlp;
          const r = memReqByteRange(w);
          expect(r.bytes).toBeLessThanOrEqual(mps);
          expect(Number(r.addr % 4096n) + r.bytes, 'a write crosses 4 KB').toBeLessThanOrEqual(4096);
          writes++;
        }
      }
      expect(reads).toBeGreaterThan(cases.length / 2);
      expect(writes).toBeGreaterThan(cases.length / 2);
      expect(d.rc.violations).toEqual([]);
    });
  }
});
