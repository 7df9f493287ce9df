// The whole virtio-blk function (gen/virtq/blk_top.ts: endpoint, split and packed queue engines, virtio-blk, DMA
// fabric, on-chip disk) in simulation with everything that checks it: the harness the end-to-end tests, the soak,
// the benchmark and the main job share.
//
//  - The root complex (tb/pcie) with the options a run gives (latency, completion splitting and reordering, MPS,
//    MRRS); its checks on every TLP, host memory that faults any DMA outside granted regions (each buffer is its
//    own region with a guard gap, device-readable or device-writable as the driver grants it).
//  - The register file checked against the golden transport (tb/virtio/checker.ts): every MMIO and config read.
//  - The Linux-faithful probe (tb/virtio/driver), the virtio-blk driver on the ring driver (tb/virtio/blk,
//    tb/virtio/ring) with the ring invariants (ring/invariants.ts) hearing every grant and every device access: no
//    DMA outside the rings and the available buffers, no write to a device-readable buffer, used length = bytes
//    written, each buffer back exactly once.
//  - The golden BlkDevice: each request is run through it when it is submitted, on the same buffers, its writes
//    kept aside; at completion the status byte, the used length and every byte the golden model wrote must equal
//    what the RTL did; at the end the RTL's disk must equal the golden disk.
//
// Requests in flight. The driver keeps up to `depth` requests outstanding per queue, submits a batch and kicks once
// (virtio_queue_rq with bd->last, kick_prepare deciding with EVENT_IDX / flags suppression), and reaps on the
// queues' MSI-X messages (vring_interrupt -> virtblk_done). The RTL may complete them in any order, while the golden
// model ran them in submission order. The comparison stays exact because no two requests in flight may overlap on
// disk when either writes it (WRITE, DISCARD, WRITE_ZEROES): the generators ask `conflicts()` and pick another range
// or wait. Non-overlapping requests commute, reads of the same sectors commute, so every order the device may
// choose gives the same data, statuses and final disk as the golden model's. (Checking per completion order
// instead would need the device's internal order of storage accesses, which the spec does not fix.)
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DataWidth } from '../../../gen/pcie/streams';
import { defaultBlk, VirtioBlkTop, virtioBlkConfig, type BlkDeviceOptions } from '../../../gen/virtq/blk_top';
import { DEFAULT_LAYOUT } from '../../../gen/virtio/layout';
import { featureMask } from '../../../gen/virtio/regmap';
import { designPorts } from '../../../sim/design';
import { Sim } from '../../../sim/index';
import { Rng } from '../../../sim/random';
import type { RawTlp } from '../../../sim/raw';
import { HostMemory, type Addr, type Region } from '../../pcie/hostmem';
import type { Link, LinkRunOptions } from '../../pcie/link';
import type { RootComplexOptions } from '../../pcie/options';
import { RootComplex } from '../../pcie/rootcomplex';
import { CheckedLink, checkingModel } from '../checker';
import { VirtioPciDriver } from '../driver/driver';
import { type Chain, type ChainSegment, RingError } from '../ring/device';
import { ringFeatures, type RingFeatures, type Sg } from '../ring/defs';
import { RingInvariants } from '../ring/invariants';
import { MemoryChainIo } from './chainio';
import { BLK_S, SECTOR_SIZE } from './defs';
import { BlkDevice, type BlkOutcome } from './device';
import { SparseDisk } from './disk';
import { type BlkRequest, VirtioBlkDriver } from './driver';
import type { PreparedRequest, Workload, WorkloadContext } from './workload';

export type RingFormat = 'packed' | 'split';

/**
 * The top's parameters for a width: the default layout, which offers both ring formats (the driver takes packed,
 * or declines it for split: one build serves both).
 */
export function blkTopParams(W: DataWidth, blk: BlkDeviceOptions = defaultBlk()) {
  return { W, blk, layout: DEFAULT_LAYOUT };
}

const portsCache = new Map<string, string>();
/** The top's ports JSON path (elaborated and emitted once per process). */
export function blkTopPorts(W: DataWidth, blk: BlkDeviceOptions = defaultBlk()): string {
  const key = JSON.stringify([W, blk]);
  let p = portsCache.get(key);
  if (!p) portsCache.set(key, (p = designPorts(VirtioBlkTop.elaborate(blkTopParams(W, blk)))));
  return p;
}

/**
 * Verilator flags that make the on-chip disk's RAM (gen/blk/axi_ram.ts `mem`) and nothing else public: a control
 * file. (--public-flat-rw on the whole design made the model five times slower.) The file's name carries a hash of
 * its text, so the model's build cache, keyed by the flags, follows a change of it. Every user of the whole function
 * (BlkSystem, the fault suite's harness, the Linux bridge) builds with them, so that one build per width serves all.
 */
export function diskAccessFlags(): string[] {
  const text = '`verilator_config\npublic_flat_rw -module "axi_ram_*" -var "mem"\n';
  const dir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../build/vlt');
  const file = path.join(dir, `disk-public-${createHash('sha256').update(text).digest('hex').slice(0, 12)}.vlt`);
  if (!fs.existsSync(file)) {
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(`${file}.${process.pid}`, text);
    fs.renameSync(`${file}.${process.pid}`, file);
  }
  return [file];
}

/** Builds (or finds in the cache) the top's simulator, so that later loads are quick. */
export function buildBlkTop(W: DataWidth, blk: BlkDeviceOptions = defaultBlk()): void {
  Sim.load({ ports: blkTopPorts(W, blk), resetCycles: 0, quiet: true, verilatorFlags: diskAccessFlags() }).close();
}

export interface BlkSystemOptions {
  W: DataWidth;
  ring: RingFormat;
  seed: number;
  blk?: BlkDeviceOptions;
  /** Root-complex options over the defaults (latency 20-200 cycles, random splits, reordering, MPS 256, MRRS 512). */
  rc?: RootComplexOptions;
  /** Probability of tx_ready low on a cycle; of an idle cycle before an rx beat. */
  txBackpressure?: number;
  rxIdle?: number;
  /** The driver's feature table (default Linux 6.1 virtio-blk's); ring features follow what is negotiated. */
  driverFeatures?: readonly string[];
  /** Offered features the driver declines besides VIRTIO_F_RING_PACKED for split (e.g. VIRTIO_F_EVENT_IDX). */
  declineFeatures?: readonly string[];
  /** Record the stimulus for a pure C++ replay (default true; off for long soaks). */
  record?: boolean;
  /** TLPs kept for a hang report (default 24). */
  history?: number;
}

export type FailureKind = 'mismatch' | 'hang' | 'dma' | 'violation' | 'invariant' | 'driver';

/** Why a run failed: what kind, and the details (the last TLPs for a hang). */
export class BlkSystemFailure extends Error {
  constructor(
    readonly kind: FailureKind,
    message: string,
  ) {
    super(`${kind}: ${message}`);
    this.name = 'BlkSystemFailure';
  }
}

/** Host memory that tells a listener every device access (the RC's completer reads and writes through it). */
class WatchedMemory extends HostMemory {
  onDma?: (dir: 'read' | 'write', addr: bigint, len: number) => void;
  override dmaReadInto(addr: Addr, out: Uint8Array, context?: string): void {
    super.dmaReadInto(addr, out, context);
    this.onDma?.('read', BigInt(addr), out.length);
  }
  override dmaWrite(addr: Addr, data: Uint8Array, mask?: Uint8Array, context?: string): void {
    super.dmaWrite(addr, data, mask, context);
    if (!this.onDma) return;
    const a = BigInt(addr);
    if (!mask) return this.onDma('write', a, data.length);
    // Short writes may have gaps in their byte enables: each enabled run is a write of its own.
    for (let i = 0; i < mask.length;) {
      if (!mask[i]) {
        i++;
        continue;
      }
      let j = i;
      while (j < mask.length && mask[j]) j++;
      this.onDma('write', a + BigInt(i), j - i);
      i = j;
    }
  }
}

/** Completion type (Cpl, CplD, CplLk, CplDLk): DW0's Type field 0b0101x. */
const isCompletion = (raw: RawTlp) => ((raw.hdr[0] >>> 25) & 0xf) === 0b0101;

/** Directions in SystemLink's history. */
const TO_DEVICE = 0;
const FROM_DEVICE = 1;

/**
 * The link to the simulator: register traffic through the golden-transport checker, the DMA completions the RC
 * sends (most of the traffic, which the checker ignores) straight to the simulator, so that the simulator's
 * copying sends and delivery reports stay available to the RC; and the last TLPs both ways, for hang reports.
 */
class SystemLink implements Link {
  readonly checked: CheckedLink;
  readonly copiesOnSend: boolean;
  readonly sendTracked: NonNullable<Link['sendTracked']>;
  private stash: RawTlp[] = [];
  private tracked: ((cycle: number) => void) | undefined;
  private readonly hdrs: Uint32Array;
  private readonly cycles: Float64Array;
  private readonly dirs: Uint8Array;
  private recentAt = 0;
  private noted = 0;

  constructor(
    private readonly sim: Sim,
    model: ReturnType<typeof checkingModel>,
    private readonly keep: number,
  ) {
    const inner: Link = {
      get cycle() {
        return sim.cycle;
      },
      send: (raw, at) => (this.tracked ? sim.sendTracked(raw, at, this.tracked) : sim.send(raw, at)),
      run: (o) => sim.run(o),
      takeTx: () => this.stash.splice(0),
    };
    this.checked = new CheckedLink(inner, model);
    this.hdrs = new Uint32Array(4 * keep);
    this.cycles = new Float64Array(keep);
    this.dirs = new Uint8Array(keep);
    this.copiesOnSend = sim.copiesOnSend;
    this.sendTracked = (raw, at, delivered) => {
      this.note(TO_DEVICE, raw, at);
      if (isCompletion(raw)) return sim.sendTracked(raw, at, delivered);
      this.tracked = delivered;
      try {
        this.checked.send(raw, at);
      } finally {
        this.tracked = undefined;
      }
    };
  }

  get cycle(): number {
    return this.sim.cycle;
  }
  send(raw: RawTlp, atCycle?: number): void {
    this.note(TO_DEVICE, raw, atCycle);
    if (isCompletion(raw)) this.sim.send(raw, atCycle);
    else this.checked.send(raw, atCycle);
  }
  run(opts: LinkRunOptions): { reason: string; cycles: number } {
    return this.sim.run(opts);
  }
  takeTx(): RawTlp[] {
    const tx = this.sim.takeTx();
    for (const t of tx) {
      this.note(FROM_DEVICE, t, t.cycle);
      if (isCompletion(t)) this.stash.push(t);
    }
    this.checked.takeTx(); // checks the completions of register reads, applies queued register writes
    return tx;
  }

  /** Keeps a TLP's header dwords, direction and cycle (copied: the RC reuses its completions' buffers). */
  private note(dir: number, raw: RawTlp, cycle: number | undefined): void {
    if (this.keep === 0) return;
    const i = this.recentAt;
    const h = raw.hdr;
    for (let k = 0; k < 4; k++) this.hdrs[4 * i + k] = h[k] ?? 0;
    this.cycles[i] = cycle ?? this.sim.cycle;
    this.dirs[i] = dir;
    this.recentAt = (i + 1) % this.keep;
    if (this.noted < this.keep) this.noted++;
  }

  /** The last TLPs, oldest first ("->" to the device, "<-" from it; cycle; the header's four dwords). */
  lastTlps(): string[] {
    const out: string[] = [];
    for (let n = this.noted; n > 0; n--) {
      const i = (this.recentAt - n + this.keep) % this.keep;
      const dws = Array.from(this.hdrs.subarray(4 * i, 4 * i + 4), (d) => d.toString(16).padStart(8, '0'));
      out.push(`${this.dirs[i] === TO_DEVICE ? '->' : '<-'} @${this.cycles[i]} ${dws.join(' ')}`);
    }
    return out;
  }
}

/** The chain the driver built for a request (virtblk_add_req): header, data, status, as the golden model sees it. */
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

/** A request in flight: what the golden model did with it, and the disk range it holds. */
interface InFlight {
  readonly index: number;
  readonly want: BlkOutcome;
  readonly writes: readonly { addr: bigint; data: Uint8Array }[];
  readonly buffers: readonly Region[];
  readonly range?: { start: number; end: number; mutates: boolean };
}

export interface RunOptions {
  /** Requests to complete. */
  requests: number;
  /** Requests in flight per queue (default 1). */
  depth?: number;
  /** The queues to use (default all the driver set up); each request goes to a random one of them. */
  queues?: readonly number[];
  /** Cycles without a completion that end the run as a hang (default 200,000). */
  watchdog?: number;
  /** Called after each completion is checked (the bench times its window with it). */
  onComplete?: (index: number, cycle: number) => void;
}

export interface RunStats {
  requests: number;
  /** Requests that completed with status OK. */
  ok: number;
  cycles: number;
  doorbells: number;
  interrupts: number;
  /** Most requests in flight at once. */
  maxInFlight: number;
}

/** The whole virtio-blk function behind the root complex, probed, with a driver and the golden model. */
export class BlkSystem {
  readonly sim: Sim;
  readonly rc: RootComplex;
  readonly link: SystemLink;
  readonly drv: VirtioPciDriver;
  readonly blk: VirtioBlkDriver;
  readonly golden: BlkDevice;
  readonly invariants = new RingInvariants<BlkRequest>({ record: true });
  readonly features: RingFeatures;
  readonly rng: Rng;
  /** Queue count the driver set up, and each queue's MSI-X vector. */
  readonly queues: number;
  readonly capacity: number;
  /** Doorbell writes and queue interrupts so far. */
  readonly counts = { doorbells: 0, interrupts: 0, submitted: 0, completed: 0, ok: 0 };
  private readonly vectorQueue = new Map<number, number>();
  private readonly pendingIrqs: number[] = [];
  private readonly inflight = new Map<BlkRequest, InFlight>();
  private readonly perQueue: number[];
  private violationsSeen = 0;
  private readonly ctx: WorkloadContext;

  constructor(readonly opts: BlkSystemOptions) {
    const blk = opts.blk ?? defaultBlk();
    const cfg = virtioBlkConfig(blkTopParams(opts.W, blk));
    this.rng = new Rng(opts.seed);
    this.sim = Sim.load({
      ports: blkTopPorts(opts.W, blk),
      quiet: true,
      seed: opts.seed,
      txBackpressure: opts.txBackpressure ?? 0,
      rxIdle: opts.rxIdle ?? 0,
      record: opts.record ?? true,
      verilatorFlags: diskAccessFlags(),
    });
    try {
      // The disk RAM starts zeroed (Verilator's --x-initial fast), as the golden disk does; checkDisk() reads
      // every sector back, so a disk that did not would be found.
      const l = cfg.endpoint.layout;
      this.link = new SystemLink(
        this.sim,
        checkingModel(l, { deviceConfig: cfg.endpoint.deviceConfig }),
        opts.history ?? 24,
      );
      const mem = new WatchedMemory();
      this.rc = new RootComplex(this.link, {
        seed: opts.seed,
        latency: { min: 20, max: 200 },
        violations: 'record',
        ...opts.rc,
        mem,
      });
      this.drv = new VirtioPciDriver(this.rc, {
        ...(opts.driverFeatures ? { driverFeatures: opts.driverFeatures } : {}),
        declineFeatures: [...(opts.declineFeatures ?? []), ...(opts.ring === 'split' ? ['VIRTIO_F_RING_PACKED'] : [])],
      });
      const r = this.drv.probe();
      this.features = ringFeatures(this.drv.features);
      if (this.features.packed !== (opts.ring === 'packed'))
        throw new Error(`blk system: the driver negotiated ${this.features.packed ? 'packed' : 'split'} rings`);
      const has = (n: string) => (this.drv.features & featureMask([n], 'blk')) !== 0n;
      const b = cfg.dataPlane.blk;
      this.golden = new BlkDevice(
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
      const vqs = r.setup.vqs;
      this.queues = vqs.length;
      this.perQueue = new Array(vqs.length).fill(0);
      for (const vq of vqs) {
        this.invariants.addRing(vq.index, vq, this.features.packed);
        this.vectorQueue.set(vq.msixVector, vq.index);
      }
      mem.onDma = (dir, addr, len) =>
        this.invariants.onDma({ dir, addr, len, purpose: 'data', queue: -1, data: EMPTY });
      this.blk = new VirtioBlkDriver({
        mem: this.rc.mem,
        rings: vqs,
        features: this.features,
        observer: this.invariants,
        notify: (q, data) => {
          this.counts.doorbells++;
          this.drv.kick(q, data);
          return true;
        },
      });
      this.rc.onInterrupt((ev) => this.pendingIrqs.push(ev.vector));
      this.capacity = Number(r.capacity);
      const g = this.golden.config;
      this.ctx = {
        mem: this.rc.mem,
        rng: this.rng,
        capacity: this.capacity,
        segMax: b.segMax ?? 1,
        discard: g.discard,
        writeZeroes: g.writeZeroes,
        conflicts: (sector, n, mutates) => this.conflicts(sector, n, mutates),
      };
    } catch (e) {
      this.sim.close();
      throw e;
    }
  }

  /** Requests in flight (all queues, or one). */
  inFlight(q?: number): number {
    return q === undefined ? this.inflight.size : this.perQueue[q];
  }

  private conflicts(sector: number, n: number, mutates: boolean): boolean {
    const end = sector + n;
    for (const f of this.inflight.values()) {
      const r = f.range;
      if (r && (mutates || r.mutates) && sector < r.end && r.start < end) return true;
    }
    return false;
  }

  /**
   * Submits a request on queue q without kicking (kick() after a batch): the golden model runs it first on the
   * same buffers, its writes kept aside. False when the ring is full (the buffers are then freed).
   */
  submit(p: PreparedRequest, q: number): boolean {
    const req = this.blk.submit(p.op, q, false);
    if (req === 'ENOSPC') {
      for (const g of p.buffers) this.rc.mem.unmap(g);
      return false;
    }
    if (req === 'EIO') throw new BlkSystemFailure('driver', `queue ${q} is broken: ${this.blk.vqs[q].brokenReason}`);
    const io = new MemoryChainIo(this.rc.mem, { store: false, queue: q });
    const want = this.golden.handle(io, chainOf(req));
    if (want instanceof RingError) throw want;
    const op = p.op;
    const range =
      op.type === 'read' || op.type === 'write'
        ? {
            start: Number(op.sector),
            end: Number(op.sector) + op.bufs.reduce((a, b) => a + b.len, 0) / SECTOR_SIZE,
            mutates: op.type === 'write',
          }
        : op.type === 'discard' || op.type === 'write-zeroes'
          ? {
              start: Math.min(...op.ranges.map((r) => Number(r.sector))),
              end: Math.max(...op.ranges.map((r) => Number(r.sector) + r.numSectors)),
              mutates: true,
            }
          : undefined;
    this.inflight.set(req, { index: this.counts.submitted++, want, writes: io.writes, buffers: p.buffers, range });
    this.perQueue[q]++;
    return true;
  }

  /** Kicks queue q (virtqueue_kick: the doorbell only if the device's suppression asks for it). */
  kick(q: number): void {
    if (!this.blk.kick(q)) throw new BlkSystemFailure('driver', `queue ${q}: kick failed`);
  }

  /**
   * One pump of the root complex (until the device's next request or interrupt), then the interrupts handled
   * (vring_interrupt on the queue's vector) and each completed request checked against the golden model.
   * Returns the completions checked.
   */
  pump(maxCycles?: number, onComplete?: RunOptions['onComplete']): number {
    this.rc.step({ batchWrites: true, maxCycles });
    this.checkViolations();
    while (this.pendingIrqs.length) {
      const v = this.pendingIrqs.shift()!;
      const q = this.vectorQueue.get(v);
      if (q === undefined) continue;
      this.counts.interrupts++;
      this.blk.vqs[q].interrupt();
    }
    const done = this.blk.takeCompleted();
    for (const r of done) {
      this.check(r);
      onComplete?.(this.counts.completed - 1, this.rc.now);
    }
    if (this.invariants.violations.length) throw new BlkSystemFailure('invariant', this.invariants.violations[0]);
    return done.length;
  }

  private checkViolations(): void {
    const v = this.rc.violations;
    if (v.length === this.violationsSeen) return;
    const first = v[this.violationsSeen];
    this.violationsSeen = v.length;
    throw new BlkSystemFailure(first.code.startsWith('dma-') ? 'dma' : 'violation', first.message);
  }

  private check(r: BlkRequest): void {
    const f = this.inflight.get(r);
    if (!f) throw new BlkSystemFailure('driver', `a request completed that was not in flight (${r.op.type})`);
    this.inflight.delete(r);
    this.perQueue[r.queue]--;
    const what = `request ${f.index} (${r.op.type}${'sector' in r.op ? ` sector ${r.op.sector}` : ''}, queue ${r.queue})`;
    if (r.status !== f.want.status || r.len !== f.want.len)
      throw new BlkSystemFailure(
        'mismatch',
        `${what}: status ${r.status}, used length ${r.len}; the golden model: status ${f.want.status}, length ${f.want.len}${f.want.reason ? ` (${f.want.reason})` : ''}`,
      );
    for (const w of f.writes) {
      // the status byte is compared above (the driver read and freed it)
      if (w.addr === r.statusAddr) continue;
      const got = this.rc.mem.read(w.addr, w.data.length);
      // A plain loop: a findIndex callback per byte was a visible share of the benchmark's TypeScript time.
      let at = -1;
      for (let k = 0; k < got.length; k++)
        if (got[k] !== w.data[k]) {
          at = k;
          break;
        }
      if (at >= 0)
        throw new BlkSystemFailure(
          'mismatch',
          `${what}: host byte 0x${(w.addr + BigInt(at)).toString(16)} is 0x${got[at].toString(16)}, the golden model wrote 0x${w.data[at].toString(16)}`,
        );
    }
    for (const g of f.buffers) this.rc.mem.unmap(g);
    this.counts.completed++;
    if (r.status === BLK_S.OK) this.counts.ok++;
  }

  /**
   * Runs a workload: keeps up to `depth` requests in flight per queue (a batch submitted, then one kick per
   * queue), until `requests` have completed and been checked; nothing left in flight at the end.
   */
  run(workload: Workload, o: RunOptions): RunStats {
    const depth = o.depth ?? 1;
    const queues = o.queues ?? Array.from({ length: this.queues }, (_, i) => i);
    const watchdog = o.watchdog ?? 200_000;
    const start = { ...this.counts, cycle: this.rc.now };
    const target = this.counts.completed + o.requests;
    let toSubmit = o.requests;
    let lastProgress = this.rc.now;
    let maxInFlight = 0;
    while (this.counts.completed < target) {
      if (toSubmit > 0) {
        // a batch per queue (bd->last on its final request: one kick), the queues in a random order
        const first = this.rng.below(queues.length);
        for (let i = 0; i < queues.length; i++) {
          const q = queues[(first + i) % queues.length];
          let added = 0;
          while (toSubmit > 0 && this.perQueue[q] < depth) {
            const p = workload(this.ctx);
            if (!p || !this.submit(p, q)) break;
            added++;
            toSubmit--;
          }
          if (added) this.kick(q);
        }
        maxInFlight = Math.max(maxInFlight, this.inflight.size);
        if (this.inflight.size === 0)
          throw new BlkSystemFailure('driver', 'the workload made no request while none was in flight');
      }
      const n = this.pump(Math.max(1, watchdog - (this.rc.now - lastProgress)), o.onComplete);
      if (n) lastProgress = this.rc.now;
      else if (this.rc.now - lastProgress >= watchdog) throw this.hang(watchdog);
    }
    return {
      requests: o.requests,
      ok: this.counts.ok - start.ok,
      cycles: this.rc.now - start.cycle,
      doorbells: this.counts.doorbells - start.doorbells,
      interrupts: this.counts.interrupts - start.interrupts,
      maxInFlight,
    };
  }

  private hang(cycles: number): BlkSystemFailure {
    const q = Array.from({ length: this.queues }, (_, i) => `queue ${i}: ${this.perQueue[i]} in flight`).join(', ');
    return new BlkSystemFailure(
      'hang',
      `no request completed for ${cycles} cycles (cycle ${this.rc.now}; ${q}); the last TLPs:\n  ${this.link.lastTlps().join('\n  ')}`,
    );
  }

  /**
   * The RTL's disk against the golden disk: every sector read back through the device (8 sectors a request, 8 in
   * flight on queue 0), each read compared with the golden model's like any other. (Through the device rather
   * than the storage RAM: the model then needs no public signal access, which makes Verilator's model about 3x
   * slower.)
   */
  checkDisk(): void {
    let next = 0;
    const chunk = 8;
    const readBack: Workload = (ctx) => {
      const n = Math.min(chunk, this.capacity - next);
      const g = ctx.mem.alloc(n * SECTOR_SIZE, { perm: 'wo', align: 64, name: 'disk check' });
      const op = { type: 'read' as const, sector: BigInt(next), bufs: [{ addr: g.addr, len: n * SECTOR_SIZE }] };
      next += n;
      return { op, buffers: [g] };
    };
    const st = this.run(readBack, { requests: Math.ceil(this.capacity / chunk), depth: 8, queues: [0] });
    if (st.ok !== st.requests)
      throw new BlkSystemFailure('mismatch', `${st.requests - st.ok} read(s) of the disk check did not complete OK`);
  }

  /**
   * The end of a run: the disk compared, every buffer back, no register mismatch, then the driver's remove
   * (a device reset that completes only when both queue engines report it).
   */
  finish(): void {
    if (this.inflight.size) throw new BlkSystemFailure('driver', `${this.inflight.size} request(s) still in flight`);
    this.checkDisk();
    this.invariants.assertDrained();
    if (this.invariants.violations.length) throw new BlkSystemFailure('invariant', this.invariants.violations[0]);
    this.drv.remove();
    this.checkViolations();
    if (this.link.checked.mismatches.length)
      throw new BlkSystemFailure('mismatch', String(this.link.checked.mismatches[0]));
  }

  close(): void {
    this.sim.close();
  }
}

const EMPTY = new Uint8Array(0);
