// Memories with ports in two clock domains (dual-clock block RAM): the emitted always blocks each use their
// port's clock, Verilator -Wall is clean, Yosys maps them to one RAMB18/RAMB36 without latches, and Icarus with
// two unrelated clocks (7 ns and 10.3 ns) agrees with a model that orders the two domains' edges by time.
import { describe, expect, it } from 'vitest';
import { defineModule, type HwModule } from '../../gen/hdl';
import { Rng } from '../../sim/random';
import { clockSim, type ClockSample } from '../support/clocksim';
import type { Vector } from '../support/cyclesim';
import { caseSeed } from '../support/seeds';
import { synthClean } from '../lib/support-lint';
import { expectLintClean, verilogOf } from './helpers';

const X = -1n;

/** Write port in domain `w`, synchronous read with enable in domain `r`. */
const SimpleDual = defineModule('mem_sdp', (m, p: { width: number; depth: number; strb?: boolean }) => {
  const w = m.domain('w', { reset: null });
  const r = m.domain('r', { reset: null });
  const aw = Math.log2(p.depth);
  const ram = m.memory('ram', { width: p.width, depth: p.depth });
  const wa = m.input('wa', aw);
  const wd = m.input('wd', p.width);
  const we = m.input('we', 1);
  const be = p.strb ? m.input('be', p.width / 8) : undefined;
  ram.write(wa, wd, we, { strb: be, domain: w });
  const ra = m.input('ra', aw);
  const re = m.input('re', 1);
  m.output('q', p.width).set(ram.readSync(ra, { en: re, domain: r }));
});

/** Two read/write ports, one per domain (`a`, `b`): a true dual-port RAM with two clocks. */
const TrueDual = defineModule('mem_tdp', (m, p: { width: number; depth: number }) => {
  const aw = Math.log2(p.depth);
  const ram = m.memory('ram', { width: p.width, depth: p.depth });
  for (const side of ['a', 'b']) {
    const d = m.domain(side, { reset: null });
    const addr = m.input(`${side}_addr`, aw);
    ram.write(addr, m.input(`${side}_wd`, p.width), m.input(`${side}_we`, 1), { domain: d });
    m.output(`${side}_q`, p.width).set(ram.readSync(addr, { domain: d }));
  }
});

interface Access {
  timePs: number;
  port: string;
  addr: number;
  write?: bigint;
  /** For reads: the output and the sample where the data appears (the port's next one). */
  read?: { out: string; sample?: ClockSample };
}

/**
 * Replay the ports' accesses in time order against an array model. A read returns the contents before the
 * writes of its own edge (read-first); a read or write of an address that the other clock writes at the very
 * same instant is undefined, and so is a word nobody wrote: their data is left unchecked.
 */
function checkAccesses(accesses: Access[], depth: number, ctx: string): number {
  const mem: bigint[] = new Array(depth).fill(X);
  accesses.sort((x, y) => x.timePs - y.timePs);
  let checked = 0;
  for (let i = 0; i < accesses.length;) {
    let j = i;
    while (j < accesses.length && accesses[j].timePs === accesses[i].timePs) j++;
    const batch = accesses.slice(i, j);
    const writtenHere = (a: Access) =>
      batch.some((b) => b.port !== a.port && b.write !== undefined && b.addr === a.addr);
    for (const a of batch) {
      if (!a.read?.sample) continue;
      const want = writtenHere(a) ? X : mem[a.addr];
      if (want !== X) {
        expect(a.read.sample.out[a.read.out], `${ctx}: read of ${a.addr} at ${a.timePs} ps`).toBe(want);
        checked++;
      }
    }
    for (const a of batch) if (a.write !== undefined) mem[a.addr] = writtenHere(a) ? X : a.write;
    i = j;
  }
  return checked;
}

describe('dual-clock memories', () => {
  it('emit one always block per port, each on its own clock; the array is waived for two write clocks', () => {
    const sdp = verilogOf(SimpleDual.elaborate({ width: 8, depth: 16 }));
    expect(sdp).toMatch(/always @\(posedge w_clk\) begin[^\n]*\n\s+if \(we\) begin\n\s+ram\[wa\] <= wd;/);
    expect(sdp).toMatch(/always @\(posedge r_clk\) begin[^\n]*\n\s+if \(re\) ram_rd0 <= ram\[ra\];/);
    expect(sdp).not.toContain('MULTIDRIVEN');
    const tdp = verilogOf(TrueDual.elaborate({ width: 8, depth: 16 }));
    expect(tdp).toMatch(
      /lint_off MULTIDRIVEN \*\/ {2}\/\/ dual-clock RAM: one write port per clock\n\s+reg \[7:0\] ram /,
    );
    expect(tdp).toMatch(/always @\(posedge a_clk\)[^\n]*\n\s+if \(a_we\) begin\n\s+ram\[a_addr\] <= a_wd;/);
    expect(tdp).toMatch(/always @\(posedge b_clk\)[^\n]*\n\s+ram_rd1 <= ram\[b_addr\];/);
  });

  it('lint clean under Verilator -Wall', () => {
    expectLintClean(SimpleDual.elaborate({ width: 16, depth: 32, strb: true }));
    expectLintClean(TrueDual.elaborate({ width: 8, depth: 16 }));
  });

  it('simple dual port: what one clock writes, the other reads, under random stimulus', () => {
    const depth = 16;
    const top = SimpleDual.elaborate({ width: 8, depth });
    const { seed, replay } = caseSeed(6001);
    const rng = new Rng(seed);
    const n = 400;
    const wStim: Vector[] = Array.from({ length: n }, () => ({
      wa: rng.below(depth),
      wd: rng.bits(8),
      we: rng.chance(0.5),
    }));
    const rStim: Vector[] = Array.from({ length: n }, () => ({ ra: rng.below(depth), re: rng.chance(0.7) }));
    const [ws, rs] = clockSim(top, [
      { clock: 'w_clk', periodNs: 7, inputs: ['wa', 'wd', 'we'], outputs: [], stimulus: wStim },
      { clock: 'r_clk', periodNs: 10.3, firstEdgeNs: 9, inputs: ['ra', 're'], outputs: ['q'], stimulus: rStim },
    ]);
    const acc: Access[] = [];
    ws.forEach((s) => {
      const v = wStim[s.cycle];
      if (v.we) acc.push({ timePs: s.timePs, port: 'w', addr: Number(v.wa), write: BigInt(v.wd) });
    });
    rs.forEach((s, i) => {
      const v = rStim[s.cycle];
      if (v.re) acc.push({ timePs: s.timePs, port: 'r', addr: Number(v.ra), read: { out: 'q', sample: rs[i + 1] } });
    });
    const checked = checkAccesses(acc, depth, replay);
    expect(checked, 'reads of defined data').toBeGreaterThan(150);
  });

  it('true dual port: two read/write ports on unrelated clocks, under random stimulus', () => {
    const depth = 8; // small, so the two ports often meet at one address
    const top = TrueDual.elaborate({ width: 8, depth });
    const { seed, replay } = caseSeed(6002);
    const rng = new Rng(seed);
    const n = 500;
    const stim = (side: string): Vector[] =>
      Array.from({ length: n }, () => ({
        [`${side}_addr`]: rng.below(depth),
        [`${side}_wd`]: rng.bits(8),
        [`${side}_we`]: rng.chance(0.4),
      }));
    const sa = stim('a');
    const sb = stim('b');
    const spec = (side: string, periodNs: number, firstEdgeNs: number, s: Vector[]) => ({
      clock: `${side}_clk`,
      periodNs,
      firstEdgeNs,
      inputs: [`${side}_addr`, `${side}_wd`, `${side}_we`],
      outputs: [`${side}_q`],
      stimulus: s,
    });
    const [as, bs] = clockSim(top, [spec('a', 10.3, 6, sa), spec('b', 7, 4, sb)]);
    const acc: Access[] = [];
    for (const [side, samples, s] of [
      ['a', as, sa],
      ['b', bs, sb],
    ] as const) {
      samples.forEach((x, i) => {
        const v = s[x.cycle];
        const addr = Number(v[`${side}_addr`]);
        const write = v[`${side}_we`] ? BigInt(v[`${side}_wd`]) : undefined;
        acc.push({ timePs: x.timePs, port: side, addr, write, read: { out: `${side}_q`, sample: samples[i + 1] } });
      });
    }
    const checked = checkAccesses(acc, depth, replay);
    expect(checked, 'reads of defined data').toBeGreaterThan(400);
  });

  it('Yosys synth_xilinx maps them to one block RAM each, without latches', () => {
    const sdp: HwModule = SimpleDual.elaborate({ width: 32, depth: 512, strb: true });
    expect(synthClean(sdp).cells.RAMB18E2, 'simple dual port 512 x 32').toBe(1);
    const tdp = TrueDual.elaborate({ width: 32, depth: 1024 });
    const s = synthClean(tdp);
    expect(s.cells.RAMB36E2, 'true dual port 1024 x 32').toBe(1);
    expect(s.ffs, 'no flip-flops: the read registers are the RAM').toBe(0);
  });
});
