// Bringing your own RTL (docs/byo-rtl.md), on a hand-written DMA copy engine (test/fixtures/byo/byo_dma.v) with
// no configuration space, driven by the root complex with its settings stated: a request-only TLP stream, a
// stream without keep, Verilator flags and -G parameters from its ports JSON and from Sim.load, the sideband
// helpers (handshakes, a pulse, watches, edges), public access to its registers and memory, the raw-traffic
// tap, and the root complex's checks against the stated settings. Plus a foreign-RTL warning case.
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { Sim, type SimOptions } from '../../sim/index';
import { Rng } from '../../sim/random';
import { VerilatorWarningsError } from '../../sim/verilator';
import type { Region } from '../../tb/pcie/hostmem';
import { SimLink, TapLink } from '../../tb/pcie/link';
import type { RootComplexOptions } from '../../tb/pcie/options';
import { RootComplex } from '../../tb/pcie/rootcomplex';
import { decodeTlp } from '../../tb/pcie/tlp';
import { seededTest } from '../support/seeds';

const FIXTURE = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'byo');
const BYO = join(FIXTURE, 'byo_dma.ports.json');
const DEV = 0x0300; // REQ_ID in the ports JSON's verilator.parameters

const open: Sim[] = [];
afterEach(() => {
  for (const s of open.splice(0)) s.close();
});
beforeAll(() => {
  Sim.load({ ports: BYO, resetCycles: 0 }).close(); // build once (or hit the cache)
});

/** The engine behind a root complex that was told its settings, with its sideband helpers. */
function boot(seed: number, rcOpts: RootComplexOptions = {}, simOpts: Partial<SimOptions> = {}) {
  const rng = new Rng(seed);
  const sim = Sim.load({
    ports: BYO,
    quiet: true,
    seed,
    rxIdle: rng.pick([0, 0.2]),
    txBackpressure: rng.pick([0, 0.3]),
    ...simOpts,
  });
  open.push(sim);
  const tap = new TapLink(new SimLink(sim, { rx: 'cpl', tx: ['rq', 'wr'] }));
  const rc = new RootComplex(tap, {
    seed,
    deviceId: DEV,
    device: { mps: 128, mrrs: 256, extTags: false },
    ...rcOpts,
  });
  const cmd = sim.handshakeSender({ valid: 'cmd_valid', ready: 'cmd_ready', data: ['cmd_src', 'cmd_dst', 'cmd_len'] });
  const status = sim.handshakeReceiver({ valid: 'st_valid', ready: 'st_ready', data: ['st_code'] });
  const done = sim.watch('done');
  return { sim, rc, tap, cmd, status, done, rng };
}

type Booted = ReturnType<typeof boot>;

/** Source and destination blocks in host memory (4 KB aligned, so no block crosses 4 KB). */
function blocks(b: Booted, above4G = false): { src: Region; dst: Region } {
  const src = b.rc.mem.alloc(4096, { name: 'src', perm: 'ro', above4G });
  const dst = b.rc.mem.alloc(4096, { name: 'dst', perm: 'wo', above4G });
  b.rc.mem.write(src.addr, b.rng.bytes(4096));
  return { src, dst };
}

/** Pumps the root complex until the engine's `done` pulsed `n` times in all. */
function untilDone(b: Booted, n: number): void {
  b.rc.waitFor(`${n} done pulses`, () => b.done.count >= n, { timeout: 200_000 });
}

describe('bring your own RTL: a hand-written DMA engine without config space', () => {
  seededTest('copies blocks byte-exact through the root complex, every shape of TLP as stated', (seed) => {
    const b = boot(seed);
    const { rc, cmd, status, done, tap, rng, sim } = b;
    for (const above4G of [false, true]) {
      const { src, dst } = blocks(b, above4G);
      const lengths = [1, 2, 3, 63, 64, 65, 256, rng.int(1, 256), rng.int(1, 256)];
      for (const len of lengths) {
        const off = 4 * rng.int(0, 1024 - len);
        const item = cmd.send({ cmd_src: src.addr + BigInt(off), cmd_dst: dst.addr + BigInt(off), cmd_len: len });
        untilDone(b, done.count + 1);
        expect(item.done).toBe(true);
        expect(Buffer.from(rc.mem.read(dst.addr + BigInt(off), 4 * len))).toEqual(
          Buffer.from(rc.mem.read(src.addr + BigInt(off), 4 * len)),
        );
        // The engine's buffer, read through public access, holds the block.
        const words = sim.readMemory('buffer', 0, len);
        const bytes = rc.mem.read(src.addr + BigInt(off), 4 * len);
        expect(words).toEqual(Array.from({ length: len }, (_, i) => BigInt(Buffer.from(bytes).readUInt32LE(4 * i))));
      }
    }
    expect(done.count).toBe(18);
    const st = status.take();
    expect(st.map((s) => s.values.st_code)).toEqual(Array(18).fill(0n));
    // Status transfers are strictly ordered and each pulsed done.
    for (let i = 1; i < st.length; i++) expect(st[i].cycle).toBeGreaterThan(st[i - 1].cycle);

    // The raw traffic: header-only reads of at most MRRS (256 bytes) from the stated ID; writes of at most MPS
    // with exactly the payload their header says (the wr stream has no keep).
    const fromDev = tap.fromDevice.map((t) => ({ raw: t, tlp: decodeTlp(t) }));
    const reads = fromDev.filter((x) => x.tlp.type === 'MRd');
    const writes = fromDev.filter((x) => x.tlp.type === 'MWr');
    expect(reads.length + writes.length).toBe(fromDev.length);
    for (const r of reads) {
      expect(r.raw.data.length).toBe(0);
      expect(r.tlp.type === 'MRd' && r.tlp.length).toBeLessThanOrEqual(64);
      expect(r.tlp.type === 'MRd' && r.tlp.requesterId).toBe(DEV);
    }
    for (const w of writes) {
      expect(w.raw.data.length).toBe(w.raw.hdr[0] & 0x3ff || 1024);
      expect(w.raw.data.length).toBeLessThanOrEqual(32);
    }
    expect(rc.violations).toEqual([]);
    // What C++ drove (handshakes, pulses) was recorded: a pure C++ replay sees the same traffic.
    expect(sim.runFree().matchesLive).toBe(true);
  });

  test('commands queue on the handshake while the engine is busy; watches and edges see every event', () => {
    const b = boot(7, {}, { rxIdle: 0, txBackpressure: 0 });
    const { sim, cmd, status, done } = b;
    const { src, dst } = blocks(b);
    const busy = sim.watch('busy', 'change');
    const highCycles = sim.watch('done', 'high');
    const items = [0, 1, 2].map((k) =>
      cmd.send({ cmd_src: src.addr + BigInt(1024 * k), cmd_dst: dst.addr + BigInt(1024 * k), cmd_len: 100 }),
    );
    expect(cmd.pending).toBe(3);
    // The first command goes at once; busy rises at that same edge (an edge within this run).
    const start = sim.cycle;
    expect(sim.run({ until: { signal: 'busy', edge: 'rise' }, maxCycles: 10 })).toEqual({ reason: 'until', cycles: 1 });
    expect(items[0].cycle).toBe(start);
    expect(items[1].done).toBe(false);
    // The root complex's pump stops on the exact cycle a count is reached, even across its link runs.
    while (done.count < 1) b.rc.step({ until: done.reaches(1) });
    const first = status.take();
    expect(first.length).toBe(1);
    expect(sim.cycle).toBe(first[0].cycle + 1); // done pulses in the cycle after the status transfer
    untilDone(b, 3);
    expect(items.every((i) => i.done)).toBe(true);
    expect(items[1].cycle!).toBeGreaterThan(first[0].cycle);
    expect(items[2].cycle!).toBeGreaterThan(items[1].cycle!);
    expect(cmd.pending).toBe(0);
    // done is a one-cycle pulse: as many high cycles as rises; busy changed twice per command.
    expect(done.count).toBe(3);
    expect(highCycles.count).toBe(3);
    expect(busy.count).toBe(6);
    for (let k = 0; k < 3; k++) {
      const at = BigInt(1024 * k);
      expect(Buffer.from(b.rc.mem.read(dst.addr + at, 400))).toEqual(Buffer.from(b.rc.mem.read(src.addr + at, 400)));
    }
    // A closed watch stops counting; an edge that does not come ends the run at its limit.
    busy.close();
    expect(sim.run({ until: { signal: 'busy', edge: 'fall' }, maxCycles: 50 }).reason).toBe('limit');
    expect(() => sim.watch('busy', 'up' as 'rise')).toThrow(/kind must be one of rise, fall, change, high/);
    expect(() => sim.handshakeSender({ valid: 'busy', ready: 'cmd_ready' })).toThrow(/busy is an output/);
    expect(() => sim.handshakeSender({ valid: 'cmd_valid', ready: 'cmd_len' })).toThrow(/must be 1 bit wide/);
    expect(() => cmd.send({ cmd_src: 1n })).toThrow(/no value for cmd_dst/);
    expect(sim.runFree().matchesLive).toBe(true);
  });

  test('public access: registers and memory read and written from TypeScript, with clear errors', () => {
    const b = boot(3, {}, { rxIdle: 0, txBackpressure: 0 });
    const { sim } = b;
    const names = sim.publicSignals().map((s) => s.name);
    expect(names).toEqual(expect.arrayContaining(['buffer', 'tag_base', 'mps_bytes', 'state', 'errors']));
    expect(names).not.toContain('MRRS'); // parameters are constants, not state
    expect(sim.publicSignals().find((s) => s.name === 'buffer')).toEqual({
      name: 'buffer',
      width: 32,
      range: [0, 255],
    });
    expect(sim.readSignal('mps_bytes')).toBe(128n); // MPS's default, the reset value
    sim.writeMemory('buffer', [0xdead_beef, 7n, 0x1_0000_0001n & 0xffff_ffffn], 254 - 1);
    expect(sim.readMemory('buffer', 253)).toEqual([0xdead_beefn, 7n, 1n]);
    sim.writeSignal('buffer', 42, 0);
    expect(sim.readSignal('buffer', 0)).toBe(42n);
    expect(() => sim.readSignal('bufer', 0)).toThrow(
      /byo_dma has no public signal 'bufer' \(did you mean 'buffer'\?\); its public signals: .*--public-flat-rw/,
    );
    expect(() => sim.readSignal('buffer', 256)).toThrow(/buffer\[256\]: the index must lie in \[0:255\]/);
    expect(() => sim.readSignal('buffer')).toThrow(/buffer is a memory \[0:255\]: give an index/);
    expect(() => sim.readSignal('tag_base', 1)).toThrow(/tag_base is a register, not a memory/);
    expect(() => sim.writeSignal('tag_base', 256)).toThrow(/does not fit 8 bits/);
    expect(() => sim.writeMemory('buffer', [1, 2], 255)).toThrow(/buffer\[256\]/);
  });

  test('the root complex checks the engine against the stated settings: MPS, extended tags, bus mastering', () => {
    // mps_bytes written through public access makes writes bigger than the stated MPS.
    {
      const b = boot(11, { violations: 'record' }, { rxIdle: 0, txBackpressure: 0 });
      const { src, dst } = blocks(b);
      b.sim.writeSignal('mps_bytes', 256);
      b.cmd.send({ cmd_src: src.addr, cmd_dst: dst.addr, cmd_len: 64 });
      untilDone(b, 1);
      expect(b.rc.violations.map((v) => v.code)).toEqual(['mps']);
      expect(b.rc.violations[0].message).toMatch(/write payload of 256 bytes exceeds Max_Payload_Size 128/);
      // Stating a larger MPS (no config space: no config traffic) makes the same write legal.
      b.rc.setDeviceControl({ mps: 256 });
      b.cmd.send({ cmd_src: src.addr, cmd_dst: dst.addr, cmd_len: 64 });
      untilDone(b, 2);
      expect(b.rc.violations.length).toBe(1);
    }
    // Tags above 31 need extended tags, which the RC was told are off.
    {
      const b = boot(12, { violations: 'record' }, { rxIdle: 0, txBackpressure: 0 });
      const { src, dst } = blocks(b);
      b.sim.writeSignal('tag_base', 40);
      b.cmd.send({ cmd_src: src.addr, cmd_dst: dst.addr, cmd_len: 8 });
      untilDone(b, 1);
      expect(b.rc.violations.map((v) => v.code)).toEqual(['tag-range']);
      b.rc.setDeviceControl({ extTags: true });
      b.cmd.send({ cmd_src: src.addr, cmd_dst: dst.addr, cmd_len: 8 });
      untilDone(b, 2);
      expect(b.rc.violations.length).toBe(1);
      expect(b.sim.runFree().matchesLive).toBe(true); // the register writes were recorded too
    }
    // Bus mastering stated off: the first read is a violation.
    {
      const b = boot(13, { device: { busMaster: false } }, { rxIdle: 0, txBackpressure: 0 });
      const { src, dst } = blocks(b);
      b.cmd.send({ cmd_src: src.addr, cmd_dst: dst.addr, cmd_len: 8 });
      expect(() => untilDone(b, 1)).toThrow(/bus-master: MRd while Bus Master Enable is clear/);
    }
  });

  test('-G parameters from Sim.load override the ports JSON: another requester ID is caught at once', () => {
    const b = boot(5, { violations: 'record' }, { parameters: { REQ_ID: "16'h0301", MRRS: 128 }, rxIdle: 0 });
    const { src, dst } = blocks(b);
    b.cmd.send({ cmd_src: src.addr, cmd_dst: dst.addr, cmd_len: 64 });
    untilDone(b, 1);
    const ids = b.rc.violations.filter((v) => v.code === 'requester-id');
    expect(ids.length).toBeGreaterThan(0);
    expect(ids[0].message).toMatch(/Requester ID 03:00\.1 is not the device's 03:00\.0 \(stated in the options\)/);
    // MRRS 128: reads of at most 32 dwords.
    const reads = b.tap.fromDevice.map((t) => decodeTlp(t)).filter((t) => t.type === 'MRd');
    expect(reads.length).toBe(2);
    expect(reads.every((t) => t.type === 'MRd' && t.length === 32)).toBe(true);
  });

  test('a poisoned completion counts an error; a one-cycle pulse on clear clears it', () => {
    const b = boot(9, { onRead: () => 'poison' }, { rxIdle: 0, txBackpressure: 0 });
    const { sim, cmd, status } = b;
    const { src, dst } = blocks(b);
    cmd.send({ cmd_src: src.addr, cmd_dst: dst.addr, cmd_len: 32 });
    untilDone(b, 1);
    expect(status.take().map((s) => s.values.st_code)).toEqual([2n]);
    expect(sim.peek('errors')).toBeGreaterThan(0n);
    const clearHigh = sim.watch('clear', 'high');
    sim.pulse('clear');
    expect(sim.peek('clear')).toBe(1n);
    sim.run({ cycles: 3 });
    expect(sim.peek('errors')).toBe(0n);
    expect(sim.peek('clear')).toBe(0n);
    expect(clearHigh.count).toBe(1); // high for exactly one cycle
    sim.pulse('clear', { cycles: 2 });
    sim.run({ cycles: 4 });
    expect(clearHigh.count).toBe(3);
    expect(() => sim.pulse('busy')).toThrow(/busy is an output/);
    expect(sim.runFree().matchesLive).toBe(true);
  });
});

describe('bring your own RTL: foreign Verilog with warnings', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'vfpga-byo-'));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  test('every warning of the design comes in one error; waived, the same build loads', () => {
    const v = readFileSync(join(FIXTURE, 'byo_dma.v'), 'utf8')
      .replace('assign st_code = code;', 'assign st_code = errors;') // 16 bits into 8: WIDTH
      .replace('wire [9:0] wr_max = mps_bytes[11:2];', 'wire [9:0] wr_max = mps_bytes;'); // WIDTH again
    writeFileSync(join(tmp, 'byo_dma.v'), v); // built once; a cached build reports its warnings at every load
    copyFileSync(BYO, join(tmp, 'byo_dma.ports.json'));
    const ports = join(tmp, 'byo_dma.ports.json');
    let err: unknown;
    try {
      Sim.load({ ports, quiet: true });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(VerilatorWarningsError);
    const w = (err as VerilatorWarningsError).warnings;
    expect(w.map((x) => [x.code, x.file?.endsWith('byo_dma.v')])).toEqual([
      ['WIDTH', true],
      ['WIDTH', true],
    ]);
    const sim = Sim.load({ ports, quiet: true, waive: ['WIDTH:byo_dma.v'] });
    open.push(sim);
    expect(sim.build.built).toBe(false);
  });
});
