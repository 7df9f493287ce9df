// npm run lint: every module in hdl/ must be clean under `verilator --lint-only -Wall` (with itself as top)
// and compile in Icarus (`iverilog -g2012`).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { hdlDir } from './gen';
import { pmap, run } from './lib/proc';

export interface LintProblem {
  module: string;
  tool: 'verilator' | 'iverilog';
  text: string;
}

export async function lintDir(dir = hdlDir): Promise<LintProblem[]> {
  const mods = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.v'))
    .map((f) => f.slice(0, -2))
    .sort();
  const results = await pmap(mods, 2, async (m) => {
    const problems: LintProblem[] = [];
    const v = await run('verilator', ['--lint-only', '-Wall', '-y', dir, '--top-module', m, path.join(dir, `${m}.v`)]);
    const vtext = (v.stdout + v.stderr).trim();
    if (v.code !== 0 || vtext) problems.push({ module: m, tool: 'verilator', text: vtext || `exit ${v.code}` });
    const i = await run('iverilog', ['-g2012', '-o', '/dev/null', '-y', dir, '-s', m, path.join(dir, `${m}.v`)]);
    const itext = (i.stdout + i.stderr).trim();
    if (i.code !== 0 || itext) problems.push({ module: m, tool: 'iverilog', text: itext || `exit ${i.code}` });
    return problems;
  });
  return results.flat();
}

if (import.meta.filename === process.argv[1]) {
  const t0 = performance.now();
  const n = fs.readdirSync(hdlDir).filter((f) => f.endsWith('.v')).length;
  const problems = await lintDir();
  for (const p of problems) console.error(`${p.tool}: ${p.module}:\n${p.text}\n`);
  const secs = ((performance.now() - t0) / 1000).toFixed(1);
  if (problems.length) {
    console.error(`lint: ${problems.length} problem(s) in ${n} modules (${secs} s)`);
    process.exit(1);
  }
  console.log(`lint: ${n} modules clean under verilator --lint-only -Wall and iverilog -g2012 (${secs} s)`);
}
