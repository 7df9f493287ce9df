// A read's completions handed to the link in one batch (RcCore.sendBatch, Link.sendBatch) are exactly the
// completions the one-at-a-time path sends: same headers (the codec's encodeCplDHeader equals encodeCplD), same
// payload slices, same cycles (the same random draws in the same order), the delivery report on the last one;
// under every split mode, both RCBs and MPS values, reads at any offset up to the 4 KB edges, and every check the
// codec makes still made.
import { describe, expect, test } from 'vitest';
import { Rng } from '../../sim/random';
import { sendBatchSingly, type Link } from '../../tb/pcie/link';
import { RootComplex } from '../../tb/pcie/rootcomplex';
import {
  CplStatus,
  encodeCplD,
  encodeCplDHeader,
  encodeTlp,
  type CplDHeader,
  type MemReadTlp,
} from '../../tb/pcie/tlp';
import type { RawTlp, TlpBatch } from '../../sim/raw';
import { forEachSeed } from '../support/seeds';

interface Sent {
  hdr: number[];
  data: number[];
  at: number;
  tracked: boolean;
}

/** A link that records what it is sent (copies); with `batches`, it takes batches too (counted). */
class Recorder implements Link {
  cycle = 0;
  readonly copiesOnSend = true;
  readonly sent: Sent[] = [];
  readonly reports: ((cycle: number) => void)[] = [];
  batches = 0;
  readonly sendBatch?: (b: TlpBatch, delivered?: (cycle: number) => void) => void;
  constructor(batches: boolean) {
    if (batches)
      this.sendBatch = (b, delivered) => {
        this.batches++;
        sendBatchSingly(this, b, delivered);
      };
  }
  send(raw: RawTlp, at?: number): void {
    this.sent.push({ hdr: Array.from(raw.hdr), data: Array.from(raw.data), at: at ?? this.cycle, tracked: false });
  }
  sendTracked(raw: RawTlp, at: number, delivered: (cycle: number) => void): void {
    this.sent.push({ hdr: Array.from(raw.hdr), data: Array.from(raw.data), at, tracked: true });
    this.reports.push(delivered);
  }
  run(): { reason: string; cycles: number } {
    return { reason: 'cycles', cycles: 0 };
  }
  takeTx(): RawTlp[] {
    return [];
  }
}

/** A read of `bytes` at page offset `off` (dword-aligned request, byte enables trimming the ends). */
function read(base: bigint, off: number, bytes: number, tag: number): MemReadTlp {
  const first = base + BigInt(off);
  const addr = first & ~3n;
  const lead = Number(first - addr);
  const length = Math.ceil((lead + bytes) / 4);
  const lastBytes = (lead + bytes) % 4 || 4;
  return {
    type: 'MRd',
    address: addr,
    length,
    firstBe: length === 1 ? ((1 << bytes) - 1) << lead : (0xf << lead) & 0xf,
    lastBe: length === 1 ? 0 : (1 << lastBytes) - 1,
    requesterId: 0x0100,
    tag,
    tc: 0,
    attr: 0,
  };
}

describe("a read's completions in one batch", () => {
  test('equal the one-at-a-time completions: split modes, RCB 64/128, MPS 128/256/512, offsets up to 4 KB edges', () => {
    forEachSeed((seed) => {
      const rng = new Rng(seed);
      for (const split of ['rcb', 'max', 'random'] as const)
        for (const rcb of [64, 128] as const)
          for (const mps of [128, 256, 512]) {
            const links = [new Recorder(true), new Recorder(false)];
            const rcs = links.map(
              (l) =>
                new RootComplex(l, {
                  seed,
                  split,
                  rcb,
                  latency: { min: 20, max: 60 },
                  cplGap: { min: 0, max: 3 },
                  device: { mps, mrrs: 4096, extTags: true },
                }),
            );
            const regions = rcs.map((rc) => rc.mem.alloc(3 * 4096, { perm: 'ro', align: 4096 }));
            const fill = Uint8Array.from({ length: 3 * 4096 }, () => rng.u32() & 0xff);
            rcs.forEach((rc, i) => rc.mem.write(regions[i].addr, fill));
            for (let r = 0; r < 24; r++) {
              // Up to the end of a 4 KB page, from anywhere in it (the 4 KB edge itself included).
              const off = rng.chance(0.3) ? 4096 - rng.int(1, 64) : rng.int(0, 4095);
              const bytes = Math.max(1, Math.min(rng.int(1, 1024), 4096 - off));
              const cycle = 100 * r;
              links.forEach((l) => (l.cycle = cycle));
              rcs.forEach((rc, i) => {
                const raw = encodeTlp(read(regions[i].addr + 4096n, off, bytes, r & 0xff));
                rc.receive({ ...raw, cycle });
              });
              // Delivered at once: the tag is free for the next read.
              for (const l of links) for (const d of l.reports.splice(0)) d(cycle + 1);
            }
            const [batched, single] = links;
            expect(batched.batches).toBe(24);
            expect(single.batches).toBe(0);
            expect(batched.sent.length).toBeGreaterThan(24);
            expect(batched.sent, `split ${split}, RCB ${rcb}, MPS ${mps}`).toEqual(single.sent);
            expect(rcs[0].stats().toDevice).toEqual(rcs[1].stats().toDevice);
            expect(rcs[0].stats().completer.completionsSent).toBe(batched.sent.length);
            for (const rc of rcs) expect(rc.violations).toEqual([]);
          }
    }, 3);
  });

  test('encodeCplDHeader writes the header encodeCplD gives, and refuses what encodeCplD refuses', () => {
    const rng = new Rng(7);
    const hdr = new Uint32Array(12).fill(0xffff_ffff);
    for (let i = 0; i < 500; i++) {
      const len = rng.int(1, 32);
      const lowerAddress = rng.int(0, 0x7f);
      const last = rng.chance(0.5);
      const t: CplDHeader = {
        type: rng.chance(0.9) ? 'CplD' : 'CplDLk',
        completerId: rng.int(0, 0xffff),
        requesterId: rng.int(0, 0xffff),
        tag: rng.int(0, 1023),
        tc: rng.int(0, 7),
        attr: rng.int(0, 7),
        status: CplStatus.SC,
        // The last completion carries exactly the rest; a partial one more than it carries.
        byteCount: last ? Math.max(1, 4 * len - (lowerAddress & 3) - rng.int(0, 3)) : 4 * len + rng.int(1, 1000),
        lowerAddress: last ? lowerAddress : ((64 - ((4 * len) % 64)) % 64) & 0x7c,
        ep: rng.chance(0.2),
      };
      const want = encodeCplD({ ...t, data: new Uint32Array(len) }, { allowMalformed: true }).hdr;
      const at = 4 * rng.int(0, 2);
      encodeCplDHeader(t, len, hdr, at, { allowMalformed: true });
      expect(Array.from(hdr.subarray(at, at + 4))).toEqual(Array.from(want));
    }
    const ok: CplDHeader = {
      type: 'CplD',
      completerId: 0,
      requesterId: 0x100,
      tag: 3,
      status: CplStatus.SC,
      byteCount: 64,
      lowerAddress: 0,
    };
    const bad: [Partial<CplDHeader>, number][] = [
      [{ tag: 1024 }, 16],
      [{ status: CplStatus.UR }, 16],
      [{ byteCount: 4097 }, 16],
      [{ byteCount: 8 }, 16], // the last completion would need 2 DW
      [{ lowerAddress: 4 }, 4], // a partial completion not ending on an RCB
      [{}, 0],
      [{}, 1025],
    ];
    for (const [change, len] of bad) {
      const t = { ...ok, ...change };
      let want = '';
      try {
        encodeCplD({ ...t, data: new Uint32Array(len) });
      } catch (e) {
        want = (e as Error).message;
      }
      expect(want, JSON.stringify(change)).not.toBe('');
      expect(() => encodeCplDHeader(t, len, hdr)).toThrow(want);
    }
  });
});
