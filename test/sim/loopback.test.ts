// The simulator against the hand-written loopback fixture (test/fixtures/sim): TLP round
// trips at W=64 and W=256 under random idle/backpressure, scheduling, stop conditions,
// poke/peek, tx protocol checks, and the pure C++ replay.
import { afterEach, beforeAll, describe, expect, test } from 'vitest';
import { Sim, SimError, type RawTlp } from '../../sim/index';
import { Rng } from '../../sim/random';
import { forEachSeed } from '../support/seeds';
import { LOOPBACK_W256, LOOPBACK_W64, echoOf, hex, randomTlp } from './helpers';

const open: Sim[] = [];
function load(ports: string, opts: Partial<Parameters<typeof Sim.load>[0]> = {}): Sim {
  const sim = Sim.load({ ports, quiet: true, ...opts });
  open.push(sim);
  return sim;
}
afterEach(() => {
  for (const s of open.splice(0)) s.close();
});

function expectEcho(got: RawTlp[], sent: RawTlp[]): void {
  expect(got.length, 'number of TLPs echoed').toBe(sent.length);
  got.forEach((g, i) => {
    const want = echoOf(sent[i]);
    if (hex(g) !== hex(want) || !g.data.every((v, j) => v === want.data[j]))
      throw new Error(`TLP ${i} (${sent[i].data.length} dw): got ${hex(g)}, want ${hex(want)}`);
  });
}

describe.each([
  { W: 64, ports: LOOPBACK_W64 },
  { W: 256, ports: LOOPBACK_W256 },
])('loopback W=$W', ({ W, ports }) => {
  beforeAll(() => {
    Sim.load({ ports, resetCycles: 0 }).close(); // build once (or hit the shared cache)
  });

  test('round trip of every length 0..64 dwords under random idle and backpressure', () => {
    forEachSeed((seed) => {
      const rng = new Rng(seed);
      const sim = load(ports, { seed, rxIdle: 0.3, txBackpressure: 0.4 });
      const lengths = [
        ...Array.from({ length: 65 }, (_, i) => i),
        ...Array.from({ length: 135 }, () => Math.floor(rng.next() * 65)),
      ];
      const sent = lengths.map((n) => randomTlp(rng, n));
      const got: RawTlp[] = [];
      // Feed in batches while collecting, as a test bench would.
      for (let i = 0; i < sent.length; i += 25) {
        for (const t of sent.slice(i, i + 25)) sim.send(t);
        const r = sim.run({ untilTx: Math.min(25, sent.length - i), maxCycles: 100_000 });
        expect(r.reason).toBe('tx');
        got.push(...sim.takeTx());
      }
      expectEcho(got, sent);
      for (let i = 1; i < got.length; i++) expect(got[i].cycle!).toBeGreaterThan(got[i - 1].cycle!);
      expect(sim.peek('tlp_count')).toBe(BigInt(sent.length & 0xffff));
      // Idle and backpressure really happened: far more cycles than beats.
      const beats = lengths.reduce((n, d) => n + Math.max(1, Math.ceil(d / (W / 32))), 0);
      expect(sim.cycle).toBeGreaterThan(beats * 1.3);
    });
  });

  test('full throughput without idle or backpressure: one beat per cycle', () => {
    const sim = load(ports, { seed: 1 });
    const lanes = W / 32;
    const sent = [randomTlp(new Rng(2), 4 * lanes), randomTlp(new Rng(3), 0), randomTlp(new Rng(4), 2 * lanes)];
    const start = sim.cycle;
    for (const t of sent) sim.send(t);
    expect(sim.run({ untilTx: 3, maxCycles: 100 }).reason).toBe('tx');
    const got = sim.takeTx();
    expectEcho(got, sent);
    // rx sop at `start`, one cycle through the FIFO, then back-to-back beats.
    expect(got.map((t) => t.cycle)).toEqual([start + 1, start + 5, start + 6]);
  });

  test('atCycle is honoured; the rx queue is ordered by injection cycle, FIFO among equals', () => {
    const sim = load(ports, { seed: 5 });
    const now = sim.cycle;
    const rng = new Rng(9);
    const late = randomTlp(rng, 3);
    const early = randomTlp(rng, 1);
    const same1 = randomTlp(rng, 0);
    const same2 = randomTlp(rng, 2);
    sim.send(late, now + 200);
    sim.send(early, now + 50);
    sim.send(same1, now + 120);
    sim.send(same2, now + 120);
    expect(sim.run({ cycles: 40 }).reason).toBe('cycles');
    expect(sim.txPending).toBe(0);
    expect(sim.run({ untilTx: 4, maxCycles: 1000 }).reason).toBe('tx');
    const got = sim.takeTx();
    expectEcho(got, [early, same1, same2, late]);
    // The fixture needs one cycle from rx to tx; no idle cycles, no backpressure.
    expect(got.map((t) => t.cycle)).toEqual([now + 51, now + 121, now + 122, now + 201]);
    // A TLP on the wire stays first even if one with an earlier injection cycle arrives.
    const long = randomTlp(rng, 64);
    const urgent = randomTlp(rng, 1);
    sim.send(long);
    sim.run({ cycles: 3 });
    sim.send(urgent, 0);
    sim.run({ untilTx: 2, maxCycles: 200 });
    expectEcho(sim.takeTx(), [long, urgent]);
    // tlp.cycle is the default injection cycle (a TLP taken from tx can be re-sent as is).
    const t = { ...randomTlp(rng, 1), cycle: sim.cycle + 30 };
    sim.send(t);
    sim.run({ untilTx: 1, maxCycles: 100 });
    expect(sim.takeTx()[0].cycle).toBe(t.cycle + 1);
  });

  test('run stops on cycles, untilTx, until and maxCycles', () => {
    const sim = load(ports, { seed: 3 });
    let c = sim.cycle;
    expect(sim.run({ cycles: 10 })).toEqual({ reason: 'cycles', cycles: 10 });
    expect(sim.cycle).toBe(c + 10);
    expect(sim.run({ untilTx: 1, maxCycles: 25 })).toEqual({ reason: 'limit', cycles: 25 });
    expect(() => sim.run({})).toThrow(/needs cycles/);

    const rng = new Rng(11);
    const sent = Array.from({ length: 10 }, (_, i) => randomTlp(rng, i));
    for (const t of sent) sim.send(t);
    expect(sim.run({ untilTx: 3, maxCycles: 1000 }).reason).toBe('tx');
    expect(sim.txPending).toBe(3);
    expect(sim.run({ untilTx: 3, maxCycles: 1000 })).toEqual({ reason: 'tx', cycles: 0 }); // already true
    const first = sim.takeTx();
    expect(sim.txPending).toBe(0);
    expect(sim.run({ until: { signal: 'tlp_count', equals: 10 }, maxCycles: 1000 }).reason).toBe('until');
    expect(sim.peek('tlp_count')).toBe(10n);
    expectEcho([...first, ...sim.takeTx()], sent);
    // cycles wins over a condition that does not hold in time
    c = sim.cycle;
    expect(sim.run({ cycles: 7, untilTx: 1 })).toEqual({ reason: 'cycles', cycles: 7 });
    expect(sim.cycle).toBe(c + 7);
  });

  test('untilTx with writesCountOnlyIn: memory writes outside the window pile up without ending the run', () => {
    const sim = load(ports, { seed: 8 });
    const rng = new Rng(12);
    // A memory write (3DW below 4 GB, else 4DW) of ndw random dwords at addr.
    const mwr = (addr: bigint, ndw: number): RawTlp => {
      const four = addr >= 1n << 32n;
      const hdr = new Uint32Array([((four ? 0b011 : 0b010) << 29) | ndw, 0x0100_00ff, 0, 0]);
      if (four) {
        hdr[2] = Number(addr >> 32n);
        hdr[3] = Number(addr & 0xffff_fffcn);
      } else hdr[2] = Number(addr);
      return { hdr, data: randomTlp(rng, ndw).data };
    };
    const win = { from: 0xfee0_0000n, to: 0xfef0_0000n };
    const quiet = [mwr(0x1000n, 2), mwr(0x2_fee0_1000n, 3), mwr(0xfedf_fffcn, 1), mwr(0xfef0_0000n, 4)];
    const msi = mwr(0xfee0_1000n, 1);
    const t0 = sim.cycle;
    quiet.forEach((t, i) => sim.send(t, t0 + 10 * i));
    sim.send(msi, t0 + 100);
    // Only the write into the window ends the run; the others are there when it does.
    expect(sim.run({ untilTx: 1, writesCountOnlyIn: win, maxCycles: 1000 }).reason).toBe('tx');
    expect(sim.txPending).toBe(5);
    const got = sim.takeTx();
    expectEcho(got, [...quiet, msi]);
    expect(got[4].cycle).toBe(sim.cycle - 1);
    // Writes already waiting do not count either; a read (or any other TLP) does.
    sim.send(mwr(0x2000n, 1));
    expect(sim.run({ untilTx: 1, maxCycles: 100 }).reason).toBe('tx');
    expect(sim.run({ untilTx: 1, writesCountOnlyIn: win, maxCycles: 50 })).toEqual({ reason: 'limit', cycles: 50 });
    const read = randomTlp(rng, 0);
    sim.send(read);
    expect(sim.run({ untilTx: 1, writesCountOnlyIn: win, maxCycles: 100 }).reason).toBe('tx');
    expect(sim.takeTx().length).toBe(2);
    // Without the option every TLP counts, as before.
    sim.send(mwr(0x3000n, 1));
    expect(sim.run({ untilTx: 1, maxCycles: 100 }).reason).toBe('tx');
    expect(sim.takeTx().length).toBe(1);
  });

  test('run() and takeTx() hand over more TLPs than one arena chunk holds, in order', () => {
    const sim = load(ports, { seed: 4 });
    const rng = new Rng(21);
    const sent = Array.from({ length: 40 }, () => randomTlp(rng, 1024));
    for (const t of sent) sim.send(t);
    expect(sim.run({ untilTx: sent.length, maxCycles: 1_000_000 }).reason).toBe('tx');
    expect(sim.txPending).toBe(sent.length);
    const got = sim.takeTx();
    expectEcho(got, sent);
    expect(sim.txPending).toBe(0);
    expect(sim.takeTx()).toEqual([]);
  });

  test('poke and peek of narrow and wide signals', () => {
    const sim = load(ports, { seed: 1 });
    const big = (1n << 99n) | 0x1234_5678_9abc_def0_1122n;
    sim.poke('magic_in', big);
    expect(sim.peek('magic_in')).toBe(big);
    sim.run({ cycles: 1 });
    expect(sim.peek('magic_out')).toBe(big + 1n);
    sim.poke('magic_in', (1n << 100n) - 1n);
    expect(sim.run({ until: { signal: 'magic_out', equals: 0n }, maxCycles: 5 })).toEqual({
      reason: 'until',
      cycles: 1,
    });
    sim.poke('mode', 3);
    expect(sim.peek('mode')).toBe(3n);
    sim.poke('mode', 0);
    expect(() => sim.poke('mode', 4)).toThrow(/does not fit 2 bits/);
    expect(() => sim.poke('magic_in', 1n << 100n)).toThrow(/does not fit 100 bits/);
    expect(() => sim.poke('magic_out', 1)).toThrow(/output/);
    expect(() => sim.poke('rx_valid', 1)).toThrow(/driven by the harness/);
    expect(() => sim.peek('nope')).toThrow(/no port nope/);
    // 128-bit header port: DW0 lands in bits 127:96.
    const t = randomTlp(new Rng(1), 0);
    sim.send(t);
    sim.run({ untilTx: 1, maxCycles: 20 });
    const hdr = sim.peek('rx_hdr');
    expect(Number(hdr >> 96n)).toBe(t.hdr[0]);
    expect(Number(hdr & 0xffff_ffffn)).toBe(t.hdr[3]);
    expect(sim.peek('rx_data') >> BigInt(W)).toBe(0n);
  });

  test('tx protocol errors are reported with the cycle', () => {
    const sim = load(ports, { seed: 2 });
    const rng = new Rng(4);
    // mode 1: the fixture never asserts tx_eop, so the second TLP's sop arrives inside the first
    // (one full beat each, so the keep check has nothing to say first).
    sim.poke('mode', 1);
    sim.send(randomTlp(rng, W / 32));
    sim.send(randomTlp(rng, W / 32));
    let err: unknown;
    try {
      sim.run({ untilTx: 2, maxCycles: 100 });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SimError);
    expect((err as SimError).message).toMatch(/cycle \d+: tx: sop while a packet is open/);
    expect((err as SimError).cycle).toBeGreaterThan(0);

    // The sim goes on after a reset: mode 2 clears keep lane 0 on multi-dword beats.
    sim.poke('mode', 2);
    sim.reset();
    sim.send(randomTlp(rng, 3));
    expect(() => sim.run({ untilTx: 1, maxCycles: 100 })).toThrow(
      W === 64 ? /keep=0x2 on a beat without eop/ : /keep=0x6 is not contiguous/,
    );
    sim.takeTx(); // a TLP that completed despite the error is still delivered: discard it

    // A header whose Length disagrees with the payload is flagged on the way back.
    sim.poke('mode', 0);
    sim.reset();
    const bad = randomTlp(rng, 5);
    bad.hdr[0] = (bad.hdr[0] & ~0x3ff) | 6;
    sim.send(bad);
    expect(() => sim.run({ untilTx: 1, maxCycles: 100 })).toThrow(/has 5 payload dwords but header Length says 6/);
    expect(sim.takeTx().map((t) => t.data.length)).toEqual([5]);

    // And recovers: a good TLP goes through.
    sim.reset();
    const good = randomTlp(rng, 2);
    sim.send(good);
    expect(sim.run({ untilTx: 1, maxCycles: 100 }).reason).toBe('tx');
    expectEcho(sim.takeTx(), [good]);
  });

  test('$finish in the design stops run() with reason finish', () => {
    const sim = load(ports, { seed: 1 });
    sim.poke('mode', 3);
    expect(sim.run({ cycles: 10 })).toEqual({ reason: 'finish', cycles: 1 });
  });

  test('several simulations in one process keep their own Verilator context', () => {
    // Verilator finds "the" context through a thread-local that the newest model sets: each Sim claims its own
    // before every call, so $finish in an older model is seen by that model (and a replay in between, which
    // builds and destroys a model of its own, leaves nothing dangling).
    const older = load(ports, { seed: 1 });
    const newer = load(ports, { seed: 2 });
    older.run({ cycles: 5 });
    expect(older.runFree().matchesLive).toBe(true);
    older.poke('mode', 3);
    expect(older.run({ cycles: 10 })).toEqual({ reason: 'finish', cycles: 1 });
    expect(newer.run({ cycles: 10 })).toEqual({ reason: 'cycles', cycles: 10 });
  });

  test('runFree replays the recorded stimulus in pure C++ with identical tx traffic', () => {
    forEachSeed((seed) => {
      const rng = new Rng(seed);
      const sim = load(ports, { seed, rxIdle: 0.2, txBackpressure: 0.3 });
      for (let round = 0; round < 5; round++) {
        for (let i = 0; i < 20; i++)
          sim.send(randomTlp(rng, Math.floor(rng.next() * 65)), sim.cycle + Math.floor(rng.next() * 100));
        sim.run({ cycles: 300 + Math.floor(rng.next() * 300) });
        if (round === 2) {
          sim.setTxBackpressure(0.8);
          sim.poke('magic_in', 77);
        }
        sim.takeTx();
      }
      const live = sim.stats();
      const r = sim.runFree();
      expect(r.cycles).toBe(sim.cycle);
      expect(r.tx).toBe(live.txTotal);
      expect(r.matchesLive).toBe(true);
      expect(r.seconds).toBeGreaterThan(0);
      // A shorter replay is possible too (and sees less traffic).
      const half = sim.runFree(Math.floor(sim.cycle / 2));
      expect(half.cycles).toBe(Math.floor(sim.cycle / 2));
      expect(half.tx).toBeLessThan(r.tx);
      expect(half.matchesLive).toBeUndefined();
    });
  });
});
