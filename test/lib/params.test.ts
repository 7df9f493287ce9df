// Every parameter and operand check of the block library reports at the designer's line and column: the line
// that elaborates or instantiates a library module, or calls a library function, never a line in gen/lib.
import { describe, it } from 'vitest';
import { defineModule, type ModuleBuilder, sint } from '../../gen/hdl';
import { FixedPriorityArbiter, RoundRobinArbiter, roundRobinArbiter } from '../../gen/lib/arbiter';
import { AsyncFifo } from '../../gen/lib/async_fifo';
import { syncBits } from '../../gen/lib/cdc';
import { Counter, CreditCounter, creditCounter, OccupancyCounter, upCounter } from '../../gen/lib/counter';
import { BramFifo, Fifo } from '../../gen/lib/fifo';
import { PriorityEncoder } from '../../gen/lib/priority';
import { PipeReg, RegSlice } from '../../gen/lib/skid';
import { expectHdlError, Mark } from '../hdl/helpers';

/** A module whose body runs `f` (with a mark to set on the line of the call under test). */
let seq = 0;
const user = (f: (m: ModuleBuilder, mk: Mark) => void) => {
  const mk = new Mark();
  const D = defineModule(`lib_param_user${seq++}`, (m) => {
    f(m, mk);
  });
  return { mk, elaborate: () => D.elaborate() };
};

describe('library module parameters', () => {
  const cases: [string, (mk: Mark) => unknown, string][] = [
    [
      'Fifo width',
      (mk) => mk.on('elaborate', () => Fifo.elaborate({ width: 0, depth: 4 })),
      'Fifo: width must be an integer from 1 to 65536, got 0',
    ],
    [
      'Fifo depth',
      (mk) => mk.on('elaborate', () => Fifo.elaborate({ width: 8, depth: 0 })),
      'Fifo: depth must be an integer at least 1, got 0',
    ],
    [
      'Fifo almostFull',
      (mk) => mk.on('elaborate', () => Fifo.elaborate({ width: 8, depth: 4, almostFull: 5 })),
      'Fifo: almostFull must be an integer from 1 to 4, got 5',
    ],
    [
      'BramFifo depth',
      (mk) => mk.on('elaborate', () => BramFifo.elaborate({ width: 8, depth: 2.5 })),
      'BramFifo: depth must be an integer at least 1, got 2.5',
    ],
    [
      'AsyncFifo depth not a power of two',
      (mk) => mk.on('elaborate', () => AsyncFifo.elaborate({ width: 8, depth: 12 })),
      'AsyncFifo: depth must be a power of two (the pointers are Gray-coded), got 12',
    ],
    [
      'AsyncFifo depth',
      (mk) => mk.on('elaborate', () => AsyncFifo.elaborate({ width: 8, depth: 1 })),
      'AsyncFifo: depth must be an integer from 2 to 1048576, got 1',
    ],
    [
      'AsyncFifo width',
      (mk) => mk.on('elaborate', () => AsyncFifo.elaborate({ width: 0, depth: 16 })),
      'AsyncFifo: width must be an integer from 1 to 65536, got 0',
    ],
    [
      'AsyncFifo almostFull',
      (mk) => mk.on('elaborate', () => AsyncFifo.elaborate({ width: 8, depth: 16, almostFull: 17 })),
      'AsyncFifo: almostFull must be an integer from 1 to 16, got 17',
    ],
    [
      'AsyncFifo syncStages',
      (mk) => mk.on('elaborate', () => AsyncFifo.elaborate({ width: 8, depth: 16, syncStages: 1 })),
      'AsyncFifo: syncStages must be an integer from 2 to 8, got 1',
    ],
    [
      'RegSlice width',
      (mk) => mk.on('elaborate', () => RegSlice.elaborate({ width: 0 })),
      'RegSlice: width must be an integer from 1 to 65536, got 0',
    ],
    [
      'PipeReg width',
      (mk) => mk.on('elaborate', () => PipeReg.elaborate({ width: 70000 })),
      'PipeReg: width must be an integer from 1 to 65536, got 70000',
    ],
    [
      'PriorityEncoder width',
      (mk) => mk.on('elaborate', () => PriorityEncoder.elaborate({ width: 0 })),
      'PriorityEncoder: width must be an integer from 1 to 65536, got 0',
    ],
    [
      'RoundRobinArbiter n',
      (mk) => mk.on('elaborate', () => RoundRobinArbiter.elaborate({ n: 0 })),
      'RoundRobinArbiter: n must be an integer from 1 to 65536, got 0',
    ],
    [
      'FixedPriorityArbiter n',
      (mk) => mk.on('elaborate', () => FixedPriorityArbiter.elaborate({ n: -1 })),
      'FixedPriorityArbiter: n must be an integer from 1 to 65536, got -1',
    ],
    [
      'Counter modulus',
      (mk) => mk.on('elaborate', () => Counter.elaborate({ modulus: 0 })),
      "upCounter 'cnt': modulus must be a positive integer",
    ],
    [
      'OccupancyCounter atLeast',
      (mk) => mk.on('elaborate', () => OccupancyCounter.elaborate({ max: 4, atLeast: 5 })),
      "occupancyCounter 'occ': atLeast must be 1..max",
    ],
    [
      'CreditCounter maxTake',
      (mk) => mk.on('elaborate', () => CreditCounter.elaborate({ max: 4, maxTake: 5 })),
      "creditCounter 'cred': need 1 <= max, 0 <= init <= max, 1 <= maxTake <= max",
    ],
    [
      'CreditCounter maxGive',
      (mk) => mk.on('elaborate', () => CreditCounter.elaborate({ max: 4, maxGive: 5 })),
      'CreditCounter: maxGive 5 exceeds max 4',
    ],
  ];
  for (const [what, f, msg] of cases) {
    it(`${what}: at the elaborate() line`, () => {
      const mk = new Mark();
      expectHdlError(() => f(mk), { kind: 'param', at: mk, msg: [msg] });
    });
  }

  it('at the instance() line when a module instantiates it', () => {
    const u = user((m, mk) => {
      mk.on('instance', () => m.instance('q', Fifo, { width: 8, depth: 4, almostFull: 0 }));
    });
    expectHdlError(u.elaborate, { kind: 'param', at: u.mk, msg: ['Fifo: almostFull must be an integer from 1 to 4'] });
  });
});

describe('library function operands and parameters', () => {
  const cases: [string, (m: ModuleBuilder, mk: Mark) => unknown, 'param' | 'width', string][] = [
    [
      'upCounter modulus',
      (m, mk) => mk.on('upCounter', () => upCounter(m, 'c', { modulus: 1.5, en: m.input('en', 1) })),
      'param',
      "upCounter 'c': modulus must be a positive integer",
    ],
    [
      'upCounter en',
      (m, mk) => mk.on('upCounter', () => upCounter(m, 'c', { modulus: 5, en: m.input('en', 2) })),
      'width',
      "upCounter 'c': en must be 1 bit, got input 'en' (uint2)",
    ],
    [
      'creditCounter takeN',
      (m, mk) => {
        const o = { max: 3, maxTake: 2, take: m.input('t', 1), takeN: m.input('tn', 3), give: m.input('g', 1) };
        mk.on('creditCounter', () => creditCounter(m, 'cr', o));
      },
      'param',
      "creditCounter 'cr': takeN is 3 bits, wider than the 2-bit count",
    ],
    [
      'syncBits stages',
      (m, mk) => mk.on('syncBits', () => syncBits(m, 's', m.input('d', 1), m.domain('dst'), { stages: 1 })),
      'param',
      "syncBits 's': at least 2 stages, got 1",
    ],
    [
      'roundRobinArbiter req',
      (m, mk) => mk.on('roundRobinArbiter', () => roundRobinArbiter(m, 'a', m.input('r', sint(4)), m.input('ack', 1))),
      'param',
      "arbiter 'a': req must be unsigned, got input 'r' (sint4)",
    ],
    [
      'roundRobinArbiter ack',
      (m, mk) => mk.on('roundRobinArbiter', () => roundRobinArbiter(m, 'a', m.input('r', 4), m.input('ack', 2))),
      'width',
      "arbiter 'a': ack must be 1 bit",
    ],
  ];
  for (const [what, f, kind, msg] of cases) {
    it(`${what}: at the call`, () => {
      const u = user((m, mk) => f(m, mk));
      expectHdlError(u.elaborate, { kind, at: u.mk, msg: [msg] });
    });
  }
});
