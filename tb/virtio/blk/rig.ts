// The whole virtio-blk function (gen/virtq/blk_top.ts) in simulation, the layer every harness of it builds on: the
// top loaded (on-chip disk or external storage on the simulator's sparse AXI4 memory), the link to it (register
// traffic through the golden-transport checker, the last TLPs kept for hang reports) and the root complex in front
// of it; and the golden BlkDevice for what the driver negotiated. BlkSystem (system.ts: the Linux-faithful probe,
// the driver, requests in flight checked against the golden model) and the fault suite's harness
// (test/system/blk-function.ts: bring-up by hand, crafted rings, injected faults) are built on it.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DataWidth } from '../../../gen/pcie/streams';
import { defaultBlk, VirtioBlkTop, virtioBlkConfig, type BlkDeviceOptions } from '../../../gen/virtq/blk_top';
import type { RingEngines } from '../../../gen/virtq/dataplane';
import { DEFAULT_LAYOUT } from '../../../gen/virtio/layout';
import { featureMask } from '../../../gen/virtio/regmap';
import type { AxiMemoryOptions } from '../../../sim/axi';
import { designPorts } from '../../../sim/design';
import { Sim } from '../../../sim/index';
import type { RawTlp, TlpBatch } from '../../../sim/raw';
import type { HostMemory } from '../../pcie/hostmem';
import { sendBatchSingly, type Link, type LinkRunOptions } from '../../pcie/link';
import type { RootComplexOptions } from '../../pcie/options';
import { RootComplex } from '../../pcie/rootcomplex';
import { CheckedLink, checkingModel } from '../checker';
import { SECTOR_SIZE } from './defs';
import { BlkDevice } from './device';
import { SparseDisk } from './disk';

/** Where the disk is: the on-chip AXI4 RAM, or behind the top's AXI4 port (the simulator's sparse memory). */
export type BlkStorage = 'onchip' | 'external';

/**
 * The ring engines of the harnesses' build unless they ask for another: both (the driver takes packed, or declines
 * it for split: one build serves both formats). The single-format builds (the product's default is split only,
 * gen/virtq/blk_top.ts DEFAULT_RINGS) are asked for by the tests at 256 bits and the benchmark.
 */
export const HARNESS_RINGS: RingEngines = 'both';

/** The top's parameters for a width: the default layout, the given ring engines (default HARNESS_RINGS). */
export function blkTopParams(
  W: DataWidth,
  blk: BlkDeviceOptions = defaultBlk(),
  storage: BlkStorage = 'onchip',
  rings: RingEngines = HARNESS_RINGS,
  packedKicks = false,
) {
  return {
    W,
    blk,
    layout: DEFAULT_LAYOUT,
    rings,
    ...(storage === 'external' ? { storage } : {}),
    ...(packedKicks ? { packedKickSuppression: true } : {}),
  };
}

const portsCache = new Map<string, string>();
/** The top's ports JSON path (elaborated and emitted once per process). */
export function blkTopPorts(
  W: DataWidth,
  blk: BlkDeviceOptions = defaultBlk(),
  storage: BlkStorage = 'onchip',
  rings: RingEngines = HARNESS_RINGS,
  packedKicks = false,
): string {
  const key = JSON.stringify([W, blk, storage, rings, packedKicks]);
  let p = portsCache.get(key);
  if (!p)
    portsCache.set(key, (p = designPorts(VirtioBlkTop.elaborate(blkTopParams(W, blk, storage, rings, packedKicks)))));
  return p;
}

/**
 * Verilator flags that make the on-chip disk's RAM (gen/blk/axi_ram.ts `mem`) and nothing else public: a control
 * file, for harnesses that read or seed the disk directly (the Linux bridge). (--public-flat-rw on the whole design
 * made the model five times slower.) The file's name carries a hash of its text, so the model's build cache, keyed
 * by the flags, follows a change of it.
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
export function buildBlkTop(
  W: DataWidth,
  blk: BlkDeviceOptions = defaultBlk(),
  storage: BlkStorage = 'onchip',
  rings: RingEngines = HARNESS_RINGS,
  packedKicks = false,
): void {
  Sim.load({ ports: blkTopPorts(W, blk, storage, rings, packedKicks), resetCycles: 0, quiet: true }).close();
}

/** Completion type (Cpl, CplD, CplLk, CplDLk): DW0's Type field 0b0101x. */
const isCompletionDw0 = (dw0: number) => ((dw0 >>> 25) & 0xf) === 0b0101;
const isCompletion = (raw: RawTlp) => isCompletionDw0(raw.hdr[0]);

/** Directions in SystemLink's history. */
const TO_DEVICE = 0;
const FROM_DEVICE = 1;

/**
 * The link to the simulator: register traffic through the golden-transport checker, the DMA completions the RC
 * sends (most of the traffic, which the checker ignores) straight to the simulator, so that the simulator's
 * copying sends and delivery reports stay available to the RC; and the last TLPs both ways, for hang reports.
 */
export class SystemLink implements Link {
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
    onMismatch: 'throw' | 'record' = 'throw',
  ) {
    const inner: Link = {
      get cycle() {
        return sim.cycle;
      },
      send: (raw, at) => (this.tracked ? sim.sendTracked(raw, at, this.tracked) : sim.send(raw, at)),
      run: (o) => sim.run(o),
      takeTx: () => this.stash.splice(0),
    };
    this.checked = new CheckedLink(inner, model, onMismatch);
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
  /** A batch of completions (the RC's answer to a read) straight to the simulator, each kept in the history. */
  sendBatch(b: TlpBatch, delivered?: (cycle: number) => void): void {
    for (let k = 0; k < b.count; k++)
      if (!isCompletionDw0(b.hdr[4 * k])) {
        sendBatchSingly(this, b, delivered); // not only completions: each through send(), the checker's way
        return;
      }
    for (let k = 0; k < b.count; k++) this.noteHeader(TO_DEVICE, b.hdr, 4 * k, b.cycle[k]);
    this.sim.sendBatch(b, delivered);
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
    this.noteHeader(dir, raw.hdr, 0, cycle);
  }
  /** note() of the header dwords h[at..at+3]. */
  private noteHeader(dir: number, h: ArrayLike<number>, at: number, cycle: number | undefined): void {
    if (this.keep === 0) return;
    const i = this.recentAt;
    for (let k = 0; k < 4; k++) this.hdrs[4 * i + k] = h[at + k] ?? 0;
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

export interface BlkRigOptions {
  W: DataWidth;
  seed: number;
  blk?: BlkDeviceOptions;
  /** The disk's place (default 'onchip'). */
  storage?: BlkStorage;
  /** The ring engines built (default HARNESS_RINGS: both). */
  rings?: RingEngines;
  /** The packed engine's kick suppression built in (VirtioBlkTopParams.packedKickSuppression; default false). */
  packedKicks?: boolean;
  /** External storage: the AXI4 memory's settings. */
  axi?: AxiMemoryOptions;
  /** Probability of tx_ready low on a cycle; of an idle cycle before an rx beat. */
  txBackpressure?: number;
  rxIdle?: number;
  /** Record the stimulus for a pure C++ replay (default true). */
  record?: boolean;
  /** TLPs kept for a hang report (default 24). */
  history?: number;
  /** A register read that differs from the golden transport: thrown (default) or recorded (`link.checked`). */
  mismatches?: 'throw' | 'record';
  /** The root complex's options, complete (the caller's defaults: latency, violations, memory). */
  rc: RootComplexOptions & { mem?: HostMemory };
}

/** The function loaded, linked and behind a root complex: nothing probed yet. */
export class BlkRig {
  readonly sim: Sim;
  readonly link: SystemLink;
  readonly rc: RootComplex;
  /** Everything the top is built from (the endpoint's layout and configuration, the data plane's parameters). */
  readonly cfg: ReturnType<typeof virtioBlkConfig>;
  readonly storage: BlkStorage;
  readonly rings: RingEngines;

  constructor(readonly opts: BlkRigOptions) {
    const blk = opts.blk ?? defaultBlk();
    this.storage = opts.storage ?? 'onchip';
    if (opts.axi && this.storage !== 'external')
      throw new Error('blk function: AXI4 memory settings need storage: external');
    this.rings = opts.rings ?? HARNESS_RINGS;
    const kicks = opts.packedKicks ?? false;
    this.cfg = virtioBlkConfig(blkTopParams(opts.W, blk, this.storage, this.rings, kicks));
    this.sim = Sim.load({
      ports: blkTopPorts(opts.W, blk, this.storage, this.rings, kicks),
      quiet: true,
      seed: opts.seed,
      txBackpressure: opts.txBackpressure ?? 0,
      rxIdle: opts.rxIdle ?? 0,
      record: opts.record ?? true,
      ...(opts.axi ? { axi: { storage: opts.axi } } : {}),
    });
    try {
      const l = this.cfg.endpoint.layout;
      this.link = new SystemLink(
        this.sim,
        checkingModel(l, {
          deviceConfig: this.cfg.endpoint.deviceConfig,
          requiredFeatures: this.cfg.endpoint.requiredFeatures,
        }),
        opts.history ?? 24,
        opts.mismatches ?? 'throw',
      );
      this.rc = new RootComplex(this.link, opts.rc);
    } catch (e) {
      this.sim.close();
      throw e;
    }
  }

  /**
   * The golden BlkDevice for the disk's configuration and the negotiated block features (`features`: the
   * driver's feature bits), over a fresh disk.
   */
  golden(features: bigint): BlkDevice {
    const has = (n: string) => (features & featureMask([n], 'blk')) !== 0n;
    const b = this.cfg.dataPlane.blk;
    return new BlkDevice(
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
  }

  close(): void {
    this.sim.close();
  }
}
