// Simulation of a generated module with several unrelated clocks in Icarus Verilog (cyclesim.ts is the
// single-clock version). Each clock domain has its own period and phase, and its own stimulus: one row per
// cycle of that clock, applied to the domain's inputs just after its falling edge; the domain's outputs are
// sampled just before each rising edge. Periods that are not multiples of each other make the edges drift
// against each other over a run, as between two crystals. The result gives each domain's samples with their
// times, so a test can order events across domains (a cycle-exact comparison across domains is impossible).
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { emitDesign, type HwModule } from '../../gen/hdl';
import type { Outputs, Vector } from './cyclesim';

export interface ClockSpec {
  /** The clock input port. */
  clock: string;
  /** Period in ns (any positive value; resolved to 1 ps). */
  periodNs: number;
  /** Time of the first rising edge, in ns (at least half a period). */
  firstEdgeNs?: number;
  /** The inputs this domain drives (reset included); each row names some of them, the rest hold. */
  inputs: string[];
  /** The outputs sampled before each of this clock's rising edges. */
  outputs: string[];
  /** One row per cycle; the run of this clock ends after the last row. */
  stimulus: Vector[];
}

/** One cycle of a clock: its outputs as sampled before the rising edge at `timePs`. */
export interface ClockSample {
  cycle: number;
  timePs: number;
  out: Outputs;
}

/** Run each clock's stimulus against `top` at once; returns each clock's samples, in the order of `clocks`. */
export function clockSim(top: HwModule, clocks: ClockSpec[], opts: { keep?: boolean } = {}): ClockSample[][] {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vfpga-clocksim-'));
  try {
    const files = emitDesign(top);
    for (const [n, t] of files) fs.writeFileSync(path.join(dir, n), t);
    const port = (name: string) => {
      const p = top.ports.find((x) => x.name === name);
      if (!p) throw new Error(`clockSim: ${top.name} has no port '${name}'`);
      return p;
    };
    const claimed = new Set<string>();
    for (const c of clocks) {
      for (const n of [c.clock, ...c.inputs]) {
        if (port(n).kind !== 'input') throw new Error(`clockSim: '${n}' is not an input of ${top.name}`);
        if (claimed.has(n)) throw new Error(`clockSim: input '${n}' is given twice`);
        claimed.add(n);
      }
      for (const n of c.outputs) if (port(n).kind !== 'output') throw new Error(`clockSim: '${n}' is not an output`);
    }
    const undriven = top.ports.filter((p) => p.kind === 'input' && !claimed.has(p.name));
    if (undriven.length) throw new Error(`clockSim: inputs not driven: ${undriven.map((p) => p.name).join(', ')}`);

    const tb: string[] = ['`timescale 1ns/1ps', 'module tb;'];
    for (const p of top.ports) {
      const r = p.width > 1 ? `[${p.width - 1}:0] ` : '';
      tb.push(`  ${p.kind === 'input' ? 'reg' : 'wire'} ${r}${p.name};`);
    }
    tb.push(`  ${top.name} dut (${top.ports.map((p) => `.${p.name}(${p.name})`).join(', ')});`);
    tb.push('  integer f;');
    tb.push('  initial f = $fopen("out.txt", "w");');
    clocks.forEach((c, k) => {
      const cols = c.inputs.map(port);
      const width = cols.reduce((s, p) => s + p.width, 0);
      const held = new Map<string, bigint>(c.inputs.map((n) => [n, 0n]));
      const rows = c.stimulus.map((vec, cyc) => {
        for (const [n, v] of Object.entries(vec)) {
          if (!held.has(n)) throw new Error(`clockSim: ${c.clock} cycle ${cyc} names '${n}', not one of its inputs`);
          held.set(n, BigInt(v));
        }
        let word = 0n;
        for (const p of cols) word = (word << BigInt(p.width)) | (held.get(p.name)! & ((1n << BigInt(p.width)) - 1n));
        return word.toString(16);
      });
      const n = rows.length;
      const half = c.periodNs / 2;
      const first = c.firstEdgeNs ?? c.periodNs;
      if (!(c.periodNs > 0) || first < half) throw new Error(`clockSim: bad period or first edge for ${c.clock}`);
      if (width) {
        fs.writeFileSync(path.join(dir, `stim${k}.hex`), rows.join('\n') + '\n');
        tb.push(`  reg [${width - 1}:0] stim${k} [0:${Math.max(n - 1, 0)}];`);
      }
      tb.push(`  integer i${k};`);
      tb.push('  initial begin');
      tb.push(`    ${c.clock} = 1'b0;`);
      for (const p of cols) tb.push(`    ${p.name} = 0;`);
      if (width) tb.push(`    $readmemh("stim${k}.hex", stim${k});`);
      tb.push(`    #${(first - half).toFixed(3)};`);
      tb.push(`    for (i${k} = 0; i${k} < ${n}; i${k} = i${k} + 1) begin`);
      if (width) tb.push(`      {${c.inputs.join(', ')}} = stim${k}[i${k}];`);
      tb.push(`      #${half.toFixed(3)};`);
      const fmt = c.outputs.map(() => ' %h').join('');
      const outs = c.outputs.map((o) => `, ${o}`).join('');
      tb.push(`      $fwrite(f, "${k} %0d %0.3f${fmt}\\n", i${k}, $realtime${outs});`);
      tb.push(`      ${c.clock} = 1'b1;`);
      tb.push(`      #${half.toFixed(3)};`);
      tb.push(`      ${c.clock} = 1'b0;`);
      tb.push('    end');
      tb.push('  end');
    });
    const ends = clocks.map((c) => (c.firstEdgeNs ?? c.periodNs) + c.stimulus.length * c.periodNs);
    tb.push(`  initial begin #${Math.ceil(Math.max(...ends) + 1)}; $fclose(f); $finish; end`);
    tb.push('endmodule');
    fs.writeFileSync(path.join(dir, 'tb.v'), tb.join('\n') + '\n');

    const vfiles = [...files.keys()].filter((f) => f.endsWith('.v'));
    execFileSync('iverilog', ['-g2012', '-o', 'sim.vvp', '-s', 'tb', 'tb.v', ...vfiles], { cwd: dir, stdio: 'pipe' });
    execFileSync('vvp', ['-n', 'sim.vvp'], { cwd: dir, stdio: 'pipe', maxBuffer: 1 << 28 });
    const result: ClockSample[][] = clocks.map(() => []);
    for (const line of fs.readFileSync(path.join(dir, 'out.txt'), 'utf8').trim().split('\n')) {
      const [k, cycle, t, ...vals] = line.trim().split(/\s+/);
      const c = clocks[Number(k)];
      const out: Outputs = {};
      // Any X or Z bit reads as -1n: never equal to a real value, so a test comparing it fails loudly.
      c.outputs.forEach((o, j) => (out[o] = /[xzXZ]/.test(vals[j]) ? -1n : BigInt('0x' + vals[j])));
      result[Number(k)].push({ cycle: Number(cycle), timePs: Math.round(Number(t) * 1000), out });
    }
    return result;
  } catch (e) {
    const err = e as { stderr?: Buffer; message: string };
    if (err.stderr?.length)
      throw new Error(`clockSim of ${top.name} failed (files in ${dir}):\n${err.stderr.toString()}`, { cause: e });
    throw e;
  } finally {
    if (!opts.keep) fs.rmSync(dir, { recursive: true, force: true });
  }
}
