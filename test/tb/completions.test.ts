// Completion splitting and reassembly, pure TypeScript: for many lengths, offsets, byte
// enables, RCBs, MPSs and split modes, a read's completions must be valid TLPs (the codec's
// strict decode agrees), end on RCBs unless final, stay within MPS, carry the right Byte Count
// and Lower Address, and reassemble the exact bytes.
import { describe, expect, test } from 'vitest';
import { ReadReassembly, splitReadCompletions, type ReadShape, type SplitMode } from '../../tb/pcie/completions';
import { Rng } from '../../sim/random';
import {
  completionLowerAddress,
  decodeTlp,
  encodeTlp,
  memReqByteRange,
  readCompletionByteCount,
  type CplDTlp,
} from '../../tb/pcie/tlp';
import { forEachSeed } from '../support/seeds';

const PAGE = 0x8000_1000n; // any 4 KB page; only the offset within it matters

/** Memory contents: byte i of the page is a function of i. */
const memByte = (off: number) => (off * 7 + 3) & 0xff;

function cplsFor(req: ReadShape, rcb: number, mps: number, mode: SplitMode, rng?: Rng): CplDTlp[] {
  const base = Number(req.address - PAGE);
  return splitReadCompletions(req, { rcb, mps, mode, rng }).map((c) => {
    const data = new Uint8Array(4 * c.lengthDw);
    for (let i = 0; i < data.length; i++) data[i] = memByte(base + c.offset + i);
    return {
      type: 'CplD',
      completerId: 0,
      requesterId: 0x100,
      tag: 5,
      status: 0,
      byteCount: c.byteCount,
      lowerAddress: c.lowerAddress,
      data,
    };
  });
}

/** Every rule a completion sequence must obey; throws with the case on the first failure. */
function checkSplit(req: ReadShape, rcb: number, mps: number, mode: SplitMode, rng?: Rng): number {
  const where = `addr=0x${req.address.toString(16)} len=${req.length} be=${req.firstBe.toString(16)}/${req.lastBe.toString(16)} rcb=${rcb} mps=${mps} mode=${mode}`;
  const cpls = cplsFor(req, rcb, mps, mode, rng);
  const fail = (msg: string) => {
    throw new Error(
      `${where}: ${msg}; completions: ${cpls.map((c) => `[la=0x${c.lowerAddress.toString(16)} bc=${c.byteCount} dw=${c.data.length / 4}]`).join(' ')}`,
    );
  };
  const total = readCompletionByteCount(req.length, req.firstBe, req.lastBe);
  if (cpls[0].byteCount !== total) fail(`first byte count ${cpls[0].byteCount}, want ${total}`);
  if (cpls[0].lowerAddress !== completionLowerAddress(req.address, req.firstBe)) fail('first lower address');
  let dwAddr = req.address;
  const reasm = new ReadReassembly(req, { rcb, mps });
  for (const [i, c] of cpls.entries()) {
    const last = i === cpls.length - 1;
    if (c.data.length > mps) fail(`completion ${i} carries ${c.data.length} bytes > MPS`);
    const end = dwAddr + BigInt(c.data.length);
    if (!last && end % BigInt(rcb) !== 0n) fail(`completion ${i} ends at 0x${end.toString(16)}, not on the RCB`);
    if (i > 0 && c.lowerAddress !== Number(dwAddr & 0x7fn)) fail(`completion ${i} lower address`);
    // The codec's strict rules (final length vs byte count, partial completions on 64 B) agree.
    const raw = encodeTlp(c);
    const back = decodeTlp(raw) as CplDTlp;
    if (back.byteCount !== c.byteCount || back.lowerAddress !== c.lowerAddress)
      fail(`completion ${i} does not round-trip`);
    const p = reasm.accept(back);
    if (p) fail(`reassembly: ${p.code}: ${p.reason}`);
    if (
      mode === 'max' &&
      !last &&
      end + BigInt(rcb) <= dwAddr + BigInt(mps) &&
      end + BigInt(rcb) <= req.address + BigInt(4 * req.length)
    ) {
      fail(`completion ${i} could have carried another RCB ('max' mode)`);
    }
    dwAddr = end;
  }
  if (dwAddr !== req.address + BigInt(4 * req.length)) fail('completions do not cover the request');
  if (!reasm.done) fail('reassembly not done');
  const range = memReqByteRange(req);
  const base = Number(range.addr - PAGE);
  for (let i = 0; i < range.bytes; i++)
    if (reasm.data[i] !== memByte(base + i)) fail(`byte ${i} of the reassembled data differs`);
  return cpls.length;
}

const bes = (lengthDw: number, off: number): [number, number][] =>
  lengthDw === 1
    ? [
        [0xf, 0],
        [0x6, 0],
        [0x9, 0],
        [0x0, 0],
      ]
    : [
        [0xf, 0xf],
        [0xe, 0x1],
        [0x8, 0x7],
        ...(lengthDw === 2 && off % 2 === 0 ? ([[0x5, 0xa]] as [number, number][]) : []),
      ];

describe('splitReadCompletions', () => {
  test('lengths 1..40 DW and around 64/128/256 at every dword phase of a 128 B block, BE shapes, both RCBs, MPS 128/256, all modes', () => {
    forEachSeed((seed) => {
      const rng = new Rng(seed);
      let n = 0;
      for (let offDw = 0; offDw < 32; offDw++) {
        for (const len of [...Array.from({ length: 40 }, (_, i) => i + 1), 63, 64, 65, 127, 128, 129, 255, 256, 257]) {
          for (const [firstBe, lastBe] of bes(len, offDw)) {
            const req = { address: PAGE + BigInt(4 * offDw), length: len, firstBe, lastBe };
            for (const rcb of [64, 128])
              for (const mps of [128, 256]) {
                for (const mode of ['max', 'rcb', 'random'] as const) n += checkSplit(req, rcb, mps, mode, rng);
              }
          }
        }
      }
      expect(n).toBeGreaterThan(50_000);
    });
  });

  test('random requests up to 1024 DW anywhere in the page (no 4 KB crossing), MPS up to 4096', () => {
    forEachSeed((seed) => {
      const rng = new Rng(seed);
      for (let k = 0; k < 1500; k++) {
        const len = rng.chance(0.3) ? rng.int(1, 1024) : rng.int(1, 300);
        const offDw = rng.int(0, 1024 - len);
        const [firstBe, lastBe] = rng.pick(bes(len, offDw));
        const rcb = rng.pick([64, 128]);
        const mps = rng.pick([128, 256, 512, 1024, 2048, 4096]);
        checkSplit(
          { address: PAGE + BigInt(4 * offDw), length: len, firstBe, lastBe },
          rcb,
          mps,
          rng.pick(['max', 'rcb', 'random']),
          rng,
        );
      }
    });
  });

  test("'random' draws the same boundaries as picking from the list of every allowed one", () => {
    // The reference is the straightforward form: list every RCB boundary up to the furthest
    // allowed end, then rng.pick() one. The implementation draws the same index without the list.
    const reference = (req: ReadShape, rcb: number, mps: number, rng: Rng): number[] => {
      const start = Number(req.address & 0xfffn);
      const end = start + 4 * req.length;
      const ends: number[] = [];
      for (let cur = start; cur < end;) {
        const nextRcb = Math.floor(cur / rcb) * rcb + rcb;
        const maxEnd = end <= cur + mps ? end : Math.floor((cur + mps) / rcb) * rcb;
        const choices: number[] = [];
        for (let b = nextRcb; b < maxEnd; b += rcb) choices.push(b);
        choices.push(maxEnd);
        cur = rng.pick(choices);
        ends.push(cur - start);
      }
      return ends;
    };
    forEachSeed((seed) => {
      const rng = new Rng(seed);
      for (let k = 0; k < 2000; k++) {
        const len = rng.int(1, rng.chance(0.2) ? 1024 : 200);
        const offDw = rng.int(0, 1024 - len);
        const [firstBe, lastBe] = rng.pick(bes(len, offDw));
        const req = { address: PAGE + BigInt(4 * offDw), length: len, firstBe, lastBe };
        const rcb = rng.pick([64, 128]);
        const mps = rng.pick([128, 256, 512, 4096]);
        const s = rng.int(0, 0x7fff_ffff);
        const got = splitReadCompletions(req, { rcb, mps, mode: 'random', rng: new Rng(s) }).map(
          (c) => c.offset + 4 * c.lengthDw,
        );
        expect(got, `len ${len} at dword ${offDw}, rcb ${rcb}, mps ${mps}, seed ${s}`).toEqual(
          reference(req, rcb, mps, new Rng(s)),
        );
      }
    });
  });

  test('known cases', () => {
    // The request's dword shape is spelled out: the test imports nothing of requester.ts, which would make
    // `npm run mutate` measure that file against this test file alone (docs/mutation.md).
    const split = (req: ReadShape, rcb: number, mps: number, mode: SplitMode = 'max') =>
      splitReadCompletions(req, { rcb, mps, mode }).map((c) => [c.lowerAddress, c.byteCount, c.lengthDw]);
    // 512 B from 0x...1004 with RCB 64, MPS 256: the first completion runs to the last RCB that fits MPS.
    expect(split({ address: PAGE + 4n, length: 128, firstBe: 0xf, lastBe: 0xf }, 64, 256)).toEqual([
      [0x04, 512, 63],
      [0x00, 260, 64],
      [0x00, 4, 1],
    ]);
    expect(split({ address: PAGE + 0x30n, length: 25, firstBe: 0xf, lastBe: 0xf }, 64, 128, 'rcb')).toEqual([
      [0x30, 100, 4],
      [0x40, 84, 16],
      [0x00, 20, 5],
    ]);
    // Odd start and end: byte count and lower address see the byte enables.
    expect(split({ address: PAGE + 0x40n, length: 2, firstBe: 0xe, lastBe: 0x7 }, 64, 128)).toEqual([[0x41, 6, 2]]);
    // Zero-length read: one DW, byte count 1.
    expect(
      splitReadCompletions({ address: PAGE + 0x10n, length: 1, firstBe: 0, lastBe: 0 }, { rcb: 64, mps: 128 }).map(
        (c) => [c.lowerAddress, c.byteCount, c.lengthDw],
      ),
    ).toEqual([[0x10, 1, 1]]);
    // A whole 4 KB page at MPS 4096 is one completion of 1024 DW (byte count 4096 is encoded as 0).
    const whole = splitReadCompletions(
      { address: PAGE, length: 1024, firstBe: 0xf, lastBe: 0xf },
      { rcb: 64, mps: 4096 },
    );
    expect(whole).toHaveLength(1);
    expect(whole[0].byteCount).toBe(4096);
    expect(() =>
      splitReadCompletions({ address: PAGE, length: 4, firstBe: 0xf, lastBe: 0xf }, { rcb: 32, mps: 128 }),
    ).toThrow(/RCB/);
    expect(() =>
      splitReadCompletions({ address: PAGE, length: 4, firstBe: 0xf, lastBe: 0xf }, { rcb: 128, mps: 100 }),
    ).toThrow(/MPS/);
  });
});

describe('ReadReassembly catches bad completion sequences', () => {
  const req = { address: PAGE + 0x38n, length: 40, firstBe: 0xe, lastBe: 0x3 }; // 0x39..0xd5
  const good = () => cplsFor(req, 64, 128, 'rcb');

  test('a correct sequence is accepted', () => {
    const r = new ReadReassembly(req, { rcb: 64, mps: 128 });
    for (const c of good()) expect(r.accept(c)).toBeNull();
    expect(r.done).toBe(true);
    expect(r.accept(good()[0])?.code).toBe('unexpected-completion');
  });

  test('out of order, wrong byte count, wrong lower address, RCB and MPS violations', () => {
    const cpls = good();
    expect(cpls.length).toBeGreaterThan(2);
    let r = new ReadReassembly(req, { rcb: 64, mps: 128 });
    expect(r.accept(cpls[1])).toMatchObject({
      code: 'completion-mismatch',
      reason: expect.stringMatching(/lower address 0x40, expected 0x39.*address order/),
    });
    r = new ReadReassembly(req, { rcb: 64, mps: 128 });
    expect(r.accept({ ...cpls[0], byteCount: cpls[0].byteCount - 1 })).toMatchObject({
      code: 'completion-mismatch',
      reason: expect.stringMatching(/byte count/),
    });
    // One completion for everything but with too much payload for MPS 128.
    const one = cplsFor(req, 64, 512, 'max');
    expect(one).toHaveLength(1);
    r = new ReadReassembly(req, { rcb: 64, mps: 128 });
    expect(r.accept(one[0])?.code).toBe('mps');
    // Split at 64 B while the completer's RCB is 128: the partial completion ends off-boundary.
    const at64 = cplsFor({ address: PAGE, length: 64, firstBe: 0xf, lastBe: 0xf }, 64, 256, 'rcb');
    r = new ReadReassembly({ address: PAGE, length: 64, firstBe: 0xf, lastBe: 0xf }, { rcb: 128, mps: 256 });
    expect(r.accept(at64[0])).toMatchObject({
      code: 'rcb',
      reason: expect.stringMatching(/not on a 128-byte read completion boundary/),
    });
  });
});
