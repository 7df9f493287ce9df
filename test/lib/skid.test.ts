import { describe, expect, it } from 'vitest';
import { PipeReg, RegSlice } from '../../gen/lib/skid';
import { caseSeed } from '../support/seeds';
import { runStreamTest } from './stream-check';
import { lint, synthClean } from './support-lint';

describe('RegSlice (2-entry skid buffer)', () => {
  for (const width of [1, 8, 64]) {
    it(`is a 2-entry buffer with latency 1 and full throughput (w${width})`, () => {
      const { seed, replay } = caseSeed(2100 + width);
      const mod = RegSlice.elaborate({ width });
      expect(mod.name).toBe(`skid_w${width}`);
      runStreamTest({ mod, spec: { capacity: 2, latency: 1 }, width, inName: 'in', outName: 'out', seed, replay });
    });
  }

  it('has every output registered: no input reaches an output combinationally', () => {
    expect(RegSlice.elaborate({ width: 8 }).combPaths.size).toBe(0);
  });

  it('lints clean and synthesizes without latches', () => {
    const mod = RegSlice.elaborate({ width: 64 });
    expect(lint(mod)).toBe('');
    const s = synthClean(mod);
    expect(s.ffs).toBe(2 * 64 + 2);
  });
});

describe('PipeReg (forward-only pipeline register)', () => {
  for (const width of [1, 8, 64]) {
    it(`is a 1-entry buffer that accepts while its output drains (w${width})`, () => {
      const { seed, replay } = caseSeed(2200 + width);
      const mod = PipeReg.elaborate({ width });
      expect(mod.name).toBe(`pipe_w${width}`);
      runStreamTest({
        mod,
        spec: { capacity: 1, latency: 1, readyPassThrough: true },
        width,
        inName: 'in',
        outName: 'out',
        seed,
        replay,
      });
    });
  }

  it('has only the ready path combinational', () => {
    const paths = PipeReg.elaborate({ width: 8 }).combPaths;
    expect([...paths.keys()]).toEqual(['in_ready']);
    expect([...paths.get('in_ready')!]).toEqual(['out_ready']);
  });

  it('lints clean and synthesizes without latches', () => {
    const mod = PipeReg.elaborate({ width: 64 });
    expect(lint(mod)).toBe('');
    const s = synthClean(mod);
    expect(s.ffs).toBe(64 + 1);
  });
});
