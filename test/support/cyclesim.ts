// Cycle-level simulation of a generated module in Icarus Verilog, for unit tests of DSL constructs and
// library blocks: give each cycle's inputs, get each cycle's outputs (sampled after the inputs settle and
// before the rising clock edge). Stimulus is precomputed; tests check outputs against a TypeScript model.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { emitDesign, type HwModule } from '../../gen/hdl';

export type Vector = Record<string, bigint | number | boolean>;
/** Output values per port; -1n when any bit is X or Z. */
export type Outputs = Record<string, bigint>;

export interface CycleSimOptions {
  /** Cycles with the reset asserted before the stimulus (default 2 when the module has `rst`). */
  resetCycles?: number;
  /** Keep the temporary directory (for debugging). */
  keep?: boolean;
  /** Extra Verilog files (black-box models). */
  extraFiles?: string[];
}

/** Run `stimulus` (one entry per clock cycle; missing inputs hold their last value, starting at 0). */
export function cycleSim(top: HwModule, stimulus: Vector[], opts: CycleSimOptions = {}): Outputs[] {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vfpga-cyclesim-'));
  try {
    const files = emitDesign(top);
    for (const [n, t] of files) fs.writeFileSync(path.join(dir, n), t);
    const clk = top.ports.find((p) => p.name === 'clk');
    const rst = top.ports.find((p) => p.name === 'rst');
    const ins = top.ports.filter((p) => p.kind === 'input' && p !== clk && p !== rst);
    const outs = top.ports.filter((p) => p.kind === 'output');
    const resetCycles = rst ? (opts.resetCycles ?? 2) : 0;

    // Stimulus rows: [rst, inputs...] packed into one hex word per cycle.
    const cols = [...(rst ? [rst] : []), ...ins];
    const total = cols.reduce((s, c) => s + c.width, 0) || 1;
    const held = new Map<string, bigint>(ins.map((p) => [p.name, 0n]));
    const rows: string[] = [];
    const known = new Set(ins.map((p) => p.name));
    const pushRow = (rstVal: bigint) => {
      let word = 0n;
      for (const c of cols) {
        const v = c === rst ? rstVal : held.get(c.name)!;
        word = (word << BigInt(c.width)) | (v & ((1n << BigInt(c.width)) - 1n));
      }
      rows.push(word.toString(16));
    };
    for (let i = 0; i < resetCycles; i++) pushRow(1n);
    stimulus.forEach((vec, cyc) => {
      for (const [k, v] of Object.entries(vec)) {
        if (!known.has(k)) throw new Error(`cycleSim: stimulus cycle ${cyc} names '${k}', not an input of ${top.name}`);
        held.set(k, BigInt(v));
      }
      pushRow(0n);
    });
    fs.writeFileSync(path.join(dir, 'stim.hex'), rows.join('\n') + '\n');

    const n = rows.length;
    const tb: string[] = ['`timescale 1ns/1ps', 'module tb;'];
    if (clk) tb.push("  reg clk = 1'b0;");
    for (const c of cols) tb.push(`  reg [${c.width - 1}:0] ${c.name};`);
    for (const o of outs) tb.push(`  wire [${o.width - 1}:0] ${o.name};`);
    tb.push(`  reg [${total - 1}:0] stim [0:${n - 1}];`);
    tb.push('  integer i, f;');
    const conns = top.ports.map((p) => `.${p.name}(${p.name})`).join(', ');
    tb.push(`  ${top.name} dut (${conns});`);
    tb.push('  initial begin');
    tb.push('    $readmemh("stim.hex", stim);');
    tb.push('    f = $fopen("out.txt", "w");');
    tb.push(`    for (i = 0; i < ${n}; i = i + 1) begin`);
    if (cols.length) tb.push(`      {${cols.map((c) => c.name).join(', ')}} = stim[i];`);
    tb.push('      #1;');
    if (outs.length)
      tb.push(`      $fwrite(f, "${outs.map(() => '%h').join(' ')}\\n", ${outs.map((o) => o.name).join(', ')});`);
    else tb.push('      $fwrite(f, "\\n");');
    if (clk) tb.push("      clk = 1'b1; #1; clk = 1'b0;");
    else tb.push('      #1;');
    tb.push('    end');
    tb.push('    $fclose(f);');
    tb.push('    $finish;');
    tb.push('  end');
    tb.push('endmodule');
    fs.writeFileSync(path.join(dir, 'tb.v'), tb.join('\n') + '\n');

    const vfiles = [...files.keys()].filter((f) => f.endsWith('.v'));
    execFileSync('iverilog', ['-g2012', '-o', 'sim.vvp', '-s', 'tb', 'tb.v', ...vfiles, ...(opts.extraFiles ?? [])], {
      cwd: dir,
      stdio: 'pipe',
    });
    execFileSync('vvp', ['-n', 'sim.vvp'], { cwd: dir, stdio: 'pipe' });
    const lines = fs.readFileSync(path.join(dir, 'out.txt'), 'utf8').trim().split('\n');
    return lines.slice(resetCycles).map((line) => {
      const vals = line.trim().split(/\s+/);
      const o: Outputs = {};
      outs.forEach((p, k) => {
        const t = vals[k] ?? '';
        // Any X or Z bit reads as -1n: never equal to a real value, so a test comparing it fails loudly.
        o[p.name] = /[xzXZ]/.test(t) ? -1n : BigInt('0x' + t);
      });
      return o;
    });
  } catch (e) {
    const err = e as { stderr?: Buffer; message: string };
    if (err.stderr?.length)
      throw new Error(`cycleSim of ${top.name} failed (files in ${dir}):\n${err.stderr.toString()}`, { cause: e });
    throw e;
  } finally {
    if (!opts.keep) fs.rmSync(dir, { recursive: true, force: true });
  }
}
