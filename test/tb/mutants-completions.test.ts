// Completion splitting and reassembly (tb/pcie/completions.ts) at the edges: what each completion carries, the
// option checks, zero-length reads, and a requester's view of a wrong final completion. Written for behaviour the
// mutation run (npm run mutate) found untested.
import { describe, expect, test } from 'vitest';
import { ReadReassembly, splitReadCompletions, type ReadShape } from '../../tb/pcie/completions';
import { Rng } from '../../sim/random';
import type { CplDTlp } from '../../tb/pcie/tlp';

const PAGE = 0x4000_0000n;

const cpl = (lowerAddress: number, byteCount: number, dwords: number): CplDTlp => ({
  type: 'CplD',
  completerId: 0,
  requesterId: 0x100,
  tag: 1,
  status: 0,
  byteCount,
  lowerAddress,
  data: new Uint8Array(4 * dwords).map((_, i) => i + 1),
});

describe('splitReadCompletions: what each completion carries', () => {
  test('carried counts the enabled bytes of each completion and adds up to the byte count', () => {
    // 0x1002..0x10c5 (first DW BE 1100b, last DW BE 0011b: 196 bytes), split at every 64-byte RCB.
    const req: ReadShape = { address: PAGE + 0x1000n, length: 50, firstBe: 0b1100, lastBe: 0b0011 };
    const chunks = splitReadCompletions(req, { rcb: 64, mps: 128, mode: 'rcb' });
    expect(chunks.map((c) => [c.offset, c.lengthDw, c.byteCount, c.carried])).toEqual([
      [0, 16, 196, 62],
      [64, 16, 134, 64],
      [128, 16, 70, 64],
      [192, 2, 6, 6],
    ]);
    // A single completion carries exactly the enabled span.
    const one = splitReadCompletions({ address: PAGE, length: 1, firstBe: 0b0110, lastBe: 0 }, { rcb: 64, mps: 128 });
    expect(one.map((c) => [c.lengthDw, c.byteCount, c.carried])).toEqual([[1, 2, 2]]);
    const two = splitReadCompletions(
      { address: PAGE, length: 2, firstBe: 0b1000, lastBe: 0b0001 },
      { rcb: 64, mps: 128 },
    );
    expect(two.map((c) => [c.lengthDw, c.byteCount, c.carried])).toEqual([[2, 2, 2]]);
  });

  test('a zero-length read is one dword carrying the one byte the byte count reports', () => {
    const z = splitReadCompletions({ address: PAGE + 0x44n, length: 1, firstBe: 0, lastBe: 0 }, { rcb: 64, mps: 128 });
    expect(z).toEqual([{ offset: 0, lengthDw: 1, byteCount: 1, lowerAddress: 0x44, carried: 1 }]);
  });

  test('options: RCB 64 or 128, MPS a power of two in 128..4096, random mode needs an rng', () => {
    const req: ReadShape = { address: PAGE, length: 4, firstBe: 0xf, lastBe: 0xf };
    for (const mps of [64, 8192, 384, 0])
      expect(() => splitReadCompletions(req, { rcb: 64, mps }), `mps ${mps}`).toThrow(
        new RangeError(`MPS must be a power of two in 128..4096, got ${mps}`),
      );
    expect(() => splitReadCompletions(req, { rcb: 256, mps: 256 })).toThrow(/RCB must be 64 or 128 bytes, got 256/);
    expect(() => splitReadCompletions(req, { rcb: 64, mps: 128, mode: 'random' })).toThrow(/'random' needs an rng/);
    expect(splitReadCompletions(req, { rcb: 128, mps: 128, mode: 'random', rng: new Rng(1) })).toHaveLength(1);
    expect(splitReadCompletions(req, { rcb: 64, mps: 4096 })).toHaveLength(1);
  });
});

describe('ReadReassembly', () => {
  test('tracks the byte count still expected and the completions taken', () => {
    const r = new ReadReassembly({ address: PAGE, length: 32, firstBe: 0xf, lastBe: 0xf }, { rcb: 64, mps: 128 });
    expect([r.expectedByteCount, r.expectedLowerAddress, r.completions]).toEqual([128, 0, 0]);
    expect(r.accept(cpl(0, 128, 16))).toBeNull();
    expect([r.expectedByteCount, r.expectedLowerAddress, r.completions, r.done]).toEqual([64, 64, 1, false]);
    expect(r.accept(cpl(64, 64, 16))).toBeNull();
    expect([r.expectedByteCount, r.completions, r.done]).toEqual([0, 2, true]);
  });

  test('a zero-length read takes exactly one dword', () => {
    const req: ReadShape = { address: PAGE + 8n, length: 1, firstBe: 0, lastBe: 0 };
    let r = new ReadReassembly(req, { rcb: 128, mps: 128 });
    expect(r.accept(cpl(8, 1, 2))).toEqual({
      code: 'completion-mismatch',
      reason: 'zero-length read completed with 2 DW, expected 1',
    });
    expect([r.done, r.completions]).toEqual([false, 0]);
    r = new ReadReassembly(req, { rcb: 128, mps: 128 });
    expect(r.accept(cpl(8, 1, 1))).toBeNull();
    expect([r.done, r.completions, r.data.length]).toEqual([true, 1, 0]);
  });

  test('a final completion must end at the dword holding the last byte', () => {
    // 10 bytes from 0x...06: three dwords. (Fewer would be a partial completion, checked against the RCB.)
    const req: ReadShape = { address: PAGE + 4n, length: 3, firstBe: 0b1100, lastBe: 0b1111 };
    for (const dwords of [4, 5]) {
      const r = new ReadReassembly(req, { rcb: 128, mps: 128 });
      expect(r.accept(cpl(6, 10, dwords))).toEqual({
        code: 'completion-mismatch',
        reason: `final completion of ${dwords} DW, expected 3 DW for the last 10 bytes`,
      });
      expect(r.completions).toBe(0);
    }
    const r = new ReadReassembly(req, { rcb: 128, mps: 128 });
    expect(r.accept(cpl(6, 10, 3))).toBeNull();
    expect(Array.from(r.data)).toEqual([3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  });
});
