// The waveform window (SimOptions.traceWindow, sim/cpp/trace.h): rotating FST segments of which only the two newest
// stay on disk, each a complete FST file holding exactly the cycles sim.waveform() says; and the whole-run trace
// reported the same way.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { describeWaveform, segmentPattern, Sim, SimError, type WaveformFile } from '../../sim/index';
import { Rng } from '../../sim/random';
import { readFstSummary } from './fst';
import { LOOPBACK_W64, randomTlp } from './helpers';

const tmp = mkdtempSync(join(tmpdir(), 'vfpga-waves-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** The FST file holds cycles [from, to): its header's times are clk's first fall and last rise (10c, 10c + 5). */
function expectFileHolds(f: WaveformFile, vars: number): void {
  const s = readFstSummary(f.path);
  expect(s.startTime, f.path).toBe(BigInt(10 * f.from));
  expect(s.endTime, f.path).toBe(BigInt(10 * (f.to - 1) + 5));
  expect(s.vars, f.path).toBe(vars);
  expect(s.valueBlocks.length, f.path).toBeGreaterThan(0);
  for (const v of s.valueBlocks) {
    expect(v.begin).toBeGreaterThanOrEqual(s.startTime);
    expect(v.end).toBeLessThanOrEqual(s.endTime);
  }
}

describe('waveform window', () => {
  test('keeps only the last two segments, each a closed FST file of the cycles it claims', () => {
    const dir = join(tmp, 'window');
    mkdirSync(dir, { recursive: true });
    // A previous run's segment under the same name goes; other files stay.
    writeFileSync(join(dir, 'lb.12.fst'), 'old');
    writeFileSync(join(dir, 'lb.notes.fst'), 'keep');
    const sim = Sim.load({ ports: LOOPBACK_W64, trace: join(dir, 'lb.fst'), traceWindow: 100, quiet: true, seed: 3 });
    expect(sim.traceWindow).toBe(100);
    expect(existsSync(join(dir, 'lb.12.fst'))).toBe(false);
    const rng = new Rng(4);
    for (let i = 0; i < 40; i++) sim.send(randomTlp(rng, rng.int(0, 16)));
    sim.run({ cycles: 1000 }); // 4 reset cycles, then 1000: cycles 0..1003
    expect(sim.cycle).toBe(1004);
    const live = sim.waveform();
    expect(live).toEqual([
      { path: join(dir, 'lb.900.fst'), from: 900, to: 1000 },
      { path: join(dir, 'lb.1000.fst'), from: 1000, to: 1004 },
    ]);
    // The closed segment is complete already; the open one is completed by close().
    expect(readFstSummary(live[0].path).startTime).toBe(9000n);
    expect(() => readFstSummary(live[1].path)).toThrow(/not closed|no hierarchy|never finished|truncated/);
    sim.run({ cycles: 150 }); // to 1153: the segments rotate on
    sim.close();
    const files = sim.waveform();
    expect(files.map((f) => [f.from, f.to])).toEqual([
      [1000, 1100],
      [1100, 1154],
    ]);
    expect(readdirSync(dir).sort()).toEqual(['lb.1000.fst', 'lb.1100.fst', 'lb.notes.fst']);
    const vars = readFstSummary(files[0].path).vars;
    expect(vars).toBeGreaterThan(10);
    for (const f of files) expectFileHolds(f, vars);
    expect(sim.waveformNote()).toBe(
      `waveform (FST) of the window of the last 154 cycles (segments of 100): cycles 1000-1153 in ${files[0].path} (1000-1099), ${files[1].path} (1100-1153)`,
    );
  });

  test('a short run leaves one segment; the whole-run trace is one file from cycle 0', () => {
    const win = Sim.load({ ports: LOOPBACK_W64, trace: join(tmp, 'short.fst'), traceWindow: 1000, quiet: true });
    win.run({ cycles: 20 });
    win.close();
    expect(win.waveform()).toEqual([{ path: join(tmp, 'short.0.fst'), from: 0, to: 24 }]);
    expectFileHolds(win.waveform()[0], readFstSummary(join(tmp, 'short.0.fst')).vars);

    const whole = Sim.load({ ports: LOOPBACK_W64, trace: join(tmp, 'whole.fst'), quiet: true });
    whole.run({ cycles: 250 });
    whole.close();
    expect(whole.traceWindow).toBe(0);
    expect(whole.waveform()).toEqual([{ path: join(tmp, 'whole.fst'), from: 0, to: 254 }]);
    expectFileHolds(whole.waveform()[0], readFstSummary(join(tmp, 'whole.fst')).vars);
    expect(whole.waveformNote()).toBe(
      `waveform (FST) of the whole run: cycles 0-253 in ${join(tmp, 'whole.fst')} (0-253)`,
    );

    const off = Sim.load({ ports: LOOPBACK_W64, quiet: true, trace: false });
    off.run({ cycles: 5 });
    off.close();
    expect(off.waveform()).toEqual([]);
    expect(off.waveformNote()).toBe('');
  });

  test('VFPGA_TRACE_WINDOW turns the window on without code changes; bad values are refused', () => {
    const old = { trace: process.env.VFPGA_TRACE, window: process.env.VFPGA_TRACE_WINDOW };
    try {
      process.env.VFPGA_TRACE = join(tmp, 'env.fst');
      process.env.VFPGA_TRACE_WINDOW = '50';
      const sim = Sim.load({ ports: LOOPBACK_W64, quiet: true });
      sim.run({ cycles: 200 });
      sim.close();
      expect(sim.waveform().map((f) => f.path)).toEqual([join(tmp, 'env.150.fst'), join(tmp, 'env.200.fst')]);
      process.env.VFPGA_TRACE_WINDOW = 'ten';
      expect(() => Sim.load({ ports: LOOPBACK_W64, quiet: true })).toThrow(
        /VFPGA_TRACE_WINDOW must be a non-negative integer \(cycles\), got ten/,
      );
      expect(() => Sim.load({ ports: LOOPBACK_W64, quiet: true, traceWindow: -1 })).toThrow(
        /traceWindow must be a non-negative integer/,
      );
    } finally {
      for (const [k, v] of [
        ['VFPGA_TRACE', old.trace],
        ['VFPGA_TRACE_WINDOW', old.window],
      ] as const)
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
    }
  });

  test("a run-ending error names the window, which ends at the error's cycle", () => {
    const sim = Sim.load({ ports: LOOPBACK_W64, trace: join(tmp, 'err.fst'), traceWindow: 64, quiet: true, seed: 2 });
    const rng = new Rng(4);
    sim.run({ cycles: 300 });
    // mode 1: the loopback never ends a TLP: the second one's sop is a protocol error (test/sim/loopback.test.ts).
    sim.poke('mode', 1);
    sim.send(randomTlp(rng, 2));
    sim.send(randomTlp(rng, 2));
    let err: unknown;
    try {
      sim.run({ untilTx: 2, maxCycles: 100 });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SimError);
    const at = (err as SimError).cycle;
    expect((err as SimError).message).toMatch(
      new RegExp(
        `tx: sop while a packet is open .*\\nwaveform \\(FST\\) of the window of the last \\d+ cycles .*cycles \\d+-${at} in .*err\\.\\d+\\.fst`,
      ),
    );
    sim.close();
    const files = sim.waveform();
    expect(files.length).toBe(2);
    expect(files[1].to).toBe(at + 1);
    for (const f of files) expectFileHolds(f, readFstSummary(files[0].path).vars);
  });

  test('the names and the note say where the window is', () => {
    expect(segmentPattern('/w/linux.fst')).toBe('/w/linux.<first cycle>.fst');
    expect(segmentPattern('/w/.hidden')).toBe('/w/.hidden.<first cycle>.fst');
    expect(describeWaveform([{ path: 'a.0.fst', from: 0, to: 0 }], 10)).toBe('waveform (FST): a.0.fst (no cycle yet)');
  });
});
