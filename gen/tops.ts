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
import { DmaRead } from './dma/read_engine';
import { dmaTestParams } from './dma/test_top';
import { DmaWrite } from './dma/write_engine';
import { Testdev, TESTDEV_WIDTHS } from './testdev/top';
import { DEFAULT_FORWARD } from './virtio/cfg_layout';
import { DEFAULT_LAYOUT, PTILE_LAYOUT } from './virtio/layout';
import { VIRTIO_WIDTHS, VirtioEndpoint } from './virtio/top';

export interface TopConfig {
  /** What the design is. */
  description: string;
  elaborate(): HwModule;
}

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
  ...TESTDEV_WIDTHS.map((W) => ({
    description: `PCIe test endpoint (config, MMIO, DMA, MSI-X), ${W}-bit TLP stream`,
    elaborate: () => Testdev.elaborate({ W }),
  })),
  // The DMA engines (gen/dma) as the tests build them: 32 tags, 64 KiB of device memory, 8 command slots.
  ...([64, 256] as const).flatMap((W) => {
    const q = dmaTestParams({ W, tags: 32, devBits: 16 });
    return [
      {
        description: `DMA read engine (host -> device, byte-granular, line-rate completions), ${W}-bit, 32 tags`,
        elaborate: () => DmaRead.elaborate(q.read),
      },
      {
        description: `DMA write engine (device -> host, byte-granular), ${W}-bit`,
        elaborate: () => DmaWrite.elaborate(q.write),
      },
    ];
  }),
  ...VIRTIO_WIDTHS.map((W) => ({
    description: `virtio-blk endpoint control plane, default layout, ${W}-bit TLP stream`,
    elaborate: () => VirtioEndpoint.elaborate({ layout: DEFAULT_LAYOUT, W }),
  })),
  {
    description: 'virtio-blk endpoint control plane, Intel P-Tile capability layout, 256-bit TLP stream',
    elaborate: () => VirtioEndpoint.elaborate({ layout: PTILE_LAYOUT, W: 256 }),
  },
  {
    description:
      'virtio-blk endpoint control plane behind a hard IP that forwards the virtio capabilities (0x90-0xff, Xilinx 7-series EXT_CFG_CAP_PTR), 64-bit TLP stream',
    elaborate: () => VirtioEndpoint.elaborate({ layout: DEFAULT_LAYOUT, W: 64, cfgForward: DEFAULT_FORWARD }),
  },
];
