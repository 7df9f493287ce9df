// The whole virtio-blk function (gen/virtq/blk_top.ts: endpoint, split and packed queue engines, virtio-blk, DMA
// fabric, on-chip disk) in simulation with everything that checks it: the harness the end-to-end tests, the soak,
// the benchmark and the main job share. With `storage: 'external'` the disk is behind the top's AXI4 port, served
// by the simulator's sparse AXI4 memory (sim/axi.ts; a 1 GiB disk is cheap): the disk can be seeded and is
// checked directly in that memory, and its error injection (the `error*` settings) is modelled: a request whose
// storage the injected range covers must complete IOERR (the golden model's `storageFault`), and one hit by an
// error the golden model could not foresee (`errorNth`, `errorRate`) may, when the memory's last injected error
// is in its range.
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
import type { DataWidth } from '../../../gen/pcie/streams';
import { defaultBlk, type BlkDeviceOptions } from '../../../gen/virtq/blk_top';
import { ringFormats, type RingEngines } from '../../../gen/virtq/dataplane';
import type { AxiMemoryOptions } from '../../../sim/axi';
import type { Sim } from '../../../sim/index';
import { Rng } from '../../../sim/random';
import { HostMemory, type Addr, type Region } from '../../pcie/hostmem';
import type { RootComplexOptions } from '../../pcie/options';
import type { RootComplex } from '../../pcie/rootcomplex';
import { VirtioPciDriver } from '../driver/driver';
import { type Chain, type ChainSegment, RingError } from '../ring/device';
import { ringFeatures, type RingFeatures } from '../ring/defs';
import { RingInvariants } from '../ring/invariants';
import { MemoryChainIo } from './chainio';
import { BLK_S, SECTOR_SIZE } from './defs';
import { BlkDevice, type BlkOutcome, type StorageFault } from './device';
import { type BlkRequest, VirtioBlkDriver } from './driver';
import { BlkRig, type BlkStorage, SystemLink } from './rig';
import type { PreparedRequest, Workload, WorkloadContext } from './workload';

export type RingFormat = 'packed' | 'split';
export { blkTopParams, blkTopPorts, buildBlkTop, diskAccessFlags, HARNESS_RINGS, type BlkStorage } from './rig';
/** The disk bytes [from, to) an injected AXI error range makes fail, from the memory's settings (or none). */
function injectedRange(axi: AxiMemoryOptions | undefined): StorageFault | undefined {
  const from = axi?.errorFrom ?? 0;
  const to = axi?.errorTo ?? 0;
  const dirs = axi?.errorDirs ?? 3;
  if (!(to > from)) return undefined;
  return (dir, off, len) => ((dirs >> (dir === 'read' ? 0 : 1)) & 1) === 1 && off < to && from < off + len;
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
  /** The disk's place (default 'onchip'). */
  storage?: BlkStorage;
  /** The ring engines of the build (default the rig's HARNESS_RINGS, both); `ring` must be one of them. */
  rings?: RingEngines;
  /** The packed engine's kick suppression built in (VirtioBlkTopParams.packedKickSuppression; default false). */
  packedKicks?: boolean;
  /**
   * External storage: the AXI4 memory's settings (latency, backpressure, error injection). An injected error range
   * (errorFrom..errorTo) is modelled exactly: requests whose disk bytes it covers must fail. Keep requests that do
   * not fail one word (2W bits) away from it: a read may fetch the word before or after its data.
   */
  axi?: AxiMemoryOptions;
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

/**
 * The chain the driver built for a request (virtblk_add_req): header, data, status, as the golden model sees it.
 * Built with plain loops: it runs per request, and every closure created under tsx costs a defineProperty (its
 * keepNames helper), measured at ~15% of this function's callers' time in the virtio-blk bench.
 */
function chainOf(r: BlkRequest): Chain {
  const [hdr, status, dwz] = r.regions;
  const op = r.op;
  const segments: ChainSegment[] = [{ addr: hdr.addr, len: 16, write: false }];
  if (op.type === 'read' || op.type === 'write')
    for (const b of op.bufs) segments.push({ addr: b.addr, len: b.len, write: op.type === 'read' });
  else if (op.type === 'get-id') segments.push({ addr: op.buf.addr, len: op.buf.len, write: true });
  else if (op.type !== 'flush') segments.push({ addr: dwz.addr, len: dwz.size, write: false });
  segments.push({ addr: status.addr, len: 1, write: true });
  let readable = 0;
  let writable = 0;
  for (const s of segments) {
    if (s.write) writable += s.len;
    else readable += s.len;
  }
  return { id: 0, avail: 0, descs: segments.length, indirect: false, segments, readable, writable };
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
  readonly counts = { doorbells: 0, interrupts: 0, submitted: 0, completed: 0, ok: 0, storageErrors: 0 };
  private readonly vectorQueue = new Map<number, number>();
  private readonly pendingIrqs: number[] = [];
  private readonly inflight = new Map<BlkRequest, InFlight>();
  private readonly perQueue: number[];
  private violationsSeen = 0;
  private readonly ctx: WorkloadContext;
  /** External storage: disk byte ranges requests or seeding may have changed (the disk check compares them). */
  private readonly touched: { off: number; len: number }[] = [];
  /** External storage: injected errors seen so far (read + write bursts). */
  private injectedSeen = 0;
  readonly storage: BlkStorage;

  constructor(readonly opts: BlkSystemOptions) {
    if (opts.rings && !ringFormats(opts.rings).includes(opts.ring))
      throw new Error(`blk system: a ${opts.ring} ring on a build with rings '${opts.rings}'`);
    const blk = opts.blk ?? defaultBlk();
    this.storage = opts.storage ?? 'onchip';
    this.rng = new Rng(opts.seed);
    const mem = new WatchedMemory();
    // The disk RAM starts zeroed (Verilator's --x-initial fast), as the golden disk does; checkDisk() reads
    // every sector back, so a disk that did not would be found.
    const rig = new BlkRig({
      ...opts,
      blk,
      rc: { seed: opts.seed, latency: { min: 20, max: 200 }, violations: 'record', ...opts.rc, mem },
    });
    this.sim = rig.sim;
    this.link = rig.link;
    this.rc = rig.rc;
    const cfg = rig.cfg;
    try {
      this.drv = new VirtioPciDriver(this.rc, {
        ...(opts.driverFeatures ? { driverFeatures: opts.driverFeatures } : {}),
        declineFeatures: [...(opts.declineFeatures ?? []), ...(opts.ring === 'split' ? ['VIRTIO_F_RING_PACKED'] : [])],
      });
      const r = this.drv.probe();
      this.features = ringFeatures(this.drv.features);
      if (this.features.packed !== (opts.ring === 'packed'))
        throw new Error(`blk system: the driver negotiated ${this.features.packed ? 'packed' : 'split'} rings`);
      const b = cfg.dataPlane.blk;
      this.golden = rig.golden(this.drv.features);
      this.golden.storageFault = injectedRange(opts.axi);
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
        observer: {
          added: (vq, data, out, inn, indirect) => this.invariants.added(vq, data, out, inn, indirect),
          // A read that failed in storage wrote its data (unspecified) and reports used length 1 (the golden
          // model's rule for errors): the used length is then not the bytes written (virtio 1.2 2.7.8.2 lets a
          // device write more than len); the status and length are checked against the golden model instead.
          returned: (vq, data, len, fromDevice) =>
            this.invariants.returned(vq, data, len, fromDevice && !(len === 1 && this.storageFailed(data))),
        },
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
    if (range?.mutates)
      this.touched.push({ off: range.start * SECTOR_SIZE, len: (range.end - range.start) * SECTOR_SIZE });
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
    const unforeseen = this.unforeseenError(r, f);
    if (unforeseen || (f.want.status === BLK_S.IOERR && /^storage/.test(f.want.reason ?? '')))
      this.counts.storageErrors++;
    if (unforeseen) {
      for (const g of f.buffers) this.rc.mem.unmap(g);
      this.counts.completed++;
      return;
    }
    if (r.status !== f.want.status || r.len !== f.want.len)
      throw new BlkSystemFailure(
        'mismatch',
        `${what}: status ${r.status}, used length ${r.len}; the golden model: status ${f.want.status}, length ${f.want.len}${f.want.reason ? ` (${f.want.reason})` : ''}`,
      );
    for (const w of f.writes) {
      // the status byte is compared above (the driver read and freed it)
      if (w.addr === r.statusAddr) continue;
      const at = this.rc.mem.firstDifference(w.addr, w.data);
      if (at >= 0)
        throw new BlkSystemFailure(
          'mismatch',
          `${what}: host byte 0x${(w.addr + BigInt(at)).toString(16)} is 0x${this.rc.mem.readU8(w.addr + BigInt(at)).toString(16)}, the golden model wrote 0x${w.data[at].toString(16)}`,
        );
    }
    for (const g of f.buffers) this.rc.mem.unmap(g);
    this.counts.completed++;
    if (r.status === BLK_S.OK) this.counts.ok++;
  }

  /**
   * External storage: whether a request the golden model completed OK came back IOERR (used length 1) from an
   * injected storage error it could not foresee (errorNth, errorRate): the memory injected one since the last
   * such completion, the last at an address in the request's storage range (a read's widened by a word each
   * side). A failed write's range becomes unspecified on the golden disk.
   */
  private unforeseenError(r: BlkRequest, f: InFlight): boolean {
    if (this.storage !== 'external' || f.want.status !== BLK_S.OK || r.status !== BLK_S.IOERR || r.len !== 1)
      return false;
    const st = this.sim.axi('storage').stats();
    const injected = st.readErrors + st.writeErrors;
    if (injected === this.injectedSeen || !f.range) return false;
    const word = (2 * this.opts.W) / 8;
    const slack = f.range.mutates ? 0 : word;
    const lo = f.range.start * SECTOR_SIZE - slack;
    const hi = f.range.end * SECTOR_SIZE + slack;
    if (st.lastErrorAddr < lo || st.lastErrorAddr >= hi) return false;
    this.injectedSeen = injected;
    if (f.range.mutates)
      this.golden.unspecified.push({
        off: f.range.start * SECTOR_SIZE,
        len: (f.range.end - f.range.start) * SECTOR_SIZE,
      });
    return true;
  }

  /** A request came back IOERR while the storage memory has injected errors. */
  private storageFailed(r: BlkRequest): boolean {
    if (this.storage !== 'external') return false;
    const st = this.sim.axi('storage').stats();
    return st.readErrors + st.writeErrors > 0 && this.rc.mem.readU8(r.statusAddr) === BLK_S.IOERR;
  }

  /** External storage: writes `bytes` at disk byte `off` into both the RTL's disk and the golden disk. */
  seedDisk(off: number, bytes: Uint8Array): void {
    if (this.storage !== 'external') throw new Error('blk system: seedDisk needs storage: external');
    this.sim.axi('storage').write(off, bytes);
    this.golden.disk.write(off, bytes);
    this.touched.push({ off, len: bytes.length });
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
    if (this.storage === 'external') return this.checkExternalDisk();
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
   * External storage: the AXI4 memory against the golden disk over every range seeded or written by a request
   * (the rest of a 1 GiB disk is zero in both: the memory's pages must be no more than those ranges cover),
   * skipping what failed writes left unspecified.
   */
  private checkExternalDisk(): void {
    const mem = this.sim.axi('storage');
    const skip = this.golden.unspecified;
    const pages = new Set<number>();
    for (const t of this.touched) {
      const rtl = mem.read(t.off, t.len);
      const want = this.golden.disk.read(t.off, t.len);
      for (let i = 0; i < t.len; i++) {
        const a = t.off + i;
        if (rtl[i] === want[i] || skip.some((u) => a >= u.off && a < u.off + u.len)) continue;
        throw new BlkSystemFailure(
          'mismatch',
          `disk byte 0x${a.toString(16)} (sector ${Math.floor(a / SECTOR_SIZE)}) is 0x${rtl[i].toString(16)}, the golden disk has 0x${want[i].toString(16)}`,
        );
      }
      for (let p = Math.floor(t.off / 4096); p <= Math.floor((t.off + t.len - 1) / 4096); p++) pages.add(p);
    }
    const st = mem.stats();
    if (st.pages > pages.size)
      throw new BlkSystemFailure(
        'mismatch',
        `the disk has ${st.pages} pages allocated; the requests and seeding touched only ${pages.size}`,
      );
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
