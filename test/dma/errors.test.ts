// The DMA engines' error paths at every width: a read answered with UR, CA, poisoned data or not at all
// (completion timeout), a lost middle completion (the pieces after it are dropped as out of sequence, the
// command times out), a repeated completion (dropped, the data still right), completions for no outstanding
// tag, and Bus Master Enable clear; each command ends with its own status, the others are unaffected, and the
// engines go on working. Device memory outside a failed read's range is never touched.
import { afterEach, beforeAll, describe, expect, test } from 'vitest';
import { DmaError } from '../../gen/pcie/dma_common';
import { Rng } from '../../sim/random';
import type { ReadAction, ReadFault } from '../../tb/pcie/inject';
import { runBatch } from './batch';
import {
  bootDma,
  buildDmaSim,
  closeDmaBenches,
  DEV_BYTES,
  devFill,
  devRead,
  DMA_WIDTHS,
  type DmaBench,
  dmaPorts,
  statuses,
  waitStatuses,
} from './support';

afterEach(closeDmaBenches);

const TIMEOUT = 3000;
const same = (a: Uint8Array, b: Uint8Array) => Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0;

/**
 * Three reads queued at once (2 KiB each, 4 requests of 512 B): the middle one's second request gets `fault`.
 * Returns the three statuses and the unexpected-completion count; checks the first and last read's data and that
 * the failed read wrote nothing outside its range.
 */
function faultedRead(d: DmaBench, rng: Rng, fault: ReadAction | ReadFault) {
  const model = rng.bytes(DEV_BYTES);
  devFill(d, model);
  const bufs = [0, 1, 2].map(() => d.rc.mem.alloc(2048, { perm: 'ro' }));
  const srcs = bufs.map((b) => {
    const s = rng.bytes(2048);
    b.write(0, s);
    return s;
  });
  const victim = bufs[1].addr + 512n;
  d.rc.setFaults({ onRead: (r) => (r.tlp.address === victim ? fault : undefined) });
  const before = d.rdStatus.count;
  const u0 = Number(d.sim.peek('unexpected_count'));
  bufs.forEach((b, i) =>
    d.rdCmd.send({
      rd_cmd_host_addr: b.addr,
      rd_cmd_dev_addr: 8192 * (i + 1) + 3,
      rd_cmd_len: 2048,
      rd_cmd_id: 10 + i,
    }),
  );
  waitStatuses(d, { rd: before + 3 }, 200_000);
  d.rc.setFaults({ onRead: undefined });
  const st = statuses(d.rdStatus, 'rd');
  expect(st.map((s) => s.id)).toEqual([10, 11, 12]);
  for (const i of [0, 2]) expect(same(devRead(d, 8192 * (i + 1) + 3, 2048), srcs[i]), `read ${i}`).toBe(true);
  // Outside the three reads' ranges nothing changed.
  const dev = devRead(d, 0, DEV_BYTES);
  for (const [lo, hi] of [
    [0, 8192 + 3],
    [8192 + 3 + 2048, 16384 + 3],
    [16384 + 3 + 2048, 24576 + 3],
    [24576 + 3 + 2048, DEV_BYTES],
  ])
    expect(same(dev.subarray(lo, hi), model.subarray(lo, hi)), `bytes ${lo}..${hi} untouched`).toBe(true);
  for (const b of bufs) d.rc.mem.unmap(b);
  return {
    codes: st.map((s) => s.error),
    unexpected: Number(d.sim.peek('unexpected_count')) - u0,
    victimData: devRead(d, 16384 + 3, 2048),
    victimSrc: srcs[1],
  };
}

/** After an error the engines still work: a batch both ways, byte-exact. */
function stillWorks(d: DmaBench, rng: Rng): void {
  const model = devRead(d, 0, DEV_BYTES);
  runBatch(
    d,
    model,
    [
      { dir: 'read', host: 0x2000_0001n, dev: 100, len: 3000 },
      { dir: 'write', host: 0x2010_0002n, dev: 40000, len: 3000 },
    ],
    rng,
  );
}

describe.each(DMA_WIDTHS)('DMA engines, %i-bit stream: errors', (W) => {
  let ports = '';
  beforeAll(() => {
    ports = dmaPorts(W);
    buildDmaSim(ports);
  }, 600_000);
  const boot = (seed: number) =>
    bootDma(
      W,
      ports,
      seed,
      { timeout: TIMEOUT, mrrs: 512 },
      { split: 'rcb', latency: { min: 20, max: 200 } },
      { rxIdle: 0.1, txBackpressure: 0.2 },
    );

  const cases: [string, ReadAction | ReadFault, number][] = [
    ['UR', 'ur', DmaError.UNSUPPORTED_REQUEST],
    ['CA', 'ca', DmaError.COMPLETER_ABORT],
    ['UR after two completions with data', { action: 'ur', completion: 2 }, DmaError.UNSUPPORTED_REQUEST],
    ['poisoned completions', 'poison', DmaError.POISONED],
    ['no completion (completion timeout)', 'drop', DmaError.TIMEOUT],
    [
      'a lost middle completion (timeout; the pieces after it out of sequence)',
      { action: 'drop', completion: 3 },
      DmaError.TIMEOUT,
    ],
  ];
  for (const [name, fault, code] of cases) {
    test(`a read answered with ${name}: its command ends with that status, the others OK`, () => {
      const rng = new Rng(W + code);
      const d = boot(W + code);
      const r = faultedRead(d, rng, fault);
      expect(r.codes).toEqual([DmaError.NONE, code, DmaError.NONE]);
      if (typeof fault === 'object' && fault.action === 'drop')
        expect(r.unexpected, 'pieces after the lost one').toBe(4);
      else expect(r.unexpected).toBe(0);
      stillWorks(d, rng);
      expect(d.rc.violations).toEqual([]);
    });
  }

  test('a repeated completion is dropped and counted; the data is right', () => {
    const rng = new Rng(W);
    const d = boot(W);
    const r = faultedRead(d, rng, { action: 'duplicate', completion: 2 });
    expect(r.codes).toEqual([0, 0, 0]);
    expect(r.unexpected).toBe(1);
    expect(same(r.victimData, r.victimSrc)).toBe(true);
  });

  test('completions for no outstanding tag are dropped and counted, with or without data', () => {
    const rng = new Rng(W + 1);
    const d = boot(W + 1);
    d.rc.sendUnexpectedCompletion({ tag: 5 });
    d.rc.sendUnexpectedCompletion({ tag: 31, bytes: 200 });
    d.rc.sendUnexpectedCompletion({ tag: 200, status: 'UR' });
    d.rc.runFor(500);
    expect(Number(d.sim.peek('unexpected_count'))).toBe(3);
    expect(d.sim.peek('busy')).toBe(0n);
    stillWorks(d, rng);
  });

  test('Bus Master Enable clear: both engines end their commands with BUS_MASTER_DISABLED and send nothing', () => {
    const rng = new Rng(W + 2);
    const d = boot(W + 2);
    d.configure({ busMaster: false });
    const n = d.tap.fromDevice.length;
    const buf = d.rc.mem.alloc(4096, { perm: 'rw' });
    d.rdCmd.send({ rd_cmd_host_addr: buf.addr, rd_cmd_dev_addr: 0, rd_cmd_len: 100, rd_cmd_id: 1 });
    d.wrCmd.send({ wr_cmd_host_addr: buf.addr, wr_cmd_dev_addr: 0, wr_cmd_len: 100, wr_cmd_id: 2 });
    waitStatuses(d, { rd: 1, wr: 1 }, 10_000);
    expect(statuses(d.rdStatus, 'rd')).toEqual([{ id: 1, error: DmaError.BUS_MASTER_DISABLED }]);
    expect(statuses(d.wrStatus, 'wr')).toEqual([{ id: 2, error: DmaError.BUS_MASTER_DISABLED }]);
    expect(d.tap.fromDevice.length).toBe(n);
    d.configure({ busMaster: true });
    stillWorks(d, rng);
  });

  // Two errors in one command: the first is its status, whichever source it came from. The command is long (64
  // KiB, 128 requests on 32 tags), so that it is still issuing when the second error comes.
  const twoErrors = (seed: number, faults: Map<number, ReadAction>, clearBmeAt?: number) => {
    const d = boot(seed);
    const buf = d.rc.mem.alloc(65536, { perm: 'ro' });
    d.rc.setFaults({ onRead: (r) => faults.get(Number(r.tlp.address - buf.addr)) });
    d.rdCmd.send({ rd_cmd_host_addr: buf.addr, rd_cmd_dev_addr: 0, rd_cmd_len: 65536, rd_cmd_id: 3 });
    if (clearBmeAt !== undefined) {
      d.rc.runFor(clearBmeAt);
      d.configure({ busMaster: false });
    }
    waitStatuses(d, { rd: 1 }, 200_000);
    d.rc.setFaults({ onRead: undefined });
    d.configure({ busMaster: true });
    const st = statuses(d.rdStatus, 'rd');
    d.rc.mem.unmap(buf);
    stillWorks(d, new Rng(seed));
    return st;
  };

  test('a read answered with UR and an earlier one lost: the UR (first) is the status, not TIMEOUT', () => {
    const st = twoErrors(
      W + 4,
      new Map<number, ReadAction>([
        [0, 'drop'],
        [1024, 'ur'],
      ]),
    );
    expect(st).toEqual([{ id: 3, error: DmaError.UNSUPPORTED_REQUEST }]);
  });

  test('a read lost, then Bus Master Enable cleared while issuing: BUS_MASTER_DISABLED (first), not TIMEOUT', () => {
    const st = twoErrors(W + 5, new Map<number, ReadAction>([[0, 'drop']]), 300);
    expect(st).toEqual([{ id: 3, error: DmaError.BUS_MASTER_DISABLED }]);
  });

  test('zero-length commands end at once with status OK and no TLP', () => {
    const d = boot(W + 3);
    d.rdCmd.send({ rd_cmd_host_addr: 0x1234n, rd_cmd_dev_addr: 5, rd_cmd_len: 0, rd_cmd_id: 7 });
    d.wrCmd.send({ wr_cmd_host_addr: 0x1234n, wr_cmd_dev_addr: 5, wr_cmd_len: 0, wr_cmd_id: 8 });
    waitStatuses(d, { rd: 1, wr: 1 }, 10_000);
    expect(statuses(d.rdStatus, 'rd')).toEqual([{ id: 7, error: 0 }]);
    expect(statuses(d.wrStatus, 'wr')).toEqual([{ id: 8, error: 0 }]);
    expect(d.tap.fromDevice.length).toBe(0);
  });
});
