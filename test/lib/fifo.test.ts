import { describe, expect, it } from 'vitest';
import { defineModule, emitDesign } from '../../gen/hdl';
import { BramFifo, Fifo } from '../../gen/lib/fifo';
import { cycleSim, type Vector } from '../support/cyclesim';
import { Rng } from '../../sim/random';
import { caseSeed } from '../support/seeds';
import { runStreamTest } from './stream-check';
import { lint, synthClean } from './support-lint';

describe('Fifo', () => {
  for (const [width, depth] of [
    [8, 16],
    [33, 5],
    [1, 1],
  ] as const) {
    it(`keeps order and flags under random backpressure (w${width} d${depth})`, () => {
      const { seed, replay } = caseSeed(1000 + depth);
      const rng = new Rng(seed);
      const stim: Vector[] = [];
      for (let c = 0; c < 600; c++) {
        stim.push({
          enq_valid: rng.chance(0.6),
          enq_data: rng.bits(width),
          deq_ready: rng.chance(c < 300 ? 0.4 : 0.8),
        });
      }
      const out = cycleSim(Fifo.elaborate({ width, depth }), stim);
      const model: bigint[] = [];
      out.forEach((o, c) => {
        const ctx = `cycle ${c}, ${replay}`;
        expect(o.count, ctx).toBe(BigInt(model.length));
        expect(o.enq_ready, ctx).toBe(model.length < depth ? 1n : 0n);
        expect(o.deq_valid, ctx).toBe(model.length > 0 ? 1n : 0n);
        if (model.length) expect(o.deq_data, ctx).toBe(model[0]);
        const deq = o.deq_valid && stim[c].deq_ready;
        const enq = o.enq_ready && stim[c].enq_valid;
        if (deq) model.shift();
        if (enq) model.push(BigInt(stim[c].enq_data as bigint));
      });
    });
  }

  for (const [width, depth, almostFull] of [
    [16, 16, 12],
    [7, 3, 3],
  ] as const) {
    it(`matches the stream model, with almost_full, protocol and throughput checks (w${width} d${depth} af${almostFull})`, () => {
      const { seed, replay } = caseSeed(1100 + depth);
      const mod = Fifo.elaborate({ width, depth, almostFull });
      expect(mod.name).toBe(`fifo_w${width}_d${depth}_af${almostFull}`);
      const spec = { capacity: depth, latency: 1, almostFull };
      runStreamTest({ mod, spec, width, inName: 'enq', outName: 'deq', seed, replay, hasCount: true });
    });
  }

  it('lints clean (several shapes) and synthesizes without latches', () => {
    for (const p of [
      { width: 8, depth: 16 },
      { width: 33, depth: 5, almostFull: 4 },
      { width: 1, depth: 1 },
    ]) {
      expect(lint(Fifo.elaborate(p)), JSON.stringify(p)).toBe('');
    }
    const s = synthClean(Fifo.elaborate({ width: 32, depth: 32 }));
    expect(s.cells.RAM32M16 ?? 0, 'distributed RAM').toBeGreaterThan(0);
  });
});

describe('BramFifo', () => {
  for (const [width, depth, almostFull, outReg] of [
    [8, 16, undefined, true],
    [33, 5, 4, true],
    [16, 512, 500, true],
    [8, 16, 10, false],
    [5, 2, undefined, false],
    [12, 1, undefined, true],
  ] as const) {
    const tag = `w${width} d${depth}${almostFull ? ` af${almostFull}` : ''}${outReg ? '' : ' direct'}`;
    it(`is first-word fall-through with full throughput, latency ${outReg ? 3 : 2} (${tag})`, () => {
      const { seed, replay } = caseSeed(1200 + depth + (outReg ? 0 : 7));
      const mod = BramFifo.elaborate({ width, depth, almostFull, outReg });
      const spec = { capacity: depth, latency: outReg ? 3 : 2, almostFull };
      runStreamTest({ mod, spec, width, inName: 'enq', outName: 'deq', seed, replay, hasCount: true, cycles: 3000 });
    });
  }

  it('has registered ports (with the output slice)', () => {
    expect(BramFifo.elaborate({ width: 8, depth: 16 }).combPaths.size).toBe(0);
    expect([...BramFifo.elaborate({ width: 8, depth: 16, outReg: false }).combPaths.keys()]).toEqual([]);
  });

  it('is one module whether a default is spelled out or not', () => {
    expect(BramFifo.elaborate({ width: 8, depth: 16, outReg: true })).toBe(BramFifo.elaborate({ width: 8, depth: 16 }));
    const Top = defineModule('two_fifos', (m) => {
      for (const [name, p] of [
        ['a', { width: 8, depth: 16 }],
        ['b', { width: 8, depth: 16, outReg: true }],
      ] as const) {
        const f = m.instance(name, BramFifo, p);
        f.io.enq.valid.set(0);
        f.io.enq.data.set(0);
        f.io.deq.ready.set(0);
      }
    });
    expect([...emitDesign(Top.elaborate()).keys()]).toContain('fifo_bram_w8_d16.v');
  });

  it('names modules by parameters', () => {
    expect(BramFifo.nameFor({ width: 32, depth: 512 })).toBe('fifo_bram_w32_d512');
    expect(BramFifo.nameFor({ width: 8, depth: 16, almostFull: 12, outReg: false })).toBe(
      'fifo_bram_w8_d16_af12_direct',
    );
  });

  it('lints clean (several shapes) and synthesizes to block RAM without latches', () => {
    for (const p of [
      { width: 8, depth: 5, almostFull: 4 },
      { width: 8, depth: 16, outReg: false },
      { width: 1, depth: 1 },
    ]) {
      expect(lint(BramFifo.elaborate(p)), JSON.stringify(p)).toBe('');
    }
    const mod = BramFifo.elaborate({ width: 32, depth: 512 });
    expect(lint(mod)).toBe('');
    const s = synthClean(mod);
    expect(s.cells.RAMB18E2 ?? 0, 'block RAM').toBe(1);
  });
});
