// The timing the TypeScript device models share (tb/pcie/timedendpoint.ts), through ModelEndpoint's Link interface
// and through the root complex: TLPs taken in the order of their cycle stamps, what run() returns and when it stops,
// simultaneous events in the order they were scheduled, and timers taken back. Written for behaviour the mutation
// run (npm run mutate) found untested.
import { describe, expect, test } from 'vitest';
import { DMA_IRQ, DMA_STATUS, DMA_TO_DEVICE, MODEL_REGS as R, ModelEndpoint } from '../../tb/pcie/modeldev';
import { RootComplex } from '../../tb/pcie/rootcomplex';
import { decodeTlp, encodeTlp } from '../../tb/pcie/tlp';

const cfgRd = (tag: number) =>
  encodeTlp({ type: 'CfgRd0', completerId: 0x0100, offset: 0, firstBe: 0xf, requesterId: 0, tag });
const cfgWr = (tag: number) =>
  encodeTlp({
    type: 'CfgWr0',
    completerId: 0x0100,
    offset: 0x0c,
    firstBe: 0x1,
    requesterId: 0,
    tag,
    data: new Uint8Array([0x20, 0, 0, 0]),
  });
/** Tags and start cycles of what the model sent. */
const sent = (dev: ModelEndpoint) =>
  dev.takeTx().map((raw) => {
    const t = decodeTlp(raw);
    return [t.type === 'CplD' || t.type === 'Cpl' ? t.tag : -1, raw.cycle];
  });

describe('timed endpoint', () => {
  test('TLPs are taken in the order of their cycle stamps, those of one cycle in the order sent', () => {
    const dev = new ModelEndpoint({ latency: 4 });
    dev.send(cfgRd(1), 100);
    dev.send(cfgRd(2), 50);
    dev.send(cfgRd(3), 50);
    dev.send(cfgRd(4), 50);
    dev.send(cfgRd(5), 20);
    expect(dev.run({ cycles: 1000 })).toEqual({ reason: 'cycles', cycles: 1000 });
    // One beat each way: taken at its stamp (or once the previous one is in), answered `latency` cycles later.
    expect(sent(dev)).toEqual([
      [5, 25],
      [2, 55],
      [3, 56],
      [4, 57],
      [1, 105],
    ]);
  });

  test('run() stops at its limit, at an event exactly on it, or once untilTx TLPs are out, and says which', () => {
    const dev = new ModelEndpoint({ latency: 4 });
    expect(dev.run({ maxCycles: 10 })).toEqual({ reason: 'limit', cycles: 10 });
    expect(dev.run({ cycles: 10 })).toEqual({ reason: 'cycles', cycles: 10 });
    expect(dev.cycle).toBe(20);
    dev.send(cfgRd(1), 30); // in at 31, answer starts at 35, out at 36
    expect(dev.run({ untilTx: 1, maxCycles: 1000 })).toEqual({ reason: 'tx', cycles: 16 });
    expect(dev.cycle).toBe(36);
    expect(sent(dev)).toEqual([[1, 35]]);
    dev.send(cfgRd(2), 40);
    expect(dev.run({ cycles: 10 })).toEqual({ reason: 'cycles', cycles: 10 }); // out exactly at cycle 46
    expect(sent(dev)).toEqual([[2, 45]]);
    expect(dev.run({ maxCycles: Infinity })).toEqual({ reason: 'limit', cycles: Infinity });
    expect(() => dev.run({ until: { signal: 'x', equals: 1 } } as never)).toThrow(
      /ModelEndpoint: run\(\{ until \}\) needs a simulator/,
    );
  });

  test('events of one cycle happen in the order they were scheduled', () => {
    // Request 1 comes in at cycle 1 and is answered at once (latency 0): its answer is out at cycle 2. Request 2
    // started coming in at cycle 1, before request 1 was handled, so it is in at cycle 2 first.
    const dev = new ModelEndpoint({ latency: 0 });
    dev.send(cfgRd(1), 0);
    dev.send(cfgWr(2), 1);
    expect(dev.run({ untilTx: 1, maxCycles: 100 })).toEqual({ reason: 'tx', cycles: 2 });
    expect(dev.received.map((t) => t.type)).toEqual(['CfgRd0', 'CfgWr0']);
  });

  test('a DMA read whose completions arrived takes back its completion timeout', () => {
    // Completions 1500 cycles after each read, the device's timeout at 3000: the first copy's timers would fire
    // during the second, started as soon as the first one's interrupt arrives.
    const dev = new ModelEndpoint({ completionTimeout: 3000 });
    const rc = new RootComplex(dev, { seed: 1, latency: { min: 1500, max: 1500 } });
    rc.enumerate();
    rc.msix.setup();
    const buf = rc.mem.alloc(0x1000, { name: 'src' });
    const b0 = rc.bar(0);
    const copy = () => {
      b0.write64(R.DMA_HOST_LO, buf.addr);
      b0.write32(R.DMA_DEV, 0);
      b0.write32(R.DMA_LEN, 1024);
      b0.write32(R.DMA_CTRL, DMA_TO_DEVICE | DMA_IRQ | (1 << 16));
      rc.waitForInterrupt(1);
    };
    copy();
    copy();
    expect(b0.read32(R.DMA_STATUS) & 0x1ff).toBe(DMA_STATUS.DONE);
  });
});
