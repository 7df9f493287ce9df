// npm run main: the main job on the default configuration: generate hdl/ (and the generated docs and header),
// lint it, synthesize it.
import { generate, generateDocs } from './gen';
import { lintDir } from './lint';
import { synthAll, synthTable } from './synth';

const secs = (t0: number) => ((performance.now() - t0) / 1000).toFixed(1);
let t0 = performance.now();
const files = generate();
const docs = generateDocs();
console.log(
  `gen:   ${files.filter((f) => f.endsWith('.v')).length} modules written to hdl/${docs.length ? `; updated ${docs.join(', ')}` : ''} (${secs(t0)} s)`,
);

t0 = performance.now();
const problems = await lintDir();
for (const p of problems) console.error(`${p.tool}: ${p.module}:\n${p.text}\n`);
console.log(
  `lint:  ${problems.length ? `${problems.length} problem(s)` : 'clean'} (verilator -Wall, iverilog) (${secs(t0)} s)`,
);

t0 = performance.now();
const results = await synthAll();
console.log(`synth: yosys synth_xilinx -family xcup (${secs(t0)} s)\n`);
console.log(synthTable(results));
const latches = results.filter((r) => r.latches.length);
for (const r of latches) console.error(`latches in ${r.top}: ${r.latches.join(', ')}`);
if (problems.length || latches.length) process.exit(1);
