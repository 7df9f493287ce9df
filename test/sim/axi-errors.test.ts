// Error injection in the simulator's sparse AXI4 memory model (the error* settings of sim/axi.ts): the bursts
// chosen by an address range, by their number, or at random from the seed are answered SLVERR or DECERR on every
// beat (R) or on B, a failed write leaves the memory as it was, and the run goes on (no protocol error); the
// statistics count them and name the last one's address.
import { afterEach, beforeAll, describe, expect, test } from 'vitest';
import { Sim } from '../../sim/index';
import { AxiMaster, axiProbePorts } from './axi-support';

const DATA_BITS = 64;
const INCR = 1;
const SIZE = 3; // 8-byte beats

const open: Sim[] = [];
afterEach(() => {
  for (const s of open.splice(0)) s.close();
});

let ports = '';
beforeAll(() => {
  ports = axiProbePorts({ dataBits: DATA_BITS, addrBits: 20 });
  Sim.load({ ports, resetCycles: 0 }).close();
}, 600_000);

function load(seed: number, mem: NonNullable<Parameters<typeof Sim.load>[0]['axi']>[string]) {
  const sim = Sim.load({ ports, quiet: true, seed, axi: { mem } });
  open.push(sim);
  return { sim, m: new AxiMaster(sim) };
}

const beat = (v: number) => ({ data: BigInt(v), strb: 0xffn });

describe('AXI4 memory model: injected errors', () => {
  test('an address range fails the bursts that touch it, reads and writes, and leaves the memory as it was', () => {
    const { sim, m } = load(1, { errorFrom: 0x100, errorTo: 0x108, errorResp: 3 });
    sim.axi().write(0x100, new Uint8Array(8).fill(0x55));
    m.write({ addr: 0xf8, beats: 2, size: SIZE, burst: INCR }, [beat(1), beat(2)]); // touches 0x100
    m.write({ addr: 0x108, beats: 1, size: SIZE, burst: INCR }, [beat(3)]); // just after the range
    m.read({ addr: 0xf0, beats: 3, size: SIZE, burst: INCR }); // 0xf0..0x107
    m.read({ addr: 0x108, beats: 1, size: SIZE, burst: INCR });
    m.settle(2, 4);
    expect(m.b.take().map((x) => Number(x.values.b_resp))).toEqual([3, 0]);
    expect(m.r.take().map((x) => Number(x.values.r_resp))).toEqual([3, 3, 3, 0]);
    expect(sim.axi().read(0xf8, 8)).toEqual(new Uint8Array(8)); // the failed burst wrote nothing
    expect(sim.axi().read(0x100, 8)).toEqual(new Uint8Array(8).fill(0x55));
    expect(sim.axi().read(0x108, 1)).toEqual(Uint8Array.of(3));
    const st = sim.axi().stats();
    expect([st.writeErrors, st.readErrors, st.lastErrorAddr]).toEqual([1, 1, 0xf0]);
  });

  test('the Nth burst of the chosen directions fails (SLVERR by default)', () => {
    const { sim, m } = load(1, { errorNth: 3, errorDirs: 2 });
    for (let i = 0; i < 5; i++) m.write({ addr: 8 * i, beats: 1, size: SIZE, burst: INCR }, [beat(i + 1)]);
    for (let i = 0; i < 5; i++) m.read({ addr: 8 * i, beats: 1, size: SIZE, burst: INCR });
    m.settle(5, 5);
    expect(m.b.take().map((x) => Number(x.values.b_resp))).toEqual([0, 0, 2, 0, 0]);
    expect(m.r.take().map((x) => Number(x.values.r_data))).toEqual([1, 2, 0, 4, 5]); // reads not injected
    expect(sim.axi().stats().lastErrorAddr).toBe(16);
  });

  test('a rate fails bursts at random, the same ones for the same seed', () => {
    const run = (seed: number) => {
      const { m } = load(seed, { errorRate: 0.3 });
      for (let i = 0; i < 64; i++) m.read({ addr: 8 * i, beats: 1, size: SIZE, burst: INCR });
      m.settle(0, 64);
      return m.r.take().map((x) => Number(x.values.r_resp));
    };
    const a = run(5);
    const failed = a.filter((r) => r === 2).length;
    expect(failed).toBeGreaterThan(5);
    expect(failed).toBeLessThan(40);
    expect(run(5)).toEqual(a);
    expect(run(6)).not.toEqual(a);
  });

  test('the settings are checked', () => {
    expect(() => load(1, { errorResp: 1 })).toThrow(/errorResp must be 2 \(SLVERR\) or 3 \(DECERR\)/);
    expect(() => load(1, { errorDirs: 4 })).toThrow(/errorDirs must be a mask 0..3/);
    expect(() => load(1, { errorRate: 1.5 })).toThrow(/errorRate must be a probability/);
    expect(() => load(1, { errorNth: -1 })).toThrow(/errorNth must be a whole number/);
  });
});
