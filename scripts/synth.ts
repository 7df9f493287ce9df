// npm run synth: Yosys synth_xilinx (UltraScale+) of every top in hdl/, as a table of resources and the
// longest combinational path between flip-flops. The path is measured on the synthesized netlist (JSON) with
// only combinational cells as graph nodes (LUT, MUXF, CARRY4, INV; scripts/lib/netpath.ts), so that
// FDRE/FDSE, LUTRAM and block RAM cells end paths, as `ltp -noff` does on the netlist read back with the cell
// library (plain `ltp -noff` on the flat netlist counts through them).
//
//   npm run synth                      every top: the table; fails on latches or a top over its LUT-level budget
//   npm run synth -- --path TOP ...    those tops only: the table, the longest path of each (cells and the
//                                      signal names around them) and every register deeper than the budget;
//                                      TOP may also be any module of hdl/ (a block inside a top)
//   npm run synth -- --over N ...      list registers deeper than N levels instead (with --path)
//   npm run synth -- --hier --path TOP the same top synthesized without flattening: a tree of its module
//                                      instances with each one's resources and the LUT levels inside it (paths
//                                      end at module ports, so a path across modules shows only in the flat run)
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parsePortsJson } from '../gen/hdl';
import { tops } from '../gen/tops';
import { hdlDir } from './gen';
import { type DepthReport, type JsonModule, netlistDepth } from './lib/netpath';
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
  /** The longest LUT-level path and the end points deeper than the `over` asked for. */
  depth: DepthReport;
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
): Omit<SynthResult, 'top' | 'pathCells' | 'lutLevels' | 'latches' | 'cells' | 'depth'> {
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

/**
 * A top's module and files: its ports file, or, for a module of hdl/ that has none (a block inside a top, such as
 * the endpoint or the DMA fabric of the virtio-blk function), the files of a top that instantiates it.
 */
function readTop(portsFile: string): { top: string; files: string[] } {
  if (fs.existsSync(portsFile)) return parsePortsJson(fs.readFileSync(portsFile, 'utf8'), portsFile);
  const dir = path.dirname(portsFile);
  const top = path.basename(portsFile, '.ports.json');
  const file = `${top}.v`;
  const holder = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.ports.json'))
    .sort()
    .map((f) => parsePortsJson(fs.readFileSync(path.join(dir, f), 'utf8'), f))
    .find((p) => p.files.includes(file));
  if (!holder) throw new Error(`synth: no top or module '${top}' in ${dir} (run npm run gen?)`);
  return { top, files: holder.files };
}

/** Run Yosys synth_xilinx on a top of hdl/ (flattened or not): its stat text and JSON netlist. */
async function yosysSynth(
  portsFile: string,
  flatten: boolean,
): Promise<{ top: string; stat: string; log: string; modules: Record<string, JsonModule> }> {
  const ports = readTop(portsFile);
  const dir = path.dirname(portsFile);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vfpga-synth-'));
  try {
    const net = path.join(tmp, 'net.json');
    const script = [
      ...ports.files.map((f) => `read_verilog -sv ${path.join(dir, f)}`),
      `synth_xilinx -family xcup${flatten ? ' -flatten' : ''} -noiopad -noclkbuf -top ${ports.top}`,
      `tee -o ${path.join(tmp, 'stat.txt')} stat`,
      `write_json ${net}`,
    ].join('\n');
    fs.writeFileSync(path.join(tmp, 'synth.ys'), script);
    const r = await run('yosys', ['-q', '-l', path.join(tmp, 'log.txt'), path.join(tmp, 'synth.ys')]);
    const log = fs.existsSync(path.join(tmp, 'log.txt')) ? fs.readFileSync(path.join(tmp, 'log.txt'), 'utf8') : '';
    if (r.code !== 0) throw new Error(`yosys failed on ${ports.top}:\n${(r.stderr || r.stdout || log).slice(-3000)}`);
    const stat = fs.readFileSync(path.join(tmp, 'stat.txt'), 'utf8');
    const { modules } = JSON.parse(fs.readFileSync(net, 'utf8')) as { modules: Record<string, JsonModule> };
    return { top: ports.top, stat, log, modules };
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/** Synthesize one top; `over`: list the end points deeper than this many LUT levels (`depth.endpoints`). */
export async function synthTop(portsFile: string, over = Infinity): Promise<SynthResult> {
  const { top, stat, log, modules } = await yosysSynth(portsFile, true);
  const cells: Record<string, number> = {};
  const cellSection = stat.slice(stat.indexOf('Number of cells'));
  for (const m of cellSection.matchAll(/^\s+(\S+)\s+(\d+)\s*$/gm)) cells[m[1]] = Number(m[2]);
  const depth = netlistDepth(modules[top], over);
  const latches = [
    ...[...log.matchAll(/Latch inferred for signal `([^']+)'/g)].map((m) => m[1]),
    ...Object.keys(cells).filter((c) => /^LD[CP]E$|DLATCH/.test(c)),
  ];
  return {
    top,
    ...categorize(cells),
    pathCells: depth.pathCells,
    lutLevels: depth.lutLevels,
    latches,
    cells,
    depth,
  };
}

/** One module instance of a hierarchical synthesis: its resources with everything under it, its own depth. */
export interface HierRow {
  /** Instance path below the top (`u_a.u_b`), or the top's name. */
  instance: string;
  module: string;
  nesting: number;
  total: ReturnType<typeof categorize>;
  /** LUT levels between the flip-flops, memories and ports of this module alone (submodules end paths). */
  ownLevels: number;
  /** Where its longest own path starts and ends. */
  ownPath: string;
}

/**
 * Synthesize a top without flattening (Yosys optimizes each module alone, so totals run a little above the
 * flat run's) and list every module instance, depth first, with its resources including submodules.
 */
export async function synthHier(portsFile: string): Promise<HierRow[]> {
  const { top, modules: all } = await yosysSynth(portsFile, false);
  // The design's own modules; the JSON also holds the cell library as black boxes (FDRE, LUT6, ...).
  const modules = Object.fromEntries(Object.entries(all).filter(([, m]) => !('blackbox' in (m.attributes ?? {}))));
  const totals = new Map<string, Record<string, number>>();
  const totalOf = (name: string): Record<string, number> => {
    const known = totals.get(name);
    if (known) return known;
    const sum: Record<string, number> = {};
    for (const c of Object.values(modules[name].cells)) {
      const add = c.type in modules ? totalOf(c.type) : { [c.type]: 1 };
      for (const [t, n] of Object.entries(add)) sum[t] = (sum[t] ?? 0) + n;
    }
    totals.set(name, sum);
    return sum;
  };
  const depths = new Map<string, DepthReport>();
  const rows: HierRow[] = [];
  const visit = (instance: string, name: string, nesting: number) => {
    if (!depths.has(name)) depths.set(name, netlistDepth(modules[name]));
    const d = depths.get(name)!;
    const ownPath = d.path.start || d.path.end ? `${d.path.start} -> ${d.path.end}` : '';
    rows.push({ instance, module: name, nesting, total: categorize(totalOf(name)), ownLevels: d.lutLevels, ownPath });
    const subs = Object.entries(modules[name].cells).filter(([, c]) => c.type in modules);
    subs.sort(([a], [b]) => (a < b ? -1 : 1));
    for (const [cn, c] of subs) visit(nesting === 0 ? cn : `${instance}.${cn}`, c.type, nesting + 1);
  };
  visit(top, top, 0);
  return rows;
}

export function hierTable(rows: HierRow[]): string {
  return table(
    ['instance', 'module', 'LUT', 'LUTRAM', 'FF', 'BRAM36', 'CARRY4', 'own LUT levels'],
    rows.map((r) => [
      `${'  '.repeat(r.nesting)}${r.instance.split('.').pop()}`,
      r.module,
      r.total.lut,
      r.total.lutram,
      r.total.ff,
      r.total.bram,
      r.total.carry,
      r.ownLevels,
    ]),
  );
}

/** The tops gen/tops.ts marks `synth: false` (test fixtures, blocks a larger top contains), by module name. */
function unsynthesized(): Set<string> {
  return new Set(tops.flatMap((t) => (t.synth === false ? [t.elaborate().name] : [])));
}

/** Every top in `dir` but those marked `synth: false` (or only those named in `only`); `over` as for synthTop. */
export async function synthAll(dir = hdlDir, only?: readonly string[], over = Infinity): Promise<SynthResult[]> {
  const skip = only ? new Set<string>() : unsynthesized();
  const portsFiles = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.ports.json'))
    .filter((f) =>
      only ? only.includes(f.slice(0, -'.ports.json'.length)) : !skip.has(f.slice(0, -'.ports.json'.length)),
    )
    .sort();
  // Longest first (Verilog size stands for synthesis time), so that the two Yosys runs end together rather than
  // one of the whole function's running alone at the end; the results come back in name order.
  const size = (f: string) => {
    const ports = parsePortsJson(fs.readFileSync(path.join(dir, f), 'utf8'), f);
    return ports.files.reduce((n, v) => n + fs.statSync(path.join(dir, v)).size, 0);
  };
  const bySize = portsFiles.map((f) => ({ f, size: size(f) })).sort((a, b) => b.size - a.size);
  const results = await pmap(bySize, 2, ({ f }) => synthTop(path.join(dir, f), over));
  return results.sort((a, b) => portsFiles.indexOf(`${a.top}.ports.json`) - portsFiles.indexOf(`${b.top}.ports.json`));
}

/** LUT-level budgets of the tops that state one (gen/tops.ts `lutLevels`), by module name. */
export function lutLevelBudgets(): Map<string, number> {
  return new Map(tops.flatMap((t) => (t.lutLevels === undefined ? [] : [[t.elaborate().name, t.lutLevels]])));
}

/** The tops deeper than their budget, as messages. */
export function overBudget(results: SynthResult[], budgets = lutLevelBudgets()): string[] {
  return results.flatMap((r) => {
    const b = budgets.get(r.top);
    return b !== undefined && r.lutLevels > b ? [`${r.top}: ${r.lutLevels} LUT levels, budget ${b}`] : [];
  });
}

/** The longest path of a top and its end points over the budget, as text. */
export function pathReport(r: SynthResult, over: number): string {
  const { path: p, endpoints } = r.depth;
  const lines = [`${r.top}: ${r.lutLevels} LUT levels (${r.pathCells} cells counting carries); longest path:`];
  lines.push(`  from   ${p.start}`);
  p.steps.forEach((s, i) => {
    const out = s.out ? ` -> ${s.out}` : '';
    lines.push(`  ${String(i + 1).padStart(4)}  ${s.type.padEnd(6)}${out}${s.inputs ? `   (also: ${s.inputs})` : ''}`);
  });
  lines.push(`  to     ${p.end}`);
  if (endpoints.length) {
    lines.push(`  end points deeper than ${over} LUT levels (${endpoints.length}):`);
    for (const e of endpoints) lines.push(`  ${String(e.levels).padStart(4)}  ${e.end}   <- ${e.start}`);
  } else lines.push(`  no end point deeper than ${over} LUT levels`);
  return lines.join('\n');
}

export function synthTable(results: SynthResult[]): string {
  return table(
    ['top', 'LUT', 'LUTRAM', 'FF', 'BRAM36', 'DSP', 'CARRY4', 'path (cells)', 'LUT levels'],
    results.map((r) => [r.top, r.lut, r.lutram, r.ff, r.bram, r.dsp, r.carry, r.pathCells, r.lutLevels]),
  );
}

/** Command-line options: `--path TOP` (repeatable), `--over N`, `--hier`. */
function parseArgs(argv: string[]): { paths: string[]; over?: number; hier: boolean } {
  const paths: string[] = [];
  let over: number | undefined;
  let hier = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`synth: ${a} needs a value`);
      return argv[++i];
    };
    if (a === '--path') paths.push(value());
    else if (a === '--hier') hier = true;
    else if (a === '--over') {
      over = Number(value());
      if (!Number.isInteger(over) || over < 0) throw new Error(`synth: --over needs a whole number, got ${argv[i]}`);
    } else throw new Error(`synth: unknown argument '${a}' (use --path TOP, --over N, --hier)`);
  }
  if (hier && !paths.length) throw new Error('synth: --hier needs --path TOP');
  return { paths, over, hier };
}

if (import.meta.filename === process.argv[1]) {
  const t0 = performance.now();
  const args = parseArgs(process.argv.slice(2));
  const budgets = lutLevelBudgets();
  for (const t of args.paths) readTop(path.join(hdlDir, `${t}.ports.json`)); // an unknown name fails here, early
  const overOf = (top: string) => args.over ?? budgets.get(top) ?? 9;
  if (args.hier) {
    for (const t of args.paths) {
      const rows = await synthHier(path.join(hdlDir, `${t}.ports.json`));
      console.log(`${t}, not flattened: resources with submodules, LUT levels inside each module\n`);
      console.log(hierTable(rows));
      const deep = rows.filter((r) => r.ownLevels > overOf(t));
      if (deep.length) console.log(`\nmodules deeper than ${overOf(t)} LUT levels inside:`);
      for (const r of deep) console.log(`  ${r.ownLevels}  ${r.module}: ${r.ownPath}`);
    }
    process.exit(0);
  }
  const results = args.paths.length
    ? await pmap(args.paths, 2, (t) => synthTop(path.join(hdlDir, `${t}.ports.json`), overOf(t)))
    : await synthAll();
  console.log(synthTable(results));
  for (const r of args.paths.length ? results : []) console.log(`\n${pathReport(r, overOf(r.top))}`);
  const bad = results.filter((r) => r.latches.length);
  for (const r of bad) console.error(`synth: latches in ${r.top}: ${r.latches.join(', ')}`);
  const deep = overBudget(results, budgets);
  for (const d of deep) console.error(`synth: too deep: ${d} (npm run synth -- --path TOP shows the paths)`);
  console.log(
    `synth: ${results.length} tops with yosys synth_xilinx -family xcup (${((performance.now() - t0) / 1000).toFixed(1)} s)`,
  );
  if (bad.length || deep.length) process.exit(1);
}
