// The designs `npm run gen` writes to hdl/ (the default configuration): the standard-library blocks at
// representative sizes, the PCIe test endpoint at every TLP stream width, and the virtio-blk endpoint's control
// plane (gen/virtio) at every width with the default layout and at 256 bits with the P-Tile preset. Every module
// under a top is emitted once (modules are shared by name), plus `<top>.ports.json` per top.
import type { HwModule } from './hdl';
import {
  AsyncFifo,
  BramFifo,
  Counter,
  CreditCounter,
  Fifo,
  FixedPriorityArbiter,
  OccupancyCounter,
  PipeReg,
  PriorityEncoder,
  RegSlice,
  RoundRobinArbiter,
} from './lib';
import { VirtioBlk } from './blk/device';
import { BlkTestTop, blkTestDeviceParams, blkTestParams } from './blk/test_top';
import { DmaRead } from './dma/read_engine';
import { dmaTestParams } from './dma/test_top';
import { DmaWrite } from './dma/write_engine';
import { PacketArbiter } from './pcie/arbiter';
import { CfgSpace } from './pcie/cfg_space';
import { CplGen } from './pcie/cpl_gen';
import { DmaRd } from './pcie/dma_rd';
import { DmaWr } from './pcie/dma_wr';
import { Msix } from './pcie/msix';
import { RX_PORTS, RxClassifier, RxDemux } from './pcie/rx_demux';
import { cplReqStream, tlpStream } from './pcie/streams';
import { TlpSlice } from './pcie/tlp_slice';
import { UrResponder } from './pcie/ur_responder';
import { BAR2_BYTES } from './testdev/regs';
import { Testdev, TESTDEV_CFG, TESTDEV_WIDTHS, testdevParams } from './testdev/top';
import { DEFAULT_FORWARD } from './virtio/cfg_layout';
import { DEFAULT_LAYOUT, PTILE_LAYOUT } from './virtio/layout';
import { VIRTIO_WIDTHS, VirtioEndpoint } from './virtio/top';
import { DEFAULT_RINGS, defaultBlk, gibBlk, VirtioBlkTop, virtioBlkConfig } from './virtq/blk_top';
import { fabricClients } from './virtq/dataplane';
import { DmaFabric } from './virtq/dma_fabric';
import { PackedEngine } from './virtq/packed_engine';
import { PackedTestTop, packedTestParams } from './virtq/packed_test_top';
import { SplitEngine } from './virtq/split_engine';
import { SPLIT_TEST_QUEUES, SPLIT_TEST_WIDTHS, SplitTestTop, splitTestParams } from './virtq/split_test_top';

export interface TopConfig {
  /** What the design is. */
  description: string;
  elaborate(): HwModule;
  /**
   * Timing budget: the most LUT levels (LUT and MUXF cells on the longest flip-flop to flip-flop path, after
   * Yosys synth_xilinx) the design may have; `npm run synth` fails above it.
   */
  lutLevels?: number;
  /**
   * false: a test fixture (or a block that a larger top contains) that `npm run synth` and the main job leave out
   * to keep CI short; `npm run synth -- --path NAME` still synthesizes it.
   */
  synth?: boolean;
}

/** The LUT-level budget of the PCIe endpoint blocks and of the endpoints built from them. */
export const PCIE_LUT_LEVELS = 9;

/**
 * The shared PCIe endpoint blocks (gen/pcie) alone at 256 bits, as the test endpoint configures them: a row
 * each in `npm run synth`, so a block that gets deeper than the budget is named, not just the endpoint.
 */
const BLOCK_W = 256;
const pcieBlocks: TopConfig[] = [
  {
    description: 'RX classifier (BAR match, sideband, port), 256 bits',
    elaborate: () =>
      RxClassifier.elaborate({
        W: BLOCK_W,
        bars: TESTDEV_CFG.bars.map((b) => ({ index: b.index, sizeLog2: b.sizeLog2 })),
      }),
  },
  { description: 'RX demux, 4 ports, 256 bits', elaborate: () => RxDemux.elaborate({ W: BLOCK_W, ports: RX_PORTS }) },
  {
    description: 'configuration space (test endpoint layout), 256 bits',
    elaborate: () => CfgSpace.elaborate({ ...TESTDEV_CFG, W: BLOCK_W }),
  },
  { description: 'UR responder, 256 bits', elaborate: () => UrResponder.elaborate({ W: BLOCK_W }) },
  {
    description: 'completion-request arbiter, 3 inputs, 256 bits',
    elaborate: () => PacketArbiter.elaborate({ spec: cplReqStream(BLOCK_W), n: 3 }),
  },
  { description: 'completion generator, 256 bits', elaborate: () => CplGen.elaborate({ W: BLOCK_W }) },
  {
    description: 'TLP arbiter, 4 inputs, 256 bits',
    elaborate: () => PacketArbiter.elaborate({ spec: tlpStream(BLOCK_W), n: 4 }),
  },
  { description: 'TLP register slice, 256 bits', elaborate: () => TlpSlice.elaborate({ W: BLOCK_W }) },
  {
    description: 'DMA read engine (host -> device RAM), 16 tags, 256 bits',
    elaborate: () => {
      const q = testdevParams(BLOCK_W);
      return DmaRd.elaborate({
        W: BLOCK_W,
        tags: q.readTags,
        ramLog2: q.ramLog2,
        lenBits: q.lenBits,
        timeoutBits: q.timeoutBits,
      });
    },
  },
  {
    description: 'DMA write engine (device RAM -> host), 256 bits',
    elaborate: () => {
      const q = testdevParams(BLOCK_W);
      return DmaWr.elaborate({
        W: BLOCK_W,
        ramLog2: q.ramLog2,
        lenBits: q.lenBits,
        mpsSupported: TESTDEV_CFG.mpsSupported,
      });
    },
  },
  {
    description: 'MSI-X table, PBA and messages, 4 vectors, 256 bits',
    elaborate: () =>
      Msix.elaborate({
        W: BLOCK_W,
        vectors: TESTDEV_CFG.msix.vectors,
        tableOffset: TESTDEV_CFG.msix.tableOffset,
        pbaOffset: TESTDEV_CFG.msix.pbaOffset,
        barLog2: Math.log2(BAR2_BYTES),
      }),
  },
].map((t) => ({ ...t, lutLevels: PCIE_LUT_LEVELS }));

export const tops: TopConfig[] = [
  { description: 'LUTRAM FIFO, 64 bits x 16', elaborate: () => Fifo.elaborate({ width: 64, depth: 16 }) },
  { description: 'block-RAM FIFO, 64 bits x 512', elaborate: () => BramFifo.elaborate({ width: 64, depth: 512 }) },
  {
    description: 'asynchronous (dual-clock) FIFO, 64 bits x 512, almost_full at 480, levels',
    elaborate: () => AsyncFifo.elaborate({ width: 64, depth: 512, almostFull: 480, levels: true }),
  },
  {
    description: 'register slice (2-entry skid buffer), 256 bits',
    elaborate: () => RegSlice.elaborate({ width: 256 }),
  },
  { description: 'forward pipeline register, 256 bits', elaborate: () => PipeReg.elaborate({ width: 256 }) },
  { description: 'round-robin arbiter, 16 requesters', elaborate: () => RoundRobinArbiter.elaborate({ n: 16 }) },
  { description: 'fixed-priority arbiter, 16 requesters', elaborate: () => FixedPriorityArbiter.elaborate({ n: 16 }) },
  { description: 'priority encoder, 64 bits', elaborate: () => PriorityEncoder.elaborate({ width: 64 }) },
  { description: 'modulo counter, 1000', elaborate: () => Counter.elaborate({ modulus: 1000 }) },
  { description: 'occupancy counter, 0..256', elaborate: () => OccupancyCounter.elaborate({ max: 256 }) },
  { description: 'credit counter, 64 credits', elaborate: () => CreditCounter.elaborate({ max: 64 }) },
  ...pcieBlocks,
  ...TESTDEV_WIDTHS.map((W) => ({
    description: `PCIe test endpoint (config, MMIO, DMA, MSI-X), ${W}-bit TLP stream`,
    elaborate: () => Testdev.elaborate({ W }),
    lutLevels: PCIE_LUT_LEVELS,
  })),
  // The DMA engines (gen/dma) as the tests build them: 32 tags, 64 KiB of device memory, 8 command slots.
  ...([64, 256] as const).flatMap((W) => {
    const q = dmaTestParams({ W, tags: 32, devBits: 16 });
    return [
      {
        description: `DMA read engine (host -> device, byte-granular, line-rate completions), ${W}-bit, 32 tags`,
        elaborate: () => DmaRead.elaborate(q.read),
        lutLevels: PCIE_LUT_LEVELS,
      },
      {
        description: `DMA write engine (device -> host, byte-granular), ${W}-bit`,
        elaborate: () => DmaWrite.elaborate(q.write),
        lutLevels: PCIE_LUT_LEVELS,
      },
    ];
  }),
  // virtio-blk (gen/blk): the device alone, and its test top (device, DMA engines, on-chip AXI4 RAM storage).
  ...([64, 256] as const).flatMap((W) => [
    {
      description: `virtio-blk device (requests, DMA client, AXI4 storage port), ${W}-bit, test configuration`,
      synth: false,
      elaborate: () => VirtioBlk.elaborate(blkTestDeviceParams(blkTestParams(W))),
      lutLevels: 9,
    },
    {
      description: `virtio-blk test top (device, DMA engines, 256 KiB on-chip AXI4 RAM), ${W}-bit`,
      synth: false,
      elaborate: () => BlkTestTop.elaborate(blkTestParams(W)),
    },
  ]),
  // The split-ring queue engine with its own DMA engines (gen/virtq/split_test_top.ts), as test/virtq builds it.
  ...SPLIT_TEST_WIDTHS.map((W) => ({
    description: `split virtqueue engine with DMA read/write engines, 3 queues, ${W}-bit`,
    synth: false,
    elaborate: () => SplitTestTop.elaborate({ W, queues: SPLIT_TEST_QUEUES }),
  })),
  // The split-ring queue engine alone, in its test top's configuration: its own timing budget at 64 bits.
  ...SPLIT_TEST_WIDTHS.map((W) => ({
    description: `split virtqueue engine (fetch side with reads ahead, used side), 3 queues, ${W}-bit`,
    elaborate: () => SplitEngine.elaborate(splitTestParams({ W, queues: SPLIT_TEST_QUEUES })),
    ...(W === 64 ? { lutLevels: PCIE_LUT_LEVELS } : { synth: false }),
  })),
  // The same without INDIRECT (a split-only virtio-blk build's engine, gen/virtq/blk_top.ts `indirect`), and its
  // test top (test/virtq/split_malformed.test.ts).
  {
    description: `split virtqueue engine without INDIRECT, 3 queues, 256-bit`,
    synth: false,
    elaborate: () => SplitEngine.elaborate(splitTestParams({ W: 256, queues: SPLIT_TEST_QUEUES, indirect: false })),
  },
  {
    description: `split virtqueue engine without INDIRECT with DMA read/write engines, 3 queues, 64-bit`,
    synth: false,
    elaborate: () => SplitTestTop.elaborate({ W: 64, queues: SPLIT_TEST_QUEUES, indirect: false }),
  },
  // The DMA fabric (gen/virtq/dma_fabric.ts) with the clients of the data plane with both ring engines (split,
  // packed, blk), and the whole virtio-blk function.
  {
    description: 'DMA fabric: DMA read and write engines shared by 3 clients (split, packed, blk regions), 256-bit',
    synth: false,
    elaborate: () => {
      const d = virtioBlkConfig({ W: 256, blk: defaultBlk(), rings: 'both' }).dataPlane;
      return DmaFabric.elaborate({
        ...d.dma,
        W: 256,
        regions: fabricClients(d).map((c) => c.regionBits),
        irqBits: d.queues,
      });
    },
  },
  // The whole function per ring-engine build (docs/data-plane.md "Ring formats of a build"): the default (split
  // only) at both widths, packed only at 256 bits (the benchmark's packed row, the 256-bit tests of packed rings),
  // both engines at both widths (the build the 64-bit tests, the soak and the main job drive in both formats).
  // Synthesized: the default at 256 bits (the benchmark's width, issue 8's area target); the others are one
  // `--path` away (each whole function is one of the longest syntheses of the main job).
  ...([64, 256] as const).map((W) => ({
    description: `virtio-blk function (endpoint, split queue engine, virtio-blk, DMA fabric, 256 KiB on-chip disk), ${W}-bit`,
    elaborate: () => VirtioBlkTop.elaborate({ W, blk: defaultBlk(), rings: DEFAULT_RINGS }),
    ...(W === 64 ? { synth: false } : {}),
  })),
  {
    description:
      'virtio-blk function with the packed queue engine only (FEATURES_OK needs VIRTIO_F_RING_PACKED), 256 KiB on-chip disk, 256-bit',
    synth: false,
    elaborate: () => VirtioBlkTop.elaborate({ W: 256, blk: defaultBlk(), rings: 'packed' }),
  },
  ...([64, 256] as const).map((W) => ({
    description: `virtio-blk function with both queue engines (the negotiated VIRTIO_F_RING_PACKED picks one), 256 KiB on-chip disk, ${W}-bit`,
    synth: false,
    elaborate: () => VirtioBlkTop.elaborate({ W, blk: defaultBlk(), rings: 'both' }),
  })),
  // The same function with its 1 GiB disk behind the AXI4 master port `storage` (a card's DRAM; in simulation the
  // sparse AXI4 memory model, docs/simulation.md), with both engines as the tests drive it.
  ...([64, 256] as const).map((W) => ({
    description: `virtio-blk function with both queue engines and a 1 GiB disk behind an external AXI4 master port, ${W}-bit`,
    synth: false,
    elaborate: () => VirtioBlkTop.elaborate({ W, blk: gibBlk(), storage: 'external', rings: 'both' }),
  })),
  // The packed-ring queue engine (gen/virtq/packed_*.ts) with its own DMA engines, as its tests build it.
  ...([64, 256] as const).map((W) => ({
    description: `packed-ring queue engine with DMA read/write engines, 2 queues, ${W}-bit`,
    synth: false,
    elaborate: () => PackedTestTop.elaborate({ W, queues: 2 }),
  })),
  // The packed-ring queue engine alone, in its test top's configuration: its own timing budget.
  ...([64, 256] as const).map((W) => ({
    description: `packed-ring queue engine (fetch ahead, stager, used writer, notifier), 2 queues, ${W}-bit`,
    elaborate: () => PackedEngine.elaborate(packedTestParams({ W, queues: 2 })),
    lutLevels: PCIE_LUT_LEVELS,
  })),
  ...VIRTIO_WIDTHS.map((W) => ({
    description: `virtio-blk endpoint control plane, default layout, ${W}-bit TLP stream`,
    elaborate: () => VirtioEndpoint.elaborate({ layout: DEFAULT_LAYOUT, W }),
    lutLevels: PCIE_LUT_LEVELS,
  })),
  {
    description: 'virtio-blk endpoint control plane, Intel P-Tile capability layout, 256-bit TLP stream',
    elaborate: () => VirtioEndpoint.elaborate({ layout: PTILE_LAYOUT, W: 256 }),
    lutLevels: PCIE_LUT_LEVELS,
  },
  {
    description:
      'virtio-blk endpoint control plane behind a hard IP that forwards the virtio capabilities (0x90-0xff, Xilinx 7-series EXT_CFG_CAP_PTR), 64-bit TLP stream',
    elaborate: () => VirtioEndpoint.elaborate({ layout: DEFAULT_LAYOUT, W: 64, cfgForward: DEFAULT_FORWARD }),
    lutLevels: PCIE_LUT_LEVELS,
  },
];
