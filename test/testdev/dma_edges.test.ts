// testdev DMA at the edges, at every TLP stream width, with directed shapes rather than random ones:
//  - host start offsets 0-3 and 4092-4095 of a 4 KB page, below and above 4 GB;
//  - lengths one dword below, at and one dword above the RCB (64), MPS (128), MRRS (256) and their next
//    multiples, one byte, and lengths that end exactly on a 4 KB boundary;
//  - both directions, with the exact request split checked (MRd at MRRS, MWr at MPS, never across 4 KB), the
//    data against a model of the device RAM and of the host buffer, and nothing written outside the range;
//  - read completions split at every 64-byte RCB, including the shape where the last completion of an
//    unaligned read carries no more bytes than the read's offset into its first dword (a tag freed one
//    completion early would lose those bytes).
import { afterEach, beforeAll, describe, expect } from 'vitest';
import type { DataWidth } from '../../gen/pcie/streams';
import { field, RAM_BYTES } from '../../gen/testdev/regs';
import { TESTDEV_WIDTHS } from '../../gen/testdev/top';
import { Rng } from '../../sim/random';
import type { RootComplex } from '../../tb/pcie/rootcomplex';
import { memReqByteRange, type MemReadTlp, type MemWriteTlp, type Tlp } from '../../tb/pcie/tlp';
import { seededTest } from '../support/seeds';
import type { TapLink } from '../../tb/pcie/link';
import {
  boot,
  buildSim,
  closeBenches,
  dma,
  errCode,
  fromDevice,
  OFF,
  ramRead,
  ramWrite,
  same,
  testdevPorts,
} from './support';

afterEach(closeBenches);

const RCB = 64;
const MPS = 128;
const MRRS = 256;
const PAGE = 4096;
const hex = (v: bigint | number) => `0x${v.toString(16)}`;

/** Page offsets a transfer starts at: the first and the last dword of a page, every byte of each. */
const START_OFFSETS = [0, 1, 2, 3, 4092, 4093, 4094, 4095];

/** Lengths one dword below, at and one dword above each boundary multiple, and one byte. */
function edgeLengths(): number[] {
  const out = new Set<number>([1]);
  for (const x of [RCB, MPS, MRRS, 2 * MRRS]) for (const d of [-4, 0, 4]) out.add(x + d);
  return [...out].sort((a, b) => a - b);
}

/** The byte ranges a transfer of `len` bytes at `host` must be cut into: at multiples of `size`. */
function expectedPieces(host: bigint, len: number, size: number): { addr: bigint; bytes: number }[] {
  const out: { addr: bigint; bytes: number }[] = [];
  let a = host;
  const end = host + BigInt(len);
  while (a < end) {
    const next = (a / BigInt(size) + 1n) * BigInt(size);
    const stop = next < end ? next : end;
    out.push({ addr: a, bytes: Number(stop - a) });
    a = stop;
  }
  return out;
}

interface Case {
  host: bigint;
  len: number;
}

/** Every start offset with every edge length, plus the lengths that end on the next 4 KB boundary (or the one after). */
function edgeCases(): Case[] {
  const cases: Case[] = [];
  let page = 0;
  const pageAt = () => {
    // Alternately below and above 4 GB, a fresh 16 KB stretch each time.
    const base = page % 2 === 0 ? 0x1000_0000n : 0x2_0000_0000n;
    return base + 0x4000n * BigInt(page++);
  };
  for (const off of START_OFFSETS) {
    const lens = new Set(edgeLengths());
    lens.add(PAGE - off); // ends exactly at the end of its page
    lens.add(2 * PAGE - off); // crosses one 4 KB boundary and ends on the next
    for (const len of lens) cases.push({ host: pageAt() + BigInt(off), len });
  }
  return cases;
}

const isRead = (t: Tlp): t is MemReadTlp => t.type === 'MRd';
const isWrite = (t: Tlp): t is MemWriteTlp => t.type === 'MWr';

/** The requests of one transfer are exactly `expectedPieces` at `size`. */
function checkPieces(reqs: (MemReadTlp | MemWriteTlp)[], c: Case, size: number, what: string): void {
  const got = reqs.map((r) => memReqByteRange(r));
  const want = expectedPieces(c.host, c.len, size);
  expect(
    got.map((g) => `${hex(g.addr)}+${g.bytes}`),
    `${what}: requests cut at multiples of ${size}`,
  ).toEqual(want.map((w) => `${hex(w.addr)}+${w.bytes}`));
}

/** A RAM offset for `len` bytes with the host address's offset mod 4, somewhere in the RAM. */
function ramOffsetFor(rng: Rng, c: Case): number {
  const room = RAM_BYTES - c.len - 8;
  return 4 + ((rng.int(0, Math.max(0, room - 4)) & ~3) | Number(c.host & 3n));
}

const unexpectedCompletions = (rc: RootComplex) =>
  field('CPL_UNEXPECTED', 'COUNT').get(rc.bar(0).read32(OFF('CPL_UNEXPECTED')));

/** host -> RAM, then the RAM around the range checked against the model. */
function readCase(rc: RootComplex, tap: TapLink, rng: Rng, model: Uint8Array, c: Case, ram: number): void {
  const what = `${c.len} bytes host ${hex(c.host)} -> RAM ${hex(ram)}`;
  const src = rng.bytes(c.len);
  // Up to the end of the last dword: the completer copies a read's trailing dword whole.
  const end = (c.host + BigInt(c.len) + 3n) & ~3n;
  const region = rc.mem.alloc(Number(end - c.host), { at: c.host, perm: 'ro', name: 'src' });
  region.write(0, src);
  const n = tap.fromDevice.length;
  expect(errCode(dma(rc, { dir: 'HOST_TO_RAM', host: c.host, ram, len: c.len })), what).toBe(0);
  rc.mem.unmap(region);
  checkPieces(fromDevice(tap, n).filter(isRead), c, MRRS, what);
  model.set(src, ram);
  const lo = ram - 4;
  const hi = Math.min(RAM_BYTES, ram + c.len + 4);
  expect(same(ramRead(rc, lo, hi - lo), model.subarray(lo, hi)), `${what}: RAM and 4 bytes around`).toBe(true);
}

/** RAM -> host into a buffer with 8 guard bytes on either side. */
function writeCase(rc: RootComplex, tap: TapLink, rng: Rng, model: Uint8Array, c: Case, ram: number): void {
  const what = `${c.len} bytes RAM ${hex(ram)} -> host ${hex(c.host)}`;
  const region = rc.mem.alloc(c.len + 16, { at: c.host - 8n, name: 'dst' });
  const guard = rng.bytes(c.len + 16);
  region.write(0, guard);
  const n = tap.fromDevice.length;
  expect(errCode(dma(rc, { dir: 'RAM_TO_HOST', host: c.host, ram, len: c.len })), what).toBe(0);
  const expected = guard.slice();
  expected.set(model.subarray(ram, ram + c.len), 8);
  expect(same(region.read(0, c.len + 16), expected), `${what}: data, guard bytes untouched`).toBe(true);
  rc.mem.unmap(region);
  checkPieces(fromDevice(tap, n).filter(isWrite), c, MPS, what);
}

describe.each(TESTDEV_WIDTHS)('testdev_w%i DMA edges', (W: DataWidth) => {
  let ports = '';
  beforeAll(() => {
    ports = testdevPorts(W);
    buildSim(ports);
  });
  /** Enumerated with MPS 128 and MRRS 256; read completions split at every 64-byte RCB. */
  const open = (seed: number) => {
    const tb = boot(ports, seed, { mps: MPS, mrrs: MRRS, split: 'rcb' });
    tb.rc.enumerate();
    expect([tb.rc.device!.mps, tb.rc.device!.mrrs]).toEqual([MPS, MRRS]);
    const model = new Rng(seed ^ 0x5a5a).bytes(RAM_BYTES);
    ramWrite(tb.rc, 0, model);
    return { ...tb, model };
  };

  seededTest(
    'start offsets 0-3 and 4092-4095, lengths around RCB, MPS and MRRS multiples, one byte, ending on 4 KB',
    (seed) => {
      const rng = new Rng(seed);
      const { rc, tap, model } = open(seed);
      const cases = edgeCases();
      for (const c of cases) {
        const ram = ramOffsetFor(rng, c);
        readCase(rc, tap, rng, model, c, ram);
        writeCase(rc, tap, rng, model, c, ram);
      }
      expect(unexpectedCompletions(rc), 'completions the device did not expect').toBe(0);
      expect(cases.filter((c) => (c.host + BigInt(c.len)) % BigInt(PAGE) === 0n).length, 'ending on 4 KB').toBe(16);
    },
    { seeds: 1 },
  );

  seededTest('unaligned read whose last RCB-split completion carries no more bytes than the start offset', (seed) => {
    const rng = new Rng(seed);
    const { rc, tap, model } = open(seed);
    let shapes = 0;
    // A read starting `lead` bytes into a dword (1..3), whose first completion ends at the next RCB boundary
    // `first` bytes later, followed by one last completion of `tail` <= lead bytes.
    for (const lead of [1, 2, 3]) {
      for (const firstDws of [1, 2, 15, 16]) {
        for (let tail = 1; tail <= lead; tail++) {
          const first = 4 * firstDws - lead;
          const page = 0x3000_0000n + 0x2000n * BigInt(shapes++);
          const host = page + BigInt(RCB - first); // `first` bytes to the RCB boundary
          const c = { host, len: first + tail };
          const n = tap.toDevice.length;
          readCase(rc, tap, rng, model, c, ramOffsetFor(rng, c));
          const cpls = tap.toDevice.slice(n).filter(({ raw }) => raw.hdr[0] >>> 24 === 0x4a); // CplD
          expect(cpls.length, `${c.len} bytes at ${hex(host)}: two completions`).toBe(2);
          expect(unexpectedCompletions(rc), `${c.len} bytes at ${hex(host)}: unexpected completions`).toBe(0);
        }
      }
    }
    expect(shapes).toBe(24);
  });
});
