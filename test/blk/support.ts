// What the virtio-blk RTL tests share: the test top (gen/blk/test_top.ts) Verilated with public access to its
// storage RAM, behind a root complex with host memory; requests laid out in host memory one region per
// descriptor (device-readable ones read-only, device-writable ones write-only, nothing else mapped), the test
// playing the queue engine on `chain` / `done`; the golden BlkDevice run first on the same chains and memory
// (its writes kept aside), then the device's status bytes, used lengths, host memory and disk compared with it.
import { expect } from 'vitest';
import { BlkTestTop, blkTestParams, type BlkTestTopParams } from '../../gen/blk/test_top';
import type { DataWidth } from '../../gen/pcie/streams';
import { featureDef } from '../../gen/virtio/regmap';
import { designPorts } from '../../sim/design';
import { Sim, type SimOptions } from '../../sim/index';
import type { Rng } from '../../sim/random';
import type { HandshakeReceiver, HandshakeSender } from '../../sim/sideband';
import type { Region } from '../../tb/pcie/hostmem';
import { TapLink } from '../../tb/pcie/link';
import type { RootComplexOptions } from '../../tb/pcie/options';
import { RootComplex } from '../../tb/pcie/rootcomplex';
import { MemoryChainIo } from '../../tb/virtio/blk/chainio';
import { BLK_HDR_SIZE, blkHeader, dwzBytes, type DwzSegment, SECTOR_SIZE } from '../../tb/virtio/blk/defs';
import { BlkDevice, type BlkDeviceConfig } from '../../tb/virtio/blk/device';
import { SparseDisk } from '../../tb/virtio/blk/disk';
import { RingError, type Chain, type ChainSegment } from '../../tb/virtio/ring/device';
import { sizeCode } from '../dma/support';

export const BLK_WIDTHS: readonly DataWidth[] = [64, 256];
const FLAGS = ['--public-flat-rw'];
const DEVICE_ID = 0x0100;

export const blkTopParams = blkTestParams;

export const blkPorts = (p: BlkTestTopParams): string => designPorts(BlkTestTop.elaborate(p));

/** Builds the simulator for a ports file (or hits the cache): call from beforeAll. */
export function buildBlkSim(ports: string): void {
  Sim.load({ ports, resetCycles: 0, verilatorFlags: FLAGS }).close();
}

const bit = (name: string) => 1n << BigInt(featureDef(name, 'blk').bit);
/** Feature bits the device looks at, all negotiated. */
export const ALL_BLK_FEATURES =
  bit('VIRTIO_BLK_F_FLUSH') | bit('VIRTIO_BLK_F_DISCARD') | bit('VIRTIO_BLK_F_WRITE_ZEROES');

/** The golden model's configuration for the test top's parameters and the negotiated features. */
export function goldenConfig(p: BlkTestTopParams, features: bigint): BlkDeviceConfig {
  const has = (n: string) => (features & bit(n)) !== 0n;
  return {
    capacity: p.capacity,
    readOnly: p.readOnly,
    flush: !!p.flush && has('VIRTIO_BLK_F_FLUSH'),
    discard: p.discard && has('VIRTIO_BLK_F_DISCARD') ? p.discard : undefined,
    writeZeroes: p.writeZeroes && has('VIRTIO_BLK_F_WRITE_ZEROES') ? p.writeZeroes : undefined,
    id: p.id,
    segMax: p.segMax,
    sizeMax: p.sizeMax,
  };
}

export interface BlkBench {
  p: BlkTestTopParams;
  sim: Sim;
  rc: RootComplex;
  chain: HandshakeSender;
  done: HandshakeReceiver;
  golden: BlkDevice;
  /** Where the next buffer goes. */
  cursor: bigint;
}

const open: Sim[] = [];
export function closeBlkBenches(): void {
  for (const s of open.splice(0)) s.close();
}

export function bootBlk(
  p: BlkTestTopParams,
  ports: string,
  seed: number,
  opts: { features?: bigint; rc?: RootComplexOptions; sim?: Partial<SimOptions> } = {},
): BlkBench {
  const sim = Sim.load({ ports, quiet: true, seed, verilatorFlags: FLAGS, ...opts.sim });
  open.push(sim);
  const tap = new TapLink(sim);
  const dev = { mps: 256, mrrs: 512, extTags: true, busMaster: true };
  const rc = new RootComplex(tap, {
    seed,
    deviceId: DEVICE_ID,
    device: dev,
    deviceCompletionTimeout: 20_000,
    ...opts.rc,
  });
  sim.poke('bus_master', 1);
  sim.poke('max_payload', sizeCode(dev.mps));
  sim.poke('max_read_req', sizeCode(dev.mrrs));
  sim.poke('ext_tag_en', 1);
  sim.poke('requester_id', DEVICE_ID);
  sim.poke('timeout', 20_000);
  const features = opts.features ?? ALL_BLK_FEATURES;
  sim.poke('features', features);
  const f = ['queue', 'id', 'slots', 'addr', 'len', 'write', 'last'];
  return {
    p,
    sim,
    rc,
    chain: sim.handshakeSender({ valid: 'chain_valid', ready: 'chain_ready', data: f.map((x) => `chain_${x}`) }),
    done: sim.handshakeReceiver({
      valid: 'done_valid',
      ready: 'done_ready',
      data: ['done_queue', 'done_id', 'done_slots', 'done_len'],
    }),
    golden: new BlkDevice(goldenConfig(p, features), new SparseDisk(p.capacity * SECTOR_SIZE)),
    cursor: 0x1000_0000n,
  };
}

// ---- the disk: the storage RAM's words (2W bits, little-endian) as bytes

const RAM = 'ram.mem';

export function diskBytes(b: BlkBench): Uint8Array {
  const wb = (2 * b.p.W) / 8;
  const words = b.sim.readMemory(RAM);
  const out = new Uint8Array(words.length * wb);
  words.forEach((w, k) => {
    for (let i = 0; i < wb; i++) out[k * wb + i] = Number((w >> BigInt(8 * i)) & 0xffn);
  });
  return out;
}

/** Fills the disk (RTL storage and the golden disk) with `bytes` from byte 0. */
export function seedDisk(b: BlkBench, bytes: Uint8Array): void {
  const wb = (2 * b.p.W) / 8;
  const words: bigint[] = [];
  for (let k = 0; k * wb < bytes.length; k++) {
    let w = 0n;
    for (let i = wb - 1; i >= 0; i--) w = (w << 8n) | BigInt(bytes[k * wb + i] ?? 0);
    words.push(w);
  }
  b.sim.writeMemory(RAM, words, 0);
  b.golden.disk.write(0, bytes.subarray(0, Math.min(bytes.length, b.golden.disk.size)));
}

export function expectDiskMatches(b: BlkBench, what: string): void {
  const rtl = diskBytes(b).subarray(0, b.golden.disk.size);
  const gold = b.golden.disk.read(0, b.golden.disk.size);
  const first = rtl.findIndex((x, i) => x !== gold[i]);
  expect(first, `${what}: first disk byte that differs (sector ${Math.floor(first / SECTOR_SIZE)})`).toBe(-1);
}

// ---- requests

/** A request's bytes before framing: what the driver puts in device-readable and device-writable buffers. */
export interface RequestBytes {
  readable: Uint8Array;
  writable: number;
  what: string;
}

export function ioRequest(
  type: number,
  sector: bigint,
  outData: Uint8Array,
  inLen: number,
  what: string,
): RequestBytes {
  const r = new Uint8Array(BLK_HDR_SIZE + outData.length);
  r.set(blkHeader(type, sector));
  r.set(outData, BLK_HDR_SIZE);
  return { readable: r, writable: inLen + 1, what };
}

export function dwzRequest(type: number, segs: DwzSegment[], what: string): RequestBytes {
  return ioRequest(type, 0n, dwzBytes(segs), 0, what);
}

/** Cuts `n` bytes into 1..maxPieces descriptor lengths (zero-length ones now and then). */
export function cut(rng: Rng, n: number, maxPieces: number, zeros = false): number[] {
  const k = Math.max(1, Math.min(maxPieces, rng.int(1, maxPieces)));
  const points = Array.from({ length: k - 1 }, () => rng.int(0, n)).sort((a, b) => a - b);
  const out: number[] = [];
  let prev = 0;
  for (const x of [...points, n]) {
    if (x > prev || (zeros && rng.chance(0.2))) out.push(x - prev);
    prev = x;
  }
  return out.length ? out : [n];
}

export interface PlacedRequest {
  chain: Chain;
  queue: number;
  regions: Region[];
  /** Each writable region's bytes before the request. */
  before: Map<Region, Uint8Array>;
  what: string;
}

/** Lays a request out in host memory: one region per descriptor at a random byte offset. */
export function place(
  b: BlkBench,
  rng: Rng,
  id: number,
  queue: number,
  readLens: number[],
  readable: Uint8Array,
  writeLens: number[],
  what: string,
  /** Each buffer at a 4 KiB boundary (as Linux's page-sized bios are) instead of a random byte offset. */
  aligned = false,
): PlacedRequest {
  const segments: ChainSegment[] = [];
  const regions: Region[] = [];
  const before = new Map<Region, Uint8Array>();
  let off = 0;
  const take = (len: number, write: boolean) => {
    const addr = aligned ? ((b.cursor + 4095n) / 4096n) * 4096n : b.cursor + BigInt(rng.int(0, 127));
    b.cursor = ((addr + BigInt(len) + 4096n + 63n) / 64n) * 64n;
    segments.push({ addr, len, write });
    if (len === 0) return;
    if (write) {
      const r = b.rc.mem.alloc(len, { at: addr, perm: 'wo', name: `${what} w${segments.length - 1}` });
      const junk = rng.bytes(len);
      r.write(0, junk);
      before.set(r, junk);
      regions.push(r);
    } else {
      // Reads are whole dwords on the link: the region covers the dwords the bytes are in.
      const start = addr & ~3n;
      const end = (addr + BigInt(len) + 3n) & ~3n;
      const r = b.rc.mem.alloc(Number(end - start), { at: start, perm: 'ro', name: `${what} r${segments.length - 1}` });
      r.write(Number(addr - start), readable.subarray(off, off + len));
      off += len;
      regions.push(r);
    }
  };
  for (const n of readLens) take(n, false);
  for (const n of writeLens) take(n, true);
  const sum = (w: boolean) => segments.filter((s) => s.write === w).reduce((a, s) => a + s.len, 0);
  const chain: Chain = {
    id,
    avail: id,
    descs: segments.length,
    indirect: false,
    segments,
    readable: sum(false),
    writable: sum(true),
  };
  return { chain, queue, regions, before, what };
}

/** A request framed at random: readable bytes in up to `pieces` descriptors, writable ones likewise. */
export function placeRandom(b: BlkBench, rng: Rng, id: number, r: RequestBytes, pieces = 3): PlacedRequest {
  const queue = rng.below(2 ** b.p.queueBits);
  return place(
    b,
    rng,
    id,
    queue,
    cut(rng, r.readable.length, pieces),
    r.readable,
    cut(rng, r.writable, pieces),
    r.what,
  );
}

export interface RunCounts {
  requests: number;
  statuses: Record<number, number>;
  bad: number;
}

/**
 * Runs the golden model on each request (in order), then hands the chains to the device, waits for every one
 * to come back and compares: the order, id, queue, slots and used length of each, the status byte and every
 * byte of every writable buffer, the disk, and the root complex's checks (no DMA outside the buffers). Returns
 * the cycle the chains were offered and the cycle of each `done`.
 */
export function runRequests(b: BlkBench, reqs: PlacedRequest[], counts?: RunCounts): { start: number; done: number[] } {
  const expected = reqs.map((r) => {
    const io = new MemoryChainIo(b.rc.mem, { store: false, queue: r.queue });
    const o = b.golden.handle(io, r.chain);
    return { r, o, writes: io.writes };
  });
  const before = b.done.count;
  const start = b.sim.cycle;
  for (const { chain, queue } of reqs)
    chain.segments.forEach((s, k) =>
      b.chain.send({
        chain_queue: queue,
        chain_id: chain.id,
        chain_slots: chain.descs,
        chain_addr: s.addr,
        chain_len: s.len,
        chain_write: s.write ? 1 : 0,
        chain_last: k === chain.segments.length - 1 ? 1 : 0,
      }),
    );
  b.rc.waitFor(`${reqs.length} requests done`, () => b.done.count >= before + reqs.length, { timeout: 4_000_000 });
  b.rc.runFor(64);
  const got = b.done.take();
  expect(got.length).toBe(reqs.length);
  const badBefore = counts?.bad ?? 0;
  let bad = 0;
  expected.forEach(({ r, o, writes }, k) => {
    const d = got[k].values;
    const what = `request ${k} (${r.what})`;
    expect(Number(d.done_id), `${what}: id`).toBe(r.chain.id);
    expect(Number(d.done_queue), `${what}: queue`).toBe(r.queue);
    expect(Number(d.done_slots), `${what}: slots`).toBe(r.chain.descs);
    if (o instanceof RingError) {
      expect(o.kind, `${what}: golden`).toBe('bad-request');
      expect(Number(d.done_len), `${what}: used length of a chain that cannot be completed`).toBe(0);
      bad++;
    } else {
      expect(Number(d.done_len), `${what}: used length (golden status ${o.status}, ${o.reason ?? 'ok'})`).toBe(o.len);
      const last = [...r.chain.segments].reverse().find((x) => x.write && x.len > 0)!;
      const status = b.rc.mem.read(last.addr + BigInt(last.len - 1), 1)[0];
      expect(status, `${what}: status byte (golden: ${o.reason ?? 'ok'})`).toBe(o.status);
      if (counts) counts.statuses[o.status] = (counts.statuses[o.status] ?? 0) + 1;
    }
    // Every writable byte: as before, with the golden model's writes on top.
    const exp = new Map<Region, Uint8Array>();
    for (const [reg, bytes] of r.before) exp.set(reg, bytes.slice());
    for (const w of writes) {
      const reg = r.regions.find((x) => x.contains(w.addr, w.data.length));
      expect(reg, `${what}: golden write outside the buffers`).toBeDefined();
      exp.get(reg!)!.set(w.data, Number(w.addr - reg!.addr));
    }
    for (const [reg, bytes] of exp) expect(reg.read(0, reg.size), `${what}: ${reg.name}`).toEqual(bytes);
  });
  if (counts) {
    counts.requests += reqs.length;
    counts.bad = badBefore + bad;
  }
  expect(Number(b.sim.peek('bad_requests')), 'chains without a writable byte').toBe(counts ? counts.bad : bad);
  expect(Number(b.sim.peek('dma_errors')), 'DMA errors').toBe(0);
  expect(b.rc.violations, 'root complex checks').toEqual([]);
  for (const r of reqs) for (const g of r.regions) b.rc.mem.unmap(g);
  return { start, done: got.map((x) => x.cycle) };
}
