// The whole virtio-blk function (issue 8): the virtio-pci endpoint (gen/virtio/top.ts) and the data plane
// (gen/virtq/dataplane.ts) joined at the handover, with the disk on an on-chip AXI4 RAM (gen/blk/axi_ram.ts), or
// (storage: 'external') behind the top-level AXI4 master port `storage`.
//
//   rx -> endpoint -> dp (handover) -> data plane -> storage (AXI4) -> ram
//   tx <- endpoint <- dp_tx <- data plane ; endpoint dp_cpl -> data plane
//
// One configuration object (virtioBlkConfig) gives the endpoint's layout (the features offered: what the queue
// engines and the device implement; VIRTIO_F_RING_PACKED exactly when the build has the packed engine, and required
// for FEATURES_OK when it has only that one), the device configuration it reports (the device's own blkOffer: capacity,
// seg_max, size_max, the discard and write-zeroes limits), and the data plane's parameters, so the two halves
// cannot disagree.
import { bitsFor, connect, defineModule } from '../hdl';
import { AxiRam } from '../blk/axi_ram';
import { axi4 } from '../lib/axi';
import { blkOffer, paramHash, type VirtioBlkParams } from '../blk/device';
import { DMA_TEST_LEN_BITS, DMA_TEST_ID_BITS } from '../dma/test_top';
import { type DataWidth, tlpStream } from '../pcie/streams';
import { DEFAULT_LAYOUT, validateLayout, type VirtioPciLayout } from '../virtio/layout';
import { DEVICE_TYPES } from '../virtio/regmap';
import { VirtioEndpoint, type VirtioEndpointParams } from '../virtio/top';
import { DataPlane, type DataPlaneParams, ringFormats, type RingEngines } from './dataplane';
import { PACKED_DEFAULTS } from './packed_params';

export type BlkDeviceOptions = Omit<VirtioBlkParams, 'W' | 'queueBits' | 'lenBits' | 'idBits' | 'addrBits' | 'base'>;

export interface VirtioBlkTopParams {
  W: DataWidth;
  blk: BlkDeviceOptions;
  /** The endpoint's layout before the data plane's features are added (default DEFAULT_LAYOUT). */
  layout?: VirtioPciLayout;
  /**
   * Where the disk lives: 'onchip' (default) an AXI4 RAM of the storage window's size inside the top; 'external'
   * the data plane's AXI4 master as the top-level port `storage` (a card's DRAM; the simulator serves it with its
   * sparse memory model, docs/simulation.md).
   */
  storage?: 'onchip' | 'external';
  /**
   * The ring formats the build serves, one queue engine each (default DEFAULT_RINGS): 'split' does not offer
   * VIRTIO_F_RING_PACKED; 'packed' offers it and refuses FEATURES_OK without it; 'both' offers it and runs the
   * format the driver negotiated. The layout's own VIRTIO_F_RING_PACKED entry is replaced by this choice.
   */
  rings?: RingEngines;
  /**
   * The packed engine keeps the driver from kicking (default false): device event suppression DISABLE while chains
   * of the queue are in flight, and timed looks at the ring after each notification decision (docs/queue-engine.md
   * "Packed rings", "Polls"). Measured in the virtio-blk bench (256 bits, depth 32, main 7 December 2026): doorbells
   * per request 0.090 -> 0 but 512 B reads 47.8 -> 51.0 cycles, since a request added in the driver's interrupt
   * callback waits for the next look where a doorbell would have come sooner. A doorbell is one posted write on a
   * passthrough device, so the default favours small-request latency.
   */
  packedKickSuppression?: boolean;
  /**
   * Offer VIRTIO_F_INDIRECT_DESC (default: offered when the build has the packed engine, `rings` 'packed' or
   * 'both'; not offered on a split-only build). Measured in the virtio-blk bench's sequence (`npx tsx
   * test/virtq/split_figs.ts`, 256 bits, depth 32, EVENT_IDX, main 7 December 2026): on split rings an INDIRECT
   * table costs every request one more dependent host round trip (avail entries -> head descriptor -> table), while
   * Linux's 3-descriptor virtio-blk chains stay contiguous in the descriptor table (its free list is a stack of
   * returned chains), so the head's read ahead gets the whole chain: split 512 B reads 63.2 cycles with it, 52.0
   * without (4 KiB read 0.90 -> 0.923, write 0.87 -> 0.876). On packed rings it helps 4 KiB reads (0.93 with it,
   * 0.882 without: a direct 4 KiB chain fills several ring slots). Without it the split engine is built without its
   * INDIRECT logic (SplitEngineParams `indirect`: no table read ahead or table state; an INDIRECT descriptor is
   * fatal, as the spec asks of a device that did not offer the feature); the packed engine keeps its own.
   */
  indirect?: boolean;
}

/** Whether a build offers VIRTIO_F_INDIRECT_DESC by default (VirtioBlkTopParams `indirect`): with the packed engine. */
export function defaultIndirect(rings: RingEngines): boolean {
  return ringFormats(rings).includes('packed');
}

/** Whether the build `p` offers VIRTIO_F_INDIRECT_DESC. */
export function offersIndirect(p: Pick<VirtioBlkTopParams, 'rings' | 'indirect'>): boolean {
  return p.indirect ?? defaultIndirect(p.rings ?? DEFAULT_RINGS);
}

/** The top's name tag for a non-default `indirect` ('' for the default). */
function indirectTag(p: Pick<VirtioBlkTopParams, 'rings' | 'indirect'>): string {
  const on = offersIndirect(p);
  return on === defaultIndirect(p.rings ?? DEFAULT_RINGS) ? '' : on ? '_ind' : '_noind';
}

/**
 * The default ring formats: split only. Every virtio 1.x driver implements split rings, and several only those
 * (FreeBSD's virtio drivers, firmware such as SeaBIOS and OVMF, Linux before 5.0), while a packed-only device is
 * unusable for them (FEATURES_OK refused); Linux 5.0+ drives a split-only device on split rings.
 * docs/data-plane.md "Ring formats of a build".
 */
export const DEFAULT_RINGS: RingEngines = 'split';

const RING_PACKED = 'VIRTIO_F_RING_PACKED';

/** Transport features the data plane implements (the queue engines). */
export const DATA_PLANE_FEATURES: readonly string[] = [
  'VIRTIO_F_INDIRECT_DESC',
  'VIRTIO_F_EVENT_IDX',
  'VIRTIO_F_IN_ORDER',
  'VIRTIO_F_RING_RESET',
];

/** Completion timeout of the DMA read engine, cycles (about 4 ms at 250 MHz; 2^20 - 1 at most). */
export const DATA_PLANE_TIMEOUT = 1_000_000;

/** The test and default configuration of the disk: 256 KiB storage window, small limits tests can reach. */
export function defaultBlk(over: Partial<BlkDeviceOptions> = {}): BlkDeviceOptions {
  return {
    devBits: 19,
    capacity: 500,
    segMax: 6,
    sizeMax: 16384,
    flush: true,
    discard: { maxSectors: 64, maxSeg: 3 },
    writeZeroes: { maxSectors: 48, maxSeg: 2 },
    id: 'virtio-fpga blk 0001',
    ...over,
  };
}

/** A 1 GiB disk (2^21 sectors, a 2^30-byte storage window) for the external-storage top. */
export function gibBlk(over: Partial<BlkDeviceOptions> = {}): BlkDeviceOptions {
  return defaultBlk({ devBits: 31, capacity: 2 ** 21, ...over });
}

/** Everything the top is built from. */
export function virtioBlkConfig(p: VirtioBlkTopParams): {
  endpoint: VirtioEndpointParams;
  dataPlane: DataPlaneParams;
} {
  const base = p.layout ?? DEFAULT_LAYOUT;
  const b = p.blk;
  // What the device honours, as it says itself (gen/blk/device.ts blkOffer).
  const offer = blkOffer(
    { ...b, W: p.W, queueBits: 1, lenBits: DMA_TEST_LEN_BITS, idBits: DMA_TEST_ID_BITS },
    base.queues.count,
  );
  const rings = p.rings ?? DEFAULT_RINGS;
  const hasPacked = ringFormats(rings).includes('packed');
  const indirect = offersIndirect(p);
  const dataPlaneFeatures = DATA_PLANE_FEATURES.filter((f) => indirect || f !== 'VIRTIO_F_INDIRECT_DESC');
  const transport = base.features.filter((f) => !f.startsWith('VIRTIO_BLK_') && f !== RING_PACKED);
  const layout = validateLayout({
    ...base,
    name: `${base.name}_blk${rings === 'both' ? '' : `_${rings}`}${indirectTag(p)}`,
    features: [
      ...new Set([...transport, ...(hasPacked ? [RING_PACKED] : []), ...dataPlaneFeatures, ...offer.features]),
    ].filter((f) => indirect || f !== 'VIRTIO_F_INDIRECT_DESC'),
  });
  const Q = layout.queues.count;
  const deviceConfig = offer.config;
  const W = p.W;
  return {
    endpoint: {
      layout,
      W,
      deviceConfig,
      dataPlaneFeatures,
      // The data plane never changes the device configuration (dataplane.ts ties cfg_valid to 0): its fields are
      // constants in the endpoint, not registers (gen/virtio/regs.ts).
      staticDeviceConfig: true,
      // virtio 1.2 2.2.2: a device that cannot honour a subset the driver accepted MUST fail FEATURES_OK; a
      // packed-only build cannot serve split rings.
      ...(rings === 'packed' ? { requiredFeatures: [RING_PACKED] } : {}),
    },
    dataPlane: {
      W,
      queues: Q,
      rings,
      cfgFieldBits: bitsFor(DEVICE_TYPES.blk.config.length - 1),
      split: {
        regionBits: 12,
        maxChain: 64,
        availBatch: 16,
        descBatch: 8,
        usedBatch: 16,
        // (the engine's INDIRECT logic only when the feature is offered)
        ...(indirect ? {} : { indirect: false }),
      },
      // Device event suppression and polls only when asked for (VirtioBlkTopParams.packedKickSuppression).
      packed: { ...PACKED_DEFAULTS, kickSuppression: p.packedKickSuppression ?? false },
      blk: b,
      dma: {
        lenBits: DMA_TEST_LEN_BITS,
        idBits: DMA_TEST_ID_BITS,
        // Reads outstanding. At 1 us the completions of 4 KiB writes' 512-byte reads queue on the link behind each
        // other (a read's last completion arrives 300-500 cycles after it left at 0.85 of the link), so 32 tags
        // (16 KB) were all in use and capped 4 KiB writes near 0.8 of 32 B/clk: 64 need Extended Tag (Linux
        // enables it; without it the engine uses tags 0-31).
        tags: 64,
        // Commands with reads outstanding: virtio-blk has a header read (a command) in flight per request slot
        // (gen/blk BLK_DEFAULT_SLOTS), besides its data reads (one command per 4 KiB, ended ~600 cycles after it
        // started) and the queue engines' ring reads: 16 were all taken once tags were not.
        slots: 32,
        timeoutBits: 20,
        mpsSupported: 5,
        readAhead: 8,
      },
    },
  };
}

export const VirtioBlkTop = defineModule(
  'virtio_blk_top',
  (m, p: VirtioBlkTopParams) => {
    const c = virtioBlkConfig(p);
    const W = p.W;
    const ep = m.instance('ep', VirtioEndpoint, c.endpoint).io;
    const dpl = m.instance('dataplane', DataPlane, c.dataPlane).io;
    const storage =
      p.storage === 'external'
        ? m.output('storage', axi4(2 * W, p.blk.devBits - 1))
        : m.instance('disk', AxiRam, { dataBits: 2 * W, bytes: 2 ** (p.blk.devBits - 1) }).io.s;
    connect(ep.rx, m.input('rx', tlpStream(W)));
    connect(m.output('tx', tlpStream(W)), ep.tx);
    connect(dpl.dp, ep.dp);
    connect(ep.dp_tx, dpl.tx);
    connect(dpl.cpl, ep.dp_cpl);
    dpl.timeout.set(DATA_PLANE_TIMEOUT);
    connect(storage, dpl.storage);
    m.output('busy', 1).set(dpl.busy);
  },
  {
    name: (p) =>
      `virtio_blk_top_${(p.layout ?? DEFAULT_LAYOUT).name}_${p.rings ?? DEFAULT_RINGS}_w${p.W}_${paramHash(p.blk)}${p.storage === 'external' ? '_ext' : ''}${p.packedKickSuppression ? '_pks' : ''}${indirectTag(p)}`,
    doc: 'virtio-blk PCIe function: virtio-pci endpoint, the queue engines of its ring formats, virtio-blk, DMA fabric, on-chip disk.',
  },
);
