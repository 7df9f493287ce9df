// Lint and synthesis checks for library blocks: every file of a design goes to a temporary directory, then
// Verilator (`--lint-only -Wall`, zero warnings) and Yosys (`synth_xilinx` for UltraScale+, no latches).
// Synthesis takes a few seconds per design: tests run it once per block, at one parameterization.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { emitDesign, type HwModule } from '../../gen/hdl';

/** A design as files: a module (every emitted file of its hierarchy), or Verilog text by file name. */
export type Design = HwModule | { top: string; files: Map<string, string> };

function writeDesign(d: Design, tag: string): { dir: string; vfiles: string[]; top: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `vfpga-${tag}-`));
  const files = 'files' in d ? d.files : emitDesign(d);
  const vfiles: string[] = [];
  for (const [n, t] of files) {
    fs.writeFileSync(path.join(dir, n), t);
    if (n.endsWith('.v')) vfiles.push(n);
  }
  return { dir, vfiles, top: 'files' in d ? d.top : d.name };
}

function run(cmd: string, args: string[], cwd: string): { ok: boolean; out: string } {
  try {
    const out = execFileSync(cmd, args, { cwd, stdio: 'pipe', encoding: 'utf8' });
    return { ok: true, out };
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; message: string };
    return { ok: false, out: `${err.stdout ?? ''}${err.stderr ?? ''}` || err.message };
  }
}

/**
 * Verilator `--lint-only -Wall` over every emitted file of the design, `top` as the top module. Returns the
 * messages (empty when clean), so a test can `expect(lint(top)).toBe('')` and see them on failure.
 */
export function lint(design: Design): string {
  const { dir, vfiles, top } = writeDesign(design, 'lint');
  try {
    const r = run('verilator', ['--lint-only', '-Wall', '--top-module', top, ...vfiles], dir);
    const msgs = r.out
      .split('\n')
      .filter((l) => /%(Warning|Error)/.test(l))
      .join('\n');
    if (!r.ok && !msgs) return `verilator failed:\n${r.out}`;
    return msgs ? `${msgs}\n(full output)\n${r.out}` : '';
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export interface SynthResult {
  /** Cell counts by type after `synth_xilinx` (flattened). */
  cells: Record<string, number>;
  /** LUT1..LUT6 and INV (a LUT1 on UltraScale+). */
  luts: number;
  /** Flip-flops (FDRE/FDSE/FDCE/FDPE). */
  ffs: number;
  /** Latch-related lines of the log and latch cells; empty when there are none. */
  latches: string[];
  /** Yosys's own `check` problems. */
  problems: number;
  /** One-line summary for reports. */
  summary: string;
}

/** Yosys `synth_xilinx -family xcup -flatten -noiopad`: cell counts, latch and `check` findings. */
export function synth(design: Design): SynthResult {
  const { dir, vfiles, top } = writeDesign(design, 'synth');
  try {
    const script = [
      `read_verilog ${vfiles.join(' ')}`,
      `synth_xilinx -family xcup -flatten -noiopad -top ${top}`,
      'tee -q -o check.txt check',
      'tee -q -o stat.json stat -json',
    ].join('; ');
    const r = run('yosys', ['-q', '-l', 'yosys.log', '-p', script], dir);
    if (!r.ok) throw new Error(`yosys failed for ${top}:\n${r.out}`);
    const log = fs.readFileSync(path.join(dir, 'yosys.log'), 'utf8');
    const stat = JSON.parse(fs.readFileSync(path.join(dir, 'stat.json'), 'utf8'));
    const cells: Record<string, number> = stat.design?.num_cells_by_type ?? {};
    const count = (re: RegExp) => Object.entries(cells).reduce((s, [k, v]) => (re.test(k) ? s + v : s), 0);
    const latches = [
      ...log.split('\n').filter((l) => /^\s*Latch inferred/.test(l)),
      ...Object.keys(cells).filter((k) => /^(LD[CP]E?|\$_?DLATCH.*|\$dlatch.*|\$adlatch.*)$/i.test(k)),
    ];
    const problemsMatch = /Found and reported (\d+) problems/.exec(
      fs.readFileSync(path.join(dir, 'check.txt'), 'utf8'),
    );
    const luts = count(/^(LUT[1-6]|INV)$/);
    const ffs = count(/^FD[RSCP]E$/);
    const other = Object.entries(cells)
      .filter(([k]) => !/^(LUT[1-6]|INV|FD[RSCP]E|BUFG)$/.test(k))
      .map(([k, v]) => `${k} ${v}`);
    return {
      cells,
      luts,
      ffs,
      latches,
      problems: problemsMatch ? Number(problemsMatch[1]) : -1,
      summary: `${top}: ${luts} LUT, ${ffs} FF${other.length ? `, ${other.join(', ')}` : ''}`,
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Logic depth in 6-input LUTs: the longest path between flip-flops and ports after a generic `synth` and
 * `abc -lut 6` (vendor flip-flop cells hide paths from Yosys's `ltp`, so this does not use `synth_xilinx`).
 * A ripple chain through N bits shows up as depth growing with N; a tree as log N.
 */
export function lutDepth(design: Design): number {
  const { dir, vfiles, top } = writeDesign(design, 'depth');
  try {
    const script = [
      `read_verilog ${vfiles.join(' ')}`,
      `synth -flatten -top ${top}`,
      'abc -lut 6',
      'opt_clean',
      'tee -q -o ltp.txt ltp -noff',
    ].join('; ');
    const r = run('yosys', ['-q', '-p', script], dir);
    if (!r.ok) throw new Error(`yosys failed for ${top}:\n${r.out}`);
    const m = /Longest topological path in \S+ \(length=(\d+)\)/.exec(
      fs.readFileSync(path.join(dir, 'ltp.txt'), 'utf8'),
    );
    if (!m) throw new Error(`no ltp result for ${top}`);
    return Number(m[1]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * `synth`, printing the summary; throws when Yosys infers a latch or its `check` reports a problem. (Plain
 * throws, no vitest import, so scripts can use these helpers too.)
 */
export function synthClean(design: Design): SynthResult {
  const s = synth(design);
  console.log(s.summary);
  if (s.latches.length) throw new Error(`latches in ${s.summary}:\n${s.latches.join('\n')}`);
  if (s.problems !== 0) throw new Error(`yosys check reported ${s.problems} problems in ${s.summary}`);
  return s;
}
