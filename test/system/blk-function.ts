// The whole virtio-blk function (gen/virtq/blk_top.ts) as a fault test drives it: the top loaded, linked (register
// reads compared with the golden transport) and behind the root complex by the layer every harness of it shares
// (tb/virtio/blk/rig.ts BlkRig, as BlkSystem is), brought up by hand as a driver would (virtio_dev_probe's steps) so that a test picks the negotiated ring features and may program
// crafted rings; a virtio-blk driver on the ring drivers; the golden BlkDevice for request-level verdicts; and
// the checks every fault case ends with: the function still answers, DEVICE_NEEDS_RESET and the configuration
// interrupt exactly when expected, a device reset brings it back (a clean write and read-back succeed), and the
// root complex saw no DMA outside what the driver granted (its regions carry device-side permissions: headers,
// OUT data and indirect tables read-only, IN data and status bytes write-only).
// Unlike BlkSystem (the Linux-faithful probe, requests checked against the golden model), a case here picks the
// negotiated ring features, may program crafted rings and inject faults, and asks the golden model for verdicts.
import { expect } from 'vitest';
import type { DataWidth } from '../../gen/pcie/streams';
import { DATA_PLANE_TIMEOUT, type virtioBlkConfig } from '../../gen/virtq/blk_top';
import { featureMask, STATUS, VIRTIO_MSI_NO_VECTOR } from '../../gen/virtio/regmap';
import type { Sim } from '../../sim/index';
import { Rng } from '../../sim/random';
import { PCI_COMMAND, PCI_COMMAND_MASTER } from '../../tb/pcie/cfgspace';
import type { DeviceInfo } from '../../tb/pcie/enumerate';
import type { Region } from '../../tb/pcie/hostmem';
import type { ReadAction, ReadFault } from '../../tb/pcie/inject';
import type { RootComplexOptions } from '../../tb/pcie/options';
import { RootComplex } from '../../tb/pcie/rootcomplex';
import { MemoryChainIo } from '../../tb/virtio/blk/chainio';
import { BLK_S, BLK_T, blkHeader, SECTOR_SIZE } from '../../tb/virtio/blk/defs';
import { BlkDevice, type BlkOutcome } from '../../tb/virtio/blk/device';
import { type BlkOp, type BlkRequest, VirtioBlkDriver } from '../../tb/virtio/blk/driver';
import type { RingEngines } from '../../gen/virtq/dataplane';
import { BlkRig, buildBlkTop, type SystemLink } from '../../tb/virtio/blk/rig';
import { mapQueueNotify, modernProbe, type ModernDevice } from '../../tb/virtio/driver/caps';
import { CommonIo } from '../../tb/virtio/driver/commonio';
import { allocRing, freeRing, type RingMemory } from '../../tb/virtio/ring/create';
import type { RingFeatures, Sg } from '../../tb/virtio/ring/defs';
import { RingError, type Chain } from '../../tb/virtio/ring/device';

/**
 * Builds the function under test once (the build is cached; the ones BlkSystem and test/virtq/blk-e2e.test.ts
 * load): the default layout (two queues), the default on-chip disk, the given ring engines (default the harness's,
 * both: every case picks its format).
 */
export function buildFunction(W: DataWidth, rings?: RingEngines): void {
  buildBlkTop(W, undefined, undefined, rings);
}

/** The ring features a test negotiates (each maps to its transport feature bit). */
export interface RingChoice {
  packed: boolean;
  indirect?: boolean;
  eventIdx?: boolean;
  inOrder?: boolean;
}

const RING_FEATURE_NAMES: Record<keyof RingChoice, string> = {
  packed: 'VIRTIO_F_RING_PACKED',
  indirect: 'VIRTIO_F_INDIRECT_DESC',
  eventIdx: 'VIRTIO_F_EVENT_IDX',
  inOrder: 'VIRTIO_F_IN_ORDER',
};
/** Always negotiated: VERSION_1, RING_RESET (queue resets and crafted rings), and every block feature offered. */
const ALWAYS = ['VIRTIO_F_VERSION_1', 'VIRTIO_F_RING_RESET'];

/** A queue as set up by bringUp(). */
export interface QueueSetup {
  readonly index: number;
  readonly ring: RingMemory;
  readonly notify: bigint;
  readonly vector: number;
}

export interface BringUpOptions {
  /** Queues to enable (default: all the device has). */
  queues?: number;
  /** A ring to program instead of a fresh one (crafted rings). */
  ring?: (q: number) => RingMemory | undefined;
  /** Block features offered but not negotiated. */
  without?: string[];
}

const CONFIG_VECTOR = 0;

export class BlkFunction {
  readonly sim: Sim;
  readonly rc: RootComplex;
  /** The link; `link.checked` compares register reads with the golden transport (mismatches recorded). */
  readonly link: SystemLink;
  readonly cfg: ReturnType<typeof virtioBlkConfig>;
  readonly rng: Rng;
  readonly dev: DeviceInfo;
  readonly mdev: ModernDevice;
  readonly io: CommonIo;
  /** Configuration interrupts (vector 0) seen, and queue interrupts not yet handed to the driver. */
  configIrqs = 0;
  private readonly queueIrqs: number[] = [];
  features = 0n;
  ringFeatures: RingFeatures = { packed: false, indirect: false, eventIdx: false, inOrder: false };
  queues: QueueSetup[] = [];
  blk!: VirtioBlkDriver;
  /** The golden device for request-level verdicts (its disk is not compared: faults leave storage undefined). */
  readonly golden: BlkDevice;
  private choice: RingChoice = { packed: false };
  private bringUpOpts: BringUpOptions = {};

  constructor(
    W: DataWidth,
    readonly seed: number,
    rcOpts: RootComplexOptions = {},
    rings?: RingEngines,
  ) {
    this.rng = new Rng(seed ^ 0x5a5a);
    const rig = new BlkRig({
      W,
      seed,
      rings,
      history: 0,
      mismatches: 'record',
      rc: {
        seed,
        latency: { min: 20, max: 200 },
        violations: 'record',
        // the earliest the data plane's completion timeout fires: a dropped read's tag stays the device's until then
        deviceCompletionTimeout: DATA_PLANE_TIMEOUT,
        ...rcOpts,
      },
    });
    this.sim = rig.sim;
    this.link = rig.link;
    this.rc = rig.rc;
    this.cfg = rig.cfg;
    this.rc.onInterrupt((ev) => {
      if (ev.vector === CONFIG_VECTOR) {
        this.configIrqs++;
        // The golden transport learns the fatal error from its interrupt (the only device-side configuration
        // event this function has: it reports no configuration changes), before any later register read.
        this.link.checked.golden.fatalError();
      } else this.queueIrqs.push(ev.vector);
    });
    this.dev = this.rc.enumerate();
    this.mdev = modernProbe(this.rc, this.dev);
    this.io = new CommonIo(this.rc, this.mdev.common);
    this.rc.cfgWrite16(PCI_COMMAND, this.rc.cfgRead16(PCI_COMMAND) | PCI_COMMAND_MASTER);
    // every block feature the disk offers (a case's verdicts come from requests it negotiated them for)
    this.golden = rig.golden(-1n);
  }

  close(): void {
    this.sim.close();
  }

  has(name: string): boolean {
    return (this.features & featureMask([name], 'blk')) !== 0n;
  }

  /**
   * virtio_dev_probe's steps by hand: reset, ACKNOWLEDGE, DRIVER, the features (the ring choice, ALWAYS, the
   * block features offered), FEATURES_OK, MSI-X (configuration vector 0, queue q on vector q + 1), each queue's
   * ring programmed and enabled, DRIVER_OK; then a virtio-blk driver on the rings.
   */
  bringUp(choice: RingChoice, opts: BringUpOptions = {}): void {
    this.choice = choice;
    this.bringUpOpts = opts;
    const io = this.io;
    io.reset(1000);
    io.addStatus(STATUS.ACKNOWLEDGE);
    io.addStatus(STATUS.DRIVER);
    io.write('device_feature_select', 0);
    let offered = BigInt(io.read('device_feature'));
    io.write('device_feature_select', 1);
    offered |= BigInt(io.read('device_feature')) << 32n;
    const keys = Object.keys(RING_FEATURE_NAMES) as (keyof RingChoice)[];
    const names = [...ALWAYS, ...keys.filter((k) => choice[k]).map((k) => RING_FEATURE_NAMES[k])];
    const transport = featureMask(names, 'blk');
    const blkBits = offered & ((1n << 24n) - 1n) & ~featureMask(opts.without ?? [], 'blk');
    this.features = (transport | blkBits) & offered;
    expect(this.features & transport, 'the ring features asked for are offered').toBe(transport);
    io.write('driver_feature_select', 0);
    io.write('driver_feature', Number(this.features & 0xffff_ffffn));
    io.write('driver_feature_select', 1);
    io.write('driver_feature', Number(this.features >> 32n));
    io.addStatus(STATUS.FEATURES_OK);
    expect(io.status() & STATUS.FEATURES_OK, 'FEATURES_OK kept').toBeTruthy();
    this.ringFeatures = {
      packed: choice.packed,
      indirect: !!choice.indirect,
      eventIdx: !!choice.eventIdx,
      inOrder: !!choice.inOrder,
    };
    const nq = opts.queues ?? io.read('num_queues');
    this.rc.msix.setup({ vectors: 1 + io.read('num_queues') });
    io.write('config_msix_vector', CONFIG_VECTOR);
    this.queues = [];
    for (let q = 0; q < nq; q++) this.queues.push(this.programQueue(q, opts.ring?.(q)));
    io.addStatus(STATUS.DRIVER_OK);
    this.blk = new VirtioBlkDriver({
      mem: this.rc.mem,
      rings: this.queues.map((s) => s.ring),
      features: this.ringFeatures,
      notify: (q) => {
        this.kick(q);
        return true;
      },
    });
  }

  /** setup_vq: the queue's size, areas, vector and doorbell; then queue_enable. */
  programQueue(q: number, ring?: RingMemory): QueueSetup {
    const io = this.io;
    io.write('queue_select', q);
    const num = ring?.num ?? io.read('queue_size');
    const r = ring ?? allocRing(this.rc.mem, num, this.ringFeatures.packed, q);
    io.write('queue_size', num);
    io.write64('queue_desc', r.desc);
    io.write64('queue_driver', r.driver);
    io.write64('queue_device', r.device);
    io.write('queue_msix_vector', q + 1);
    expect(io.read('queue_msix_vector'), `queue ${q}'s vector`).not.toBe(VIRTIO_MSI_NO_VECTOR);
    const notify = mapQueueNotify(this.rc, this.dev, this.mdev, q, io.read('queue_notify_off'));
    io.write('queue_enable', 1);
    return { index: q, ring: r, notify, vector: q + 1 };
  }

  /** RING_RESET of queue q: queue_reset written, then read until 0 (bounded). Returns the reads it took. */
  resetQueue(q: number, polls = 200): number {
    this.io.write('queue_select', q);
    this.io.write('queue_reset', 1);
    for (let i = 1; i <= polls; i++) {
      this.io.write('queue_select', q);
      if (this.io.read('queue_reset') === 0) return i;
    }
    throw new Error(`queue ${q}: queue_reset still reads 1 after ${polls} reads`);
  }

  /** A queue's doorbell with its index (16 bits), as vp_notify writes it. */
  kick(q: number): void {
    this.rc.write16(this.queues[q].notify, q);
  }

  /**
   * Pumps until `cond` holds, handing queue interrupts to the driver (vring_interrupt); false if `timeout` cycles
   * passed first.
   */
  serve(cond: () => boolean, timeout = 200_000): boolean {
    const end = this.rc.now + timeout;
    const check = () => {
      while (this.queueIrqs.length) {
        const q = this.queueIrqs.shift()! - 1;
        this.blk.vqs[q]?.interrupt();
      }
      return cond() || this.rc.now >= end;
    };
    this.rc.waitFor('the fault case to settle', check, { timeout: timeout + 10_000 });
    return cond();
  }

  /** Data buffers for an op of `sectors` at `sector`, device-readable for a write (filled at random). */
  dataOp(type: 'read' | 'write', sector: bigint, sectors: number, pieces = 1): { op: BlkOp; bufs: Region[] } {
    const total = sectors * SECTOR_SIZE;
    const bufs: Region[] = [];
    const sgs: Sg[] = [];
    for (let i = 0; i < pieces; i++) {
      const len = i < pieces - 1 ? Math.floor(total / pieces) : total - Math.floor(total / pieces) * (pieces - 1);
      const g = this.rc.mem.alloc(len, { perm: type === 'write' ? 'ro' : 'wo', align: 1, name: `data${i}` });
      if (type === 'write') g.write(0, this.rng.bytes(len));
      bufs.push(g);
      sgs.push({ addr: g.addr, len });
    }
    return { op: { type, sector, bufs: sgs }, bufs };
  }

  /** Submits an op on queue q and kicks; the request (throws on a full ring). */
  submit(op: BlkOp, q = 0): BlkRequest {
    const r = this.blk.submit(op, q);
    if (typeof r === 'string') throw new Error(`submit: ${r}`);
    return r;
  }

  /**
   * A request with raw segments (device-readable `out`, device-writable `inn`), as virtblk_add_req would add
   * them, for requests the driver model would not build; `statusAddr` is where the driver reads the status
   * byte. Returns the request and the golden verdict on the same memory (its writes kept aside; none for
   * `golden` false: the golden device reads host memory as the host, which has no answer for unmapped bytes).
   */
  submitRaw(
    q: number,
    out: Sg[],
    inn: Sg[],
    statusAddr: bigint,
    golden = true,
  ): { req: BlkRequest; golden?: BlkOutcome | RingError } {
    const req: BlkRequest = { op: { type: 'flush' }, queue: q, regions: [], statusAddr };
    const verdict = golden ? this.goldenVerdict(q, out, inn) : undefined;
    expect(this.blk.vqs[q].add(out, inn, req)).toBe('ok');
    this.blk.vqs[q].kick();
    return { req, golden: verdict };
  }

  /** The golden BlkDevice on a chain of these segments (nothing stored). */
  goldenVerdict(q: number, out: readonly Sg[], inn: readonly Sg[]): BlkOutcome | RingError {
    const segments = [
      ...out.map((s) => ({ addr: s.addr, len: s.len, write: false })),
      ...inn.map((s) => ({ addr: s.addr, len: s.len, write: true })),
    ];
    const sum = (w: boolean) => segments.filter((s) => s.write === w).reduce((a, s) => a + s.len, 0);
    const chain: Chain = {
      id: 0,
      avail: 0,
      descs: segments.length,
      indirect: false,
      segments,
      readable: sum(false),
      writable: sum(true),
    };
    try {
      return this.golden.handle(new MemoryChainIo(this.rc.mem, { store: false, queue: q }), chain);
    } catch (e) {
      if (e instanceof RingError) return e;
      throw e;
    }
  }

  /** A 16-byte header region (device-readable unless `perm` says otherwise). */
  header(type: number, sector: bigint, perm: 'ro' | 'wo' | 'rw' = 'ro'): Region {
    const h = this.rc.mem.alloc(16, { perm, align: 8, name: 'hdr' });
    h.write(0, blkHeader(type, sector));
    return h;
  }

  /** A status byte region, 0xff until the device writes it. */
  statusByte(): Region {
    const s = this.rc.mem.alloc(1, { perm: 'wo', align: 1, name: 'status' });
    s.write(0, new Uint8Array([0xff]));
    return s;
  }

  /**
   * Fails reads that touch [addr, addr + len) with `action`: the first `count` of them (default 1), aimed at
   * completion `completion` when given. Returns a counter of the reads hit.
   */
  failReads(addr: bigint, len: number, action: ReadAction, o: { count?: number; completion?: number } = {}) {
    const hit = { reads: 0 };
    const end = addr + BigInt(len);
    this.rc.setFaults({
      onRead: (r): ReadAction | ReadFault | undefined => {
        const a = r.tlp.address;
        const b = a + BigInt(4 * r.tlp.length);
        if (a >= end || b <= addr || hit.reads >= (o.count ?? 1)) return undefined;
        hit.reads++;
        return o.completion === undefined ? action : { action, completion: o.completion };
      },
    });
    return hit;
  }

  /** No more injected faults. */
  clearFaults(): void {
    this.rc.setFaults({ onRead: undefined });
  }

  get status(): number {
    return this.io.status();
  }

  /** DEVICE_NEEDS_RESET and the configuration interrupt, or neither. */
  expectNeedsReset(want: boolean, what: string): void {
    expect(this.configIrqs > 0, `${what}: a configuration interrupt`).toBe(want);
    expect((this.status & STATUS.DEVICE_NEEDS_RESET) !== 0, `${what}: DEVICE_NEEDS_RESET`).toBe(want);
  }

  /**
   * The function still answers: configuration space, the common configuration and the device configuration
   * (capacity, as the driver reads it) give their values.
   */
  expectResponsive(): void {
    expect(this.rc.cfgRead16(0), 'vendor ID').toBe(0x1af4);
    expect(this.io.read('num_queues')).toBe(this.cfg.endpoint.layout.queues.count);
    const cap = this.mdev.device!;
    const lo = this.rc.read32(cap.address);
    const hi = this.rc.read32(cap.address + 4n);
    expect(BigInt(lo) | (BigInt(hi) << 32n), 'capacity').toBe(BigInt(this.cfg.dataPlane.blk.capacity));
  }

  /**
   * A device reset (status 0, read back until 0), the rings freed and set up again as the last bringUp did
   * (fresh rings), then a clean write and its read-back on every queue: the function works again.
   */
  resetAndRecover(): void {
    this.clearFaults();
    this.restart(this.choice, { queues: this.bringUpOpts.queues, without: this.bringUpOpts.without });
    for (const s of this.queues) this.cleanRoundTrip(s.index);
    this.expectNeedsReset(false, 'after the reset');
  }

  /** A device reset (status 0, read back until 0), the rings freed, and bringUp() again. */
  restart(choice: RingChoice, opts: BringUpOptions = {}): void {
    this.io.reset(2000);
    expect(this.status).toBe(0);
    for (const s of this.queues) freeRing(this.rc.mem, s.ring);
    this.configIrqs = 0;
    this.queueIrqs.length = 0;
    this.bringUp(choice, opts);
  }

  /** Replaces queue q's ring (RING_RESET, the old ring freed, the new one programmed and enabled). */
  replaceRing(q: number, ring: RingMemory): void {
    this.resetQueue(q);
    freeRing(this.rc.mem, this.queues[q].ring);
    this.queues[q] = this.programQueue(q, ring);
  }

  /** Queue q's doorbell address (whether or not the queue is set up). */
  doorbell(q: number): bigint {
    this.io.write('queue_select', q);
    return mapQueueNotify(this.rc, this.dev, this.mdev, q, this.io.read('queue_notify_off'));
  }

  /** Device reads (TLPs) and memory writes (MSI-X messages aside) so far. */
  dmaCounts(): { reads: number; writes: number } {
    const s = this.rc.stats();
    return { reads: s.fromDevice.MRd?.tlps ?? 0, writes: s.completer.dmaWrites + s.completer.poisonedWrites };
  }

  /** A write of 3 sectors, then their read-back into another buffer, on queue q: both OK, same bytes. */
  cleanRoundTrip(q: number): void {
    const sector = BigInt(this.rng.int(0, this.cfg.dataPlane.blk.capacity - 3));
    const w = this.dataOp('write', sector, 3, 2);
    const wr = this.submit(w.op, q);
    expect(
      this.serve(() => wr.status !== undefined),
      `queue ${q}: the clean write completes`,
    ).toBe(true);
    expect(wr.status, `queue ${q}: clean write status`).toBe(BLK_S.OK);
    const r = this.dataOp('read', sector, 3, 1);
    const rd = this.submit(r.op, q);
    expect(
      this.serve(() => rd.status !== undefined),
      `queue ${q}: the clean read completes`,
    ).toBe(true);
    expect({ status: rd.status, len: rd.len }).toEqual({ status: BLK_S.OK, len: 3 * SECTOR_SIZE + 1 });
    const wrote = Buffer.concat(w.bufs.map((g) => g.read(0, g.size)));
    expect(Buffer.from(r.bufs[0].read(0, r.bufs[0].size)).equals(wrote), `queue ${q}: read back what was written`).toBe(
      true,
    );
    for (const g of [...w.bufs, ...r.bufs]) this.rc.mem.unmap(g);
  }

  /** The root complex's checks (no DMA outside granted regions, in their direction) and the golden register reads. */
  expectClean(allowed: string[] = []): void {
    const codes = this.rc.violations.map((v) => `${v.code}: ${v.message}`);
    expect(codes.filter((c) => !allowed.some((a) => c.startsWith(a)))).toEqual([]);
    expect(this.link.checked.mismatches.map((e) => e.message)).toEqual([]);
    expect(this.link.checked.checkedReads).toBeGreaterThan(20);
  }
}

export { BLK_S, BLK_T, SECTOR_SIZE };
