// The whole virtio-blk function with its disk behind the external AXI4 port (VirtioBlkTop storage: 'external'),
// served by the simulator's sparse AXI4 memory (sim/axi.ts), end to end as test/virtq/blk-e2e.test.ts runs the
// on-chip variant: the Linux-faithful probe, then random requests one at a time, each first run through the golden
// BlkDevice over a SparseDisk on the same buffers, status, used length and written bytes compared, the disk compared
// at the end. A small stand-alone version of that harness (the shared one, tb/virtio/blk/system.ts, was being
// written on another branch): the requests land in a window of sectors (the end of a 1 GiB disk), whose contents
// both disks start with. The same runner drives the on-chip variant for the speed comparison
// (scripts/storage-speed.ts).
import type { DataWidth } from '../../gen/pcie/streams';
import { VirtioBlkTop, virtioBlkConfig, type BlkDeviceOptions, type VirtioBlkTopParams } from '../../gen/virtq/blk_top';
import { DEFAULT_LAYOUT } from '../../gen/virtio/layout';
import { featureMask } from '../../gen/virtio/regmap';
import { designPorts } from '../../sim/design';
import { Sim } from '../../sim/index';
import { Rng } from '../../sim/random';
import { TapLink } from '../../tb/pcie/link';
import { RootComplex } from '../../tb/pcie/rootcomplex';
import { MemoryChainIo } from '../../tb/virtio/blk/chainio';
import { BLK_S, SECTOR_SIZE } from '../../tb/virtio/blk/defs';
import { BlkDevice, type BlkOutcome } from '../../tb/virtio/blk/device';
import { type BlkOp, type BlkRequest, VirtioBlkDriver } from '../../tb/virtio/blk/driver';
import { SparseDisk } from '../../tb/virtio/blk/disk';
import { CheckedLink, checkingModel } from '../../tb/virtio/checker';
import { VirtioPciDriver } from '../../tb/virtio/driver/driver';
import { type Chain, type ChainSegment, RingError } from '../../tb/virtio/ring/device';
import { ringFeatures, type Sg } from '../../tb/virtio/ring/defs';

export interface BlkRunOptions {
  W: DataWidth;
  blk: BlkDeviceOptions;
  storage: 'onchip' | 'external';
  seed: number;
  requests: number;
  /** The sectors requests touch: [from, to). */
  window: { from: number; to: number };
  txBackpressure?: number;
  /** Settings of the AXI4 memory (external storage). */
  axi?: Parameters<typeof Sim.load>[0]['axi'];
}

export interface BlkRunResult {
  sim: Sim;
  golden: BlkDevice;
  /** Requests that completed OK. */
  ok: number;
  /** The disk's bytes in the window, as the RTL left them and as the golden model did. */
  disk: Uint8Array;
  goldenDisk: Uint8Array;
  /** Mismatches found (empty when the RTL did what the golden model did). */
  mismatches: string[];
}

export function blkTopParams(o: Pick<BlkRunOptions, 'W' | 'blk' | 'storage'>): VirtioBlkTopParams {
  return { W: o.W, blk: o.blk, layout: DEFAULT_LAYOUT, storage: o.storage };
}

/** The simulator options each variant needs: the on-chip disk is reached through Verilator's public access. */
export const storageFlags = (storage: BlkRunOptions['storage']): string[] =>
  storage === 'onchip' ? ['--public-flat-rw'] : [];

export function blkPorts(o: Pick<BlkRunOptions, 'W' | 'blk' | 'storage'>): string {
  return designPorts(VirtioBlkTop.elaborate(blkTopParams(o)));
}

/** The chain the driver built for a request (virtblk_add_req): header, data, status. */
function chainOf(r: BlkRequest): Chain {
  const [hdr, status, dwz] = r.regions;
  const op = r.op;
  const seg = (s: Sg, write: boolean): ChainSegment => ({ addr: s.addr, len: s.len, write });
  const data: ChainSegment[] =
    op.type === 'read'
      ? op.bufs.map((b) => seg(b, true))
      : op.type === 'write'
        ? op.bufs.map((b) => seg(b, false))
        : op.type === 'get-id'
          ? [seg(op.buf, true)]
          : op.type === 'flush'
            ? []
            : [seg({ addr: dwz.addr, len: dwz.size }, false)];
  const segments = [seg({ addr: hdr.addr, len: 16 }, false), ...data, seg({ addr: status.addr, len: 1 }, true)];
  const sum = (w: boolean) => segments.filter((s) => s.write === w).reduce((a, s) => a + s.len, 0);
  return {
    id: 0,
    avail: 0,
    descs: segments.length,
    indirect: false,
    segments,
    readable: sum(false),
    writable: sum(true),
  };
}

/** The disk as the RTL holds it: the AXI4 memory, or the on-chip RAM's 2W-bit words through public access. */
function rtlDisk(sim: Sim, o: BlkRunOptions) {
  if (o.storage === 'external') {
    const mem = sim.axi('storage');
    return { write: (at: number, b: Uint8Array) => mem.write(at, b), read: (at: number, n: number) => mem.read(at, n) };
  }
  const wb = (2 * o.W) / 8;
  const words = 2 ** (o.blk.devBits - 1) / wb;
  return {
    write: (at: number, b: Uint8Array) => {
      if (at % wb || b.length % wb) throw new Error('on-chip disk: whole words only');
      const vals: bigint[] = [];
      for (let k = 0; k < b.length; k += wb) {
        let v = 0n;
        for (let j = wb - 1; j >= 0; j--) v = (v << 8n) | BigInt(b[k + j]);
        vals.push(v);
      }
      sim.writeMemory('disk.mem', vals, at / wb);
    },
    read: (at: number, n: number) => {
      const first = Math.floor(at / wb);
      const vals = sim.readMemory('disk.mem', first, Math.min(words - first, Math.ceil((at + n) / wb) - first));
      const out = new Uint8Array(n);
      for (let i = 0; i < n; i++) {
        const a = at + i - first * wb;
        out[i] = Number((vals[Math.floor(a / wb)] >> BigInt(8 * (a % wb))) & 0xffn);
      }
      return out;
    },
  };
}

/** Probes the function, seeds both disks' window with random data, runs the requests; returns what it found. */
export function runBlk(o: BlkRunOptions): BlkRunResult {
  const rng = new Rng(o.seed);
  const sim = Sim.load({
    ports: blkPorts(o),
    quiet: true,
    seed: o.seed,
    verilatorFlags: storageFlags(o.storage),
    txBackpressure: o.txBackpressure,
    axi: o.axi,
  });
  const cfg = virtioBlkConfig(blkTopParams(o));
  const b = cfg.dataPlane.blk;
  const disk = rtlDisk(sim, o);
  const golden0 = new SparseDisk(b.capacity * SECTOR_SIZE);
  // both disks start with the same random contents in the window (the on-chip RAM elsewhere with zeros)
  const lo = o.window.from * SECTOR_SIZE;
  const hi = o.window.to * SECTOR_SIZE;
  if (o.storage === 'onchip') disk.write(0, new Uint8Array(2 ** (b.devBits - 1)));
  const seedBytes = Uint8Array.from({ length: hi - lo }, () => rng.u32() & 0xff);
  disk.write(lo, seedBytes);
  golden0.write(lo, seedBytes);

  const l = cfg.endpoint.layout;
  const link = new CheckedLink(new TapLink(sim), checkingModel(l, { deviceConfig: cfg.endpoint.deviceConfig }));
  const rc = new RootComplex(link, { seed: o.seed, latency: { min: 20, max: 200 } });
  const drv = new VirtioPciDriver(rc);
  const r = drv.probe();
  const features = ringFeatures(drv.features);
  const has = (n: string) => (drv.features & featureMask([n], 'blk')) !== 0n;
  const golden = new BlkDevice(
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
    golden0,
  );
  const blkDrv = new VirtioBlkDriver({
    mem: rc.mem,
    rings: r.setup.vqs,
    features,
    notify: (q) => {
      drv.kick(q);
      return true;
    },
  });
  const vectors = r.setup.vqs.map((vq) => drv.queueVector(vq.index));
  const irqs: number[] = [];
  rc.onInterrupt((ev) => irqs.push(ev.vector));
  const mismatches: string[] = [];

  const randomOp = (): { op: BlkOp; regions: { unmap: () => void }[] } => {
    const k = rng.int(0, 9);
    const sectors = rng.int(1, 16);
    const sector = BigInt(rng.int(o.window.from, o.window.to - sectors));
    if (k <= 4) {
      const write = k <= 1;
      const total = sectors * SECTOR_SIZE;
      const nb = rng.int(1, Math.min(3, b.segMax));
      const cuts = [0, ...Array.from({ length: nb - 1 }, () => rng.int(1, total - 1)), total].sort((x, y) => x - y);
      const bufs: Sg[] = [];
      const regions = [];
      for (let i = 0; i + 1 < cuts.length; i++) {
        const len = cuts[i + 1] - cuts[i];
        if (len === 0) continue;
        const g = rc.mem.alloc(len, { perm: write ? 'ro' : 'wo', align: 1 });
        if (write) g.write(0, rng.bytes(len));
        bufs.push({ addr: g.addr, len });
        regions.push(g);
      }
      return {
        op: { type: write ? 'write' : 'read', sector, bufs },
        regions: regions.map((g) => ({ unmap: () => rc.mem.unmap(g) })),
      };
    }
    if (k === 5) return { op: { type: 'flush' }, regions: [] };
    if (k === 6) {
      const g = rc.mem.alloc(20, { perm: 'wo', align: 1 });
      return { op: { type: 'get-id', buf: { addr: g.addr, len: 20 } }, regions: [{ unmap: () => rc.mem.unmap(g) }] };
    }
    const type = k === 7 ? 'discard' : 'write-zeroes';
    const lim = (type === 'discard' ? b.discard : b.writeZeroes)!;
    const n = Math.min(o.window.to - Number(sector), lim.maxSectors);
    return { op: { type, ranges: [{ sector, numSectors: rng.int(1, n) }] }, regions: [] };
  };

  let ok = 0;
  for (let i = 0; i < o.requests; i++) {
    const q = rng.int(0, r.setup.vqs.length - 1);
    const { op, regions } = randomOp();
    const req = blkDrv.submit(op, q);
    if (typeof req === 'string') throw new Error(`submit: ${req}`);
    const io = new MemoryChainIo(rc.mem, { store: false, queue: q });
    const want = golden.handle(io, chainOf(req));
    if (want instanceof RingError) throw want;
    const outcome = want as BlkOutcome;
    rc.waitFor(
      `request ${i} (${op.type}) on queue ${q} completed`,
      () => {
        while (irqs.length) {
          const vq = vectors.indexOf(irqs.shift()!);
          if (vq >= 0) blkDrv.vqs[vq].interrupt();
        }
        return req.status !== undefined;
      },
      { timeout: 500_000 },
    );
    if (req.status !== outcome.status || req.len !== outcome.len)
      mismatches.push(
        `request ${i} (${op.type}): status ${req.status} len ${req.len}, golden ${outcome.status} ${outcome.len}`,
      );
    for (const w of io.writes) {
      if (w.addr === req.statusAddr) continue;
      if (!Buffer.from(rc.mem.read(w.addr, w.data.length)).equals(Buffer.from(w.data)))
        mismatches.push(`request ${i} (${op.type}): data at 0x${w.addr.toString(16)} differs from the golden model's`);
    }
    for (const g of regions) g.unmap();
    if (outcome.status === BLK_S.OK) ok++;
  }
  if (link.mismatches.length) mismatches.push(...link.mismatches.map((m) => `register read: ${m.message}`));
  if (rc.violations.length) mismatches.push(...rc.violations.map((v) => `root complex: ${JSON.stringify(v)}`));
  return { sim, golden, ok, disk: disk.read(lo, hi - lo), goldenDisk: golden.disk.read(lo, hi - lo), mismatches };
}
