// Measures the simulator bridge on a loopback top: TypeScript-driven traffic vs the same
// stimulus replayed in pure C++ (runFree), and where the TypeScript-driven wall time goes.
//   npx tsx sim/measure.ts [ports.json] [--tlps N] [--batch K] [--idle P] [--bp P]
// Traffic: TLPs of random length 0..64 dwords, sent in batches of K, each batch run until
// all its echoes are back. Defaults: the W=64 loopback fixture, 20000 TLPs, K=64.
import { resolve } from 'node:path';
import { Sim, type RawTlp } from './index';
import { packedLength, packTlps } from './tlp';

const args = process.argv.slice(2);
const opt = (name: string, dflt: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const ports =
  args[0] && !args[0].startsWith('--')
    ? args[0]
    : resolve(import.meta.dirname, '..', 'test', 'fixtures', 'sim', 'loopback_w64.ports.json');
const N = opt('tlps', 20_000);
const K = opt('batch', 64);
const idle = opt('idle', 0);
const bp = opt('bp', 0);

function makeTlps(n: number, seed: number): RawTlp[] {
  let s = seed >>> 0;
  const r = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296;
  return Array.from({ length: n }, () => {
    const ndw = Math.floor(r() * 65);
    const hdr = new Uint32Array([((ndw ? 0x4000_0000 : 0) | (ndw ? ndw & 0x3ff : 1)) >>> 0, 0x0100_00ff, 0x1000, 0]);
    const data = new Uint32Array(ndw);
    for (let i = 0; i < ndw; i++) data[i] = (r() * 0x1_0000_0000) >>> 0;
    return { hdr, data };
  });
}

function driven(batch: number, tlps: RawTlp[]) {
  const sim = Sim.load({ ports, seed: 7, rxIdle: idle, txBackpressure: bp });
  const c0 = sim.cycle;
  const t0 = performance.now();
  let got = 0;
  for (let i = 0; i < tlps.length; i += batch) {
    const chunk = tlps.slice(i, i + batch);
    for (const t of chunk) sim.send(t);
    sim.run({ untilTx: chunk.length, maxCycles: 10_000_000 });
    got += sim.takeTx().length;
  }
  const wall = (performance.now() - t0) / 1000;
  if (got !== tlps.length) throw new Error(`lost TLPs: ${got} of ${tlps.length}`);
  const st = sim.stats();
  const cycles = sim.cycle - c0;
  return { sim, wall, cycles, cpp: st.cppSeconds, runs: st.runCalls };
}

const fmt = (x: number) => (x / 1e6).toFixed(2) + ' M cycles/s';
const tlps = makeTlps(N, 1);
console.log(`ports ${ports}\n${N} TLPs (0..64 dw), rxIdle ${idle}, txBackpressure ${bp}`);

for (const batch of [K, 1]) {
  const n = batch === 1 ? Math.min(N, 5000) : N;
  const d = driven(batch, tlps.slice(0, n));
  const free = d.sim.runFree();
  console.log(`\nbatch ${batch}: ${d.cycles} cycles, ${d.runs} run() calls`);
  console.log(
    `  TS-driven : ${fmt(d.cycles / d.wall)}  (wall ${d.wall.toFixed(3)} s; inside C++ run loop ${d.cpp.toFixed(3)} s = ${((100 * d.cpp) / d.wall).toFixed(0)}%, TS+bridge ${(d.wall - d.cpp).toFixed(3)} s = ${(((d.wall - d.cpp) / n) * 1e6).toFixed(2)} us/TLP)`,
  );
  console.log(
    `  runFree   : ${fmt(free.cyclesPerSecond)}  (${free.seconds.toFixed(3)} s, same tx traffic: ${free.matchesLive})`,
  );
  console.log(`  ratio TS-driven / pure C++: ${(d.cycles / d.wall / free.cyclesPerSecond).toFixed(2)}`);
  d.sim.close();
}

// The model alone, no traffic: the ceiling for this design.
const idleSim = Sim.load({ ports, seed: 1 });
const t0 = performance.now();
idleSim.run({ cycles: 5_000_000 });
console.log(`\nidle clocking (no traffic): ${fmt(5e6 / ((performance.now() - t0) / 1000))}`);
idleSim.close();

// The boundary format: packed Uint32Array batches (what Sim uses) vs one JS object per TLP
// read/built field by field through N-API (addon methods kept for this comparison only).
{
  const sim = Sim.load({ ports, seed: 1, record: false });
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const h = (sim as any).h;
  const batch = makeTlps(256, 3);
  const stage = new Uint32Array(new ArrayBuffer(4 * packedLength(batch)));
  const t = { packIn: 0, objIn: 0, packOut: 0, objOut: 0 };
  const rounds = 300;
  for (let r = 0; r < rounds + 50; r++) {
    const packed = r % 2 === 0;
    const cycles = batch.map(() => sim.cycle);
    const a = performance.now();
    if (packed) h.enqueue(0, stage, packTlps(batch, cycles, stage));
    else
      h.enqueueObjects(
        0,
        batch.map((x) => ({ hdr: x.hdr, data: x.data, cycle: sim.cycle })),
      );
    const b = performance.now();
    // The harness's run directly, without the room Sim.run passes: the TLPs stay in C++ so both
    // formats fetch them the same way (packed: Sim.takeTx's copy into its arena and unpacking).
    h.run(0, 1e7, batch.length, -1, -1, null, null);
    const c = performance.now();
    const got: RawTlp[] = packed ? sim.takeTx() : h.takeTxObjects(0);
    const d = performance.now();
    if (got.length !== batch.length) throw new Error('lost TLPs');
    if (r < 50) continue; // warm-up
    if (packed) {
      t.packIn += b - a;
      t.packOut += d - c;
    } else {
      t.objIn += b - a;
      t.objOut += d - c;
    }
  }
  const us = (ms: number) => ((ms / ((rounds / 2) * batch.length)) * 1000).toFixed(3);
  console.log(
    `\nboundary cost per TLP (batches of 256, avg ${(packedLength(batch) / 256 - 7).toFixed(0)} payload dw):`,
  );
  console.log(`  into C++ : packed ${us(t.packIn)} us   objects ${us(t.objIn)} us`);
  console.log(`  out of C++: packed ${us(t.packOut)} us   objects ${us(t.objOut)} us`);
  sim.close();
}
