// Memory initial contents: a ROM (no write port) read asynchronously, and a block RAM whose power-up
// contents are read synchronously and then overwritten.
import { describe, expect, it } from 'vitest';
import { defineModule } from '../../gen/hdl';
import { cycleSim } from '../support/cyclesim';
import { expectHdlError, expectLintClean, Mark } from './helpers';

const table = Array.from({ length: 16 }, (_, i) => (i * 37 + 11) & 0xff);

const Rom = defineModule('meminit_rom', (m) => {
  const addr = m.input('addr', 4);
  const rom = m.memory('rom', { width: 8, depth: 16, init: table });
  m.output('data', 8).set(rom.readAsync(addr));
});

const Ram = defineModule('meminit_ram', (m) => {
  const addr = m.input('addr', 5);
  const we = m.input('we', 1);
  const wdata = m.input('wdata', 16);
  const ram = m.memory('ram', { width: 16, depth: 32, init: [0x1111, 0x2222, 0x3333] });
  ram.write(addr, wdata, we);
  m.output('q', 16).set(ram.readSync(addr));
});

describe('memory initial contents', () => {
  it('a ROM reads its table', () => {
    const top = Rom.elaborate(undefined);
    expectLintClean(top);
    const out = cycleSim(
      top,
      table.map((_, a) => ({ addr: a })),
    );
    expect(out.map((o) => Number(o.data))).toEqual(table);
  });

  it('a RAM starts with its contents and takes writes', () => {
    const top = Ram.elaborate(undefined);
    expectLintClean(top);
    const out = cycleSim(top, [
      { addr: 0, we: 0 },
      { addr: 1 },
      { addr: 2 },
      { addr: 1, we: 1, wdata: 0xbeef },
      { addr: 1, we: 0 },
      { addr: 1 },
    ]);
    // Synchronous read: each cycle shows the word addressed in the cycle before.
    expect(out.slice(1).map((o) => o.q)).toEqual([0x1111n, 0x2222n, 0x3333n, 0x2222n, 0xbeefn]);
  });

  it('rejects contents that do not fit', () => {
    const mk = new Mark();
    const Bad = defineModule('meminit_bad', (m) => {
      mk.on('memory', () => m.memory('rom', { width: 4, depth: 4, init: [1, 2, 16] }));
    });
    expectHdlError(() => Bad.elaborate(undefined), {
      kind: 'width',
      at: mk,
      msg: ["memory 'rom': init[2] = 16 does not fit in 4 bits"],
    });
    const mk2 = new Mark();
    const Long = defineModule('meminit_long', (m) => {
      mk2.on('memory', () => m.memory('rom', { width: 4, depth: 2, init: [1, 2, 3] }));
    });
    expectHdlError(() => Long.elaborate(undefined), {
      kind: 'range',
      at: mk2,
      msg: ['3 initial words for a depth of 2'],
    });
  });
});
