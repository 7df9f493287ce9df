// npm run synth: Yosys synth_xilinx (UltraScale+) of every top in hdl/, as a table of resources and the
// longest combinational path between flip-flops. The path is measured on the synthesized netlist read back
// with the Xilinx cell library, selecting only combinational cells (LUT, MUXF, CARRY4, INV) so that
// FDRE/FDSE and LUTRAM cells end paths (plain `ltp -noff` on the flat netlist counts through them).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parsePortsJson } from '../gen/hdl';
import { hdlDir } from './gen';
import { pmap, run, table } from './lib/proc';

export interface SynthResult {
  top: string;
  lut: number;
  lutram: number; // LUTs used as memory (LUT equivalents)
  ff: number;
  bram: number; // RAMB36 equivalents
  dsp: number;
  carry: number;
  pathCells: number; // longest flip-flop to flip-flop path, in cells (LUT, MUXF, CARRY4, INV)
  lutLevels: number; // the same without carry cells: LUT/MUX levels
  latches: string[];
  cells: Record<string, number>;
}

const lutramLuts: Record<string, number> = {
  RAM32M: 4,
  RAM32M16: 8,
  RAM64M: 4,
  RAM64M8: 8,
  RAM32X1D: 2,
  RAM64X1D: 2,
  RAM128X1D: 4,
  RAM256X1D: 8,
  RAM32X1S: 1,
  RAM64X1S: 1,
  RAM128X1S: 2,
  RAM256X1S: 4,
  RAM512X1S: 8,
  SRL16E: 1,
  SRLC16E: 1,
  SRLC32E: 1,
};

export function categorize(
  cells: Record<string, number>,
): Omit<SynthResult, 'top' | 'pathCells' | 'lutLevels' | 'latches' | 'cells'> {
  let lut = 0,
    lutram = 0,
    ff = 0,
    bram = 0,
    dsp = 0,
    carry = 0;
  for (const [c, n] of Object.entries(cells)) {
    if (/^LUT[1-6]$/.test(c)) lut += n;
    else if (c in lutramLuts) lutram += n * lutramLuts[c];
    else if (/^FD[RSCP]E$/.test(c)) ff += n;
    else if (/^RAMB36E[12]$/.test(c)) bram += n;
    else if (/^RAMB18E[12]$/.test(c)) bram += n / 2;
    else if (/^DSP48E[12]$/.test(c)) dsp += n;
    else if (/^CARRY[48]$/.test(c)) carry += n;
  }
  return { lut, lutram, ff, bram, dsp, carry };
}

export async function synthTop(portsFile: string): Promise<SynthResult> {
  const ports = parsePortsJson(fs.readFileSync(portsFile, 'utf8'), portsFile);
  const dir = path.dirname(portsFile);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vfpga-synth-'));
  try {
    const net = path.join(tmp, 'net.v');
    const script = [
      ...ports.files.map((f) => `read_verilog -sv ${path.join(dir, f)}`),
      `synth_xilinx -family xcup -flatten -noiopad -noclkbuf -top ${ports.top}`,
      `tee -o ${path.join(tmp, 'stat.txt')} stat`,
      `write_verilog -noattr ${net}`,
      'design -reset',
      'read_verilog -lib +/xilinx/cells_sim.v',
      `read_verilog ${net}`,
      `hierarchy -top ${ports.top}`,
      'ltp -noff w:* t:LUT* t:MUXF* t:CARRY4 t:INV',
      'ltp -noff w:* t:LUT* t:MUXF* t:INV',
    ].join('\n');
    fs.writeFileSync(path.join(tmp, 'synth.ys'), script);
    const r = await run('yosys', ['-q', '-l', path.join(tmp, 'log.txt'), path.join(tmp, 'synth.ys')]);
    const log = fs.existsSync(path.join(tmp, 'log.txt')) ? fs.readFileSync(path.join(tmp, 'log.txt'), 'utf8') : '';
    if (r.code !== 0) throw new Error(`yosys failed on ${ports.top}:\n${(r.stderr || r.stdout || log).slice(-3000)}`);
    const stat = fs.readFileSync(path.join(tmp, 'stat.txt'), 'utf8');
    const cells: Record<string, number> = {};
    const cellSection = stat.slice(stat.indexOf('Number of cells'));
    for (const m of cellSection.matchAll(/^\s+(\S+)\s+(\d+)\s*$/gm)) cells[m[1]] = Number(m[2]);
    const lengths = [...log.matchAll(/Longest topological path in \S+ \(length=(\d+)\)/g)].map((m) => Number(m[1]));
    const latches = [
      ...[...log.matchAll(/Latch inferred for signal `([^']+)'/g)].map((m) => m[1]),
      ...Object.keys(cells).filter((c) => /^LD[CP]E$|DLATCH/.test(c)),
    ];
    return {
      top: ports.top,
      ...categorize(cells),
      pathCells: lengths[0] ?? 0,
      lutLevels: lengths[1] ?? 0,
      latches,
      cells,
    };
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

export async function synthAll(dir = hdlDir): Promise<SynthResult[]> {
  const portsFiles = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.ports.json'))
    .sort();
  return pmap(portsFiles, 2, (f) => synthTop(path.join(dir, f)));
}

export function synthTable(results: SynthResult[]): string {
  return table(
    ['top', 'LUT', 'LUTRAM', 'FF', 'BRAM36', 'DSP', 'CARRY4', 'path (cells)', 'LUT levels'],
    results.map((r) => [r.top, r.lut, r.lutram, r.ff, r.bram, r.dsp, r.carry, r.pathCells, r.lutLevels]),
  );
}

if (import.meta.filename === process.argv[1]) {
  const t0 = performance.now();
  const results = await synthAll();
  console.log(synthTable(results));
  const bad = results.filter((r) => r.latches.length);
  for (const r of bad) console.error(`synth: latches in ${r.top}: ${r.latches.join(', ')}`);
  console.log(
    `synth: ${results.length} tops with yosys synth_xilinx -family xcup (${((performance.now() - t0) / 1000).toFixed(1)} s)`,
  );
  if (bad.length) process.exit(1);
}
