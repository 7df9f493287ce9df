// The build side of the simulator: cache hits, rebuild on change, concurrent builds from
// several processes, error reporting, port-description validation, waveform output.
import { execFile } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Sim } from '../../sim/index';
import { loadPorts } from '../../sim/ports';
import { VerilatorWarningsError } from '../../sim/verilator';
import { Rng } from '../../sim/random';
import { FIXTURES, LOOPBACK_W64, randomTlp } from './helpers';

const run = promisify(execFile);
const tmp = mkdtempSync(join(tmpdir(), 'vfpga-sim-test-'));
const builtDirs: string[] = [];

/**
 * A copy of the W=64 loopback in its own dir, edited; with `fresh` (default) a unique nonce too, so it always
 * builds anew.
 */
function variant(name: string, edit: (core: string) => string = (c) => c, fresh = true): string {
  const dir = join(tmp, name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  for (const f of ['loopback_w64.v', 'loopback_w64.ports.json']) copyFileSync(join(FIXTURES, f), join(dir, f));
  const core = readFileSync(join(FIXTURES, 'loopback_core.v'), 'utf8');
  writeFileSync(
    join(dir, 'loopback_core.v'),
    `${edit(core)}\n${fresh ? `// nonce ${Date.now()} ${Math.random()}\n` : ''}`,
  );
  return join(dir, 'loopback_w64.ports.json');
}

beforeAll(() => {
  Sim.load({ ports: LOOPBACK_W64, resetCycles: 0 }).close(); // shared cache: build or hit
});
afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
  // Designs with a nonce are never used again: keep the shared cache from growing.
  for (const d of builtDirs) rmSync(d, { recursive: true, force: true });
});

describe('build cache', () => {
  test('an unchanged design is not rebuilt', () => {
    const t0 = performance.now();
    const sim = Sim.load({ ports: LOOPBACK_W64, quiet: true });
    const ms = performance.now() - t0;
    expect(sim.build.built).toBe(false);
    expect(sim.build.seconds).toBe(0);
    expect(existsSync(join(sim.build.dir, 'build.json'))).toBe(true);
    expect(ms).toBeLessThan(2000); // a build takes several seconds
    sim.close();
  });

  test('a changed design is rebuilt automatically, then cached', () => {
    const ports = variant('changed', (c) => c.replace("32'h0050_0000", "32'h0060_0000"));
    const a = Sim.load({ ports, quiet: true });
    builtDirs.push(a.build.dir);
    expect(a.build.built).toBe(true);
    const base = Sim.load({ ports: LOOPBACK_W64, quiet: true });
    expect(a.build.hash).not.toBe(base.build.hash);
    // The new behaviour is really in the model: the echo now flips TC bits 22:21.
    const t = randomTlp(new Rng(1), 2);
    a.send(t);
    a.run({ untilTx: 1, maxCycles: 50 });
    expect(a.takeTx()[0].hdr[0]).toBe((t.hdr[0] ^ 0x0060_0000) >>> 0);
    const b = Sim.load({ ports, quiet: true });
    expect(b.build.built).toBe(false);
    expect(b.build.dir).toBe(a.build.dir);
    for (const s of [a, b, base]) s.close();
  });

  test('two processes building the same new design at once: one builds, both load it', async () => {
    const ports = variant('concurrent');
    const worker = resolve(import.meta.dirname, 'build-worker.ts');
    const one = () =>
      run(process.execPath, ['--import', 'tsx', worker, ports], { cwd: resolve(import.meta.dirname, '..', '..') });
    const outs = await Promise.all([one(), one()]);
    const results = outs.map(
      (o) => JSON.parse(o.stdout.trim().split('\n').pop()!) as { built: boolean; dir: string; cycle: number },
    );
    builtDirs.push(results[0].dir);
    expect(results.map((r) => r.built).sort()).toEqual([false, true]);
    expect(results[0].dir).toBe(results[1].dir);
    expect(results.every((r) => r.cycle === 11)).toBe(true);
  });

  test('Verilator errors are reported with its message', () => {
    const ports = variant('broken', (c) => c.replace('assign rx_ready = !full;', 'assign rx_ready = !full'));
    expect(() => Sim.load({ ports, quiet: true })).toThrow(
      /verilating loopback_w64 failed[\s\S]*%Error: .*loopback_core\.v:\d+/,
    );
  });
});

describe('foreign RTL: warnings, ports', () => {
  test('every warning is reported by one build; waived, the same build loads without rebuilding', () => {
    // Two kinds of warning at once: a width mismatch and an incomplete case.
    const ports = variant(
      'warnings',
      (c) =>
        c
          .replace('assign rx_ready = !full;', 'assign rx_ready = wr_ptr;')
          .replace("if (mode == 2'd3) $finish;", "case (mode) 2'd3: $finish; 2'd2: magic_out <= 0; endcase"),
      false, // a cached build reports its warnings again at every load
    );
    let err: unknown;
    try {
      Sim.load({ ports, quiet: true });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(VerilatorWarningsError);
    const w = err as VerilatorWarningsError;
    expect(w.warnings.map((x) => x.code).sort()).toEqual(['CASEINCOMPLETE', 'WIDTH']);
    expect(w.message).toMatch(/Verilator reports 2 warning\(s\) \(WIDTH, CASEINCOMPLETE\)/);
    expect(w.message).toMatch(/%Warning-WIDTH: .*loopback_core\.v:\d+/);
    expect(w.message).toMatch(/waive them in the ports JSON/);
    expect(w.warnings.find((x) => x.code === 'WIDTH')!.file).toMatch(/loopback_core\.v$/);
    // Waiving one is not enough; waiving both (by code, by file, by file and line) loads the build already made.
    const line = w.warnings.find((x) => x.code === 'CASEINCOMPLETE')!.line;
    expect(() => Sim.load({ ports, quiet: true, waive: ['WIDTH'] })).toThrow(/1 warning\(s\) \(CASEINCOMPLETE\)/);
    expect(() =>
      Sim.load({ ports, quiet: true, waive: ['WIDTH', `CASEINCOMPLETE:loopback_core.v:${line! + 1}`] }),
    ).toThrow(VerilatorWarningsError);
    const sim = Sim.load({
      ports,
      quiet: true,
      waive: ['WIDTH:loopback_core.v', `CASEINCOMPLETE:loopback_core.v:${line}`],
    });
    expect(sim.build.built).toBe(false);
    expect(sim.build.warnings.length).toBe(2);
    sim.close();
    expect(() => Sim.load({ ports, quiet: true, waive: ['width'] })).toThrow(/not CODE, CODE:file or CODE:file:line/);
  });

  test('a ports JSON that does not match the verilated top is an error listing every difference', () => {
    const ports = variant('mismatch');
    const j = JSON.parse(readFileSync(ports, 'utf8'));
    j.ports.find((p: { name: string }) => p.name === 'magic_in').width = 64;
    j.ports = j.ports.filter((p: { name: string }) => p.name !== 'mode');
    j.ports.push({ name: 'ghost', direction: 'output', width: 3 });
    writeFileSync(ports, JSON.stringify(j));
    expect(() => Sim.load({ ports, quiet: true })).toThrow(
      new RegExp(
        [
          'the ports do not match module loopback_w64:',
          '  port magic_in: the JSON says a 64-bit input, the Verilog has a 100-bit input',
          '  port ghost is not a port of module loopback_w64',
          '  input mode \\(2 bits\\) of the Verilog is missing from the JSON',
        ].join('\n'),
      ),
    );
  });
});

describe('port description', () => {
  test('streams are found from "interfaces" and checked against the ports', () => {
    const p = loadPorts(LOOPBACK_W64);
    expect(p.sinks.map((s) => [s.name, s.dataWidth, s.lanes, s.fields.hdr])).toEqual([['rx', 64, 2, 'rx_hdr']]);
    expect(p.sources.map((s) => [s.name, s.fields.ready])).toEqual([['tx', 'tx_ready']]);

    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- a ports.json edited into malformed shapes
    const bad = (edit: (j: any) => void, msg: RegExp) => {
      const j = JSON.parse(readFileSync(LOOPBACK_W64, 'utf8'));
      edit(j);
      const f = join(tmp, `bad-${Math.random()}.ports.json`);
      writeFileSync(f, JSON.stringify(j));
      expect(() => loadPorts(f)).toThrow(msg);
    };
    bad(
      (j) => (j.ports.find((p: { name: string }) => p.name === 'tx_keep').width = 3),
      /interfaces\[1\] \(tx\)\.fields\.keep: port tx_keep must be a 2-bit output \(is a 3-bit output\)/,
    );
    bad((j) => delete j.interfaces[0].fields.hdr, /interfaces\[0\] \(rx\)\.fields\.hdr: missing/);
    bad((j) => (j.interfaces[0].fields.last = 'rx_eop'), /fields\.last: not a TLP stream field/);
    bad((j) => (j.interfaces[1].fields.valid = 'nope'), /interfaces\[1\] \(tx\)\.fields\.valid: no port named nope/);
    bad(
      (j) => (j.interfaces[0].params.dataWidth = 48),
      /params\.dataWidth: must be a multiple of 32 up to 1024, got 48/,
    );
    bad((j) => (j.clock = 'magic_out'), /clock: magic_out must be a 1-bit input/);
    bad((j) => delete j.clock, /clock: the simulator needs a clock/);
    // The file is named in every message.
    bad((j) => (j.top = 3), /bad-[0-9.]+\.ports\.json: top: /);
  });
});

describe('waveforms', () => {
  test('an FST file is written when asked for, and its path printed', () => {
    const path = join(tmp, 'waves', 'lb.fst');
    const sim = Sim.load({ ports: LOOPBACK_W64, trace: path, quiet: true, seed: 1 });
    expect(sim.tracePath).toBe(path);
    sim.send(randomTlp(new Rng(2), 8));
    sim.run({ untilTx: 1, maxCycles: 100 });
    sim.close();
    expect(statSync(path).size).toBeGreaterThan(100);
  });

  test('VFPGA_TRACE switches tracing on without code changes; off by default', () => {
    const path = join(tmp, 'env.fst');
    const old = process.env.VFPGA_TRACE;
    try {
      delete process.env.VFPGA_TRACE;
      const off = Sim.load({ ports: LOOPBACK_W64, quiet: true });
      expect(off.tracePath).toBeUndefined();
      off.close();
      process.env.VFPGA_TRACE = path;
      const on = Sim.load({ ports: LOOPBACK_W64, quiet: true });
      on.run({ cycles: 20 });
      on.close();
      expect(statSync(path).size).toBeGreaterThan(100);
      process.env.VFPGA_TRACE = '1';
      const dflt = Sim.load({ ports: LOOPBACK_W64, quiet: true, trace: false });
      expect(dflt.tracePath).toBeUndefined(); // an explicit option wins over the environment
      dflt.close();
    } finally {
      if (old === undefined) delete process.env.VFPGA_TRACE;
      else process.env.VFPGA_TRACE = old;
    }
  });

  test('two open Sims never write one waveform file', () => {
    const path = join(tmp, 'twice.fst');
    const old = process.env.VFPGA_TRACE;
    try {
      process.env.VFPGA_TRACE = path; // every Sim of a run gets this path: the second one is given its own
      const a = Sim.load({ ports: LOOPBACK_W64, quiet: true });
      const b = Sim.load({ ports: LOOPBACK_W64, quiet: true });
      expect(a.tracePath).toBe(path);
      expect(b.tracePath).toBe(join(tmp, 'twice-2.fst'));
      // A path the caller names is the caller's: asking for one in use is an error, not a silent overwrite.
      expect(() => Sim.load({ ports: LOOPBACK_W64, quiet: true, trace: path })).toThrow(
        /twice\.fst is already being written by another open Sim/,
      );
      a.run({ cycles: 20 });
      b.run({ cycles: 30 });
      a.close();
      b.close();
      expect(statSync(path).size).toBeGreaterThan(100);
      expect(statSync(join(tmp, 'twice-2.fst')).size).toBeGreaterThan(100);
      const c = Sim.load({ ports: LOOPBACK_W64, quiet: true, trace: path }); // free again once closed
      expect(c.tracePath).toBe(path);
      c.close();
      // A Sim that fails to start (an AXI port the top lacks) does not keep the path.
      expect(() => Sim.load({ ports: LOOPBACK_W64, quiet: true, trace: path, axi: { nope: {} } })).toThrow(
        /has no AXI4 master port nope/,
      );
      const d = Sim.load({ ports: LOOPBACK_W64, quiet: true, trace: path });
      expect(d.tracePath).toBe(path);
      d.close();
    } finally {
      if (old === undefined) delete process.env.VFPGA_TRACE;
      else process.env.VFPGA_TRACE = old;
    }
  });
});
