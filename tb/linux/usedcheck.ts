// The host's check of the device's used elements. Linux 6.1's virtio_blk ignores the used length (virtblk_done
// reads the status byte only) and virtio_ring checks only the id, so a device that returns a wrong length passes
// a Linux run unnoticed; this check does not let it. Each used element the RTL writes (a MWr into a used ring,
// seen before the root complex applies it, so the driver cannot have reused the buffer yet) is matched with the
// chain the driver made available, read by a shadow golden queue (tb/virtio/ring DeviceQueue, which only reads),
// and the golden virtio-blk device (tb/virtio/blk BlkDevice) says what the length must be.
import type { VirtioBlkTopParams } from '../../gen/virtq/blk_top';
import { featureMask } from '../../gen/virtio/regmap';
import type { RawTlp } from '../../sim/raw';
import type { HostMemory } from '../pcie/hostmem';
import { decodeTlp, type MemWriteTlp } from '../pcie/tlp';
import { MemoryChainIo } from '../virtio/blk/chainio';
import { blkTypeName, SECTOR_SIZE } from '../virtio/blk/defs';
import { BlkDevice } from '../virtio/blk/device';
import { SparseDisk } from '../virtio/blk/disk';
import type { GoldenTransport } from '../virtio/golden/transport';
import { ringFeatures } from '../virtio/ring/defs';
import { type Chain, DeviceQueue, RingError } from '../virtio/ring/device';
import { HostDma } from '../virtio/ring/dma';

/** A queue's rings as the driver set them up (the golden transport's view). */
export interface RingView {
  q: number;
  packed: boolean;
  desc: bigint;
  driver: bigint;
  device: bigint;
  size: number;
}

export function ringViews(t: GoldenTransport): RingView[] {
  const packed = ringFeatures(t.negotiated).packed;
  const out: RingView[] = [];
  for (let q = 0; q < t.queueCount; q++) {
    const s = t.queue(q);
    if (s.enabled) out.push({ q, packed, desc: s.desc, driver: s.driver, device: s.device, size: s.size });
  }
  return out;
}

/** A used element inside a device MWr: its queue and slot, and where its id and length sit in the payload. */
export interface UsedWrite {
  ring: RingView;
  slot: number;
  idAt: number;
  idBytes: 2 | 4;
  lenAt: number;
}

/**
 * The used elements a device memory write carries (split: id and len of a used ring entry; packed: len and id of
 * a descriptor, the flags possibly in a later write), in address order.
 */
export function usedWrites(w: MemWriteTlp, rings: readonly RingView[]): UsedWrite[] {
  const out: UsedWrite[] = [];
  const lo = w.address;
  const hi = lo + BigInt(w.data.length);
  for (const ring of rings) {
    // split: used->ring[] after flags and idx, 8-byte elements {id, len}; packed: 16-byte descriptors, len at 8 and
    // id at 12 (the device writes only used descriptors into the descriptor ring).
    const base = ring.packed ? ring.desc : ring.device + 4n;
    const stride = ring.packed ? 16 : 8;
    const first = ring.packed ? 8 : 0;
    if (hi <= base || lo >= base + BigInt(stride * ring.size)) continue;
    const from = lo > base ? Number((lo - base) / BigInt(stride)) : 0;
    for (let slot = from; slot < ring.size; slot++) {
      const f = base + BigInt(stride * slot + first);
      if (f >= hi) break;
      if (f < lo || f + 6n > hi) continue;
      const o = Number(f - lo);
      out.push(
        ring.packed
          ? { ring, slot, lenAt: o, idAt: o + 4, idBytes: 2 }
          : f + 8n <= hi
            ? { ring, slot, idAt: o, idBytes: 4, lenAt: o + 4 }
            : { ring, slot, idAt: o, idBytes: 4, lenAt: -1 },
      );
    }
  }
  return out.filter((u) => u.lenAt >= 0);
}

export function readLe(b: Uint8Array, at: number, n: number): number {
  let v = 0;
  for (let i = n - 1; i >= 0; i--) v = v * 256 + b[at + i];
  return v;
}

export class UsedElementError extends Error {}

interface Shadow {
  key: string;
  dq: DeviceQueue;
  /** Chains taken from the ring and not yet returned, by id. */
  chains: Map<number, Chain>;
}

/** A chain's segments, run-length coded: "16r 4096w*31 8192w 1w" (r: device-readable, w: device-writable). */
export function describeChain(c: Chain): string {
  const runs: { key: string; n: number }[] = [];
  for (const seg of c.segments) {
    const key = `${seg.len}${seg.write ? 'w' : 'r'}`;
    const last = runs[runs.length - 1];
    if (last?.key === key) last.n++;
    else runs.push({ key, n: 1 });
  }
  const list = runs.map((r) => (r.n > 1 ? `${r.key}*${r.n}` : r.key)).join(' ');
  return `${c.indirect ? 'indirect ' : ''}chain of ${c.segments.length} segments [${list}]`;
}

/** Device memory writes kept for a failure's message (address and length only). */
const RECENT_WRITES = 16384;

export class UsedLengthCheck {
  readonly stats = { checked: 0, wrongLengths: 0 };
  /** 'count' mode: the wrong lengths seen (the first 20 messages), the run going on. */
  readonly mismatches: string[] = [];
  /** The device's recent memory writes: [address, bytes], oldest first. */
  private readonly recent: [bigint, number][] = [];
  /** Used elements whose id and length have not all arrived yet, by queue and slot. */
  private readonly parts = new Map<string, { bytes: Uint8Array; mask: number; at: bigint }>();
  private readonly shadows = new Map<number, Shadow>();
  private dmaPort: HostDma | undefined;
  private blk: BlkDevice | undefined;
  private blkFeatures = -1n;

  constructor(
    private readonly memory: () => HostMemory,
    private readonly transport: () => GoldenTransport,
    private readonly top: VirtioBlkTopParams,
    /** 'fail': a wrong length throws at once; 'count': it is recorded and the run goes on (ids are always fatal). */
    private readonly mode: 'fail' | 'count' = 'fail',
  ) {}

  private get mem(): HostMemory {
    return this.memory();
  }

  /** Each TLP from the device, before the root complex applies it. */
  onDeviceTlp(raw: RawTlp): void {
    // MWr: Fmt 010/011, Type 00000 (a quick look before a decode).
    const fmtType = raw.hdr[0] >>> 24;
    if (fmtType !== 0x40 && fmtType !== 0x60) return;
    const t = this.transport();
    const w = decodeTlp(raw, { strict: false }) as MemWriteTlp;
    for (const ring of ringViews(t)) this.collect(t, ring, w);
    this.recent.push([w.address, w.data.length]);
    if (this.recent.length > RECENT_WRITES) this.recent.splice(0, RECENT_WRITES / 4);
  }

  /**
   * Gathers the used elements' bytes a write carries: an element may come in two writes (an 8-byte split entry
   * sits 4 bytes off alignment, and a write of several entries can end inside one: seen with Linux on the RTL), so
   * each is checked once its id and length have all arrived.
   */
  private collect(t: GoldenTransport, ring: RingView, w: MemWriteTlp): void {
    const base = ring.packed ? ring.desc + 8n : ring.device + 4n;
    const stride = ring.packed ? 16 : 8;
    const need = ring.packed ? 6 : 8;
    const lo = w.address;
    const hi = lo + BigInt(w.data.length);
    const end = base + BigInt(stride * ring.size);
    if (hi <= base || lo >= end) return;
    const from = lo > base ? Math.floor(Number(lo - base) / stride) : 0;
    for (let slot = from; slot < ring.size; slot++) {
      const f = base + BigInt(stride * slot);
      if (f >= hi) break;
      const a = f > lo ? f : lo;
      const b = f + BigInt(need) < hi ? f + BigInt(need) : hi;
      if (b <= a) continue;
      const key = `${ring.q}:${slot}`;
      const part = this.parts.get(key) ?? { bytes: new Uint8Array(need), mask: 0, at: w.address };
      for (let x = a; x < b; x++) {
        part.bytes[Number(x - f)] = w.data[Number(x - lo)];
        part.mask |= 1 << Number(x - f);
      }
      if (part.mask !== (1 << need) - 1) {
        this.parts.set(key, part);
        continue;
      }
      this.parts.delete(key);
      const [id, len] = ring.packed
        ? [readLe(part.bytes, 4, 2), readLe(part.bytes, 0, 4)]
        : [readLe(part.bytes, 0, 4), readLe(part.bytes, 4, 4)];
      this.check(t, ring, slot, id, len, part.at);
    }
  }

  /** Bytes of the device's recent writes that landed in the chain's device-writable segments. */
  private writtenInto(c: Chain): number {
    let n = 0;
    for (const seg of c.segments) {
      if (!seg.write) continue;
      const end = seg.addr + BigInt(seg.len);
      for (const [a, len] of this.recent) {
        const lo = a > seg.addr ? a : seg.addr;
        const b = a + BigInt(len);
        const hi = b < end ? b : end;
        if (hi > lo) n += Number(hi - lo);
      }
    }
    return n;
  }

  private check(t: GoldenTransport, ring: RingView, slot: number, id: number, len: number, at: bigint): void {
    // (The device writes only used descriptors into a packed ring: no look at the flags is needed.)
    const where = `queue ${ring.q}, used ${ring.packed ? 'descriptor' : 'ring entry'} ${slot} (MWr at 0x${at.toString(16)})`;
    const chain = this.take(t, ring, id);
    if (!chain)
      throw new UsedElementError(
        `${where}: the device returned buffer id ${id}, which the driver did not make available`,
      );
    const blk = this.device(t);
    const want = blk.handle(new MemoryChainIo(this.mem, { store: false, queue: ring.q }), chain);
    if (want instanceof RingError) throw new UsedElementError(`${where}: buffer ${id}: ${want.message}`);
    this.stats.checked++;
    if (want.len !== len) {
      const type = blkTypeName(want.type);
      const message =
        `${where}: the device returned buffer ${id} with used length ${len}, but the ${type} request ` +
        `(sector ${want.sector}, ${chain.readable} device-readable and ${chain.writable} device-writable bytes, status ${want.status}) ` +
        `wrote ${want.len} bytes (the golden virtio-blk device); the ${describeChain(chain)}; ` +
        `the device's last ${this.recent.length} memory writes put ${this.writtenInto(chain)} bytes into its device-writable segments; ` +
        `buffers available and not yet returned (id: device-writable bytes): ${this.pending(ring.q)}`;
      this.stats.wrongLengths++;
      if (this.mode === 'fail') throw new UsedElementError(message);
      if (this.mismatches.length < 20) this.mismatches.push(message);
    }
  }

  /** The chain the driver made available with `id`: the shadow queue takes what is available until it finds it. */
  private take(t: GoldenTransport, ring: RingView, id: number): Chain | undefined {
    const key = `${ring.packed}:${ring.desc}:${ring.driver}:${ring.device}:${ring.size}`;
    let s = this.shadows.get(ring.q);
    if (!s || s.key !== key) {
      const dq = new DeviceQueue({
        index: ring.q,
        ring: { num: ring.size, desc: ring.desc, driver: ring.driver, device: ring.device },
        features: ringFeatures(t.negotiated),
        dma: (this.dmaPort ??= new HostDma(this.mem)),
      });
      s = { key, dq, chains: new Map() };
      this.shadows.set(ring.q, s);
    }
    for (;;) {
      const found = s.chains.get(id);
      if (found) {
        s.chains.delete(id);
        return found;
      }
      const c = s.dq.next();
      if (c instanceof RingError) throw new UsedElementError(`queue ${ring.q}: the driver's ring: ${c.message}`);
      if (!c) return undefined;
      s.chains.set(c.id, c);
    }
  }

  private pending(q: number): string {
    const s = this.shadows.get(q);
    const list = s ? [...s.chains.values()].map((c) => `${c.id}: ${c.writable}`) : [];
    return list.length ? list.join(', ') : 'none';
  }

  /** The golden device with the RTL's configuration and the features the driver took. */
  private device(t: GoldenTransport): BlkDevice {
    if (this.blk && this.blkFeatures === t.negotiated) return this.blk;
    const b = this.top.blk;
    const has = (n: string) => (t.negotiated & featureMask([n], 'blk')) !== 0n;
    this.blkFeatures = t.negotiated;
    this.blk = new BlkDevice(
      {
        capacity: b.capacity,
        readOnly: b.readOnly,
        flush: !!b.flush && has('VIRTIO_BLK_F_FLUSH'),
        discard: has('VIRTIO_BLK_F_DISCARD') ? b.discard : undefined,
        writeZeroes: has('VIRTIO_BLK_F_WRITE_ZEROES') ? b.writeZeroes : undefined,
        id: b.id,
        segMax: b.segMax,
        sizeMax: b.sizeMax,
      },
      // Only lengths are compared (the data is checked by the guest and on the disk): this disk is the golden
      // device's own, and its writes to the guest's buffers are kept aside (store: false above).
      new SparseDisk(b.capacity * SECTOR_SIZE),
    );
    return this.blk;
  }
}
