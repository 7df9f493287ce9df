// The simulator's sparse AXI4 memory model (sim/axi.ts, sim/cpp/axi.h) alone, through the probe top
// (axi-support.ts) whose AXI4 master the test plays with the handshake helpers. Every burst's data is checked
// against a reference memory here that follows the AXI4 specification's address and byte-lane formulas (ARM IHI
// 0022, A3.4.1) on its own.
import { afterEach, beforeAll, describe, expect, test } from 'vitest';
import { loadPorts } from '../../sim/ports';
import { Sim, SimError } from '../../sim/index';
import { Rng } from '../../sim/random';
import { seededTest } from '../support/seeds';
import { AxiMaster, axiProbePorts, type Burst, type ReceivedItem } from './axi-support';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const DATA_BITS = 128;
const BUS = DATA_BITS / 8;
const ADDR_BITS = 30; // a 1 GiB memory by default
const GIB = 2 ** 30;
const FIXED = 0;
const INCR = 1;
const WRAP = 2;

const open: Sim[] = [];
afterEach(() => {
  for (const s of open.splice(0)) s.close();
});

let ports = '';
beforeAll(() => {
  ports = axiProbePorts({ dataBits: DATA_BITS, addrBits: ADDR_BITS });
  Sim.load({ ports, resetCycles: 0 }).close();
}, 600_000);

function load(seed: number, axi: Parameters<typeof Sim.load>[0]['axi'] = {}): { sim: Sim; m: AxiMaster } {
  const sim = Sim.load({ ports, quiet: true, seed, axi: { mem: axi.mem ?? {} } });
  open.push(sim);
  return { sim, m: new AxiMaster(sim) };
}

/** The beats of a burst: address and byte lanes [lo, hi] (A3.4.1). */
function beatsOf(b: Burst): { addr: number; lo: number; hi: number }[] {
  const n = 2 ** b.size;
  const aligned = Math.floor(b.addr / n) * n;
  const total = n * b.beats;
  const wrapLo = Math.floor(b.addr / total) * total;
  return Array.from({ length: b.beats }, (_, k) => {
    let a = b.burst === FIXED ? b.addr : k === 0 ? b.addr : aligned + k * n;
    if (b.burst === WRAP) {
      a = aligned + k * n;
      if (a >= wrapLo + total) a -= total;
    }
    return { addr: a, lo: a % BUS, hi: ((Math.floor(a / n) * n) % BUS) + n - 1 };
  });
}

/** A memory of bytes by address (what the model should hold). */
class Reference {
  readonly bytes = new Map<number, number>();
  get(a: number): number {
    return this.bytes.get(a) ?? 0;
  }
  write(b: Burst, beats: { data: bigint; strb: bigint }[]): void {
    beatsOf(b).forEach(({ addr, lo, hi }, k) => {
      const base = addr - (addr % BUS);
      for (let i = lo; i <= hi; i++)
        if ((beats[k].strb >> BigInt(i)) & 1n)
          this.bytes.set(base + i, Number((beats[k].data >> BigInt(8 * i)) & 0xffn));
    });
  }
  /** The R data each beat of a read should carry (lanes outside the beat read as zero). */
  read(b: Burst): bigint[] {
    return beatsOf(b).map(({ addr, lo, hi }) => {
      const base = addr - (addr % BUS);
      let v = 0n;
      for (let i = lo; i <= hi; i++) v |= BigInt(this.get(base + i)) << BigInt(8 * i);
      return v;
    });
  }
}

function randomBigint(rng: Rng, bits: number): bigint {
  let v = 0n;
  for (let i = 0; i < bits; i += 32) v |= BigInt(rng.u32()) << BigInt(i);
  return v & ((1n << BigInt(bits)) - 1n);
}

/** Write data for a burst: random bytes, strobes a random subset of each beat's lanes (sometimes all of them). */
function randomBeats(rng: Rng, b: Burst): { data: bigint; strb: bigint }[] {
  return beatsOf(b).map(({ lo, hi }) => {
    let strb = 0n;
    const all = rng.chance(0.3);
    for (let i = lo; i <= hi; i++) if (all || rng.chance(0.6)) strb |= 1n << BigInt(i);
    return { data: randomBigint(rng, DATA_BITS), strb };
  });
}

/** A legal burst of the given type, size and length at a random place in [base, base + 64 KiB). */
function place(rng: Rng, base: number, burst: number, size: number, beats: number): Burst {
  const n = 2 ** size;
  const page = base + 4096 * rng.int(0, 15);
  if (burst === INCR) {
    const start = n * rng.int(0, 4096 / n - beats); // the aligned transfer stays inside its 4 KB page
    return { addr: page + start + rng.int(0, n - 1), beats, size, burst };
  }
  if (burst === WRAP) return { addr: page + n * rng.int(0, 4096 / n - 1), beats, size, burst };
  return { addr: page + rng.int(0, 4095), beats, size, burst };
}

/** Writes every burst, waits for every response, then reads them all back: the data against the reference. */
function writeThenRead(
  sim: Sim,
  m: AxiMaster,
  bursts: Burst[],
  rng: Rng,
): { writeCycles: number; readCycles: number; ref: Reference } {
  const ref = new Reference();
  const t0 = sim.cycle;
  for (const b of bursts) {
    const beats = randomBeats(rng, b);
    ref.write(b, beats);
    m.write(b, beats);
  }
  m.settle(bursts.length, 0);
  const t1 = sim.cycle;
  for (const r of m.b.take()) expect(r.values.b_resp).toBe(0n);
  for (const b of bursts) m.read(b);
  const total = bursts.reduce((n, b) => n + b.beats, 0);
  m.settle(bursts.length, total);
  checkReads(m.r.take(), bursts, ref);
  return { writeCycles: t1 - t0, readCycles: sim.cycle - t1, ref };
}

function checkReads(got: ReceivedItem[], bursts: Burst[], ref: Reference): void {
  let k = 0;
  for (const [i, b] of bursts.entries()) {
    const want = ref.read(b);
    want.forEach((v, j) => {
      const r = got[k++];
      const what = `burst ${i} (${JSON.stringify(b)}) beat ${j}`;
      expect(r.values.r_data, what).toBe(v);
      expect(r.values.r_last, what).toBe(j === b.beats - 1 ? 1n : 0n);
      expect(r.values.r_resp, what).toBe(0n);
    });
  }
  expect(k).toBe(got.length);
}

describe('AXI4 memory model, 128-bit bus, 1 GiB', () => {
  seededTest(
    'INCR bursts of every size and length, FIXED and WRAP of every legal length, random strobes',
    (seed) => {
      const rng = new Rng(seed);
      const { sim, m } = load(seed);
      const base = 4096 * rng.int(0, GIB / 4096 - 16);
      const bursts: Burst[] = [];
      const sizes = Math.log2(BUS) + 1;
      // every size with lengths 1..16 and a few long ones; every length 1..256 once, at a size taking turns
      for (let size = 0; size < sizes; size++) {
        for (let beats = 1; beats <= 16; beats++) bursts.push(place(rng, base, INCR, size, beats));
        for (const beats of [17, 64, 129, 4096 / 2 ** size > 256 ? 256 : 4096 / 2 ** size])
          bursts.push(place(rng, base, INCR, size, beats));
        for (let beats = 1; beats <= 16; beats++) bursts.push(place(rng, base, FIXED, size, beats));
        for (const beats of [2, 4, 8, 16]) bursts.push(place(rng, base, WRAP, size, beats));
      }
      for (let beats = 17; beats <= 256; beats++) {
        const size = beats % sizes;
        if (beats * 2 ** size <= 4096) bursts.push(place(rng, base, INCR, size, beats));
        else bursts.push(place(rng, base, INCR, Math.log2(4096 / 256), beats));
      }
      writeThenRead(sim, m, bursts, rng);
      const s = sim.axi().stats();
      expect(s.writes).toBe(bursts.length);
      expect(s.reads).toBe(bursts.length);
      expect(s.writeBeats).toBe(bursts.reduce((n, b) => n + b.beats, 0));
      expect(s.readBeats).toBe(s.writeBeats);
      // several bursts in flight at once on both sides (the senders queue them all)
      expect(s.mostWrites).toBeGreaterThan(1);
      expect(s.mostReads).toBeGreaterThan(1);
    },
    { seeds: 1 },
  );

  seededTest('random backpressure on all five channels, from both sides: same data, more cycles', (seed) => {
    const traffic = (rng: Rng) =>
      Array.from({ length: 60 }, () => {
        const burst = rng.pick([FIXED, INCR, INCR, WRAP]);
        const size = rng.int(0, Math.log2(BUS));
        const beats = burst === WRAP ? rng.pick([2, 4, 8, 16]) : rng.int(1, 16);
        return place(rng, 0x1000_0000, burst, size, beats);
      });
    const run = (stall: number) => {
      const { sim, m } = load(seed, {
        mem: { awStall: stall, wStall: stall, bStall: stall, arStall: stall, rStall: stall },
      });
      sim.poke('stall_mask', stall > 0 ? 1 : 0); // the master's bready/rready low about half the time
      const rng = new Rng(seed);
      return writeThenRead(sim, m, traffic(rng), rng);
    };
    const free = run(0);
    const stalled = run(0.5);
    expect([...stalled.ref.bytes]).toEqual([...free.ref.bytes]);
    // one beat a cycle without backpressure; about half the rate with it
    expect(stalled.writeCycles / free.writeCycles).toBeGreaterThan(1.6);
    expect(stalled.readCycles / free.readCycles).toBeGreaterThan(1.6);
  });

  seededTest('read latency and the outstanding-read limit', (seed) => {
    const rng = new Rng(seed);
    const { sim, m } = load(seed, { mem: { readLatency: 20, maxReads: 4, writeLatency: 7, maxWrites: 3 } });
    const bursts = Array.from({ length: 12 }, () => place(rng, 0, INCR, 4, rng.int(1, 4)));
    const { ref } = writeThenRead(sim, m, bursts, rng);
    expect(ref.bytes.size).toBeGreaterThan(0);
    const s = sim.axi().stats();
    expect(s.mostReads).toBe(4);
    expect(s.mostWrites).toBe(3);
    // one read alone: its first beat 21 cycles after its address
    const b = place(rng, 0, INCR, 4, 1);
    const ar = m.ar.send({ ar_addr: b.addr, ar_len: 0, ar_size: 4, ar_burst: INCR });
    m.settle(bursts.length, s.readBeats + 1);
    expect(m.r.take()[0].cycle - ar.cycle!).toBe(21);
  });

  seededTest('both ends of 1 GiB through AXI4 and directly; only the pages written are allocated', (seed) => {
    const rng = new Rng(seed);
    const { sim, m } = load(seed);
    const mem = sim.axi();
    expect(mem.capacity).toBe(GIB);
    const ends: Burst[] = [
      { addr: 0, beats: 256, size: 4, burst: INCR },
      { addr: GIB - 4096, beats: 256, size: 4, burst: INCR },
      { addr: GIB - 1, beats: 1, size: 0, burst: INCR },
      { addr: GIB - 64, beats: 4, size: 4, burst: WRAP },
    ];
    const { ref } = writeThenRead(sim, m, ends, rng);
    for (const at of [0, GIB - 4096]) {
      const direct = mem.read(at, 4096);
      expect([...direct].every((x, i) => x === ref.get(at + i))).toBe(true);
    }
    expect(mem.stats().pages).toBe(2);
    // direct writes are seen by AXI4 reads
    const bytes = Uint8Array.from({ length: 48 }, () => rng.int(1, 255));
    mem.write(GIB - 48, bytes);
    m.read({ addr: GIB - 48, beats: 3, size: 4, burst: INCR });
    m.settle(ends.length, ends.reduce((n, b) => n + b.beats, 0) + 3);
    const got = m.r.take().slice(-3);
    got.forEach((r, k) => {
      let want = 0n;
      for (let i = 0; i < 16; i++) want |= BigInt(bytes[16 * k + i]) << BigInt(8 * i);
      expect(r.values.r_data).toBe(want);
    });
  });

  seededTest('direct reads and writes across pages; zeros allocate nothing; bounds errors', (seed) => {
    const rng = new Rng(seed);
    const { sim } = load(seed);
    const mem = sim.axi();
    const shadow = new Map<number, number>();
    for (let i = 0; i < 40; i++) {
      const len = rng.int(1, 10_000);
      const at = rng.int(0, GIB - len);
      const data = Uint8Array.from({ length: len }, () => rng.u32() & 0xff);
      mem.write(at, data);
      data.forEach((x, k) => shadow.set(at + k, x));
    }
    for (const [at, x] of [...shadow].filter(() => rng.chance(0.01))) expect(mem.read(at, 1)[0]).toBe(x);
    const pages = new Set([...shadow].filter(([, x]) => x !== 0).map(([a]) => Math.floor(a / 4096)));
    expect(mem.stats().pages).toBe(pages.size);
    // unwritten memory reads as zeros; writing zeros there keeps it unallocated
    const far = 4096 * rng.int(0, GIB / 4096 - 4);
    const hole = [...shadow.keys()].some((a) => a >= far && a < far + 3 * 4096);
    if (!hole) {
      expect(mem.read(far, 3 * 4096).every((x) => x === 0)).toBe(true);
      mem.write(far + 100, new Uint8Array(8000));
      expect(mem.stats().pages).toBe(pages.size);
    }
    expect(() => mem.read(GIB - 4, 8)).toThrow(
      /AXI4 memory on mem: read of 8 bytes at 0x3ffffffc ends at 0x40000004, beyond the capacity 0x40000000/,
    );
    expect(() => mem.write(GIB, new Uint8Array(1))).toThrow(/write of 1 bytes at 0x40000000 .* beyond the capacity/);
    expect(() => mem.read(-1, 1)).toThrow(/read address -1 is not a byte address/);
    expect(() => mem.read(1.5, 1)).toThrow(/not a byte address/);
    expect(mem.read(GIB, 0).length).toBe(0);
  });

  test('a reset drops the bursts in flight and keeps the memory', () => {
    const { sim, m } = load(1, { mem: { writeLatency: 50 } });
    m.write({ addr: 0x40, beats: 1, size: 4, burst: INCR }, [{ data: 0xabcdn, strb: 0xffffn }]);
    sim.run({ cycles: 10 });
    expect(m.b.count).toBe(0);
    sim.reset();
    sim.run({ cycles: 100 });
    expect(m.b.count).toBe(0); // the response was dropped with the burst
    expect(sim.axi().read(0x40, 2)).toEqual(new Uint8Array([0xcd, 0xab])); // its data had reached the memory
  });

  test('settings and names are checked', () => {
    expect(() => load(1, { mem: { capacity: GIB + 1 } })).toThrow(
      /capacity 1073741825 must be a whole number of bytes from 1 to 2\^30/,
    );
    expect(() => load(1, { mem: { rStall: 2 } })).toThrow(/rStall must be a probability within 0..1/);
    expect(() => load(1, { mem: { maxReads: 0 } })).toThrow(/maxReads must be a whole number from 1/);
    expect(() => Sim.load({ ports, quiet: true, axi: { storage: {} } })).toThrow(
      /has no AXI4 master port storage \(its AXI4 ports: mem\)/,
    );
    const { sim } = load(1);
    expect(() => sim.axi('disk')).toThrow(/no AXI4 master port disk/);
    expect(() => sim.axi().configure({ readLatncy: 3 } as never)).toThrow(/unknown setting 'readLatncy'/);
    sim.axi().configure({ readLatency: 3 });
    expect(sim.axi().settings.readLatency).toBe(3);
    expect(() => sim.poke('mem_rvalid', 1)).toThrow(/driven by the harness/);
  });

  test('a ports file whose axi4 interface lacks a field or has a wrong width is refused', () => {
    const dir = mkdtempSync(join(tmpdir(), 'wt-sparse-axi-'));
    const desc = JSON.parse(readFileSync(ports, 'utf8'));
    desc.files = desc.files.map((f: string) => join(ports, '..', f));
    const itf = desc.interfaces.find((i: { kind: string }) => i.kind === 'axi4');
    delete itf.fields.wlast;
    writeFileSync(join(dir, 'a.ports.json'), JSON.stringify(desc));
    expect(() => loadPorts(join(dir, 'a.ports.json'))).toThrow(/interfaces\[0\] \(mem\)\.fields\.wlast: missing/);
    itf.fields.wlast = 'mem_wlast';
    itf.params.dataBits = 64;
    writeFileSync(join(dir, 'b.ports.json'), JSON.stringify(desc));
    expect(() => loadPorts(join(dir, 'b.ports.json'))).toThrow(/fields\.wdata: port mem_wdata must be a 64-bit output/);
  });
});

describe('AXI4 memory model: protocol checks fail the run, naming the burst', () => {
  const bad: { what: string; burst: Burst; over?: Parameters<typeof load>[1]; error: RegExp; resp: number }[] = [
    {
      what: 'an INCR burst across 4 KB',
      burst: { addr: 0xff0, beats: 2, size: 4, burst: INCR },
      error:
        /burst #0 \(A[WR] at cycle \d+: a[wr]addr=0xff0, a[wr]len=1 \(2 beats\), a[wr]size=4 \(16 bytes\), INCR\): an INCR burst crosses a 4 KB boundary \(it covers bytes 0xff0..0x100f\)/,
      resp: 2,
    },
    {
      what: 'a WRAP burst of 3 beats',
      burst: { addr: 0x100, beats: 3, size: 2, burst: WRAP },
      error: /WRAP\): a WRAP burst has 2, 4, 8 or 16 beats/,
      resp: 2,
    },
    {
      what: 'an unaligned WRAP burst',
      burst: { addr: 0x101, beats: 4, size: 1, burst: WRAP },
      error: /a WRAP burst's address must be aligned to its size/,
      resp: 2,
    },
    {
      what: 'a FIXED burst of 17 beats',
      burst: { addr: 0x100, beats: 17, size: 2, burst: FIXED },
      error: /FIXED\): a FIXED burst has at most 16 beats/,
      resp: 2,
    },
    {
      what: 'a beat wider than the bus',
      burst: { addr: 0x100, beats: 1, size: 5, burst: INCR },
      error: /a[wr]size=5 \(32 bytes\), INCR\): a beat of 32 bytes is wider than the 16-byte data bus/,
      resp: 2,
    },
    {
      what: 'the reserved burst type',
      burst: { addr: 0x100, beats: 1, size: 2, burst: 3 },
      error: /reserved type 3\): AxBURST 3 is reserved/,
      resp: 2,
    },
    {
      what: 'a WRAP burst when only FIXED and INCR are accepted',
      burst: { addr: 0x100, beats: 4, size: 2, burst: WRAP },
      over: { mem: { bursts: 3 } },
      error: /WRAP bursts are not accepted \(setting bursts = 3\)/,
      resp: 2,
    },
    {
      what: 'an access beyond the capacity',
      burst: { addr: 0xfee0, beats: 4, size: 4, burst: INCR },
      over: { mem: { capacity: 0xff00 } },
      error: /a[wr]addr=0xfee0, .*: bytes 0xfee0..0xff1f go beyond the memory's capacity 0xff00 \(65280 bytes\)/,
      resp: 3,
    },
  ];
  for (const c of bad) {
    for (const dir of ['write', 'read'] as const) {
      test(`${dir}: ${c.what}`, () => {
        const { sim, m } = load(1, c.over);
        if (dir === 'write')
          m.write(
            c.burst,
            Array.from({ length: c.burst.beats }, () => ({ data: 0n, strb: 0n })),
          );
        else m.read(c.burst);
        const err = (() => {
          try {
            sim.run({ cycles: 50 });
          } catch (e) {
            return e;
          }
        })();
        expect(err).toBeInstanceOf(SimError);
        expect((err as SimError).message).toMatch(new RegExp(`mem: ${dir} burst #0`));
        expect((err as SimError).message).toMatch(c.error);
        // the burst is answered with an error response, so the master does not hang
        m.settle(dir === 'write' ? 1 : 0, dir === 'read' ? c.burst.beats : 0);
        const resp = dir === 'write' ? m.b.take()[0].values.b_resp : m.r.take()[0].values.r_resp;
        expect(Number(resp)).toBe(c.resp);
      });
    }
  }

  const failing = (sim: Sim): string => {
    try {
      sim.run({ cycles: 50 });
    } catch (e) {
      expect(e).toBeInstanceOf(SimError);
      return (e as Error).message;
    }
    throw new Error('the run did not fail');
  };

  test('write strobes outside the beat lanes', () => {
    const { sim, m } = load(1);
    // a 4-byte beat at 0x104 uses lanes 4..7
    m.write({ addr: 0x104, beats: 1, size: 2, burst: INCR }, [{ data: 0n, strb: 0x1n }]);
    expect(failing(sim)).toMatch(
      /write burst #0 .*: beat 0 \(address 0x104\): wstrb=0x1 enables byte lanes outside the beat's lanes 4..7/,
    );
  });

  test('wlast on the wrong beat', () => {
    const { sim, m } = load(1);
    m.aw.send({ aw_addr: 0, aw_len: 1, aw_size: 4, aw_burst: INCR });
    m.w.send({ w_data: 0n, w_strb: 0xffffn, w_last: 1 });
    expect(failing(sim)).toMatch(/write burst #0 .*: beat 0 of 2 has wlast high before the last beat/);
    const b = load(1);
    b.m.aw.send({ aw_addr: 0, aw_len: 0, aw_size: 4, aw_burst: INCR });
    b.m.w.send({ w_data: 0n, w_strb: 0xffffn, w_last: 0 });
    expect(failing(b.sim)).toMatch(/write burst #0 .*: beat 0 of 1 has wlast low/);
  });

  test('valid dropped, or the payload changed, before ready', () => {
    for (const [ch, v, field] of [
      ['AW', 'aw_valid', 'aw_addr'],
      ['W', 'w_valid', 'w_data'],
      ['AR', 'ar_valid', 'ar_addr'],
    ] as const) {
      for (const kind of ['drop', 'change'] as const) {
        const { sim } = load(1, { mem: { awStall: 1, wStall: 1, arStall: 1 } }); // never ready
        sim.poke(v, 1);
        sim.run({ cycles: 3 });
        if (kind === 'drop') sim.poke(v, 0);
        else sim.poke(field, 0x40);
        expect(failing(sim)).toMatch(
          kind === 'drop'
            ? new RegExp(`mem: ${ch}: ${v.replace('_', '')} dropped before ${v.replace('_valid', 'ready')}`)
            : new RegExp(`mem: ${ch}: the payload changed while ${v.replace('_', '')} was high`),
        );
      }
    }
  });
});
