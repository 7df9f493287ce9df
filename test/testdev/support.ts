// A minimal root-complex driver for the testdev tests: configuration and memory requests from the host,
// a sparse host memory that answers the device's reads (split at the RCB, optionally reordered across tags,
// with latency) and takes its writes, and MSI-X message capture. Every TLP the device sends is decoded
// strictly (tb/pcie/tlp.ts), so a malformed one fails the test at once.
//
// Deliberately small and local: the proper root-complex model lives in tb/pcie/ and will replace it.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { emitDesign } from '../../gen/hdl';
import { Testdev, type TestdevWidth } from '../../gen/testdev/top';
import { Sim, type SimOptions } from '../../sim/index';
import {
  CplStatus,
  type CplStatusCode,
  decodeTlp,
  describeTlp,
  encodeTlp,
  type MemReadTlp,
  pcieId,
  readCompletionByteCount,
  completionLowerAddress,
  type RawTlp,
  type Tlp,
} from '../../tb/pcie/tlp';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Generates testdev_w<W> into build/testdev/w<W>/ (only files whose text changed) and returns its ports file. */
export function generateTestdev(W: TestdevWidth): string {
  const dir = resolve(REPO, 'build', 'testdev', `w${W}`);
  mkdirSync(dir, { recursive: true });
  for (const [name, text] of emitDesign(Testdev.elaborate({ W }))) {
    const p = resolve(dir, name);
    if (!existsSync(p) || readFileSync(p, 'utf8') !== text) writeFileSync(p, text);
  }
  return resolve(dir, `testdev_w${W}.ports.json`);
}

/** mulberry32 */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function testSeed(): number {
  return process.env.VFPGA_SEED ? Number(process.env.VFPGA_SEED) : Math.floor(Math.random() * 0x7fff_ffff);
}

/** What the host memory does with a device read (tests inject errors through it). */
export type ReadFault = 'ur' | 'ca' | 'poison' | 'drop' | 'bad-tag';

export interface HostOptions {
  /** Read Completion Boundary the host splits completions at (default 64). */
  rcb?: 64 | 128;
  /** Answer queued reads in random order, interleaving the completions of different tags (default true). */
  reorder?: boolean;
  /** Cycles a device read waits before it is answered (default 40). */
  latency?: number;
  seed?: number;
  sim?: Partial<SimOptions>;
}

export interface MsiMessage {
  address: bigint;
  data: number;
  cycle: number;
}

/** Where the MSI-X messages go (like an x86 APIC window). */
export const MSI_WINDOW = 0xfee0_0000n;

export class Host {
  readonly sim: Sim;
  readonly rand: () => number;
  /** Requester ID of the root port (00:00.0) and the BDF the device is enumerated at (01:00.0). */
  readonly rcId = pcieId(0, 0, 0);
  readonly devId = pcieId(1, 0, 0);
  /** Every TLP the device sent, decoded, in order. */
  readonly sent: Tlp[] = [];
  readonly msi: MsiMessage[] = [];
  /** Device reads of host memory seen, and a hook to fault them. */
  readonly reads: MemReadTlp[] = [];
  fault?: (req: MemReadTlp) => ReadFault | undefined;
  /** Most device reads seen and not yet answered at once (a lower bound of the device's tags in flight). */
  peakReadsInFlight = 0;
  /** Completions sent for device reads, and how many of them overtook a completion of an older read. */
  completionsSent = 0;
  completionsOvertaking = 0;
  rcb: number;
  reorder: boolean;
  latency: number;

  private readonly pages = new Map<bigint, Uint8Array>();
  private readonly waiting = new Map<number, Tlp[]>(); // host tag -> completions received
  private nextTag = 0;
  private queued: { req: MemReadTlp; at: number }[] = [];

  constructor(ports: string, opts: HostOptions = {}) {
    const seed = opts.seed ?? testSeed();
    this.rand = prng(seed ^ 0x5eed);
    // Random idle cycles between rx beats and backpressure on tx by default: the bench checks that a stalled
    // tx beat stays unchanged.
    this.sim = Sim.load({ ports, quiet: true, seed, rxIdle: 0.1, txBackpressure: 0.25, ...opts.sim });
    this.rcb = opts.rcb ?? 64;
    this.reorder = opts.reorder ?? true;
    this.latency = opts.latency ?? 40;
  }

  close(): void {
    this.sim.close();
  }

  // ---- host memory
  private page(addr: bigint): Uint8Array {
    const k = addr >> 12n;
    let p = this.pages.get(k);
    if (!p) this.pages.set(k, (p = new Uint8Array(4096)));
    return p;
  }
  hostWrite(addr: bigint, bytes: Uint8Array, mask?: Uint8Array): void {
    bytes.forEach((b, i) => {
      if (mask && !mask[i]) return;
      const a = addr + BigInt(i);
      this.page(a)[Number(a & 0xfffn)] = b;
    });
  }
  hostRead(addr: bigint, n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const a = addr + BigInt(i);
      out[i] = this.page(a)[Number(a & 0xfffn)];
    }
    return out;
  }

  // ---- the loop: run the model, take what it sends, answer reads
  /** Runs until `done()` holds, answering the device; throws after `maxCycles`. */
  pump(done: () => boolean, maxCycles = 200_000): void {
    const limit = this.sim.cycle + maxCycles;
    while (!done()) {
      if (this.sim.cycle >= limit) throw new Error(`host: gave up after ${maxCycles} cycles (cycle ${this.sim.cycle}, ${this.queued.length} reads queued)`);
      this.answerReads(false);
      this.sim.run({ untilTx: 1, maxCycles: 32 });
      for (const raw of this.sim.takeTx()) this.take(raw);
    }
  }

  /** Runs `n` cycles while answering the device. */
  idle(n: number): void {
    const end = this.sim.cycle + n;
    this.pump(() => this.sim.cycle >= end, n + 64);
  }

  private take(raw: RawTlp): void {
    let t: Tlp;
    try {
      t = decodeTlp(raw);
    } catch (e) {
      throw new Error(`device sent a malformed TLP at cycle ${raw.cycle}: ${(e as Error).message}`);
    }
    this.sent.push(t);
    switch (t.type) {
      case 'Cpl':
      case 'CplD':
      case 'CplLk':
      case 'CplDLk': {
        const w = this.waiting.get(t.tag);
        if (!w) throw new Error(`unexpected completion from the device: ${describeTlp(t)}`);
        w.push(t);
        break;
      }
      case 'MRd':
        if (t.requesterId !== this.devId) throw new Error(`MRd with requester ID ${t.requesterId.toString(16)}: ${describeTlp(t)}`);
        for (const q of this.queued) if (q.req.tag === t.tag) throw new Error(`tag ${t.tag} reused while outstanding: ${describeTlp(t)}`);
        this.reads.push(t);
        this.queued.push({ req: t, at: this.sim.cycle });
        this.peakReadsInFlight = Math.max(this.peakReadsInFlight, this.queued.length);
        break;
      case 'MWr': {
        if (t.requesterId !== this.devId) throw new Error(`MWr with requester ID ${t.requesterId.toString(16)}: ${describeTlp(t)}`);
        if ((t.address & ~0xfffffn) === MSI_WINDOW) {
          if (t.data.length !== 4 || t.firstBe !== 0xf) throw new Error(`MSI-X write is not one full dword: ${describeTlp(t)}`);
          const d = t.data;
          this.msi.push({ address: t.address, data: (d[0] | (d[1] << 8) | (d[2] << 16) | (d[3] << 24)) >>> 0, cycle: raw.cycle ?? 0 });
          break;
        }
        const n = t.data.length / 4;
        const mask = new Uint8Array(n * 4);
        for (let dw = 0; dw < n; dw++) {
          const be = dw === 0 ? t.firstBe : dw === n - 1 ? t.lastBe : 0xf;
          for (let b = 0; b < 4; b++) mask[4 * dw + b] = (be >> b) & 1;
        }
        this.hostWrite(t.address, t.data, mask);
        break;
      }
      default:
        throw new Error(`device sent an unexpected ${describeTlp(t)}`);
    }
  }

  /** Answers the device reads that have waited `latency` cycles (all of them with `now`). */
  answerReads(now: boolean): void {
    const ready = this.queued.filter((q) => now || this.sim.cycle - q.at >= this.latency);
    if (!ready.length) return;
    this.queued = this.queued.filter((q) => !ready.includes(q));
    const streams = ready.map((q) => this.completionsFor(q.req));
    const order = new Map(streams.map((st, i) => [st, i])); // index = age
    const send = (st: RawTlp[]) => {
      const c = st.shift()!;
      this.completionsSent++;
      if (streams.some((o) => o.length && order.get(o)! < order.get(st)!)) this.completionsOvertaking++;
      this.sim.send(c);
    };
    if (this.reorder) {
      // Shuffle the requests, then interleave their completions at random; each tag's stay in order.
      for (let i = streams.length - 1; i > 0; i--) {
        const j = Math.floor(this.rand() * (i + 1));
        [streams[i], streams[j]] = [streams[j], streams[i]];
      }
      while (streams.some((s) => s.length)) {
        const live = streams.filter((s) => s.length);
        send(live[Math.floor(this.rand() * live.length)]);
      }
    } else {
      for (const st of streams) while (st.length) send(st);
    }
  }

  /** The completions of a device read: split at the RCB (2.3.1.1), or a fault. */
  private completionsFor(req: MemReadTlp): RawTlp[] {
    const fault = this.fault?.(req);
    if (fault === 'drop') return [];
    const total = readCompletionByteCount(req.length, req.firstBe, req.lastBe);
    const base = { completerId: this.rcId, requesterId: req.requesterId, tag: req.tag };
    const la = completionLowerAddress(req.address, req.firstBe);
    if (fault === 'ur' || fault === 'ca') {
      const status: CplStatusCode = fault === 'ur' ? CplStatus.UR : CplStatus.CA;
      return [encodeTlp({ type: 'Cpl', ...base, status, byteCount: total, lowerAddress: la })];
    }
    const out: RawTlp[] = [];
    const end = req.address + BigInt(req.length * 4);
    let a = req.address;
    let sent = 0;
    while (a < end) {
      const next = (a / BigInt(this.rcb) + 1n) * BigInt(this.rcb);
      const stop = next < end ? next : end;
      const bytes = this.hostRead(a, Number(stop - a));
      const byteCount = total - sent;
      out.push(
        encodeTlp({
          type: 'CplD',
          ...base,
          tag: fault === 'bad-tag' ? (req.tag + 100) & 0xff : req.tag,
          status: CplStatus.SC,
          byteCount,
          lowerAddress: a === req.address ? la : Number(a & 0x7fn),
          data: bytes,
          ep: fault === 'poison',
        }),
      );
      sent += a === req.address ? Number(stop - a) - (la & 3) : Number(stop - a);
      a = stop;
    }
    return out;
  }

  // ---- requests from the host
  /** Sends a non-posted request and waits for its completion(s). */
  request(t: Tlp, what: string): Tlp[] {
    const tag = this.nextTag;
    this.nextTag = (this.nextTag + 1) & 0xff;
    this.waiting.set(tag, []);
    this.sim.send(encodeTlp({ ...t, tag } as Tlp));
    const got = this.waiting.get(tag)!;
    const noData = (c: Tlp) => c.type === 'Cpl' || c.type === 'CplLk';
    const last = () => got.length > 0 && (noData(got[got.length - 1]) || totalBytes(got) >= expectBytes(t));
    this.pump(last, 20_000);
    this.waiting.delete(tag);
    if (got.length === 0) throw new Error(`${what}: no completion`);
    return got;
  }

  /** Configuration read of one dword; returns the completion (status and data). */
  cfgReadRaw(offset: number, opts: { type1?: boolean; fn?: number } = {}): { status: number; value: number; cpl: Tlp } {
    const [c] = this.request(
      { type: opts.type1 ? 'CfgRd1' : 'CfgRd0', completerId: this.devId | (opts.fn ?? 0), offset, firstBe: 0xf, requesterId: this.rcId, tag: 0 },
      `CfgRd 0x${offset.toString(16)}`,
    );
    if (c.type !== 'Cpl' && c.type !== 'CplD') throw new Error(`CfgRd: got ${describeTlp(c)}`);
    return { status: c.status, value: c.type === 'CplD' ? dw(c.data, 0) : 0, cpl: c };
  }
  cfgRead(offset: number): number {
    const r = this.cfgReadRaw(offset);
    if (r.status !== CplStatus.SC) throw new Error(`CfgRd 0x${offset.toString(16)}: status ${r.status}`);
    return r.value;
  }
  cfgWrite(offset: number, value: number, firstBe = 0xf): Tlp {
    const data = new Uint8Array(4);
    new DataView(data.buffer).setUint32(0, value >>> 0, true);
    const [c] = this.request({ type: 'CfgWr0', completerId: this.devId, offset, firstBe, requesterId: this.rcId, tag: 0, data }, `CfgWr 0x${offset.toString(16)}`);
    if (c.type !== 'Cpl' || c.status !== CplStatus.SC) throw new Error(`CfgWr 0x${offset.toString(16)}: ${describeTlp(c)}`);
    return c;
  }

  /** Memory read of `n` bytes at any byte address (one request); returns the completion(s). */
  memReadRaw(addr: bigint, n: number): Tlp[] {
    const { address, length, firstBe, lastBe } = shapeOf(addr, n);
    return this.request({ type: 'MRd', address, length, firstBe, lastBe, requesterId: this.rcId, tag: 0 }, `MRd 0x${addr.toString(16)}+${n}`);
  }
  memRead(addr: bigint, n: number): Uint8Array {
    const cpls = this.memReadRaw(addr, n);
    const data: number[] = [];
    for (const c of cpls) {
      if (c.type !== 'CplD' || c.status !== CplStatus.SC) throw new Error(`MRd 0x${addr.toString(16)}+${n}: ${describeTlp(c)}`);
      data.push(...c.data);
    }
    const lead = Number(addr & 3n);
    return Uint8Array.from(data.slice(lead, lead + n));
  }
  /** Memory write of bytes at any byte address (one posted request). */
  memWrite(addr: bigint, bytes: Uint8Array): void {
    const { address, firstBe, lastBe, length } = shapeOf(addr, bytes.length);
    const data = new Uint8Array(length * 4);
    data.set(bytes, Number(addr & 3n));
    this.sim.send(encodeTlp({ type: 'MWr', address, firstBe, lastBe, requesterId: this.rcId, tag: 0, data }));
    this.pump(() => this.sim.rxPending === 0, 20_000);
  }
  read32(addr: bigint): number {
    return dw(this.memRead(addr, 4), 0);
  }
  write32(addr: bigint, v: number): void {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v >>> 0, true);
    this.memWrite(addr, b);
  }
  write64(addr: bigint, v: bigint): void {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, v, true);
    this.memWrite(addr, b);
  }
}

/** MRd/MWr shape for n bytes at a byte address (2.2.5). */
export function shapeOf(addr: bigint, n: number): { address: bigint; length: number; firstBe: number; lastBe: number } {
  const lead = Number(addr & 3n);
  const length = Math.max(1, Math.ceil((lead + n) / 4));
  const lastByte = (lead + n - 1) & 3;
  const fbe = n === 0 ? 0 : (0xf << lead) & 0xf;
  const lbe = (0xf >> (3 - lastByte)) & 0xf;
  return length === 1 ? { address: addr & ~3n, length, firstBe: fbe & lbe, lastBe: 0 } : { address: addr & ~3n, length, firstBe: fbe, lastBe: lbe };
}

function dw(b: Uint8Array, i: number): number {
  return (b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24)) >>> 0;
}

function totalBytes(cpls: Tlp[]): number {
  return cpls.reduce((n, c) => n + ('data' in c && c.data ? c.data.length : 0), 0);
}

function expectBytes(t: Tlp): number {
  if (t.type === 'MRd') return t.length * 4;
  return 4;
}

// ---- enumeration, as system software does it

export interface Enumerated {
  bar0: bigint;
  bar2: bigint;
  /** Sizes found by BAR sizing. */
  bar0Size: bigint;
  bar2Size: bigint;
}

/**
 * Sizes and assigns the BARs (all-ones writes, 7.5.1.2.1), sets Max_Payload_Size / Max_Read_Request_Size
 * (encodings, 7.5.3.4) and enables memory decoding and bus mastering.
 */
export function enumerate(h: Host, opts: { bar0: bigint; bar2: bigint; mps?: number; mrrs?: number; busMaster?: boolean }): Enumerated {
  const size = (lo: number, hi?: number) => {
    const mask = (BigInt((hi ?? 0xffffffff) >>> 0) << 32n) | BigInt((lo & ~0xf) >>> 0);
    return ((~mask) & 0xffff_ffff_ffff_ffffn) + 1n;
  };
  h.cfgWrite(0x10, 0xffffffff);
  h.cfgWrite(0x14, 0xffffffff);
  h.cfgWrite(0x18, 0xffffffff);
  const bar0Size = size(h.cfgRead(0x10), h.cfgRead(0x14));
  const bar2Size = size(h.cfgRead(0x18)) & 0xffff_ffffn;
  h.cfgWrite(0x10, Number(opts.bar0 & 0xffff_ffffn));
  h.cfgWrite(0x14, Number(opts.bar0 >> 32n));
  h.cfgWrite(0x18, Number(opts.bar2));
  const devctl = 0x40 + 0x08;
  const v = h.cfgRead(devctl);
  h.cfgWrite(devctl, (v & ~((7 << 5) | (7 << 12))) | ((opts.mps ?? 0) << 5) | ((opts.mrrs ?? 2) << 12));
  h.cfgWrite(0x04, (1 << 1) | ((opts.busMaster ?? true) ? 1 << 2 : 0));
  return { bar0: opts.bar0, bar2: opts.bar2, bar0Size, bar2Size };
}
