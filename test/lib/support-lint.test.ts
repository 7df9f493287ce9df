// The lint/synthesis helpers must see what they are meant to catch, or every "lints clean" test is vacuous.
import { describe, expect, it } from 'vitest';
import { lint, lutDepth, synth, synthClean } from './support-lint';

const v = (top: string, text: string) => ({ top, files: new Map([[`${top}.v`, text]]) });

describe('support-lint helpers', () => {
  it('lint reports a Verilator warning, and passes clean code', () => {
    const bad = v(
      'bad_width',
      'module bad_width(input wire [3:0] a, output wire [1:0] y);\n  assign y = a;\nendmodule\n',
    );
    expect(lint(bad)).toMatch(/%Warning-WIDTH/);
    const good = v(
      'good_width',
      'module good_width(input wire [1:0] a, output wire [1:0] y);\n  assign y = a;\nendmodule\n',
    );
    expect(lint(good)).toBe('');
  });

  it('synth finds a latch', () => {
    const latch = v(
      'has_latch',
      'module has_latch(input wire en, input wire d, output reg q);\n  always @* if (en) q = d;\nendmodule\n',
    );
    expect(synth(latch).latches.length).toBeGreaterThan(0);
    expect(() => synthClean(latch)).toThrow(/latches in has_latch/);
  });

  it('lutDepth sees a ripple chain', () => {
    const chain = v(
      'chain64',
      'module chain64(input wire [63:0] a, input wire [63:0] b, output wire [63:0] y);\n' +
        '  assign y = a + b;\nendmodule\n',
    );
    expect(lutDepth(chain)).toBeGreaterThan(8); // a 64-bit tree of ORs is 3 levels
  });
});
