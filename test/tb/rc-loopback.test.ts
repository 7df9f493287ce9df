// The root complex's pump against the Verilated loopback fixture (test/fixtures/sim): every TLP
// the RC sends comes straight back as if the device had sent it. So an MMIO read by the RC comes
// back as a device read of host memory, which the RC's completer answers (split, delayed,
// reordered), and those completions come back again to complete the RC's own read: a full round
// trip through both halves of the RC, the simulator's scheduling, rx idle cycles and tx
// backpressure.
import { afterEach, beforeAll, describe, expect, test } from 'vitest';
import { Sim } from '../../sim/index';
import type { RootComplexOptions } from '../../tb/pcie/options';
import { Rng } from '../../sim/random';
import { RootComplex } from '../../tb/pcie/rootcomplex';
import { decodeTlp } from '../../tb/pcie/tlp';
import { LOOPBACK_W256, LOOPBACK_W64 } from '../sim/helpers';
import { forEachSeed } from '../support/seeds';
import { TapLink } from '../../tb/pcie/link';

const open: Sim[] = [];
afterEach(() => {
  for (const s of open.splice(0)) s.close();
});

function boot(
  ports: string,
  seed: number,
  rcOpts: RootComplexOptions = {},
  simOpts: { rxIdle?: number; txBackpressure?: number } = {},
) {
  const sim = Sim.load({ ports, quiet: true, seed, ...simOpts });
  open.push(sim);
  const tap = new TapLink(sim);
  // The echo makes the RC its own device: same ID both ways, completions split at the RC's 64 B RCB. The
  // loopback has no config space: its settings are stated (MPS 128, the reset value).
  const rc = new RootComplex(tap, { seed, rcId: 0, deviceId: 0, deviceRcb: 64, device: { mps: 128 }, ...rcOpts });
  return { sim, tap, rc };
}

describe.each([
  { W: 64, ports: LOOPBACK_W64 },
  { W: 256, ports: LOOPBACK_W256 },
])('RC pump on the loopback, W=$W', ({ W, ports }) => {
  beforeAll(() => {
    Sim.load({ ports, resetCycles: 0 }).close(); // build once (or hit the cache)
  });

  test('reads round-trip through completer and requester under idle, backpressure, splitting and reordering', () => {
    forEachSeed((seed) => {
      const rng = new Rng(seed);
      const { rc, tap, sim } = boot(
        ports,
        seed,
        { latency: { min: 40, max: 300 } },
        { rxIdle: 0.2, txBackpressure: 0.3 },
      );
      const mem = rc.mem.alloc(0x6000, { name: 'host', above4G: true });
      rc.mem.write(mem.addr, rng.bytes(0x6000));
      // Blocking reads of many sizes and alignments, some across 4 KB boundaries.
      for (let k = 0; k < 40; k++) {
        const len = k < 8 ? [1, 2, 3, 4, 8, 63, 64, 65][k] : rng.int(1, 3000);
        const off = k === 8 ? 0xffe : rng.int(0, 0x6000 - len);
        const got = rc.memRead(mem.addr + BigInt(off), len);
        expect(
          Buffer.compare(Buffer.from(got), Buffer.from(rc.mem.read(mem.addr + BigInt(off), len))),
          `${len}@${off}`,
        ).toBe(0);
      }
      // Many reads in flight at once: completions of different tags interleave.
      const ps = Array.from({ length: 60 }, () => {
        const len = rng.int(1, 512);
        const off = rng.int(0, 0x6000 - len);
        return { off, len, p: rc.startMemRead(mem.addr + BigInt(off), len) };
      });
      rc.waitFor('60 concurrent reads', () => ps.every((x) => x.p.done));
      for (const { off, len, p } of ps)
        expect(Buffer.compare(Buffer.from(p.result()), Buffer.from(rc.mem.read(mem.addr + BigInt(off), len)))).toBe(0);

      // Every completion was scheduled at least the minimum latency after its read left the device.
      const reads = tap.fromDevice.map((r) => ({ t: decodeTlp(r), cycle: r.cycle! })).filter((x) => x.t.type === 'MRd');
      const cpls = tap.toDevice
        .map((s) => ({ t: decodeTlp(s.raw), at: s.at, sentAt: s.sentAt }))
        .filter((x) => x.t.type === 'CplD');
      for (const c of cpls) {
        let req: (typeof reads)[number] | undefined;
        for (const r of reads) if (r.t.tag === c.t.tag && r.cycle <= c.sentAt) req = r;
        expect(c.at - req!.cycle).toBeGreaterThanOrEqual(40);
      }
      // Completions really came back split and out of order.
      const s = rc.stats();
      expect(s.fromDevice.CplD!.tlps).toBeGreaterThan(s.fromDevice.MRd!.tlps);
      const back = tap.fromDevice.map((r) => decodeTlp(r)).filter((t) => t.type === 'CplD');
      const firstSeen: number[] = [];
      for (const t of back) if (!firstSeen.includes(t.tag)) firstSeen.push(t.tag);
      let inversions = 0;
      for (let i = 1; i < firstSeen.length; i++)
        if (firstSeen[i] < firstSeen[i - 1] && firstSeen[i - 1] - firstSeen[i] < 128) inversions++;
      expect(inversions).toBeGreaterThan(0);
      // The pump batches: far fewer link.run calls than cycles.
      expect(s.runCalls).toBeLessThan(sim.cycle / 10);
    });
  });

  test('posted writes come back as device writes into host memory, byte-exact', () => {
    forEachSeed((seed) => {
      const rng = new Rng(seed);
      const { rc } = boot(ports, seed, {}, { rxIdle: 0.1, txBackpressure: 0.5 });
      const mem = rc.mem.alloc(0x3000, { name: 'host' });
      const shadow = new Uint8Array(0x3000);
      for (let k = 0; k < 50; k++) {
        const len = rng.int(1, 700);
        const off = rng.int(0, 0x3000 - len);
        const data = rng.bytes(len);
        rc.memWrite(mem.addr + BigInt(off), data); // split at MPS 128 and 4 KB, partial BEs at both ends
        shadow.set(data, off);
      }
      rc.flush(mem.addr); // a zero-length read: returns after every earlier write came back
      expect(Buffer.compare(Buffer.from(rc.mem.read(mem.addr, 0x3000)), Buffer.from(shadow))).toBe(0);
      expect(rc.stats().completer.dmaWrites).toBeGreaterThanOrEqual(50);
    });
  });

  test('a read the device never completes times out; waits on signals are bounded', () => {
    const { rc, sim } = boot(ports, 1, { completionTimeout: 2000 });
    // Faults: drop every device read, so the RC's own read (echoed as a device read) is never completed.
    const a = rc.mem.alloc(64).addr;
    rc.setFaults({ onRead: () => 'drop' });
    expect(() => rc.read32(a)).toThrow(
      new RegExp(`timeout after 2\\d{3} cycles waiting for completion of MRd 3DW addr=0x${a.toString(16)}`),
    );
    rc.setFaults({ onRead: undefined });
    // An unknown address: the completer's IOMMU check trips (reported, then the pump stops).
    expect(() => rc.read32(0x2000_0000n)).toThrow(/dma-unmapped: DMA read of 4 bytes at 0x20000000/);
    // waitForSignal uses the simulator's own stop condition.
    const before = Number(sim.peek('tlp_count'));
    rc.memWrite(a, new Uint8Array(4));
    expect(rc.waitForSignal('tlp_count', before + 1, { timeout: 1000 })).toBeGreaterThan(0);
    expect(() => rc.waitForSignal('tlp_count', 999, { timeout: 500 })).toThrow(
      /timeout after 500 cycles waiting for tlp_count == 999/,
    );
  });

  test('a simulator protocol error surfaces from the pump', () => {
    const { rc, sim } = boot(ports, 2);
    sim.poke('mode', 1); // the fixture stops asserting tx_eop
    const a = rc.mem.alloc(4096).addr;
    rc.memWrite(a, new Uint8Array(W / 8));
    rc.memWrite(a, new Uint8Array(W / 8));
    expect(() => rc.runFor(200)).toThrow(/sop while a packet is open/);
  });
});
