// End to end on the RTL: the whole virtio-blk function (gen/virtq/blk_top.ts: endpoint, split and packed queue
// engines, virtio-blk, DMA fabric, on-chip disk) behind a CheckedLink (every register read compared with the golden
// transport) and the root complex. The Linux-faithful probe sets it up; the virtio-blk driver (tb/virtio/blk) on the
// ring driver submits random requests, one at a time on a random queue, kicks through the notify region and
// completes them on the queues' MSI-X messages. Each request is first run through the golden BlkDevice on the same
// buffers (its writes kept aside): the RTL's status byte, used length and written bytes must equal the golden
// model's, and the disk must equal the golden disk at the end; then the driver's remove resets the device (the
// data plane's reset_done). Once with the packed ring offered (Linux takes it), once without (split).
import { afterEach, beforeAll, describe, expect } from 'vitest';
import type { DataWidth } from '../../gen/pcie/streams';
import { defaultBlk, VirtioBlkTop, virtioBlkConfig, type VirtioBlkTopParams } from '../../gen/virtq/blk_top';
import { DEFAULT_LAYOUT } from '../../gen/virtio/layout';
import { featureMask, STATUS } from '../../gen/virtio/regmap';
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
import { ringFeatures, ringFeaturesName, type Sg } from '../../tb/virtio/ring/defs';
import { seededTest } from '../support/seeds';

const open: Sim[] = [];
afterEach(() => {
  for (const s of open.splice(0)) s.close();
});

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

const W: DataWidth = 64;
const NO_PACKED = {
  ...DEFAULT_LAYOUT,
  name: 'nopacked',
  features: DEFAULT_LAYOUT.features.filter((f) => f !== 'VIRTIO_F_RING_PACKED'),
};

describe.each([
  ['packed', DEFAULT_LAYOUT],
  ['split', NO_PACKED],
] as const)('virtio-blk function, %s ring, 64-bit', (ring, layout) => {
  const p: VirtioBlkTopParams = { W, blk: defaultBlk(), layout };
  const cfg = virtioBlkConfig(p);
  let ports = '';
  beforeAll(() => {
    ports = designPorts(VirtioBlkTop.elaborate(p));
    Sim.load({ ports, resetCycles: 0, verilatorFlags: ['--public-flat-rw'] }).close();
  }, 1_200_000);

  seededTest(
    'Linux probe, then random block requests on both queues, checked against the golden BlkDevice',
    (seed) => {
      const rng = new Rng(seed);
      const sim = Sim.load({ ports, quiet: true, seed, verilatorFlags: ['--public-flat-rw'], txBackpressure: 0.2 });
      open.push(sim);
      // the disk starts zeroed, as the golden disk does
      const wb = (2 * W) / 8;
      sim.writeMemory('disk.mem', new Array<bigint>(2 ** (cfg.dataPlane.blk.devBits - 1) / wb).fill(0n), 0);
      const l = cfg.endpoint.layout;
      const link = new CheckedLink(new TapLink(sim), checkingModel(l, { deviceConfig: cfg.endpoint.deviceConfig }));
      const rc = new RootComplex(link, { seed, latency: { min: 20, max: 200 } });
      const drv = new VirtioPciDriver(rc);
      const r = drv.probe();
      const features = ringFeatures(drv.features);
      expect(ringFeaturesName(features)).toMatch(new RegExp(`^${ring}`));
      const has = (n: string) => (drv.features & featureMask([n], 'blk')) !== 0n;
      const b = cfg.dataPlane.blk;
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
        new SparseDisk(b.capacity * SECTOR_SIZE),
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

      const capacity = Number(r.capacity);
      const randomOp = (): { op: BlkOp; regions: { unmap: () => void }[] } => {
        const k = rng.int(0, 9);
        const sectors = rng.int(1, 16);
        const sector = BigInt(rng.int(0, capacity - sectors));
        if (k <= 3 || k === 4) {
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
          return {
            op: { type: 'get-id', buf: { addr: g.addr, len: 20 } },
            regions: [{ unmap: () => rc.mem.unmap(g) }],
          };
        }
        const type = k === 7 ? 'discard' : 'write-zeroes';
        const lim = (type === 'discard' ? b.discard : b.writeZeroes)!;
        const n = Math.min(capacity - Number(sector), lim.maxSectors);
        return { op: { type, ranges: [{ sector, numSectors: rng.int(1, n) }] }, regions: [] };
      };

      let served = 0;
      for (let i = 0; i < 30; i++) {
        const q = rng.int(0, r.setup.vqs.length - 1);
        const { op, regions } = randomOp();
        const req = blkDrv.submit(op, q);
        if (typeof req === 'string') throw new Error(`submit: ${req}`);
        // the golden model on the same buffers, before the RTL has run a cycle (its writes kept aside)
        const io = new MemoryChainIo(rc.mem, { store: false, queue: q });
        const want = golden.handle(io, chainOf(req));
        if (want instanceof RingError) throw want;
        const outcome = want as BlkOutcome;
        rc.waitFor(
          `request ${i} (${op.type}) on queue ${q} completed`,
          () => {
            while (irqs.length) {
              const v = irqs.shift()!;
              const vq = vectors.indexOf(v);
              if (vq >= 0) blkDrv.vqs[vq].interrupt();
            }
            return req.status !== undefined;
          },
          { timeout: 500_000 },
        );
        expect({ status: req.status, len: req.len }, `request ${i}: ${op.type}`).toEqual({
          status: outcome.status,
          len: outcome.len,
        });
        for (const w of io.writes) {
          // the driver unmapped the status byte; the data buffers are read back before we unmap them
          if (w.addr === req.statusAddr) continue;
          expect(
            Buffer.from(rc.mem.read(w.addr, w.data.length)).equals(Buffer.from(w.data)),
            `request ${i}: data`,
          ).toBe(true);
        }
        for (const g of regions) g.unmap();
        if (outcome.status === BLK_S.OK) served++;
      }
      expect(served).toBeGreaterThan(15);
      // the disk: the RTL's storage RAM (2W-bit words) against the golden disk
      const words = sim.readMemory('disk.mem');
      const disk = new Uint8Array(b.capacity * SECTOR_SIZE);
      for (let k = 0; k * wb < disk.length; k++)
        for (let j = 0; j < wb; j++) disk[k * wb + j] = Number((words[k] >> BigInt(8 * j)) & 0xffn);
      const gd = golden.disk.read(0, disk.length);
      const at = disk.findIndex((x, k) => x !== gd[k]);
      expect(at, 'first disk byte that differs from the golden disk').toBe(-1);
      // virtblk_remove: a device reset that found DRIVER_OK set completes only when both queue engines report it
      drv.remove();
      expect(link.golden.status).toBe(STATUS.ACKNOWLEDGE);
      expect(link.mismatches).toEqual([]);
      expect(link.checkedReads).toBeGreaterThan(50);
      expect(rc.violations).toEqual([]);
    },
    { timeout: 600_000 },
  );
});
